"""Joining a table to a planner's own layer by one of its fields (not the base).

The field's values are compared as the base's names are (:func:`normalize`:
full-width, spaces, 巿; then without 省/市/县/区 suffixes) or, when both hold
division codes, by their first six digits. A value several features share is
ambiguous and listed, never guessed. RowMatch.adcode holds the matched
feature's row number in the layer (as text), so the summary, the manual picks
and the joined frame work as for the base.
"""

from __future__ import annotations

from zjmap.core.tablejoin import (
    Joined,
    JoinSpec,
    MatchResult,
    RowMatch,
    TOTAL_NAMES,
    _code_of,
    _flag_duplicates,
    normalize,
    stem,
)
from zjmap.core.tables import Table


def _key(v: object) -> str:
    return _code_of(str(v)) or normalize(v) if v is not None and v == v else ""


def match_to_values(table: Table, key: str, values: list, fixes: dict[int, str | None] | None = None,
                    field: str = "") -> MatchResult:
    """Each table row to the feature whose ``values`` entry equals its key."""
    if key not in table.columns:
        raise KeyError(f"the table has no column {key!r}; its columns: {', '.join(table.columns)}")
    exact: dict[str, list[int]] = {}
    loose: dict[str, list[int]] = {}
    for i, v in enumerate(values):
        k = _key(v)
        if k:
            exact.setdefault(k, []).append(i)
            loose.setdefault(stem(k), []).append(i)
    fixes = fixes or {}
    rows = []
    for i, k in enumerate(table.frame[key].tolist()):
        m = RowMatch(i, table.source_rows[i], "" if k is None or k != k else str(k).strip(), "unmatched")
        kk = _key(k)
        hits = exact.get(kk) or loose.get(stem(kk)) if kk else None
        if not kk:
            m.note = "没有键值 (empty key)"
        elif kk in TOTAL_NAMES:
            m.status = "total"
        elif hits and len(hits) == 1:
            m.status, m.adcode, m.name = "matched", str(hits[0]), str(values[hits[0]])
        elif hits:
            m.status = "ambiguous"
            m.note = f"图层中 {len(hits)} 个要素的“{field}”都是此值 ({len(hits)} features share this value)"
        else:
            m.note = f"图层的“{field}”中没有此值 (no feature has this {field})"
        if m.source_row in fixes:
            fx = fixes[m.source_row]
            if fx is None:
                m.status, m.adcode, m.name = "unmatched", None, None
            elif fx.isdigit() and int(fx) < len(values):
                m.status, m.adcode, m.name, m.note = "fixed", fx, str(values[int(fx)]), "手工指定 (picked by hand)"
        rows.append(m)
    _flag_duplicates(rows)
    return MatchResult("layer", key, None, rows)


def layer_frame(table: Table, result: MatchResult, gdf):
    """The target layer's features with the table's columns (no-data features kept)."""
    import geopandas as gpd

    matched = [r for r in result.rows if r.adcode]
    geom = gdf.geometry.name
    reserved = set(gdf.columns) | {"table_row"}
    rename = {c: (f"{c}_表" if c in reserved else c) for c in table.columns}
    rec = table.frame.iloc[[r.row for r in matched]].rename(columns=rename).copy()
    rec.index = [int(r.adcode) for r in matched]
    rec["table_row"] = [r.source_row for r in matched]
    base = gdf.reset_index(drop=True)
    base["target_row"] = range(len(base))
    out = base.join(rec, how="left")
    return gpd.GeoDataFrame(out, geometry=geom, crs=gdf.crs)


def run_layer_join(spec: JoinSpec, table: Table, gdf=None) -> Joined:
    """``spec.target`` names the layer's file (re-read here unless ``gdf`` is given) and field."""
    t = spec.target or {}
    fld = t.get("field")
    if gdf is None:
        from zjmap.core.userfiles import read_layer

        gdf = read_layer(t["path"], layer=t.get("layer"), encoding=t.get("encoding"), crs=t.get("crs")).gdf
    if fld not in gdf.columns:
        raise KeyError(f"the layer has no field {fld!r}")
    from zjmap.core.tablejoin import guess_key

    key = spec.key or guess_key(table)
    result = match_to_values(table, key, gdf[fld].tolist(), spec.fixes, fld)
    done = JoinSpec(spec.path, table.sheet, table.header_row, key, "layer", None, dict(spec.fixes), dict(t))
    return Joined(done, table, result, layer_frame(table, result, gdf))
