"""PostGIS tables, views and queries as layers, read with psycopg.

Everything runs on the server zjmap is pointed at, not on a copy: a layer
asks for what a view needs (:meth:`PgLayer.view`), counts and summaries are
SQL, exports read the table. Safe on a worker thread; no Qt.

Writing a layer back to a table is :mod:`zjmap.core.pgwrite`.

Security: table, schema and column names are always composed with
``psycopg.sql.Identifier`` and values are always bound parameters, so a name
like ``parcels";drop table x;--`` is just a table that does not exist. A
``sql=`` query is the planner's own text and runs in a read-only transaction.

Passwords: taken out of the source string (:mod:`zjmap.core.pgsource`), kept
in this process for the session and, when the planner asks, in the system
keyring (:mod:`zjmap.core.pgpasswords`); never in a workspace. libpq's
own ways (``~/.pgpass``, ``PGPASSWORD``, ``pg_service.conf``) work as usual.

Errors reach the planner as :class:`PgError` (a :class:`UserFileError`), one
plain sentence naming the server or the table; :class:`PgPasswordNeeded`
says a password should be asked for, :class:`PgUnavailable` that the server
went away (the layer is marked unavailable and can be reconnected).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import errors as pgerr
from psycopg import sql

from zjmap.core.pgpasswords import drop_stored, forget_password, password_for, remember_password
from zjmap.core.pgsource import PgSource, parse_pg
from zjmap.core.pgsql import Verbatim, cancellable, execute
from zjmap.core.remote import ViewResult
from zjmap.core.userfiles import LoadCancelled, LoadedLayer, UserFileError

__all__ = [
    "PgError", "PgFilterError", "PgPasswordNeeded", "PgUnavailable", "PgLayer", "TableInfo", "ViewResult",
    "connect", "forget_password", "list_tables", "open_layer", "read_layer", "remember_password",
]

ProgressFn = Callable[[float, str], Any]
CancelFn = Callable[[], bool]

#: Seconds to wait for a server before saying it cannot be reached.
CONNECT_TIMEOUT = 5
#: Rows fetched per round trip when a whole layer is read.
FETCH_ROWS = 20_000
#: Most features one view brings whole; a view with more gets a sample of about THIN_FEATURES.
VIEW_FEATURES = 30_000
THIN_FEATURES = 12_000
EXACT_ZOOM = 14  # from here on a view's shapes are the table's own, not generalised
#: SRIDs whose coordinates are drawn as they are (WGS-84, CGCS2000; 0: none given).
LONLAT_SRIDS = (4326, 4490, 0)
APP_NAME = "zjmap"


class PgError(UserFileError):
    """A database problem in plain words."""


class PgFilterError(PgError):
    """A layer filter that does not fit the table (the layer keeps the filter it had)."""


class PgPasswordNeeded(PgError):
    """The server wants a password zjmap does not have (ask the planner)."""

    def __init__(self, message: str, key: str):
        super().__init__(message)
        self.key = key


class PgUnavailable(PgError):
    """The server cannot be reached or went away: the layer is unavailable until reconnected."""


# ---------------------------------------------------------------------------
# Connections and errors


def source_of(text: str | PgSource) -> PgSource:
    if isinstance(text, PgSource):
        return text
    src, password = parse_pg(text)
    if password is not None:
        remember_password(src.server_key, password)
    return src


def connect(src: PgSource, *, password: str | None = None, statement_timeout_s: float | None = None,
            read_only: bool = True) -> psycopg.Connection:
    """A connection to ``src``'s server (autocommit; read-only by default)."""
    params: dict[str, Any] = dict(src.conninfo)
    params.setdefault("connect_timeout", str(CONNECT_TIMEOUT))
    params.setdefault("application_name", APP_NAME)
    pw, stored = (password, False) if password is not None else password_for(src.server_key)
    if pw is not None:
        params["password"] = pw
    opts = []
    if statement_timeout_s:
        opts.append(f"-c statement_timeout={int(statement_timeout_s * 1000)}")
    if read_only:
        opts.append("-c default_transaction_read_only=on")
    if opts:
        params["options"] = (params.get("options", "") + " " + " ".join(opts)).strip()
    try:
        conn = psycopg.connect(autocommit=True, **params)
    except psycopg.Error as exc:
        err = _friendly(exc, src)
        if stored and isinstance(err, PgPasswordNeeded):
            drop_stored(src.server_key)  # the keyring's password is wrong now: ask again
        raise err from None
    if password is not None:
        remember_password(src.server_key, password)
    return conn


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "diag", None) and exc.diag.message_primary or exc) or type(exc).__name__
    return text.strip().splitlines()[0]


