"""A planner's file as a map layer: ids, names, styles, and the display arrays
the canvas renderer draws (zjmap.core.userlayers)."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import geopandas as gpd
import numpy as np
import pytest
import shapely

import corpus
from zjmap.core.layers import LayerStack
from zjmap.core.mappage import layer_payload
from zjmap.core.userfiles import read_layer
from zjmap.core.bigdisplay import BigDisplay, _world, big_payload
from zjmap.core.userlayers import (
    category_fields,
    graduated_breaks,
    guess_name_field,
    new_layer_id,
    numeric_fields,
    style_categorical,
    style_graduated,
    style_single,
    user_layer,
    with_labels,
)


def _arr(v, dtype: str, g: dict | None = None) -> np.ndarray:
    """An array of a payload: base64 text, or [offset, count] in the geometry's file."""
    if isinstance(v, str):
        return np.frombuffer(base64.b64decode(v), dtype=dtype)
    raw = Path(url2pathname(urlparse(g["url"]).path)).read_bytes()
    assert len(raw) == g["bytes"]
    return np.frombuffer(raw, dtype=dtype, count=v[1], offset=v[0])


def _lonlat(xy_rel: np.ndarray, origin) -> np.ndarray:
    """Back from relative zoom-0 world pixels to lon/lat."""
    w = xy_rel.reshape(-1, 2).astype(float) + np.asarray(origin)
    lon = w[:, 0] / 256 * 360 - 180
    lat = np.degrees(2 * np.arctan(np.exp((0.5 - w[:, 1] / 256) * 2 * np.pi)) - np.pi / 2)
    return np.column_stack([lon, lat])


def _loaded(gdf: gpd.GeoDataFrame, name: str = "t"):
    """A LoadedLayer-like object for a GeoDataFrame already in EPSG:4326."""
    from zjmap.core.userfiles import LoadedLayer

    return LoadedLayer(
        name=name, gdf=gdf, driver="GeoJSON", source_crs="EPSG:4326", crs_guessed=False, crs_guess_reason=None,
        encoding="UTF-8", encoding_reason=None, repaired=0, skipped=0,
        geometry_types=sorted(set(gdf.geom_type)), fields={c: str(gdf[c].dtype) for c in gdf.columns if c != "geometry"},
        bounds_wgs84=tuple(gdf.total_bounds), warnings=[],
    )


def test_gbk_shapefile_becomes_a_user_layer(tmp_path):
    loaded = read_layer(corpus.gbk_shapefile_no_cpg(tmp_path))
    layer = user_layer(loaded, "user_3", source={"path": "county_gbk.shp"})
    assert layer.kind == "user" and layer.geometry == "polygon"
    assert [f.id for f in layer.features] == ["user_3:0", "user_3:1"]
    f = layer.features[0]
    assert f.props["名称"] == "嘉善县" and f.props["地级市"] == "嘉兴市"
    assert f.name == "嘉善县"  # name field guessed: 名称
    assert layer.table.name_field == "名称"
    assert layer.source.crs == "EPSG:4490" and layer.source.encoding
    assert len(layer.table.gdf) == 2
    assert "2 个要素" in layer.about.description_zh
    # full geometry kept for identify
    assert f.geometry.equals(loaded.gdf.geometry.iloc[0])
    # the stack takes it, ids unique across layers
    stack = LayerStack()
    stack.add(layer)
    assert new_layer_id(stack) == "user_1"
    assert stack.feature("user_3:1").props["名称"] == "西湖区"


@pytest.mark.parametrize(
    "cols, want",
    [
        (["id", "NAME", "area"], "NAME"),
        (["id", "名称", "name"], "名称"),
        (["FID", "项目名称", "面积"], "项目名称"),
        (["code", "乡镇名"], "乡镇名"),
        (["OBJECTID", "Shape_Leng"], None),
        (["road_name", "lanes"], "road_name"),
    ],
)
def test_guess_name_field(cols, want):
    assert guess_name_field(cols) == want


def test_name_guess_skips_numeric_and_empty_columns():
    sample = {"name": [1, 2, 3], "名称": ["", None, "nan"], "title": ["甲", "乙"]}
    assert guess_name_field(["name", "名称", "title"], sample) == "title"


