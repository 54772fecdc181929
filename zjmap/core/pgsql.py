"""Running composed SQL whatever the names in it hold.

psycopg finds its placeholders by scanning the whole query text for ``%``,
quoted identifiers included (psycopg2 issue 825, unchanged in psycopg 3), so
a column named ``占比%`` or ``50%`` breaks any query with parameters
("only '%s', '%b', '%t' are allowed as placeholders"), and a query without
parameters must not double it. psycopg has no switch for this; what it does
give is the composed query's parts. :func:`execute` renders them with every
``%`` inside a name (:class:`~psycopg.sql.Identifier`), a literal
(:class:`~psycopg.sql.Literal`) or the planner's own SQL (:class:`Verbatim`)
doubled, keeps the ``%s`` of zjmap's templates, and always passes a
parameter list (empty if none), so psycopg undoubles exactly those.
``{`` and ``}`` in names are safe already: ``SQL.format`` reads only the
template, never the names put into it.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

__all__ = ["Verbatim", "copy", "execute", "render"]


class Verbatim(sql.SQL):
    """SQL text that is not zjmap's template (a ``sql=`` layer's query): its ``%`` are the planner's."""


def render(query: Any, context: Any = None) -> bytes:
    """``query`` as bytes for psycopg with parameters: ``%`` doubled except in zjmap's templates."""
    if isinstance(query, (bytes, str)):
        return query.encode("utf-8") if isinstance(query, str) else query
    if isinstance(query, sql.Composed):
        return b"".join(render(part, context) for part in query)
    raw = query.as_bytes(context)
    if isinstance(query, (sql.Placeholder,)) or (isinstance(query, sql.SQL) and not isinstance(query, Verbatim)):
        return raw
    return raw.replace(b"%", b"%%")


def execute(target: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
    """``target.execute`` (a connection or cursor) of ``query`` rendered by :func:`render`."""
    return target.execute(render(query, _context(target)), [] if params is None else params, **kwargs)


def copy(cursor: Any, statement: Any) -> Any:
    """``cursor.copy`` of ``statement`` as composed: COPY takes no parameters, and
    psycopg scans a statement for ``%`` only when given some, so nothing is doubled."""
    return cursor.copy(statement)


def _context(target: Any) -> Any:
    return getattr(target, "connection", target)
