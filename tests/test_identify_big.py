"""A click on a big layer is answered from an index built right after the layer
is shown (zjmap.qt.identify_index), so the first click is as quick as the next:
a point table's longitude order (no shapely point made), a polygon table's
tree; the panel's place list reads names only. The window is conftest's."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

import zjmap.qt.userlayers as qul
from zjmap.core import layercache
from zjmap.core.featurerows import FeatureRows
from zjmap.core.identify import Identifier
from zjmap.core.layers import LayerStack, MapLayer
from zjmap.core.pointcolumn import PointColumn
from guitools import js, js_click, wait_until
from test_layercache import write_parcels

N_POINTS = 60_000


def test_the_longitude_order_finds_the_same_rows_as_a_scan():
    rng = np.random.default_rng(3)
    xy = np.round(rng.uniform([119.0, 29.0], [121.0, 31.0], (20_000, 2)), 3)  # rounded: many ties
    xy[::997] = np.nan  # rows without a point
    scan, indexed = PointColumn(xy), PointColumn(xy)
    indexed.build_index()
    assert indexed.indexed and not scan.indexed
    for lon, lat, tol in [(120.0, 30.0, 0.01), (119.5, 29.5, 0.2), (121.0, 31.0, 0.05), (118.0, 30.0, 0.1)]:
        a, b = scan.within(lon, lat, tol), indexed.within(lon, lat, tol)
        assert a.tolist() == b.tolist()
        d = np.hypot(xy[a, 0] - lon, xy[a, 1] - lat)
        assert np.all(d <= tol) and np.all(np.diff(d) >= 0)  # inside, nearest first
        box = (lon - tol, lat - tol, lon + tol, lat + tol)
        assert scan.in_box(*box).tolist() == indexed.in_box(*box).tolist()
    assert len(indexed.within(119.5, 29.5, 0.2)) > 100
    assert not indexed.built  # no shapely point made for any of it


def _rows(n: int, lid: str = "user_1", names: bool = True) -> FeatureRows:
    rng = np.random.default_rng(5)
    xy = rng.uniform([120.0, 30.0], [120.5, 30.5], (n, 2))
    table = pd.DataFrame({"名称": [f"点{k}" for k in range(n)], "v": np.arange(n)}) if names else pd.DataFrame({"v": np.arange(n)})
    return FeatureRows(lid, table, PointColumn(xy), name_field="名称" if names else None)


def test_a_rows_name_is_read_from_its_name_columns_alone():
    for rows in (_rows(50), _rows(50, names=False)):
        for k in (0, 7, 49):
            assert rows.name(k) == rows[k].name
    assert _rows(5).name(3) == "点3" and _rows(5, names=False).name(3) == "user_1:3"


def test_a_tree_built_for_a_layer_removed_meanwhile_is_not_kept():
    stack = LayerStack()
    rows = _rows(1000)
    layer = MapLayer("user_1", "点", "", "user", "point", rows)
    stack.add(layer)
    ident = Identifier(stack)
    ident.prepare(layer)
    assert rows.points.indexed
    stack.remove("user_1")
    ident._tree(layer)  # as a worker finishing after the removal
    assert "user_1" not in ident._trees


def test_a_click_on_a_big_table_makes_only_the_features_it_reads_and_skips_filtered_ones(monkeypatch):
    """At a provincial view thousands of a big table's points are within 6 px:
    fifty hits come back nearest first, none made into a feature until read;
    the filter's hidden rows are left out before the fifty are taken."""
    stack = LayerStack()
    rows = _rows(20_000)
    layer = MapLayer("user_1", "点", "", "user", "point", rows)
    stack.add(layer)
    ident = Identifier(stack)
    made: list[int] = []
    real = FeatureRows.__getitem__
    monkeypatch.setattr(FeatureRows, "__getitem__", lambda self, i: made.append(i) or real(self, i))
    xy = rows.points.xy
    d = np.hypot(xy[:, 0] - 120.25, xy[:, 1] - 30.25)
    nearest = np.argsort(d, kind="stable")
    hits = ident.at(120.25, 30.25, 7)
    assert len(hits) == 50 and made == []
    assert hits[0].feature.id == f"user_1:{nearest[0]}" and made == [nearest[0]]
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    layer.hidden = frozenset(f"user_1:{k}" for k in nearest[:60].tolist())  # what a filter would leave out
    hits = ident.at(120.25, 30.25, 7)
    assert len(hits) == 50 and hits[0].feature.id == f"user_1:{nearest[60]}"


@pytest.fixture(scope="module")
def points_csv(tmp_path_factory):
    rng = np.random.default_rng(11)
    n = N_POINTS
    t = pd.DataFrame({"lon": np.round(rng.uniform(119.9, 120.5, n), 6), "lat": np.round(rng.uniform(30.0, 30.5, n), 6),
                      "名称": [f"兴趣点{k:06d}" for k in range(n)], "value": np.arange(n) * 0.5})
    path = tmp_path_factory.mktemp("identifybig") / "兴趣点.csv"
    t.to_csv(path, index=False, encoding="utf-8")
    return path, t


def _load(win, path):
    task = qul.add_layer_from_path(win.user_layers, path)
    assert wait_until(lambda: task.done, 60_000), task.status
    assert task.status == "loaded", task.message
    return task.layer_id


def _remove(win, lid):
    win.tree.remove_requested.emit(lid)
    assert wait_until(lambda: lid not in win.stack, 5000)


def _click_shows(win, lon, lat, fid):
    got: list[str] = []
    win.panel_updated.connect(got.append)
    try:
        js_click(win, lon, lat)
        assert wait_until(lambda: got, 5000)
    finally:
        win.panel_updated.disconnect(got.append)
    assert win.panel.current_id == fid


