"""A big layer drawn from tiles (zjmap/web/tiles.js, issue 16): a pan draws
only the tiles it uncovers, a zoom back to a zoom seen draws none, and the
canvas put together from kept tiles is pixel for pixel the view drawn whole
(``ZJ.bigCheck``: a seam or a stale tile would show as differing pixels).
Restyling, opacity, a filter and removing the layer let its tiles go."""

from __future__ import annotations

import json

import pytest

import zjmap.qt.userlayers as qul
from zjmap.core import layercache
from zjmap.core.layerfilter import with_filter
from guitools import js, spin, wait_until
from test_gui_userlayers import big_stats, drawn, wait_task
from test_layercache import write_parcels


@pytest.fixture(scope="module")
def parcels(tmp_path_factory):
    """6,000 wiggly 24-vertex parcels (60 × 100, 0.01° apart) in a GBK shapefile."""
    return write_parcels(tmp_path_factory.mktemp("tiles") / "地块.shp", n=6000)


def add_and_view(win, path, lat: float, lon: float, zoom: int) -> str:
    """Add the file as a layer, show it at (lat, lon, zoom), and wait for its drawing there."""
    task = qul.add_layer_from_path(win.user_layers, path)
    wait_task(task)
    assert task.status == "loaded", task.message
    lid = task.layer_id
    js(win.map, f"ZJ.map.setView([{lat}, {lon}], {zoom}, {{animate: false}}); 1")
    assert wait_until(lambda: drawn(win, lid) and big_stats(win, lid)["zoom"] == zoom, 20000)
    return lid


def check(win, lid: str) -> dict:
    return js(win.map, f"ZJ.bigCheck({json.dumps(lid)})")


def tiles(win, lid: str) -> dict:
    return big_stats(win, lid)["tiles"]


def step(win, lid: str, code: str) -> dict:
    """Pan or zoom at once, then the layer's tile counts of the view drawn."""
    draws = big_stats(win, lid)["draws"]
    js(win.map, code + "; 1")
    assert wait_until(lambda: big_stats(win, lid)["draws"] > draws, 5000)
    return tiles(win, lid)


def exact(win, lid: str) -> dict:
    """Pixel for pixel: parcels a few pixels across are written into pixel
    buffers, the same pixels whatever the buffer."""
    c = check(win, lid)
    assert c["painted"] > 1000, c  # the parcels are on it: not two empty canvases
    assert c["differ"] == 0, c
    return c


def alike(win, lid: str) -> dict:
    """Parcels big on screen are anti-aliased canvas paths: Skia shades some
    of an outline's edge pixels differently on a tile than on the whole
    canvas (its choice of anti-aliasing follows the clip). Those are few and
    anywhere; a seam would be a line of them along tiles' edges."""
    c = check(win, lid)
    assert c["painted"] > 1000, c
    assert c["more"] < 0.01 * c["painted"] and c["edge"] <= 0.05 * c["more"] + 10, c
    return c


@pytest.fixture
def no_ahead(win):
    """No tiles drawn ahead while idle: the counts below are the steps' own."""
    js(win.map, "ZJ.tiles.setAhead(false); 1")
    yield
    js(win.map, "ZJ.tiles.setAhead(true); 1")


