"""Cancelling long work on the real server (conftest ``pg``), the core side: a cancelled write leaves
the server as it was, a cancelled statement is stopped on the server at once (not at the next check)."""

from __future__ import annotations

import threading
import time

import geopandas as gpd
import numpy as np
import pytest
import shapely

from zjmap.core import pgwrite, postgis
from zjmap.core.pgsource import parse_pg
from zjmap.core.pgsql import cancellable
from zjmap.core.userfile_types import LoadCancelled

from pgserver import PASSWORD


@pytest.fixture()
def uri(pg):
    postgis.forget_password(parse_pg(pg.uri)[0].server_key)
    return pg.uri.replace("postgres@", f"postgres:{PASSWORD}@")


def _points(n: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(5)
    return gpd.GeoDataFrame({"名称": [f"点{i}" for i in range(n)], "值": rng.uniform(0, 9, n)},
                            geometry=shapely.points(rng.uniform(119, 121, n), rng.uniform(29, 31, n)), crs=4326)


def test_a_cancelled_write_leaves_the_server_as_it_was(pg, uri):
    target = uri + "?table=public.zj_cancel_write"
    with pytest.raises(LoadCancelled):
        pgwrite.write_layer(_points(50_000), target, mode="create", cancel=lambda: True)
    assert pg.sql("SELECT to_regclass('public.zj_cancel_write')")[0][0] is None  # not created
    assert pgwrite.write_layer(_points(7), target, mode="create") == 7
    with pytest.raises(LoadCancelled):  # replace: the dropped table comes back
        pgwrite.write_layer(_points(50_000), target, mode="replace", cancel=lambda: True)
    assert pg.sql("SELECT count(*) FROM public.zj_cancel_write")[0][0] == 7


class _Cancel:
    """A task's cancel as :class:`zjmap.qt.worker.TaskState` offers it (called: cancelled?; on_cancel)."""

    def __init__(self):
        self.flag = threading.Event()
        self.hooks = []

    def __call__(self) -> bool:
        return self.flag.is_set()

    def on_cancel(self, fn):
        self.hooks.append(fn)
        return lambda: self.hooks.remove(fn)

    def press(self) -> None:
        self.flag.set()
        for fn in list(self.hooks):
            fn()


def test_a_statement_stops_when_cancel_is_pressed(pg, uri):
    layer = postgis.open_layer(uri + "?table=public.parcels")
    try:
        cancel = _Cancel()
        timer = threading.Timer(0.4, cancel.press)
        t0 = time.monotonic()
        timer.start()
        with pytest.raises(LoadCancelled):
            layer._run(postgis.sql.SQL("SELECT count(*) FROM parcels, pg_sleep(30)"), None, cancel)
        assert time.monotonic() - t0 < 2.0 and not cancel.hooks  # stopped at once; the hook taken back
        assert layer.count() == 3000  # the connection is still good
        # pressed between two statements: the next one is stopped too (the request is repeated)
        conn = layer.conn()
        cancel = _Cancel()
        t0 = time.monotonic()
        with pytest.raises(postgis.psycopg.errors.QueryCanceled):
            with cancellable(conn, cancel):
                cancel.press()
                postgis.execute(conn, "SELECT pg_sleep(30)")
        assert time.monotonic() - t0 < 2.0
    finally:
        layer.close()