def _friendly(exc: BaseException, src: PgSource, conn: psycopg.Connection | None = None) -> Exception:
    """The planner's sentence for a psycopg error."""
    detail = _first_line(exc)
    low = str(exc).lower()
    if isinstance(exc, pgerr.QueryCanceled):
        if "statement timeout" in low:
            return PgError(f"数据库查询超时 The database stopped the query on {src.relation} at {src.where}: "
                           f"it ran longer than the server's statement_timeout. Zoom in or filter, then try again.")
        return LoadCancelled()
    if isinstance(exc, (pgerr.UndefinedTable, pgerr.InvalidSchemaName)):
        return PgError(f"数据表不存在 The table {src.relation} does not exist in {src.where} "
                       f"(or this login may not read it). ({detail})")
    if isinstance(exc, pgerr.UndefinedColumn):
        return PgError(f"字段不存在 {src.relation} at {src.where} has no such column. ({detail})")
    if isinstance(exc, pgerr.InsufficientPrivilege):
        return PgError(f"没有权限 This login may not do that on {src.relation} at {src.where}. ({detail})")
    if isinstance(exc, (pgerr.SyntaxError, pgerr.UndefinedFunction, pgerr.DatatypeMismatch)):
        return PgError(f"SQL 有误 The SQL query for {src.where} has an error: {detail}")
    if isinstance(exc, pgerr.ReadOnlySqlTransaction):
        return PgError(f"只读 A layer's SQL may only read data ({src.where}): {detail}")
    if isinstance(exc, psycopg.OperationalError) or isinstance(exc, psycopg.InterfaceError):
        if "password" in low and ("authentication failed" in low or "no password" in low):
            wrong = "authentication failed" in low
            forget_password(src.server_key)
            return PgPasswordNeeded(
                f"需要密码 {src.where} needs {'the right' if wrong else 'a'} password for user "
                f"{src.conninfo.get('user', '(default)')}.", src.server_key)
        if "ssl" in low and conn is None:
            mode = src.conninfo.get("sslmode", "prefer")
            return PgUnavailable(f"加密连接失败 The PostgreSQL server at {src.where} and zjmap do not agree on TLS "
                                 f"(sslmode={mode}): the server may not offer it, or its certificate is not "
                                 f"trusted. ({detail})")
        lost = conn is not None or "terminat" in low or "closed" in low or "server closed" in low
        if lost:
            return PgUnavailable(f"数据库连接中断 The connection to the database at {src.where} was lost; "
                                 f"the layer {src.relation} is unavailable until you reconnect. ({detail})")
        return PgUnavailable(f"无法连接数据库 Cannot reach the PostgreSQL server at {src.where}: is it running, "
                             f"and are the address and port right? ({detail})")
    if isinstance(exc, psycopg.Error):
        return PgError(f"数据库错误 The database at {src.where} refused: {detail}")
    return exc  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# Browsing


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    kind: str  # "table" | "view" | "materialized view" | "foreign table"
    geom: str
    geometry_type: str
    srid: int
    rows_estimate: int | None  # planner statistics; None: never analysed (views)
    geography: bool = False

    def source(self, server: PgSource) -> PgSource:
        return server.with_relation(self.schema, self.name, self.geom)


_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}

