"""The one way zjmap runs work off the GUI thread.

Modelled on napari's ``create_worker`` (a QObject whose signals carry the
worker's progress, result and error back to the GUI thread) and on Orange3's
``TaskState`` (the function gets a small handle it reports progress to and
asks whether it was cancelled). Everything slow — reading a file, reading a
workspace's layers, drawing an export, a big layer's zoom bands, warming an
import — goes through :func:`start_worker`; nothing else in ``zjmap/qt``
starts a thread, a pool or a polling timer.

Why hand-written: ``QThreadPool`` + ``QRunnable`` gives no signals and no
cancel, napari's helper brings napari, and superqt's (the same code) is one
more dependency for ~100 lines. A plain daemon :class:`threading.Thread` per
job is what the four earlier copies used: it never blocks interpreter exit.

Signals are emitted from the worker thread and, by Qt's automatic
connection, delivered queued on the thread the receivers live in (the GUI
thread). Exactly one of ``result``, ``errored`` and ``cancelled`` is emitted,
then ``finished``.

A worker's QObject lives in the GUI thread and must be freed there, and
never while its thread may still emit: Qt leaves a QObject deleted during
another thread's emit undefined, and one freed by a worker thread (the last
reference dropped, or the cyclic collector run, there) can be mid-delivery
on the GUI thread. So a worker is never a Qt child (a ``parent`` only asks it
to stop and fall silent when the parent goes), keeps itself referenced until
its thread has returned, and is then let go on the GUI thread
(:func:`_let_go`); the cyclic collector runs on the GUI thread only
(:mod:`zjmap.qt.collector`).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from typing import Any, Callable

from PySide6.QtCore import QMetaObject, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

from zjmap.qt import collector

log = logging.getLogger(__name__)

#: Workers alive now: a worker keeps itself referenced until its thread has
#: returned, so callers may drop theirs (fire-and-forget warm-ups, zoom bands).
_RUNNING: set["Worker"] = set()


class Cancelled(Exception):
    """Raised inside a task by :meth:`TaskState.check` once cancel was asked."""


class TaskState:
    """What the task function sees (Orange3's ``TaskState``): report progress,
    ask whether to stop, or send an intermediate value to the GUI thread.

    Called, it answers :meth:`is_cancelled`, so it can be passed wherever the
    core takes a ``cancel`` callable; with :meth:`on_cancel` the core can
    also act the moment Cancel is pressed (a database stops its statement:
    :func:`zjmap.core.pgsql.cancellable`) instead of at its next check."""

    def __init__(self, worker: "Worker"):
        self._worker = worker
        self._cancel = worker._cancel

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    __call__ = is_cancelled

    def on_cancel(self, fn: Callable[[], Any]) -> Callable[[], None]:
        """Run ``fn`` when cancel is asked (on the asking thread, the GUI's;
        at once if it was asked already). Returns the call that takes it back."""
        return self._worker._on_cancel(fn)

    def check(self) -> None:
        """Raise :class:`Cancelled` when cancel was asked."""
        if self._cancel.is_set():
            raise Cancelled()

    def set_progress(self, fraction: float, message: str = "") -> None:
        self._worker._emit("progress", float(fraction), str(message))

    def send(self, value: Any) -> None:
        """An intermediate value (napari's ``yielded``)."""
        self._worker._emit("yielded", value)


class Worker(QObject):
    """One function run on its own thread. Build it with :func:`start_worker`."""

    started = Signal()
    progress = Signal(float, str)  # fraction 0..1, message
    yielded = Signal(object)
    result = Signal(object)
    errored = Signal(object)  # the exception (its traceback is logged)
    cancelled = Signal()
    finished = Signal(str)  # "done" | "failed" | "cancelled"

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "zjmap-worker",
                 cancel_exceptions: tuple[type[BaseException], ...] = (), pass_state: bool = True,
                 keep_late_result: bool = False, parent: QObject | None = None, **kwargs: Any):
        super().__init__()  # not a Qt child: a parent's deletion must not free it under its thread
        self.keep_late_result = keep_late_result
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.name = name
        self.cancel_exceptions = (Cancelled, *cancel_exceptions)
        self.pass_state = pass_state
        self.status = "queued"  # → "running" → "done" | "failed" | "cancelled"
        self.value: Any = None
        self.error: BaseException | None = None
        self._cancel = threading.Event()
        self._hooks: list[Callable[[], Any]] = []
        self._hooks_lock = threading.Lock()
        self.thread: threading.Thread | None = None
        #: set once the parent is gone (its window closed, its layer removed)
        #: or the Qt object was deleted: the task is asked to stop and nothing more is emitted
        self._gone = threading.Event()
        event, hooks, lock, gone = self._cancel, self._hooks, self._hooks_lock, self._gone
        # not bound methods: they must not keep the worker alive, and its wrapper's C++ side may be gone
        self.destroyed.connect(lambda *_: Worker._ask_cancel(event, hooks, lock))
        self._parent_link: QMetaObject.Connection | None = None
        if parent is not None:
            me = weakref.ref(self)

            def parent_gone(*_: Any) -> None:
                gone.set()
                Worker._ask_cancel(event, hooks, lock)
                worker = me()
                if worker is not None and worker.status == "running":
                    _let_go(worker)  # its finished will not be delivered

            self._parent_link = parent.destroyed.connect(parent_gone)

    @property
    def done(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def start(self) -> "Worker":
        if self.status != "queued":
            return self
        self.status = "running"
        collector.install()
        _RUNNING.add(self)
        self.finished.connect(self._forget)
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()
        self._emit("started")
        return self

    def cancel(self) -> None:
        """Ask the task to stop; it does at its next check. A task that returns
        after the ask counts as cancelled (its result is dropped) unless
        ``keep_late_result`` (an export whose file is already written).
        Hooks from :meth:`TaskState.on_cancel` run now, on this thread."""
        self._ask_cancel(self._cancel, self._hooks, self._hooks_lock)

    @staticmethod
    def _ask_cancel(event: threading.Event, hooks: list[Callable[[], Any]], lock: Any) -> None:
        with lock:
            event.set()
            now = list(hooks)
        for fn in now:
            Worker._run_hook(fn)

    def _on_cancel(self, fn: Callable[[], Any]) -> Callable[[], None]:
        with self._hooks_lock:
            now = self._cancel.is_set()
            if not now:
                self._hooks.append(fn)
        if now:
            self._run_hook(fn)

        def remove() -> None:
            with self._hooks_lock:
                if fn in self._hooks:
                    self._hooks.remove(fn)

        return remove

    @staticmethod
    def _run_hook(fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - a hook must not stop Cancel
            log.debug("cancel hook failed", exc_info=True)

    def _forget(self, *_: Any) -> None:
        _let_go(self)

    # -- worker thread --------------------------------------------------------
    def _run(self) -> None:
        try:
            args = (TaskState(self), *self.args) if self.pass_state else self.args
            value = self.fn(*args, **self.kwargs)
        except self.cancel_exceptions:
            self._end("cancelled")
            return
        except BaseException as exc:  # noqa: BLE001 - reported on the GUI thread
            if self._cancel.is_set():
                self._end("cancelled")
                return
            log.debug("worker %s failed", self.name, exc_info=True)
            self.error = exc
            self.status = "failed"
            self._emit("errored", exc)
            self._emit("finished", "failed")
            return
        if self._cancel.is_set() and not self.keep_late_result:
            self._end("cancelled")
            return
        self.value = value
        self.status = "done"
        self._emit("result", value)
        self._emit("finished", "done")

    def _end(self, status: str) -> None:
        self.status = status
        self._emit("cancelled")
        self._emit("finished", status)

    def _emit(self, signal: str, *args: Any) -> None:
        """Emit unless the Qt object is gone: a worker whose parent was deleted
        (its window closed, its layer removed) or whose app is shutting down
        while its thread still runs ends quietly instead of raising
        'Signal source has been deleted' on its thread."""
        if self._gone.is_set():
            return
        try:
            getattr(self, signal).emit(*args)
        except RuntimeError:  # the C++ object was deleted (shiboken.delete, the app's end)
            self._gone.set()
            self.cancel()
            _RUNNING.discard(self)  # its finished will never be delivered to _forget


def _let_go(worker: Worker) -> None:
    """On the GUI thread: once the worker's thread has returned, stop
    keeping it and delete its QObject, which frees the slots connected to it
    (a lambda holding the worker would otherwise keep it for good). Until
    then, look again in a moment: its thread is only returning."""
    thread = worker.thread
    if thread is not None and thread.is_alive():
        QTimer.singleShot(2, lambda: _let_go(worker))
        return
    with worker._hooks_lock:
        worker._hooks.clear()  # its deletion asks for cancel: nothing is left to stop
    if worker._parent_link is not None:
        QObject.disconnect(worker._parent_link)
        worker._parent_link = None
    if worker in _RUNNING:
        _RUNNING.discard(worker)
        try:
            worker.deleteLater()
        except RuntimeError:  # already deleted
            pass


#: how long the interpreter's exit waits for running tasks it asked to stop
EXIT_WAIT_S = 5.0


@atexit.register
def _stop_at_exit() -> None:
    """At interpreter exit: ask running tasks to stop and wait for their
    threads. A daemon thread still inside C code while the interpreter
    finalizes (matplotlib's font loading in the warm-up, a read) crashed the
    process at quit in a few of a dozen quick open-and-close runs."""
    running = [w for w in list(_RUNNING) if w.thread is not None]
    for worker in running:
        worker.cancel()
    deadline = time.monotonic() + EXIT_WAIT_S
    for worker in running:
        worker.thread.join(max(0.0, deadline - time.monotonic()))


def start_worker(fn: Callable[..., Any], *args: Any, name: str = "zjmap-worker",
                 cancel_exceptions: tuple[type[BaseException], ...] = (), pass_state: bool = True,
                 keep_late_result: bool = False, parent: QObject | None = None,
                 connect: dict[str, Callable[..., Any]] | None = None, **kwargs: Any) -> Worker:
    """Run ``fn(state, *args, **kwargs)`` on a new thread (``fn(*args)`` with
    ``pass_state=False``) and return the started :class:`Worker`. ``connect``
    maps signal names to slots, connected before the thread starts so no
    signal is missed. Exceptions in ``cancel_exceptions`` mean "cancelled"."""
    worker = Worker(fn, *args, name=name, cancel_exceptions=cancel_exceptions, pass_state=pass_state,
                    keep_late_result=keep_late_result, parent=parent, **kwargs)
    for signal, slot in (connect or {}).items():
        getattr(worker, signal).connect(slot)
    return worker.start()


def progress_dialog(parent: QWidget, title: str, label: str, *, maximum: int = 1000, min_duration_ms: int = 400,
                    on_cancel: Callable[[], Any] | None = None, min_width: int = 420) -> QProgressDialog:
    """The one progress dialog: window-modal, Cancel, shown only when the work
    lasts (quick jobs do not flash a dialog), never closing or resetting
    itself (the job closes it with :func:`close_progress`)."""
    dlg = QProgressDialog(label, "取消 Cancel", 0, maximum, parent)
    dlg.setWindowTitle(title)
    dlg.setWindowModality(Qt.WindowModality.WindowModal)
    dlg.setMinimumDuration(min_duration_ms)
    dlg.setAutoClose(False)
    dlg.setAutoReset(False)
    if min_width:
        dlg.setMinimumWidth(min_width)
    if on_cancel is not None:
        dlg.canceled.connect(on_cancel)
    dlg.setValue(0)
    return dlg


def close_progress(dlg: QProgressDialog | None) -> None:
    """Close a dialog from :func:`progress_dialog` without firing its Cancel."""
    if dlg is None:
        return
    try:
        dlg.canceled.disconnect()
    except (RuntimeError, TypeError):  # nothing connected
        pass
    dlg.close()
    dlg.deleteLater()


def warm_import(module: str, name: str) -> Worker:
    """Import ``module`` in the background (a slow import done before it is needed)."""
    import importlib

    return start_worker(importlib.import_module, module, name=name, pass_state=False)
