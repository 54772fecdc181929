"""A layer's filter: hidden features are not drawn, identified or exported; the
workspace keeps the filter; a bad filter leaves every feature shown."""

from __future__ import annotations

import copy

import numpy as np

from zjmap.core.bigdisplay import BigDisplay
from zjmap.core.layerfilter import HIDDEN_STYLE, with_filter
from zjmap.core.shipped import shipped_stack


def test_seed_layer_filter_hides_features():
    stack = shipped_stack(all_visible=True)
    layer = stack.layer("demo_hubs")
    before = [layer.feature_style(f) for f in layer.features]
    stack.set_style("demo_hubs", with_filter(layer.style, "host_prefecture = '上海市'"))
    shown = [f for f in layer.features if f.id not in layer.hidden]
    assert shown and len(shown) < len(layer.features)
    assert all(f.props["host_prefecture"] == "上海市" for f in shown)
    for f, old in zip(layer.features, before):
        st = layer.feature_style(f)
        assert (st == HIDDEN_STYLE) == (f.props["host_prefecture"] != "上海市")
        if f.id not in layer.hidden:
            assert st == old
    # a hidden hub is not identified where it lies
    from zjmap.core.identify import Identifier

    hid = next(f for f in layer.features if f.id in layer.hidden)
    ident = Identifier(stack)
    hits = ident.at(hid.geometry.x, hid.geometry.y, 14)
    assert hid.id not in [h.feature.id for h in hits]
    # clearing the filter brings everything back
    stack.set_style("demo_hubs", with_filter(layer.style, ""))
    assert not layer.hidden and "filter" not in layer.style
    assert hid.id in [h.feature.id for h in Identifier(stack).at(hid.geometry.x, hid.geometry.y, 14)]


def test_bad_filter_hides_nothing_and_says_why():
    stack = shipped_stack()
    layer = stack.layer("cluster_zones")
    stack.set_style("cluster_zones", with_filter(layer.style, "name_zh = '杭州"))
    assert layer.hidden == frozenset()
    assert "no closing" in layer.filter_error and "position 11" in layer.filter_error


def test_canvas_styles_follow_the_filter():
    stack = shipped_stack()
    layer = stack.layer("ms_26_counties")
    disp = BigDisplay.from_geometries(np.array([f.geometry for f in layer.features], dtype=object), bands=())
    one = disp.styles_for(layer)
    assert HIDDEN_STYLE not in one["styles"]
    stack.set_style(layer.id, with_filter(layer.style, "host_prefecture = '丽水市'"))
    two = disp.styles_for(layer)
    assert HIDDEN_STYLE in two["styles"] and len(two["styles"]) <= len(one["styles"]) + 1
    idx = np.frombuffer(__import__("base64").b64decode(two["index"]), dtype=f"<u{two['bytes']}")
    hidden_at = two["styles"].index(HIDDEN_STYLE)
    assert [f.props["host_prefecture"] != "丽水市" for f in layer.features] == list(idx == hidden_at)


def test_filter_saved_in_workspace():
    from zjmap.core import workspace as ws

    stack = shipped_stack()
    defaults = ws.ShippedDefaults.from_stack(stack)
    layer = stack.layer("demo_hubs")
    stack.set_style("demo_hubs", with_filter(layer.style, "category like '%金融%'"))
    hidden = layer.hidden
    assert 0 < len(hidden) < len(layer.features)
    text = ws.dumps(ws.capture(stack, defaults=defaults))
    assert "category like '%金融%'" in text
    fresh = shipped_stack()
    assert not fresh.layer("demo_hubs").hidden
    ws.apply_workspace(fresh, ws.loads(text), {}, defaults=defaults)
    assert fresh.layer("demo_hubs").hidden == hidden


def test_big_user_layer_filter_keeps_a_mask_not_a_set(tmp_path):
    """A planner's table of many rows: the hidden ids are answered from the row mask."""
    import pandas as pd

    from zjmap.core.layerfilter import HiddenRows
    from zjmap.core.userfiles import read_layer
    from zjmap.core.userlayers import user_layer

    rng = np.random.default_rng(1)
    n = 20_000
    df = pd.DataFrame({"lon": rng.uniform(120, 121, n), "lat": rng.uniform(30, 31, n), "v": rng.integers(0, 10, n)})
    p = tmp_path / "pts.csv"
    df.to_csv(p, index=False)
    layer = user_layer(read_layer(p), "user_9", defer_bands=True)
    layer.style = with_filter(layer.style, "v >= 7")
    assert isinstance(layer.hidden, HiddenRows)
    assert len(layer.hidden) == int((df.v < 7).sum()) == len(layer.hidden_rows)
    for k in (0, 1, 2, n - 1):
        assert (f"user_9:{k}" in layer.hidden) == bool(df.v[k] < 7)
        assert layer.feature_style(layer.features[k]) == HIDDEN_STYLE or df.v[k] >= 7
    assert "user_9:x" not in layer.hidden and "other:1" not in layer.hidden
    assert set(layer.hidden) == {f"user_9:{k}" for k in np.flatnonzero(df.v < 7)}
