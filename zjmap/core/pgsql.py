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

Cancelling is here too (:func:`cancellable`), the one place a long server
statement is stopped when the planner presses Cancel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import sql

__all__ = ["Verbatim", "cancellable", "copy", "execute", "render"]

#: Seconds between repeated cancel requests while the cancelled block still runs
#: (a statement that started just after one request is stopped by the next).
CANCEL_REPEAT_S = 0.2
#: Seconds libpq may take to deliver one cancel request (a server that went away).
CANCEL_TIMEOUT_S = 2.0
#: At most this many requests (the block may be busy in Python, not in a statement).
CANCEL_REPEATS = 50


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


@contextmanager
def cancellable(conn: Any, cancel: Callable[[], bool] | None) -> Iterator[None]:
    """While the block runs on ``conn``, Cancel stops the statement the server is running.

    psycopg's real cancellation (``Connection.cancel_safe``: libpq's cancel
    request on a connection of its own) makes the server end the statement
    with ``QueryCanceled``, which :func:`zjmap.core.postgis._friendly` turns
    into :class:`~zjmap.core.userfile_types.LoadCancelled` (the worker's
    "cancelled" end); the connection stays usable.

    ``cancel`` is the task's "was I cancelled?" callable. When it also has
    ``on_cancel(fn) -> remove`` (:class:`zjmap.qt.worker.TaskState`), the
    request starts the moment Cancel is pressed, from the GUI thread; any
    other callable is polled every 50 ms. Either way the request itself is
    sent on a short-lived thread (libpq blocks while it reaches the server,
    and a server that went away must not freeze the window) and repeated
    until the block ends, so a statement begun just after one request is
    stopped too.
    """
    if cancel is None:
        yield
        return
    ended = threading.Event()
    asked = threading.Lock()
    sending = threading.Lock()  # held while a request is on its way: the block ends after it
    sent: list[bool] = []

    def stop() -> None:
        with asked:
            if sent or ended.is_set():
                return
            sent.append(True)
        threading.Thread(target=_cancel_until_done, args=(conn, ended, sending), name="zjmap-pg-cancel",
                         daemon=True).start()

    hook = getattr(cancel, "on_cancel", None)
    remove = hook(stop) if callable(hook) else _poll(cancel, stop, ended)
    try:
        yield
    finally:
        with sending:  # no request reaches the server after the block: the connection's next statement is safe
            ended.set()
        remove()


def _cancel_until_done(conn: Any, ended: threading.Event, sending: threading.Lock) -> None:
    for _ in range(CANCEL_REPEATS):
        with sending:
            if ended.is_set():
                return
            try:
                conn.cancel_safe(timeout=CANCEL_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - closed or unreachable: the statement ends with the connection
                return
        if ended.wait(CANCEL_REPEAT_S):
            return


def _poll(cancel: Callable[[], bool], stop: Callable[[], None], ended: threading.Event) -> Callable[[], None]:
    """Watch a plain ``cancel`` callable (one without ``on_cancel``) from a thread."""

    def watch() -> None:
        while not ended.wait(0.05):
            if cancel():
                stop()
                return

    threading.Thread(target=watch, name="zjmap-pg-cancel-watch", daemon=True).start()
    return lambda: None
