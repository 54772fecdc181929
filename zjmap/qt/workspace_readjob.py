"""Reading the user layers of a workspace off the UI thread (Qt-free core
calls on a worker, behind a window-modal progress dialog with Cancel), for
:mod:`zjmap.qt.workspace_actions`.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QProgressDialog

from zjmap.core import workspace as wsc
from zjmap.core.workspace import LayerEntry, LayerProblem, Workspace
from zjmap.qt.worker import TaskState, close_progress, progress_dialog, start_worker

log = logging.getLogger(__name__)



class ReadJob(QObject):
    """Reads the user layers of a workspace on a worker thread; ``finished``
    is emitted on the UI thread with ``status`` "done" / "failed" / "cancelled".

    A database layer whose server wants a password: ``password(key, message)``
    asks the planner once per server and keeps what was typed for the session,
    never in the workspace (:func:`zjmap.qt.prompts.unlock`); True, and those
    layers are read again; cancelled or wrong, they stay problems that say so.
    ``parent`` owns the progress dialog, nothing else."""

    finished = Signal(str)

    def __init__(self, parent, ws: Workspace, entries: list[LayerEntry] | None = None,
                 path_override: str | None = None, label: str = "",
                 password: Callable[[str, str], bool] | None = None):
        super().__init__(parent)
        self.ws = ws
        self.entries = entries
        self.path_override = path_override
        self.password = password
        self.retried: list[LayerEntry] | None = None
        self.status = "running"
        self.layers: dict[str, Any] = {}
        self.kept: dict[str, tuple[str, dict]] = {}  # layers read from their file: (cache key, meta)
        self.problems: list[LayerProblem] = []
        self.message = ""
        self.progress: QProgressDialog | None = None
        n = len(entries if entries is not None else ws.user_layers())
        if n:
            self.progress = progress_dialog(parent, "工作空间 Workspace", label or "正在打开工作空间 Opening workspace…",
                                            maximum=max(1, n), on_cancel=self.cancel)
        self._start()

    def _start(self) -> None:
        from zjmap.core.userfiles import LoadCancelled

        self.worker = start_worker(self._work, name="zjmap-workspace-read", cancel_exceptions=(LoadCancelled,),
                                   connect={"yielded": self._on_progress, "result": self._on_done,
                                            "errored": self._on_failed, "cancelled": self._on_cancelled})

    @property
    def thread(self):
        return self.worker.thread

    @property
    def done(self) -> bool:
        return self.status != "running"

    def cancel(self) -> None:
        self.worker.cancel()

    def _work(self, state: TaskState) -> tuple[dict, list]:
        if self.entries is not None:
            sub = Workspace(layers=list(self.entries))
        else:
            sub = self.ws
        if self.path_override is not None:
            read = _read_from(self.path_override)
            # a located file: read it even though the old path is gone
            sub = Workspace(layers=[_with_path(e, self.path_override) for e in sub.layers])
        else:
            read = wsc.read_user_layer

        def kept(layer: Any, key: str, meta: dict) -> None:
            self.kept[layer.id] = (key, meta)

        return wsc.read_user_layers(
            sub, read=functools.partial(read, keep=kept), cancel=state.is_cancelled,
            progress=lambda i, n, e: state.send((i, n, (e.title or e.id) if e is not None else "")),
        )

    def _on_progress(self, step: tuple[int, int, str]) -> None:
        i, n, title = step
        dlg = self.progress
        if dlg is None or self.done:
            return
        # setValue runs queued events on a modal dialog: the read may finish
        # (and close the dialog) inside it, so it goes last, on a local name.
        dlg.setMaximum(max(1, n))
        if title:
            dlg.setLabelText(f"正在读取 Reading {title} ({min(i + 1, n)}/{n})…")
        dlg.setValue(i)

    def _finish(self, status: str) -> None:
        self.status = status
        close_progress(self.progress)
        self.progress = None
        self.finished.emit(status)

    def _on_done(self, result: tuple[dict, list]) -> None:
        layers, problems = result
        self.layers.update(layers)
        if self.retried is not None:  # the second read's problems replace those of the layers read again
            again = {e.id for e in self.retried}
            self.problems = [p for p in self.problems if p.entry.id not in again] + problems
            self._finish("done")
            return
        self.problems = problems
        self.retried = self._unlocked(problems)
        if not self.retried:
            self._finish("done")
            return
        self.entries = self.retried
        self._start()

    def _unlocked(self, problems: list[LayerProblem]) -> list[LayerEntry]:
        """The layers whose server the planner gave a password for (one question per server)."""
        if self.password is None:
            return []
        keys = dict.fromkeys(p.password_key for p in problems if p.password_key)
        entries: list[LayerEntry] = []
        for key in keys:
            assert key is not None
            if self.password(key, next(p.reason for p in problems if p.password_key == key)):
                entries += [p.entry for p in problems if p.password_key == key]
        return entries

    def _on_failed(self, exc: BaseException) -> None:  # a bug: plain words, details in the log
        log.error("reading workspace layers failed", exc_info=exc)
        self.message = f"{type(exc).__name__}: {exc}"
        self._finish("failed")

    def _on_cancelled(self) -> None:
        self._finish("cancelled")


def _with_path(entry: LayerEntry, path: str) -> LayerEntry:
    from dataclasses import replace

    assert entry.source is not None
    return replace(entry, source=replace(entry.source, path=path))


def _read_from(path: str):
    def read(entry: LayerEntry, cancel=None, keep=None):
        return wsc.read_user_layer(entry, path=path, cancel=cancel, keep=keep)

    return read
