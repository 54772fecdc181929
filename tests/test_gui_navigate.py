"""What a pan or a zoom costs the shipped map (issue 16), in the real window:
names placed only near the view, in one pane, measured once."""

from __future__ import annotations

import json

from guitools import js, show_only, spin, wait_until

HANGZHOU = (30.25, 120.15)
WENZHOU = (28.0, 120.65)

LABELS = """JSON.stringify((function () {
  var box = ZJ.map.getContainer().getBoundingClientRect();
  return Array.from(document.querySelectorAll('.zj-label')).map(function (el) {
    var r = el.getBoundingClientRect();
    return {text: el.textContent, cls: el.className, x: r.left - box.left, y: r.top - box.top,
            shown: el.style.visibility !== 'hidden', transform: getComputedStyle(el).transform};
  });
})())"""


def go(win, lat: float, lon: float, zoom: int) -> None:
    js(win.map, f"ZJ.map.setView([{lat}, {lon}], {zoom}, {{animate: false}}); 1")
    assert wait_until(lambda: js(win.map, "ZJ.map.getZoom()") == zoom)
    spin(100)


def county_names_in_view(win) -> set[str]:
    """The county names whose anchor is on screen now (from the layer's label points)."""
    return set(js(win.map, """JSON.stringify((function () {
      var s = ZJ.map.getSize(), set = ZJ.layers.base_county.labels;
      return set.points.filter(function (p) {
        var q = ZJ.map.latLngToContainerPoint([p[1], p[2]]);
        return q.x >= 0 && q.y >= 0 && q.x <= s.x && q.y <= s.y;
      }).map(function (p) { return p[0]; });
    })())"""))


def test_names_have_elements_only_near_the_view(win):
    show_only(win, set())
    total = js(win.map, "ZJ.layers.base_county.labels.count()")
    assert total > 250  # the YRD's counties
    go(win, *HANGZHOU, 10)
    size = js(win.map, "JSON.stringify(ZJ.map.getSize())")
    labels = js(win.map, LABELS)
    county = [lab for lab in labels if "zj-label-base_county" in lab["cls"]]
    # every county named on screen has its element; the far ones have none
    assert county_names_in_view(win) <= {lab["text"] for lab in county}
    assert 0 < len(county) < total / 3
    for lab in labels:  # an anchor in the view or its margin (a quarter of the view each side)
        assert -0.26 * size["x"] <= lab["x"] <= 1.26 * size["x"] and -0.26 * size["y"] <= lab["y"] <= 1.26 * size["y"], lab
        # a plain 2-D transform: no composited layer per name
        assert lab["transform"].startswith("matrix("), lab
    # across the province: Wenzhou's names come, Hangzhou's go
    hz = {lab["text"] for lab in county}
    go(win, *WENZHOU, 10)
    county2 = {lab["text"] for lab in js(win.map, LABELS) if "zj-label-base_county" in lab["cls"]}
    assert county_names_in_view(win) <= county2
    assert "鹿城区" in county2 and "鹿城区" not in hz
    assert "西湖区" in hz and "西湖区" not in county2
    win.zoom_home()


def test_names_shown_from_their_zoom_and_thinned_again_after_a_pan(win):
    show_only(win, set())
    go(win, *HANGZHOU, 8)
    assert not [lab for lab in js(win.map, LABELS) if "zj-label-base_county" in lab["cls"]]
    go(win, *HANGZHOU, 9)
    assert county_names_in_view(win) <= {lab["text"] for lab in js(win.map, LABELS) if "zj-label-base_county" in lab["cls"]}
    # a pan back to a view seen before measures no name again (boxes are kept)
    js(win.map, "ZJ.map.panBy([300, 150], {animate: false}); ZJ.map.panBy([-300, -150], {animate: false}); 1")
    js(win.map, """(function () {
      var f = Element.prototype.getBoundingClientRect; window.zjMeasured = 0;
      Element.prototype.getBoundingClientRect = function () { window.zjMeasured++; return f.apply(this, arguments); };
      window.zjUnwrap = function () { Element.prototype.getBoundingClientRect = f; };
      ZJ.map.panBy([300, 150], {animate: false}); ZJ.map.panBy([-300, -150], {animate: false});
      window.zjUnwrap();
    })(); 1""")
    assert js(win.map, "window.zjMeasured") == 0
    # no two names shown overlap after the pans
    shown = [lab for lab in js(win.map, """JSON.stringify(Array.from(document.querySelectorAll('.zj-label'))
        .filter(function (el) { return el.style.visibility !== 'hidden'; })
        .map(function (el) { var r = el.firstChild.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }))""")]
    assert len(shown) > 10
    assert not [(a, b) for i, a in enumerate(shown) for b in shown[i + 1:]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]
    win.zoom_home()


