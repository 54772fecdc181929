"""Reopening an unchanged big file from the cache (zjmap.core.layercache),
and never a changed one."""

from __future__ import annotations

import os
import time

import geopandas as gpd
import numpy as np
import shapely

from zjmap.core import layercache
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
    assert layercache.store(key, layercache.meta_of(loaded), loaded.gdf, layer.display.arrays) is not None
    return key, loaded, layer


def test_an_unchanged_file_comes_back_from_the_cache_as_it_was_read(tmp_path):
    path = write_parcels(tmp_path / "parcels.shp")
    key, loaded, layer = read_and_keep(path)
    assert layercache.cache_key(path) == key  # nothing changed: the same entry
    got = layercache.load(key)
    assert got is not None
    loaded2, disp2 = got
    assert loaded2.encoding == loaded.encoding and loaded2.source_crs == loaded.source_crs
    assert loaded2.warnings == loaded.warnings and loaded2.bounds_wgs84 == loaded.bounds_wgs84
    assert loaded2.gdf["名称"].tolist() == loaded.gdf["名称"].tolist()
    assert shapely.equals(np.asarray(loaded2.gdf.geometry.array), np.asarray(loaded.gdf.geometry.array)).all()
    again = user_layer(loaded2, "user_1", display=disp2)
    a, b = layer.display.arrays, again.display.arrays
    assert not again.display.bands_pending and b.bands == a.bands and b.vertices() == a.vertices()
    for sa, sb in zip(a.geoms, b.geoms):
        for ga, gb in zip(sa, sb):
            assert np.array_equal(ga.xy, gb.xy) and np.array_equal(ga.frings, gb.frings)
    assert again.features[1234].props == layer.features[1234].props
    # the cached display can still make new bands (the full geometry families are there)
    assert len(b._fam_geoms) == len(a._fam_geoms) and b._fam_geoms[0][5].equals(a._fam_geoms[0][5])


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
    (layercache.cache_root() / key / "display.npz").write_bytes(b"not an npz")
    assert layercache.load(key) is None
    assert not (layercache.cache_root() / key).exists()


def test_only_the_newest_entries_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(layercache, "MAX_ENTRIES", 2)
    keys = []
    for k in range(3):
        path = write_parcels(tmp_path / f"p{k}.shp")
        keys.append(read_and_keep(path)[0])
        time.sleep(0.02)
    assert not (layercache.cache_root() / keys[0]).exists()
    assert (layercache.cache_root() / keys[1]).exists() and (layercache.cache_root() / keys[2]).exists()