_LIST_SQL = """
SELECT n.nspname, c.relname, c.relkind, a.attname,
       t.typname = 'geography' AS geog,
       coalesce(upper(postgis_typmod_type(a.atttypmod)), 'GEOMETRY'),
       coalesce(nullif(postgis_typmod_srid(a.atttypmod), 0),
                (SELECT srid FROM geometry_columns g WHERE g.f_table_schema = n.nspname
                 AND g.f_table_name = c.relname AND g.f_geometry_column = a.attname LIMIT 1), 0),
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE t.typname IN ('geometry', 'geography') AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'topology', 'tiger')
  AND has_table_privilege(c.oid, 'SELECT')
  AND (%(schema)s::text IS NULL OR n.nspname = %(schema)s::text)
ORDER BY n.nspname, c.relname, a.attnum
"""


def list_schemas(server: str | PgSource) -> list[str]:
    src = source_of(server)
    with connect(src) as conn:
        try:
            rows = execute(
                conn,
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%' "
                "AND nspname NOT IN ('information_schema', 'topology', 'tiger') ORDER BY 1").fetchall()
        except psycopg.Error as exc:
            raise _friendly(exc, src) from None
    return [r[0] for r in rows]


def list_tables(server: str | PgSource, schema: str | None = None) -> list[TableInfo]:
    """Tables and views with a geometry or geography column, with row estimates."""
    src = source_of(server)
    with connect(src) as conn:
        try:
            rows = execute(conn, _LIST_SQL, {"schema": schema}).fetchall()
        except psycopg.Error as exc:
            raise _friendly(exc, src) from None
    return [TableInfo(r[0], r[1], _KINDS.get(r[2], r[2]), r[3], r[5], int(r[6] or 0),
                      None if r[7] is None else int(r[7]), bool(r[4])) for r in rows]


# ---------------------------------------------------------------------------
# A layer on the server

_PLAIN_TYPES = {"int2", "int4", "int8", "float4", "float8", "numeric", "text", "varchar", "bpchar", "bool",
                "date", "timestamp", "timestamptz", "oid", "name"}