def test_missing_values_and_types_in_props():
    gdf = gpd.GeoDataFrame(
        {"v": [1.5, np.nan], "n": pd_int([1, None]), "t": ["a", None], "d": pd_dates(["2024-01-02", None])},
        geometry=[shapely.Point(120, 30), shapely.Point(120.1, 30.1)], crs=4326,
    )
    layer = user_layer(_loaded(gdf), "user_1")
    p0, p1 = (f.props for f in layer.features)
    assert p0["v"] == 1.5 and p1["v"] is None
    assert p0["n"] == 1 and p1["n"] is None
    assert p0["t"] == "a" and p1["t"] is None
    assert p0["d"].startswith("2024-01-02") and p1["d"] is None
    json.dumps([f.props for f in layer.features])  # plain values only
    assert layer.geometry == "point"


def pd_int(vals):
    import pandas as pd

    return pd.array(vals, dtype="Int64")


def pd_dates(vals):
    import pandas as pd

    return pd.to_datetime(vals)


def _zones() -> gpd.GeoDataFrame:
    n = 30
    return gpd.GeoDataFrame(
        {
            "类型": [["生态", "农业", "城镇"][i % 3] for i in range(n)],
            "人口": [float(i * 100) if i != 7 else np.nan for i in range(n)],
            "编号": list(range(n)),
            "名称": [f"片区{i}" for i in range(n)],
        },
        geometry=[shapely.box(120 + i * 0.01, 30, 120 + i * 0.01 + 0.008, 30.008) for i in range(n)],
        crs=4326,
    )


def test_category_fields_of_a_big_table_count_every_row(monkeypatch):
    """The first rows tell a field of too many values; a field they hold few of is counted whole."""
    import zjmap.core.userlayers as ul

    monkeypatch.setattr(ul, "_SAMPLE_ROWS", 10)
    gdf = _zones()  # 30 rows
    gdf["late"] = ["甲"] * 20 + [f"乙{i}" for i in range(10)]  # 1 value in the first 10 rows, 11 in all
    layer = user_layer(_loaded(gdf), "user_1")
    got = dict(category_fields(layer, limit=10))
    assert "late" not in got and "名称" not in got and got["类型"] == 3
    assert dict(category_fields(layer, limit=11))["late"] == 11


def test_style_choices():
    layer = user_layer(_zones().pipe(_loaded), "user_1")
    assert layer.style["kind"] == "single"
    assert dict(category_fields(layer, limit=10)) == {"类型": 3}  # 30 distinct names: too many
    assert dict(category_fields(layer))["名称"] == 30
    assert numeric_fields(layer) == ["人口", "编号"]

    layer.style = style_categorical(layer, "类型")
    layer.restyle()
    rows = layer.legend()
    assert sorted(r.label for r in rows) == ["农业", "城镇", "生态"]
    assert len({r.color for r in rows}) == 3
    assert layer.feature_style(layer.features[0])["color"] == layer.styler.colors["生态"]

    layer.style = style_graduated(layer, "人口", classes=4)
    layer.restyle()
    b = layer.style["breaks"]
    assert b[0] == 0 and b[-1] == 2900 and all(x < y for x, y in zip(b, b[1:]))
    rows = layer.legend()
    assert len(rows) == len(b) - 1 and rows[0].label.startswith("0")
    low = layer.feature_style(layer.features[0])["color"]
    high = layer.feature_style(layer.features[29])["color"]
    assert low == layer.style["ramp"][0] and high == layer.style["ramp"][-1]
    assert layer.feature_style(layer.features[7])["color"] == layer.style["no_data_color"]

    st = with_labels(style_single("#ff0000"), "名称", min_zoom=9)
    assert st["label_field"] == "名称" and st["label_min_zoom"] == 9
    assert "label_field" not in with_labels(st, None)


def test_categorical_beyond_the_limit_groups_the_rest_as_other():
    gdf = _zones()
    gdf["code"] = [f"c{i}" for i in range(len(gdf))]
    layer = user_layer(_loaded(gdf), "user_1")
    layer.style = style_categorical(layer, "code", limit=5)
    layer.restyle()
    rows = layer.legend()
    assert len(rows) == 6 and rows[-1].label == "其他 other"


