"""A big user layer kept as a table (zjmap.core.featurerows): its features
are made on demand, and it still identifies, styles, labels, searches,
exports and saves+restores as a layer of feature objects did."""

from __future__ import annotations

import base64
import geopandas as gpd
import numpy as np
import pytest
import shapely
from PIL import Image

from zjmap.core.export import export_map, lonlat_to_pixel, read_world_file
from zjmap.core.explorer import Explorer
from zjmap.core.featurerows import FeatureRows
from zjmap.core.identify import Identifier
from zjmap.core.layers import LayerStack
from zjmap.core.userfiles import read_layer
from zjmap.core.userlayers import style_categorical, style_graduated, user_layer, with_labels
from zjmap.core.workspace import capture, load_workspace, restore, save_workspace

N = 6000  # above BIG_FEATURES: drawn by the canvas renderer
CLASSES = ["城镇", "农业", "生态"]


def parcels(n: int = N) -> gpd.GeoDataFrame:
    """n small squares in rows over Hangzhou, with Chinese text, a float
    column with gaps and an int column."""
    i = np.arange(n)
    x0, y0, d = 119.8 + (i % 100) * 0.004, 30.0 + (i // 100) * 0.004, 0.0035
    geoms = shapely.box(x0, y0, x0 + d, y0 + d)
    value = np.where(i % 7 == 0, np.nan, i * 0.5)
    return gpd.GeoDataFrame({"编号": i, "名称": [f"地块{k:05d}" for k in i], "类别": [CLASSES[k % 3] for k in i],
                             "value": value}, geometry=geoms, crs=4326)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "parcels.gpkg"
    parcels().to_file(path, driver="GPKG", layer="parcels")
    layer = user_layer(read_layer(path), "user_1", source={"path": str(path), "layer": "parcels",
                                                           "encoding_override": None, "crs_override": None,
                                                           "layer_arg": None})
    return path, layer


def test_features_are_rows_made_on_demand(big):
    _path, layer = big
    rows = layer.features
    assert isinstance(rows, FeatureRows) and len(rows) == N
    f = rows[3001]
    assert f.id == "user_1:3001" and f.layer_id == "user_1"
    assert f.props == {"编号": 3001, "名称": "地块03001", "类别": CLASSES[3001 % 3], "value": 1500.5, "name": "地块03001"}
    assert type(f.props["编号"]) is int and type(f.props["value"]) is float
    assert rows[7].props["value"] is None  # NaN in the file: None in props, as before
    assert rows[-1].id == f"user_1:{N - 1}" and f.geometry.equals(layer.table.gdf.geometry.iloc[3001])
    # iterating (export, the attribute-free paths) gives the same features as indexing
    some = [g for _, g in zip(range(3005), rows)][3000:]
    assert [(g.id, g.props) for g in some] == [(rows[k].id, rows[k].props) for k in range(3000, 3005)]
    with pytest.raises(IndexError):
        rows[N]


def test_stack_resolves_row_ids_without_a_registry(big):
    _path, layer = big
    st = LayerStack()
    st.add(layer)
    assert st._features == {}  # no million-entry dict
    assert st.feature("user_1:42").props["名称"] == "地块00042"
    assert st.has_feature("user_1:5999") and not st.has_feature(f"user_1:{N}") and not st.has_feature("user_1:x")
    with pytest.raises(KeyError):
        st.feature("user_2:1")
    st.remove("user_1")
    assert not st.has_feature("user_1:42")


def test_identify_and_everything_in_a_place(big):
    _path, layer = big
    st = LayerStack()
    st.add(layer)
    ident = Identifier(st)
    target = layer.features[4321]
    p = target.geometry.centroid
    hits = ident.at(p.x, p.y, 16)
    assert hits and hits[0].feature.id == "user_1:4321" and hits[0].feature.props["名称"] == "地块04321"
    from zjmap.core.layers import MapFeature

    # a "place" covering the first row of 100 parcels: all of them, no others
    unit = MapFeature("county:x", "base_county", {}, shapely.box(119.79, 29.99, 120.21, 30.0039))
    inside = ident.everything_in(unit, inset_deg=0.0001)
    assert sorted(f.id for f in inside) == sorted(f"user_1:{k}" for k in range(100))
    assert ident.ids_in(unit, inset_deg=0.0001) == [f.id for f in inside]  # without making the features


def test_categorical_and_graduated_styles_match_each_feature(big):
    _path, layer = big
    disp = layer.display.arrays
    layer.style = style_categorical(layer, "类别")
    layer.restyle()
    assert set(layer.style["colors"]) == set(CLASSES)
    got = disp.styles_for(layer)
    index = np.frombuffer(base64.b64decode(got["index"]), dtype=f"<u{got['bytes']}")
    for k in (0, 1, 2, 3, 4000, N - 1):
        assert got["styles"][index[k]]["fillColor"] == layer.style["colors"][CLASSES[k % 3]]
    assert [r.label for r in layer.legend()] == sorted(CLASSES, key=lambda c: list(layer.style["colors"]).index(c))
    layer.style = style_graduated(layer, "value", classes=4)
    layer.restyle()
    got = disp.styles_for(layer)
    index = np.frombuffer(base64.b64decode(got["index"]), dtype=f"<u{got['bytes']}")
    for k in (1, 7, 1000, N - 1):  # 7: no value, the no-data colour
        want = layer.feature_style(layer.features[k])["fillColor"]
        assert got["styles"][index[k]]["fillColor"] == want
    assert got["styles"][index[7]]["fillColor"] == layer.style["no_data_color"]
    assert got["styles"][index[1]]["fillColor"] != got["styles"][index[N - 1]]["fillColor"]


def test_labels_and_search_read_the_columns(big):
    _path, layer = big
    layer.style = with_labels(style_categorical(layer, "类别"), "编号")
    layer.restyle()
    labels = layer.display.arrays.labels_for(layer, "编号")
    assert labels["texts"][:3] == ["0", "1", "2"] and len(labels["texts"]) == N
    st = LayerStack()
    st.add(layer)
    ex = Explorer(st)
    res = ex.search("地块05999")
    assert [r.feature_id for r in res] == ["user_1:5999"]


def test_big_layer_exports_with_its_colours(big, tmp_path):
    _path, layer = big
    layer.style = style_categorical(layer, "类别")
    layer.restyle()
    st = LayerStack()
    st.add(layer)
    out = tmp_path / "big.png"
    export_map(st, out, bbox=(119.79, 29.99, 120.21, 30.25), layers=["user_1"], width_px=800, height_px=500,
               furniture=False)
    img = np.asarray(Image.open(out).convert("RGB"))
    aff = read_world_file(out.with_suffix(".pgw"))
    col, row = lonlat_to_pixel(aff, 119.795, 30.1)  # just west of the parcels: the base map under them
    bg = img[row, col].astype(float)

    def blend(hex_colour: str) -> np.ndarray:
        return 0.35 * np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) + 0.65 * bg

    for k in (0, 101, 2502, 4003, 5555):
        c = layer.features[k].geometry.centroid
        col, row = lonlat_to_pixel(aff, c.x, c.y)
        px = img[row, col].astype(float)
        # the nearest of the three class colours (as filled over the base) is this feature's class
        nearest = min(CLASSES, key=lambda cls: np.abs(px - blend(layer.style["colors"][cls])).sum())
        assert nearest == CLASSES[k % 3], (k, px)
        assert np.abs(px - blend(layer.style["colors"][nearest])).max() <= 40, (k, px)


