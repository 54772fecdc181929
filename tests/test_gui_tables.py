"""A statistics table dropped on the window: preview, match summary, a manual pick,
the joined layer styled, identified, saved in a workspace and re-styled."""

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from guitools import js_click, wait_until

T = Path(__file__).resolve().parent / "fixtures" / "tables"


def drop(win, path: Path) -> bool:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(500, 400), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, enter)
    ev = QDropEvent(QPointF(500, 400), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                    Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, ev)
    return enter.isAccepted()


def opened(job, timeout_ms: int = 60000):
    """The preview of a table read and matched on the worker."""
    assert wait_until(lambda: job.done, timeout_ms), job
    assert job.status == "opened", job.message
    return job.dialog


def settled(dlg):
    """The preview once its re-read or re-match is done."""
    assert wait_until(lambda: dlg.idle, 60000)
    return dlg


@pytest.fixture(scope="module")
def joined(win):
    """yearbook.xlsx dropped, 鼓楼区 picked by hand as 南京's, added to the map."""
    n = len(win.tables.dialogs)
    assert drop(win, T / "yearbook.xlsx")
    assert wait_until(lambda: len(win.tables.dialogs) == n + 1, 60000)
    dlg = win.tables.dialogs[-1]
    assert dlg.table.sheet == "2-5 各县（市、区）" and dlg.header.value() == 3
    assert dlg.key.currentData() == "地区"
    text = dlg.summary.text()
    assert "共 <b>11</b> 行" in text and "匹配 matched <b>5</b>" in text and "待定 ambiguous <b>1</b>" in text
    # the preview shows each row's match; the ambiguous row waits in the pick list
    statuses = [dlg.preview.item(i, 0).text() for i in range(dlg.preview.rowCount())]
    assert statuses.count("合计行 total") == 5 and statuses.count("区划变更 changed") == 1
    row = next(m.source_row for m in dlg.result.rows if m.key == "鼓楼区")
    box = dlg.pending_combo(row)
    assert [box.itemData(i) for i in (1, 2)] == ["320106", "320302"]  # its two candidates first
    box.setCurrentIndex(box.findData("320106"))  # the planner's pick
    assert dlg.fixes == {row: "320106"}
    settled(dlg)
    assert "匹配 matched <b>6</b>" in dlg.summary.text() and "手工 picked 1" in dlg.summary.text()
    dlg.accept()
    assert dlg.result is not None and dlg.layer_id in win.stack
    yield win.stack.layer(dlg.layer_id), row
    win.stack.remove(dlg.layer_id)


def test_joined_layer_is_an_ordinary_choropleth_layer(win, joined):
    layer, row = joined
    assert layer.kind == "user" and layer.geometry == "polygon"
    st = layer.style
    assert st["choropleth"] and st["field"] == "地区生产总值_总量" and st["scheme"] == "quantiles"
    by = {f.props["adcode"]: f for f in layer.features}
    assert by["320106"].props["地区"] == "鼓楼区" and by["320106"].props["table_row"] == row
    assert by["330112"].props["地区"] == "临安市"
    legend = layer.legend()
    assert legend[-1].label.startswith("无数据") and sum(st["counts"]) == 6
    # no-data units are drawn in their own colour
    assert layer.feature_style(by["330106"])["fillColor"] == st["no_data_color"]
    assert layer.feature_style(by["330112"])["fillColor"] in st["ramp"]


def test_click_shows_the_table_row_with_file_and_sheet(win, joined):
    layer, _ = joined
    only = {lid for lid in win.stack.ids() if lid in (layer.id, "base_province", "base_county")}
    for lid in win.stack.ids():
        win.stack.set_visible(lid, lid in only)
    f = next(f for f in layer.features if f.props["adcode"] == "330112")
    p = f.geometry.representative_point()
    js_click(win, p.x, p.y)
    assert wait_until(lambda: win.panel.current_id == f.id), win.panel.current_id
    src = win.panel.source.toPlainText()
    assert "yearbook.xlsx · 2-5 各县（市、区）" in src and "第 10 行" in src
    assert "临安市（330185）2017年改名→临安区" in src  # the flagged change is said
    assert "64.5" in src


def test_workspace_keeps_the_join_and_the_manual_pick(win, joined, tmp_path):
    from zjmap.core import workspace as W

    layer, row = joined
    ws = W.capture(win.stack)
    path = tmp_path / "plan.zjmap"
    W.save_workspace(ws, path)
    back = W.load_workspace(path)
    entry = back.entry(layer.id)
    assert entry.source.path == str(T / "yearbook.xlsx")
    assert entry.source.join["sheet"] == "2-5 各县（市、区）" and entry.source.join["header_row"] == 3
    assert entry.source.join["key"] == "地区" and entry.source.join["fixes"] == {str(row): "320106"}
    again = W.read_user_layer(entry)
    assert {f.props["adcode"]: f.props["地区"] for f in again.features}["320106"] == "鼓楼区"
    assert again.style == layer.style


