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
