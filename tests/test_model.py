"""The typed layer model: per-property events, typed parts, the stack hearing its layers; the camera."""

from __future__ import annotations

import pickle

from shapely.geometry import Point

from zjmap.core.camera import Camera
from zjmap.core.layermodel import ReadSource, ShippedSource
from zjmap.core.layers import LayerStack, MapFeature, MapLayer, feature_id, feature_ids, layer_of
from zjmap.core.workspace import place_by_order


def _layer(lid: str = "pts") -> MapLayer:
    feats = [MapFeature(feature_id(lid, i), lid, {"name": f"p{i}"}, Point(120 + i, 30)) for i in range(3)]
    return MapLayer(lid, "点", "Points", "seed", "point", feats, source=ShippedSource(seed="x.md"))


def test_each_property_has_its_event_and_the_stack_forwards_it():
    stack, layer = LayerStack(), _layer()
    seen, stack_seen = [], []
    layer.events.opacity.connect(lambda ev: seen.append((ev.type, ev.value)))
    stack.subscribe(lambda event, lid: stack_seen.append((event, lid)))
    stack.add(layer)
    layer.opacity = -0.3  # set directly, not through the stack: still heard, clamped
    stack.set_visible("pts", False)
    stack.set_visible("pts", False)  # unchanged: no event
    layer.style = {"color": "#123456"}
    assert seen == [("opacity", 0.0)] and ("opacity", "pts") in stack_seen
    assert ("visibility", "pts") in stack_seen and stack_seen.count(("visibility", "pts")) == 1
    assert ("styled", "pts") in stack_seen and layer.styler.style["color"] == "#123456"


def test_opacity_event_fires_on_change_only_and_removed_layers_are_not_heard():
    stack, layer = LayerStack(), _layer()
    values = []
    layer.events.opacity.connect(lambda ev: values.append(ev.value))
    stack.add(layer)
    layer.opacity = 0.4
    layer.opacity = 0.4
    assert values == [0.4]
    heard = []
    stack.subscribe(lambda event, lid: heard.append(event))
    stack.remove("pts")
    layer.visible = False
    assert heard == ["removed"]


def test_a_pickled_stack_still_hears_its_layers():
    stack = LayerStack()
    stack.add(_layer())
    again = pickle.loads(pickle.dumps(stack))
    heard = []
    again.subscribe(lambda event, lid: heard.append((event, lid)))
    again.layer("pts").visible = False
    assert heard == [("visibility", "pts")] and again.layer("pts").source.seed == "x.md"


def test_read_source_says_what_kind_of_place_it_is():
    assert ReadSource("/data/roads.shp").kind == "file"
    assert ReadSource("postgresql://u@h/db?table=x").kind == "database"
    assert ShippedSource(level="county").kind == "shipped"


def test_feature_ids_are_made_and_split_in_one_place():
    assert feature_ids("user_1", 3) == ["user_1:0", "user_1:1", "user_1:2"]
    assert layer_of(feature_id("base_county", "330106")) == "base_county"


def test_place_by_order():
    assert place_by_order(["a", "c"], ["a", "b", "c"], "b") == 1  # above a, its nearest present neighbour below
    assert place_by_order(["c"], ["a", "b", "c"], "b") == 0  # nothing below it is there: bottom
    assert place_by_order(["a", "c"], ["a", "c"], "new") == 2  # unknown: on top


def test_camera_is_updated_by_the_page_and_read_by_everyone():
    cam, seen = Camera(), []
    assert cam.as_tuple() is None and not cam.contains_any((120, 30, 121, 31))
    cam.subscribe(lambda c: seen.append(c.zoom))
    cam.update(119.0, 29.0, 121.0, 31.0, 9)
    assert cam.center == (120.0, 30.0) and cam.as_tuple() == (119.0, 29.0, 121.0, 31.0, 9.0) and seen == [9.0]
    assert cam.contains_any((120.5, 30.5, 125, 35)) and not cam.contains_any((122, 32, 123, 33))
