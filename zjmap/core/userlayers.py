"""A planner's loaded file as a map layer: ids, names, styles, and how a big
layer is drawn fast.

Qt-free, so all of it can run on the loading thread:

``user_layer(loaded, layer_id) -> MapLayer``
    features ``"<layer_id>:<row>"`` with every attribute as props, the name
    field guessed (see :func:`guess_name_field`), a single-colour style, and
    for big layers the display geometry prepared (see :class:`BigDisplay`).
``style_single / style_categorical / style_graduated / with_labels``
    style dicts understood by :mod:`zjmap.core.styling`.
``big_payload(layer)``
    what :func:`zjmap.core.mappage.layer_payload` sends the page for a layer
    of :data:`BIG_FEATURES` features or more: flat typed arrays (base64) per
    zoom band instead of GeoJSON, drawn on one canvas by ``zjmap/web/biglayer.js``.

Display simplification: the full geometry stays in Python (identify, the
attribute table, export use it). The page gets one geometry set per zoom band
(:data:`ZOOM_BANDS`), each simplified to half a screen pixel at the band's
deepest zoom, so it looks the same as the full geometry. Polygon coverages
(parcels, grids, admin units: polygons that share edges) are simplified with
``shapely.coverage_simplify`` when they are small enough for it to be quick,
so shared edges stay shared; otherwise each shape is simplified on its own
(plain Douglas–Peucker, ``simplify(preserve_topology=False)``, 7x faster than
keeping topology): at half a pixel the gaps and self-touchings this can
cause are invisible. A band is only computed when a sample
shows it would drop a good share of the vertices (a grid of squares has
nothing to drop), and each band is simplified from the finer one before it.
"""

from __future__ import annotations

import atexit
import base64
import bisect
import json
import math
import os
import shutil
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from zjmap.core.layers import LayerStack, MapFeature, MapLayer
from zjmap.core.styling import DEFAULT_COLOR, FALLBACK_PALETTE

__all__ = [
    "BIG_FEATURES",
    "DEFER_VERTICES",
    "ZOOM_BANDS",
    "BigDisplay",
    "big_payload",
    "category_fields",
    "guess_name_field",
    "is_big",
    "new_layer_id",
    "numeric_fields",
    "style_categorical",
    "style_graduated",
    "style_single",
    "user_layer",
    "with_labels",
]

#: Layers with at least this many features are drawn by the canvas renderer.
BIG_FEATURES = 2000
#: Deepest zoom of each simplified band; deeper zooms get the full geometry.
ZOOM_BANDS = (8, 10, 12)
#: Layers with more vertices than this are shown first at full resolution
#: and get their simplified zoom bands afterwards (simplifying millions of
#: vertices takes seconds; the canvas draws full resolution fast enough meanwhile).
DEFER_VERTICES = 1_000_000
#: Largest polygon set (total vertices) for which coverage_simplify is used.
COVERAGE_MAX_VERTICES = 150_000
#: Most categories a categorical style takes (more: the rest are "其他 other").
MAX_CATEGORIES = 60

OTHER_COLOR = "#9e9e9e"
NO_DATA_COLOR = "#d0d0d0"
USER_COLORS = ["#e6550d", "#3182bd", "#31a354", "#756bb1", "#d6616b", "#17becf", "#8c6d31", "#636363"]
# ColorBrewer YlOrRd, 7 classes; fewer classes take an even spread of it
_RAMP = ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"]

ProgressFn = Callable[[float, str], Any]
CancelFn = Callable[[], bool]

# ---------------------------------------------------------------------------
# Names and ids

#: Column names that hold a feature's name, best first (compared case-insensitively).
NAME_FIELDS = (
    "name_zh", "名称", "name", "名字", "地名", "name_cn", "cname", "zh_name", "title", "标题",
    "项目名称", "地块名称", "单位名称", "规划名称", "区域名称", "镇名", "村名", "县名", "市名",
    "name_en", "label", "标注",
)


def guess_name_field(columns: Iterable[str], sample: Mapping[str, Iterable[Any]] | None = None) -> str | None:
    """The column most likely to be each feature's name.

    Known names first (``NAME_FIELDS``, any case), then any column ending in
    "名称"/"名" or containing "name"; ``sample`` (column → some values), if
    given, skips candidates that are all empty or all numbers.
    """
    cols = [c for c in columns if c != "geometry"]
    lower = {c.lower(): c for c in reversed(cols)}

    def usable(c: str) -> bool:
        if sample is None or c not in sample:
            return True
        vals = [v for v in sample[c] if v is not None and str(v).strip() and str(v) != "nan"]
        if not vals:
            return False
        return not all(isinstance(v, (int, float, np.integer, np.floating)) for v in vals)

    for want in NAME_FIELDS:
        c = lower.get(want.lower())
        if c is not None and usable(c):
            return c
    for c in cols:
        if (c.endswith("名称") or c.endswith("名") or "name" in c.lower()) and usable(c):
            return c
    return None


