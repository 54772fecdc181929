"""Start-up (issue 16): the map's page loads while the app is imported, and
the window built around it shows what a window built in one go shows."""

from __future__ import annotations

import os
import sys

import pytest
from PySide6.QtCore import QTimer

from guitools import close_window, js, spin, wait_until
from zjmap.core.mappage import ZHEJIANG_BOUNDS


def test_imports_run_while_the_event_loop_serves(qapp, tmp_path, monkeypatch):
    from zjmap.qt.startup import import_while_serving

    (tmp_path / "zj_slow_import.py").write_text(
        "import os, time\ntime.sleep(0.4)\nVALUE = 7\nPOLICY = os.sched_getscheduler(0)\n", encoding="utf-8")
    (tmp_path / "zj_broken_import.py").write_text("raise ImportError('broken on purpose')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    try:
        import_while_serving("zj_slow_import")
    finally:
        timer.stop()
    assert sys.modules["zj_slow_import"].VALUE == 7
    # on a thread that yields to the page's renderer and the GUI thread
    assert sys.modules["zj_slow_import"].POLICY == os.SCHED_IDLE
    assert len(ticks) >= 5, "the GUI thread's event loop did not run during the import"
    with pytest.raises(ImportError, match="broken on purpose"):
        import_while_serving("zj_broken_import")
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_a_held_map_says_it_is_on_screen_before_it_is_ready(qapp, win):
    """MapView.shown: the page is drawn on screen at the view's size while
    the window around it is still being completed (hold_ready); ready
    comes only with release_ready."""
    from PySide6.QtWidgets import QMainWindow

    from zjmap.qt.mapview import MapView

    frame = QMainWindow()
    view = MapView(animate=False)
    frame.setCentralWidget(view)
    frame.resize(900, 600)
    shown: list[bool] = []
    view.shown.connect(lambda: shown.append(view.is_ready))
    view.hold_ready()
    assert view.load_shipped_early()  # the cache `win` left
    frame.show()
    try:
        assert wait_until(lambda: shown, 30000), f"never shown; JS errors: {view.js_errors}"
        spin(300)
        assert shown == [False] and not view.is_ready
        view.release_ready()
        assert view.is_ready and shown == [False]  # shown once, not again at ready
    finally:
        view.shutdown()
        frame.close()
        frame.deleteLater()


def test_a_window_around_an_early_page_shows_the_start_view(qapp, win, monkeypatch):
    """`win` (built in one go) left the start-up cache; open_main_window
    shows the window's frame around the view loading it, so the page draws
    at the view's own size from its first report (no refit to a new size);
    the map is ready only once the window is complete, then shows the start
    bounds fitted to its size, with the keyboard focus; the collector is
    held off until then, then collects on the GUI thread."""
    import gc

    from zjmap.qt import collector

    from zjmap.qt.mapview import MapView
    from zjmap.qt.startup import open_main_window

    reports: list[tuple[int, int, int, int]] = []
    seen = MapView._on_ready
    monkeypatch.setattr(MapView, "_on_ready",
                        lambda self, w, h: (reports.append((w, h, self.width(), self.height())), seen(self, w, h)))
    try:
        _, w = open_main_window(animate=False)
        view = w.map
        assert view.shipped_early
        assert w.isVisible()  # the frame went on screen before the parts were imported
        assert wait_until(lambda: w.map.is_ready, 30000), f"map never ready; JS errors: {w.map.js_errors}"
        spin(50)
        assert not collector._held and collector.installed() and not gc.isenabled()
        assert reports and reports[0][:2] == reports[0][2:] == (view.width(), view.height()), reports
        v = js(w.map, "ZJ.view()")
        assert (v["width"], v["height"]) == (w.map.width(), w.map.height())
        west, south, east, north = ZHEJIANG_BOUNDS
        fit = js(w.map, f"JSON.stringify(ZJ.map.getBoundsZoom(L.latLngBounds([[{south}, {west}], [{north}, {east}]])))")
        assert v["zoom"] == max(5, int(fit)), (v, fit)
        assert abs(v["lon"] - (west + east) / 2) < 0.3 and abs(v["lat"] - (south + north) / 2) < 0.3
        assert sum(u.endswith("index.html") for u in view.interceptor.requested) == 1  # not loaded again
        assert qapp.focusWidget() is w.map.focusProxy()
        assert w.map.js_errors == []
        close_window(w)
    finally:
        collector._held = 0


#: a fresh interpreter starting the app as `zjmap` does; it reports what
#: there was when the parts began to be imported and when the map was ready
FRESH_START = r"""
import json, sys
import zjmap.qt.startup as startup
from PySide6.QtWidgets import QApplication, QMainWindow

seen = {}
serve = startup.import_while_serving
def import_while_serving(module):
    wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMainWindow)]
    seen["parts"] = {"module": module, "already": module in sys.modules, "shown": [w.isVisible() for w in wins],
                     "map": [[w.map.width(), w.map.height()] for w in wins]}
    serve(module)
startup.import_while_serving = import_while_serving
def on_shown():  # the map on screen: the window around it may still be a frame
    wins = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMainWindow)]
    seen.setdefault("shown", []).append({"ready": [w.map.is_ready for w in wins], "map": [[w.map.width(), w.map.height()] for w in wins]})
app, w = startup.open_main_window(["zjmap-test"], animate=False, on_shown=on_shown)
w.show()
def done():
    seen["ready"] = {"map": [w.map.width(), w.map.height()], "layers": w.tree.topLevelItemCount(),
                     "tree": w.tree.isVisible(), "panel": w.panel.isVisible(), "menus": len(w.file_menu.actions()),
                     "shipped_early": w.map.shipped_early}
    print("SEEN " + json.dumps(seen), flush=True)
    w.close()
    app.quit()
w.map.ready.connect(done)
if w.map.is_ready:
    done()
else:
    app.exec()
"""


def test_the_window_is_on_screen_while_its_parts_are_imported(win):
    """In a fresh process (the cache left by `win`): the window, with the map
    at its final size, is shown before the layer model and the controllers
    are imported; the map says it is on screen before the window is
    complete; at ready the tree and panel are there, the map unchanged."""
    import json
    import os
    import subprocess

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")
    out = subprocess.run([sys.executable, "-c", FRESH_START], env=env, capture_output=True, text=True, timeout=120)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("SEEN ")), None)
    assert line, out.stderr[-2000:]
    seen = json.loads(line[5:])
    parts, ready = seen["parts"], seen["ready"]
    assert parts["module"] == "zjmap.qt.windowparts" and not parts["already"], parts
    assert parts["shown"] == [True], parts
    assert ready["shipped_early"] and ready["tree"] and ready["panel"] and ready["layers"] >= 2, ready
    assert ready["menus"] >= 5, ready
    assert parts["map"] == [ready["map"]], seen  # the page drew at the size the map keeps
    # MapView.shown: once, before the window was complete (ready), at the same size
    assert len(seen["shown"]) == 1 and seen["shown"][0]["ready"] == [False], seen
    assert seen["shown"][0]["map"] == [ready["map"]], seen


