"""One label placer: the page, the canvas and the exporter put a label in the same place."""

from __future__ import annotations

import json

import numpy as np
from shapely.geometry import Point, Polygon

from zjmap.core.export_plan import _layer_plan
from zjmap.core.labels import anchors, field_labels, label_text, name_labels
from zjmap.core.layermodel import LabelRules
from zjmap.core.layers import MapFeature, MapLayer, feature_id
from zjmap.core.mappage import layer_payload

# a U shape: its centroid lies outside it, so a naive placer would put the label off the polygon
U = Polygon([(120, 30), (120.3, 30), (120.3, 30.3), (120.2, 30.3), (120.2, 30.1), (120.1, 30.1), (120.1, 30.3),
             (120, 30.3)])


def _seed() -> MapLayer:
    feats = [MapFeature(feature_id("zones", i), "zones", {"name": n, "人口": v}, g)
             for i, (n, v, g) in enumerate([("甲", 12.0, U), ("乙", 3.5, Point(121, 29)), ("空", None, Polygon())])]
    return MapLayer("zones", "片区", "Zones", "seed", "polygon", feats, labels=LabelRules(9, priority=100))


def test_anchor_is_inside_the_shape_and_empty_shapes_get_none():
    xy = anchors([U, Point(121, 29), Polygon()])
    assert U.contains(Point(*xy[0])) and not U.contains(U.centroid)
    assert tuple(xy[1]) == (121, 29) and np.isnan(xy[2]).all()


def test_page_and_exporter_place_the_names_alike():
    layer = _seed()
    page = json.loads(layer_payload(layer))["labels"]["points"]
    plan = _layer_plan(layer)
    plan.fill()
    assert [(n, round(lat, 4), round(lon, 4)) for n, lon, lat in plan.labels] == [tuple(p) for p in page]
    assert [p[0] for p in page] == ["甲", "乙"]  # the empty shape has no label


def test_field_labels_skip_missing_values_and_drop_float_zeros():
    layer = _seed()
    got = field_labels(layer.features, "人口")
    assert [t for t, _, _ in got] == ["12", "3.5"] and label_text(None) == ""
    assert name_labels(layer.features, "seed")[0][1:] == tuple(anchors([U])[0])
