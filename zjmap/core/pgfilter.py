"""A layer filter (:mod:`zjmap.core.expr`) pushed down into a PostGIS layer's queries.

Every query a :class:`~zjmap.core.postgis.PgLayer` sends (the view's bbox
query and its sample, identify, count, estimate, whole reads for export)
adds the filter's ``WHERE``: column names composed with
``psycopg.sql.Identifier``, every value a bound parameter. The typed text is
parsed, never pasted into SQL, so ``name = 'x''); drop table t;--'`` is a
comparison with one odd string.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

__all__ = ["filter_where", "set_filter"]


def filter_where(text: str, columns: list[str]) -> tuple[sql.Composable, list[Any]]:
    """``(WHERE, params)`` for ``text``; raises ExprError (with the position) for
    bad syntax or a name that is not one of ``columns``."""
    from zjmap.core.expr import parse

    expr = parse(text)
    expr.check_fields(columns)
    names: list[str] = []

    def slot(name: str) -> str:  # a place for an Identifier: the rest is keywords, operators and %s
        names.append(name)
        return "{}"

    where, params = expr.to_sql(slot)
    return sql.SQL(where).format(*(sql.Identifier(n) for n in names)), list(params)


def set_filter(layer: Any, text: str | None) -> None:
    """Give ``layer`` (a PgLayer) the filter ``text`` (None or blank: none).

    Checked first against the table's names, then by the server's own typing
    (the query with ``LIMIT 0``: a text column compared with a number is said
    now, not on every pan). A filter that does not fit raises
    :class:`~zjmap.core.postgis.PgFilterError` and the layer keeps the one it had.
    """
    from zjmap.core.expr import ExprError
    from zjmap.core.postgis import PgError, PgFilterError, PgUnavailable

    text = (text or "").strip() or None
    if text is None:
        layer.filter_text, layer._filter = None, None
        return
    what = f"筛选无效 The filter does not fit {layer.src.relation}"
    try:
        where, params = filter_where(text, list(layer.columns))
    except ExprError as exc:
        raise PgFilterError(f"{what}: {exc}") from None
    try:
        layer._run(sql.SQL("SELECT 1 FROM {} WHERE {} LIMIT 0").format(layer.relation(), where), params)
    except PgUnavailable:
        raise
    except PgError as exc:
        raise PgFilterError(f"{what}: {exc}") from None
    layer.filter_text, layer._filter = text, (where, params)