def test_choropleth_dialog_histogram_and_breaks(win, joined):
    layer, _ = joined
    dlg = win.tables.open_choropleth(layer.id, modal=False)
    dlg.field.setCurrentIndex(dlg.field.findData("常住人口（万人）"))
    dlg.scheme.setCurrentIndex(dlg.scheme.findData("natural_breaks"))
    dlg.k.setValue(3)
    assert dlg.style["k"] == 3 and len(dlg.hist.breaks) == 2  # two inner breaks drawn on the histogram
    assert dlg.legend.count() == 4 and dlg.legend.item(3).text().startswith("无数据")
    dlg.manual.setText("50, 100")
    dlg.scheme.setCurrentIndex(dlg.scheme.findData("manual"))
    assert dlg.hist.breaks == [50.0, 100.0]
    dlg.accept()
    st = win.stack.layer(layer.id).style
    assert st["field"] == "常住人口（万人）" and st["scheme"] == "manual" and st["breaks"][1:3] == [50.0, 100.0]


def test_csv_with_coordinates_is_left_to_the_layer_loader(win, tmp_path):
    from zjmap.qt.tables import _table_paths

    pts = tmp_path / "点.csv"
    pts.write_text("名称,经度,纬度\n杭州,120.15,30.28\n宁波,121.55,29.87\n", encoding="utf-8")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(pts)), QUrl.fromLocalFile(str(T / "county_names_gbk.csv"))])
    assert _table_paths(mime) == [str(T / "county_names_gbk.csv")]


def test_join_to_a_loaded_layer_and_its_field(win, tmp_path):
    import geopandas as gpd
    import shapely

    from zjmap.core import workspace as W
    from zjmap.qt.userlayers import add_layer_from_path

    path = tmp_path / "园区.geojson"
    gpd.GeoDataFrame({"所在市": ["杭州市", "宁波", "嘉兴市"], "园区": ["A", "B", "C"]},
                     geometry=[shapely.Point(120.2, 30.3), shapely.Point(121.5, 29.9), shapely.Point(120.8, 30.7)],
                     crs="EPSG:4326").to_file(path, driver="GeoJSON")
    task = add_layer_from_path(win.user_layers, path)
    assert wait_until(lambda: task.done, 30000) and task.status == "loaded"
    target = task.layer_id
    dlg = opened(win.tables.open_table(str(T / "census2020_zhejiang_cities.csv"), modal=False))
    dlg.level.setCurrentIndex(dlg.level.findData(f"layer:{target}"))
    settled(dlg).target_field.setCurrentIndex(dlg.target_field.findData("所在市"))
    settled(dlg)
    assert dlg.result.level == "layer" and dlg.result.summary()["matched"] == 3
    assert "匹配 matched <b>3</b>" in dlg.summary.text() and "未匹配 unmatched <b>8</b>" in dlg.summary.text()
    dlg.accept()
    layer = win.stack.layer(dlg.layer_id)
    vals = {f.props["园区"]: f.props["常住人口（人）"] for f in layer.features}
    assert vals == {"A": 11936010, "B": 9404283, "C": 5400868}
    # saved and read back: the target layer's file is read again, the same field joined
    entry = W.capture(win.stack).entry(layer.id)
    assert entry.source.join["target"]["field"] == "所在市"
    again = W.read_user_layer(entry)
    assert {f.props["园区"]: f.props["常住人口（人）"] for f in again.features} == vals
    win.stack.remove(layer.id)
    win.stack.remove(target)


def test_a_file_that_is_not_a_table_gets_a_message(win, tmp_path, monkeypatch):
    import zjmap.qt.tables as qt_tables

    shown = []

    class Box:
        @staticmethod
        def warning(parent, title, text, *a, **k):
            shown.append(text)

    monkeypatch.setattr(qt_tables, "QMessageBox", Box)
    bad = tmp_path / "统计.xlsx"
    bad.write_text("这不是表格", encoding="utf-8")
    before = list(win.stack.ids())
    job = win.tables.open_table(str(bad), modal=False)
    assert wait_until(lambda: job.done, 30000) and job.status == "failed" and job.dialog is None
    assert len(shown) == 1 and "统计.xlsx is not an Excel workbook" in shown[0]
    assert list(win.stack.ids()) == before


# -- reading and matching on the worker -----------------------------------------


class _Boxes:
    """QMessageBox.warning's (title, text), instead of a modal box a test cannot answer."""

    def __init__(self):
        self.shown = []

    def warning(self, parent, title, text, *a, **k):
        self.shown.append((title, text))


def _workspace_now(win):
    from zjmap.core import workspace as W

    import json

    saved = json.loads(W.dumps(W.capture(win.stack)))
    saved.pop("saved_at")
    return saved, win.workspace.modified