@dataclass
class PgLayer:
    """A table, view or query on a server, resolved once (columns, SRID, key).

    Holds one connection, reopened by :meth:`reconnect`; ``available`` turns
    False when the server went away mid-session.
    """

    src: PgSource
    geom: str
    srid: int
    geography: bool
    columns: list[str]  # attribute columns (not the geometry)
    casts: dict[str, bool]  # column → read as text
    key: str | None  # a unique column (primary key), else ctid for tables
    rows_estimate: int | None
    geometry_type: str
    statement_timeout_s: float | None = None
    available: bool = True
    filter_text: str | None = None  # the layer filter every query carries (see set_filter)
    _filter: tuple[sql.Composable, list[Any]] | None = field(default=None, repr=False)
    _conn: psycopg.Connection | None = field(default=None, repr=False)

    # -- connection -------------------------------------------------------
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.src, statement_timeout_s=self.statement_timeout_s)
            self.available = True
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def reconnect(self) -> None:
        """Open a fresh connection (raises :class:`PgUnavailable` if the server is still away)."""
        self.close()
        self.conn()

    def _run(self, query: sql.Composable, params: Any = None, cancel: CancelFn | None = None) -> list[tuple]:
        conn = self.conn()
        try:
            with cancellable(conn, cancel):
                # binary results: WKB arrives as bytes, not hex text (half the bytes, no decoding)
                return execute(conn, query, params, binary=True).fetchall()
        except psycopg.Error as exc:
            raise self._failed(exc, conn) from None

    def _failed(self, exc: psycopg.Error, conn: psycopg.Connection) -> Exception:
        """The planner's error; a server that went away marks the layer unavailable."""
        err = _friendly(exc, self.src, conn if (conn.closed or conn.broken) else None)
        if isinstance(err, PgUnavailable):
            self.available = False
            self.close()
        return err

    # -- SQL pieces ---------------------------------------------------------
    def relation(self) -> sql.Composable:
        if self.src.sql is not None:
            return sql.SQL("({}) AS {}").format(Verbatim(self.src.sql), sql.Identifier("zjmap_q"))
        if self.src.schema:
            return sql.Identifier(self.src.schema, self.src.table)
        return sql.Identifier(self.src.table)

    def _g(self) -> sql.Composable:
        return sql.Identifier(self.geom)

    def _same_as_lonlat(self) -> bool:
        """Coordinates already lon/lat for the map: WGS-84, CGCS2000 (PROJ's
        transformation between them is the identity; PostGIS's per-row
        ST_Transform of it costs ~20 µs a shape), or no SRID."""
        return self.geography or self.srid in LONLAT_SRIDS

    def _geom4326(self, simplify_deg: float | None = None) -> sql.Composable:
        """The shape as WKB: lon/lat as it is, otherwise in the table's own CRS
        (reprojected in :meth:`_frame`, vectorised, instead of per row on the server)."""
        g: sql.Composable = sql.SQL("{}::geometry").format(self._g()) if self.geography else self._g()
        if simplify_deg:
            tol = simplify_deg if self._same_as_lonlat() else simplify_deg * self._units_per_degree()
            g = sql.SQL("ST_Simplify({}, {}, true)").format(g, sql.Literal(float(tol)))
        return sql.SQL("ST_AsBinary({})").format(g)

    def _units_per_degree(self) -> float:
        from pyproj import CRS

        crs = CRS.from_epsg(self.srid)
        if crs.is_geographic:
            return 1.0
        unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
        return 111_320.0 / (unit or 1.0)

    def _to_lonlat(self, geoms: np.ndarray) -> np.ndarray:
        if self._same_as_lonlat() or not len(geoms):
            return geoms
        t = self.__dict__.get("_transformer")
        if t is None:
            from pyproj import Transformer

            t = self.__dict__["_transformer"] = Transformer.from_crs(self.srid, 4326, always_xy=True)
        return shapely.transform(geoms, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))

    def _bbox_filter(self, bbox: tuple[float, float, float, float]) -> tuple[sql.Composable, list[Any]]:
        w, s, e, n = (float(v) for v in bbox)
        env = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, 4326)")
        if self.geography:
            return sql.SQL("{} && {}::geography").format(self._g(), env), [w, s, e, n]
        if self.srid in (4326, 0):
            target = env if self.srid else sql.SQL("ST_SetSRID({}, 0)").format(env)
        else:
            target = sql.SQL("ST_Transform({}, {})").format(env, sql.Literal(self.srid))
        return sql.SQL("{} && {}").format(self._g(), target), [w, s, e, n]

    def set_filter(self, text: str | None) -> None:
        """Push a layer filter into every query (:func:`zjmap.core.pgfilter.set_filter`)."""
        from zjmap.core.pgfilter import set_filter

        set_filter(self, text)

    def _where(self, bbox: tuple[float, float, float, float] | None = None) -> tuple[sql.Composable | None, list[Any]]:
        """The bbox (spatial index) AND the layer filter, with their parameters in order."""
        parts: list[sql.Composable] = []
        params: list[Any] = []
        if bbox is not None:
            w, p = self._bbox_filter(bbox)
            parts.append(w)
            params += p
        if self._filter is not None:
            parts.append(sql.SQL("({})").format(self._filter[0]))
            params += self._filter[1]
        return (sql.SQL(" AND ").join(parts) if parts else None), params

    def _attrs(self) -> sql.Composable:
        cols = []
        for c in self.columns:
            ident = sql.Identifier(c)
            cols.append(sql.SQL("{}::text AS {}").format(ident, ident) if self.casts.get(c) else ident)
        return sql.SQL(", ").join(cols) if cols else sql.SQL("")

    def _key_expr(self) -> sql.Composable:
        if self.key == "ctid":
            return sql.SQL("ctid::text")
        if self.key:
            return sql.SQL("{}::text").format(sql.Identifier(self.key))
        return sql.SQL("NULL::text")

    def select(self, where: sql.Composable | None = None, simplify_deg: float | None = None,
               sample_pct: float | None = None, limit: int | None = None) -> sql.Composable:
        rel = self.relation()
        if sample_pct is not None and self.src.sql is None:
            rel = sql.SQL("{} TABLESAMPLE SYSTEM ({}) REPEATABLE (7)").format(rel, sql.Literal(float(sample_pct)))
        parts = [self._key_expr(), self._geom4326(simplify_deg)]
        attrs = self._attrs()
        q = sql.SQL("SELECT {}, {}{} FROM {} WHERE {} IS NOT NULL").format(
            parts[0], parts[1], sql.SQL(", ") + attrs if self.columns else sql.SQL(""), rel, self._g())
        if where is not None:
            q = sql.SQL("{} AND ({})").format(q, where)
        if limit is not None:
            q = sql.SQL("{} LIMIT {}").format(q, sql.Literal(int(limit)))
        return q

    def _frame(self, rows: list[tuple]):
        import geopandas as gpd

        keys = [r[0] for r in rows]
        geoms = shapely.from_wkb(np.array([r[1] for r in rows], dtype=object)) if rows else np.empty(0, object)
        geoms = self._to_lonlat(geoms)
        data: dict[str, Any] = {"__fid": keys}
        for j, c in enumerate(self.columns):
            vals = [r[2 + j] for r in rows]
            data[c] = _plain(vals)
        return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")

    # -- reading ----------------------------------------------------------------
    def count(self, bbox: tuple[float, float, float, float] | None = None) -> int:
        where, params = self._where(bbox)
        q = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(self.relation(), where or sql.SQL("true"))
        return int(self._run(q, params)[0][0])

    def estimate(self, bbox: tuple[float, float, float, float] | None = None) -> int:
        """The planner's row estimate (cheap: statistics and the spatial index)."""
        where, params = self._where(bbox)
        q = sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM {} WHERE {}").format(self.relation(), where or sql.SQL("true"))
        plan = self._run(q, params)[0][0]
        return int(plan[0]["Plan"]["Plan Rows"])

    def bounds(self) -> tuple[float, float, float, float] | None:
        """Lon/lat extent of what the layer keeps (filtered: ST_Extent; else ST_EstimatedExtent, no scan)."""
        g = sql.SQL("{}::geometry").format(self._g()) if self.geography else self._g()
        where, params = self._where(None)
        box = None
        if where is None and self.src.sql is None and not self.geography:
            try:  # None before ANALYZE; an error for a view
                box = self._run(sql.SQL("SELECT ST_EstimatedExtent(%s, %s, %s)"),
                                [self.src.schema or "public", self.src.table, self.geom])[0][0]
            except PgError:
                pass
        b = sql.SQL("%s::box2d") if box is not None else sql.SQL("(SELECT ST_Extent({}) FROM {} WHERE {})").format(
            g, self.relation(), where if where is not None else sql.SQL("true"))
        row = self._run(sql.SQL("SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT {} AS b) s").format(b),
                        [box] if box is not None else params)[0]
        if row[0] is None:
            return None
        if self.srid in (4326, 4490, 0):
            return tuple(float(v) for v in row)  # type: ignore[return-value]
        from pyproj import Transformer

        t = Transformer.from_crs(self.srid, 4326, always_xy=True)
        return tuple(float(v) for v in t.transform_bounds(*row))  # type: ignore[return-value]

    def read(self, bbox: tuple[float, float, float, float] | None = None, progress: ProgressFn | None = None,
             cancel: CancelFn | None = None):
        """Every feature (in ``bbox`` if given), fetched in chunks with progress and cancel."""
        where, params = self._where(bbox)
        total = max(self.rows_estimate or 0, 1)
        conn = self.conn()
        parts = []
        done = 0
        try:
            with cancellable(conn, cancel), conn.transaction():
                with conn.cursor(name="zjmap_read", binary=True) as cur:
                    cur.itersize = FETCH_ROWS
                    execute(cur, self.select(where), params)
                    while True:
                        rows = cur.fetchmany(FETCH_ROWS)
                        if not rows:
                            break
                        parts.append(self._frame(rows))
                        done += len(rows)
                        if progress is not None:
                            progress(min(0.98, done / max(total, done)), f"Read {done:,} features from {self.src.relation}")
                        if cancel is not None and cancel():
                            raise LoadCancelled()
        except psycopg.Error as exc:
            raise self._failed(exc, conn) from None
        if not parts:
            return self._frame([])
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def view(self, bbox: tuple[float, float, float, float], zoom: float, max_features: int = VIEW_FEATURES,
             cancel: CancelFn | None = None) -> ViewResult:
        """The features a map view at ``zoom`` needs, generalised by the server.

        The spatial index finds what is in ``bbox``; below ``EXACT_ZOOM`` shapes
        are simplified by the server to one screen pixel (``ST_Simplify``,
        keeping sub-pixel shapes as specks: dropping them would blank a
        province of parcels), at street zooms they come exact; when more than ``max_features`` lie in
        the view (a whole province of parcels), a repeatable sample of the
        table's pages is drawn instead (``TABLESAMPLE SYSTEM``), so the cost
        is bounded by what is shown, not by the table.
        """
        t0 = time.perf_counter()
        where, params = self._where(bbox)
        est = self.estimate(bbox)
        lat = max(-85.0, min(85.0, (float(bbox[1]) + float(bbox[3])) / 2))
        tol = None if zoom >= EXACT_ZOOM else 360.0 / (256 * 2 ** float(zoom)) * max(math.cos(math.radians(lat)), 0.2)
        thinned = False
        pct = None
        if est > max_features * 1.5 and self.src.sql is None:
            # how many rows are really there? (the index, stopping at the cap; far above it the estimate will do)
            capped = est if est > 4 * max_features else self._run(
                sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} LIMIT %s) s").format(self.relation(), where),
                [*params, max_features + 1])[0][0]
            if capped > max_features:
                # the sample is of the table's pages; the bbox then keeps its share of them
                pct = max(0.01, min(100.0, 100.0 * min(THIN_FEATURES, max_features) / max(est, 1)))
                thinned = True
            else:
                est = int(capped)
        limit = None if thinned else max_features * 2
        rows = self._run(self.select(where, simplify_deg=tol, sample_pct=pct, limit=limit), params, cancel)
        gdf = self._frame(rows)
        thinned = thinned or (limit is not None and len(rows) >= limit)
        return ViewResult(gdf, max(int(est), len(gdf)), len(gdf), thinned, time.perf_counter() - t0)

    def at(self, lon: float, lat: float, radius_deg: float, limit: int = 20):
        """Features at a point (identify): those whose shape comes within ``radius_deg``."""
        r = float(radius_deg)
        where, params = self._where((lon - r, lat - r, lon + r, lat + r))
        g = sql.SQL("{}::geometry").format(self._g()) if self.geography else self._g()
        pt = sql.SQL("ST_SetSRID(ST_MakePoint(%s, %s), 4326)")
        if self.srid not in (4326, 0):
            pt = sql.SQL("ST_Transform({}, {})").format(pt, sql.Literal(self.srid))
        near = sql.SQL("ST_DWithin({}, {}, %s)").format(g, pt) if self.srid in (4326, 0) else sql.SQL(
            "ST_Intersects({}, ST_Buffer({}, 1))").format(g, pt)
        cond = sql.SQL("{} AND {}").format(where, near)
        p = [*params, float(lon), float(lat)] + ([r] if self.srid in (4326, 0) else [])
        return self._frame(self._run(self.select(cond, limit=limit), p))


