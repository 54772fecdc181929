"""The one worker helper: signals arrive on the GUI thread, cancel and errors are told apart."""

from __future__ import annotations

import threading
import time

from zjmap.qt import worker as worker_module
from zjmap.qt.worker import Worker, start_worker


def _wait(qtbot, worker: Worker, ms: int = 5000) -> None:
    qtbot.waitUntil(lambda: worker.done and worker not in worker_module._RUNNING, timeout=ms)


def test_result_and_progress_reach_the_gui_thread(qapp, qtbot):
    seen: list[tuple[str, object, str]] = []

    def work(state, n):
        for i in range(n):
            state.set_progress((i + 1) / n, f"step {i + 1}")
        return threading.current_thread().name

    w = start_worker(work, 3, name="zjmap-test-work", connect={
        "progress": lambda f, m: seen.append(("progress", f, threading.current_thread().name)),
        "result": lambda v: seen.append(("result", v, threading.current_thread().name)),
    })
    _wait(qtbot, w)
    main = threading.main_thread().name
    assert [s[1] for s in seen if s[0] == "progress"] == [1 / 3, 2 / 3, 1.0]
    assert ("result", "zjmap-test-work", main) in seen  # ran on its thread, reported on ours
    assert all(s[2] == main for s in seen)
    assert w.status == "done" and w.value == "zjmap-test-work"


def test_cancel_drops_the_result_and_says_cancelled(qapp, qtbot):
    go = threading.Event()
    got: list[str] = []

    def work(state):
        go.wait(5)
        time.sleep(0.01)
        return 42

    w = start_worker(work, connect={"result": lambda v: got.append("result"),
                                    "cancelled": lambda: got.append("cancelled"),
                                    "finished": lambda s: got.append("finished:" + s)})
    w.cancel()
    go.set()
    _wait(qtbot, w)
    assert got == ["cancelled", "finished:cancelled"]
    assert w.value is None and w.status == "cancelled"


def test_an_error_is_delivered_not_raised(qapp, qtbot):
    errors: list[BaseException] = []

    def work(state):
        raise ValueError("bad file")

    w = start_worker(work, connect={"errored": errors.append})
    _wait(qtbot, w)
    assert w.status == "failed" and isinstance(errors[0], ValueError) and str(errors[0]) == "bad file"


def test_a_named_cancel_exception_counts_as_cancelled(qapp, qtbot):
    class Stop(Exception):
        pass

    def work(state):
        raise Stop()

    w = start_worker(work, cancel_exceptions=(Stop,))
    _wait(qtbot, w)
    assert w.status == "cancelled" and w.error is None


def test_cancel_hooks_run_at_once_on_the_cancelling_thread(qapp, qtbot):
    """TaskState.on_cancel: what the core registers runs when Cancel is pressed, not at its next check."""
    go, registered = threading.Event(), threading.Event()
    ran: list[tuple[str, str]] = []

    def work(state):
        state.on_cancel(lambda: ran.append(("first", threading.current_thread().name)))
        take_back = state.on_cancel(lambda: ran.append(("taken back", "")))
        take_back()
        registered.set()
        go.wait(5)
        state.on_cancel(lambda: ran.append(("late", threading.current_thread().name)))  # cancel was asked already
        return state()  # the state answers "cancelled?" when called

    w = start_worker(work, name="zjmap-test-hooks")
    assert registered.wait(5)
    w.cancel()
    assert ran == [("first", threading.main_thread().name)]  # before the task looked again
    go.set()
    _wait(qtbot, w)
    assert ran == [("first", threading.main_thread().name), ("late", "zjmap-test-hooks")]
    assert w.status == "cancelled"


def test_nothing_else_in_the_qt_layer_starts_threads_or_progress_dialogs():
    """One worker helper and one progress dialog: a second way creeping back in fails here."""
    from pathlib import Path

    qt = Path(__file__).resolve().parents[1] / "zjmap" / "qt"
    banned = ("threading.Thread(", "ThreadPoolExecutor", "QThreadPool", "QThread(", "QProgressDialog(")
    found = [(p.name, b) for p in qt.glob("*.py") if p.name != "worker.py"
             for b in banned if b in p.read_text(encoding="utf-8")]
    assert found == []


def test_a_worker_whose_parent_is_deleted_while_it_runs_ends_quietly(qapp, qtbot, monkeypatch):
    """A window closed (or a layer removed) while its worker's thread still runs:
    the worker's QObject goes with its parent, and the thread must end without
    'RuntimeError: Signal source has been deleted' on stderr; the task is asked to stop."""
    import shiboken6
    from PySide6.QtCore import QObject

    thread_errors: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: thread_errors.append(args.exc_value))
    parent = QObject()
    blocked, release, after = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, object] = {}
    got: list[str] = []

    hooked = threading.Event()

    def work(state):
        state.on_cancel(hooked.set)  # a database statement would be stopped here
        blocked.set()
        release.wait(5)
        seen["cancelled"] = state.is_cancelled()
        state.set_progress(0.5, "half")  # a progress report after the object is gone
        after.set()
        return 42

    w = start_worker(work, name="zjmap-test-orphan", parent=parent,
                     connect={"result": lambda v: got.append("result"), "finished": got.append})
    assert blocked.wait(5)
    shiboken6.delete(parent)
    assert shiboken6.isValid(w)  # not freed under its running thread
    assert hooked.is_set()  # the moment the parent went, not at the task's next check
    release.set()
    w.thread.join(5)
    assert not w.thread.is_alive() and after.is_set()
    qtbot.waitUntil(lambda: not shiboken6.isValid(w), timeout=2000)  # freed once its thread returned
    assert thread_errors == []
    assert seen["cancelled"] is True  # the task was told to stop when its parent went
    assert got == [] and w not in worker_module._RUNNING


