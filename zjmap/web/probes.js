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
    return JSON.stringify({ draws: s.draws, drawn: s.drawn, lastMs: s.lastMs, addMs: s.addMs, decodeMs: s.decodeMs, labels: s.labels,
      loaded: !!l.group.geom, error: s.error || null, key: l.group.geom ? l.group.geom.key : null,
      sets: l.group.geom ? l.group.geom.sets.length : 0, set: s.set,
      shared: !!l.group._shared, pieces: l.group.pieces ? l.group.pieces.length : 0,
      features: s.features, zoom: s.zoom, onMap: ZJ.map.hasLayer(l.group),
      firstDrawAgo: s.firstDraw ? performance.now() - s.firstDraw : null, joined: !!s.joined });
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
