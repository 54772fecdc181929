"""Python's cyclic garbage is collected on the GUI thread, never on a worker's.

The automatic collector runs on whichever thread allocates past its
threshold: often a worker making a big layer's zoom bands. Garbage it finds
can hold Qt objects that live in the GUI thread (a finished worker, a
dialog's wrapper in a cycle); their C++ side is then deleted from the worker
thread while the GUI thread may be delivering them an event, which crashed
in ``QObject::event`` now and then. pyqtgraph does the same as here
(``pyqtgraph.util.garbage_collector``): the automatic collector off, and a
GUI-thread timer that collects each generation once its count passes
Python's own threshold. Written here, not imported: it is one small class
inside a plotting library zjmap does not otherwise need.

Start-up holds collection off altogether (:func:`hold`):
its hundreds of thousands of long-lived objects are frozen once the map is
ready (``MainWindow._on_map_ready``), and scanning them before was about a
tenth of the start-up's Python time.
"""

from __future__ import annotations

import gc
import threading
from typing import Callable

#: how often the GUI thread looks at the collector's counts
INTERVAL_MS = 100

_held = 0
_timer = None  # the QTimer once installed


def installed() -> bool:
    return _timer is not None


def install() -> bool:
    """Take collection over onto the GUI thread's event loop; a no-op off the
    main thread, without a Qt application, or when already done."""
    global _timer
    if _timer is not None or threading.current_thread() is not threading.main_thread():
        return _timer is not None
    from PySide6.QtCore import QCoreApplication, QTimer

    app = QCoreApplication.instance()
    if app is None:
        return False
    timer = QTimer(app)
    timer.setInterval(INTERVAL_MS)
    timer.timeout.connect(collect_due)
    timer.start()
    _timer = timer
    gc.disable()
    timer.destroyed.connect(_uninstalled)
    return True


def _uninstalled(*_: object) -> None:
    """The application went: the automatic collector again (no GUI thread to collect on)."""
    global _timer
    _timer = None
    if not _held:
        gc.enable()


def collect_due() -> int:
    """Collect the generations whose counts passed their thresholds, as
    Python's own collector would have; the number of objects freed."""
    if _held:
        return 0
    t0, t1, t2 = gc.get_threshold()
    c0, c1, c2 = gc.get_count()
    if not t0 or c0 <= t0:
        return 0
    generation = 2 if (c1 > t1 and c2 > t2) else 1 if c1 > t1 else 0
    return gc.collect(generation)


def hold() -> Callable[[], None]:
    """No collection at all until the returned call ends the hold (start-up);
    that call may come from several paths: only its first counts."""
    global _held
    _held += 1
    gc.disable()
    ended = False

    def release() -> None:
        global _held
        nonlocal ended
        if ended:
            return
        ended = True
        _held = max(0, _held - 1)
        if not _held and _timer is None:
            gc.enable()

    return release
