"""The real main window, offscreen: offline page, real boundaries drawn, every layer visible."""

from __future__ import annotations

from collections import Counter

import pytest
from PySide6.QtGui import QColor

from guitools import grab_map, js, screen_pos, show_only, spin, wait_until

ZJ_FILL = QColor("#f4ecd4").rgb()
NEIGHBOUR_FILL = QColor("#e3e1dc").rgb()
SEA = QColor("#cfe2f0").rgb()


def only_layers(win, keep: set[str]) -> None:
    show_only(win, keep)
    # the page follows the stack
    ids = sorted(keep)
    assert wait_until(
        lambda: js(win.map, "JSON.stringify(Object.keys(ZJ.layers).filter(function(k){return ZJ.isShown(k) && ZJ.layers[k].spec.kind!=='base'}).sort())") == ids
    )


def majority_colour(img, pt, r=3):
    c = Counter(img.pixel(pt.x() + dx, pt.y() + dy) for dx in range(-r, r + 1) for dy in range(-r, r + 1))
    return c.most_common(1)[0][0]


def test_page_loads_only_local_files(win):
    req = win.map.interceptor.requested
    assert any(u.startswith("file://") and u.endswith("lib/leaflet.js") for u in req)
    assert any(u.endswith("layers.js") for u in req)
    assert win.map.interceptor.blocked == []
    assert all(u.split(":", 1)[0] in ("file", "qrc", "data", "blob", "about") for u in req), req
    assert win.map.js_errors == []


def test_map_draws_zhejiang_where_zhejiang_is(win):
    only_layers(win, set())
    img = grab_map(win)
    colours = Counter(img.pixel(x, y) for x in range(0, img.width(), 4) for y in range(0, img.height(), 4))
    assert len(colours) > 20, "map area looks blank"
    assert colours[ZJ_FILL] > 0.08 * sum(colours.values())
    # inside Zhejiang (Jinhua–Lishui hills, away from labels), in Anhui, at sea
    assert majority_colour(img, screen_pos(win, 119.75, 28.75)) == ZJ_FILL
    assert majority_colour(img, screen_pos(win, 117.6, 30.1)) == NEIGHBOUR_FILL
    assert majority_colour(img, screen_pos(win, 123.0, 28.3)) == SEA


def test_every_seed_layer_draws_something(win):
    only_layers(win, set())
    base = grab_map(win)
    seed_layers = [layer for layer in win.stack if layer.kind == "seed"]
    assert len(seed_layers) >= 10
    def changed_pixels() -> int:
        img = grab_map(win)
        return sum(
            1
            for x in range(0, img.width(), 2)
            for y in range(0, img.height(), 2)
            if img.pixel(x, y) != base.pixel(x, y)
        )

    for layer in seed_layers:
        only_layers(win, {layer.id})
        # the compositor may need a frame or two after the layer is added
        assert wait_until(lambda: changed_pixels() > 20, 5000, 100), f"layer {layer.id} draws nothing"
    only_layers(win, {layer.id for layer in seed_layers})


def test_tree_checkbox_hides_layer_on_map(win):
    from PySide6.QtCore import Qt

    layer = next(layer for layer in win.stack if layer.kind == "seed")
    item = win.tree.item_for(layer.id)
    item.setCheckState(0, Qt.CheckState.Unchecked)
    assert not win.stack.layer(layer.id).visible
    assert wait_until(lambda: js(win.map, f"ZJ.isShown('{layer.id}')") is False)
    item.setCheckState(0, Qt.CheckState.Checked)
    assert wait_until(lambda: js(win.map, f"ZJ.isShown('{layer.id}')") is True)


def test_status_bar_shows_cursor_lonlat(win):
    win.map.bridge.mouseMoved(120.1551, 30.2741)
    assert "120.15510" in win.coords.text() and "30.27410" in win.coords.text()
    js(win.map, "ZJ.map.fire('mousemove', {latlng: L.latLng(29.5, 121.25)}); 1")
    assert wait_until(lambda: "121.25000" in win.coords.text())


def test_scale_bar_and_labels_present(win):
    assert js(win.map, "document.querySelectorAll('.leaflet-control-scale-line').length") >= 1
    labels = js(win.map, "JSON.stringify(Array.from(document.querySelectorAll('.zj-label-base_prefecture span')).map(function(e){return e.textContent}))")
    assert {"杭州市", "宁波市", "温州市", "嘉兴市"} <= set(labels)
    # county labels appear only when zoomed in
    assert js(win.map, "document.querySelectorAll('.zj-label-base_county').length") == 0
    js(win.map, "ZJ.map.setView([30.85, 120.92], 10); 1")
    assert wait_until(lambda: js(win.map, "document.querySelectorAll('.zj-label-base_county').length") > 0)
    win.zoom_home()


