"""The map page is offline: only local assets, Leaflet from xstatic, data beside it."""

import re

import pytest

from zjmap.core.layers import LayerStack
from zjmap.core.mappage import build_page
from zjmap.core.shipped import base_layer, base_layer_defs


@pytest.fixture(scope="module")
def base_stack():
    stack = LayerStack()
    for d in base_layer_defs():
        stack.add(base_layer(d))
    return stack


def test_page_references_no_remote_url(tmp_path, base_stack):
    page = build_page(tmp_path, base_stack)
    html = page.read_text(encoding="utf-8")
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "lib/leaflet.js" in refs and "lib/leaflet.css" in refs
    remote = [r for r in refs if re.match(r"^(https?:)?//", r)]
    assert remote == []
    for r in refs:
        if not r.startswith("qrc:"):
            assert (tmp_path / r).exists(), r
    # Leaflet is the packaged 1.9.3, not a CDN copy
    assert "1.9.3" in (tmp_path / "lib" / "leaflet.js").read_text(encoding="utf-8")[:400]


def test_layers_js_carries_every_layer_with_styles(tmp_path, base_stack):
    import json

    build_page(tmp_path, base_stack)
    text = (tmp_path / "layers.js").read_text(encoding="utf-8")
    specs = json.loads(text[text.index("["):text.rindex("]") + 1])
    assert [s["id"] for s in specs] == [layer.id for layer in base_stack]
    for spec in specs:
        # the base map goes to the canvas renderer: arrays in a file beside the page
        geo = spec["big"]["geometry"]
        assert "/" not in geo["url"] and (tmp_path / geo["url"]).stat().st_size == geo["bytes"]
        assert spec["big"]["style"]["styles"]
    province = next(s for s in specs if s["id"] == "base_province")
    fills = {st.get("fillColor") for st in province["big"]["style"]["styles"]}
    assert {"#f4ecd4", "#e3e1dc"} <= fills  # Zhejiang picked out from its neighbours
    county = next(s for s in specs if s["id"] == "base_county")
    assert "嘉善县" in {p[0] for p in county["labels"]["points"]}
    assert all(st.get("fill") is False for st in county["big"]["style"]["styles"])


def _ring_vertices(geometry: dict) -> int:
    """Vertices as Leaflet holds them: a ring without its closing repeat."""
    polys = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return sum(len(ring) - 1 for poly in polys for ring in poly)


def test_heavy_seed_outlines_go_to_the_page_simplified_for_the_low_zooms():
    """The demonstration zone (3,754 vertices) goes with copies simplified
    within look.json's pixels at their zooms, each with far fewer vertices
    than the next finer set; a layer of a few dozen vertices goes without."""
    import json
    import math

    import shapely
    from shapely.geometry import shape

    from zjmap.core.look import load_look
    from zjmap.core.mappage import layer_payload
    from zjmap.core.shipped import load_shipped

    rule = load_look()["coarse_outlines"]
    _, stack = load_shipped(use_cache=False)
    spec = json.loads(layer_payload(stack.layer("demo_members")))
    features = spec["data"]["features"]
    bands = spec["coarse"]
    assert [b["upTo"] for b in bands] == sorted(rule["zooms"])
    finer = sum(_ring_vertices(f["geometry"]) for f in features)
    assert finer > 3000
    for band in reversed(bands):  # finest copy first
        assert len(band["geometries"]) == len(features)
        n = sum(_ring_vertices(g) for g in band["geometries"])
        assert n <= (1 - rule["min_saved"]) * finer, (band["upTo"], n, finer)
        finer = n
        # no point of a copy strays from the file's outline, nor the file's from it, by more than the rule's pixels at its zoom
        px = 360.0 / (256 * 2 ** band["upTo"])
        for f, g in zip(features, band["geometries"]):
            a, b = shape(f["geometry"]), shape(g)
            assert b.is_valid and not b.is_empty
            assert shapely.hausdorff_distance(a, b) <= rule["pixels"] * px * math.cos(math.radians(27)), (band["upTo"], f["id"])
    assert "coarse" not in json.loads(layer_payload(stack.layer("ms_pairings")))
