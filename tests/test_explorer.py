"""Explorer without Qt: what a click, a search and a removal mean."""

from shapely.geometry import LineString, Point, box

from zjmap.core.explorer import Explorer
from zjmap.core.layers import LayerStack, MapLayer, make_features


def stack():
    s = LayerStack()
    s.add(MapLayer("base_county", "县", "County", "base", "polygon",
                   make_features("base_county", "polygon", [("c:1", {"name_zh": "甲县"}, box(0, 0, 1, 1)),
                                                              ("c:2", {"name_zh": "乙县"}, box(1, 0, 2, 1))])))
    s.add(MapLayer("zones", "区", "Zones", "seed", "polygon",
                   make_features("zones", "polygon", [("z:1", {"name_zh": "甲区", "aliases": ["老甲区"]}, box(0.1, 0.1, 0.9, 0.9)),
                                                      ("z:2", {"name_zh": "边区"}, box(0.998, 0.2, 1.5, 0.8))])))
    s.add(MapLayer("pts", "点", "Points", "seed", "point",
                   make_features("pts", "point", [("p:1", {"name_zh": "甲镇", "name_en": "Jia Town"}, Point(0.5, 0.5))])))
    s.add(MapLayer("links", "连", "Links", "seed", "link",
                   make_features("links", "link", [("l:1", {"name_zh": "甲乙结对"}, LineString([(0.5, 0.5), (1.5, 0.5)]))])))
    return s


def test_point_beats_polygon_and_the_county_lists_what_reaches_in():
    e = Explorer(stack())
    st = e.click(0.5, 0.5, 10)
    assert st.focus == "p:1" and st.place == "c:1"
    # the zone inside, the point, the link from here; not the zone that only grazes the border
    assert set(st.ids) == {"z:1", "p:1", "l:1"}
    st = e.click(0.3, 0.8, 10)  # inside the zone, away from the point and the link
    assert st.focus == "z:1"
    st = e.click(0.05, 0.05, 10)  # only the county
    assert st.focus is None and st.place == "c:1"


def test_link_is_drawn_as_an_arc_and_highlighted_with_both_ends():
    s = stack()
    e = Explorer(s)
    arc = s.feature("l:1").geometry
    assert len(arc.coords) > 2 and max(y for _, y in arc.coords) > 0.5  # bowed, not straight
    mid = arc.interpolate(0.5, normalized=True)
    assert e.click(mid.x, mid.y, 10).focus == "l:1"
    ends = [f for f in e.highlight_geojson()["features"] if f["properties"]["role"] == "end"]
    assert [tuple(f["geometry"]["coordinates"]) for f in ends] == [(0.5, 0.5), (1.5, 0.5)]


def test_search_ranks_exact_then_prefix_then_part_and_follows_the_stack():
    s = stack()
    e = Explorer(s)
    labels = [r.feature_id for r in e.search("甲区")]
    assert labels[0] == "z:1"
    assert [r.feature_id for r in e.search("jia town")] == ["p:1"]
    assert [r.feature_id for r in e.search("老甲")] == ["z:1"]
    assert e.search("   ") == []
    s.remove("pts")
    assert e.search("jia town") == []
    s.add(MapLayer("pts2", "点", "", "seed", "point",
                   make_features("pts2", "point", [("q:1", {"name_zh": "新镇"}, Point(0.2, 0.2))])))
    assert [r.feature_id for r in e.search("新镇")] == ["q:1"]


def test_removing_a_layer_forgets_its_features_in_the_history():
    s = stack()
    e = Explorer(s)
    e.select("p:1")
    e.select("z:1")
    s.remove("pts")
    assert e.selection.back()
    assert "p:1" not in e.selection.state.ids
