"""Summaries by zone computed by PostgreSQL itself, for point, line and polygon layers on a server.

``zjmap summarize postgresql://…?table=… --by county`` would otherwise read
every row over the wire and summarise in Python. The zones go to the server
as bound parameters (``unnest(%s::bytea[], %s::text[])``: WKB and ids), each
zone finds its features through the table's spatial index, and only one row
per zone comes back. The layer's filter is the same ``WHERE`` as every other
query of the layer (:mod:`zjmap.core.pgfilter`).

Points: count, and sum / mean / min / max of a numeric field, are plain
aggregates over ``ST_Intersects`` (a point on a zone's edge counts for it).
Lines and polygons follow :func:`zjmap.core.analysis.summarize` step by step:
each feature's piece inside the zone (the whole feature when the zone
covers it, else ``ST_Intersection`` in lon/lat, as shapely cuts it) is
measured on the ``geography`` type (``ST_Length`` / ``ST_Area`` on the WGS-84
spheroid: the geodesic figures pyproj's Geod gives), pieces of no measure
are dropped, polygon sums are area-weighted, and ``count``/``min``/``max``
leave out polygons inside a zone by less than :data:`~zjmap.core.analysis.SLIVER`
of their area.

Geography columns are summarised the same way: the shape as lon/lat
geometry is cut and tested as shapely does it (planar in lon/lat, as the
Python path reads it), measured geodesically; the geography index finds the
candidates (the zone's geography box widened by more than the gap between
its lon/lat edges and the great circles through its corners).
A generic ``geometry`` column (or a ``sql=`` query) is summarised as the
one kind its rows hold (``GeometryType`` of each row, the layer's filter
applied); rows of several kinds are refused as the Python path refuses them.
Other geometry kinds (curves) keep the Python path: :func:`summarize_on_server`
then says None and the caller reads the table.

Every statement can be stopped by Cancel (``cancel``: :func:`zjmap.core.pgsql.cancellable`).
"""

from __future__ import annotations

from typing import Any, Sequence

import geopandas as gpd
import numpy as np
import shapely
from psycopg import sql

from zjmap.core.analysis import SLIVER, AnalysisError, ZoneLayer, _stat_list, column_name

__all__ = ["FAMILIES", "family_of", "summarize_on_server", "summarize_source", "summarize_table"]

#: A column's geometry type → the family :func:`~zjmap.core.analysis.summarize` treats it as.
FAMILIES = {"POINT": "point", "MULTIPOINT": "point", "LINESTRING": "line", "MULTILINESTRING": "line",
            "POLYGON": "polygon", "MULTIPOLYGON": "polygon"}
_NUMERIC = {"smallint", "integer", "bigint", "real", "double precision", "numeric"}
#: Earth radius (m) for the margin of the geography index search (see :func:`_margins`).
_RADIUS_M = 6_371_000.0


def _field_type(layer: Any, field: str, cancel: Any = None) -> str:
    if field not in layer.columns:
        raise AnalysisError(f"no field named {field!r}; fields: {', '.join(layer.columns[:15])}")
    q = sql.SQL("SELECT pg_typeof((SELECT {} FROM {} LIMIT 1))::text").format(sql.Identifier(field), layer.relation())
    return str(layer._run(q, None, cancel)[0][0])


def family_of(layer: Any, cancel: Any = None) -> str | None:
    """'point', 'line' or 'polygon' when the server can summarise ``layer``, else None.

    A column typed for one kind says it; a generic one (``geometry``,
    ``geography``, a query's column) is asked what its rows hold, with the
    layer's filter: one kind is summarised as it, several are refused (as
    :func:`~zjmap.core.analysis.geometry_family` refuses them), a kind
    outside points, lines and polygons (curves) leaves it to Python."""
    typed = FAMILIES.get(layer.geometry_type.upper())
    if typed is not None:
        return typed
    if layer.geometry_type.upper() not in ("GEOMETRY", "GEOMETRYCOLLECTION"):
        return None
    where, params = layer._where(None)
    g = _native(layer)
    q = sql.SQL("SELECT DISTINCT upper(GeometryType({})) FROM {} WHERE {} IS NOT NULL AND NOT ST_IsEmpty({}){}").format(
        g, layer.relation(), sql.Identifier(layer.geom), g, _filtered(where))
    kinds = {str(r[0]) for r in layer._run(q, params, cancel)}
    if kinds - set(FAMILIES) - {"GEOMETRYCOLLECTION"}:
        return None
    fams = {FAMILIES.get(k, "mixed") for k in kinds}
    if not fams:
        return "point"  # nothing to summarise: every zone gets 0, as in the Python path
    if len(fams) != 1 or "mixed" in fams:
        raise AnalysisError(f"the layer mixes geometry kinds ({', '.join(sorted(fams))}); "
                            "split it into points, lines and polygons first")
    return fams.pop()


