/* zjmap start tiles: the base map's tiles of the start view, kept from one
 * start for the next (zjmap/core/starttiles.py, issue 16).
 *
 * Drawing the base map (four canvas layers on one shared canvas) was the
 * largest piece of a cold page's start, about 40 ms, and it is the same
 * picture every start with the same data, styles, zoom and pixel ratio.
 * So once the page is idle after a start that drew it, its tiles of the
 * start zoom go to Python as one PNG (send "startTiles"), and the next
 * start's page (window.ZJ_START_VIEW, startview.js) puts that image's
 * tiles into the surface's tile cache while the arrays are read: the first
 * picture is put together from them, and only what they lack is drawn
 * (biglayer.js redrawSoon). The image is used only when it was drawn from
 * the very layers, styles, zoom and pixel ratio of this start (its
 * fingerprint); Python's stamp covers the page's scripts and the engine.
 *
 * Hand-written: it is this page's own tile cache kept on disk.
 */
(function () {
  "use strict";
  var ZJ = window.ZJ;
  if (!ZJ) return;

  var KEEP_AFTER_MS = 2500; // after Python took the page: the start's own work is done
  var MAX_CELLS = 720; // tiles in one image (128 px each: 47 MB decoded at most, a big window at pixel ratio 2)

  /* What the tiles of a surface at zoom z and pixel ratio r are drawn from. */
  function fingerprint(surface, z, r) {
    return JSON.stringify([ZJ.tiles.SIZE, r, z, ZJ.look.defaults.canvas, surface._sorted().map(function (m) {
      return [m.id, m._key, m.opacity, m._style ? [m._style.styles, m._style.index] : null];
    })]);
  }

  /* Called once the start layers are in and the start view is fitted: the
   * kept image is read and decoded while the arrays are, and its tiles go
   * into the surface's cache just before its first picture, if that is at
   * the zoom and pixel ratio they were drawn at (a page loaded before its
   * window was laid out may be fitted to a new size, at another zoom). */
  function use(surface, page) {
    var view = window.ZJ_START_VIEW || { tiles: null, keep: false }, meta = view.tiles;
    var st = (ZJ.startTiles.state = { used: 0, lacked: null, kept: false, frame: null, why: meta ? "" : "none kept" });
    var gen = surface._gen || 0, img = null;
    surface._start = {
      before: function () { if (img) st.used = seed(surface, meta, img, gen); },
      after: function () { // the first picture: where it was, and the tiles the image lacked for it
        st.frame = surface._frame;
        st.lacked = surface._tiles ? surface._tiles.stats.lastRendered : null;
        if (img) img.close(); // its pixels are in the tiles now
        img = null;
      },
    };
    if (view.keep) ZJ.whenStarted(function () { setTimeout(function () { keep(surface, page, gen); }, KEEP_AFTER_MS); });
    if (!meta) return;
    page.loadStarted(); // the page is drawn once it is in, as once its files are
    readBitmap(meta.image, function (bm) {
      var S = ZJ.tiles.SIZE;
      if (bm.width === meta.cols * S && bm.height === meta.rows * S) img = bm;
      else { st.why = "the image is not the size its description says"; bm.close(); }
      page.loadEnded();
    }, function () { st.why = "the image cannot be read"; page.loadEnded(); });
  }

  /* The kept image as an ImageBitmap, decoded once, off the page's thread.
   * An <img> drawn into the tile canvases was decoded again each time a
   * canvas holding it was rastered (three decodes of the one image, about
   * 25 ms of a core, while the first picture was being made). */
  function readBitmap(url, done, fail) {
    var x = new XMLHttpRequest();
    x.open("GET", url);
    x.responseType = "blob";
    x.onload = function () {
      if (!x.response || !x.response.size) { fail(); return; }
      createImageBitmap(x.response).then(done, fail);
    };
    x.onerror = fail;
    x.send();
  }

  /* The image's tiles into the surface's cache; how many. */
  function seed(surface, meta, img, gen) {
    var st = ZJ.startTiles.state, z = ZJ.map.getZoom(), r = window.devicePixelRatio || 1;
    if ((surface._gen || 0) !== gen || !surface._tiles) { st.why = "the base map changed meanwhile"; return 0; }
    if (meta.fp !== fingerprint(surface, z, r)) { st.why = "drawn from other layers, styles, zoom or pixel ratio"; return 0; }
    var cache = surface._tiles, S = ZJ.tiles.SIZE, n = 0;
    for (var j = 0; j < meta.rows; j++) {
      for (var i = 0; i < meta.cols; i++) {
        var kind = meta.cells.charAt(j * meta.cols + i), cv = null;
        if (kind === "-") continue; // not drawn then: drawn now if it is needed
        if (kind === "t") {
          cv = ZJ.tiles.canvas();
          cv.getContext("2d").drawImage(img, i * S, j * S, S, S, 0, 0, S, S);
        }
        cache.put(cache.key(z, meta.x0 + i, meta.y0 + j, r), cv);
        n++;
      }
    }
    surface._seeded = n > 0;
    return n;
  }

  /* The surface's tiles of the first picture's canvas, if nothing changed
   * since the start and they were not all from the image: one PNG to Python. */
  function keep(surface, page, gen) {
    var st = ZJ.startTiles.state, cache = surface._tiles, f = st.frame;
    if ((surface._gen || 0) !== gen) { st.why = "the base map changed since the start"; return; }
    if (!cache || !f || (st.used && !st.lacked)) return; // no first picture, or all of it from the image
    var z = f.z, r = f.r, fp = fingerprint(surface, z, r);
    var cells = [], x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    ZJ.tiles.cover(f.nx, f.ny, f.W, f.H).forEach(function (c) { // the first picture's canvas, margin and all
      var t = cache.tiles.get(cache.key(z, c[0], c[1], r));
      if (!t) return;
      cells.push([c[0], c[1], t]);
      x0 = Math.min(x0, c[0]); y0 = Math.min(y0, c[1]); x1 = Math.max(x1, c[0]); y1 = Math.max(y1, c[1]);
    });
    var cols = x1 - x0 + 1, rows = y1 - y0 + 1, S = ZJ.tiles.SIZE;
    if (!cells.length || cols * rows > MAX_CELLS) return;
    var atlas = document.createElement("canvas"), grid = [];
    atlas.width = cols * S;
    atlas.height = rows * S;
    var ctx = atlas.getContext("2d");
    for (var k = 0; k < cols * rows; k++) grid.push("-");
    cells.forEach(function (c) {
      var i = c[0] - x0, j = c[1] - y0;
      grid[j * cols + i] = c[2].canvas ? "t" : "e";
      if (c[2].canvas) ctx.drawImage(c[2].canvas, i * S, j * S);
    });
    var meta = { fp: fp, z: z, r: r, x0: x0, y0: y0, cols: cols, rows: rows, cells: grid.join("") };
    atlas.toBlob(function (blob) {
      if (!blob) return;
      var rd = new FileReader();
      rd.onload = function () {
        var b64 = String(rd.result).split(",")[1] || "";
        page.send("startTiles", [JSON.stringify(meta), b64]);
        st.kept = true;
      };
      rd.readAsDataURL(blob);
    }, "image/png");
  }

  ZJ.startTiles = { use: use, state: null };
})();
