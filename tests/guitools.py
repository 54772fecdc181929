"""Helpers for driving the real main window in tests."""

from __future__ import annotations

import json
import time

from PySide6.QtCore import QEventLoop, QPoint, Qt, QTimer
from PySide6.QtTest import QTest


def spin(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(pred, timeout_ms: int = 15000, step_ms: int = 20) -> bool:
    end = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < end:
        if pred():
            return True
        spin(step_ms)
    return pred()


def js(view, code: str, timeout_ms: int = 10000):
    """Run JS in the map page and return its (JSON-decoded when possible) result."""
    box: dict = {}
    view.page().runJavaScript(code, 0, lambda r: box.setdefault("r", r))
    assert wait_until(lambda: "r" in box, timeout_ms), f"no answer from JS: {code}"
    r = box["r"]
    if isinstance(r, str):
        try:
            return json.loads(r)
        except ValueError:
            return r
    return r


def open_window(**kw):
    from zjmap.qt.mainwindow import MainWindow

    w = MainWindow(animate=False, **kw)
    w.resize(1400, 860)
    w.show()
    assert wait_until(lambda: w.map.is_ready, 30000), f"map never ready; JS errors: {w.map.js_errors}"
    spin(300)
    return w


def screen_pos(win, lon: float, lat: float) -> QPoint:
    p = js(win.map, f"ZJ.toScreen({lon}, {lat})")
    return QPoint(round(p["x"]), round(p["y"]))


def real_click(win, lon: float, lat: float) -> None:
    """A real mouse click on the web view's render widget at a lon/lat."""
    pos = screen_pos(win, lon, lat)
    target = win.map.focusProxy() or win.map
    QTest.mouseClick(target, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)


def js_click(win, lon: float, lat: float) -> None:
    js(win.map, f"ZJ.map.fire('click', {{latlng: L.latLng({lat}, {lon})}}); 1")


def grab_map(win):
    spin(250)
    return win.map.grab().toImage()


def close_window(win) -> None:
    win.close()
    win.deleteLater()
    spin(200)


def show_only(win, keep: set[str]) -> None:
    """Base layers plus the given thematic layers, nothing else."""
    for layer in win.stack:
        win.stack.set_visible(layer.id, layer.kind == "base" or layer.id in keep)
