"""Start-up in the order that puts the map on screen soonest (issue 16).

A bare Leaflet page in QtWebEngine is on screen in about 0.3 s. Most of what
zjmap added to that was Python importing numpy, shapely and the app's
modules (about 0.6 s) and then building the window, while the page, whose
files the last run left in the cache (mappage.shipped_layers_cache), waited:
QtWebEngine's navigation and every file the page asks for (through the
local-only interceptor) are served by the GUI thread's event loop.

So the map view is made first and its cached page starts loading; the rest
of the app is imported on a worker thread while the GUI thread's event loop
serves the page (the web engine's renderer process parses and draws on the
other core); that thread runs only when a core is free (SCHED_IDLE), so the
page's work goes first. Then the window is built around the view. The page
says it is drawn once it has drawn and two frames have run (zjmap.js),
which a hidden view never runs: MapView.shown, the map on screen in the
window's frame; MapView.ready once the window around it is complete too.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from typing import Callable

from zjmap.qt import collector
from zjmap.qt.app import make_application

#: the collector is back on by then even if the map never says ready
COLLECTOR_BACK_MS = 15000


#: the native id of the thread importing the parts while it runs in idle time
_idle_importer: list[int] = []


def _import_in_idle_time(module: str) -> None:
    """Import on a thread that runs only when a core is free (SCHED_IDLE,
    Linux) until the map is on screen (full_speed_imports): the page's
    renderer and this process's GUI thread go first."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # this thread only (pid 0)
        _idle_importer.append(threading.get_native_id())
    except (AttributeError, OSError):  # not Linux: an ordinary thread
        pass
    try:
        importlib.import_module(module)
    finally:
        _idle_importer.clear()


def full_speed_imports() -> None:
    """The map is on screen: the parts' import runs as any thread again."""
    for tid in list(_idle_importer):
        try:
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        except (AttributeError, OSError):  # ended meanwhile
            pass


def import_while_serving(module: str) -> None:
    """Import ``module`` on a worker thread while this (GUI) thread runs its
    event loop; a failed import raises here, as a plain import would."""
    if module in sys.modules:
        return
    from PySide6.QtCore import QEventLoop

    from zjmap.qt.worker import start_worker

    loop = QEventLoop()
    # the GUI thread takes the GIL for each request the page makes (the
    # interceptor is Python): hand it over sooner than every 5 ms
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        worker = start_worker(_import_in_idle_time, module, name="zjmap-start-imports", pass_state=False,
                              connect={"finished": lambda *_: loop.quit()})
        if not worker.done:
            loop.exec()
    finally:
        sys.setswitchinterval(interval)
    importlib.import_module(module)  # done: from sys.modules; failed: raises the error here


def open_main_window(argv: list[str] | None = None, animate: bool = True,
                     on_shown: Callable[[], object] | None = None):
    """The application and its main window (not yet shown), the map's page
    loading since before most of the app was imported. ``on_shown`` is
    called once the map is on screen (MapView.shown), which may be before
    this returns.

    The cyclic collector is held off until the map is ready: start-up makes
    hundreds of thousands of objects that all live as long as the window
    (modules, the shipped stack, widgets), and its full scans of them were
    about a tenth of the start-up's Python time. The window freezes them
    when the map is ready (MainWindow._on_map_ready); collection comes back
    right after (on the GUI thread: zjmap.qt.collector), or after
    COLLECTOR_BACK_MS should the page fail.
    """
    release = collector.hold()  # ended by whichever of the paths below comes first
    try:
        app = make_application(argv)
        from zjmap.qt.mapview import MapView

        from zjmap.qt.mainwindow import PARTS, MainWindow

        view = MapView(animate=animate)
        view.shown.connect(full_speed_imports)
        if on_shown is not None:
            view.shown.connect(on_shown)
        view.load_shipped_early()  # no cache yet (first start): the window builds the page
        win = MainWindow(animate=animate, map_view=view, complete=False)
        win.show()  # the frame: the page draws at the map's own size while the parts are imported
        import_while_serving(PARTS)
        win.complete()
    except BaseException:
        release()
        raise
    from PySide6.QtCore import QTimer

    if win.map.is_ready:  # drawn while the window was completed: the window froze the start-up's objects
        release()
    else:
        win.map.ready.connect(release)  # after the window's own handler (connected first): frozen by then
    QTimer.singleShot(COLLECTOR_BACK_MS, release)
    return app, win