def test_base_map_draws_simpler_copies_when_zoomed_out(win):
    """The base map is drawn from flat arrays with one simplified copy per
    zoom (no vertex projected in the page on a zoom): fewer vertices zoomed
    out, the file's own geometry zoomed in, all on one shared canvas."""
    county = win.stack.layer("base_county")
    disp = county.display.arrays
    if disp is None:  # the page came from the start-up cache: build the same arrays here
        from zjmap.core.bigdisplay import big_payload

        big_payload(county)
        disp = county.display.arrays
    verts = disp.vertices()
    assert verts == sorted(verts) and verts[0] < 0.5 * verts[-1]
    # the finest copy is the file's geometry, vertex for vertex (rings' closing vertices implied)
    import shapely

    geoms = [f.geometry for f in county.features]
    assert verts[-1] == shapely.get_num_coordinates(geoms).sum() - len(shapely.get_rings(shapely.get_parts(geoms)))

    def stats():
        return js(win.map, "ZJ.bigStats('base_county')")

    win.zoom_home()
    assert wait_until(lambda: stats()["zoom"] == 7)
    s = stats()
    # every county whose box meets the canvas (view + 15 % margin) is drawn; the YRD's
    # northern ones lie off it
    w, so, e, n = js(win.map, "var m = ZJ.map, s = m.getSize(), "
                     "a = m.containerPointToLatLng(s.multiplyBy(-0.15)), "
                     "b = m.containerPointToLatLng(s.multiplyBy(1.15)); "
                     "JSON.stringify([a.lng, b.lat, b.lng, a.lat])")
    boxes = shapely.bounds(geoms)
    seen = int(((boxes[:, 0] <= e) & (boxes[:, 2] >= w) & (boxes[:, 1] <= n) & (boxes[:, 3] >= so)).sum())
    assert 90 <= seen < len(county.features)
    assert s["shared"] and s["drawn"] == seen
    assert s["set"] < s["sets"] - 1
    js(win.map, "ZJ.map.setView([30.3, 120.2], 13); 1")
    assert wait_until(lambda: stats()["zoom"] == 13)
    assert stats()["set"] == stats()["sets"] - 1
    # one canvas for the whole base map
    assert js(win.map, "document.querySelectorAll('.leaflet-zjBase-pane canvas').length") == 1
    win.zoom_home()


@pytest.mark.parametrize("lon, lat, zoom, colour", [
    (116.9, 30.9, 11, NEIGHBOUR_FILL),  # inside Anhui, off its label: its outline lies far off the canvas
    (120.55, 29.05, 12, ZJ_FILL),  # inside Zhejiang, between county lines
])
def test_base_fill_holds_when_zoomed_far_in(win, lon, lat, zoom, colour):
    """Vertices far off the canvas are dropped before drawing: the fill inside stays."""
    only_layers(win, set())

    def there() -> bool:
        v = js(win.map, "ZJ.view()")
        return v["zoom"] == zoom and abs(v["lon"] - lon) < 0.01 and abs(v["lat"] - lat) < 0.01

    js(win.map, f"ZJ.map.setView([{lat}, {lon}], {zoom}); 1")
    assert wait_until(lambda: there() and js(win.map, "ZJ.bigStats('base_province')")["zoom"] == zoom)
    # the compositor may hand over a stale frame first (seen once under load)
    assert wait_until(lambda: majority_colour(grab_map(win), screen_pos(win, lon, lat)) == colour, 5000, 200), \
        f"{majority_colour(grab_map(win), screen_pos(win, lon, lat)):#x} at {js(win.map, 'ZJ.view()')}"
    win.zoom_home()


def test_hiding_a_base_layer_takes_it_off_the_shared_canvas(win):
    """Base layers share one canvas: unticking one stops it being painted
    there (the sea shows where the province fill was), ticking brings it back."""
    from PySide6.QtCore import Qt

    only_layers(win, set())
    win.zoom_home()
    item = win.tree.item_for("base_province")
    anhui = (117.6, 30.1)

    def colour():
        return majority_colour(grab_map(win), screen_pos(win, *anhui))

    assert wait_until(lambda: colour() == NEIGHBOUR_FILL, 5000, 200)
    item.setCheckState(0, Qt.CheckState.Unchecked)
    assert wait_until(lambda: js(win.map, "ZJ.bigStats('base_province')")["onMap"] is False)
    assert wait_until(lambda: colour() != NEIGHBOUR_FILL, 5000, 200)
    county_draws = js(win.map, "ZJ.bigStats('base_county')")["draws"]
    province_draws = js(win.map, "ZJ.bigStats('base_province')")["draws"]
    js(win.map, "ZJ.map.panBy([200, 100], {animate: false}); 1")
    assert wait_until(lambda: js(win.map, "ZJ.bigStats('base_county')")["draws"] > county_draws)
    assert js(win.map, "ZJ.bigStats('base_province')")["draws"] == province_draws
    item.setCheckState(0, Qt.CheckState.Checked)
    win.zoom_home()
    assert wait_until(lambda: colour() == NEIGHBOUR_FILL, 5000, 200)


