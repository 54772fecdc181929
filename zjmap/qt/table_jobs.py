"""Reading and matching a statistics table off the GUI thread.

A yearbook workbook of a few thousand rows takes a second or more to read and
match at three levels (more on a busy machine), so File → Add table… and the
preview's re-reads and re-matches run through the one worker helper
(:func:`zjmap.qt.worker.start_worker`) with its progress dialog and Cancel. The
functions run on the worker thread are plain calls of the Qt-free core
(:func:`zjmap.core.tablejoin.read_and_match`, :func:`read_table`,
:func:`match_table`), so what the dialog shows is what those give when called
directly. A cancelled or failed job changes nothing: no dialog opens, no layer
is added, the preview keeps its last good state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zjmap.qt.worker import TaskState


@dataclass(frozen=True)
class MatchArgs:
    """What the preview's controls ask the matcher for (copied off the widgets on the GUI thread)."""

    level: str | None
    parent: str | None  # None: guessed, "": none
    fixes: dict[int, str | None] = field(default_factory=dict)
    values: list | None = None  # a planner's layer as the target: its field's values
    field: str = ""


def reporter(state: TaskState):
    """The core's ``progress`` callback: stops at a cancel, else reports."""
    def report(fraction: float, message: str) -> None:
        state.check()
        state.set_progress(fraction, message)
    return report


def match_job(state: TaskState, table, key: str, args: MatchArgs):
    """The preview's matcher on the worker thread."""
    from zjmap.core import tablejoin as J
    from zjmap.core.layerjoin import match_to_values

    report = reporter(state)
    if args.values is not None:
        report(0.0, f"匹配 matching to the layer's {args.field}")
        return match_to_values(table, key, args.values, args.fixes, args.field)
    return J.match_table(table, args.level, key, args.parent, args.fixes, progress=report)


def read_job(state: TaskState, path: str, sheet: Any, header_row: int | None, args: MatchArgs):
    """A sheet (re-)read with the guessed key, then matched as the controls say."""
    from zjmap.core import tablejoin as J
    from zjmap.core.tables import read_table

    report = reporter(state)
    report(0.0, f"读取 reading {Path(path).name}")
    table = read_table(path, sheet, header_row)
    key = J.guess_key(table)
    return table, match_job(state, table, key, args)


def open_job(state: TaskState, path: str):
    """File → Add table…: the table and its first match, as the core gives them."""
    from zjmap.core.tablejoin import read_and_match

    return read_and_match(path, progress=reporter(state))


@dataclass
class TableOpen:
    """One File → Add table… (or drop) on its way to the preview."""

    path: str
    modal: bool = True
    worker: Any = None  # the Worker reading and matching
    progress: Any = None  # its progress dialog
    dialog: Any = None  # the TableJoinDialog once read and matched
    status: str = "running"  # → "opened" | "failed" | "cancelled"
    message: str = ""  # what the planner was told when it failed
    progress_seen: list[tuple[float, str]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status != "running"


def failure_text(exc: BaseException) -> tuple[str, str]:
    """(title, message) for a table that could not be read or matched: plain words, no traceback."""
    from zjmap.core.tables import NO_ROWS_EN, NO_ROWS_ZH, TableError

    if isinstance(exc, TableError) and exc.kind == "no_rows":
        return f"{NO_ROWS_ZH} {NO_ROWS_EN[0].upper()}{NO_ROWS_EN[1:]}", str(exc)
    if isinstance(exc, (TableError, KeyError, ValueError)) and exc.args:
        return "无法打开表格 Cannot open table", str(exc.args[0])
    return "无法打开表格 Cannot open table", f"{type(exc).__name__}: {exc}"