def test_a_point_layer_is_indexed_after_it_is_shown_and_a_click_shows_the_right_point(win, points_csv, monkeypatch):
    monkeypatch.setattr(layercache, "enabled", False)
    path, t = points_csv
    lid = _load(win, path)
    try:
        layer = win.stack.layer(lid)
        points = layer.features.points
        assert points is not None
        # built in the background, before any click
        assert wait_until(lambda: points.indexed and lid not in win.identify_index.jobs, 10_000)
        js(win.map, "ZJ.map.setView([30.25, 120.2], 13); 1")
        k = int(np.flatnonzero((t["lon"] > 120.15) & (t["lon"] < 120.25) & (t["lat"] > 30.2) & (t["lat"] < 30.3))[0])
        _click_shows(win, float(t["lon"][k]), float(t["lat"][k]), f"{lid}:{k}")
        assert win.panel.title.text().startswith(f"兴趣点{k:06d}")
        # the place list names what the county holds, the clicked point first
        assert win.panel.place_list.item(0).text().startswith(f"兴趣点{k:06d}")
        assert win.panel.place_list.count() > 100
        assert not points.built  # no shapely point was made for the million-point path
    finally:
        _remove(win, lid)


def test_a_click_before_the_index_is_built_is_answered_and_removing_the_layer_cancels_it(win, points_csv, monkeypatch):
    monkeypatch.setattr(layercache, "enabled", False)
    path, t = points_csv
    release = threading.Event()
    real = PointColumn.build_index
    started = threading.Event()

    def slow_build(self):
        started.set()
        release.wait(20)
        return real(self)

    monkeypatch.setattr(PointColumn, "build_index", slow_build)
    lid = _load(win, path)
    try:
        assert started.wait(10)
        points = win.stack.layer(lid).features.points
        job = win.identify_index.jobs[lid]
        assert not points.indexed and not job.done
        js(win.map, "ZJ.map.setView([30.25, 120.2], 13); 1")
        k = int(np.flatnonzero((t["lon"] > 120.15) & (t["lon"] < 120.25) & (t["lat"] > 30.2) & (t["lat"] < 30.3))[3])
        _click_shows(win, float(t["lon"][k]), float(t["lat"][k]), f"{lid}:{k}")  # the coordinates scanned meanwhile
        assert not points.indexed
    finally:
        _remove(win, lid)
    assert lid not in win.identify_index.jobs and job.is_cancelled()
    release.set()
    assert wait_until(lambda: job.done, 10_000) and job.status == "cancelled"


def test_a_polygon_layers_tree_is_built_before_the_first_click(win, tmp_path, monkeypatch):
    monkeypatch.setattr(layercache, "enabled", False)
    path = write_parcels(tmp_path / "地块.shp", n=3000)
    lid = _load(win, path)
    try:
        ident = win.explorer.identifier
        assert wait_until(lambda: lid in ident._trees and lid not in win.identify_index.jobs, 10_000)
        tree = ident._trees[lid]
        layer = win.stack.layer(lid)
        k = 1234
        p = layer.features[k].geometry.centroid
        js(win.map, f"ZJ.map.setView([{p.y}, {p.x}], 15); 1")
        _click_shows(win, p.x, p.y, f"{lid}:{k}")
        assert win.panel.title.text().startswith(f"地块{k}")
        assert ident._trees[lid] is tree  # the click used the tree built ahead
    finally:
        _remove(win, lid)
    assert lid not in ident._trees


def test_a_removed_layer_is_not_kept_alive_by_its_identify_job(win, tmp_path, monkeypatch):
    """Its job ended, a layer that goes is freed (a finished job kept as the
    indexer's child held it: every big layer ever loaded stayed in memory)."""
    import gc
    import weakref

    from guitools import spin

    monkeypatch.setattr(layercache, "enabled", False)
    lid = _load(win, write_parcels(tmp_path / "地块.shp", n=2500))
    assert wait_until(lambda: lid not in win.identify_index.jobs, 10_000)
    ref = weakref.ref(win.stack.layer(lid))
    _remove(win, lid)
    assert wait_until(lambda: (spin(50), gc.collect(), ref() is None)[-1], 10_000)


def test_the_shipped_layers_are_prepared_on_one_worker_and_a_layer_gone_is_skipped(qapp, monkeypatch):
    """prepare_all (at map ready): one job for every layer on the stack, not
    a thread each; a layer removed while it waits is skipped, the others
    are still prepared, and the job then ends."""
    from zjmap.core.shipped import shipped_stack
    from zjmap.qt.identify_index import IdentifyIndexer

    stack = shipped_stack()
    ident = Identifier(stack)
    gate = threading.Event()
    real = Identifier.prepare
    seen: list[str] = []

    def slow_prepare(self, layer, cancelled=lambda: False):
        gate.wait(10)
        seen.append(layer.id)
        return real(self, layer, cancelled)

    monkeypatch.setattr(Identifier, "prepare", slow_prepare)
    indexer = IdentifyIndexer(ident, stack)
    indexer.prepare_all()
    ids = [layer.id for layer in stack]
    assert len(ids) > 20 and set(indexer.jobs) == set(ids)
    assert len({id(j) for j in indexer.jobs.values()}) == 1  # one worker
    job = indexer.jobs[ids[0]]
    gone = ids[-1]
    stack.remove(gone)
    assert gone not in indexer.jobs and not job.is_cancelled()  # the others go on
    gate.set()
    assert wait_until(lambda: job.done, 20_000) and job.status == "done"
    assert gone not in seen and seen == [i for i in ids if i != gone]
    assert indexer.jobs == {}
    polygons = [layer.id for layer in stack if layer.geometry == "polygon" and layer.kind != "base"]
    assert polygons and all(lid in ident._trees for lid in polygons)