def test_pans_and_zooms_reuse_tiles_and_match_a_whole_drawing(win, parcels, monkeypatch, no_ahead):
    monkeypatch.setattr(layercache, "enabled", False)
    lid = add_and_view(win, parcels, 30.5, 120.3, 10)
    spin(200)
    first = exact(win, lid)
    view = tiles(win, lid)["lastRendered"] + tiles(win, lid)["lastReused"]
    assert view >= 30  # the view spans a few rows of 128-px tiles (those only in the canvas's margin wait)

    # a pan draws the tiles it uncovers only; panning back draws none
    t = step(win, lid, "ZJ.map.panBy([300, 150], {animate: false})")
    assert 0 < t["lastRendered"] < view / 2 and t["lastReused"] > view / 2, t
    exact(win, lid)
    t = step(win, lid, "ZJ.map.panBy([-300, -150], {animate: false})")
    assert t["lastRendered"] == 0, t
    assert exact(win, lid)["mean"] == first["mean"]

    # a zoom in draws the new zoom's tiles; zooming back draws none
    t = step(win, lid, "ZJ.map.setZoom(11, {animate: false})")
    assert t["lastRendered"] > 0
    exact(win, lid)
    t = step(win, lid, "ZJ.map.setZoom(10, {animate: false})")
    assert t["lastRendered"] == 0, t
    exact(win, lid)
    # close in: parcels of 40+ px are canvas paths (anti-aliased), still alike tile for tile
    step(win, lid, "ZJ.map.setView([30.43, 120.27], 13, {animate: false})")
    alike(win, lid)
    t = step(win, lid, "ZJ.map.panBy([-250, 120], {animate: false})")
    assert t["lastReused"] > 0
    alike(win, lid)
    # far out: parcels of a pixel or two, written as dots
    step(win, lid, "ZJ.map.setView([30.5, 120.3], 8, {animate: false})")
    exact(win, lid)

    # the check sees a stale tile: one kept tile scribbled on, the canvas put together again
    js(win.map, f"""(function () {{ var g = ZJ.layers[{json.dumps(lid)}].group, f = g._frame, T = ZJ.tiles.SIZE;
        var x = f.nx + f.view[0] + (f.view[2] >> 1), y = f.ny + f.view[1] + (f.view[3] >> 1);
        var t = g._tiles.tiles.get(g._tiles.key(f.z, Math.floor(x / T), Math.floor(y / T), f.r)), c = t.canvas.getContext("2d");
        c.fillStyle = "#ff0000";
        c.fillRect(Math.min(T - 20, x % T), Math.min(T - 20, y % T), 20, 20);
        g._draw(); return 1; }})()""")
    stale = check(win, lid)
    assert stale["differ"] >= 400 and stale["worst"] > 100, stale
    js(win.map, f"ZJ.layers[{json.dumps(lid)}].group.redraw(); 1")
    assert check(win, lid)["differ"] == 0
    win.user_layers.remove(lid)


def test_restyle_opacity_filter_and_removal_let_the_tiles_go(win, parcels, monkeypatch, no_ahead):
    monkeypatch.setattr(layercache, "enabled", False)
    lid = add_and_view(win, parcels, 30.5, 120.3, 11)
    before = exact(win, lid)
    layer = win.stack.layer(lid)

    # opacity: every tile drawn again, fainter
    draws = big_stats(win, lid)["draws"]
    win.stack.set_opacity(lid, 0.3)
    assert wait_until(lambda: big_stats(win, lid)["draws"] > draws, 5000)
    t = tiles(win, lid)
    assert t["lastReused"] == 0 and t["lastRendered"] > 0
    faint = exact(win, lid)
    assert faint["mean"][3] < 0.6 * before["mean"][3]
    win.stack.set_opacity(lid, 1.0)

    # a new colour: magenta where the parcels were blue-grey
    dlg = win.user_layers.open_style(lid)
    dlg.set_color("#ff00ff")
    dlg.apply()
    dlg.close()
    assert wait_until(lambda: check(win, lid)["mean"][1] < before["mean"][1] - 40, 8000), check(win, lid)
    magenta = exact(win, lid)
    assert magenta["mean"][0] > magenta["mean"][1] + 60

    # a filter leaving out half the parcels: half as much drawn
    win.stack.set_style(lid, with_filter(layer.style, "面积 >= 4500"))
    assert wait_until(lambda: check(win, lid)["painted"] < 0.8 * magenta["painted"], 8000), check(win, lid)
    exact(win, lid)

    # removed: its tiles go (only the base map's stay)
    cached = js(win.map, "ZJ.tiles.cached()")
    win.user_layers.remove(lid)
    assert wait_until(lambda: big_stats(win, lid) is None, 5000)
    assert js(win.map, "ZJ.tiles.cached()") < cached
    assert not win.map.js_errors


def test_tiles_drawn_ahead_while_idle_serve_the_next_pan_and_zoom(win, parcels, monkeypatch):
    """While the page is idle it draws the tiles round the view and those of
    the zooms either side: then a pan or a zoom step has none left to draw."""
    monkeypatch.setattr(layercache, "enabled", False)
    lid = add_and_view(win, parcels, 30.5, 120.3, 10)
    # the ring round the canvas and a view at 9 and at 11: some 30 + 2 × 30 tiles
    assert wait_until(lambda: tiles(win, lid)["ahead"] >= 60, 20000), tiles(win, lid)
    spin(500)
    t = step(win, lid, "ZJ.map.panBy([200, 100], {animate: false})")
    assert t["lastRendered"] == 0 and t["lastReused"] > 10, t
    exact(win, lid)
    spin(1500)
    t = step(win, lid, "ZJ.map.setZoom(11, {animate: false})")
    assert t["lastRendered"] == 0, t
    exact(win, lid)
    win.user_layers.remove(lid)