def test_big_layer_saves_and_restores(big, tmp_path):
    _path, layer = big
    layer.style = with_labels(style_categorical(layer, "类别"), "名称", 12)
    layer.restyle()
    st = LayerStack()
    st.add(layer)
    ws = capture(st)
    path = save_workspace(ws, tmp_path / "plan.zjmap")
    fresh = LayerStack()
    report = restore(fresh, load_workspace(path))
    assert report.problems == [] and report.restored == ["user_1"]
    back = fresh.layer("user_1")
    assert isinstance(back.features, FeatureRows) and len(back.features) == N
    assert back.style == layer.style
    assert fresh.feature("user_1:3001").props == layer.features[3001].props


def test_a_big_csv_read_through_arrow_equals_the_pandas_read(tmp_path, monkeypatch):
    """Tables over a few MB go through Arrow's CSV reader and kernels: the
    same columns, types and values as pandas' way (codes with a leading 0 stay
    text, blanks in numbers are gaps, leading spaces dropped, Chinese kept)."""
    from zjmap.core import csvarrow

    n = 60_000
    i = np.arange(n)
    lines = ["lon,lat,名称,code,count,share,note"]
    for k in i.tolist():
        share = "" if k % 11 == 0 else f"{k / 7:.3f}"
        lines.append(f"{120 + k % 1000 / 1000:.5f}, {30 + k // 1000 / 1000:.5f},点位{k},0{k % 900 + 100},"
                     f"{k}, {share},{'备注' if k % 3 else ''}")
    path = tmp_path / "pts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size > csvarrow.ARROW_CHARS
    fast = read_layer(path).gdf
    monkeypatch.setattr(csvarrow, "ARROW_CHARS", 10**12)
    monkeypatch.setattr(csvarrow, "INFER_ROWS", 10**12)
    slow = read_layer(path).gdf
    assert list(fast.columns) == list(slow.columns) == ["名称", "code", "count", "share", "note", "geometry"]
    for c in ("名称", "code", "count", "share", "note"):
        assert str(fast[c].dtype) == str(slow[c].dtype), c
        assert fast[c].tolist() == slow[c].tolist() or (fast[c].isna().equals(slow[c].isna()) and
                                                        fast[c].fillna(-1).tolist() == slow[c].fillna(-1).tolist()), c
    assert str(slow["code"].dtype) in ("str", "object", "string") and slow["code"].iloc[0] == "0100"
    assert str(slow["count"].dtype) == "int64" and slow["share"].isna().sum() == len(range(0, n, 11))
    assert slow["note"].iloc[0] == "" and slow["note"].iloc[1] == "备注"
    assert shapely.equals(np.asarray(fast.geometry.array), np.asarray(slow.geometry.array)).all()


def test_a_click_on_thousands_of_points_makes_only_the_nearest_features():
    from zjmap.core import identify

    rng = np.random.default_rng(3)
    x, y = 120.1 + rng.normal(0, 0.01, 8000), 30.2 + rng.normal(0, 0.01, 8000)
    gdf = gpd.GeoDataFrame({"名称": [f"点{k}" for k in range(8000)]}, geometry=shapely.points(x, y), crs=4326)
    from test_userlayers import _loaded

    layer = user_layer(_loaded(gdf), "user_1")
    st = LayerStack()
    st.add(layer)
    hits = Identifier(st).at(120.1, 30.2, 7)  # 6 px at zoom 7: every one of them is "under the cursor"
    assert len(hits) == identify.MAX_HITS
    d = np.hypot(x - 120.1, y - 30.2)
    assert [h.feature.id for h in hits[:5]] == [f"user_1:{k}" for k in np.argsort(d)[:5]]
    assert hits[0].feature.props["名称"] == f"点{int(np.argmin(d))}"