def _plain(vals: list[Any]) -> list[Any]:
    """Database values as the plain Python types the rest of zjmap expects."""
    from decimal import Decimal

    if any(isinstance(v, Decimal) for v in vals):
        return [None if v is None else float(v) for v in vals]
    return vals


def _type_oids(conn: psycopg.Connection) -> dict[int, str]:
    rows = execute(conn, "SELECT oid::int, typname FROM pg_type WHERE typname IN ('geometry', 'geography')").fetchall()
    if not rows:
        raise PgError("PostGIS is not installed in this database (no geometry type): ask its administrator "
                      "to run CREATE EXTENSION postgis.")
    return {int(o): n for o, n in rows}


def open_layer(text: str | PgSource, statement_timeout_s: float | None = None, cancel: CancelFn | None = None) -> PgLayer:
    """Resolve a source (table, view or query): columns, geometry column, SRID, key."""
    src = source_of(text)
    if src.sql is None and not src.table:
        raise PgError(f"{src.where}: name a table (…?table=schema.name) or a query (…?sql=SELECT …) to add as a layer.")
    conn = connect(src, statement_timeout_s=statement_timeout_s)
    try:
        with cancellable(conn, cancel):
            oids = _type_oids(conn)
            if src.sql is not None:
                layer = _resolve_query(conn, src, oids)
            else:
                layer = _resolve_table(conn, src, oids)
    except psycopg.Error as exc:
        conn.close()
        raise _friendly(exc, src) from None
    except BaseException:
        conn.close()
        raise
    layer.statement_timeout_s = statement_timeout_s
    layer._conn = conn
    return layer


