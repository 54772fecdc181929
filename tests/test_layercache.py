"""Reopening an unchanged big file from the cache (zjmap.core.layercache),
and never a changed one."""

from __future__ import annotations

import os
import time

import geopandas as gpd
import numpy as np
import shapely

from zjmap.core import layercache, lazygeom
from zjmap.core.userfiles import read_layer
from zjmap.core.userlayers import user_layer


def write_parcels(path, n=2000, word="地块"):
    i = np.arange(n)
    x0, y0 = 120.0 + (i % 60) * 0.01, 30.0 + (i // 60) * 0.01
    # wiggly outlines, so the zoom bands drop vertices
    ang = np.linspace(0, 2 * np.pi, 25)[:-1]
    ring = np.stack([np.cos(ang) * (0.004 + 0.0005 * np.sin(7 * ang)), np.sin(ang) * 0.004], axis=-1)
    coords = np.concatenate([ring, ring[:1]])[None] + np.stack([x0, y0], -1)[:, None]
    gdf = gpd.GeoDataFrame({"名称": [f"{word}{k}" for k in i], "面积": i * 1.5}, geometry=shapely.polygons(coords),
                           crs=4326)
    gdf.to_file(path, driver="ESRI Shapefile", encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def read_and_keep(path):
    key = layercache.cache_key(path)
    loaded = read_layer(path)
    layer = user_layer(loaded, "user_1")
    assert len(layer.display.arrays.bands) >= 2
    assert layercache.store(key, layercache.meta_of(loaded), layer.table, layer.display.arrays) is not None  # as the window does
    return key, loaded, layer


def test_an_unchanged_file_comes_back_from_the_cache_as_it_was_read(tmp_path):
    path = write_parcels(tmp_path / "parcels.shp")
    key, loaded, layer = read_and_keep(path)
    assert layercache.cache_key(path) == key  # nothing changed: the same entry
    got = layercache.load(key)
    assert got is not None
    info = got.loaded
    assert info.encoding == loaded.encoding and info.source_crs == loaded.source_crs
    assert info.warnings == loaded.warnings and info.bounds_wgs84 == loaded.bounds_wgs84
    assert info.fields == loaded.fields and info.geometry_types == loaded.geometry_types
    again = user_layer(got.loaded, "user_1", display=got.display, table=got.table)
    # drawn from the kept arrays: no geometry was made yet
    assert not got.table.column.built
    a, b = layer.display.arrays, again.display.arrays
    assert not again.display.bands_pending and b.bands == a.bands and b.vertices() == a.vertices()
    assert np.array_equal(a.origin, b.origin) and b.typical_px == a.typical_px
    for sa, sb in zip(a.geoms, b.geoms):
        for ga, gb in zip(sa, sb):
            assert np.array_equal(ga.xy, gb.xy) and np.array_equal(ga.frings, gb.frings)
            assert (ga.rings is None) == (gb.rings is None)
            assert ga.rings is None or np.array_equal(ga.rings, gb.rings)
    for pa, pb in zip(a.parts, b.parts):
        assert pa.type == pb.type and np.array_equal(pa.feat, pb.feat) and np.array_equal(pa.bbox, pb.bbox)
    # the page reads the same bytes as it did for the fresh read
    pa_, pb_ = a.geometry_payload(), b.geometry_payload()
    assert b.write().read_bytes() == a.write().read_bytes()
    assert {k: v for k, v in pb_.items() if k not in ("key", "url")} == {k: v for k, v in pa_.items() if k not in ("key", "url")}
    assert again.geometry == layer.geometry and again.table.name_field == layer.table.name_field
    # the coarsest set alone, for the first picture: the first bytes of the same file, every band drawn with it
    first = got.first
    assert first is not None and len(a.geoms) >= 2
    assert first.bands == [(mz, 0) for mz, _i in a.bands] and len(first.geoms) == 1
    assert np.array_equal(first.geoms[0][0].xy, a.geoms[0][0].xy) and np.array_equal(first.parts[0].feat, a.parts[0].feat)
    head = first.write().read_bytes()
    assert first.geometry_payload()["bytes"] == len(head) and 2 * len(head) <= len(a.write().read_bytes())
    assert head == a.write().read_bytes()[:len(head)]
    # the rows' boxes kept with it (what a click tests first), and a click finds the parcel without making the rest
    np.testing.assert_array_equal(got.table.column._bounds, shapely.bounds(np.asarray(loaded.gdf.geometry.array)))
    p = layer.features[1234].geometry.representative_point()
    assert 1234 in got.table.column.query(p, "dwithin", 1e-9).tolist()
    # one feature for the panel: its geometry alone
    assert again.features[1234].props == layer.features[1234].props
    assert again.features[1234].geometry.equals_exact(layer.features[1234].geometry, 0)
    assert not got.table.column.built
    # the attribute table and the exact geometry, made on first need, are the fresh read's
    gdf = again.table.gdf
    assert got.table.column.built
    assert list(gdf.columns) == list(loaded.gdf.columns) and gdf.crs == loaded.gdf.crs
    assert gdf.drop(columns="geometry").equals(loaded.gdf.drop(columns="geometry"))
    assert shapely.equals_exact(np.asarray(gdf.geometry.array), np.asarray(loaded.gdf.geometry.array), 0).all()
    assert again.features.geoms is np.asarray(gdf.geometry.array) or again.features.geoms[7].equals(gdf.geometry.iloc[7])


def test_a_reopened_layers_geometry_is_made_step_by_step_in_the_background(tmp_path, monkeypatch):
    path = write_parcels(tmp_path / "parcels.shp", n=2500)
    key, loaded, _layer = read_and_keep(path)
    got = layercache.load(key)
    col = got.table.column
    monkeypatch.setattr(lazygeom, "PREPARE_CHUNK", 1000)
    steps = []
    real_step = col._step
    monkeypatch.setattr(col, "_step", lambda size: (steps.append(size), real_step(size)))
    assert col.prepare(cancel=lambda: len(steps) >= 2) is False  # stopped between steps
    assert col._done == 2000 and not col.built
    assert col.prepare() and col.built and steps == [1000, 1000, 1000]
    assert shapely.equals_exact(col.geoms(), np.asarray(loaded.gdf.geometry.array), 0).all()


def test_points_and_lines_come_back_too(tmp_path):
    from zjmap.core.bigdisplay import BIG_FEATURES

    n = BIG_FEATURES + 10
    i = np.arange(n)
    pts = gpd.GeoDataFrame({"名称": [f"井{k}" for k in i]}, geometry=shapely.points(120 + i * 1e-4, 30 + (i % 7) * 1e-3),
                           crs=4326)
    lines = gpd.GeoDataFrame({"名称": [f"路{k}" for k in i]}, crs=4326, geometry=shapely.linestrings(
        np.stack([120 + i * 1e-3, 120 + i * 1e-3 + 5e-4, 120 + i * 1e-3 + 1e-3], -1),
        np.stack([30 + 0 * i, 30.0004 + 0 * i, 30 + 0 * i], -1)))
    for name, gdf in (("points.gpkg", pts), ("lines.gpkg", lines)):
        path = tmp_path / name
        gdf.to_file(path, driver="GPKG")
        key = layercache.cache_key(path)
        loaded = read_layer(path)
        layer = user_layer(loaded, "user_1", defer_bands=False)
        assert layercache.store(key, layercache.meta_of(loaded), layer.table, layer.display.arrays) is not None  # as the window does
        got = layercache.load(key)
        again = user_layer(got.loaded, "user_2", display=got.display, table=got.table)
        assert again.features[17].geometry.equals_exact(layer.features[17].geometry, 0)
        assert shapely.equals_exact(again.features.geoms, layer.features.geoms, 0).all()


def test_a_changed_file_is_read_again(tmp_path):
    path = write_parcels(tmp_path / "parcels.shp")
    key, _loaded, _layer = read_and_keep(path)
    # the same file rewritten with other names (same size: only the time tells)
    size = path.with_suffix(".dbf").stat().st_size
    write_parcels(path, word="用地")
    assert path.with_suffix(".dbf").stat().st_size == size
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with the .shp's own time kept
    new_key = layercache.cache_key(path)
    assert new_key != key and layercache.load(new_key) is None
    # and read as it now is
    assert read_layer(path).gdf["名称"].iloc[0] == "用地0"
    # another way of reading it (an encoding chosen by hand) is another entry
    assert layercache.cache_key(path, encoding="GB18030") != new_key


def test_a_damaged_entry_is_dropped_not_served(tmp_path):
    path = write_parcels(tmp_path / "parcels.shp")
    key, _loaded, _layer = read_and_keep(path)
    bin_ = layercache.cache_root() / key / "display.bin"
    bin_.write_bytes(bin_.read_bytes()[:-8])  # cut short (a full disk, a crash)
    assert layercache.load(key) is None
    assert not (layercache.cache_root() / key).exists()
    key, _loaded, _layer = read_and_keep(path)
    (layercache.cache_root() / key / "meta.json").write_text("{not json", encoding="utf-8")
    assert layercache.load(key) is None and not (layercache.cache_root() / key).exists()


def test_only_the_newest_entries_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(layercache, "MAX_ENTRIES", 2)
    keys = []
    for k in range(3):
        path = write_parcels(tmp_path / f"p{k}.shp")
        keys.append(read_and_keep(path)[0])
        time.sleep(0.02)
    assert not (layercache.cache_root() / keys[0]).exists()
    assert (layercache.cache_root() / keys[1]).exists() and (layercache.cache_root() / keys[2]).exists()


def test_restoring_a_workspace_takes_an_unchanged_big_layer_from_the_cache(tmp_path):
    from zjmap.core import workspace as wsm
    from zjmap.core.layers import LayerStack
    from zjmap.core.userlayers import style_categorical

    (tmp_path / "data").mkdir()
    path = write_parcels(tmp_path / "data" / "parcels.shp")
    loaded = read_layer(path)
    stack = LayerStack()
    layer = user_layer(loaded, "user_1", title="地块", source={"path": str(path)})
    stack.add(layer)
    stack.set_style("user_1", style_categorical(layer, "名称"))
    ws_path = wsm.save_workspace(wsm.capture(stack), tmp_path / "plan.zjmap")
    # not kept yet: read from the file
    fresh = LayerStack()
    assert wsm.restore(fresh, wsm.load_workspace(ws_path)).restored == ["user_1"]
    assert fresh.layer("user_1").display.arrays.chunked  # read from the file (chunk by chunk, as any big read)
    # read from the file: handed over to be kept, under the key the next restore looks up
    got = []
    wsm.read_user_layers(wsm.load_workspace(ws_path), read=lambda e, cancel=None: wsm.read_user_layer(
        e, cancel=cancel, keep=lambda lyr, k, meta: got.append((lyr.id, k, meta))))
    [(lid, k, meta)] = got
    assert lid == "user_1" and k == layercache.cache_key(path, "parcels") and meta["encoding"] == loaded.encoding
    key, _loaded, _layer = read_and_keep(path)
    # kept: the restored layer comes from the cache, drawn before any geometry is made
    fresh = LayerStack()
    report = wsm.restore(fresh, wsm.load_workspace(ws_path))
    assert report.restored == ["user_1"] and report.problems == []
    back = fresh.layer("user_1")
    assert isinstance(back.features.column, layercache.RaggedColumn) and not back.features.column.built
    assert not back.display.arrays.chunked  # the cache's display.bin, not chunks of a read
    assert back.title == "地块" and back.style == stack.layer("user_1").style
    assert back.source.path == str(path) and back.source.encoding == loaded.encoding
    assert back.display.arrays.bands == layer.display.arrays.bands and not back.display.bands_pending
    assert back.features[1999].props == layer.features[1999].props
    assert back.table.gdf.drop(columns="geometry").equals(loaded.gdf.drop(columns="geometry"))
    # the file changed: read again, never the old entry
    write_parcels(path, word="用地")
    fresh = LayerStack()
    wsm.restore(fresh, wsm.load_workspace(ws_path))
    again = fresh.layer("user_1")
    assert again.display.arrays.chunked and again.features[5].props["名称"] == "用地5"