def test_the_shared_base_canvas_reuses_tiles_alike_but_for_antialiasing(win, no_ahead):
    """The base map's layers share a canvas drawn from tiles too (canvas
    paths only: its outlines shaded as alike() says)."""
    win.zoom_home()
    spin(300)
    for code in ("ZJ.map.panBy([300, 150], {animate: false})", "ZJ.map.panBy([-300, -150], {animate: false})",
                 "ZJ.map.setZoom(ZJ.map.getZoom() + 2, {animate: false})"):
        t = step(win, "base_province", code)
        c = check(win, "base_province")
        assert c["painted"] > 0.1 * c["pixels"], c
        assert c["more"] < 0.01 * c["painted"] and c["edge"] <= 0.05 * c["more"] + 10, c
    assert t["lastRendered"] > 0
    t = step(win, "base_province", "ZJ.map.setZoom(ZJ.map.getZoom() - 2, {animate: false})")
    assert t["lastRendered"] == 0, t
    win.zoom_home()


def test_many_points_as_dots_equal_the_drawing_point_by_point(win, tmp_path, monkeypatch, no_ahead):
    """Thousands of points in view are stamped as dots from coordinates kept
    in grid order (bigraster.gridDots / gridCount): the same pixels, tiles
    or whole view, as drawing them one call per point in the query's order
    (R.discs), hidden ones (a filter) included."""
    import numpy as np

    monkeypatch.setattr(layercache, "enabled", False)
    rng = np.random.default_rng(16)
    n = 260_000  # so many that each is a dot of 3 × 3 px (stamped in gridDots itself) in a map of any width here
    lon, lat = rng.uniform(119.7, 120.7, n), rng.uniform(29.9, 30.7, n)
    path = tmp_path / "网点.csv"
    rows = [f"网点{i},{i % 7},{x:.6f},{y:.6f}" for i, (x, y) in enumerate(zip(lon, lat))]
    path.write_text("名称,等级,lon,lat\n" + "\n".join(rows) + "\n", encoding="utf-8")
    task = qul.add_layer_from_path(win.user_layers, path)
    wait_task(task)
    assert task.status == "loaded", task.message
    lid = task.layer_id
    layer = win.stack.layer(lid)
    compare = f"""(function () {{
        var s = ZJ.layers[{json.dumps(lid)}].group, f = s._frame, R = ZJ.bigRaster;
        function paint() {{
          var c = document.createElement("canvas"); c.width = f.W; c.height = f.H;
          var ctx = c.getContext("2d"); s._paintView(ctx, f); return ctx.getImageData(0, 0, f.W, f.H).data;
        }}
        var fast = paint(), dots = R.gridDots, count = R.gridCount, fit = s._zs[f.z + "@" + f.r][0][0] / f.r;
        R.gridDots = null; R.gridCount = null; s._zs = {{}};
        try {{ var slow = paint(); }} finally {{ R.gridDots = dots; R.gridCount = count; s._zs = {{}}; }}
        var differ = 0, painted = 0;
        for (var i = 0; i < fast.length; i += 4) {{
          if (fast[i + 3]) painted++;
          if (fast[i] !== slow[i] || fast[i + 1] !== slow[i + 1] || fast[i + 2] !== slow[i + 2] || fast[i + 3] !== slow[i + 3]) differ++;
        }}
        return JSON.stringify({{ differ: differ, painted: painted, grid: !!s._pieces()[0].geom.parts[0]._grid._xy,
          fit: fit }});
      }})()"""
    for zoom in (9, 10):
        js(win.map, f"ZJ.map.setView([30.3, 120.2], {zoom}, {{animate: false}}); 1")
        # drawn at this zoom, and painted: a draw from the chunks read earlier may
        # have been counted while the layer's own arrays, redrawn once read, were on their way
        assert wait_until(lambda: drawn(win, lid) and big_stats(win, lid)["zoom"] == zoom
                          and check(win, lid)["painted"] > 1000, 20000), check(win, lid)
        exact(win, lid)  # tiles put together = the view drawn whole
        got = js(win.map, compare)
        assert got["grid"] and got["painted"] > 20_000 and got["differ"] == 0, got
        assert 1 <= got["fit"] < 2.5, got  # dots of a few pixels
    # a filter hiding most points: the dots left are still the same pixels
    shown = big_stats(win, lid)["drawn"]
    win.stack.set_style(lid, with_filter(layer.style, "等级 >= 5"))  # 2 points in 7 left
    assert wait_until(lambda: big_stats(win, lid)["drawn"] < 0.4 * shown, 8000), (shown, big_stats(win, lid))
    got = js(win.map, compare)
    assert got["painted"] > 5_000 and got["differ"] == 0, got
    step(win, lid, "ZJ.map.panBy([200, 100], {animate: false})")
    exact(win, lid)
    win.user_layers.remove(lid)
    assert not win.map.js_errors


