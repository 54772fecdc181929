"""Click a place, read its source and figures: the panels driven through the real window."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from guitools import js, js_click, real_click, spin, wait_until
from zjmap.core.paths import seeds_dir
from zjmap.core.provenance import reflow


def seed_text(seed: str) -> str:
    (path,) = Path(seeds_dir()).glob(f"{seed}_*.txt")
    return path.read_text(encoding="utf-8")


def isolated_point(win, layer_id: str):
    """A point of a layer with sources and figures, far from every other visible point."""
    layer = win.stack.layer(layer_id)
    others = [f for lyr in win.stack.visible_layers() if lyr.kind != "base" for f in lyr.features if f.geometry.geom_type == "Point"]
    best = None
    for f in layer.features:
        if f.geometry.geom_type != "Point" or not f.props.get("sources"):
            continue
        gap = min((f.geometry.distance(o.geometry) for o in others if o.id != f.id), default=9)
        key = (bool(f.props.get("figures")), gap)
        if best is None or key > best[0]:
            best = (key, f)
    return best[1]


def assert_panel_shows(win, f) -> None:
    assert win.panel.current_id == f.id
    assert f.props["name_zh"] in win.panel.title.text()
    shown = win.panel.source.toPlainText()
    assert f.props["sources"], f.id
    for s in f.props["sources"]:
        verbatim = seed_text(s["seed"])[s["start"] : s["end"]]
        assert verbatim == s["quote"]
        assert reflow(verbatim) in shown
    figs = f.props.get("figures") or []
    assert win.panel.table.rowCount() == len(figs)
    for i, g in enumerate(figs):
        assert win.panel.table.item(i, 0).text() == g["label"]
        assert win.panel.table.item(i, 1).text() == str(g["value"])


def test_real_mouse_click_on_a_point_shows_its_quote_and_figures(win):
    win.zoom_home()
    spin(300)
    f = isolated_point(win, "cluster_zones")
    lon, lat = f.geometry.x, f.geometry.y
    real_click(win, lon, lat)
    assert wait_until(lambda: win.panel.current_id == f.id), win.panel.current_id
    assert_panel_shows(win, f)
    # the layer tree follows the selection
    assert win.tree.item_for("cluster_zones").isSelected()
    # and the map draws a highlight
    assert js(win.map, "ZJ.selection ? ZJ.selection.getLayers().length : 0") >= 1


def test_js_click_on_a_polygon_feature(win):
    win.stack.set_visible("demo_startup_towns", True)
    layer = win.stack.layer("demo_startup_towns")
    f = layer.features[0]
    p = f.geometry.representative_point()
    js_click(win, p.x, p.y)
    assert wait_until(lambda: win.panel.current_id is not None)
    shown = win.stack.feature(win.panel.current_id)
    # the most specific thing under the cursor: a point on top, else the town
    assert shown.geometry.distance(p) < 0.05
    if shown.id == f.id:
        assert_panel_shows(win, f)
    win.explorer.select(f.id)
    assert_panel_shows(win, f)
    win.stack.set_visible("demo_startup_towns", False)


def test_clicking_jiashan_lists_everything_there(win):
    unit = next(f for f in win.stack.layer("base_county").features if f.props["name_zh"] == "嘉善县")
    p = unit.geometry.representative_point()
    js_click(win, p.x, p.y)
    assert wait_until(lambda: win.explorer.selection.state.place == unit.id)
    assert win.panel.place_box.isVisible()
    state = win.explorer.selection.state
    listed = [win.stack.feature(fid) for fid in state.ids]
    assert win.panel.place_list.count() == len(listed)
    layers_listed = {f.layer_id for f in listed}
    # the zone membership, the zone's groups and the YRD plan's county demonstration point
    assert {"demo_members", "demo_groups", "yrd_pilot_areas"} <= layers_listed, layers_listed
    assert any("嘉善" in f.name for f in listed if f.layer_id == "demo_members")
    # nothing listed lies outside Jiashan
    for f in listed:
        assert f.geometry.intersects(unit.geometry), f.id
    # picking an entry describes it and keeps the list; Alt+Left goes back
    row = next(i for i, f in enumerate(listed) if f.layer_id == "demo_groups")
    item = win.panel.place_list.item(row)
    win.panel.place_list.itemClicked.emit(item)
    assert wait_until(lambda: win.panel.current_id == listed[row].id)
    assert win.explorer.selection.state.place == unit.id
    assert_panel_shows(win, listed[row])
    QTest.keyClick(win, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert wait_until(lambda: win.explorer.selection.state.focus != listed[row].id)
    QTest.keyClick(win, Qt.Key.Key_Escape)
    assert wait_until(lambda: not win.explorer.selection.state)
    assert win.panel.current_id is None


def test_search_zooms_to_and_selects(win):
    win.zoom_home()
    spin(200)
    before = js(win.map, "ZJ.map.getZoom()")
    QTest.keyClick(win, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert win.search.hasFocus()
    # typed keys (Latin: QTest cannot type through an input method) …
    QTest.keyClicks(win.search, "xitang")
    assert any("西塘" in r for r in win.search.results()), win.search.results()
    # … and Chinese as an input method commits it
    win.search.clear()
    win.search.insert("西塘")
    win.search.textEdited.emit("西塘")
    assert any("西塘" in r for r in win.search.results())
    QTest.keyClick(win.search, Qt.Key.Key_Return)
    assert wait_until(lambda: win.panel.current_id is not None and "西塘" in win.stack.feature(win.panel.current_id).name)
    assert wait_until(lambda: js(win.map, "ZJ.map.getZoom()") > before)
    c = js(win.map, "JSON.stringify(ZJ.map.getCenter())")
    f = win.stack.feature(win.panel.current_id)
    assert f.geometry.centroid.distance(__import__("shapely").Point(c["lng"], c["lat"])) < 0.1


def test_search_by_english_name_and_alias(win):
    res = win.explorer.search("jiashan")
    assert res and any("嘉善" in r.label for r in res)
    aliased = next(f for lyr in win.stack if lyr.kind == "seed" for f in lyr.features if f.props.get("aliases"))
    alias = aliased.props["aliases"][0]
    assert aliased.id in [r.feature_id for r in win.explorer.search(alias)]


def test_clicking_a_link_highlights_both_ends(win):
    win.stack.set_visible("ms_pairings", True)
    link = win.stack.layer("ms_pairings").features[0]
    mid = link.geometry.interpolate(0.5, normalized=True)
    win.explorer.select(link.id)
    assert wait_until(lambda: win.panel.current_id == link.id)
    hl = win.explorer.highlight_geojson()
    ends = [f for f in hl["features"] if f["properties"]["role"] == "end"]
    assert len(ends) == 2
    assert wait_until(lambda: js(win.map, "ZJ.selection.getLayers().length") >= 3)
    # and a click on the arc itself finds the pairing
    st = win.explorer.click(mid.x, mid.y, 9)
    assert st.focus == link.id


def test_source_link_opens_document_at_the_quote(win):
    f = isolated_point(win, "cluster_zones")
    win.explorer.select(f.id)
    s = f.props["sources"][0]
    dlg = win.open_document(s["seed"], s["start"], s["end"])
    assert dlg.selected_text().replace("\u2029", "\n") == s["quote"]
    dlg.close()


def test_hover_names_the_feature_under_the_cursor(win):
    win.zoom_home()
    spin(300)
    f = isolated_point(win, "cluster_zones")
    js(win.map, f"ZJ.map.fire('mousemove', {{latlng: L.latLng({f.geometry.y}, {f.geometry.x})}}); 1")
    assert wait_until(lambda: f.name in (js(win.map, "(document.querySelector('.zj-hover')||{}).textContent || ''") or ""))
    # moving off every feature (out at sea) hides it
    spin(60)
    js(win.map, "ZJ.map.fire('mousemove', {latlng: L.latLng(28.0, 123.4)}); 1")
    assert wait_until(lambda: js(win.map, "document.querySelectorAll('.zj-hover').length") == 0)


def test_a_county_full_of_a_big_layer_lists_the_first_few_and_counts_the_rest(win, monkeypatch):
    """Thousands of a big layer's points in Jiashan: the place list shows the
    clicked one first and a capped list, the label counts them all."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from zjmap.core.userfiles import LoadedLayer
    from zjmap.core.userlayers import user_layer
    from zjmap.qt import panels

    unit = next(f for f in win.stack.layer("base_county").features if f.props["name_zh"] == "嘉善县")
    c = unit.geometry.representative_point()
    rng = np.random.default_rng(5)
    pts = shapely.points(c.x + rng.normal(0, 0.01, 5000), c.y + rng.normal(0, 0.01, 5000))
    pts = pts[shapely.contains(unit.geometry, pts)]
    gdf = gpd.GeoDataFrame({"名称": [f"点{k}" for k in range(len(pts))]}, geometry=pts, crs=4326)
    loaded = LoadedLayer(name="pts", gdf=gdf, driver="GeoJSON", source_crs="EPSG:4326", crs_guessed=False,
                         crs_guess_reason=None, encoding="UTF-8", encoding_reason=None, repaired=0, skipped=0,
                         geometry_types=["Point"], fields={"名称": "str"}, bounds_wgs84=tuple(gdf.total_bounds),
                         warnings=[])
    layer = user_layer(loaded, "user_91")
    monkeypatch.setattr(panels, "PLACE_LIST_MAX", 20)
    win.stack.add(layer)
    try:
        target = layer.features[len(pts) // 2]
        js_click(win, target.geometry.x, target.geometry.y)
        assert wait_until(lambda: win.explorer.selection.state.focus == target.id, 10000)
        state = win.explorer.selection.state
        assert state.place == unit.id and len(state.ids) >= len(pts)
        lst = win.panel.place_list
        assert lst.count() == 21  # 20 entries and the "more" line
        assert lst.item(0).data(panels.FEATURE_ROLE) == target.id
        assert f"{len(state.ids) - 20:,} more" in lst.item(20).text()
        assert f"{len(state.ids)} features here" in win.panel.place_label.text()
    finally:
        win.stack.remove("user_91")