SEEDS = {"province_figures", "ms_26_counties", "demo_members", "ms_pairings", "cluster_zones"}

COUNT_PROJECTIONS = """(function () {
  window.zjProj = {}; window.zjBuilt = {};
  [[L.Polyline.prototype, '_project', 'zjProj'], [L.CircleMarker.prototype, '_project', 'zjProj'],
   [L.Polyline.prototype, '_update', 'zjBuilt'], [L.CircleMarker.prototype, '_update', 'zjBuilt']].forEach(function (t) {
    var f = t[0][t[1]], name = t[2];
    if (f._zjCounted) return;
    t[0][t[1]] = function () { var box = window[name], id = L.stamp(this); box[id] = (box[id] || 0) + 1; return f.apply(this, arguments); };
    t[0][t[1]]._zjCounted = f;
  });
})(); 1"""

SEED_PATHS = """JSON.stringify((function () {
  var out = [];
  %s.forEach(function (id) {
    ZJ.layers[id].group.eachLayer(function (l) { out.push(L.stamp(l)); });
  });
  return out;
})())"""

OUTLINES = """JSON.stringify((function () {
  var out = {};
  %s.forEach(function (id) {
    ZJ.layers[id].group.eachLayer(function (l) { out[L.stamp(l)] = l._path.getAttribute('d'); });
  });
  return out;
})())"""


def test_a_zoom_projects_each_seed_path_once_and_outlines_stay_right(win):
    """Leaflet projected every SVG path twice and rebuilt it three times a zoom
    step; a pan rebuilt every outline. Now: once (a path of the outline copy
    a layer takes for the new zoom, zjmap.js swapBands, as it is added), and
    a pan rebuilds only the paths the new bounds clip differently; every
    outline is the one Leaflet itself makes for the view."""
    show_only(win, SEEDS)
    assert wait_until(lambda: all(js(win.map, f"ZJ.isShown('{i}')") for i in SEEDS))
    go(win, 29.2, 120.5, 7)
    ids = sorted(SEEDS)
    paths = js(win.map, SEED_PATHS % json.dumps(ids))
    assert len(paths) > 40
    js(win.map, COUNT_PROJECTIONS)
    for zoom in (8, 9, 8):
        js(win.map, f"zjProj = {{}}; zjBuilt = {{}}; ZJ.map.setZoom({zoom}, {{animate: false}}); 1")
        proj, built = js(win.map, "JSON.stringify(zjProj)"), js(win.map, "JSON.stringify(zjBuilt)")
        paths = js(win.map, SEED_PATHS % json.dumps(ids))  # the paths of the outline copy each layer draws at this zoom
        assert all(proj.get(str(p)) == 1 for p in paths), (zoom, proj)
        assert all(built.get(str(p)) == 1 for p in paths), (zoom, {p: (proj.get(str(p)), built.get(str(p))) for p in paths if built.get(str(p)) != 1})
    js(win.map, "zjProj = {}; zjBuilt = {}; ZJ.map.panBy([120, 60], {animate: false}); 1")
    proj, built = js(win.map, "JSON.stringify(zjProj)"), js(win.map, "JSON.stringify(zjBuilt)")
    assert not proj  # a pan keeps every projection
    assert 0 < len(built) < len(paths)  # and rebuilds only the outlines its bounds clip differently
    # after zooms and pans, each outline is what Leaflet's own reset makes now
    for step in ("ZJ.map.panBy([-400, 300], {animate: false})", "ZJ.map.setZoom(10, {animate: false})",
                 "ZJ.map.panBy([500, -200], {animate: false})", "ZJ.map.setView([30.0, 120.8], 9, {animate: false})"):
        js(win.map, step + "; 1")
        ours = js(win.map, OUTLINES % json.dumps(ids))
        js(win.map, """%s.forEach(function (id) {
            ZJ.layers[id].group.eachLayer(function (l) { L.Path.prototype._reset.call(l); }); }); 1""" % json.dumps(ids))
        assert js(win.map, OUTLINES % json.dumps(ids)) == ours, step
    js(win.map, """[L.Polyline.prototype, L.CircleMarker.prototype].forEach(function (p) {
        ['_project', '_update'].forEach(function (n) { if (p[n]._zjCounted) p[n] = p[n]._zjCounted; }); }); 1""")
    win.zoom_home()
