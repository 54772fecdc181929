"""A big layer read fresh keeps its geometry as flat coordinates (zjmap.core.lazygeom)
and makes shapely shapes on demand: every answer is the eager way's (a
shapely shape per row), shape for shape and pixel for pixel."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from zjmap.core import layercache, userfiles
from zjmap.core.lazygeom import RaggedColumn
from zjmap.core.pointcolumn import LazyFrame
from zjmap.core.userfiles import read_layer
from zjmap.core.userlayers import user_layer
from test_layercache import write_parcels

N = 20_000


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    monkeypatch.setattr(layercache, "enabled", False)


def read_eager(path, monkeypatch, **kw):
    with monkeypatch.context() as m:
        m.setattr(userfiles, "LAZY_MIN_FEATURES", None)
        return read_layer(path, **kw)


@pytest.fixture(scope="module")
def parcels(tmp_path_factory):
    """20,000 wiggly 24-vertex parcels in a GBK shapefile without .cpg."""
    return write_parcels(tmp_path_factory.mktemp("lazy") / "地块.shp", n=N)


@pytest.fixture(scope="module")
def odd_shapes(tmp_path_factory):
    """3,000 shapes with heights (Z): polygons with holes, multipolygons,
    plain polygons, and empty and missing geometries, in a GeoPackage."""
    rng = np.random.default_rng(3)
    geoms = []
    for k in range(3000):
        x, y = 120 + (k % 50) * 0.02, 30 + (k // 50) * 0.02
        kind = k % 5
        if kind == 0:
            g = shapely.Polygon([(x, y), (x + 0.01, y), (x + 0.01, y + 0.01), (x, y + 0.01)],
                                [[(x + 0.003, y + 0.003), (x + 0.006, y + 0.003), (x + 0.006, y + 0.006)]])
        elif kind == 1:
            g = shapely.MultiPolygon([shapely.box(x, y, x + 0.004, y + 0.004),
                                      shapely.box(x + 0.005, y + 0.005, x + 0.009, y + 0.009)])
        elif kind == 2:
            g = shapely.Polygon([(x, y), (x + 0.01 * rng.random() + 0.001, y), (x, y + 0.008)])
        elif kind == 3:
            g = None if k % 10 == 3 else shapely.Polygon()
        else:
            g = shapely.MultiPolygon([shapely.box(x, y, x + 0.008, y + 0.008)])  # a multipolygon of one part
        if g is not None and not g.is_empty:
            g = shapely.force_3d(g, z=float(k))
        geoms.append(g)
    gdf = gpd.GeoDataFrame({"名称": [f"图斑{k}" for k in range(3000)], "v": np.arange(3000) * 2.0},
                           geometry=gpd.GeoSeries(geoms), crs=4326)
    path = tmp_path_factory.mktemp("odd") / "odd.gpkg"
    gdf.to_file(path, driver="GPKG", layer="odd", geometry_type="Unknown", promote_to_multi=False)
    return path


def test_holes_multipolygons_empties_and_z_made_on_demand_equal_shapelys_read(odd_shapes, monkeypatch):
    lazy = read_layer(odd_shapes, chunk_size=700)  # the column joined from several chunks
    eager = read_eager(odd_shapes, monkeypatch)
    held = lazy.held
    assert isinstance(held, LazyFrame) and isinstance(held.column, RaggedColumn) and not held.column.built
    col = held.column
    assert col.gtype == shapely.GeometryType.MULTIPOLYGON and col.single is not None  # Polygons among them
    # shapely's own read of the file: heights dropped, empty and missing shapes left out
    plain = pyogrio.read_dataframe(odd_shapes).geometry.array
    plain = np.asarray(plain, dtype=object)
    plain = shapely.force_2d(plain[~(shapely.is_missing(plain) | shapely.is_empty(plain))])
    assert len(col) == len(plain) == 3000 - 600
    # one row at a time, before anything else is made: the same shape, type and all
    for k in (0, 1, 2, 3, 4, 5, 2399):
        assert shapely.equals_identical(col.geometry(k), plain[k]), k
        assert col.geometry(k).geom_type == plain[k].geom_type
    assert not col.built
    made = col.geoms()
    assert shapely.equals_identical(made, plain).all()
    assert [g.geom_type for g in made] == [g.geom_type for g in plain]  # a Polygon stays a Polygon
    assert shapely.equals_identical(made, np.asarray(eager.gdf.geometry.array, dtype=object)).all()
    # what the planner is told is the eager read's
    assert lazy.skipped == eager.skipped == 600 and lazy.warnings == eager.warnings
    assert any("Z" in w for w in lazy.warnings)
    assert lazy.geometry_types == eager.geometry_types == ["MultiPolygon", "Polygon"]
    assert lazy.bounds_wgs84 == eager.bounds_wgs84 and lazy.fields == eager.fields
    assert lazy.gdf.drop(columns="geometry").equals(eager.gdf.drop(columns="geometry"))


def test_a_layer_mixing_points_and_polygons_is_read_the_eager_way(tmp_path, monkeypatch):
    """Points and polygons in one layer cannot be one column of coordinates:
    such a layer keeps a shapely shape per row, as before."""
    geoms = [shapely.Point(120 + k * 1e-4, 30) if k % 2 else shapely.box(120, 30, 120.001, 30.001 + k * 1e-6)
             for k in range(2500)]
    path = tmp_path / "mixed.gpkg"
    gpd.GeoDataFrame({"k": np.arange(2500)}, geometry=geoms, crs=4326).to_file(path, geometry_type="Unknown")
    got = read_layer(path)
    assert isinstance(got.held, gpd.GeoDataFrame)
    assert shapely.equals_identical(np.asarray(got.gdf.geometry.array, dtype=object), np.array(geoms)).all()


def test_a_big_read_answers_as_the_eager_read_does(parcels, tmp_path, monkeypatch):
    """20,000 GBK parcels: identify, filter, choropleth, export pixels,
    summarise by zones and a workspace round trip give the eager read's results."""
    from PIL import Image

    from zjmap.core import workspace as wsm
    from zjmap.core.analysis import ZoneLayer, summarize
    from zjmap.core.analysis_io import layer_frame
    from zjmap.core.export import export_map
    from zjmap.core.identify import Identifier
    from zjmap.core.layerfilter import with_filter
    from zjmap.core.layers import LayerStack
    from zjmap.core.userlayers import style_graduated

    lazy = read_layer(parcels)
    eager = read_eager(parcels, monkeypatch)
    assert isinstance(lazy.held, LazyFrame) and isinstance(eager.held, gpd.GeoDataFrame)
    stacks, layers = [], []
    for loaded in (lazy, eager):
        stack = LayerStack()
        layer = user_layer(loaded, "user_1", title="地块", source={"path": str(parcels)})
        stack.add(layer)
        stacks.append(stack)
        layers.append(layer)
    lz, eg = layers
    col = lz.features.column
    assert isinstance(col, RaggedColumn) and not col.built  # drawn without a shape made
    # the display: the same arrays, band for band
    assert lz.display.arrays.bands == eg.display.arrays.bands
    for s_l, s_e in zip(lz.display.arrays.geoms, eg.display.arrays.geoms):
        for g_l, g_e in zip(s_l, s_e):
            np.testing.assert_array_equal(g_l.xy, g_e.xy)
            np.testing.assert_array_equal(g_l.rings, g_e.rings)
    # identify: the same parcel under each click, and still no layer's worth of shapes made
    ids = [Identifier(s) for s in stacks]
    for k in (0, 777, 12_345, N - 1):
        p = eg.features[k].geometry.representative_point()
        got = [[h.feature.id for h in idf.at(p.x, p.y, 14)] for idf in ids]
        assert got[0] == got[1] and got[0][0] == f"user_1:{k}"
    assert not col.built
    assert lz.features[12_345].props == eg.features[12_345].props and lz.features[12_345].props["名称"] == "地块12345"
    # filter and choropleth
    for stack, layer in zip(stacks, layers):
        stack.set_style("user_1", with_filter(style_graduated(layer, "面积", 4), "面积 >= 15000"))
    assert lz.style == eg.style
    np.testing.assert_array_equal(np.asarray(lz.hidden_rows), np.asarray(eg.hidden_rows))
    assert len(lz.hidden_rows) == 10_000
    assert lz.display.arrays.styles_for(lz) == eg.display.arrays.styles_for(eg)
    # export: pixel for pixel
    pics = []
    for stack, name in zip(stacks, ("lazy", "eager")):
        out = export_map(stack, tmp_path / f"{name}.png", bbox=(120.0, 31.3, 120.6, 31.9), layers=["user_1"],
                         width_px=400, height_px=400, furniture=False)
        pics.append(np.asarray(Image.open(out.path).convert("RGB")))
    assert (pics[0] != 255).any() and np.array_equal(pics[0], pics[1])
    # summarise by zones: the area-weighted sums and counts
    boxes = [shapely.box(120.0 + 0.1 * i, 30.0, 120.1 + 0.1 * i, 33.5) for i in range(6)]
    zones = ZoneLayer(np.array([f"z{i}" for i in range(6)]), np.array([f"区{i}" for i in range(6)]), np.array(boxes))
    res = [summarize(zones, layer_frame(layer).frame, "面积", ["count", "sum", "area"]) for layer in layers]
    assert res[0]["count"].sum() > 0
    assert res[0].drop(columns="geometry").equals(res[1].drop(columns="geometry"))
    # the workspace: saved and restored, the same layer comes back
    backs = []
    for stack, name in zip(stacks, ("lazy", "eager")):
        path = wsm.save_workspace(wsm.capture(stack), tmp_path / f"{name}.zjmap")
        fresh = LayerStack()
        assert wsm.restore(fresh, wsm.load_workspace(path)).restored == ["user_1"]
        backs.append(fresh.layer("user_1"))
    assert backs[0].style == backs[1].style == lz.style
    np.testing.assert_array_equal(np.asarray(backs[0].hidden_rows), np.asarray(eg.hidden_rows))
    assert shapely.equals_identical(backs[0].features.geoms, np.asarray(eager.gdf.geometry.array, dtype=object)).all()
    assert backs[0].features[19_999].props == eg.features[19_999].props


