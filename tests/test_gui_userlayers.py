"""A planner's own layers in the real window (conftest's `win`): File → Add layer…,
drop, chooser, progress + Cancel, bad files, style, attribute table, click to
identify, remove."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import shapefile  # pyshp
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

import corpus
import zjmap.qt.userlayers as qul
from zjmap.core import userfiles
from guitools import grab_map, js, js_click, screen_pos, spin, wait_until

# two small squares where no seed layer has anything small (Jinhua–Lishui hills)
SQUARES = {"武义县": (119.70, 28.80), "松阳县": (119.45, 28.45)}


def gbk_squares(d: Path) -> Path:
    """A GBK shapefile without .cpg (the hard case) with Chinese attributes."""
    shp = d / "乡镇_gbk.shp"
    w = shapefile.Writer(str(shp), shapeType=shapefile.POLYGON, encoding="gbk")
    w.field("名称", "C", 40)
    w.field("地级市", "C", 20)
    w.field("人口", "N", 12, 0)
    for i, (name, (x, y)) in enumerate(SQUARES.items()):
        r = 0.01
        w.poly([[(x - r, y - r), (x - r, y + r), (x + r, y + r), (x + r, y - r), (x - r, y - r)]])
        w.record(name, "金华市" if i == 0 else "丽水市", 300000 + i * 1000)
    w.close()
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    corpus.write_prj(shp, 4490)
    return shp


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return tmp_path_factory.mktemp("userlayers")


@pytest.fixture
def boxes(monkeypatch):
    """Message boxes recorded instead of shown; answers "No" to questions."""
    shown: list[tuple[str, str]] = []

    class FakeBox:
        StandardButton = QMessageBox.StandardButton

        @staticmethod
        def warning(parent, title, text, *args, **kw):
            shown.append((title, text))
            return QMessageBox.StandardButton.No

    monkeypatch.setattr(qul, "QMessageBox", FakeBox)
    return shown


def wait_task(task, ms: int = 30000) -> None:
    assert wait_until(lambda: task.done, ms), f"load still {task.status}"


def big_stats(win, lid: str) -> dict | None:
    return js(win.map, f"ZJ.bigStats({json.dumps(lid)})")


def drawn(win, lid: str) -> bool:
    st = big_stats(win, lid)
    return bool(st and st["onMap"] and st["draws"] >= 1)


def remove_user_layers(win) -> None:
    for layer in list(win.stack):
        if layer.kind == "user":
            win.tree.remove_requested.emit(layer.id)


def test_file_menu_action_loads_a_gbk_shapefile_and_click_shows_its_attributes(win, data, monkeypatch, boxes):
    shp = gbk_squares(data)
    first = win.file_menu.actions()[0]
    assert first is win.act_add_layer and first.shortcut().toString() == "Ctrl+O"

    class FakeDialog:
        @staticmethod
        def getOpenFileName(*args, **kw):
            return str(shp), ""

    monkeypatch.setattr(qul, "QFileDialog", FakeDialog)
    before = win.stack.ids()
    win.act_add_layer.trigger()
    task = win.user_layers.tasks[-1]
    wait_task(task)
    assert task.status == "loaded", task.message
    lid = task.layer_id
    assert win.stack.ids() == before + [lid]  # on top
    layer = win.stack.layer(lid)
    assert [f.id for f in layer.features] == [f"{lid}:0", f"{lid}:1"]
    # the tree lists it with its count
    assert win.tree.item_for(lid).text(0) == "乡镇_gbk  (2)"
    assert "EPSG:4490" in win.tree.item_for(lid).toolTip(0)
    # the page draws it
    win.zoom_to_layer(lid)
    assert wait_until(lambda: drawn(win, lid) and big_stats(win, lid)["drawn"] == 2, 10000), big_stats(win, lid)
    assert not win.map.js_errors
    # a click on a square: the same identify as seed layers, attributes in the panel
    f = layer.features[0]
    p = f.geometry.representative_point()
    js_click(win, p.x, p.y)
    assert wait_until(lambda: win.panel.current_id == f.id), win.panel.current_id
    text = win.panel.details.toPlainText()
    assert "武义县" in text and "金华市" in text and "300000" in text
    assert not boxes


def test_style_single_colour_shows_on_screen_then_categories_and_labels(win, data):
    lid = next(layer.id for layer in win.stack if layer.kind == "user")
    win.explorer.selection.clear()  # no yellow highlight over it
    win.zoom_to_layer(lid)
    spin(300)
    f = win.stack.layer(lid).features[0]
    c = f.geometry.centroid
    dlg = win.user_layers.open_style(lid)
    dlg.set_color("#ff00ff")
    dlg.apply()
    win.stack.set_opacity(lid, 1.0)
    pt = screen_pos(win, c.x, c.y)

    def magenta() -> bool:
        col = QColor(grab_map(win).pixel(pt))
        # 35 % magenta over the light base map
        return col.red() - col.green() > 60 and col.blue() - col.green() > 40

    assert wait_until(magenta, 8000, 200), QColor(grab_map(win).pixel(pt)).name()
    # categories by a field: a legend row per value in the tree, a colour per value on the page
    dlg.r_cat.setChecked(True)
    dlg.cat_field.setCurrentIndex(dlg.cat_field.findData("地级市"))
    dlg.labels.setChecked(True)
    dlg.label_field.setCurrentIndex(dlg.label_field.findData("名称"))
    dlg.apply()
    layer = win.stack.layer(lid)
    assert layer.style["kind"] == "categorical" and layer.style["label_field"] == "名称"
    item = win.tree.item_for(lid)
    assert sorted(item.child(i).text(0) for i in range(item.childCount())) == ["丽水市", "金华市"]
    assert wait_until(lambda: js(win.map, f"ZJ.layers['{lid}'].group.styles.length") == 2, 5000)
    assert wait_until(lambda: big_stats(win, lid)["labels"] >= 1, 5000), big_stats(win, lid)
    # graduated by a number
    dlg.r_grad.setChecked(True)
    dlg.num_field.setCurrentIndex(dlg.num_field.findData("人口"))
    dlg.labels.setChecked(False)
    dlg.apply()
    assert win.stack.layer(lid).style["kind"] == "graduated"
    assert win.tree.item_for(lid).childCount() >= 1
    dlg.close()


def test_attribute_table_rename_reorder_and_menu(win):
    lid = next(layer.id for layer in win.stack if layer.kind == "user")
    win.tree.table_requested.emit(lid)
    tbl = win.user_layers.tables[lid]
    m = tbl.model
    assert m.rowCount() == 2 and [m.headerData(i, Qt.Orientation.Horizontal) for i in range(m.columnCount())] == ["名称", "地级市", "人口"]
    assert tbl.model.index(1, 0).data() == "松阳县"
    tbl.filter.setText("松阳")
    tbl._apply_filter()
    assert tbl.model.rowCount() == 1 and tbl.feature_id(0) == f"{lid}:1"
    tbl._activate(tbl.model.index(0, 0))  # double-click: select it on the map
    assert wait_until(lambda: win.panel.current_id == f"{lid}:1")
    # the tree's check box hides and shows it on the map
    win.tree.item_for(lid).setCheckState(0, Qt.CheckState.Unchecked)
    assert wait_until(lambda: not big_stats(win, lid)["onMap"], 5000)
    draws = big_stats(win, lid)["draws"]
    win.tree.item_for(lid).setCheckState(0, Qt.CheckState.Checked)
    assert wait_until(lambda: big_stats(win, lid)["onMap"] and big_stats(win, lid)["draws"] > draws, 5000)
    win.stack.rename(lid, "我的乡镇")
    assert win.tree.item_for(lid).text(0) == "我的乡镇  (2)"
    win.stack.move(lid, 5)
    assert wait_until(lambda: js(win.map, "ZJ.order.indexOf('%s')" % lid) == 5)
    win.stack.move(lid, len(win.stack) - 1)
    texts = [a.text() for a in win.tree.menu_for(lid).actions()]
    for want in ("样式… Style…", "属性表 Attribute table", "编码 / 坐标系… Encoding / CRS…", "重命名 Rename…", "移除 Remove"):
        assert want in texts


def test_tree_context_menu_user_and_seed_layers(win, monkeypatch):
    shown: list[list[str]] = []
    monkeypatch.setattr(win.tree, "exec_menu", lambda menu, pos: shown.append([x.text() for x in menu.actions()]))
    lid = next(layer.id for layer in win.stack if layer.kind == "user")
    tree = win.tree
    for layer_id in (lid, "cluster_zones"):
        item = tree.item_for(layer_id)
        tree.scrollToItem(item)
        tree.customContextMenuRequested.emit(tree.visualItemRect(item).center())
    user_menu, seed_menu = shown  # one menu in the tree; the user-layer controller adds its items
    assert "样式… Style…" in user_menu and "移除 Remove" in user_menu
    assert "缩放至图层 Zoom to layer" in seed_menu and "样式… Style…" not in seed_menu and "移除 Remove" not in seed_menu


def test_drop_a_file_onto_the_window(win, data, boxes):
    d = data / "drop"
    d.mkdir()
    shp = corpus.place_points(d, "towns", 4549)  # Gauss–Krüger metres with .prj
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(shp)), QUrl.fromLocalFile(str(shp.with_suffix(".dbf")))])
    enter = QDragEnterEvent(QPoint(500, 400), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, enter)
    assert enter.isAccepted()
    n = len(win.user_layers.tasks)
    drop = QDropEvent(QPointF(500, 400), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, drop)
    assert len(win.user_layers.tasks) == n + 1  # .shp and its .dbf: one layer
    task = win.user_layers.tasks[-1]
    wait_task(task)
    assert task.status == "loaded", task.message
    layer = win.stack.layer(task.layer_id)
    assert layer.geometry == "point" and len(layer.features) == 4
    hz = next(f for f in layer.features if f.props["名称"] == "杭州市")
    assert hz.geometry.distance(__import__("shapely").Point(120.15, 30.28)) < 1e-6
    assert wait_until(lambda: drawn(win, task.layer_id), 5000)
    # a file of another kind is not taken
    other = QMimeData()
    other.setUrls([QUrl.fromLocalFile(str(d / "report.docx"))])
    enter2 = QDragEnterEvent(QPoint(500, 400), Qt.DropAction.CopyAction, other, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    enter2.ignore()
    QApplication.sendEvent(win, enter2)
    assert not boxes


def test_geopackage_with_several_layers_asks_which(win, data, monkeypatch):
    gpkg = corpus.multilayer_gpkg(data)
    asked = []

    def choose(parent, info, encoding=None, crs=None):
        asked.append(info.layer_names)
        return ["zones"], None, None

    monkeypatch.setattr(qul, "choose_layers", choose)
    n = len(win.user_layers.tasks)
    task = qul.add_layer_from_path(win.user_layers, gpkg)
    wait_task(task)
    assert task.status == "chose" and asked == [["城镇", "zones"]]
    follow = win.user_layers.tasks[n + 1]
    wait_task(follow)
    assert follow.status == "loaded"
    layer = win.stack.layer(follow.layer_id)
    assert layer.title == "plan — zones" and len(layer.features) == 2


def test_cancel_a_long_load_leaves_the_stack_alone(win, data, monkeypatch, boxes):
    shp = corpus.grid_shapefile(data, 600, "slow_grid")
    real = userfiles.read_layer

    def slow(*args, progress=None, cancel=None, **kw):
        def step(fraction, message):
            progress(fraction, message)
            time.sleep(0.03)

        return real(*args, progress=step, cancel=cancel, chunk_size=10, **kw)

    monkeypatch.setattr(userfiles, "read_layer", slow)
    before = win.stack.ids()
    task = qul.add_layer_from_path(win.user_layers, shp)
    assert wait_until(lambda: task.fraction > 0.05, 10000)
    assert task.progress is not None and task.status == "running"
    # the window stays responsive while the worker reads
    t = time.perf_counter()
    spin(50)
    assert time.perf_counter() - t < 0.5
    assert wait_until(lambda: task.progress.isVisible(), 3000)
    (cancel,) = task.progress.findChildren(QPushButton)
    assert "Cancel" in cancel.text()
    cancel.click()
    wait_task(task)
    assert task.status == "cancelled"
    assert win.stack.ids() == before
    assert not boxes


def _deleted_mid_read(d: Path) -> Path:
    return corpus.grid_shapefile(d, 300, "vanishing")


def _unknown_crs(d: Path) -> Path:
    shp = d / "faraway.shp"
    w = shapefile.Writer(str(shp), shapeType=shapefile.POINT)
    w.field("name", "C", 10)
    w.point(9.0e8, 7.5e8)
    w.record("x")
    w.close()
    return shp


def _undecodable(d: Path) -> Path:
    from zjmap.core import dbf

    shp = corpus.place_points(d, "junk", 4326)
    raw = bytearray(shp.with_suffix(".dbf").read_bytes())
    start = dbf.parse_header(bytes(raw)).header_len + 1
    raw[start : start + 4] = b"\xff\xff\xff\x80"
    shp.with_suffix(".dbf").write_bytes(bytes(raw))
    return shp


BAD = [
    (corpus.zero_byte_shp, "zero.shp is empty"),
    (corpus.truncated_shp, "cut.shp is incomplete"),
    (corpus.text_shp, "notes.shp is not a shapefile"),
    (corpus.empty_zip, "empty.zip is an empty zip"),
    (_unknown_crs, "cannot tell the coordinate system"),
    (_undecodable, "cannot be decoded"),
    (lambda d: d / "gone.shp", "gone.shp"),
    (_deleted_mid_read, "disappeared"),
]


@pytest.mark.parametrize(("make", "words"), BAD, ids=[w.split()[0] for _m, w in BAD])
def test_bad_input_is_a_message_and_changes_nothing(win, data, monkeypatch, boxes, make, words):
    d = data / f"bad_{len(list(data.iterdir()))}"
    d.mkdir()
    path = make(d)
    if "disappeared" in words:
        real = userfiles.read_layer

        def vanishing(*args, progress=None, **kw):
            def step(fraction, message):
                progress(fraction, message)
                if message.startswith("Read "):
                    for f in Path(path).parent.glob("vanishing.*"):
                        f.unlink()

            return real(*args, progress=step, chunk_size=50, **kw)

        monkeypatch.setattr(userfiles, "read_layer", vanishing)
    before = win.stack.ids()
    task = qul.add_layer_from_path(win.user_layers, path)
    wait_task(task)
    assert task.status == "failed"
    assert win.stack.ids() == before
    assert len(boxes) == 1, boxes
    title, text = boxes[0]
    assert "Cannot load" in title and words in text, text
    assert "Traceback" not in text and "File \"" not in text
    # the app still works: the map answers
    assert js(win.map, "1 + 1") == 2


def test_wrong_encoding_offers_a_retry_with_another(win, data, monkeypatch):
    (data / "enc").mkdir()
    shp = gbk_squares(data / "enc")
    answers = []

    class YesBox:
        StandardButton = QMessageBox.StandardButton

        @staticmethod
        def warning(parent, title, text, *args, **kw):
            answers.append(text)
            return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(qul, "QMessageBox", YesBox)
    monkeypatch.setattr(qul, "ask_read_options", lambda parent, enc=None, crs=None, note="": ("GBK", None))
    n = len(win.user_layers.tasks)
    task = qul.add_layer_from_path(win.user_layers, shp, encoding="UTF-8")
    wait_task(task)
    assert task.status == "failed" and "UTF-8" in answers[0]
    retry = win.user_layers.tasks[n + 1]
    wait_task(retry)
    assert retry.status == "loaded"
    layer = win.stack.layer(retry.layer_id)
    assert layer.features[0].props["名称"] == "武义县"
    assert layer.source.encoding_override == "GBK"


def test_add_with_encoding_and_crs_chosen_by_hand(win, data, monkeypatch):
    d = data / "by_hand"
    d.mkdir()
    shp = corpus.place_points(d, "no_prj", 4549, prj=False)  # Gauss–Krüger metres, no .prj

    class FakeDialog:
        @staticmethod
        def getOpenFileName(*args, **kw):
            return str(shp), ""

    monkeypatch.setattr(qul, "QFileDialog", FakeDialog)
    monkeypatch.setattr(qul, "ask_read_options", lambda parent, enc=None, crs=None, note="": ("UTF-8", "EPSG:4549"))
    win.act_add_layer_options.trigger()
    task = win.user_layers.tasks[-1]
    wait_task(task)
    assert task.status == "loaded", task.message
    src = win.stack.layer(task.layer_id).source
    assert src.crs == "EPSG:4549" and not src.crs_guessed and src.crs_override == "EPSG:4549"


def test_heavy_layer_shows_first_then_gets_its_zoom_bands(win, data, monkeypatch):
    import geopandas as gpd
    import numpy as np
    import shapely

    import zjmap.core.userlayers as cul

    t = np.linspace(0, 2 * np.pi, 600, endpoint=False)
    rings = [np.column_stack([119.0 + (i % 10) * 0.05 + 0.02 * np.cos(t), 29.0 + (i // 10) * 0.05 + 0.02 * np.sin(t)])
             for i in range(60)]
    path = data / "heavy.geojson"
    gpd.GeoDataFrame({"名称": [f"圈{i}" for i in range(60)]}, geometry=[shapely.Polygon(r) for r in rings], crs=4326).to_file(path)
    monkeypatch.setattr(cul, "DEFER_VERTICES", 10_000)  # 36,000 vertices count as heavy here
    added: list[str] = []
    win.user_layers.bands_added.connect(added.append)
    task = qul.add_layer_from_path(win.user_layers, path)
    wait_task(task)
    assert task.status == "loaded"
    lid = task.layer_id
    assert wait_until(lambda: added == [lid], 15000)
    layer = win.stack.layer(lid)
    assert not layer.display.bands_pending and len(layer.display.arrays.geoms) >= 2
    key = layer.display.arrays.key
    assert wait_until(lambda: (big_stats(win, lid) or {}).get("key") == key, 5000), big_stats(win, lid)
    assert big_stats(win, lid)["sets"] >= 2 and not win.map.js_errors
    win.user_layers.remove(lid)
    win.user_layers.bands_added.disconnect(added.append)


def test_reload_in_place_with_other_crs_then_remove(win, data, monkeypatch):
    lid = next(layer.id for layer in win.stack if layer.kind == "user")
    idx = win.stack.ids().index(lid)
    title = win.stack.layer(lid).title
    monkeypatch.setattr(qul, "ask_read_options", lambda parent, enc=None, crs=None, note="": (None, "EPSG:4326"))
    task = win.user_layers.reload_with_options(lid)
    wait_task(task)
    assert task.status == "loaded", task.message
    assert win.stack.ids().index(lid) == idx and win.stack.layer(lid).title == title
    assert win.stack.layer(lid).source.crs == "EPSG:4326"
    # remove every user layer: the page and the stack forget them
    users = [layer.id for layer in win.stack if layer.kind == "user"]
    assert users
    remove_user_layers(win)
    assert not any(layer.kind == "user" for layer in win.stack)
    for u in users:
        assert wait_until(lambda u=u: js(win.map, f"ZJ.layers[{json.dumps(u)}] === undefined"), 5000)
    assert not win.user_layers.tables
    assert not win.map.js_errors


def test_empty_and_geometry_only_shapefiles_are_added_and_said_so(win, data, boxes):
    """A zero-record shapefile becomes an empty layer (the status bar says so);
    one without .dbf shows its shapes, with the warning."""
    d = data / "odd"
    d.mkdir()
    task = qul.add_layer_from_path(win.user_layers, corpus.zero_features_shp(d))
    wait_task(task)
    assert task.status == "loaded", task.message
    layer = win.stack.layer(task.layer_id)
    assert len(layer.features) == 0 and layer.kind == "user"
    assert "图层为空 The layer is empty" in win.statusBar().currentMessage()
    assert not boxes
    assert js(win.map, "1 + 1") == 2  # the page took the empty layer and still answers
    task = qul.add_layer_from_path(win.user_layers, corpus.geometry_only_shp(d))
    wait_task(task)
    assert task.status == "loaded", task.message
    layer = win.stack.layer(task.layer_id)
    assert len(layer.features) == 4 and layer.geometry == "point"
    assert "shapes_only.dbf is missing" in win.statusBar().currentMessage()
    assert wait_until(lambda: drawn(win, task.layer_id), 5000)
    remove_user_layers(win)


def test_reopening_an_unchanged_big_file_comes_from_the_cache_and_a_changed_one_does_not(win, tmp_path):
    from test_layercache import write_parcels

    from zjmap.core import layercache

    path = write_parcels(tmp_path / "parcels.shp")
    first = qul.add_layer_from_path(win.user_layers, path)
    wait_task(first)
    assert first.status == "loaded" and not first.from_cache
    key = layercache.cache_key(path)
    assert wait_until(lambda: (layercache.cache_root() / key).is_dir(), 20000)  # kept once shown
    props = win.stack.layer(first.layer_id).features[1500].props
    geom = win.stack.layer(first.layer_id).features[1500].geometry
    win.user_layers.remove(first.layer_id)
    again = qul.add_layer_from_path(win.user_layers, path)
    wait_task(again)
    assert again.status == "loaded" and again.from_cache
    lid = again.layer_id
    assert wait_until(lambda: drawn(win, lid), 10000), big_stats(win, lid)
    assert win.stack.layer(lid).features[1500].props == props and props["名称"] == "地块1500"
    # drawn first from the coarsest set, then every zoom band once the page has read that
    assert wait_until(lambda: len(win.stack.layer(lid).display.arrays.geoms) == 3, 10000)
    full = win.stack.layer(lid).display.arrays
    assert wait_until(lambda: big_stats(win, lid)["key"] == full.key and big_stats(win, lid)["sets"] == 3, 10000)
    assert full.bands == [(8, 0), (10, 1), (12, 2), (99, 2)]
    # its exact geometry is made in the background once it is shown; a click then finds the parcel
    column = win.stack.layer(lid).features.column
    assert wait_until(lambda: column.built, 10000)
    g = win.stack.layer(lid).features[1500].geometry
    assert g.equals_exact(geom, 0)
    p = g.representative_point()
    win.map.fit_bounds(*g.bounds, 16)
    spin(300)
    js_click(win, p.x, p.y)
    assert wait_until(lambda: win.panel.current_id == f"{lid}:1500", 5000), win.panel.current_id
    win.user_layers.remove(lid)
    write_parcels(path, word="用地")  # changed (same sizes: only the times tell)
    changed = qul.add_layer_from_path(win.user_layers, path)
    wait_task(changed)
    assert changed.status == "loaded" and not changed.from_cache
    assert win.stack.layer(changed.layer_id).features[1500].props["名称"] == "用地1500"
    win.user_layers.remove(changed.layer_id)


def test_a_workspace_with_an_unchanged_big_file_reopens_it_from_the_cache(win, tmp_path):
    from test_layercache import write_parcels

    from zjmap.core import layercache
    from zjmap.core.userlayers import style_categorical

    path = write_parcels(tmp_path / "parcels.shp")
    first = qul.add_layer_from_path(win.user_layers, path)
    wait_task(first)
    lid = first.layer_id
    key = layercache.cache_key(path)
    assert wait_until(lambda: (layercache.cache_root() / key).is_dir(), 20000)  # kept once shown
    win.stack.set_style(lid, style_categorical(win.stack.layer(lid), "名称"))
    style = win.stack.layer(lid).style
    props = win.stack.layer(lid).features[777].props
    ctl = win.workspace
    ws_path = tmp_path / "plan.zjmap"
    assert ctl.save_to(ws_path)
    # not in the cache (cleared): the workspace reads the file, then keeps it there
    import shutil

    shutil.rmtree(layercache.cache_root() / key)
    assert ctl.new_workspace(ask=False) and lid not in win.stack
    assert ctl.open_path(ws_path, ask=False)
    assert wait_until(lambda: not ctl.busy and lid in win.stack, 20000)
    assert win.stack.layer(lid).display.arrays.chunked  # read from the file (chunk by chunk)
    assert wait_until(lambda: layercache.reopen(path, "parcels") is not None, 20000)  # kept once its bands exist
    # kept: the next opening takes it from the cache
    assert ctl.new_workspace(ask=False) and lid not in win.stack
    assert ctl.open_path(ws_path, ask=False)
    assert wait_until(lambda: not ctl.busy and lid in win.stack, 20000)
    back = win.stack.layer(lid)
    assert isinstance(back.features.column, layercache.RaggedColumn)  # from the cache, not read again
    assert not back.display.arrays.chunked
    assert back.style == style and back.features[777].props == props
    assert wait_until(lambda: drawn(win, lid), 10000), big_stats(win, lid)
    assert wait_until(lambda: back.features.column.built, 10000)  # made in the background, as for File → Add
    assert ctl.new_workspace(ask=False)


def test_a_big_point_csv_is_drawn_and_identified_from_its_coordinates(win, tmp_path):
    """30,000 points from a lon/lat table (a big layer: the canvas renderer's): on the map, a click shows the
    clicked point in the panel, the attribute table lists it, and none of it
    made a shapely point per row (zjmap.core.pointcolumn)."""
    import numpy as np
    import pandas as pd

    from zjmap.qt.userlayers import add_layer_from_path

    n = 30_000
    rng = np.random.default_rng(11)
    t = pd.DataFrame({"lon": np.round(rng.uniform(119.6, 120.6, n), 6), "lat": np.round(rng.uniform(29.6, 30.4, n), 6),
                      "名称": [f"兴趣点{k:06d}" for k in range(n)], "value": np.arange(n) * 0.5})
    path = tmp_path / "兴趣点.csv"
    t.to_csv(path, index=False)
    task = add_layer_from_path(win.user_layers, path)
    wait_task(task, 60000)
    assert task.status == "loaded", task.message
    lid = task.layer_id
    layer = win.stack.layer(lid)
    try:
        assert wait_until(lambda: drawn(win, lid), 20000), big_stats(win, lid)
        k = 24321
        win.map.set_view(float(t.lat[k]), float(t.lon[k]), 17)
        js_click(win, float(t.lon[k]), float(t.lat[k]))
        assert wait_until(lambda: win.panel.current_id == f"{lid}:{k}", 10000), win.panel.current_id
        assert "兴趣点024321" in win.panel.details.toPlainText()
        table = win.user_layers.open_table(lid)
        assert table.model.rowCount() == n and table.model.data(table.model.index(k, 0)) == "兴趣点024321"
        assert not layer.features.points.built and not win.map.js_errors
    finally:
        win.user_layers.close_table(lid)
        win.tree.remove_requested.emit(lid)
