"""A filter typed in the window on a live PostGIS layer goes to the server (the real one of conftest
``pg``): the layer then holds exactly SQL's ``bbox AND filter``; a filter the server refuses is said
and the layer keeps the filter it had."""

from __future__ import annotations

import pytest

from zjmap.core import livelayer, postgis
from zjmap.core.livelayer import live_layer, live_of
from zjmap.core.pgsource import parse_pg
from zjmap.qt.analysis_dialogs import FilterDialog
from guitools import wait_until

from pgserver import PASSWORD


def _count(pg, view, where: str) -> int:
    w, s, e, n, _z = view
    return pg.sql(f"SELECT count(*) FROM parcels WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490) AND {where}",
                  (w, s, e, n))[0][0]


@pytest.fixture()
def live_small(monkeypatch):
    monkeypatch.setattr(livelayer, "LIVE_ROWS", 1000)


def _add_live_parcels(win, pg, lid: str, lat: float, lon: float, zoom: int):
    """The parcels table as a live layer at this view, its password typed in the URI (none kept)."""
    postgis.forget_password(parse_pg(pg.uri)[0].server_key)
    uri = pg.uri.replace("postgres@", f"postgres:{PASSWORD}@")
    handle = postgis.open_layer(uri + ("&" if "?" in uri else "?") + "table=public.parcels")
    win.map.set_view(lat, lon, zoom)
    assert wait_until(lambda: win.view is not None and abs(win.view[4] - zoom) < 0.01, 10000)
    win.stack.add(live_layer(handle, handle.src.text, lid, view=tuple(win.view)))


def test_filter_dialog_on_a_live_layer_is_pushed_to_the_server(win, pg, live_small, qtbot):
    lid = "user_pgfilter"
    _add_live_parcels(win, pg, lid, 30.25, 120.08, 14)
    try:
        assert len(win.stack.layer(lid).features) == _count(pg, win.view, "true") > 10
        dlg = FilterDialog(win.analysis, win.stack.layer(lid))
        dlg.text.setText("用地 = '工业用地' and plots > 4")
        with qtbot.waitSignal(win.server_layers.refreshed, timeout=20000):
            dlg.apply()
        layer = win.stack.layer(lid)
        want = _count(pg, win.view, "用地 = '工业用地' AND plots > 4")
        assert 0 < want < _count(pg, win.view, "true")
        assert len(layer.features) == want and not layer.hidden  # selected by the server, not hidden here
        assert live_of(layer).in_view == want and live_of(layer).handle.filter_text == "用地 = '工业用地' and plots > 4"
        # text compared with a number: the server's typing refuses it; said, and the layer keeps its filter
        with qtbot.waitSignal(win.server_layers.filter_refused, timeout=20000) as sig:
            win.stack.set_style(lid, {**layer.style, "filter": "name > 3"})
        assert sig.args[0] == lid and "筛选无效" in sig.args[1]
        layer = win.stack.layer(lid)
        assert layer.style["filter"] == "用地 = '工业用地' and plots > 4" and live_of(layer).available
        assert len(layer.features) == want
        assert "筛选无效" in win.statusBar().currentMessage()
    finally:
        win.user_layers.remove(lid) if lid in win.stack else None


def test_zoom_to_a_filtered_live_layer_goes_to_what_the_filter_keeps(win, pg, live_small, qtbot):
    # parcels in the north-east corner, far from the street view the layer is added at
    gids = [r[0] for r in pg.sql("SELECT gid FROM parcels WHERE geom && ST_MakeEnvelope(120.3, 30.42, 120.42, 30.52, 4490)")]
    w, s, e, n = pg.sql(f"SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Extent(geom) b "
                        f"FROM parcels WHERE gid IN ({', '.join(map(str, gids))})) x")[0]
    lid = "user_pgzoom"
    _add_live_parcels(win, pg, lid, 30.2, 120.0, 14)
    try:
        layer = win.stack.layer(lid)
        with qtbot.waitSignal(win.server_layers.refreshed, timeout=20000):
            win.stack.set_style(lid, {**layer.style, "filter": f"gid in ({', '.join(map(str, gids))})"})
        assert len(win.stack.layer(lid).features) == 0  # none of them in this view
        win.tree.layer_activated.emit(lid)  # the layer tree's 缩放至图层 Zoom to layer
        assert wait_until(lambda: abs((win.view[0] + win.view[2]) / 2 - (w + e) / 2) < 0.01
                          and abs((win.view[1] + win.view[3]) / 2 - (s + n) / 2) < 0.01, 15000), win.view
        vw, vs, ve, vn, _z = win.view
        assert vw <= w and vs <= s and ve >= e and vn >= n  # the filtered parcels fill the view …
        assert ve - vw < 3 * (e - w) + 0.05  # … not the whole table's
        # the view moved: the layer is asked again and now holds them all
        assert wait_until(lambda: len(win.stack.layer(lid).features) == len(gids), 20000)
    finally:
        win.user_layers.remove(lid) if lid in win.stack else None


