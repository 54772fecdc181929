"""A big point layer kept as coordinates (zjmap.core.pointcolumn): read from a
lon/lat CSV or a GeoPackage without a shapely point per row, it draws,
identifies, filters, styles, labels, exports and saves+restores as before,
with the exact geometry made only where something asks for it."""

from __future__ import annotations

import base64

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from PIL import Image

from zjmap.core import layercache
from zjmap.core.bigdisplay import BigDisplay
from zjmap.core.export import export_map, lonlat_to_pixel, read_world_file
from zjmap.core.featurerows import FeatureRows
from zjmap.core.identify import Identifier
from zjmap.core.layerfilter import hidden_rows
from zjmap.core.layers import LayerStack, MapFeature
from zjmap.core.pointcolumn import PointColumn, PointFrame, wkb_points
from zjmap.core.userfiles import read_layer
from zjmap.core.userlayers import category_fields, numeric_fields, style_categorical, style_graduated, user_layer, with_labels
from zjmap.core.workspace import capture, load_workspace, restore, save_workspace

N = 100_000  # a big layer (the canvas renderer's from 2,000), small enough to take seconds
CLASSES = np.array(["城镇", "农业", "生态", "水域", "工业"], dtype=object)


def _table(n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    i = np.arange(n)
    return pd.DataFrame({
        "id": i,
        "lon": np.round(rng.uniform(119.5, 121.0, n), 6),
        "lat": np.round(rng.uniform(29.5, 30.8, n), 6),
        "名称": [f"兴趣点{k:07d}" for k in i],
        "类别": CLASSES[i % len(CLASSES)],
        "value": np.round(rng.gamma(2.0, 50.0, n), 2),
    })


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bigpoints")
    t = _table()
    csv = d / "pois.csv"
    t.to_csv(csv, index=False, encoding="utf-8")
    gpkg = d / "pois.gpkg"
    gpd.GeoDataFrame(t.drop(columns=["lon", "lat"]), geometry=shapely.points(t["lon"], t["lat"]), crs=4326).to_file(
        gpkg, driver="GPKG", layer="pois", engine="pyogrio")
    return t, csv, gpkg


def _layer(path, lid="user_1"):
    return user_layer(read_layer(path), lid, source={"path": str(path), "layer": None, "encoding_override": None,
                                                     "crs_override": None, "layer_arg": None})


@pytest.mark.parametrize("which", ["csv", "gpkg"])
def test_read_as_coordinates_equal_to_a_geopandas_read(files, which):
    t, csv, gpkg = files
    path = csv if which == "csv" else gpkg
    loaded = read_layer(path)
    assert isinstance(loaded.held, PointFrame) and not loaded.held.points.built  # no point made yet
    assert loaded.features == N and loaded.geometry_types == ["Point"] and loaded.source_crs == "EPSG:4326"
    np.testing.assert_array_equal(loaded.held.points.xy, t[["lon", "lat"]].to_numpy())
    if which == "gpkg":
        want = pyogrio.read_dataframe(path)
    else:  # the plain pandas + shapely way
        plain = pd.read_csv(path)
        want = gpd.GeoDataFrame(plain.drop(columns=["lon", "lat"]), geometry=shapely.points(plain.lon, plain.lat))
    gdf = loaded.gdf  # made on first read: the same table as the plain read
    assert isinstance(gdf, gpd.GeoDataFrame) and loaded.held.points.built
    assert shapely.equals(np.asarray(gdf.geometry.array), np.asarray(want.geometry.array)).all()
    for c in ("id", "名称", "类别", "value"):
        assert gdf[c].astype(str).tolist() == want[c].astype(str).tolist(), c
    assert str(gdf["id"].dtype) == "int64" and str(gdf["value"].dtype) == "float64"


def test_wkb_points_reads_the_buffers_or_declines():
    import pyarrow as pa

    w = [shapely.to_wkb(shapely.Point(1.5, 2.5)), None, shapely.to_wkb(shapely.Point(-3, 4)),
         shapely.to_wkb(shapely.from_wkt("POINT EMPTY"))]
    xy, ok = wkb_points(pa.array(w, pa.binary()))
    assert ok.tolist() == [True, False, True, False]
    np.testing.assert_array_equal(xy[ok], [[1.5, 2.5], [-3, 4]])
    xy, ok = wkb_points(pa.array(w, pa.binary()).slice(2))  # an offset into the buffers
    assert ok.tolist() == [True, False] and xy[0].tolist() == [-3, 4]
    assert wkb_points(pa.array([shapely.to_wkb(shapely.Point(1, 2, 3))], pa.binary())) is None  # Z: shapely's job
    assert wkb_points(pa.array([shapely.to_wkb(shapely.Point(1, 2), byte_order=0)], pa.binary())) is None
    assert wkb_points(pa.array([shapely.to_wkb(shapely.MultiPoint([(1, 2)]))], pa.binary())) is None


def test_points_z_missing_shapes_and_projected_coordinates(tmp_path):
    """The declined and odd cases still read right: Z points through shapely
    (Z dropped), rows without a shape left out with the usual warning, and a
    CSV in CGCS2000 Gauss–Krüger metres reprojected to lon/lat."""
    n = 3000
    x, y = 120 + np.arange(n) * 1e-4, np.full(n, 30.0)
    z = gpd.GeoDataFrame({"k": np.arange(n)}, geometry=shapely.points(x, y, np.ones(n)), crs=4326)
    z.to_file(tmp_path / "z.gpkg", driver="GPKG", engine="pyogrio")
    got = read_layer(tmp_path / "z.gpkg")
    assert got.features == n and not shapely.has_z(np.asarray(got.gdf.geometry.array)).any()
    holes = gpd.GeoDataFrame({"k": np.arange(n)}, geometry=[None if k % 10 == 0 else shapely.Point(x[k], 30) for k in range(n)],
                             crs=4326)
    holes.to_file(tmp_path / "holes.gpkg", driver="GPKG", engine="pyogrio")
    got = read_layer(tmp_path / "holes.gpkg")
    assert isinstance(got.held, PointFrame) and got.features == n - n // 10
    assert any("300 features without a shape" in w for w in got.warnings)
    assert got.gdf["k"].tolist() == [k for k in range(n) if k % 10]
    from pyproj import Transformer

    ex, ny = Transformer.from_crs(4326, 4549, always_xy=True).transform(x, y)
    pd.DataFrame({"x": ex, "y": ny, "名称": [f"点{k}" for k in range(n)]}).to_csv(tmp_path / "gk.csv", index=False)
    got = read_layer(tmp_path / "gk.csv", crs="EPSG:4549")
    np.testing.assert_allclose(got.held.points.xy, np.column_stack([x, y]), atol=1e-7)


@pytest.fixture(scope="module")
def big(files):
    _t, csv, _gpkg = files
    return _layer(csv)


def test_drawn_and_identified_from_the_coordinates(big, files):
    t = files[0]
    layer = big
    rows = layer.features
    assert isinstance(rows, FeatureRows) and len(rows) == N and rows.points is not None
    disp = layer.display.arrays
    ref = BigDisplay.from_geometries(shapely.points(t[["lon", "lat"]].to_numpy()))  # the shapely way
    np.testing.assert_array_equal(disp.geoms[-1][0].xy, ref.geoms[-1][0].xy)
    np.testing.assert_array_equal(disp.origin, ref.origin)
    st = LayerStack()
    st.add(layer)
    ident = Identifier(st)
    for k in (0, 4321, N - 1):
        hits = ident.at(float(t.lon[k]), float(t.lat[k]), 17)
        assert hits[0].feature.id == f"user_1:{k}" and hits[0].feature.props["名称"] == f"兴趣点{k:07d}"
        assert hits[0].feature.geometry.equals(shapely.Point(t.lon[k], t.lat[k])) and hits[0].distance == 0
    unit = MapFeature("county:x", "base_county", {}, shapely.box(120.0, 30.0, 120.1, 30.1))
    ids = ident.ids_in(unit)
    inside = (t.lon >= 120.0) & (t.lon <= 120.1) & (t.lat >= 30.0) & (t.lat <= 30.1)
    assert sorted(ids) == sorted(f"user_1:{k}" for k in np.flatnonzero(inside))
    assert not rows.points.built  # drawing and clicking made no shapely point


def test_filter_styles_labels_without_geometry(big, files):
    t = files[0]
    layer = big
    assert numeric_fields(layer) == ["id", "value"] and ("类别", 5) in category_fields(layer)
    layer.style = {**style_categorical(layer, "类别"), "filter": "value > 100"}
    layer.restyle()
    rows, hidden, err = hidden_rows(layer)
    assert err is None and len(rows) == int((t.value <= 100).sum())
    got = layer.display.arrays.styles_for(layer)
    index = np.frombuffer(base64.b64decode(got["index"]), dtype=f"<u{got['bytes']}")
    for k in range(0, N, 9973):
        want = "hidden" if t.value[k] <= 100 else layer.style["colors"][CLASSES[k % 5]]
        have = got["styles"][index[k]]
        assert (have.get("opacity") == 0.0 if want == "hidden" else have["fillColor"] == want), k
    st = LayerStack()
    st.add(layer)
    k = int(np.flatnonzero(t.value <= 100)[0])  # a filtered-out point is not identified
    assert all(h.feature.id != f"user_1:{k}" for h in Identifier(st).at(float(t.lon[k]), float(t.lat[k]), 17))
    layer.style = with_labels(style_graduated(layer, "value", classes=4), "名称")
    layer.restyle()
    labels = layer.display.arrays.labels_for(layer, "名称")
    assert labels["texts"][:2] == ["兴趣点0000000", "兴趣点0000001"]
    np.testing.assert_array_equal(np.frombuffer(base64.b64decode(labels["xy"]), "<f4"), layer.display.arrays.geoms[-1][0].xy)
    assert not layer.features.points.built


def test_exports_and_saves_and_restores(tmp_path):
    t = _table(20_000)  # the exporter goes over every feature: a smaller big layer keeps this quick
    t.to_csv(tmp_path / "pois.csv", index=False)
    layer = _layer(tmp_path / "pois.csv")
    assert layer.features.points is not None
    layer.style = style_categorical(layer, "类别")
    layer.restyle()
    st = LayerStack()
    st.add(layer)
    out = tmp_path / "pois.png"
    bbox = (120.2, 30.2, 120.26, 30.236)
    export_map(st, out, bbox=bbox, layers=["user_1"], width_px=800, height_px=480, furniture=False)
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    aff = read_world_file(out.with_suffix(".pgw"))
    inside = np.flatnonzero((t.lon > bbox[0] + 0.001) & (t.lon < bbox[2] - 0.001) & (t.lat > bbox[1] + 0.001) & (t.lat < bbox[3] - 0.001))
    assert len(inside) > 5
    colours = {c: np.array([int(layer.style["colors"][c][i:i + 2], 16) for i in (1, 3, 5)]) for c in CLASSES}
    for k in inside[:5]:
        col, row = lonlat_to_pixel(aff, float(t.lon[k]), float(t.lat[k]))
        nearest = min(CLASSES, key=lambda c: np.abs(img[row, col] - colours[c]).sum())
        assert np.abs(img[row, col] - colours[nearest]).max() <= 60, (k, img[row, col])
    path = save_workspace(capture(st), tmp_path / "plan.zjmap")
    fresh = LayerStack()
    report = restore(fresh, load_workspace(path))
    assert report.problems == [] and report.restored == ["user_1"]
    back = fresh.layer("user_1")
    assert isinstance(back.features, FeatureRows) and back.features.points is not None and len(back.features) == len(t)
    assert back.style == layer.style
    assert fresh.feature("user_1:4321").props == layer.features[4321].props
    np.testing.assert_array_equal(back.features.points.xy, layer.features.points.xy)


def test_kept_in_the_cache_as_coordinates(files, tmp_path, monkeypatch):
    _t, _csv, gpkg = files
    monkeypatch.setattr(layercache, "cache_root", lambda: tmp_path / "cache")
    loaded = read_layer(gpkg)
    layer = user_layer(loaded, "user_1")
    key = layercache.cache_key(gpkg)
    assert layercache.store(key, layercache.meta_of(loaded), layer.table, layer.display.arrays) is not None
    assert not loaded.held.points.built  # kept without making the points
    hit = layercache.load(key)
    assert isinstance(hit.table.column, PointColumn) and hit.features == N  # coordinates again, no points
    np.testing.assert_array_equal(hit.table.column.xy, loaded.held.points.xy)
    again = user_layer(hit.loaded, "user_2", display=hit.display, table=hit.table)
    assert again.features.points is hit.table.column and again.features[77].props == layer.features[77].props
    np.testing.assert_array_equal(hit.display.geoms[-1][0].xy, layer.display.arrays.geoms[-1][0].xy)


@pytest.mark.parametrize("kind", ["gbk", "degrees"])
def test_big_tables_arrow_refuses_read_the_careful_way_alike(tmp_path, monkeypatch, kind):
    """A big GBK table (not UTF-8: Arrow refuses its bytes) and one with "°",
    blanks and spaces in its coordinates read the same as the pandas way."""
    from zjmap.core import csvarrow

    n = 75_000
    lines = ["经度,纬度,名称,编码"]
    blank = 0
    for k in range(n):
        lon, lat = f"{120 + k % 1000 / 1000:.5f}", f"{30 + k // 1000 / 1000:.5f}"
        if kind == "degrees":
            lon = f"{lon}°" if k % 5 == 0 else (f" {lon}" if k % 7 == 0 else ("" if k % 97 == 0 else lon))
            blank += lon == ""
        lines.append(f"{lon},{lat},点位{k},0{k % 900 + 100}")
    path = tmp_path / "pts.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk" if kind == "gbk" else "utf-8"))
    assert path.stat().st_size > csvarrow.ARROW_CHARS
    fast = read_layer(path)
    monkeypatch.setattr(csvarrow, "ARROW_CHARS", 10**12)
    monkeypatch.setattr(csvarrow, "INFER_ROWS", 10**12)
    slow = read_layer(path)
    assert fast.encoding == slow.encoding == ("GB18030" if kind == "gbk" else "UTF-8")
    assert fast.features == slow.features == n - blank and (blank > 0) == (kind == "degrees")
    np.testing.assert_array_equal(fast.held.points.xy, slow.held.points.xy)
    assert fast.held.attrs["名称"].tolist() == slow.held.attrs["名称"].tolist()
    assert fast.held.attrs["编码"].tolist() == slow.held.attrs["编码"].tolist() and fast.held.attrs["编码"][0] == "0100"
    assert fast.warnings == slow.warnings