def new_layer_id(stack: LayerStack | Iterable[str]) -> str:
    """``user_1``, ``user_2``, …: the first not in use (letters/digits/_ only:
    the page uses layer ids in CSS class names)."""
    used = set(stack.ids() if isinstance(stack, LayerStack) else stack)
    n = 1
    while f"user_{n}" in used:
        n += 1
    return f"user_{n}"


def _geometry_kind(types: Iterable[str]) -> str:
    kinds = set()
    for t in types:
        if t in ("Polygon", "MultiPolygon"):
            kinds.add("polygon")
        elif t in ("LineString", "MultiLineString", "LinearRing"):
            kinds.add("line")
        elif t in ("Point", "MultiPoint"):
            kinds.add("point")
        else:
            kinds.add("mixed")
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _column_values(s: Any) -> list[Any]:
    """Plain Python values for props: NaN/NaT → None, dates → ISO text."""
    import pandas as pd  # not at import time: mappage imports this module on the start-up path

    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return [None if pd.isna(v) else v.isoformat() for v in s]
    if pd.api.types.is_float_dtype(s.dtype):
        arr = s.to_numpy(dtype=float)
        vals = arr.tolist()
        if np.isnan(arr).any():
            vals = [None if v != v else v for v in vals]
        return vals
    if pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        if s.isna().any():  # nullable ints
            return [None if pd.isna(v) else v for v in s.astype(object)]
        return s.tolist()
    if pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):  # text: the common case, fast
        if s.isna().any():
            return s.astype(object).where(s.notna(), None).tolist()
        return s.tolist()
    vals = s.tolist()
    out = []
    for v in vals:
        if v is None or isinstance(v, (str, int, float, bool)):
            out.append(None if isinstance(v, float) and v != v else v)
        elif isinstance(v, bytes):
            out.append(v.decode("utf-8", "replace"))
        elif pd.isna(v) if np.ndim(v) == 0 else False:
            out.append(None)
        elif hasattr(v, "isoformat"):
            out.append(v.isoformat())
        else:
            out.append(str(v))
    return out


def _pretty_color(i: int) -> str:
    if i < len(USER_COLORS):
        return USER_COLORS[i]
    return USER_COLORS[i % len(USER_COLORS)]


# ---------------------------------------------------------------------------
# Building the layer


