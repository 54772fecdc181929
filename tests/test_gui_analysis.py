"""Analysis menu on the real window: filter, summarise, select by location,
buffer and the measure tool, each result checked against the core or Geod."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod
from PySide6.QtGui import QGuiApplication

from guitools import js, real_click, show_only, spin, wait_until

GEOD = Geod(ellps="WGS84")

DRAWN = """(function(){var n=0,t=0;(function walk(g){g.eachLayer(function(l){
  if(l.feature){t++; if((l.options.opacity||0)>0||(l.options.fillOpacity||0)>0) n++;} else if(l.eachLayer) walk(l);});
})(ZJ.layers['%s'].group); return JSON.stringify([n,t]);})()"""


@pytest.fixture(scope="module")
def analysis(win):
    win.analysis.quiet = True
    show_only(win, {"demo_hubs", "demo_axes"})
    spin(300)
    return win.analysis


def _wait_job(a, timeout=60000):
    assert wait_until(lambda: a.job is not None and a.job.status != "running", timeout), "analysis never finished"
    assert a.job.status == "done", a.last_error


def _wait_load(a, timeout=60000):
    task = a.loads[-1]
    assert wait_until(lambda: task.done and task.layer_id in a.stack, timeout), "result layer never loaded"
    return a.stack.layer(task.layer_id)


def test_filter_dialog_typed_built_and_drawn(win, analysis):
    layer = win.stack.layer("demo_hubs")
    dlg = analysis.open_filter("demo_hubs")
    dlg.text.setText("host_prefecture = '上海")
    assert "position 19" in dlg.status.text() and "no closing" in dlg.status.text()
    assert dlg.text.cursorPosition() == 18
    dlg.apply()  # refused: the layer keeps every feature
    assert dlg.isVisible() and not layer.hidden
    dlg.text.setText("")
    dlg.field.setCurrentText("host_prefecture")
    dlg.op.setCurrentText("=")
    dlg.value.setCurrentText("上海市")
    dlg.add_clause()
    assert dlg.text.text() == "host_prefecture = '上海市'"
    n_sh = sum(f.props["host_prefecture"] == "上海市" for f in layer.features)
    assert dlg.status.text().startswith(f"{n_sh:,} / {len(layer.features):,}")
    dlg.apply()
    assert not dlg.isVisible()
    assert len(layer.hidden) == len(layer.features) - n_sh > 0
    assert wait_until(lambda: js(win.map, DRAWN % "demo_hubs") == [n_sh, len(layer.features)])
    # the workspace keeps it
    from zjmap.core import workspace as ws

    assert "host_prefecture = '上海市'" in ws.dumps(ws.capture(win.stack))
    analysis.open_filter("demo_hubs").text.setText("")
    analysis.filter_dialog.apply()
    assert not layer.hidden
    assert wait_until(lambda: js(win.map, DRAWN % "demo_hubs") == [len(layer.features)] * 2)


def test_layer_menu_opens_the_filter_of_a_seed_layer(win, analysis):
    win.tree.filter_requested.emit("cluster_zones")
    dlg = analysis.filter_dialog
    assert dlg.isVisible() and dlg.layer.id == "cluster_zones"
    dlg.reject()


def test_filter_on_a_user_layer_shows_in_the_attribute_table(win, analysis, tmp_path):
    from zjmap.qt.userlayers import add_layer_from_path

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"名称": [f"厂{i}" for i in range(60)], "lon": rng.uniform(120.5, 121, 60),
                       "lat": rng.uniform(30.5, 31, 60), "产值": rng.uniform(0, 100, 60).round(1)})
    p = tmp_path / "firms.csv"
    df.to_csv(p, index=False, encoding="gbk")
    task = add_layer_from_path(win.user_layers, p)
    assert wait_until(lambda: task.done and task.layer_id in win.stack, 30000)
    lid = task.layer_id
    table = win.user_layers.open_table(lid)
    assert table.model.rowCount() == 60
    dlg = analysis.open_filter(lid)
    dlg.text.setText("产值 >= 50 and 名称 like '厂1%'")
    dlg.apply()
    want = int(((df["产值"] >= 50) & df["名称"].str.startswith("厂1")).sum())
    assert 0 < want < 60
    assert table.model.rowCount() == want
    assert f"{want:,} / 60" in table.count.text()
    names = {table.model.index(r, 0).data() for r in range(want)}
    assert names == set(df.loc[(df["产值"] >= 50) & df["名称"].str.startswith("厂1"), "名称"])
    win.user_layers.close_table(lid)
    win.user_layers.remove(lid)


def test_summarise_dialog_table_copy_save_and_layer(win, analysis, tmp_path):
    from zjmap.core.analysis import summarize
    from zjmap.core.analysis_io import open_layer, zones_of

    dlg = analysis.open_summarise()
    dlg.data.setCurrentIndex(dlg.data.findData("demo_hubs"))
    dlg.zones.setCurrentIndex(dlg.zones.findData("base_county"))
    assert dlg.checks["count"].isChecked() and not dlg.checks["area"].isEnabled()
    dlg.where.setText("category like '%创新%'")
    dlg.run()
    _wait_job(analysis)
    sw = analysis.summary_window
    hubs = open_layer("demo_hubs").frame
    ref = summarize(zones_of(open_layer("county")), hubs[hubs["category"].str.contains("创新")], None, ["count"])
    assert sw.proxy.rowCount() == len(ref) >= 300
    # sort by count, descending: the top row is the county with most hubs
    col = sw.model.cols.index("count")
    sw.view.sortByColumn(col, sw.view.horizontalHeader().sortIndicatorOrder().DescendingOrder)
    top = ref.sort_values("count", ascending=False).iloc[0]
    assert int(sw.proxy.index(0, col).data()) == top["count"] > 0
    sw.copy()
    text = QGuiApplication.clipboard().text().splitlines()
    assert text[0].split("\t") == ["adcode", "name", "count"] and len(text) == len(ref) + 1
    out = sw.save(str(tmp_path / "hubs.xlsx"))
    back = pd.read_excel(out, dtype={"adcode": str})
    assert back.set_index("adcode")["count"].to_dict() == ref.set_index("adcode")["count"].to_dict()
    # the result is a layer too, graduated by the count, and its zones show in the panel
    layer = _wait_load(analysis)
    assert layer.style.get("kind") == "graduated" and layer.style.get("field") == "count"
    assert layer.style.get("choropleth") and layer.style.get("scheme") == "natural_breaks"  # issue 13's classes
    assert len(layer.features) == len(ref)
    f = next(f for f in layer.features if f.props.get("name") == top["name"])
    pt = f.geometry.representative_point()
    show_only(win, {layer.id})
    win._on_map_click(pt.x, pt.y, 11)
    assert wait_until(lambda: win.explorer.selection.state.focus == f.id)
    assert wait_until(lambda: "count" in win.panel.details.toPlainText())
    text = win.panel.details.toPlainText()
    assert top["name"] in text and f"count{int(top['count'])}" in text.replace("\t", "").replace(" ", "").replace("\n", "")
    win.user_layers.remove(layer.id)
    show_only(win, {"demo_hubs", "demo_axes"})


def test_summarise_refuses_a_bad_filter(win, analysis):
    dlg = analysis.open_summarise()
    dlg.data.setCurrentIndex(dlg.data.findData("demo_hubs"))
    dlg.where.setText("nope > 1")
    before = analysis.job
    assert dlg.run() is None
    assert "no field named 'nope'" in analysis.last_error and analysis.job is before
    dlg.close()


def test_summarise_runs_off_the_gui_thread_and_cancels(win, analysis, tmp_path):
    """A long summary: the window keeps answering, Cancel stops it, nothing is added."""
    from zjmap.qt.userlayers import add_layer_from_path

    rng = np.random.default_rng(8)
    n = 150_000
    df = pd.DataFrame({"lon": rng.uniform(116, 122.5, n).round(5), "lat": rng.uniform(28, 35, n).round(5),
                       "v": rng.uniform(0, 1, n).round(3)})
    p = tmp_path / "many.csv"
    df.to_csv(p, index=False)
    task = add_layer_from_path(win.user_layers, p)
    assert wait_until(lambda: task.done and task.layer_id in win.stack, 60000)
    layers_before = win.stack.ids()
    loads_before = len(analysis.loads)
    dlg = analysis.open_summarise()
    dlg.data.setCurrentIndex(dlg.data.findData(task.layer_id))
    dlg.zones.setCurrentIndex(dlg.zones.findData("base_county"))
    dlg.field.setCurrentIndex(dlg.field.findData("v"))
    dlg.checks["sum"].setChecked(True)
    job = dlg.run()
    ticks = []
    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    assert wait_until(lambda: job.worker.status == "running", 5000)
    spin(200)
    job.cancel()
    assert wait_until(lambda: job.status == "cancelled", 30000), job.status
    timer.stop()
    assert len(ticks) >= 5  # the event loop ran while the summary worked
    assert win.stack.ids() == layers_before and len(analysis.loads) == loads_before
    win.user_layers.remove(task.layer_id)


def test_select_by_location_within_distance(win, analysis):
    from zjmap.core.analysis import select_by_location
    from zjmap.core.analysis_io import open_layer

    dlg = analysis.open_select()
    dlg.a.setCurrentIndex(dlg.a.findData("demo_hubs"))
    dlg.b.setCurrentIndex(dlg.b.findData("demo_axes"))
    dlg.rel.setCurrentIndex(dlg.rel.findData("dwithin"))
    dlg.km.setValue(3.0)
    dlg.run()
    _wait_job(analysis)
    layer = _wait_load(analysis)
    hubs, axes = open_layer("demo_hubs").frame, open_layer("demo_axes").frame
    want = hubs[select_by_location(hubs.geometry, axes.geometry, "dwithin", 3.0)]
    assert sorted(f.props["name_zh"] for f in layer.features) == sorted(want["name_zh"])
    assert 0 < len(layer.features) < len(hubs)
    win.user_layers.remove(layer.id)


def test_buffer_selected_feature(win, analysis):
    hub = win.stack.layer("demo_hubs").features[0]
    win.explorer.select(hub.id)
    analysis.job = None
    from zjmap.qt.analysis_dialogs import buffer_selection

    buffer_selection(win.analysis, 2.0)
    _wait_job(analysis)
    layer = _wait_load(analysis)
    (f,) = layer.features
    ring = shapely.get_coordinates(f.geometry.exterior)
    d = GEOD.inv(np.full(len(ring), hub.geometry.x), np.full(len(ring), hub.geometry.y), ring[:, 0], ring[:, 1])[2]
    assert np.allclose(d, 2000, rtol=3e-3)
    win.user_layers.remove(layer.id)
    win.explorer.selection.clear()


def test_measure_tool_live_and_ellipsoidal(win, analysis, tmp_path):
    m = analysis.measure
    win.map.set_view(30.95, 120.95, 11)
    spin(600)
    m.action.trigger()
    assert m.active and m.bar.isVisible()
    a, b, c = (120.90, 30.90), (121.00, 30.95), (120.98, 31.02)
    real_click(win, *a)
    assert wait_until(lambda: len(m.points) == 1)
    assert win.explorer.selection.state.focus is None  # clicks measure, not select
    win.map.bridge.clicked.emit(*b, 11)
    d_ab = GEOD.inv(*m.points[0], *b)[2] / 1000
    assert f"{d_ab:,.2f} km" in m.label.text()
    win.map.bridge.moved.emit(*c)  # live: the figure follows the mouse
    d_bc = GEOD.inv(*b, *c)[2] / 1000
    assert f"{d_ab + d_bc:,.2f} km" in m.label.text()
    win.map.bridge.clicked.emit(*c, 11)
    m.mode.setCurrentIndex(m.mode.findData("area"))
    ring = m.points + [m.points[0]]
    area = abs(GEOD.polygon_area_perimeter([p[0] for p in ring], [p[1] for p in ring])[0]) / 1e6
    assert f"{area:,.3f} km²" in m.label.text()
    # drawn on the map: the polygon and its three corners
    assert wait_until(lambda: js(win.map, "ZJ.selection ? ZJ.selection.getLayers().length : 0") == 4)
    spin(400)
    win.grab().save(str(tmp_path / "measure.png"))
    m.action.trigger()
    assert not m.active and not m.points
    win._on_map_click(120.92, 30.84, 11)  # clicks select again