def test_graduated_breaks():
    assert graduated_breaks([1, 1, 1]) == [1.0, 1.0]
    assert graduated_breaks([]) == []
    b = graduated_breaks(range(101), classes=4, method="equal")
    assert b == [0, 25, 50, 75, 100]
    q = graduated_breaks([1, 2, 3, 100, 1000, 10000], classes=3)
    assert q[0] == 1 and q[-1] == 10000 and len(q) == 4


def test_payload_round_trips_coordinates_styles_and_labels():
    gdf = _zones()
    layer = user_layer(_loaded(gdf), "user_2")
    layer.style = with_labels(style_categorical(layer, "类型"), "名称")
    layer.restyle()
    spec = json.loads(layer_payload(layer))  # user layers always go to the canvas renderer
    assert spec["id"] == "user_2" and spec["data"] is None and spec["visible"] is True
    big = spec["big"]
    g = big["geometry"]
    (part,) = g["parts"]
    assert part["type"] == "polygon" and part["n"] == 30
    assert _arr(part["feat"], "<u4", g).tolist() == list(range(30))
    full = g["sets"][g["bands"][-1][1]][0]
    xy = _arr(full["xy"], "<f4", g)
    rings = _arr(full["rings"], "<u4", g)
    frings = _arr(full["frings"], "<u4", g)
    assert len(rings) == 31 and frings.tolist() == list(range(31))
    # closing vertices dropped: 4 per box
    assert rings[1] - rings[0] == 4
    ll = _lonlat(xy[: 2 * 4], g["origin"])
    ring = np.array(gdf.geometry.iloc[0].exterior.coords)[:-1]
    assert {tuple(np.round(p, 6)) for p in ll} == {tuple(np.round(p, 6)) for p in ring}
    # one palette entry per category, each feature pointing at its colour
    st = big["style"]
    idx = _arr(st["index"], "<u1" if st["bytes"] == 1 else "<u2")
    assert len(st["styles"]) == 3
    assert st["styles"][idx[0]]["color"] == layer.styler.colors["生态"]
    assert big["labels"]["texts"][3] == "片区3"
    lab = _lonlat(_arr(big["labels"]["xy"], "<f4")[6:8], g["origin"])[0]
    assert shapely.Point(lab).within(gdf.geometry.iloc[3].buffer(1e-6))


def test_detailed_polygons_get_simplified_bands_within_half_a_pixel():
    # wiggly circles: many vertices a screen pixel cannot show at low zoom
    t = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    polys = []
    for i in range(40):
        cx, cy = 120 + (i % 8) * 0.2, 29 + (i // 8) * 0.2
        r = 0.08 + 0.002 * np.sin(40 * t)
        polys.append(shapely.Polygon(np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])))
    disp = BigDisplay.from_geometries(np.array(polys, dtype=object))
    verts = disp.vertices()
    assert len(disp.geoms) >= 2 and verts[0] < verts[-1] / 4, verts
    full = 40 * 2000
    assert verts[-1] == full
    # coarsest band: every drawn vertex within half a pixel (at its deepest zoom) of the true outline
    coarse_zoom, coarse_set = disp.bands[0]
    assert coarse_set == 0
    g = disp.geoms[0][0]
    ll = _lonlat(g.xy, disp.origin)
    px_deg = 360 / (256 * 2**coarse_zoom)
    for k in range(0, 40, 7):
        a, b = g.rings[g.frings[k]], g.rings[g.frings[k] + 1]
        d = shapely.distance(shapely.points(ll[a:b]), polys[k].exterior).max()
        assert d < 0.75 * px_deg, (k, d / px_deg)
    # deeper zooms draw finer sets
    sets = [s for _z, s in disp.bands]
    assert sets == sorted(sets) and sets[-1] == len(disp.geoms) - 1