def user_layer(
    loaded: Any,
    layer_id: str,
    title: str | None = None,
    source: Mapping[str, Any] | None = None,
    color: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    defer_bands: bool | None = None,
) -> MapLayer:
    """A :class:`~zjmap.core.userfiles.LoadedLayer` as a user MapLayer.

    ``defer_bands``: build only the full-resolution display set now (the
    layer shows sooner) and leave the simplified zoom bands to a later
    ``info["display"].with_bands()``; default: when the layer has more than
    :data:`DEFER_VERTICES` vertices. ``info["bands_pending"]`` says which.

    Props are the file's attributes as plain Python values, plus ``name``
    (from the guessed name field) when the file has no ``name`` column.
    ``info`` keeps the GeoDataFrame (``gdf``: the attribute table and export
    use it), the name field, how the file was read (``source``: path, layer,
    encoding, CRS and their reasons, warnings), and for big layers the
    prepared :class:`BigDisplay` (``display``).
    """
    gdf = loaded.gdf
    geom_col = gdf.geometry.name
    cols = [c for c in gdf.columns if c != geom_col]
    lists = [_column_values(gdf[c]) for c in cols]
    sample = {c: vals[:50] for c, vals in zip(cols, lists)}
    name_field = guess_name_field(cols, sample)
    keys = [str(c) for c in cols]
    records = [dict(zip(keys, row)) for row in zip(*lists)] if keys else [{} for _ in range(len(gdf))]
    if name_field is not None and "name" not in keys:
        for rec in records:
            v = rec.get(name_field)
            if v is not None:
                rec["name"] = str(v)
    _check(cancel)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    # the display arrays (GEOS work, which releases the GIL) are built on a
    # second thread while this one makes the features (pure Python)
    box: dict[str, Any] = {}

    defer = defer_bands if defer_bands is not None else int(shapely.get_num_coordinates(geoms).sum()) > DEFER_VERTICES

    def display() -> None:
        try:
            box["display"] = BigDisplay.from_geometries(geoms, progress=progress, cancel=cancel,
                                                        bands=() if defer else ZOOM_BANDS)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=display, name="zjmap-display", daemon=True)
    worker.start()
    prefix = f"{layer_id}:"
    feats = [MapFeature(prefix + str(i), layer_id, rec, g) for i, (rec, g) in enumerate(zip(records, geoms))]
    kind = _geometry_kind(loaded.geometry_types or gdf.geom_type.dropna().unique())
    src = dict(source or {})
    src.setdefault("layer", loaded.name)
    src.update(
        driver=loaded.driver,
        crs=loaded.source_crs,
        crs_guessed=loaded.crs_guessed,
        crs_reason=loaded.crs_guess_reason,
        encoding=loaded.encoding,
        encoding_reason=loaded.encoding_reason,
        warnings=list(loaded.warnings),
        repaired=loaded.repaired,
        skipped=loaded.skipped,
    )
    info: dict[str, Any] = {
        "gdf": gdf,
        "name_field": name_field,
        "source": src,
        "description_zh": describe_source(src, len(feats)),
    }
    _check(cancel)
    layer = MapLayer(
        id=layer_id,
        title_zh=title or str(loaded.name),
        title_en="",
        kind="user",
        geometry=kind,
        features=feats,
        style=style_single(color or DEFAULT_COLOR),
        info=info,
    )
    worker.join()
    if "error" in box:
        raise box["error"]
    info["display"] = box["display"]
    info["bands_pending"] = defer  # the caller adds them later: BigDisplay.with_bands
    info["display"].styles_for(layer)  # ready for the first payload
    info["display"].geometry_payload()  # the array file, written here rather than on the UI thread
    return layer


def describe_source(src: Mapping[str, Any], n: int) -> str:
    """What the layer-tree tooltip says about where a layer came from."""
    lines = [f"{n:,} 个要素 features"]
    if src.get("path"):
        lines.append(f"文件 File: {src['path']}" + (f" — {src['layer']}" if src.get("layer") else ""))
    if src.get("crs"):
        lines.append(f"坐标系 CRS: {src['crs']}" + (" (推测 guessed)" if src.get("crs_guessed") else ""))
    if src.get("encoding"):
        lines.append(f"编码 Encoding: {src['encoding']}")
    for w in src.get("warnings") or []:
        lines.append(f"⚠ {w}")
    return "\n".join(lines)


def _check(cancel: CancelFn | None) -> None:
    if cancel is not None and cancel():
        from zjmap.core.userfiles import LoadCancelled

        raise LoadCancelled("Loading was cancelled.")


# ---------------------------------------------------------------------------
# Styles


def _values(layer: MapLayer, fld: str) -> list[Any]:
    return [f.props.get(fld) for f in layer.features]


def fields_of(layer: MapLayer) -> list[str]:
    gdf = layer.info.get("gdf")
    if gdf is not None:
        return [str(c) for c in gdf.columns if c != gdf.geometry.name]
    keys: dict[str, None] = {}
    for f in layer.features[:100]:
        for k in f.props:
            keys.setdefault(k, None)
    return [k for k in keys if k not in ("id", "s")]


def numeric_fields(layer: MapLayer) -> list[str]:
    """Fields with numbers (at least one), for graduated colours."""
    import pandas as pd

    gdf = layer.info.get("gdf")
    out = []
    for c in fields_of(layer):
        if gdf is not None and c in gdf.columns:
            s = gdf[c]
            if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype) and s.notna().any():
                out.append(c)
        else:
            vals = [v for v in _values(layer, c) if v is not None]
            if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                out.append(c)
    return out


def category_fields(layer: MapLayer, limit: int = MAX_CATEGORIES) -> list[tuple[str, int]]:
    """(field, number of distinct values) for fields worth colouring by category:
    2 to ``limit`` distinct values. Fields with more are left out."""
    gdf = layer.info.get("gdf")
    out = []
    for c in fields_of(layer):
        if gdf is not None and c in gdf.columns:
            n = int(gdf[c].nunique(dropna=True))
        else:
            n = len({str(v) for v in _values(layer, c) if v is not None})
        if 2 <= n <= limit:
            out.append((c, n))
    return out


