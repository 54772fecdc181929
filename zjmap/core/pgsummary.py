"""Summaries by zone computed by PostgreSQL itself, for point layers on a server.

``zjmap summarize postgresql://…?table=… --by county`` would otherwise read
every row over the wire and summarise in Python. For points the statistics
(count, and sum / mean / min / max of a numeric field) are plain SQL
aggregates over ``ST_Intersects`` (a point on a zone's edge counts for it, as
in :func:`zjmap.core.analysis.summarize`), so the zones go to the server as
bound parameters (``unnest(%s::bytea[], %s::text[])``: WKB and ids), each zone
finds its points through the table's spatial index, and only one row per zone
comes back. The layer's filter is the same ``WHERE`` as every other query of
the layer (:mod:`zjmap.core.pgfilter`).

Lines and polygons are not pushed down: their statistics weigh each feature
by the share of its length or area inside the zone (geodesic, slivers left
out), which the Python path measures; :func:`summarize_on_server` then says
None and the caller reads the table.
"""

from __future__ import annotations

from typing import Any, Sequence

import geopandas as gpd
import numpy as np
import shapely
from psycopg import sql

from zjmap.core.analysis import AnalysisError, ZoneLayer, _stat_list, column_name

__all__ = ["POINT_TYPES", "summarize_on_server"]

#: Geometry types whose summaries are plain aggregates (no length or area weights).
POINT_TYPES = ("POINT", "MULTIPOINT")
_NUMERIC = {"smallint", "integer", "bigint", "real", "double precision", "numeric"}


def _field_type(layer: Any, field: str) -> str:
    if field not in layer.columns:
        raise AnalysisError(f"no field named {field!r}; fields: {', '.join(layer.columns[:15])}")
    q = sql.SQL("SELECT pg_typeof((SELECT {} FROM {} LIMIT 1))::text").format(sql.Identifier(field), layer.relation())
    return str(layer._run(q)[0][0])


def summarize_on_server(layer: Any, zones: ZoneLayer, field: str | None = None,
                        stats: Sequence[str] | None = None) -> gpd.GeoDataFrame | None:
    """The summary :func:`~zjmap.core.analysis.summarize` gives, computed in SQL;
    None when this layer's statistics cannot be pushed down (see module doc)."""
    if layer.geography or layer.geometry_type.upper() not in POINT_TYPES:
        return None
    stat_list = _stat_list(stats, field, "point")
    if field:
        kind = _field_type(layer, field)
        if kind not in _NUMERIC:
            raise AnalysisError(f"field {field!r} is not numeric ({kind}); choose a field of numbers")
    g = sql.Identifier(layer.geom)
    zone = sql.SQL("ST_GeomFromWKB(u.w, 4326)")
    if layer.srid not in (4326, 4490, 0):
        zone = sql.SQL("ST_Transform({}, {})").format(zone, sql.Literal(int(layer.srid)))
    else:
        zone = sql.SQL("ST_SetSRID({}, {})").format(zone, sql.Literal(int(layer.srid)))
    value = sql.SQL("NULLIF({}::float8, 'NaN'::float8)").format(sql.Identifier(field)) if field else sql.SQL("NULL")
    aggs = {"count": sql.SQL("count(t.{})").format(sql.Identifier("zjmap_v_present")),
            "sum": sql.SQL("coalesce(sum(t.zjmap_v), 0)"), "mean": sql.SQL("avg(t.zjmap_v)"),
            "min": sql.SQL("min(t.zjmap_v)"), "max": sql.SQL("max(t.zjmap_v)")}
    where, params = layer._where(None)
    inner = sql.SQL("SELECT {} AS zjmap_v, true AS zjmap_v_present FROM {} WHERE {} IS NOT NULL{} AND ST_Intersects({}, z.zjmap_zone)").format(
        value, layer.relation(), g, sql.SQL(" AND ({})").format(where) if where is not None else sql.SQL(""), g)
    q = sql.SQL(
        "WITH z AS (SELECT u.ord AS zjmap_ord, {} AS zjmap_zone "
        "FROM unnest(%s::bytea[], %s::text[]) WITH ORDINALITY AS u(w, id, ord)) "
        "SELECT z.zjmap_ord, {} FROM z LEFT JOIN LATERAL ({}) t ON true GROUP BY z.zjmap_ord").format(
        zone, sql.SQL(", ").join(aggs[s] for s in stat_list), inner)
    wkb = [shapely.to_wkb(gm) for gm in zones.geoms]
    rows = layer._run(q, [wkb, [str(i) for i in zones.ids], *params])
    nz = len(zones.geoms)
    got = np.full((nz, len(stat_list)), np.nan)
    for r in rows:
        got[int(r[0]) - 1] = [np.nan if v is None else float(v) for v in r[1:]]
    out: dict[str, Any] = {zones.id_column: zones.ids, "name": zones.names}
    for k, st in enumerate(stat_list):
        col = got[:, k]
        out[column_name(st, field)] = col.astype(int) if st == "count" else col
    return gpd.GeoDataFrame(out, geometry=list(zones.geoms), crs="EPSG:4326")


def summarize_source(source: str, zones: ZoneLayer, field: str | None, stats: Sequence[str] | None,
                     where: str | None) -> tuple[gpd.GeoDataFrame, int] | None:
    """``summarize`` of a PostGIS source in SQL: (result, features summarised), or
    None when it must be read and summarised here (not points). Bad filters and
    server faults are raised as AnalysisError with the server layer's own message."""
    from zjmap.core.postgis import PgError, open_layer

    try:
        layer = open_layer(source)
    except PgError as exc:
        raise AnalysisError(f"data: {exc}") from None
    try:
        if layer.geography or layer.geometry_type.upper() not in POINT_TYPES:
            return None
        layer.set_filter(where)
        result = summarize_on_server(layer, zones, field, stats)
        return (result, layer.count()) if result is not None else None
    except PgError as exc:
        raise AnalysisError(str(exc)) from None
    finally:
        layer.close()