@pytest.mark.parametrize("slab", [None, 500])
def test_a_band_dropping_over_two_fifths_of_the_vertices_is_kept(monkeypatch, slab):
    """A band is drawn for its zooms when it drops 40 % of the vertices of
    the finer set (not only half: the page fills each small polygon vertex
    by vertex, and a million parcels' band for zoom 10 drops 48 %): stars of
    22 corners with a point halfway along 18 of their edges, which any
    tolerance drops (18 of 41 coordinates, the closing one counted)."""
    from zjmap.core import displaychunks

    if slab:
        monkeypatch.setattr(displaychunks, "SLAB", slab)  # a slab at a time, as a million features are
    k = np.arange(22)
    rad = np.where(k % 2 == 0, 0.05, 0.03)
    corners = np.column_stack([rad * np.cos(k * np.pi / 11), rad * np.sin(k * np.pi / 11)])
    ring = []
    for j in range(22):
        ring.append(corners[j])
        if j < 18:
            ring.append((corners[j] + corners[(j + 1) % 22]) / 2)
    ring = np.array(ring)
    stars = np.array([shapely.Polygon(ring + [118.5 + (i % 40) * 0.12, 27.5 + (i // 40) * 0.12])
                      for i in range(1200)], dtype=object)
    disp = BigDisplay.from_geometries(stars)
    assert disp.vertices() == [1200 * 22, 1200 * 40], disp.vertices()
    assert disp.bands[0] == (8, 0) and disp.bands[-1] == (99, 1)
    assert len(BigDisplay.from_geometries(stars, min_drop=0.5).geoms) == 1  # half: not kept


def test_grid_of_squares_is_not_simplified():
    cells = [shapely.box(120 + i * 0.01, 30, 120.01 + i * 0.01, 30.01) for i in range(300)]
    disp = BigDisplay.from_geometries(np.array(cells, dtype=object))
    assert len(disp.geoms) == 1 and all(s == 0 for _z, s in disp.bands)
    assert disp.vertices() == [1200]


def test_mixed_layer_with_holes_and_multiparts():
    holed = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (1, 2), (2, 2), (2, 1)]])
    holed = shapely.affinity.translate(shapely.affinity.scale(holed, 0.01, 0.01, origin=(0, 0)), 120, 30)
    multi = shapely.MultiPolygon([shapely.box(120.1, 30, 120.11, 30.01), shapely.box(120.2, 30, 120.21, 30.01)])
    gdf = gpd.GeoDataFrame(
        {"名称": ["洞", "多", "点", "线", "多点"]},
        geometry=[holed, multi, shapely.Point(120.3, 30.1), shapely.LineString([(120, 30.2), (120.5, 30.3)]),
                  shapely.MultiPoint([(120.4, 30.4), (120.41, 30.41)])],
        crs=4326,
    )
    layer = user_layer(_loaded(gdf), "user_1")
    assert layer.geometry == "mixed"
    g = big_payload(layer)["big"]["geometry"]
    parts = {p["type"]: p for p in g["parts"]}
    assert _arr(parts["polygon"]["feat"], "<u4", g).tolist() == [0, 1]
    assert _arr(parts["line"]["feat"], "<u4", g).tolist() == [3]
    assert _arr(parts["point"]["feat"], "<u4", g).tolist() == [2, 4]
    order = [p["type"] for p in g["parts"]]
    full = g["sets"][-1]
    poly = full[order.index("polygon")]
    frings = _arr(poly["frings"], "<u4", g)
    assert frings.tolist() == [0, 2, 4]  # holed: shell + hole; multi: two shells
    pts = full[order.index("point")]
    assert _arr(pts["frings"], "<u4", g).tolist() == [0, 1, 3]
    line = full[order.index("line")]
    assert _arr(line["rings"], "<u4", g).tolist() == [0, 2]  # lines keep both ends