def style_single(color: str = DEFAULT_COLOR) -> dict[str, Any]:
    return {"kind": "single", "color": color, "legend_label": ""}


def _category_palette(n: int) -> list[str]:
    cols = list(FALLBACK_PALETTE)
    # more than the palette: evenly spaced hues, alternating lightness
    i = 0
    while len(cols) < n:
        h = (i * 0.618034) % 1.0
        light = 0.45 if i % 2 else 0.6
        cols.append(_hsl(h, 0.65, light))
        i += 1
    return cols[:n]


def _hsl(h: float, s: float, l: float) -> str:
    import colorsys

    r, g, b = colorsys.hls_to_rgb(h, l, s)
    return "#%02x%02x%02x" % (round(r * 255), round(g * 255), round(b * 255))


def style_categorical(layer: MapLayer, fld: str, limit: int = MAX_CATEGORIES) -> dict[str, Any]:
    """One colour per value of ``fld`` (most frequent first); beyond ``limit``
    values the rest share grey "其他 other" (see :mod:`zjmap.core.styling`)."""
    counts: dict[str, int] = {}
    for v in _values(layer, fld):
        if v is None:
            continue
        k = str(v)
        counts[k] = counts.get(k, 0) + 1
    cats = sorted(counts, key=lambda k: -counts[k])
    keep = cats[:limit]
    try:  # numbers in numeric order, text in the order found most often
        keep = sorted(keep, key=float)
    except ValueError:
        pass
    colors = dict(zip(keep, _category_palette(len(keep))))
    return {"kind": "categorical", "field": fld, "colors": colors, "other_color": OTHER_COLOR}


def _ramp(n: int) -> list[str]:
    if n <= 1:
        return [_RAMP[4]]
    idx = [round(i * (len(_RAMP) - 1) / (n - 1)) for i in range(n)]
    return [_RAMP[i] for i in idx]


def graduated_breaks(values: Iterable[Any], classes: int = 5, method: str = "quantile") -> list[float]:
    """Class bounds for ``values`` (numbers; others ignored): ``classes``+1
    increasing numbers from the minimum to the maximum. ``method``:
    "quantile" (equal counts) or "equal" (equal widths). Fewer classes when
    values repeat."""
    arr = np.array([v for v in values if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)], dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return []
    lo, hi = float(arr.min()), float(arr.max())
    if lo == hi:
        return [lo, hi]
    classes = max(1, int(classes))
    if method == "equal":
        b = np.linspace(lo, hi, classes + 1)
    else:
        b = np.quantile(arr, np.linspace(0, 1, classes + 1))
    out = [float(lo)]
    for v in b[1:-1]:
        v = float(_nice(v, hi - lo))
        if v > out[-1] and v < hi:
            out.append(v)
    out.append(hi)
    return out


def _nice(v: float, span: float) -> float:
    """Round a class bound: to 2 significant digits of itself or 3 of the
    data's span, whichever is finer (2.7 and 400 for 1…10,000; 2.392 for
    2.37…2.48), so bounds read well and stay distinct."""
    if span <= 0 or not math.isfinite(v) or v == 0:
        return v
    step = min(10 ** (math.floor(math.log10(abs(v))) - 1), 10 ** (math.floor(math.log10(span)) - 2))
    return round(round(v / step) * step, 10)


def style_graduated(layer: MapLayer, fld: str, classes: int = 5, method: str = "quantile") -> dict[str, Any]:
    """Colours from light to dark by the value of numeric field ``fld``."""
    breaks = graduated_breaks(_values(layer, fld), classes, method)
    if len(breaks) < 2:
        raise ValueError(f"field {fld!r} has no numbers to colour by")
    return {"kind": "graduated", "field": fld, "breaks": breaks, "ramp": _ramp(len(breaks) - 1), "no_data_color": NO_DATA_COLOR}


def with_labels(style: Mapping[str, Any], fld: str | None, min_zoom: int | None = None) -> dict[str, Any]:
    """The same style, with features labelled by ``fld`` (None: no labels)."""
    out = dict(style)
    out.pop("label_field", None)
    out.pop("label_min_zoom", None)
    if fld:
        out["label_field"] = fld
        if min_zoom is not None:
            out["label_min_zoom"] = int(min_zoom)
    return out


def label_text(props: Mapping[str, Any], fld: str) -> str:
    v = props.get(fld)
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


# ---------------------------------------------------------------------------
# Big layers: display geometry for the canvas renderer