def test_overlapping_labels_are_thinned_by_priority(win):
    """Where names would overlap, one stays and the others hide: no two shown
    labels overlap, and a seed-layer name never gives way to a base-map name."""
    show_only(win, {"cluster_zones", "block_clusters", "ms_enclaves"})
    js(win.map, "ZJ.map.setView([29.9, 120.3], 9); 1")
    assert wait_until(lambda: js(win.map, "ZJ.map.getZoom()") == 9)
    spin(300)
    boxes = js(win.map, """JSON.stringify(Array.from(document.querySelectorAll('.zj-label')).map(function (el) {
        var r = el.firstChild.getBoundingClientRect();
        return {text: el.textContent, seed: el.className.indexOf('zj-label-seed') >= 0,
                shown: el.style.visibility !== 'hidden', r: [r.left, r.top, r.right, r.bottom]};
    }))""")
    assert len(boxes) > 40

    def overlap(a, b, pad=0):  # pad: the margin kept between names
        return (a["r"][0] - pad < b["r"][2] and b["r"][0] < a["r"][2] + pad
                and a["r"][1] - pad < b["r"][3] and b["r"][1] < a["r"][3] + pad)

    shown = [b for b in boxes if b["shown"]]
    hidden = [b for b in boxes if not b["shown"]]
    assert hidden and len(shown) > 30
    assert not [(a["text"], b["text"]) for i, a in enumerate(shown) for b in shown[i + 1:] if overlap(a, b)]
    for h in hidden:  # each hidden name had a reason: a shown one it would cover
        assert any(overlap(h, s, 4) for s in shown), h["text"]
        if h["seed"]:  # and a seed name only makes way for another seed name
            assert any(overlap(h, s, 4) and s["seed"] for s in shown), h["text"]
    win.zoom_home()


def test_seed_outlines_are_drawn_simplified_when_zoomed_out(win):
    """The demonstration zone's outlines are drawn from their simplified copy
    for the zoom (mappage.coarse_outlines), from the file's own outlines when
    zoomed in further, and from the copies first built again, not rebuilt
    ones, when zoomed back out."""
    import json

    from zjmap.core.mappage import layer_payload

    spec = json.loads(layer_payload(win.stack.layer("demo_members")))

    def ring_vertices(g):
        polys = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        return sum(len(ring) - 1 for poly in polys for ring in poly)

    only_layers(win, {"demo_members", "ms_pairings"})  # the pairings lie above the zone in the stack
    n_features = len(spec["data"]["features"])
    count = {"z%d" % b["upTo"]: sum(ring_vertices(g) for g in b["geometries"]) for b in spec["coarse"]}
    count["full"] = sum(ring_vertices(f["geometry"]) for f in spec["data"]["features"])
    assert set(count) == {"z7", "z9", "full"} and count["z7"] < count["z9"] < count["full"]
    probe = ("(function(){var l = ZJ.layers.demo_members, n = 0, paths = 0;"
             "function c(a){return a.length && a[0] instanceof L.LatLng ? a.length : a.reduce(function(s, x){return s + c(x);}, 0);}"
             "l.group.eachLayer(function(p){n += c(p.getLatLngs()); if (p._path && p._path.parentNode) paths++;});"
             "window.zjFirst = window.zjFirst || {}; if (!window.zjFirst[l.band]) window.zjFirst[l.band] = l.group;"
             "return JSON.stringify({band: l.band, n: n, paths: paths, zoom: ZJ.map.getZoom(), first: window.zjFirst[l.band] === l.group});})()")

    def at(zoom, band):
        js(win.map, f"ZJ.map.setView([31.0, 120.9], {zoom}, {{animate: false}}); 1")
        assert wait_until(lambda: js(win.map, probe)["band"] == band), js(win.map, probe)
        s = js(win.map, probe)
        assert s["zoom"] == zoom and s["n"] == count[band] and s["paths"] == n_features and s["first"], s
        # a copy that came in is drawn where its layer lies in the stack: under the pairings
        assert js(win.map, "(function(){var a = [], b = [];"
                  "ZJ.layers.demo_members.group.eachLayer(function(p){a.push(p._path);});"
                  "ZJ.layers.ms_pairings.group.eachLayer(function(p){if (p._path) b.push(p._path);});"
                  "return b.length > 0 && a.every(function(x){return b.every(function(y){"
                  "return x.compareDocumentPosition(y) & Node.DOCUMENT_POSITION_FOLLOWING;});});})()") is True

    at(7, "z7")
    at(9, "z9")
    at(11, "full")
    at(8, "z9")
    at(6, "z7")
    win.zoom_home()