def test_a_big_table_is_read_on_the_worker_and_cancel_stops_it(win, tmp_path):
    """12,000 county rows: progress arrives while the window's event loop keeps running, the
    progress dialog's own Cancel button stops the job, and nothing is added."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QPushButton

    from zjmap.core import tablejoin as J

    counties = J.gazetteer().units["county"]
    big = tmp_path / "各县历年.csv"
    lines = ["年份,地区,上级,常住人口（万人）"]
    for i in range(12000):
        u = counties[i % len(counties)]
        lines.append(f"{2000 + i // len(counties)},{u.name_zh},{u.parent},{(i % 97) + 10.5}")
    big.write_text("\n".join(lines) + "\n", encoding="gbk")
    before, dialogs = _workspace_now(win), len(win.tables.dialogs)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    job = win.tables.open_table(str(big), modal=False)
    try:
        # the progress dialog shows itself after its minimum duration, with the matcher's messages
        assert wait_until(lambda: job.progress is not None and job.progress.isVisible()
                          and any("matching rows" in m for _, m in job.progress_seen), 60000), job
        # the GUI thread ran its 20 ms timer while the job ran (a fast machine shows the dialog
        # after ~6 ticks, so the bar is a few ticks, not a duration)
        assert not job.done and len(ticks) >= 3
        assert "匹配" in job.progress.labelText() and 0 < job.progress.value() < 1000
        cancel = next(b for b in job.progress.findChildren(QPushButton) if "Cancel" in b.text())
        cancel.click()
        assert wait_until(lambda: job.done, 30000)
    finally:
        timer.stop()
    assert job.status == "cancelled" and job.dialog is None and job.worker.status == "cancelled"
    assert len(win.tables.dialogs) == dialogs and _workspace_now(win) == before


@pytest.mark.parametrize("name", ["yearbook.xlsx", "county_names_gbk.csv", "old_2010.xls"])
def test_the_preview_equals_the_synchronous_read_and_match(win, name):
    from zjmap.core import tablejoin as J
    from zjmap.core.tables import read_table

    job = win.tables.open_table(str(T / name), modal=False)
    dlg = opened(job)
    assert job.progress_seen and job.progress_seen[0][1].startswith("读取 reading")
    table = read_table(T / name)  # the plain calls, on this thread
    result = J.match_table(table)
    assert dlg.table.frame.equals(table.frame) and dlg.table.header_row == table.header_row
    assert dlg.result.summary() == result.summary()
    assert [(m.status, m.adcode, m.note) for m in dlg.result.rows] == [(m.status, m.adcode, m.note) for m in result.rows]
    dlg.reject()


def test_a_re_read_that_fails_keeps_the_preview(win):
    dlg = opened(win.tables.open_table(str(T / "yearbook.xlsx"), modal=False))
    shown = dlg.result
    dlg.header.setValue(200)  # no such header row: the read on the worker fails
    settled(dlg)
    assert "there is no header row 200" in dlg.summary.text() and "last good read" in dlg.summary.text()
    assert dlg.header.value() == 3 and dlg.result is shown  # controls and preview as they were
    assert dlg.buttons.button(dlg.buttons.StandardButton.Ok).isEnabled()
    dlg.sheet.setCurrentIndex(dlg.sheet.findData("空表"))  # an empty sheet: the same, said plainly
    settled(dlg)
    assert "表中没有数据行" in dlg.summary.text() and dlg.sheet.currentData() == "2-5 各县（市、区）"
    dlg.reject()


def test_empty_and_header_only_tables_say_so_and_add_nothing(win, tmp_path, monkeypatch):
    import zjmap.qt.tables as qt_tables

    boxes = _Boxes()
    monkeypatch.setattr(qt_tables, "QMessageBox", boxes)
    empty = tmp_path / "空.csv"
    empty.write_bytes(b"")
    head = tmp_path / "只有表头.csv"
    head.write_text("地区,常住人口\n", encoding="utf-8")
    before, dialogs = _workspace_now(win), len(win.tables.dialogs)
    for path in (empty, head):
        job = win.tables.open_table(str(path), modal=False)
        assert wait_until(lambda: job.done, 30000) and job.status == "failed"
        title, text = boxes.shown[-1]
        assert title == "表中没有数据行 The table has no rows"
        assert text.startswith(f"{path.name}：表中没有数据行") and "the table has no rows" in text
    assert "只有表头（第 1 行：地区、常住人口）" in boxes.shown[-1][1]
    assert len(boxes.shown) == 2 and len(win.tables.dialogs) == dialogs and _workspace_now(win) == before


def test_an_abolished_prefecture_is_said_in_the_preview(win):
    dlg = opened(win.tables.open_table(str(T / "old_2010.xls"), modal=False))
    text = dlg.summary.text()
    assert "⚠ 巢湖市：2011年撤销，所辖县区分入合肥市、芜湖市、马鞍山市 — abolished 2011" in text
    assert "未匹配 not matched" in text
    row = next(m for m in dlg.result.rows if m.key == "巢湖市")
    i = next(i for i in range(dlg.pending.rowCount()) if dlg.pending.item(i, 0).text() == str(row.source_row))
    assert "2011年撤销" in dlg.pending.item(i, 2).text()
    box = dlg.pending_combo(row.source_row)
    assert [box.itemData(j) for j in (1, 2, 3)] == ["340100", "340200", "340500"]  # where it went, first
    dlg.reject()