def is_big(layer: MapLayer) -> bool:
    return len(layer.features) >= BIG_FEATURES or layer.info.get("display") is not None


_BIG_DIR: Path | None = None


def _big_dir() -> Path:
    """This process's directory for big layers' array files (removed at exit)."""
    global _BIG_DIR
    if _BIG_DIR is None or not _BIG_DIR.is_dir():
        _BIG_DIR = Path(tempfile.mkdtemp(prefix="zjmap-big-"))
        atexit.register(shutil.rmtree, str(_BIG_DIR), True)
    return _BIG_DIR


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _b64(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode("ascii")


def _world(xy: np.ndarray) -> np.ndarray:
    """lon/lat → Leaflet's EPSG:3857 pixel coordinates at zoom 0 (256 px world)."""
    lon = xy[:, 0]
    lat = np.clip(xy[:, 1], -85.0511287798, 85.0511287798)
    x = (lon + 180.0) / 360.0 * 256.0
    y = (0.5 - np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) / (2 * np.pi)) * 256.0
    return np.column_stack([x, y])


def _band_tolerance(max_zoom: int, lat: float) -> float:
    """Half a screen pixel at ``max_zoom``, in degrees (conservative in latitude)."""
    return 0.5 * 360.0 / (256.0 * 2.0**max_zoom) * math.cos(math.radians(min(abs(lat), 85.0)))


@dataclass
class _Part:
    """Features of one geometry family: "polygon" | "line" | "point"."""

    type: str
    feat: np.ndarray  # uint32 indices into layer.features
    bbox: np.ndarray  # float32 (n, 4) world coords relative to the origin (not sent: the page
    # computes them from the coordinates, a quarter less to send and parse)


@dataclass
class _Geom:
    """One part's coordinates for one band."""

    xy: np.ndarray  # float32 (n*2,) relative world coords
    rings: np.ndarray | None  # uint32 ring/line start offsets (+ end), in points
    frings: np.ndarray  # uint32 per-feature start offset (+ end), in rings (points for "point")

    def vertices(self) -> int:
        return len(self.xy) // 2


def _families(geoms: np.ndarray) -> dict[str, np.ndarray]:
    t = shapely.get_type_id(geoms)
    out = {
        "polygon": np.flatnonzero((t == 3) | (t == 6)),
        "line": np.flatnonzero((t == 1) | (t == 2) | (t == 5)),
        "point": np.flatnonzero((t == 0) | (t == 4)),
    }
    other = np.flatnonzero(t == 7)  # collections: split below by the caller
    if len(other):
        out["collection"] = other
    return {k: v for k, v in out.items() if len(v)}


def _encode(geoms: np.ndarray, family: str, origin: np.ndarray) -> _Geom:
    """Flat arrays for one family: closing vertices of rings dropped (the
    renderer closes them), coordinates relative to ``origin`` as float32."""
    types = shapely.get_type_id(geoms)
    if family == "polygon" and len(geoms) and np.all(types == 3) and not shapely.get_num_interior_rings(geoms).any():
        # the common case (parcels, grids): one ring per feature; 5x faster than to_ragged_array
        n = shapely.get_num_coordinates(geoms)
        coords = shapely.get_coordinates(geoms)
        ring_off = np.concatenate([[0], np.cumsum(n)])
        offsets: tuple[np.ndarray, ...] = (ring_off, np.arange(len(geoms) + 1))
    else:
        _gt, coords, offsets = shapely.to_ragged_array(geoms, include_z=False)
    if family == "polygon":
        if len(offsets) == 2:  # all Polygon: (ring offsets, polygon offsets)
            ring_off, frings = offsets
        else:  # MultiPolygon: (ring, polygon, multipolygon)
            ring_off, poly_off, multi_off = offsets
            frings = poly_off[multi_off]
        ring_off = np.asarray(ring_off, dtype=np.int64)
        # drop each ring's closing vertex
        keep = np.ones(len(coords), dtype=bool)
        ends = ring_off[1:] - 1
        ends = ends[ring_off[1:] > ring_off[:-1]]
        keep[ends] = False
        coords = coords[keep]
        ring_off = ring_off - np.arange(len(ring_off))
        rings = ring_off
    elif family == "line":
        if len(offsets) == 1:  # LineString
            rings = np.asarray(offsets[0], dtype=np.int64)
            frings = np.arange(len(rings), dtype=np.int64)
        else:
            rings, frings = offsets
    else:  # points
        if len(offsets) == 0:
            frings = np.arange(len(coords) + 1, dtype=np.int64)
        else:
            frings = offsets[0]
        rings = None
    w = _world(coords) - origin
    return _Geom(
        w.astype("<f4").ravel(),
        None if rings is None else np.asarray(rings, dtype="<u4"),
        np.asarray(frings, dtype="<u4"),
    )