def test_a_worker_is_freed_on_the_gui_thread_once_its_thread_returned(qapp, qtbot, monkeypatch):
    """Its finished is delivered while its thread is still returning: the
    worker is kept (alive, referenced) until the thread has ended, then its
    QObject is deleted on the GUI thread, not on the worker's thread and not
    left to the cyclic collector (which may run on any thread)."""
    import gc

    import shiboken6
    from PySide6.QtCore import Qt

    returned = threading.Event()
    plain_run = Worker._run

    def slow_return(self):
        plain_run(self)
        returned.wait(5)  # the thread lingers after finished was emitted

    monkeypatch.setattr(Worker, "_run", slow_return)
    freed_on: list[str] = []
    at_finish: list[tuple[bool, bool]] = []
    was_enabled = gc.isenabled()
    gc.disable()  # only reference counting may free it here
    try:
        w = Worker(lambda state: 7, name="zjmap-test-free")
        w.destroyed.connect(lambda *_: freed_on.append(threading.current_thread().name),
                            Qt.ConnectionType.DirectConnection)
        # a slot holding its worker, as callers' slots do: freed with the QObject's connections
        w.finished.connect(lambda _s, w=w: at_finish.append((shiboken6.isValid(w), w in worker_module._RUNNING)))
        thread = w.start().thread
        del w
        qtbot.waitUntil(lambda: bool(at_finish), timeout=5000)
        qtbot.wait(30)
        assert at_finish == [(True, True)] and freed_on == []  # its thread has not returned yet
        returned.set()
        thread.join(5)
        qtbot.waitUntil(lambda: bool(freed_on), timeout=2000)
        assert freed_on == [threading.main_thread().name]
    finally:
        returned.set()
        if was_enabled:
            gc.enable()


def test_cyclic_garbage_is_collected_on_the_gui_thread_only(qapp, qtbot):
    """A worker making heaps of cyclic garbage (a big layer's bands) never
    runs the collector on its own thread; the GUI thread's timer collects it."""
    import gc
    import weakref

    from zjmap.core.memory import release_free_memory
    from zjmap.qt import collector

    assert collector.install() and not gc.isenabled()

    class Node:
        pass

    collecting_on: list[str] = []

    def note(phase, info):
        if phase == "start":
            collecting_on.append(threading.current_thread().name)

    probes: list[weakref.ref] = []

    def make_cycles(state):
        for i in range(300_000):  # some 400 times gen 0's threshold
            a, b = Node(), Node()
            a.other, b.other = b, a
            if i % 50_000 == 0:
                probes.append(weakref.ref(a))
        release_free_memory()  # on a worker: no collection
        return len(probes)

    gc.callbacks.append(note)
    try:
        w = start_worker(make_cycles, name="zjmap-test-cycles")
        _wait(qtbot, w, 30_000)
        assert w.value == 6
        qtbot.waitUntil(lambda: all(p() is None for p in probes), timeout=5000)  # collected all the same
    finally:
        gc.callbacks.remove(note)
    assert collecting_on and set(collecting_on) == {threading.main_thread().name}


EXIT_CHILD = r"""
import sys, time
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from zjmap.qt.worker import start_worker
app = QCoreApplication([])
out = Path(sys.argv[1])
def work(state):
    out.write_text("running")
    try:
        while not state.is_cancelled():
            time.sleep(0.01)
        time.sleep(0.2)  # winding down, as a read closing its file does
    finally:
        out.write_text("ended")
w = start_worker(work, name="zjmap-test-exit")
while not (out.exists() and out.read_text() == "running"):
    time.sleep(0.01)
sys.exit(0)  # the app quits while the task still runs
"""


def test_quitting_while_a_task_runs_asks_it_to_stop_and_waits_for_it(tmp_path):
    """A thread left running as the interpreter finalizes crashed the app at
    quit (matplotlib's font loading in the warm-up): at exit, running tasks
    are told to stop and their threads are waited for."""
    import subprocess
    import sys

    out = tmp_path / "state.txt"
    p = subprocess.run([sys.executable, "-c", EXIT_CHILD, str(out)], capture_output=True, text=True, timeout=60,
                       env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert p.returncode == 0, p.stderr[-2000:]
    assert out.read_text() == "ended"  # its finally ran: the thread was not cut off mid-work