def test_what_a_place_holds_of_a_big_layer_makes_shapes_only_along_its_edge(parcels, monkeypatch):
    """Identifier.ids_in on a column of polygons: a parcel whose box lies in
    the inset place counts and one whose box is clear of it does not, without
    its shape; only the parcels whose boxes cross the place's edge are made
    and tested. The answer is the eager read's."""
    from zjmap.core.identify import Identifier
    from zjmap.core.layers import LayerStack, MapFeature

    lazy = read_layer(parcels)
    eager = read_eager(parcels, monkeypatch)
    idents = []
    for loaded in (lazy, eager):
        stack = LayerStack()
        stack.add(user_layer(loaded, "user_1", title="地块", source={"path": str(parcels)}))
        idents.append(Identifier(stack))
    col = idents[0].stack.layer("user_1").features.column
    assert isinstance(col, RaggedColumn) and col.family == "polygon"
    made: list[int] = []
    rows = col.rows
    monkeypatch.setattr(col, "rows", lambda idx: made.append(len(idx)) or rows(idx))
    # a round place over ~900 of the parcels: shapes made only along its edge
    unit = MapFeature("county:round", "base_county", {}, shapely.Point(120.3, 30.9).buffer(0.17, 64))
    lz, eg = (sorted(ident.ids_in(unit, inset_deg=0.0001)) for ident in idents)
    assert lz == eg and len(lz) >= 500, (len(lz), len(eg))
    assert 0 < sum(made) < 0.3 * len(lz), (made, len(lz))
    # a place with holes (parcels wholly inside them are not in it) and a notch narrower than a parcel
    holes = [shapely.Point(120.25 + 0.05 * k, 30.85).buffer(0.012 + 0.004 * k, 16).exterior.coords for k in range(3)]
    notch = shapely.box(120.1, 30.9, 120.52, 30.9008)
    odd = shapely.Polygon(shapely.box(120.05, 30.7, 120.55, 31.1).exterior.coords, holes).difference(notch)
    unit = MapFeature("county:odd", "base_county", {}, odd)
    lz, eg = (sorted(ident.ids_in(unit, inset_deg=0.0001)) for ident in idents)
    assert lz == eg and 1000 < len(lz) < 3000, (len(lz), len(eg))
    # a strip through one row of parcels: every one of them across its edge, each made and tested
    made.clear()
    unit = MapFeature("county:strip", "base_county", {}, shapely.box(119.99, 29.99, 120.61, 30.0039))
    lz, eg = (sorted(ident.ids_in(unit, inset_deg=0.0001)) for ident in idents)
    assert lz == eg == sorted(f"user_1:{k}" for k in range(60)), (len(lz), len(eg))
    assert sum(made) >= 60
    assert not col.built