def _simplify(geoms: np.ndarray, family: str, tol: float, coverage: bool) -> np.ndarray:
    if family == "point":
        return geoms
    if coverage:
        try:
            out = shapely.coverage_simplify(geoms, tol)
            if not shapely.is_empty(out).any():
                return out
        except shapely.errors.GEOSException:  # not a coverage after all
            pass
    # plain Douglas–Peucker: ~7x faster than preserve_topology=True, and a
    # shape that self-intersects by half a pixel draws the same (even-odd fill)
    out = shapely.simplify(geoms, tol, preserve_topology=False)
    empty = shapely.is_empty(out)
    if empty.any():
        out[empty] = geoms[empty]
    return out


def _worth_simplifying(geoms: np.ndarray, family: str, tol: float, rng: np.random.Generator) -> bool:
    """Would simplifying drop at least half the vertices? Judged on a sample
    (a band that keeps more is not worth sending: JS skips sub-pixel steps anyway)."""
    if family == "point" or len(geoms) == 0:
        return False
    idx = rng.choice(len(geoms), size=min(len(geoms), 1500), replace=False)
    sample = geoms[idx]
    before = int(shapely.get_num_coordinates(sample).sum())
    if before == 0:
        return False
    after = int(shapely.get_num_coordinates(shapely.simplify(sample, tol, preserve_topology=False)).sum())
    return after <= 0.5 * before