def test_the_base_map_is_drawn_from_its_coarse_sets_then_reads_the_finer(win):
    """The start page's base map (bigdisplay.HEAD_ZOOM): the page draws once
    the files of its coarse sets are read and says ready; the finer sets are
    asked for only after that, and a deep zoom then draws from the finest."""
    drawn_at = js(win.map, "JSON.stringify(ZJ.timing.drawn)")
    split = 0
    for lid in ("base_province", "base_water", "base_prefecture", "base_county"):
        g = js(win.map, f"JSON.stringify(window.ZJ_LAYERS.filter(function (l) {{ return l.id === {json.dumps(lid)}; }})[0].big.geometry)")
        if not g["more"]:
            continue
        split += 1
        assert 0 < g["more"]["from"] < len(g["sets"]), g["more"]
        assert wait_until(lambda: big_stats(win, lid)["partial"] is False, 10000), big_stats(win, lid)
        s = big_stats(win, lid)
        assert s["sets"] == len(g["sets"]) and s["finerAsked"] >= drawn_at, (lid, s, drawn_at)
    assert split >= 3
    lid = "base_county"
    js(win.map, "ZJ.map.setView([30.25, 120.15], 12, {animate: false}); 1")
    assert wait_until(lambda: big_stats(win, lid)["zoom"] == 12, 10000)
    assert big_stats(win, lid)["set"] == big_stats(win, lid)["sets"] - 1
    alike(win, lid)  # the shared canvas: tiles alike the whole view but for anti-aliasing
    win.zoom_home()