def _resolve_table(conn: psycopg.Connection, src: PgSource, oids: dict[int, str]) -> PgLayer:
    rows = execute(
        conn,
        """SELECT n.nspname, c.relname, c.relkind, a.attname, t.typname,
                  format_type(a.atttypid, a.atttypmod), postgis_typmod_srid(a.atttypmod),
                  CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END,
                  coalesce(upper(postgis_typmod_type(a.atttypmod)), 'GEOMETRY')
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           JOIN pg_type t ON t.oid = a.atttypid
           WHERE c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
             AND (n.nspname = %s OR (%s::text IS NULL AND n.nspname = ANY(current_schemas(false))))
           ORDER BY array_position(current_schemas(false), n.nspname::name), a.attnum""",
        [src.table, src.schema, src.schema]).fetchall()
    if not rows:
        raise PgError(f"数据表不存在 The table {src.relation} does not exist in {src.where} "
                      "(or this login may not read it).")
    schema = rows[0][0]
    rows = [r for r in rows if r[0] == schema]
    geoms = [r for r in rows if r[4] in ("geometry", "geography")]
    if not geoms:
        raise PgError(f"{src.relation} at {src.where} has no geometry or geography column: there is nothing to map.")
    if src.geom:
        pick = [r for r in geoms if r[3] == src.geom]
        if not pick:
            raise PgError(f"{src.relation} at {src.where} has no geometry column {src.geom!r} "
                          f"(it has: {', '.join(r[3] for r in geoms)}).")
        g = pick[0]
    else:
        g = geoms[0]
    src = PgSource(src.params, schema, src.table, None, g[3], src.text)
    srid = int(g[6] or 0)
    if srid == 0 and g[4] == "geometry":
        found = execute(conn, sql.SQL("SELECT ST_SRID({}) FROM {} WHERE {} IS NOT NULL LIMIT 1").format(
            sql.Identifier(g[3]), sql.Identifier(schema, src.table), sql.Identifier(g[3]))).fetchone()
        srid = int(found[0]) if found else 0
    if g[4] == "geography":
        srid = srid or 4326
    attrs = [r for r in rows if r[4] not in ("geometry", "geography")]
    pk = execute(
        conn,
        """SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indrelid = %s::regclass AND i.indisprimary AND array_length(i.indkey, 1) = 1""",
        [sql.Identifier(schema, src.table).as_string(conn)]).fetchone()
    key = pk[0] if pk else ("ctid" if rows[0][2] in ("r", "p", "m") else None)
    return PgLayer(src=src, geom=g[3], srid=srid, geography=g[4] == "geography",
                   columns=[r[3] for r in attrs], casts={r[3]: r[4] not in _PLAIN_TYPES for r in attrs},
                   key=key, rows_estimate=rows[0][7], geometry_type=g[8])


