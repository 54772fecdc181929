"""Server layers in the real window against the real PostgreSQL of conftest's ``pg``:
added through File → Add database / web layer…, drawn from what the view needs,
redrawn on pan/zoom, marked unavailable when the server dies, reconnected,
saved to PostGIS, and written to a workspace without the password."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor

import zjmap.qt.userlayers as qul
from zjmap.core import livelayer, postgis
from zjmap.core import workspace as wsm
from zjmap.core.livelayer import live_of
from zjmap.core.pgsource import parse_pg
from guitools import grab_map, spin, wait_until

from pgserver import PASSWORD


def _count(pg, view) -> int:
    w, s, e, n, _z = view
    return pg.sql("SELECT count(*) FROM parcels WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490)", (w, s, e, n))[0][0]


@pytest.fixture()
def live_small(monkeypatch):
    """The 3,000-row test table counts as big (the threshold is what is under test, not the size)."""
    monkeypatch.setattr(livelayer, "LIVE_ROWS", 1000)


def _settle(win, timeout_ms=20000):
    ctl = win.server_layers
    spin(50)
    assert wait_until(lambda: not ctl.busy(), timeout_ms), "live refresh never finished"


def test_live_layer_follows_the_view_and_survives_the_server(win, pg, live_small, tmp_path, qtbot):
    uri = pg.uri.replace("postgres@", f"postgres:{PASSWORD}@")
    postgis.forget_password(parse_pg(pg.uri)[0].server_key)
    # the dialog: browse (row estimates), choose, add
    dlg = win.server_layers.add_dialog()
    dlg.source.setText(uri)
    dlg.browse()
    assert wait_until(lambda: dlg.tables.count() >= 4, 15000), dlg.status.text()
    names = [dlg.tables.item(i).text() for i in range(dlg.tables.count())]
    row = next(i for i, t in enumerate(names) if t.startswith("public.parcels "))
    assert "≈3,000" in names[row]
    dlg.tables.setCurrentRow(row)
    dlg.add()
    task = dlg.task
    assert wait_until(lambda: task.done, 30000), task.status
    assert task.status == "loaded"
    lid = task.layer_id
    layer = win.stack.layer(lid)
    live = live_of(layer)
    assert live.handle.src.table == "parcels" and PASSWORD not in live.text
    _settle(win)

    # zoom to a street-level view: the layer now holds exactly what SQL finds there
    win.map.set_view(30.25, 120.08, 14)
    assert wait_until(lambda: win.view is not None and abs(win.view[4] - 14) < 0.01, 10000)
    _settle(win)
    layer = win.stack.layer(lid)
    assert not live_of(layer).thinned
    assert len(layer.features) == _count(pg, win.view) > 0
    col = QColor(layer.style["color"])

    def outline() -> int:
        img = grab_map(win)
        return sum(1 for x in range(0, img.width(), 2) for y in range(0, img.height(), 2)
                   if abs((c := img.pixelColor(x, y)).red() - col.red()) < 40 and abs(c.green() - col.green()) < 40
                   and abs(c.blue() - col.blue()) < 40)

    assert wait_until(lambda: outline() > 200, 15000), "the parcels are not drawn"  # the page draws when it can

    # pan: asked again, again exact
    win.map.set_view(30.35, 120.3, 14)
    assert wait_until(lambda: abs(win.view[1] - 30.35) < 0.05, 10000)
    _settle(win)
    assert len(win.stack.layer(lid).features) == _count(pg, win.view)

    # the server dies: message, layer kept and marked, the rest untouched
    before_ids = win.stack.ids()
    pg.kill()
    try:
        with qtbot.waitSignal(win.server_layers.unavailable, timeout=20000) as sig:
            win.map.set_view(30.25, 120.08, 15)
        assert sig.args[0] == lid and ("lost" in sig.args[1] or "Cannot reach" in sig.args[1])
        assert win.stack.ids() == before_ids
        layer = win.stack.layer(lid)
        assert not live_of(layer).available and "不可用 unavailable" in layer.about.description_zh
        menu = win.tree.menu_for(lid)
        assert "重新连接 Reconnect" in [a.text() for a in menu.actions()]
        # the workspace saves as before, without the password
        path = tmp_path / "plan.zjmap"
        # (through the core: the window's save would make it the workspace the next window opens)
        wsm.save_workspace(wsm.capture(win.stack, view=win.view), path)
        raw = path.read_text(encoding="utf-8")
        assert "postgresql://postgres@127.0.0.1" in raw and PASSWORD not in raw
    finally:
        pg.start()
    with qtbot.waitSignal(win.server_layers.refreshed, timeout=20000):
        win.server_layers.reconnect(lid)
    _settle(win)
    layer = win.stack.layer(lid)
    assert live_of(layer).available and len(layer.features) == _count(pg, win.view)
    win.user_layers.remove(lid)
    assert lid not in win.stack


def test_save_a_user_layer_to_postgis(win, pg, tmp_path):
    import corpus  # noqa: F401  (the shared test data helpers)
    from test_gui_userlayers import gbk_squares, wait_task

    shp = gbk_squares(tmp_path)
    task = qul.add_layer_from_path(win.user_layers, shp)
    wait_task(task)
    lid = task.layer_id
    postgis.remember_password(parse_pg(pg.uri)[0].server_key, PASSWORD, keep=False)
    menu = win.tree.menu_for(lid)
    assert "保存到 PostGIS… Save to PostGIS…" in [a.text() for a in menu.actions()]
    dlg = win.server_layers.save_dialog(lid)
    dlg.target.setText(pg.uri + "?table=public.乡镇")
    dlg.save()
    assert wait_until(lambda: dlg.written is not None or dlg.status.text().startswith("⚠"), 15000)
    assert dlg.written == 2, dlg.status.text()
    rows = pg.sql('SELECT "名称", "人口" FROM public."乡镇" ORDER BY "名称"')
    assert sorted(rows) == sorted([("武义县", 300000), ("松阳县", 301000)])
    # again with "create": refused in plain words, nothing changed
    dlg2 = win.server_layers.save_dialog(lid)
    dlg2.target.setText(pg.uri + "?table=public.乡镇")
    dlg2.save()
    assert wait_until(lambda: dlg2.status.text().startswith("⚠"), 15000)
    assert "already exists" in dlg2.status.text()
    dlg2.close()
    win.user_layers.remove(lid)
