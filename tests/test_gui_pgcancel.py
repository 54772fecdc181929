"""Long server work stopped from the window (the real server of conftest ``pg``): Cancel in the
summarise job's progress dialog stops the statement on the server, nothing is added, and the next
summary works; a server that drops the query or refuses the login says so in plain words."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QProgressDialog, QPushButton
from shiboken6 import isValid

from zjmap.core import postgis
from zjmap.core.analysis import summarize
from zjmap.core.analysis_io import open_layer, zones_of
from zjmap.core.livelayer import live_layer, live_of
from zjmap.core.pgsource import parse_pg
from zjmap.qt.analysis_dialogs import results_dir
from guitools import wait_until

from pgserver import PASSWORD

#: Forty discs of 4,000 vertices over Zhejiang: cut at ~300 county edges each, a summary of all
#: takes the server ~15 s here (one disc: under a second).
SLOW_SQL = """
SELECT setseed(0.3);
CREATE TABLE public.slow_discs (gid serial PRIMARY KEY, 值 double precision, geom geometry(Polygon, 4490));
INSERT INTO public.slow_discs (值, geom)
SELECT i, ST_SetSRID(ST_Buffer(ST_MakePoint(118.5 + random() * 3.5, 28 + random() * 3), 0.8, 1000), 4490)
FROM generate_series(1, 40) i;
CREATE INDEX slow_discs_geom ON public.slow_discs USING gist (geom);
ANALYZE public.slow_discs;
CREATE ROLE zj_planner LOGIN PASSWORD 'planner-密码';
GRANT SELECT ON public.slow_discs TO zj_planner;
"""
MARK = "zjmap_zone84"  # a word of the summary's SQL (pgsummary), to find it in pg_stat_activity


@pytest.fixture(scope="module")
def slow(pg):
    if not pg.sql("SELECT count(*) FROM pg_class WHERE relname = 'slow_discs'")[0][0]:
        pg.sql(SLOW_SQL)
    return pg


def _running(pg) -> int:
    return pg.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zjmap' AND state = 'active' "
                  "AND position(%s in query) > 0", (MARK,))[0][0]


def _add_live(win, pg, lid: str, user: str = "postgres", password: str = PASSWORD):
    postgis.forget_password(parse_pg(pg.uri.replace("postgres@", f"{user}@"))[0].server_key)
    uri = pg.uri.replace("postgres@", f"{user}:{password}@") + "?table=public.slow_discs"
    handle = postgis.open_layer(uri)
    win.map.set_view(29.5, 120.3, 8)
    assert wait_until(lambda: win.view is not None and abs(win.view[4] - 8) < 0.01, 10000)
    win.stack.add(live_layer(handle, handle.src.text, lid, view=tuple(win.view)))


def _summarise(win, lid: str, where: str = ""):
    """Fill the real dialog and press its OK button; the job it started."""
    a = win.analysis
    dlg = a.open_summarise()
    dlg.data.setCurrentIndex(dlg.data.findData(lid))
    dlg.zones.setCurrentIndex(dlg.zones.findData("base_county"))
    dlg.field.setCurrentIndex(dlg.field.findData("值"))
    dlg.checks["sum"].setChecked(True)
    assert dlg.checks["area"].isChecked()
    dlg.where.setText(where)
    before = a.job
    ok = dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    ok.click()
    assert a.job is not before
    return a.job


@pytest.fixture()
def quiet(win):
    a = win.analysis
    was, a.quiet = a.quiet, True
    yield a
    a.quiet = was


def test_cancel_stops_the_server_summary_and_the_next_one_works(win, slow, quiet, qtbot):
    pg, a, lid = slow, quiet, "user_pgslow"
    _add_live(win, pg, lid)
    try:
        layers, loads = win.stack.ids(), len(a.loads)
        files = set(results_dir().iterdir())
        job = _summarise(win, lid)
        assert wait_until(lambda: _running(pg) == 1, 10000), "the summary never ran on the server"
        progress = job.dialog
        assert isinstance(progress, QProgressDialog) and wait_until(progress.isVisible, 5000)
        cancel = [b for b in progress.findChildren(QPushButton) if "Cancel" in b.text()][0]
        qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
        assert wait_until(lambda: _running(pg) == 0, 2000), "the server still runs the summary"
        assert wait_until(lambda: job.status == "cancelled", 5000), (job.status, a.last_error)
        assert job.dialog is None and not (isValid(progress) and progress.isVisible())  # closed
        assert "已取消" in win.statusBar().currentMessage() and "Nothing was added" in a.last_message
        assert wait_until(lambda: not job.worker.thread.is_alive(), 5000)
        assert win.stack.ids() == layers and len(a.loads) == loads and set(results_dir().iterdir()) == files
        # the next summary (one disc) runs to its end and equals the Python path's
        job = _summarise(win, lid, "gid = 1")
        assert wait_until(lambda: job.status != "running", 60000)
        assert job.status == "done", a.last_error
        res = a.summary_window.result
        layer = postgis.open_layer(pg.uri.replace("postgres@", f"postgres:{PASSWORD}@") + "?table=public.slow_discs")
        try:
            layer.set_filter("gid = 1")
            here = summarize(zones_of(open_layer("county")), layer.read(), "值", ["count", "sum", "area"])
        finally:
            layer.close()
        assert res["count"].sum() == here["count"].sum() > 5
        assert res["area_km2"].sum() == pytest.approx(here["area_km2"].sum(), rel=1e-6)
        a.summary_window.close()
        task = a.loads[-1]
        assert wait_until(lambda: task.done, 30000)
        win.user_layers.remove(task.layer_id) if task.layer_id in win.stack else None
    finally:
        win.user_layers.remove(lid) if lid in win.stack else None


def test_a_dropped_query_and_a_refused_table_are_said_plainly(win, slow, quiet):
    pg, a, lid = slow, quiet, "user_pgslow_planner"
    _add_live(win, pg, lid, "zj_planner", "planner-密码")
    try:
        layers, loads = win.stack.ids(), len(a.loads)
        # the server ends the summary's session mid-query (an administrator, a restart, a lost link)
        job = _summarise(win, lid)
        assert wait_until(lambda: _running(pg) == 1, 10000)
        pg.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'zjmap' "
               "AND state = 'active' AND position(%s in query) > 0", (MARK,))
        assert wait_until(lambda: job.status != "running", 10000)
        assert job.status == "failed" and "数据库连接中断" in a.last_error and "Traceback" not in a.last_error
        assert win.stack.ids() == layers and len(a.loads) == loads
        # this login may no longer read the table
        pg.sql("REVOKE SELECT ON public.slow_discs FROM zj_planner")
        try:
            job = _summarise(win, lid, "gid = 1")
            assert wait_until(lambda: job.status != "running", 20000)
            assert job.status == "failed" and "没有权限" in a.last_error and "slow_discs" in a.last_error
            assert "may not" in win.statusBar().currentMessage()
        finally:
            pg.sql("GRANT SELECT ON public.slow_discs TO zj_planner")
        assert win.stack.ids() == layers and len(a.loads) == loads
    finally:
        win.user_layers.remove(lid) if lid in win.stack else None


SLEEPY_SQL = """
CREATE VIEW public.sleepy_parcels AS SELECT gid, name, geom FROM public.parcels WHERE pg_sleep(0.005)::text = '';
"""
SLEEPY = "sleepy_parcels"


def _sleepy_running(pg) -> int:
    return pg.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zjmap' AND state = 'active' "
                  "AND position(%s in query) > 0", (SLEEPY,))[0][0]


def test_a_newer_view_and_removing_the_layer_stop_the_server_query(win, pg, qtbot):
    """A live view query that takes the server long (5 ms a parcel: ~15 s for all 3,000) is stopped by
    the next view the planner moves to, and by removing the layer; the layer stays available."""
    if not pg.sql("SELECT count(*) FROM pg_class WHERE relname = %s", (SLEEPY,))[0][0]:
        pg.sql(SLEEPY_SQL)
    postgis.forget_password(parse_pg(pg.uri)[0].server_key)
    handle = postgis.open_layer(pg.uri.replace("postgres@", f"postgres:{PASSWORD}@") + f"?table=public.{SLEEPY}")
    lid, ctl = "user_pgsleepy", win.server_layers
    win.map.set_view(24.0, 113.0, 12)  # far from the parcels: a quick empty view
    assert wait_until(lambda: win.view is not None and abs(win.view[0] - 113.0) < 1, 10000)
    win.stack.add(live_layer(handle, handle.src.text, lid, view=tuple(win.view)))
    refused: list = []
    ctl.unavailable.connect(lambda *a: refused.append(a))
    try:
        win.map.set_view(30.3, 120.15, 9)  # all the parcels: the slow query
        assert wait_until(lambda: _sleepy_running(pg) == 1, 10000)
        with qtbot.waitSignal(ctl.refreshed, timeout=15000):
            win.map.set_view(24.0, 113.0, 12)  # moved on before it came back
            assert wait_until(lambda: _sleepy_running(pg) == 0, 2000), "the superseded query still runs"
        layer = win.stack.layer(lid)
        assert len(layer.features) == 0 and live_of(layer).available and abs(live_of(layer).bbox[0] - win.view[0]) < 1e-6
        win.map.set_view(30.3, 120.15, 9)
        assert wait_until(lambda: _sleepy_running(pg) == 1, 10000)
        win.user_layers.remove(lid)
        assert wait_until(lambda: _sleepy_running(pg) == 0, 2000), "the removed layer's query still runs"
        assert wait_until(lambda: handle._conn is None, 5000)  # its connection closed once the worker let go
        assert not refused and lid not in win.stack
    finally:
        win.user_layers.remove(lid) if lid in win.stack else None


def test_cancel_a_save_to_postgis_then_save(win, pg):
    from zjmap.core.userfiles import LoadedLayer
    from zjmap.core.userlayers import user_layer

    n = 60_000
    rng = np.random.default_rng(3)
    gdf = gpd.GeoDataFrame({"名称": [f"点{i}" for i in range(n)], "值": rng.uniform(0, 9, n)},
                           geometry=shapely.points(rng.uniform(119, 121, n), rng.uniform(29, 31, n)), crs=4326)
    loaded = LoadedLayer(name="点", gdf=gdf, driver="GPKG", source_crs="EPSG:4326", crs_guessed=False,
                         crs_guess_reason=None, encoding="UTF-8", encoding_reason=None, repaired=0, skipped=0,
                         geometry_types=["Point"], fields={"名称": "object", "值": "float64"},
                         bounds_wgs84=tuple(float(v) for v in gdf.total_bounds), warnings=[])
    lid = "user_pgsave_cancel"
    win.stack.add(user_layer(loaded, lid, title="点"))
    postgis.remember_password(parse_pg(pg.uri)[0].server_key, PASSWORD, keep=False)
    try:
        layers = win.stack.ids()
        dlg = win.server_layers.save_dialog(lid)
        dlg.target.setText(pg.uri + "?table=public.zj_points_cancel")
        dlg.save()
        [b for b in dlg.progress.findChildren(QPushButton) if "Cancel" in b.text()][0].click()  # its Cancel
        assert wait_until(lambda: "nothing was written" in dlg.status.text(), 15000), dlg.status.text()
        assert dlg.worker.status == "cancelled" and dlg.progress is None and dlg.buttons.isEnabled()
        assert pg.sql("SELECT to_regclass('public.zj_points_cancel')")[0][0] is None
        assert win.stack.ids() == layers
        dlg.save()  # again, to its end
        assert wait_until(lambda: dlg.written is not None or dlg.status.text().startswith("⚠"), 30000)
        assert dlg.written == n == pg.sql("SELECT count(*) FROM public.zj_points_cancel")[0][0]
    finally:
        win.user_layers.remove(lid) if lid in win.stack else None