def test_big_layer_display_is_built_once_and_cached():
    cells = gpd.GeoDataFrame(
        {"类别": [["城镇", "农业"][i % 2] for i in range(3000)]},
        geometry=[shapely.box(120 + (i % 60) * 0.01, 30 + (i // 60) * 0.01, 120.009 + (i % 60) * 0.01, 30.009 + (i // 60) * 0.01)
                  for i in range(3000)],
        crs=4326,
    )
    layer = user_layer(_loaded(cells), "user_1")
    disp = layer.display.arrays
    p1 = big_payload(layer)
    assert p1["big"]["geometry"] is disp.geometry_payload()  # encoded once
    path = disp.write()
    assert path.exists() and p1["big"]["geometry"]["url"] == path.as_uri()
    layer.style = style_categorical(layer, "类别")
    layer.restyle()
    p2 = big_payload(layer)
    assert p2["big"]["geometry"]["key"] == p1["big"]["geometry"]["key"]
    assert len(p2["big"]["style"]["styles"]) == 2 and len(p1["big"]["style"]["styles"]) == 1
    # world coordinates are Web Mercator pixels at zoom 0, as Leaflet's
    w = _world(np.array([[120.0, 30.0]]))[0]
    assert math.isclose(w[0], (300 / 360) * 256)
    assert 104 < w[1] < 106
    # the array file goes with the layer
    del layer, disp, p1, p2
    import gc

    gc.collect()
    assert not path.exists()


def test_bands_can_come_later():
    t = np.linspace(0, 2 * np.pi, 800, endpoint=False)
    polys = [shapely.Polygon(np.column_stack([120 + i * 0.2 + 0.08 * np.cos(t), 30 + 0.08 * np.sin(t)])) for i in range(20)]
    gdf = gpd.GeoDataFrame({"名称": [f"圈{i}" for i in range(20)]}, geometry=polys, crs=4326)
    layer = user_layer(_loaded(gdf), "user_1", defer_bands=True)
    first = layer.display.arrays
    assert layer.display.bands_pending and len(first.geoms) == 1 and first.bands == [(99, 0)]
    later = first.with_bands()
    assert later.key != first.key and len(later.geoms) >= 2
    assert later.geoms[-1] is first.geoms[-1]  # the full set is shared, not re-encoded
    assert later.vertices()[0] < first.vertices()[0] / 4
    g = later.geometry_payload()
    assert g["features"] == 20 and g["bands"][-1] == [99, len(later.geoms) - 1]
    # the default: defer only for layers of millions of vertices
    assert not user_layer(_loaded(gdf), "user_2").display.bands_pending


def test_a_page_of_its_own_gets_the_coarse_sets_in_a_first_file(tmp_path):
    """Written into a page's directory (the start page), the sets the zooms up
    to HEAD_ZOOM draw from are one file and the finer sets another, which
    the page reads after it has drawn: each array where the payload says."""
    from zjmap.core.bigdisplay import HEAD_ZOOM

    t = np.linspace(0, 2 * np.pi, 800, endpoint=False)
    polys = [shapely.Polygon(np.column_stack([120 + i * 0.2 + 0.08 * np.cos(t), 30 + 0.08 * np.sin(t)])) for i in range(20)]
    layer = user_layer(_loaded(gpd.GeoDataFrame({"名称": [f"圈{i}" for i in range(20)]}, geometry=polys, crs=4326)), "user_1")
    disp = layer.display.arrays
    assert len(disp.geoms) >= 3, disp.bands
    g = disp.geometry_payload(tmp_path)
    head_sets = g["more"]["from"]
    # the sets of the zooms up to HEAD_ZOOM, and no more
    used = {i for mz, i in disp.bands if mz <= HEAD_ZOOM} | {min(i for mz, i in disp.bands if mz >= HEAD_ZOOM)}
    assert head_sets == max(used) + 1 < len(disp.geoms)
    head, tail = tmp_path / g["url"], tmp_path / g["more"]["url"]
    assert head.stat().st_size == g["bytes"] and tail.stat().st_size == g["more"]["bytes"]
    assert g["bytes"] < g["more"]["bytes"]  # the finer sets weigh most
    for k, sets in enumerate(g["sets"]):
        raw = (head if k < head_sets else tail).read_bytes()
        for i, where in enumerate(sets):
            xy = np.frombuffer(raw, dtype="<f4", count=where["xy"][1], offset=where["xy"][0])
            assert np.array_equal(xy, disp.geoms[k][i].xy.ravel()), (k, i)
    feat = g["parts"][0]["feat"]
    assert np.frombuffer(head.read_bytes(), "<u4", count=feat[1], offset=feat[0]).tolist() == list(range(20))
    # a layer's own temporary file (added to a running page) stays whole
    assert disp.geometry_payload()["more"] is None