def _native(layer: Any) -> sql.Composable:
    """The shape as geometry in the table's own CRS (a geography column as lon/lat geometry)."""
    g = sql.Identifier(layer.geom)
    return sql.SQL("{}::geometry").format(g) if layer.geography else g


def _margins(zones: ZoneLayer) -> list[float]:
    """Metres by which a geography index search around each zone is widened.

    The Python path tests shapes in lon/lat, where an edge is straight; on
    the sphere the same two corners are joined by a great circle, up to
    about ``width² / 8R`` away. Twice that plus a kilometre, so no feature
    that touches the zone in lon/lat is missed; the exact test follows."""
    b = shapely.bounds(np.asarray(zones.geoms, dtype=object))
    lat = np.radians(np.clip((b[:, 1] + b[:, 3]) / 2, -85, 85))
    width = 111_320.0 * np.maximum((b[:, 2] - b[:, 0]) * np.cos(lat), b[:, 3] - b[:, 1])
    return [float(v) for v in np.nan_to_num(width ** 2 / (4 * _RADIUS_M) + 1000.0, nan=1000.0)]


#: the zones go to the server in about this many statements: the progress bar
#: moves between them (a zone's row depends on that zone alone)
ZONE_STATEMENTS = 10


def summarize_on_server(layer: Any, zones: ZoneLayer, field: str | None = None,
                        stats: Sequence[str] | None = None, cancel: Any = None,
                        progress: Any = None) -> gpd.GeoDataFrame | None:
    """The summary :func:`~zjmap.core.analysis.summarize` gives, computed in SQL;
    None when this layer's statistics cannot be pushed down (see module doc).
    ``progress(fraction, text)`` after each statement's zones."""
    family = family_of(layer, cancel)
    if family is None:
        return None
    stat_list = _stat_list(stats, field, family)
    if field:
        kind = _field_type(layer, field, cancel)
        if kind not in _NUMERIC:
            raise AnalysisError(f"field {field!r} is not numeric ({kind}); choose a field of numbers")
    zone = sql.SQL("ST_GeomFromWKB(u.w, 4326)")
    if layer.geography:
        pass  # the shapes are tested as lon/lat geometry (zjmap_zone84)
    elif layer.srid not in (4326, 4490, 0):
        zone = sql.SQL("ST_Transform({}, {})").format(zone, sql.Literal(int(layer.srid)))
    else:
        zone = sql.SQL("ST_SetSRID({}, {})").format(zone, sql.Literal(int(layer.srid)))
    value = sql.SQL("NULLIF({}::float8, 'NaN'::float8)").format(sql.Identifier(field)) if field else sql.SQL("NULL")
    where, params = layer._where(None)
    rows_of = _pieces(layer, family, value, where) if family != "point" else _points(layer, value, where)
    aggs = _aggregates(family)
    q = sql.SQL(
        "WITH z AS (SELECT u.ord AS zjmap_ord, ST_GeomFromWKB(u.w, 4326) AS zjmap_zone84, {} AS zjmap_zone, "
        "ST_GeomFromWKB(u.w, 4326)::geography AS zjmap_zoneg, u.margin AS zjmap_margin "
        "FROM unnest(%s::bytea[], %s::text[], %s::float8[], %s::int[]) AS u(w, id, margin, ord)) "
        "SELECT z.zjmap_ord, {} FROM z LEFT JOIN LATERAL ({}) t ON true GROUP BY z.zjmap_ord").format(
        zone, sql.SQL(", ").join(aggs[s] for s in stat_list), rows_of)
    wkb = [shapely.to_wkb(gm) for gm in zones.geoms]
    ids, margins = [str(i) for i in zones.ids], _margins(zones)
    nz = len(zones.geoms)
    got = np.full((nz, len(stat_list)), np.nan)
    step = max(1, -(-nz // ZONE_STATEMENTS))
    for a in range(0, nz, step):
        b = min(nz, a + step)
        if a and cancel is not None and cancel():  # between statements: the next one is not sent
            from zjmap.core.userfile_types import LoadCancelled

            raise LoadCancelled("Cancelled.")
        rows = layer._run(q, [wkb[a:b], ids[a:b], list(margins[a:b]), list(range(a, b)), *params], cancel)
        for r in rows:
            got[int(r[0])] = [np.nan if v is None else float(v) for v in r[1:]]
        if progress is not None:
            progress(0.05 + 0.9 * b / nz, f"由数据库汇总 Summarising on the server: {b} of {nz} zones")
    out: dict[str, Any] = {zones.id_column: zones.ids, "name": zones.names}
    for k, st in enumerate(stat_list):
        col = got[:, k]
        out[column_name(st, field)] = col.astype(int) if st == "count" else col
    return gpd.GeoDataFrame(out, geometry=list(zones.geoms), crs="EPSG:4326")


def _filtered(where: sql.Composable | None) -> sql.Composable:
    return sql.SQL(" AND ({})").format(where) if where is not None else sql.SQL("")


def _touches(layer: Any) -> sql.Composable:
    """The feature meets the zone (through the spatial index)."""
    g = sql.Identifier(layer.geom)
    if layer.geography:
        # the index finds the boxes near the zone (_ST_Expand: PostGIS's own widening of a
        # geography box, the index half of ST_DWithin, without its costly distance to the zone)
        return sql.SQL("{} && _ST_Expand(z.zjmap_zoneg, z.zjmap_margin) "
                       "AND ST_Intersects({}::geometry, z.zjmap_zone84)").format(g, g)
    return sql.SQL("ST_Intersects({}, z.zjmap_zone)").format(g)


def _zone_native(layer: Any) -> sql.Composable:
    return sql.SQL("z.zjmap_zone84" if layer.geography else "z.zjmap_zone")


def _points(layer: Any, value: sql.Composable, where: sql.Composable | None) -> sql.Composable:
    """Each point in the zone: its value (``zjmap_v``)."""
    g = sql.Identifier(layer.geom)
    return sql.SQL("SELECT {} AS zjmap_v, 1.0::float8 AS zjmap_piece, 1.0::float8 AS zjmap_whole FROM {} "
                   "WHERE {} IS NOT NULL{} AND {}").format(
        value, layer.relation(), g, _filtered(where), _touches(layer))


def _pieces(layer: Any, family: str, value: sql.Composable, where: sql.Composable | None) -> sql.Composable:
    """Each line or polygon the zone overlaps: its value, the measure (km, km²) of
    its piece inside the zone and of the whole feature; pieces of no measure dropped."""
    g = sql.Identifier(layer.geom)
    if layer.geography:
        g84: sql.Composable = _native(layer)
    else:
        g84 = (sql.SQL("ST_SetSRID({}, 4326)") if layer.srid in (4326, 4490, 0) else sql.SQL("ST_Transform({}, 4326)")).format(g)
    part, scale = ("ST_Area", 1e6) if family == "polygon" else ("ST_Length", 1e3)
    kind = 3 if family == "polygon" else 2

    def measure(x: sql.Composable) -> sql.Composable:
        return sql.SQL("{}(ST_CollectionExtract({}, {})::geography) / {}").format(
            sql.SQL(part), x, sql.Literal(kind), sql.Literal(scale))

    # OFFSET 0 keeps each measure a column computed once per row: without it the planner
    # pulls the subqueries up and repeats ST_Area / ST_Intersection at every reference
    inner = sql.SQL(
        "SELECT {} AS zjmap_v, w.zjmap_whole, CASE WHEN ST_Covers({}, {}) THEN w.zjmap_whole "
        "ELSE {} END AS zjmap_piece FROM {}, LATERAL (SELECT {} AS zjmap_whole OFFSET 0) w "
        "WHERE {} IS NOT NULL{} AND {} OFFSET 0").format(
        value, _zone_native(layer), _native(layer), measure(sql.SQL("ST_Intersection(z.zjmap_zone84, {})").format(g84)),
        layer.relation(), measure(g84), g, _filtered(where), _touches(layer))
    return sql.SQL("SELECT * FROM ({}) p WHERE p.zjmap_piece > 0").format(inner)


def _aggregates(family: str) -> dict[str, sql.Composable]:
    """SQL for each statistic over the rows of :func:`_points` / :func:`_pieces` (``t``)."""
    sig = (sql.SQL("t.zjmap_piece > {} * t.zjmap_whole").format(sql.Literal(SLIVER)) if family == "polygon"
           else sql.SQL("t.zjmap_piece IS NOT NULL"))
    if family == "polygon":
        total = sql.SQL("coalesce(sum(t.zjmap_v * CASE WHEN t.zjmap_whole > 0 THEN t.zjmap_piece / t.zjmap_whole "
                        "ELSE 0 END), 0)")
        mean = sql.SQL("sum(t.zjmap_v * t.zjmap_piece) / NULLIF(sum(t.zjmap_piece) FILTER "
                       "(WHERE t.zjmap_v IS NOT NULL), 0)")
    else:
        total, mean = sql.SQL("coalesce(sum(t.zjmap_v), 0)"), sql.SQL("avg(t.zjmap_v)")
    return {"count": sql.SQL("count(*) FILTER (WHERE {})").format(sig), "sum": total, "mean": mean,
            "min": sql.SQL("min(t.zjmap_v) FILTER (WHERE {})").format(sig),
            "max": sql.SQL("max(t.zjmap_v) FILTER (WHERE {})").format(sig),
            "length": sql.SQL("coalesce(sum(t.zjmap_piece), 0)"), "area": sql.SQL("coalesce(sum(t.zjmap_piece), 0)")}


def _pushed(source: str, zones: ZoneLayer, field: str | None, stats: Sequence[str] | None, where: str | None,
            cancel: Any = None, counted: bool = False, progress: Any = None) -> tuple[gpd.GeoDataFrame, int | None] | None:
    from zjmap.core.postgis import PgError, open_layer

    try:
        layer = open_layer(source, cancel=cancel)
    except PgError as exc:
        raise AnalysisError(f"data: {exc}") from None
    try:
        layer.set_filter(where)
        result = summarize_on_server(layer, zones, field, stats, cancel=cancel, progress=progress)
        if result is None:
            return None
        return result, (layer.count() if counted else None)
    except PgError as exc:
        raise AnalysisError(str(exc)) from None
    finally:
        layer.close()


def summarize_source(source: str, zones: ZoneLayer, field: str | None, stats: Sequence[str] | None,
                     where: str | None, cancel: Any = None) -> tuple[gpd.GeoDataFrame, int] | None:
    """``summarize`` of a PostGIS source in SQL: (result, features summarised), or
    None when it must be read and summarised here (see :func:`family_of`). Bad filters and
    server faults are raised as AnalysisError with the server layer's own message; a
    cancelled statement as :class:`~zjmap.core.userfile_types.LoadCancelled`."""
    pushed = _pushed(source, zones, field, stats, where, cancel, counted=True)
    return None if pushed is None else (pushed[0], int(pushed[1] or 0))


def summarize_table(source: str, zones: ZoneLayer, field: str | None, stats: Sequence[str] | None,
                    where: str | None, progress: Any = None, cancel: Any = None) -> gpd.GeoDataFrame:
    """The summary of a whole PostGIS table (a live layer on the map holds only
    its view): in SQL where :func:`family_of` allows, else the table read here
    (with ``where`` pushed down) and summarised in Python. Cancel stops the
    server's statement (:func:`zjmap.core.pgsql.cancellable`)."""
    from zjmap.core.analysis import summarize
    from zjmap.core.postgis import PgError, read_layer

    if progress is not None:
        progress(0.05, "由数据库汇总 Summarising on the server")
    pushed = _pushed(source, zones, field, stats, where, cancel, progress=progress)
    if pushed is not None:
        return pushed[0]
    try:
        gdf = read_layer(source, progress=progress, cancel=cancel, where=where).gdf
    except PgError as exc:
        raise AnalysisError(str(exc)) from None
    return summarize(zones, gdf, field, stats, progress=progress, cancel=cancel)