def _resolve_query(conn: psycopg.Connection, src: PgSource, oids: dict[int, str]) -> PgLayer:
    q = sql.SQL("SELECT * FROM ({}) AS {} LIMIT 0").format(Verbatim(src.sql), sql.Identifier("zjmap_q"))
    with conn.transaction():
        cur = execute(conn, q)
        desc = cur.description or []
    geoms = [d.name for d in desc if d.type_code in oids]
    if not geoms:
        raise PgError(f"The SQL query for {src.where} returns no geometry column: there is nothing to map.")
    gname = src.geom or geoms[0]
    if gname not in geoms:
        raise PgError(f"The SQL query for {src.where} has no geometry column {gname!r} (it has: {', '.join(geoms)}).")
    geography = oids[[d.type_code for d in desc if d.name == gname][0]] == "geography"
    types = {r[0]: r[1] for r in execute(
        conn,
        "SELECT oid::int, typname FROM pg_type WHERE oid = ANY(%s)", [[int(d.type_code) for d in desc]]).fetchall()}
    attrs = [d for d in desc if d.name not in geoms]
    layer = PgLayer(src=PgSource(src.params, None, None, src.sql, gname, src.text), geom=gname, srid=0,
                    geography=geography, columns=[d.name for d in attrs],
                    casts={d.name: types.get(int(d.type_code)) not in _PLAIN_TYPES for d in attrs},
                    key=None, rows_estimate=None, geometry_type="GEOMETRY")
    g = sql.SQL("{}::geometry").format(sql.Identifier(gname)) if geography else sql.Identifier(gname)
    with conn.transaction():
        found = execute(conn, sql.SQL("SELECT ST_SRID({}) FROM {} WHERE {} IS NOT NULL LIMIT 1").format(
            g, layer.relation(), sql.Identifier(gname))).fetchone()
    layer.srid = int(found[0]) if found else 0
    if geography:
        layer.srid = layer.srid or 4326
    return layer