def test_a_smaller_window_of_the_last_session_keeps_a_map_of_its_share(qapp, win):
    """The window opens at the last session's size; a smaller one than the
    default scales the tree, the map and the panel alike (the splitter's
    stretch gave the map all the loss: 130 px of a 798-px window)."""
    from PySide6.QtWidgets import QMainWindow

    from zjmap.qt.mainwindow import MainWindow, split_sizes
    from zjmap.qt.settings import make_settings

    assert split_sizes([280, 760, 380], 1420) == [280, 760, 380]
    assert split_sizes([280, 760, 380], 2000) == [280, 1340, 380]
    small = split_sizes([280, 760, 380], 710)
    assert sum(small) == 710 and small[1] == 380, small
    probe = QMainWindow()
    probe.resize(800, 700)
    settings = make_settings()
    before = settings.value("window/geometry")
    settings.setValue("window/geometry", probe.saveGeometry())
    settings.sync()
    try:
        w = MainWindow(stack=win.stack, catalogue=win.catalogue, animate=False, complete=False)
        split = w.centralWidget()
        assert abs(w.width() - 800) <= 2, w.size()
        tree, map_, panel = split.sizes()
        assert map_ >= 0.45 * sum(split.sizes()) and tree > 100 and panel > 150, split.sizes()
        w.map.shutdown()
        w.deleteLater()
    finally:
        if before is None:
            settings.remove("window/geometry")
        else:
            settings.setValue("window/geometry", before)
        settings.sync()
