"""File → Export map… in the real window: the current view, 2×, georeferenced."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QTimer

from guitools import js, show_only, wait_until
from zjmap.core.export import lonlat_to_pixel, read_world_file

ZJ_FILL = (0xF4, 0xEC, 0xD4)


def blend(fg: str, alpha: float, bg: tuple[int, int, int]) -> np.ndarray:
    c = np.array([int(fg[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return alpha * c + (1 - alpha) * np.array(bg, dtype=float)


def test_menu_has_export_before_quit(win):
    acts = win.file_menu.actions()
    texts = [a.text() for a in acts]
    i = next(k for k, t in enumerate(texts) if "Export map" in t)
    assert acts[i].shortcut().toString() == "Ctrl+E"
    assert i < texts.index(win.act_quit.text())


def test_export_current_view_png_2x(win, tmp_path):
    from zjmap.qt.export_dialog import ExportDialog

    show_only(win, {"bay_platforms"})
    win.zoom_home()
    view = js(win.map, "ZJ.view()")
    out = tmp_path / "view.png"
    dlg = ExportDialog(win, win.export.sources)
    beats = []
    heart = QTimer()
    heart.timeout.connect(lambda: beats.append(time.perf_counter()))
    heart.start(20)
    t0 = time.perf_counter()
    job = dlg.run(out, scale=2, title="导出测试")
    # the export runs off the UI thread: run() returns before the file exists …
    assert not job.done and not out.exists()
    assert wait_until(lambda: job.done, 20000), "export never finished"
    took = time.perf_counter() - t0
    heart.stop()
    assert job.error is None, job.error
    # … and the window kept handling events meanwhile: drawing on the UI
    # thread would leave one gap as long as the drawing (~0.6 s or more)
    gaps = np.diff([t0, *beats, time.perf_counter()])
    assert gaps.max() < 0.5, (took, gaps.max())

    r = job.result
    assert r.size_px == (2 * job.view["width"], 2 * job.view["height"])
    assert abs(job.view["width"] - view["width"]) <= 1
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape[:2] == (r.size_px[1], r.size_px[0])
    assert "已导出" in win.statusBar().currentMessage() and str(out) in win.statusBar().currentMessage()

    aff = read_world_file(out.with_suffix(".pgw"))
    # the world file spans the view the page reported (widened at most a little to keep the aspect)
    assert aff[4] - aff[0] / 2 <= view["w"] + 1e-6 and aff[5] - aff[3] / 2 >= view["n"] - 1e-6
    c, row = lonlat_to_pixel(aff, 119.75, 28.75)  # Jinhua–Lishui hills: Zhejiang's fill
    assert tuple(img[row, c]) == ZJ_FILL
    layer = win.stack.layer("bay_platforms")
    f = next(f for f in layer.features if f.name == "宁波舟山国际枢纽港")
    c, row = lonlat_to_pixel(aff, f.geometry.x, f.geometry.y)
    want = blend(layer.feature_style(f)["color"], 0.75, ZJ_FILL)
    got = img[row - 1:row + 2, c - 1:c + 2].reshape(-1, 3).astype(float)
    assert np.abs(got - want).max(axis=1).min() <= 12, (got, want)


def test_export_pdf_page_with_selection(win, tmp_path):
    from zjmap.qt.export_dialog import ExportDialog

    show_only(win, {"cluster_zones"})
    fid = win.stack.layer("cluster_zones").features[0].id
    win.explorer.select(fid)
    out = tmp_path / "page.pdf"
    job = ExportDialog(win, win.export.sources).run(out, page="A4", landscape=True, title="选中要素")
    assert wait_until(lambda: job.done, 20000)
    assert job.error is None, job.error
    assert out.stat().st_size > 20_000
    assert job.result.layout == "page" and job.result.page_mm == (297.0, 210.0)
    win.explorer.selection.clear()


def test_cancel_before_start_writes_nothing(win, tmp_path):
    from zjmap.qt.export_dialog import ExportDialog

    out = tmp_path / "never.png"
    job = ExportDialog(win, win.export.sources).run(out, scale=1)
    job.cancel()
    assert wait_until(lambda: job.done, 5000)
    assert job.was_cancelled and not out.exists()
    assert "取消" in win.statusBar().currentMessage()


def test_bad_path_reports_failure(win, tmp_path):
    from zjmap.qt.export_dialog import ExportDialog

    job = ExportDialog(win, win.export.sources).run(tmp_path / "no" / "such" / "dir.png")
    assert wait_until(lambda: job.done, 5000)
    assert job.error and "does not exist" in job.error
    assert "导出失败" in win.statusBar().currentMessage()


def test_no_cjk_font_is_said_in_the_status_bar_and_the_export_dialog(win, monkeypatch):
    from zjmap.core import cjkfonts
    from zjmap.qt.export_dialog import ExportDialog

    have = ExportDialog(win, win.export.sources)
    assert have.font_warning.isHidden() == cjkfonts.have_cjk_font()
    have.deleteLater()
    monkeypatch.setattr(cjkfonts, "cjk_font_files", lambda: [])
    monkeypatch.setattr(cjkfonts, "_state", {})
    monkeypatch.setattr(win, "_told_no_cjk_font", False, raising=False)
    win._say_if_no_cjk_font()
    msg = win.statusBar().currentMessage()
    assert "fonts-noto-cjk" in msg and "boxes" in msg
    win.statusBar().clearMessage()
    win._say_if_no_cjk_font()  # said once only
    assert win.statusBar().currentMessage() == ""
    dlg = ExportDialog(win, win.export.sources)
    assert not dlg.font_warning.isHidden() and "fonts-noto-cjk" in dlg.font_warning.text()
    dlg.deleteLater()
