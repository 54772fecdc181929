"""Start-up (issue 16): the map's page loads while the app is imported, and
the window built around it shows what a window built in one go shows."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QTimer

from guitools import close_window, js, spin, wait_until
from zjmap.core.mappage import ZHEJIANG_BOUNDS


def test_imports_run_while_the_event_loop_serves(qapp, tmp_path, monkeypatch):
    from zjmap.qt.startup import import_while_serving

    (tmp_path / "zj_slow_import.py").write_text("import time\ntime.sleep(0.4)\nVALUE = 7\n", encoding="utf-8")
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
    assert len(ticks) >= 5, "the GUI thread's event loop did not run during the import"
    with pytest.raises(ImportError, match="broken on purpose"):
        import_while_serving("zj_broken_import")
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_a_window_around_an_early_page_shows_the_start_view(qapp, win):
    """`win` (built in one go) left the start-up cache; open_main_window's
    view loads it hidden, is not ready until the window is shown, and then
    shows the start bounds fitted to its size, with the keyboard focus; the
    collector stays off until then."""
    import gc

    from zjmap.qt.startup import open_main_window

    try:
        _, w = open_main_window(animate=False)
        view = w.map
        assert view.shipped_early
        assert wait_until(lambda: sum(u.endswith(".bin") for u in view.interceptor.requested) >= 4, 20000), \
            "the hidden page did not read its array files"
        spin(300)
        assert not view.is_ready  # drawn while hidden: not on screen, not ready
        assert not gc.isenabled()
        w.resize(1400, 860)
        w.show()
        assert wait_until(lambda: w.map.is_ready, 30000), f"map never ready; JS errors: {w.map.js_errors}"
        spin(50)
        assert gc.isenabled()
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
        gc.enable()