@dataclass
class BigDisplay:
    """What the canvas renderer needs, prepared once per layer.

    ``geoms[k]`` are the geometry sets (one per distinct band, finest last),
    ``bands`` maps each band's deepest zoom to its geometry set. Style and
    label arrays are cached per style.
    """

    origin: np.ndarray  # float64 (2,) world coords subtracted from all coordinates
    parts: list[_Part]
    geoms: list[list[_Geom]]  # [set][part]
    bands: list[tuple[int, int]]  # (max_zoom, set index); last max_zoom 99
    typical_px: float  # median feature size in world px at zoom 0
    key: str = field(default_factory=lambda: uuid.uuid4().hex)  # the page keeps decoded arrays per key
    _encoded: dict[str, Any] | None = None
    _path: Path | None = None
    _where: dict[tuple, list[int]] = field(default_factory=dict)
    _fam_geoms: list[np.ndarray] = field(default_factory=list)  # full geometries of each part
    _lat: float = 30.0
    _style_cache: dict[str, dict[str, Any]] = field(default_factory=dict)
    _label_cache: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def build(cls, layer: MapLayer, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
              bands: tuple[int, ...] = ZOOM_BANDS) -> "BigDisplay":
        geoms = np.array([f.geometry for f in layer.features], dtype=object)
        return cls.from_geometries(geoms, progress, cancel, bands)

    @classmethod
    def from_geometries(cls, geoms: np.ndarray, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                        bands: tuple[int, ...] = ZOOM_BANDS) -> "BigDisplay":
        """From the features' geometries (WGS-84, in feature order)."""
        fams = _families(geoms)
        if "collection" in fams:
            # split collections into their members; each member is drawn for its feature
            coll = fams.pop("collection")
            parts_g = shapely.get_parts(geoms[coll], return_index=True)
            members, owner = parts_g
            extra = _families(members)
            extra_sets = {k: (coll[owner[v]], members[v]) for k, v in extra.items() if k != "collection"}
        else:
            extra_sets = {}
        b = shapely.bounds(geoms)
        ok = np.all(np.isfinite(b), axis=1)
        lo = _world(np.array([[np.nanmin(b[ok, 0]), np.nanmax(b[ok, 3])]]))[0] if ok.any() else np.zeros(2)
        origin = np.floor(lo)
        parts: list[_Part] = []
        fam_geoms: list[np.ndarray] = []
        for fam in ("polygon", "line", "point"):
            idx_list, g_list = [], []
            if fam in fams:
                idx_list.append(fams[fam])
                g_list.append(geoms[fams[fam]])
            if fam in extra_sets:
                idx_list.append(extra_sets[fam][0])
                g_list.append(extra_sets[fam][1])
            if not idx_list:
                continue
            idx = np.concatenate(idx_list)
            g = np.concatenate(g_list)
            order = np.argsort(idx, kind="stable")
            idx, g = idx[order], g[order]
            bb = shapely.bounds(g)
            w0 = _world(bb[:, [0, 3]])  # west, north → min x, min y
            w1 = _world(bb[:, [2, 1]])  # east, south → max x, max y
            bbox = np.column_stack([w0 - origin, w1 - origin]).astype("<f4")
            parts.append(_Part(fam, idx.astype("<u4"), bbox))
            fam_geoms.append(g)
        sizes = np.concatenate([np.maximum(p.bbox[:, 2] - p.bbox[:, 0], p.bbox[:, 3] - p.bbox[:, 1]) for p in parts])
        typical = float(np.median(sizes)) if len(sizes) else 0.0

        lat = float((b[ok, 1].min() + b[ok, 3].max()) / 2) if ok.any() else 30.0
        full = [_encode(g, p.type, origin) for g, p in zip(fam_geoms, parts)]
        disp = cls(origin, parts, [full], [(99, 0)], typical)
        disp._fam_geoms = fam_geoms
        disp._lat = lat
        return disp._with_bands(bands, progress, cancel)

    def with_bands(self, bands: tuple[int, ...] = ZOOM_BANDS, progress: ProgressFn | None = None,
                   cancel: CancelFn | None = None) -> "BigDisplay":
        """A new display (new key, new file) with the simplified zoom bands
        added to this one's full-resolution set: for layers first shown
        without them (:data:`DEFER_VERTICES`)."""
        disp = BigDisplay(self.origin, self.parts, [self.geoms[-1]], [(99, 0)], self.typical_px)
        disp._fam_geoms = self._fam_geoms
        disp._lat = self._lat
        return disp._with_bands(bands, progress, cancel)

    def _with_bands(self, bands: tuple[int, ...], progress: ProgressFn | None, cancel: CancelFn | None) -> "BigDisplay":
        parts, origin, lat = self.parts, self.origin, self._lat
        rng = np.random.default_rng(0)
        sets: list[list[_Geom]] = [self.geoms[-1]]
        band_set: dict[int, int] = {}
        current = self._fam_geoms
        # finest band first: each coarser band is simplified from the one before
        ordered = sorted(bands, reverse=True)
        for step, mz in enumerate(ordered):
            _check(cancel)
            if progress is not None:
                progress(step / len(ordered), f"Simplifying for zoom ≤ {mz}")
            tol = _band_tolerance(mz, lat)
            new_geoms, changed = [], False
            for g, p in zip(current, parts):
                if _worth_simplifying(g, p.type, tol, rng):
                    nverts = int(shapely.get_num_coordinates(g).sum())
                    cov = p.type == "polygon" and nverts <= COVERAGE_MAX_VERTICES
                    g = _simplify(g, p.type, tol, cov)
                    changed = True
                new_geoms.append(g)
            if changed:
                sets.insert(0, [_encode(g, p.type, origin) for g, p in zip(new_geoms, parts)])
                current = new_geoms
            band_set[mz] = -len(sets)  # counted from the end: stable as sets grow at the front
        band_list = [(mz, len(sets) + band_set[mz]) for mz in sorted(bands)]
        band_list.append((99, len(sets) - 1))
        if progress is not None:
            progress(1.0, "Display ready")
        self.geoms = sets
        self.bands = band_list
        return self

    def vertices(self) -> list[int]:
        return [sum(g.vertices() for g in s) for s in self.geoms]

    def geometry_payload(self) -> dict[str, Any]:
        """The geometry part of the payload: where each typed array lies in
        the binary file the page reads (:meth:`write`), written once.

        Sending typed arrays as a file instead of base64 inside the
        ``runJavaScript`` text saves encoding, a JSON string of tens of MB
        on both sides and the page's decoding: the page reads the file with
        one XMLHttpRequest into an ArrayBuffer and views it without copying.
        """
        if self._encoded is None:
            path = self.write()
            self._encoded = {
                "key": self.key,
                "url": path.as_uri(),
                "bytes": path.stat().st_size,
                "origin": [float(self.origin[0]), float(self.origin[1])],
                "typical": self.typical_px,
                "features": int(max((int(p.feat.max()) + 1 for p in self.parts if len(p.feat)), default=0)),
                "parts": [{"type": p.type, "n": int(len(p.feat)), "feat": self._where["feat", i]}
                          for i, p in enumerate(self.parts)],
                "sets": [
                    [
                        {
                            "xy": self._where["xy", k, i],
                            "rings": None if g.rings is None else self._where["rings", k, i],
                            "frings": self._where["frings", k, i],
                        }
                        for i, g in enumerate(s)
                    ]
                    for k, s in enumerate(self.geoms)
                ],
                "bands": [[mz, i] for mz, i in self.bands],
            }
        return self._encoded

    def write(self) -> Path:
        """The arrays, one after another (4-byte aligned, little-endian), in
        a temporary file deleted with this object (or when the app exits)."""
        if self._path is not None:
            return self._path
        chunks: list[np.ndarray] = []
        where: dict[tuple, list[int]] = {}
        offset = 0

        def put(key: tuple, arr: np.ndarray) -> None:
            nonlocal offset
            where[key] = [offset, int(arr.size)]
            chunks.append(arr)
            offset += arr.nbytes

        for i, p in enumerate(self.parts):
            put(("feat", i), p.feat.astype("<u4", copy=False))
        for k, s in enumerate(self.geoms):
            for i, g in enumerate(s):
                put(("xy", k, i), g.xy)
                if g.rings is not None:
                    put(("rings", k, i), g.rings)
                put(("frings", k, i), g.frings)
        path = _big_dir() / f"{self.key}.bin"
        with open(path, "wb") as fh:
            for arr in chunks:
                fh.write(np.ascontiguousarray(arr).tobytes())
        self._where = where
        self._path = path
        weakref.finalize(self, _unlink, str(path))
        return path


    def styles_for(self, layer: MapLayer) -> dict[str, Any]:
        """Palette of distinct drawing styles and each feature's index into it."""
        key = json.dumps(layer.style, sort_keys=True, ensure_ascii=False, default=str)
        got = self._style_cache.get(key)
        if got is not None:
            return got
        st = layer.styler
        sized = layer.geometry in ("point", "mixed") and bool(st.size_field)
        palette: dict[Any, int] = {}
        reps: list[MapFeature] = []
        index = np.zeros(len(layer.features), dtype=np.uint32)
        uniform = not (st.by_category or getattr(st, "by_class", False) or sized)
        for i, f in enumerate(layer.features[:1] if uniform else layer.features):  # one colour: one look
            p = f.props
            k = (st.color_of(p), round(st.radius_of(p), 1)) if sized else st.color_of(p)
            j = palette.get(k)
            if j is None:
                j = palette[k] = len(reps)
                reps.append(f)
            index[i] = j
        styles = [layer.feature_style(f) for f in reps]
        dtype = "<u1" if len(styles) <= 255 else "<u2" if len(styles) <= 65535 else "<u4"
        got = {"styles": styles, "index": _b64(index.astype(dtype)), "bytes": np.dtype(dtype).itemsize}
        if len(self._style_cache) > 8:
            self._style_cache.clear()
        self._style_cache[key] = got
        return got

    def labels_for(self, layer: MapLayer, fld: str | None) -> dict[str, Any] | None:
        if not fld:
            return None
        got = self._label_cache.get(fld)
        if got is None:
            texts = [label_text(f.props, fld) for f in layer.features]
            pts = shapely.point_on_surface(np.array([f.geometry for f in layer.features], dtype=object))
            anchors = shapely.get_coordinates(pts)
            if len(anchors) != len(layer.features):  # an empty geometry somewhere
                anchors = np.array([shapely.get_coordinates(p)[0] if not shapely.is_empty(p) else (np.nan, np.nan) for p in pts])
            w = (_world(anchors) - self.origin).astype("<f4")
            got = {"texts": texts, "xy": _b64(w.ravel())}
            self._label_cache.clear()
            self._label_cache[fld] = got
        out = dict(got)
        mz = layer.style.get("label_min_zoom")
        out["minZoom"] = mz
        return out


def big_payload(layer: MapLayer) -> dict[str, Any]:
    """The page's spec for a big layer: ``big`` instead of GeoJSON ``data``."""
    disp = layer.info.get("display")
    if disp is None:
        disp = layer.info["display"] = BigDisplay.build(layer)
    return {
        "id": layer.id,
        "kind": layer.kind,
        "geometry": layer.geometry,
        "visible": layer.visible,
        "opacity": layer.opacity,
        "interactive": layer.kind != "base",
        "labels": None,
        "data": None,
        "big": {
            "geometry": disp.geometry_payload(),
            "style": disp.styles_for(layer),
            "labels": disp.labels_for(layer, layer.style.get("label_field")),
        },
    }
