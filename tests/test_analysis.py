"""Select by location, summarise by zone, measures: each checked against geopandas
(sjoin / overlay + groupby) and pyproj's Geod run independently, on generated
data and on the shipped base counties and seed layers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import geopandas as gpd
import pytest
import shapely
from pyproj import Geod

from zjmap.core import measure
from zjmap.core.analysis import (SLIVER, AnalysisCancelled, AnalysisError, ZoneLayer, select_by_location,
                                 summarize)
from zjmap.core.analysis_io import open_layer, zones_of

GEOD = Geod(ellps="WGS84")


def geod_area(g) -> float:
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(g))[0]) / 1e6  # Geod wants holes reversed


@pytest.fixture(scope="module")
def counties():
    return open_layer("county")


@pytest.fixture(scope="module")
def points(counties):
    rng = np.random.default_rng(11)
    n = 30_000
    w, s, e, nn = counties.frame.total_bounds
    v = rng.gamma(2.0, 50.0, n)
    v[rng.random(n) < 0.1] = np.nan
    return gpd.GeoDataFrame({"产值": v, "kind": rng.choice(["a", "b"], n)},
                            geometry=gpd.points_from_xy(rng.uniform(w, e, n), rng.uniform(s, nn, n)), crs=4326)


def irregular_polygons(n, bounds, seed=5, size=0.02):
    rng = np.random.default_rng(seed)
    w, s, e, nn = bounds
    ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    cx, cy = rng.uniform(w, e, n), rng.uniform(s, nn, n)
    r = size * rng.uniform(0.5, 1.0, (n, 24)) * rng.uniform(0.4, 2.0, (n, 1))
    xs, ys = cx[:, None] + r * np.cos(ang), cy[:, None] + r * np.sin(ang)
    return shapely.polygons(np.stack([xs, ys], -1))


def test_points_by_counties_match_sjoin_groupby(counties, points):
    res = summarize(zones_of(counties), points, "产值", ["count", "sum", "mean", "min", "max"])
    assert list(res.columns[:7]) == ["adcode", "name", "count", "sum_产值", "mean_产值", "min_产值", "max_产值"]
    j = gpd.sjoin(points, counties.frame[["adcode", "geometry"]], predicate="intersects")
    ref = j.groupby("adcode")["产值"].agg(["size", "sum", "mean", "min", "max"])
    m = res.set_index("adcode").join(ref)
    assert len(res) == len(counties.frame) >= 300  # the YRD county-level units
    assert res["count"].sum() > 5000
    assert (m["count"] == m["size"].fillna(0)).all()
    assert np.allclose(m["sum_产值"], m["sum"].fillna(0))
    for st in ("mean", "min", "max"):
        assert np.allclose(m[f"{st}_产值"], m[st], equal_nan=True)
    # names come from the base units
    assert res.set_index("adcode").loc["330421", "name"] == "嘉善县"


def test_where_filter_then_summarise(counties, points):
    from zjmap.core.expr import evaluate

    sub = points[evaluate("kind = 'a' and 产值 > 100", points)]
    res = summarize(zones_of(counties), sub, None, ["count"])
    j = gpd.sjoin(points[(points.kind == "a") & (points["产值"] > 100)], counties.frame[["adcode", "geometry"]])
    assert res.set_index("adcode")["count"].to_dict() == {
        k: int(j.groupby("adcode").size().get(k, 0)) for k in counties.frame.adcode}


def _overlay_reference(data, zones, id_col):
    d = data.assign(_fid=range(len(data)), _A=[geod_area(g) for g in data.geometry])
    ov = gpd.overlay(d, zones[[id_col, "geometry"]], how="intersection", keep_geom_type=True)
    ov["_a"] = [geod_area(g) for g in ov.geometry]
    ov = ov[ov["_a"] > 0]
    ov["_w"] = ov["v"] * ov["_a"] / ov["_A"]
    ov["_va"] = ov["v"] * ov["_a"]
    g = ov.groupby(id_col)
    real = ov[ov["_a"] > SLIVER * ov["_A"]].groupby(id_col)  # more than an edge sliver
    return pd.DataFrame({"cnt": real.size(), "km2": g["_a"].sum(), "wsum": g["_w"].sum(),
                         "wmean": g["_va"].sum() / g["_a"].sum(), "vmax": real["v"].max()})


def test_polygons_area_weighted_match_overlay(counties):
    zj = counties.frame[counties.frame.province == "浙江省"].reset_index(drop=True)
    polys = irregular_polygons(4000, zj.total_bounds)
    data = gpd.GeoDataFrame({"v": np.random.default_rng(2).uniform(1, 100, len(polys))}, geometry=polys, crs=4326)
    named = counties.__class__(zj, "adcode", "name_zh", "zj")
    res = summarize(zones_of(named), data, "v", ["count", "sum", "mean", "max", "area"]).set_index("adcode")
    ref = _overlay_reference(data, zj, "adcode")
    m = res.join(ref)
    assert len(res) == 90
    crossing = (m["count"] > 0).sum()
    assert crossing > 80
    assert (m["count"] == m["cnt"].fillna(0)).all()
    assert np.allclose(m["area_km2"], m["km2"].fillna(0), rtol=1e-9, atol=1e-9)
    assert np.allclose(m["sum_v"], m["wsum"].fillna(0), rtol=1e-9)
    assert np.allclose(m["mean_v"], m["wmean"], rtol=1e-9, equal_nan=True)
    assert np.allclose(m["max_v"], m["vmax"], equal_nan=True)
    # area-weighting really splits: the weighted sums add up to less than the plain sum
    assert res["sum_v"].sum() < data["v"].sum()


def test_seed_polygons_by_prefecture(counties):
    """Real layers: the 26 accelerated-development counties inside each prefecture."""
    pref = open_layer("prefecture")
    seed = open_layer("ms_26_counties")
    data = seed.frame.assign(v=1.0)
    res = summarize(zones_of(pref), data, "v", ["count", "area", "sum"]).set_index("adcode")
    ref = _overlay_reference(data, pref.frame, "adcode")
    m = res.join(ref)
    assert np.allclose(m["area_km2"], m["km2"].fillna(0), rtol=1e-6, atol=1e-6)
    assert np.allclose(m["sum_v"], m["wsum"].fillna(0), rtol=1e-6, atol=1e-9)
    # slivers where the seed's rounding overlaps a neighbour do not count
    assert res.set_index("name")["count"].to_dict()["宁波市"] == 0
    assert res["count"].sum() == 26
    # Lishui's nine county units are all among the 26
    lishui = res[res["name"] == "丽水市"].iloc[0]
    assert lishui["sum_v"] == pytest.approx(9.0, abs=0.05)
    assert lishui["area_km2"] == pytest.approx(geod_area(pref.frame.set_index("name_zh").geometry["丽水市"]), rel=0.01)


def test_lines_length_inside_zones(counties):
    lines = open_layer("industrial_belts")
    data = lines.frame.assign(v=np.arange(1.0, len(lines.frame) + 1))
    res = summarize(zones_of(counties), data, "v", ["count", "length", "sum"]).set_index("adcode")
    ov = gpd.overlay(data, counties.frame[["adcode", "geometry"]], how="intersection", keep_geom_type=True)
    ov["km"] = [GEOD.geometry_length(g) / 1000 for g in ov.geometry]
    ov = ov[ov.km > 0]
    ref = ov.groupby("adcode").agg(km=("km", "sum"), n=("v", "size"), s=("v", "sum"))
    m = res.join(ref)
    assert res["length_km"].sum() > 100
    assert np.allclose(m["length_km"], m["km"].fillna(0), rtol=1e-7, atol=1e-7)
    assert (m["count"] == m["n"].fillna(0)).all()
    assert np.allclose(m["sum_v"], m["s"].fillna(0))


@pytest.mark.parametrize("pred", ["intersects", "within", "contains"])
def test_select_by_location_matches_sjoin(counties, pred):
    polys = gpd.GeoDataFrame(geometry=irregular_polygons(3000, counties.frame.total_bounds, seed=9, size=0.05), crs=4326)
    b = open_layer("ms_26_counties").frame
    a, bb = (polys, b) if pred != "contains" else (counties.frame, polys.iloc[:300])
    mask = select_by_location(a.geometry, bb.geometry, pred)
    ref = gpd.sjoin(a, bb[["geometry"]], predicate=pred).index.unique()
    if pred != "intersects":  # polygons within up to an edge sliver also count
        j = gpd.sjoin(a, bb[["geometry"]], predicate="intersects")
        ga, gb = j.geometry.values, bb.geometry.loc[j["index_right"]].values
        inner, outer = (ga, gb) if pred == "within" else (gb, ga)
        inner = gpd.GeoSeries(inner, crs=4326)
        left = inner.difference(gpd.GeoSeries(outer, crs=4326), align=False).area.to_numpy()
        ok = left <= SLIVER * inner.area.to_numpy()
        slivers = set(j.index[ok])
        assert slivers >= set(ref)
        ref = sorted(slivers)
    assert 0 < mask.sum() < len(a)
    assert sorted(np.flatnonzero(mask)) == sorted(ref)


def test_within_allows_shared_edge_slivers(counties):
    """The 26 counties (cut from the same boundaries, rounded differently) are
    within themselves as seed polygons; a neighbour touching them is not."""
    seed = open_layer("ms_26_counties").frame
    mask = select_by_location(counties.frame.geometry, seed.geometry, "within")
    assert sorted(counties.frame.name_zh[mask]) == sorted(seed.name_zh)
    back = select_by_location(seed.geometry, counties.frame.geometry, "contains")
    assert back.all()


def test_within_distance_matches_projected_geopandas():
    """Demonstration-zone hubs within 5 km of its axes, against UTM 51N in geopandas."""
    hubs = open_layer("demo_hubs").frame
    axes = open_layer("demo_axes").frame
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(
        np.random.default_rng(4).uniform(120.6, 121.3, 2000), np.random.default_rng(5).uniform(30.8, 31.3, 2000)), crs=4326)
    for a in (hubs, pts):
        mask = select_by_location(a.geometry, axes.geometry, "dwithin", distance_km=5)
        d = a.to_crs(32651).geometry.apply(lambda g: axes.to_crs(32651).distance(g).min())
        clear = (d - 5000).abs() > 30  # UTM and our plane differ by far less than 30 m here
        assert (mask[clear.to_numpy()] == (d < 5000).to_numpy()[clear.to_numpy()]).all()
        assert 0 < mask.sum() < len(a)


def test_measures_against_geod(counties):
    zj = counties.frame[counties.frame.province == "浙江省"]
    ours = measure.area_km2(zj.geometry.values)
    ref = np.array([geod_area(g) for g in zj.geometry])
    assert np.allclose(ours, ref, rtol=1e-12)
    # Zhejiang's published land area is about 105,500 km²
    assert ours.sum() == pytest.approx(105_500, rel=0.02)
    holed = shapely.Polygon([(120, 30), (121, 30), (121, 31), (120, 31)], [[(120.2, 30.2), (120.8, 30.2), (120.8, 30.8), (120.2, 30.8)]])
    assert measure.area_km2([holed])[0] == pytest.approx(geod_area(holed), rel=1e-12)
    lines = open_layer("demo_axes").frame.geometry
    assert np.allclose(measure.length_km(lines.values), [GEOD.geometry_length(g) / 1000 for g in lines], rtol=1e-12)
    # Jiashan to Qingpu hub-to-hub: the path tool gives Geod's distance
    a, b = (120.92, 30.84), (121.12, 31.15)
    assert measure.path_km([a, b])[-1] == pytest.approx(GEOD.inv(*a, *b)[2] / 1000, rel=1e-12)


def test_buffer_is_metric():
    p = shapely.Point(120.5, 30.5)
    ring = measure.buffer_km([p], 5.0)[0]
    lon, lat = shapely.get_coordinates(ring.exterior).T
    d = GEOD.inv(np.full(len(lon), 120.5), np.full(len(lon), 30.5), lon, lat)[2]
    assert np.allclose(d, 5000, rtol=2e-3)  # a circle on the ground, not an ellipse in degrees
    assert measure.area_km2([ring])[0] == pytest.approx(np.pi * 25, rel=0.01)


def test_errors_and_cancel(counties, points):
    z = zones_of(counties)
    with pytest.raises(AnalysisError, match="not numeric"):
        summarize(z, points, "kind", ["sum"])
    with pytest.raises(AnalysisError, match="no field named 'x'"):
        summarize(z, points, "x", ["sum"])
    with pytest.raises(AnalysisError, match="unknown statistic 'median'"):
        summarize(z, points, "产值", ["median"])
    with pytest.raises(AnalysisError, match="'area' is for polygon"):
        summarize(z, points, None, ["area"])
    with pytest.raises(AnalysisError, match="zones must be polygons"):
        ZoneLayer(np.array(["a"]), np.array(["a"]), np.array([shapely.Point(1, 1)]))
    with pytest.raises(AnalysisCancelled):
        summarize(z, points, None, ["count"], cancel=lambda: True)
    seen = []
    summarize(z, points, None, ["count"], progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