def test_summarise_dialog_on_a_live_layer_summarises_the_whole_table(win, pg, live_small):
    """The map holds only the view's parcels; the summary is of the table (in SQL, with the dialog's filter)."""
    lid = "user_pgsum"
    _add_live_parcels(win, pg, lid, 30.25, 120.08, 15)
    a = win.analysis
    quiet, a.quiet = a.quiet, True
    try:
        assert 0 < len(win.stack.layer(lid).features) < 300
        dlg = a.open_summarise()
        dlg.data.setCurrentIndex(dlg.data.findData(lid))
        dlg.zones.setCurrentIndex(dlg.zones.findData("base_county"))
        dlg.field.setCurrentIndex(dlg.field.findData("area_ha"))
        assert dlg.checks["area"].isChecked()
        dlg.checks["sum"].setChecked(True)
        dlg.where.setText("用地 = '居住用地'")
        dlg.run()
        assert wait_until(lambda: a.job is not None and a.job.status != "running", 60000)
        assert a.job.status == "done", a.last_error
        res = a.summary_window.result
        n, area, value = pg.sql("SELECT count(*), sum(ST_Area(ST_SetSRID(geom, 4326)::geography)) / 1e6, sum(area_ha) "
                                "FROM parcels WHERE 用地 = '居住用地'")[0]
        assert n <= res["count"].sum() <= n * 1.25  # some cross a county border and count in both
        assert res["area_km2"].sum() == pytest.approx(area, rel=1e-6)
        assert res["sum_area_ha"].sum() == pytest.approx(value, rel=1e-6)
        a.summary_window.close()
        task = a.loads[-1]
        assert wait_until(lambda: task.done, 30000)
        win.user_layers.remove(task.layer_id) if task.layer_id in win.stack else None
    finally:
        a.quiet = quiet
        win.user_layers.remove(lid) if lid in win.stack else None


def test_zoom_to_a_filtered_layer_read_whole_goes_to_what_the_filter_keeps(win, pg):
    from zjmap.core.userfiles import read_layer
    from zjmap.core.userlayers import user_layer

    uri = pg.uri.replace("postgres@", f"postgres:{PASSWORD}@") + "?table=public.parcels"
    gids = [r[0] for r in pg.sql("SELECT gid FROM parcels WHERE geom && ST_MakeEnvelope(119.9, 30.1, 120.0, 30.18, 4490)")]
    w, s, e, n = pg.sql(f"SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Extent(geom) b "
                        f"FROM parcels WHERE gid IN ({', '.join(map(str, gids))})) x")[0]
    lid = "user_pgwhole"
    win.stack.add(user_layer(read_layer(uri), lid, title="地块 parcels", source={"path": uri}))
    try:
        assert live_of(win.stack.layer(lid)) is None and len(win.stack.layer(lid).features) == 3000
        win.stack.set_style(lid, {**win.stack.layer(lid).style, "filter": f"gid in ({', '.join(map(str, gids))})"})
        assert len(win.stack.layer(lid).hidden) == 3000 - len(gids)
        win.map.set_view(30.45, 120.35, 14)
        assert wait_until(lambda: win.view is not None and abs(win.view[1] - 30.45) < 0.1, 10000)
        win.tree.layer_activated.emit(lid)
        assert wait_until(lambda: abs((win.view[0] + win.view[2]) / 2 - (w + e) / 2) < 0.01
                          and abs((win.view[1] + win.view[3]) / 2 - (s + n) / 2) < 0.01, 15000), win.view
    finally:
        win.user_layers.remove(lid) if lid in win.stack else None
