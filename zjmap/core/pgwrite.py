"""Saving a layer to a PostGIS table (create, replace or append), so the team sees it.

The same rules as :mod:`zjmap.core.postgis`: names composed as identifiers,
values sent as data (``COPY``), errors in the planner's words.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from zjmap.core.pgsource import PgSource
from zjmap.core.pgsql import cancellable, copy, execute
from zjmap.core.postgis import CancelFn, PgError, ProgressFn, _friendly, connect, source_of
from zjmap.core.userfiles import LoadCancelled

__all__ = ["write_layer"]

_DTYPES = [("bool", "boolean"), ("int", "bigint"), ("float", "double precision"),
           ("datetime64", "timestamp"), ("date", "date")]


def _pg_type(dtype: Any) -> str:
    name = str(dtype)
    for prefix, t in _DTYPES:
        if name.lower().startswith(prefix) or name.lower().startswith(prefix.capitalize()):
            return t
    return "text"


def write_layer(gdf: Any, target: str | PgSource, mode: str = "create", progress: ProgressFn | None = None,
                cancel: CancelFn | None = None) -> int:
    """Save a GeoDataFrame as a PostGIS table (``create``, ``replace`` or ``append``).

    The geometry goes in as EPSG:4326 ``geometry`` (column ``geom``) with a
    spatial index; columns keep their types (integers, reals, booleans,
    dates; anything else as text). Rows are sent with ``COPY``. Returns the
    number of rows written.

    All of it is one transaction: Cancel (``cancel``; the statement running
    on the server is stopped too, :func:`zjmap.core.pgsql.cancellable`) or
    a failure leaves the server as it was (a replaced table comes back) and
    raises :class:`~zjmap.core.userfile_types.LoadCancelled` / :class:`PgError`.
    """
    if mode not in ("create", "replace", "append"):
        raise ValueError(f"mode must be create, replace or append, not {mode!r}")
    src = source_of(target)
    if not src.table:
        raise PgError(f"name the table to write: …?table=schema.name ({src.where})")
    gdf = gdf.to_crs(4326) if gdf.crs is not None and not gdf.crs.equals("EPSG:4326") else gdf
    gcol = gdf.geometry.name
    cols = [c for c in gdf.columns if c != gcol]
    table = sql.Identifier(src.schema, src.table) if src.schema else sql.Identifier(src.table)
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    wkb = shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True)
    conn = connect(src, read_only=False)
    n = 0
    try:
        with cancellable(conn, cancel), conn.transaction():
            exists = execute(conn, "SELECT to_regclass(%s) IS NOT NULL", [table.as_string(conn)]).fetchone()[0]
            if exists and mode == "create":
                raise PgError(f"数据表已存在 {src.relation} already exists at {src.where}: choose replace or append.")
            if not exists and mode == "append":
                raise PgError(f"数据表不存在 {src.relation} does not exist at {src.where}: nothing to append to.")
            if mode == "append":
                have = {r[0] for r in execute(
                    conn,
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    [table.as_string(conn)]).fetchall()}
                missing = [c for c in [*map(str, cols), "geom"] if c not in have]
                if missing:
                    raise PgError(f"{src.relation} at {src.where} has no column {missing[0]!r}: "
                                  "appending needs the same columns.")
            if mode == "replace" and exists:
                execute(conn, sql.SQL("DROP TABLE {}").format(table))
            if mode != "append":
                defs = [sql.SQL("{} bigserial PRIMARY KEY").format(sql.Identifier("zjmap_id"))] if "zjmap_id" not in cols else []
                defs += [sql.SQL("{} {}").format(sql.Identifier(str(c)), sql.SQL(_pg_type(gdf[c].dtype))) for c in cols]
                defs.append(sql.SQL("{} geometry(Geometry, 4326)").format(sql.Identifier("geom")))
                execute(conn, sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(defs)))
            names = sql.SQL(", ").join([sql.Identifier(str(c)) for c in cols] + [sql.Identifier("geom")])
            values = [_plain_column(gdf[c]) for c in cols]
            with copy(conn.cursor(), sql.SQL("COPY {} ({}) FROM STDIN").format(table, names)) as cp:
                for i in range(len(gdf)):
                    cp.write_row([v[i] for v in values] + [None if wkb[i] is None else wkb[i]])
                    n += 1
                    if n % 20_000 == 0:
                        if progress is not None:
                            progress(n / max(len(gdf), 1), f"Wrote {n:,} of {len(gdf):,} rows")
                        if cancel is not None and cancel():
                            raise LoadCancelled()
            if mode != "append":
                idx = sql.Identifier(f"{src.table}_geom_idx"[:63])
                execute(conn, sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(idx, table))
        execute(conn, sql.SQL("ANALYZE {}").format(table))
    except psycopg.Error as exc:
        raise _friendly(exc, src, conn if (conn.closed or conn.broken) else None) from None
    finally:
        conn.close()
    return n


def _plain_column(s: pd.Series) -> list[Any]:
    out = s.astype(object).where(s.notna(), None).tolist()
    return [v.item() if hasattr(v, "item") else v for v in out]