def test_a_first_deep_zoom_boxes_only_the_runs_of_vertices_it_draws(win, tmp_path, monkeypatch, no_ahead):
    """Rings far bigger than a tile: a run of 64 vertices all beyond one edge
    of a tile is held at once (biglayer.js _path), by its box. The boxes are
    made as a path first asks for them (tiles.chunkBox), not for the whole
    set at a first zoom to it (a million parcels' 25 M vertices took longer
    than the drawing); the pixels are those of a path made vertex by vertex."""
    import geopandas as gpd
    import numpy as np
    import shapely

    monkeypatch.setattr(layercache, "enabled", False)
    i = np.arange(2000)
    centres = shapely.points(119.0 + (i % 50) * 0.05, 29.0 + (i // 50) * 0.05)
    rings = shapely.buffer(centres, 0.02, quad_segs=100)  # 400 vertices a ring: 6 runs of 64 and a bit
    path = tmp_path / "圆.gpkg"
    gpd.GeoDataFrame({"名称": [f"圆{k}" for k in i]}, geometry=rings, crs=4326).to_file(path, driver="GPKG")
    lid = add_and_view(win, path, 29.5, 120.02, 16)  # on the rim of one circle, some 1,900 px across
    spin(200)
    alike(win, lid)
    boxed = js(win.map, f"""(function () {{
        var g = ZJ.layers[{json.dumps(lid)}].group, sets = g.geom.sets, full = sets[sets.length - 1][0], made = 0;
        for (var k = 0; k < full._cbMade.length; k++) made += full._cbMade[k];
        return JSON.stringify({{ made: made, runs: full._cbMade.length, set: g._band(16), last: sets.length - 1 }});
      }})()""")
    assert boxed["set"] == boxed["last"], boxed  # the full-resolution set
    assert 0 < boxed["made"] < 0.02 * boxed["runs"], boxed  # some runs held at once; most never looked at
    same = js(win.map, f"""(function () {{
        var s = ZJ.layers[{json.dumps(lid)}].group, f = s._frame, T = ZJ.tiles;
        function paint() {{
          var c = document.createElement("canvas"); c.width = f.W; c.height = f.H;
          var ctx = c.getContext("2d"); s._paintView(ctx, f); return ctx.getImageData(0, 0, f.W, f.H).data;
        }}
        var held = paint(), boxes = T.chunkBoxes, box = T.chunkBox, all = new Float32Array([-1e30, -1e30, 1e30, 1e30]);
        T.chunkBoxes = function () {{ return all; }};  // a box meeting everything: vertex by vertex
        T.chunkBox = function () {{ return 0; }};
        try {{ var each = paint(); }} finally {{ T.chunkBoxes = boxes; T.chunkBox = box; }}
        var differ = 0, painted = 0;
        for (var i = 0; i < held.length; i += 4) {{
          if (held[i + 3]) painted++;
          if (held[i] !== each[i] || held[i + 1] !== each[i + 1] || held[i + 2] !== each[i + 2] || held[i + 3] !== each[i + 3]) differ++;
        }}
        return JSON.stringify({{ differ: differ, painted: painted }});
      }})()""")
    assert same["painted"] > 10_000 and same["differ"] == 0, same
    win.user_layers.remove(lid)
    assert not win.map.js_errors


def test_fills_under_an_outline_go_into_the_pixel_buffer_and_look_as_canvas_fills(win, parcels, monkeypatch, no_ahead):
    """Parcels big enough to be canvas paths, with a solid outline: their
    fills are written into the pixel buffer (bigraster.fillsUnder) and the
    canvas path only strokes. The picture is the one Skia's fills give but
    along the outlines (Skia blends two neighbours' edges; the buffer gives
    each pixel to one parcel), and tiles still put together the whole view."""
    monkeypatch.setattr(layercache, "enabled", False)
    lid = add_and_view(win, parcels, 30.43, 120.27, 13)
    spin(200)
    alike(win, lid)
    got = js(win.map, f"""(function () {{
        var s = ZJ.layers[{json.dumps(lid)}].group, f = s._frame, R = ZJ.bigRaster, fill = R.fillPolygon, under = R.fillsUnder, n = 0;
        function paint() {{
          var c = document.createElement("canvas"); c.width = f.W; c.height = f.H;
          var ctx = c.getContext("2d"); s._paintView(ctx, f); return ctx.getImageData(0, 0, f.W, f.H).data;
        }}
        R.fillPolygon = function () {{ n++; return fill.apply(this, arguments); }};
        try {{ var buffer = paint(), filled = n; R.fillsUnder = function () {{ return false; }}; n = 0; var skia = paint(); }}
        finally {{ R.fillPolygon = fill; R.fillsUnder = under; }}
        var painted = 0, differ = 0, alpha = [0, 0];
        for (var i = 0; i < buffer.length; i += 4) {{
          if (buffer[i + 3]) painted++;
          alpha[0] += buffer[i + 3]; alpha[1] += skia[i + 3];
          var d = Math.max(Math.abs(buffer[i] - skia[i]), Math.abs(buffer[i + 1] - skia[i + 1]),
                           Math.abs(buffer[i + 2] - skia[i + 2]), Math.abs(buffer[i + 3] - skia[i + 3]));
          if (d > 3) differ++;
        }}
        return JSON.stringify({{ filled: filled, after: n, painted: painted, differ: differ, alpha: alpha }});
      }})()""")
    assert got["filled"] > 50 and got["after"] == 0, got  # the parcels in view filled in the buffer, then none
    assert got["painted"] > 100_000, got
    assert got["differ"] < 0.04 * got["painted"], got  # along the outlines only
    assert abs(got["alpha"][0] - got["alpha"][1]) < 0.005 * got["alpha"][1], got
    win.user_layers.remove(lid)


def test_a_big_layer_whose_arrays_are_not_in_yet_makes_no_tiles(win):
    """Until a big layer's arrays are read there is nothing to draw: no
    tiles of nothing are made and kept (the base map at start spent ~10 ms
    on them while its files were still coming). A chunk whose file cannot
    be read leaves the layer with nothing to draw."""
    lid = "t_nothing_yet"
    spec = {"id": lid, "kind": "user", "geometry": "polygon", "visible": True, "opacity": 1.0, "interactive": False,
            "big": {"style": {"styles": [{"color": "#e31a1c"}]},
                    "chunk": {"key": "nothing", "url": "no-such-chunk.bin", "bytes": 64, "origin": [0, 0], "features": 1,
                              "parts": [{"type": "polygon", "n": 1, "feat": [0, 1]}], "sets": [[]], "bands": [[99, 0]]}}}
    js(win.map, f"ZJ.addChunk({json.dumps(spec)}, null); 1")
    try:
        assert wait_until(lambda: (big_stats(win, lid) or {}).get("error"), 5000), big_stats(win, lid)
        js(win.map, "ZJ.map.panBy([40, 20], {animate: false}); 1")  # a moveend: the layer's canvas is asked to draw
        spin(200)
        s = big_stats(win, lid)
        assert s["onMap"] and s["pieces"] == 0, s
        assert s["draws"] == 0 and s["tiles"] is None, s  # drawn nothing, kept no tile
    finally:
        js(win.map, f"ZJ.removeLayer({json.dumps(lid)}); ZJ.map.panBy([-40, -20], {{animate: false}}); 1")
