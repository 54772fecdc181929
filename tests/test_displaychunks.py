"""Display arrays encoded chunk by chunk during the read (zjmap.core.displaychunks)
are the arrays the whole layer encoded at once gives."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from zjmap.core.bigdisplay import BigDisplay
from zjmap.core.displaychunks import ChunkEncoder, assemble
from zjmap.core.userfiles import read_layer
from zjmap.core.userlayers import user_layer


def _mixed(n: int) -> np.ndarray:
    """Polygons (some with holes, some multi), lines and points, interleaved."""
    rng = np.random.default_rng(3)
    out = []
    for i in range(n):
        x, y = 119.0 + (i % 97) * 0.02, 28.5 + (i // 97) * 0.02
        k = i % 7
        if k == 0:
            out.append(shapely.Polygon([(x, y), (x + 0.01, y), (x + 0.01, y + 0.01), (x, y + 0.01)],
                                       [[(x + 0.002, y + 0.002), (x + 0.004, y + 0.002), (x + 0.004, y + 0.004)]]))
        elif k == 1:
            out.append(shapely.MultiPolygon([shapely.box(x, y, x + 0.004, y + 0.004),
                                             shapely.box(x + 0.006, y, x + 0.01, y + 0.004)]))
        elif k == 2:
            out.append(shapely.LineString([(x, y), (x + 0.01, y + 0.005), (x + 0.02, y)]))
        elif k == 3:
            out.append(shapely.Point(x, y))
        elif k == 4:
            out.append(shapely.MultiPoint([(x, y), (x + 0.003, y + 0.003)]))
        else:
            t = np.sort(rng.uniform(0, 2 * np.pi, 23))
            r = 0.004 * rng.uniform(0.6, 1.0, 23)
            out.append(shapely.Polygon(np.column_stack([x + r * np.cos(t), y + r * np.sin(t)])))
    return np.array(out, dtype=object)


def _absolute(disp: BigDisplay, k: int, i: int) -> np.ndarray:
    return disp.geoms[k][i].xy.reshape(-1, 2).astype(float) + disp.origin


def test_chunks_join_into_the_arrays_of_the_whole_layer():
    geoms = _mixed(3000)
    whole = BigDisplay.from_geometries(geoms, bands=())
    enc = ChunkEncoder()
    chunks = [enc.add(geoms[s:s + 700]) for s in range(0, len(geoms), 700)]
    assert [c.start for c in chunks] == [0, 700, 1400, 2100, 2800]
    joined = assemble(chunks, geoms, bands=())
    assert [p.type for p in joined.parts] == [p.type for p in whole.parts] == ["polygon", "line", "point"]
    for i, (a, b) in enumerate(zip(joined.parts, whole.parts)):
        assert a.feat.tolist() == b.feat.tolist()
        ga, gb = joined.geoms[-1][i], whole.geoms[-1][i]
        assert ga.frings.tolist() == gb.frings.tolist()
        assert (ga.rings is None) == (gb.rings is None)
        if ga.rings is not None:
            assert ga.rings.tolist() == gb.rings.tolist()
        # the same points, whatever origin each was made relative to (float32: ~1e-5 world px)
        assert np.abs(_absolute(joined, -1, i) - _absolute(whole, -1, i)).max() < 1e-4
        assert np.abs(a.bbox.astype(float) + np.tile(joined.origin, 2) - b.bbox - np.tile(whole.origin, 2)).max() < 1e-4
    assert abs(joined.typical_px - whole.typical_px) < 1e-4
    assert abs(joined._lat - whole._lat) < 1e-9
    # and its zoom bands come as the whole layer's do
    later = joined.with_bands()
    assert len(later.geoms) == len(whole.with_bands().geoms)


def test_chunks_that_do_not_cover_the_layer_are_not_joined():
    geoms = _mixed(200)
    enc = ChunkEncoder()
    chunks = [enc.add(geoms[:100])]
    assert assemble(chunks, geoms) is None  # half the rows
    coll = np.array([shapely.GeometryCollection([shapely.Point(120, 30), shapely.box(120, 30, 120.1, 30.1)])] * 3)
    enc2 = ChunkEncoder()
    assert enc2.add(coll) is None and not enc2.usable  # collections: the layer is encoded whole


def test_read_layer_hands_each_chunk_over_and_the_layer_uses_them(tmp_path):
    geoms = _mixed(2100)
    gdf = gpd.GeoDataFrame({"名称": [f"地块{i}" for i in range(len(geoms))]}, geometry=geoms, crs=4326)
    # mixed families do not fit one GeoPackage layer type: polygons only here
    polys = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])].reset_index(drop=True)
    path = tmp_path / "parcels.gpkg"
    polys.to_file(path, driver="GPKG")
    enc = ChunkEncoder()
    chunks = []
    loaded = read_layer(path, chunk_size=300, on_chunk=lambda g, r: chunks.append(enc.add(g, r)))
    assert len(chunks) == -(-len(polys) // 300) and sum(c.n for c in chunks) == loaded.features
    layer = user_layer(loaded, "user_1", chunks=chunks, defer_bands=True)
    disp = layer.display.arrays
    assert chunks[0].geoms == [] and len(disp.geoms[-1]) == 1  # joined into one array; the chunks gave theirs up
    whole = user_layer(loaded, "user_2", defer_bands=True).display.arrays
    assert disp.vertices() == whole.vertices()
    assert np.abs(_absolute(disp, -1, 0) - _absolute(whole, -1, 0)).max() < 1e-4
    assert disp.parts[0].feat.tolist() == list(range(len(polys)))


def test_zoom_bands_made_a_slab_at_a_time_are_the_bands_made_at_once(monkeypatch):
    from zjmap.core import bigdisplay, displaychunks

    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    rings = [np.column_stack([119.5 + (i % 40) * 0.03 + 0.01 * (1 + 0.2 * np.sin(9 * t)) * np.cos(t),
                              29.0 + (i // 40) * 0.03 + 0.01 * np.sin(t)]) for i in range(1200)]
    geoms = np.array([shapely.Polygon(r) for r in rings] + [shapely.LineString(r[:50]) for r in rings[:300]],
                     dtype=object)
    monkeypatch.setattr(bigdisplay, "COVERAGE_MAX_VERTICES", 0)  # plain simplification both ways
    monkeypatch.setattr(displaychunks, "COVERAGE_MAX_VERTICES", 0)
    at_once = BigDisplay.from_geometries(geoms)
    monkeypatch.setattr(displaychunks, "SLAB", 250)
    by_slabs = BigDisplay.from_geometries(geoms)
    assert by_slabs.bands == at_once.bands and len(by_slabs.geoms) == len(at_once.geoms) >= 3
    assert by_slabs.vertices() == at_once.vertices()
    assert by_slabs.vertices()[0] < by_slabs.vertices()[-1] / 4  # the coarsest band drops most
    for k in range(len(at_once.geoms)):
        for a, b in zip(by_slabs.geoms[k], at_once.geoms[k]):
            assert a.frings.tolist() == b.frings.tolist() and a.rings.tolist() == b.rings.tolist()
            assert np.array_equal(a.xy, b.xy)
