"""The seed layers hold what the issue lists, counted from the data, checked against the seeds."""

import re

import pytest

from zjmap.core.catalogue import load_catalogue


@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


def names(cat, layer_id):
    return [f.props["name_zh"] for f in cat.layer_features(layer_id)]


def test_fifteen_cluster_zones_in_five_role_groups(cat):
    feats = cat.layer_features("cluster_zones")
    assert len(feats) == 15
    years = sorted(f.props["attributes"]["approved_year"] for f in feats)
    assert years.count(2010) == 14 and years.count(2013) == 1
    groups = {f.props["category"] for f in feats}
    assert len(groups) == 5
    # each role group is the document's own wording (across its PDF line breaks)
    text = re.sub(r"\s", "", cat.seed_text("000"))
    assert all(g in text for g in groups)
    # the zones the document spells two ways keep both spellings
    assert sum(1 for f in feats if f.props["aliases"]) >= 2


def test_eleven_yrd_city_roles_on_the_city_polygons(cat):
    feats = cat.layer_features("yrd_city_roles")
    assert len(feats) == 11
    assert {f.props["name_zh"].rstrip("市") for f in feats} == set("杭州 宁波 温州 嘉兴 湖州 绍兴 金华 衢州 舟山 台州 丽水".split())
    assert {f.props["precision"] for f in feats} == {"exact_boundary"}


def test_yrd_pilot_areas_include_the_named_four(cat):
    text = "".join(names(cat, "yrd_pilot_areas"))
    for place in ("舟山", "嘉善", "湖州", "丽水"):
        assert place in text


def test_demonstration_zone_parts(cat):
    members = names(cat, "demo_members")
    for m in ("青浦", "吴江", "嘉善"):
        assert any(m in n for n in members)
    towns = names(cat, "demo_startup_towns")
    assert len(towns) == 5
    for t in ("金泽", "朱家角", "黎里", "西塘", "姚庄"):
        assert any(t in n for n in towns)
    assert len(cat.layer_features("demo_cores")) == 2
    axes = cat.layer_features("demo_axes")
    assert len(axes) == 2 and all(f.geometry.geom_type == "LineString" for f in axes)
    assert len(cat.layer_features("demo_groups")) == 6
    assert len(cat.layer_features("demo_hubs")) >= 5
    # 2413 km² is on the zone feature, as the seed says
    zone_figs = [g for f in cat.layer_features("demo_members") for g in f.props["figures"]]
    assert any(float(g["value"]) == 2413 for g in zone_figs)
    # targets pair a baseline with a 2025 value
    targets = [g for f in cat.layer_features("demo_targets") for g in f.props["figures"]]
    assert any(g["year"] == 2025 for g in targets)
    labels_2025 = {g["label"] for g in targets if g["year"] == 2025}
    assert any(g["label"] in labels_2025 and g["year"] != 2025 for g in targets)


def test_axes_follow_the_documents_order(cat):
    """Each axis passes its places in the order the seed names them."""
    text = cat.seed_text("004")
    for f in cat.layer_features("demo_axes"):
        quote = " ".join(s["quote"] for s in f.props["sources"])
        assert quote and all(q in text for q in [s["quote"] for s in f.props["sources"]])
        assert len(f.geometry.coords) >= 3


def test_mountain_sea_layers(cat):
    counties = cat.layer_features("ms_26_counties")
    assert len(counties) == 26
    assert all(f.props["attributes"].get("list_source") for f in counties)
    assert "26" in counties[0].props["sources"][0]["quote"]
    pairs = cat.layer_features("ms_pairings")
    assert pairs and all(f.geometry.geom_type == "LineString" for f in pairs)
    enclaves = " ".join(names(cat, "ms_enclaves"))
    for park in ("平湖", "金磐", "衢州"):
        assert park in enclaves
    stories = " ".join(names(cat, "ms_county_stories"))
    for county in ("泰顺", "建德", "江山", "天台", "淳安", "丽水"):
        assert county in stories
    assert len(cat.layer_features("ms_figures")[0].props["figures"]) >= 10


def test_block_clusters_carry_export_values(cat):
    feats = cat.layer_features("block_clusters")
    assert len(feats) >= 5
    for f in feats:
        v = f.props["attributes"]["export_value"]
        assert any(str(v).rstrip("0").rstrip(".") in re.sub(r"\s", "", g["quote"]) for g in f.props["figures"])


def test_hangzhou_bay_and_province_figures(cat):
    bay = names(cat, "bay_zone") + names(cat, "bay_cities") + names(cat, "bay_corridors") + names(cat, "bay_platforms")
    assert any("杭州湾" in n for n in bay)
    assert len(cat.layer_features("bay_corridors")) >= 2
    pf = cat.layer_features("province_figures")
    assert sum(len(f.props["figures"]) for f in pf) >= 10
    assert all(f.props["precision"] == "exact_boundary" for f in pf)
