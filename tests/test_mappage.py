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
    build_page(tmp_path, base_stack)
    js = (tmp_path / "layers.js").read_text(encoding="utf-8")
    for layer in base_stack:
        assert f'"id":"{layer.id}"' in js
    assert "嘉善县" in js and '"s":{' in js
