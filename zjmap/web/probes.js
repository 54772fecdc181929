/* zjmap page probes: what tests and benchmarks read of the canvas layers
 * (zjmap/page/protocol.py marks them probe=True; the app never calls them). */
(function () {
  "use strict";
  var ZJ = window.ZJ;
  if (!ZJ) return;

  /* How a big layer was last drawn (tests and benchmarks poll this). */
  ZJ.bigStats = function (id) {
    var l = ZJ.layers[id];
    if (!l || !l.big) return JSON.stringify(null);
    var s = l.group.stats;
    return JSON.stringify({ draws: s.draws, drawn: l.group.countInView(), tiles: s.tiles || null, lastMs: s.lastMs, addMs: s.addMs, decodeMs: s.decodeMs, labels: s.labels,
      loaded: !!l.group.geom, error: s.error || null, key: l.group.geom ? l.group.geom.key : null,
      sets: l.group.geom ? l.group.geom.sets.length : 0, set: s.set, partial: l.group.geom ? !!l.group.geom.partial : null, finerAsked: s.finerAsked || null,
      shared: !!l.group._shared, pieces: l.group.pieces ? l.group.pieces.length : 0,
      features: s.features, zoom: s.zoom, onMap: ZJ.map.hasLayer(l.group),
      firstDrawAgo: s.firstDraw ? performance.now() - s.firstDraw : null, joined: !!s.joined });
  };

  /* The canvas a big layer is on, where it is on screen, against the same
   * view drawn whole with no tile: how many pixels differ at all, and by more than `shade` levels of
   * a premultiplied channel (Skia strokes an outline a level apart when it
   * lies elsewhere on a canvas); a seam or a stale tile shows as those. */
  ZJ.bigCheck = function (id) {
    var l = ZJ.layers[id];
    if (!l || !l.big) return JSON.stringify(null);
    var s = l.group._shared || l.group, f = s._frame;
    if (!s._canvas || !f) return JSON.stringify(null);
    var c = document.createElement("canvas");
    c.width = f.W;
    c.height = f.H;
    var ctx = c.getContext("2d");
    s._paintView(ctx, f);
    var vw = f.view, a = s._ctx.getImageData(vw[0], vw[1], vw[2], vw[3]).data, b = ctx.getImageData(vw[0], vw[1], vw[2], vw[3]).data;
    var T = ZJ.tiles.SIZE, edge = 0, differ = 0, shade = 2, more = 0, worst = 0, at = null, painted = 0, sum = [0, 0, 0, 0];
    for (var i = 0; i < a.length; i += 4) {
      if (a[i + 3]) { painted++; sum[0] += a[i]; sum[1] += a[i + 1]; sum[2] += a[i + 2]; sum[3] += a[i + 3]; }
      if (a[i] === b[i] && a[i + 1] === b[i + 1] && a[i + 2] === b[i + 2] && a[i + 3] === b[i + 3]) continue;
      differ++;
      var aa = a[i + 3] / 255, ba = b[i + 3] / 255, d = Math.abs(a[i + 3] - b[i + 3]);
      for (var k = 0; k < 3; k++) d = Math.max(d, Math.abs(a[i + k] * aa - b[i + k] * ba));
      if (d > shade) {
        more++;
        var ex = ((i / 4) % vw[2] + vw[0] + f.nx) % T, ey = (Math.floor(i / 4 / vw[2]) + vw[1] + f.ny) % T;
        if (ex === 0 || ex === T - 1 || ey === 0 || ey === T - 1) edge++; // beside a tile's edge: a seam
      }
      if (d > worst) { worst = d; at = [(i / 4) % vw[2] + vw[0], Math.floor(i / 4 / vw[2]) + vw[1]]; }
    }
    var mean = sum.map(function (x) { return painted ? x / painted : 0; });
    return JSON.stringify({ pixels: a.length / 4, painted: painted, mean: mean, differ: differ, shade: shade, more: more, edge: edge,
      worst: Math.round(worst * 10) / 10, at: at, zoom: f.z, tile: ZJ.tiles.SIZE, nx: f.nx, ny: f.ny });
  };

  /* Time one pan or zoom step including the redraw, and the next two frames
   * (the canvas reaches the screen). Results land in ZJ.benchResult. */
  ZJ.benchStep = function (what, arg) {
    ZJ.benchResult = null;
    var t0 = performance.now();
    if (what === "pan") ZJ.map.panBy(arg || [300, 150], { animate: false });
    else if (what === "zoom") ZJ.map.setZoom(arg, { animate: false });
    var sync = performance.now() - t0;
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        ZJ.benchResult = JSON.stringify({ sync: sync, frame: performance.now() - t0, zoom: ZJ.map.getZoom() });
      });
    });
    return sync;
  };
})();