# ---------------------------------------------------------------------------
# As a planner's layer (the path every file takes too)


def read_layer(text: str, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
               bbox: tuple[float, float, float, float] | None = None, where: str | None = None) -> LoadedLayer:
    """The whole table (or what lies in ``bbox``; what the filter ``where`` keeps) as a :class:`LoadedLayer`."""
    layer = open_layer(text, cancel=cancel)
    try:
        layer.set_filter(where)
        if progress is not None:
            progress(0.01, f"Reading {layer.src.relation} from {layer.src.where}")
        gdf = layer.read(bbox=bbox, progress=progress, cancel=cancel)
    finally:
        layer.close()
    if len(gdf) == 0:
        raise PgError(f"{layer.src.relation} at {layer.src.where} has no features with a shape"
                      + (" in that area." if bbox else "."))
    gdf = gdf.drop(columns="__fid")
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    bad = ~shapely.is_valid(geoms)
    repaired = int(bad.sum())
    if repaired:
        gdf.loc[bad, gdf.geometry.name] = shapely.make_valid(geoms[bad])
    keep = ~shapely.is_empty(np.asarray(gdf.geometry.array, dtype=object))
    skipped = int((~keep).sum())
    gdf = gdf.loc[keep].reset_index(drop=True)
    warnings: list[str] = []
    if repaired:
        warnings.append(f"{repaired:,} invalid shapes were repaired for display (the table was not changed).")
    return LoadedLayer(
        name=layer.src.relation, gdf=gdf, driver="PostgreSQL", source_crs=f"EPSG:{layer.srid}" if layer.srid else "unknown",
        crs_guessed=layer.srid == 0, crs_guess_reason="the column has no SRID; taken as longitude/latitude" if layer.srid == 0 else None,
        encoding="UTF-8", encoding_reason="the database's client encoding", repaired=repaired, skipped=skipped,
        geometry_types=sorted(set(gdf.geom_type.dropna().unique())),
        fields={c: str(gdf[c].dtype) for c in gdf.columns if c != gdf.geometry.name},
        bounds_wgs84=tuple(float(v) for v in gdf.total_bounds), warnings=warnings)  # type: ignore[arg-type]


def inspect_source(text: str, where: str | None = None) -> dict[str, Any]:
    """What ``zjmap inspect`` prints for a database layer (counted on the server, with the filter ``where``)."""
    layer = open_layer(text)
    try:
        layer.set_filter(where)
        n = layer.count()
        b = layer.bounds()
    finally:
        layer.close()
    return {
        "path": layer.src.text,
        "driver": "PostgreSQL",
        "container": None,
        "layer": layer.src.relation,
        "features": n,
        "geometry_types": [layer.geometry_type],
        "geometry_column": layer.geom,
        "crs": f"EPSG:{layer.srid}" if layer.srid else None,
        "bounds_wgs84": list(b) if b else None,
        "fields": {c: ("text" if layer.casts.get(c) else "value") for c in layer.columns},
        "key": layer.key,
        "warnings": [],
    }
