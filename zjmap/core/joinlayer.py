"""A joined table as an ordinary user layer (styled, identified, saved, exported).

Qt-free: the GUI builds it on a worker thread, a workspace rebuilds it from the
saved :class:`~zjmap.core.tablejoin.JoinSpec` (table path, sheet, header row,
key, level, manual fixes) as it rereads any other file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from zjmap.core.layers import MapLayer
from zjmap.core.tablejoin import Joined, JoinSpec, run_join

POINT_COLUMNS = ("经度", "纬度", "lon", "lat", "lng", "longitude", "latitude", "x坐标", "y坐标")


def looks_like_point_table(columns: list[str]) -> bool:
    """A CSV with longitude/latitude columns is a point layer, not a statistics table."""
    low = {c.lower() for c in columns}
    return sum(1 for c in POINT_COLUMNS if c in low) >= 2


def looks_like_point_file(path: str | Path, head_bytes: int = 65536) -> bool:
    """The same test on a CSV's first rows only (a drop decides at once, without reading the file):
    any of its first 30 rows naming longitude and latitude columns."""
    import csv
    import io

    try:
        with open(path, "rb") as f:
            raw = f.read(head_bytes)
    except OSError:
        return False
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError as exc:
            if exc.start > len(raw) - 4:  # a character cut at the end of the sample
                text = raw[:exc.start].decode(enc)
                break
    else:
        return False
    delim = "\t" if text.count("\t") > text.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delim))[:30]
    return any(looks_like_point_table([c.strip() for c in r]) for r in rows)


def default_field(joined: Joined) -> str | None:
    """The first numeric table column with numbers for matched units (what a new layer shows)."""
    gdf = joined.gdf
    for c in joined.table.numeric:
        col = f"{c}_表" if f"{c}_表" in gdf.columns else c  # renamed where the layer has the name
        if col in gdf.columns and gdf[col].notna().any():
            return col
    return None


def joined_layer(joined: Joined, layer_id: str, title: str | None = None, style: dict | None = None) -> MapLayer:
    """The layer: one feature per unit of the level (no-data units included)."""
    from zjmap.core.classify import layer_choropleth
    from zjmap.core.layermodel import TableSource
    from zjmap.core.userfiles import LoadedLayer
    from zjmap.core.userlayers import user_layer

    t, r = joined.table, joined.result
    gdf = joined.gdf
    loaded = LoadedLayer(
        name=Path(t.path).stem, gdf=gdf, driver="table", source_crs="EPSG:4326", crs_guessed=False,
        crs_guess_reason=None, encoding=t.encoding, encoding_reason=None, repaired=0, skipped=0,
        geometry_types=sorted(set(gdf.geom_type.dropna())), fields={c: str(gdf[c].dtype) for c in gdf.columns},
        bounds_wgs84=tuple(float(v) for v in gdf.total_bounds), warnings=[])
    source = TableSource(
        t.path, layer=t.sheet, join=joined.spec.to_json(), sheet=t.sheet, source_label=t.source_label,
        header_row=t.header_row, key=r.key, level=r.level, columns=list(t.columns),
        notes={m.adcode: m.note for m in r.rows if m.adcode and m.note},
        keys={m.adcode: m.key for m in r.rows if m.adcode}, summary=r.summary())
    layer = user_layer(loaded, layer_id, title=title or default_title(joined), source=source)
    if style is not None:
        layer.style = dict(style)
    else:
        fld = default_field(joined)
        if fld is not None:
            layer.style = layer_choropleth(layer, fld)
    return layer


def default_title(joined: Joined) -> str:
    if joined.result.level == "layer":
        return f"{Path(joined.table.path).stem}（按“{(joined.spec.target or {}).get('field', '')}”）"
    lv = {"province": "省", "prefecture": "市", "county": "县"}[joined.result.level]
    return f"{Path(joined.table.path).stem}（按{lv}）"


def rebuild(spec: dict[str, Any], layer_id: str, title: str | None, style: dict | None,
            path: str | None = None) -> MapLayer:
    """A saved joined layer, read again (``path``: the table moved there)."""
    s = JoinSpec.from_json({**spec, **({"path": path} if path else {})})
    return joined_layer(run_join(s), layer_id, title, style)


def table_row_html(layer: MapLayer, props: dict[str, Any]) -> str | None:
    """The Source tab for a joined feature: the table's row, its file and sheet, how it matched."""
    import html

    from zjmap.core.layermodel import TableSource

    j = layer.source
    if not isinstance(j, TableSource):
        return None
    adcode = str(props.get("target_row")) if j.level == "layer" else props.get("adcode")
    row = props.get("table_row")
    if row is None or (isinstance(row, float) and math.isnan(row)):
        return (f"<p><b>{html.escape(j.source_label)}</b></p>"
                f"<p style='color:#777'>表中没有此单位的行 / the table has no row for this unit (no data).</p>")
    cells = "".join(
        f"<tr><th align='left' style='color:#666;padding-right:8px'>{html.escape(c)}</th>"
        f"<td>{html.escape(_fmt(props.get(c if c not in ('adcode', 'name_zh', 'level') else c + '_表')))}</td></tr>"
        for c in j.columns)
    note = j.notes.get(adcode)
    note_html = f"<p style='background:#fff3c4'>⚠ {html.escape(note)}</p>" if note else ""
    return (f"<p style='color:#555'><b>表格 Table: {html.escape(j.source_label)}</b> · 第 {int(row)} 行 row "
            f"{int(row)} · 表头第 {j.header_row} 行 · 键 key “{html.escape(j.key)}” = "
            f"“{html.escape(str(j.keys.get(adcode, '')))}”</p>{note_html}<table>{cells}</table>")


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.4g}"
    return str(v)
