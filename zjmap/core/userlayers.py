"""A planner's loaded file as a map layer: ids, names and styles.

Qt-free, so all of it can run on the loading thread:

``user_layer(loaded, layer_id) -> MapLayer``
    features ``"<layer_id>:<row>"`` with every attribute as props, the name
    field guessed (see :func:`guess_name_field`), a single-colour style, and
    for big layers the display geometry prepared (see :class:`BigDisplay`).
``style_single / style_categorical / style_graduated / with_labels``
    style dicts understood by :mod:`zjmap.core.styling`.

How a user layer reaches the screen (flat arrays per zoom band for the canvas
renderer) is :mod:`zjmap.core.bigdisplay`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from zjmap.core.bigdisplay import (
    DEFER_VERTICES,
    ZOOM_BANDS,
    BigDisplay,
    CancelFn,
    ProgressFn,
    check_cancel,
    label_text,
)
from zjmap.core.featurerows import FeatureRows, column_values
from zjmap.core.layermodel import About, DisplayState, LayerTable, ReadSource
from zjmap.core.layers import LayerStack, MapLayer
from zjmap.core.pointcolumn import LazyFrame, PointColumn
from zjmap.core.styling import DEFAULT_COLOR, FALLBACK_PALETTE

if TYPE_CHECKING:
    from zjmap.core.layercache import DeferredTable
    from zjmap.core.displaychunks import DisplayChunk

__all__ = [
    "category_fields",
    "guess_name_field",
    "label_text",
    "new_layer_id",
    "numeric_fields",
    "style_categorical",
    "style_graduated",
    "style_single",
    "user_layer",
    "with_labels",
]

#: Most categories a categorical style takes (more: the rest are "其他 other").
MAX_CATEGORIES = 60

OTHER_COLOR = "#9e9e9e"
NO_DATA_COLOR = "#d0d0d0"
USER_COLORS = ["#e6550d", "#3182bd", "#31a354", "#756bb1", "#d6616b", "#17becf", "#8c6d31", "#636363"]
# ColorBrewer YlOrRd, 7 classes; fewer classes take an even spread of it
_RAMP = ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"]

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
    source: "ReadSource | Mapping[str, Any] | None" = None,
    color: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    defer_bands: bool | None = None,
    display: BigDisplay | None = None,
    table: "DeferredTable | None" = None,
    chunks: "list[DisplayChunk | None] | None" = None,
) -> MapLayer:
    """A :class:`~zjmap.core.userfiles.LoadedLayer` as a user MapLayer.

    ``display``: display arrays prepared before for these geometries (a
    cached read), used as they are; ``table``: that read's table, whose
    geometry is made on first need (``loaded.gdf`` is then not read:
    :mod:`zjmap.core.layercache`). ``chunks``: the full-resolution display
    arrays encoded chunk by chunk during the read (:mod:`zjmap.core.displaychunks`),
    joined instead of encoding every vertex again. ``defer_bands``: build only the full-resolution display set now (the
    layer shows sooner) and leave the simplified zoom bands to a later
    ``layer.display.arrays.with_bands()``; default: when the layer has more
    than :data:`DEFER_VERTICES` vertices. ``layer.display.bands_pending``
    says which.

    Props are the file's attributes as plain Python values, plus ``name``
    (from the guessed name field) when the file has no ``name`` column.
    ``layer.table`` keeps the GeoDataFrame (the attribute table and export
    use it) and the name field, ``layer.source`` how it was read (a
    :class:`ReadSource`: path, layer, encoding, CRS and their reasons,
    warnings; ``source`` given here is how it was asked for), and
    ``layer.display`` the prepared :class:`BigDisplay`.
    """
    held = getattr(loaded, "held", None)
    if table is None and isinstance(held, LazyFrame):  # coordinates: no shape made to draw them
        from zjmap.core.layercache import DeferredTable

        table = DeferredTable(None, attrs=held.attrs, column=held.column, geometry_name=held.geometry_name)
        if display is None and isinstance(held.column, PointColumn):
            display = BigDisplay.from_points(held.column.xy)
    if table is not None:  # a cached read: attributes now, geometry on first need
        attrs, geoms = table.attrs, table.column
    else:
        gdf = loaded.gdf
        attrs = gdf.drop(columns=gdf.geometry.name)
        geoms = np.asarray(gdf.geometry.array, dtype=object)
    cols = list(attrs.columns)
    sample = {c: column_values(attrs[c].iloc[:50]) for c in cols}
    name_field = guess_name_field(cols, sample)
    check_cancel(cancel)
    if display is not None:  # prepared before (zjmap.core.layercache): its bands are there
        only_full = len(display.bands) < 2 and display.bands[0][0] == 99
        defer = only_full and (defer_bands if defer_bands is not None else display.vertices()[-1] > DEFER_VERTICES)
    else:
        from zjmap.core.displaychunks import assemble, encode_column

        if not chunks and not isinstance(geoms, np.ndarray):  # flat coordinates read without a window
            chunks = encode_column(geoms, cancel)
        if defer_bands is not None:
            defer = defer_bands
        elif chunks and all(c is not None for c in chunks):
            defer = sum(c.vertices() for c in chunks) > DEFER_VERTICES  # type: ignore[union-attr]
        elif not isinstance(geoms, np.ndarray):
            defer = geoms.vertices() > DEFER_VERTICES
        else:
            defer = int(shapely.get_num_coordinates(geoms).sum()) > DEFER_VERTICES
        bands = () if defer else ZOOM_BANDS
        if chunks:
            display = assemble(chunks, geoms, progress=progress, cancel=cancel, bands=bands)
        if display is None:
            shapes = geoms if isinstance(geoms, np.ndarray) else geoms.geoms()
            display = BigDisplay.from_geometries(shapes, progress=progress, cancel=cancel, bands=bands)
    # no dict or object per feature: the rows are made when asked for (zjmap.core.featurerows)
    feats = FeatureRows(layer_id, attrs, geoms, name_field)
    kind = _geometry_kind(loaded.geometry_types or (loaded.gdf.geom_type.dropna().unique() if table is None else ()))
    asked = source if isinstance(source, ReadSource) else ReadSource(**dict(source or {"path": ""}))
    src = dataclasses.replace(
        asked,
        layer=asked.layer if asked.layer is not None else loaded.name,
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
    check_cancel(cancel)
    layer = MapLayer(
        id=layer_id,
        title_zh=title or str(loaded.name),
        title_en="",
        kind="user",
        geometry=kind,
        features=feats,
        style=style_single(color or DEFAULT_COLOR),
        source=src,
        table=LayerTable(loaded.gdf, name_field) if table is None else table.named(name_field),
        about=About(description_zh=describe_source(src, len(feats))),
    )
    arrays = display
    layer.display = DisplayState(arrays, bands_pending=defer)  # the caller adds the bands later: with_bands
    arrays.styles_for(layer)  # ready for the first payload
    arrays.geometry_payload()  # the array file, written here rather than on the UI thread
    return layer


def describe_source(src: ReadSource, n: int) -> str:
    """What the layer-tree tooltip says about where a layer came from."""
    lines = [f"{n:,} 个要素 features"]
    if src.path:
        lines.append(f"文件 File: {src.path}" + (f" — {src.layer}" if src.layer else ""))
    if src.crs:
        lines.append(f"坐标系 CRS: {src.crs}" + (" (推测 guessed)" if src.crs_guessed else ""))
    if src.encoding:
        lines.append(f"编码 Encoding: {src.encoding}")
    for w in src.warnings or []:
        lines.append(f"⚠ {w}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Styles


def _values(layer: MapLayer, fld: str) -> list[Any]:
    feats = layer.features
    if hasattr(feats, "values_of"):
        return feats.values_of(fld)
    return [f.props.get(fld) for f in feats]


def fields_of(layer: MapLayer) -> list[str]:
    if layer.table.attributes is not None:  # no geometry made for a deferred table
        return layer.table.columns
    keys: dict[str, None] = {}
    for f in layer.features[:100]:
        for k in f.props:
            keys.setdefault(k, None)
    return [k for k in keys if k not in ("id", "s")]


def numeric_fields(layer: MapLayer) -> list[str]:
    """Fields with numbers (at least one), for graduated colours."""
    import pandas as pd

    gdf = layer.table.attributes
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


#: rows looked at first to tell a field of too many values (category_fields)
_SAMPLE_ROWS = 5_000


def category_fields(layer: MapLayer, limit: int = MAX_CATEGORIES) -> list[tuple[str, int]]:
    """(field, number of distinct values) for fields worth colouring by category:
    2 to ``limit`` distinct values. Fields with more are left out."""
    gdf = layer.table.attributes
    out = []
    for c in fields_of(layer):
        if gdf is not None and c in gdf.columns:
            col = gdf[c]
            # the first rows already hold more than ``limit`` values (a name, an
            # id): so does the column, without hashing a million of them
            n = int(col.iloc[:_SAMPLE_ROWS].nunique(dropna=True))
            if n <= limit and len(col) > _SAMPLE_ROWS:
                n = int(col.nunique(dropna=True))
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
