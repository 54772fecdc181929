/* zjmap: the chunks of a big file drawn while it was read (biglayer.js's
 * pieces) joined into the layer's arrays, so the page need not read the
 * same coordinates again from the layer's file. */
(function () {
  "use strict";
  var ZJ = window.ZJ;
  if (!ZJ) return;

  /* A layer's one full-resolution set made of the chunks drawn while its
   * file was read (as zjmap.core.displaychunks.assemble joins them), or
   * null when the chunks are not all there or are not its arrays. */
ZJ.chunks = { join: function (g, pieces) {
    if (!g.chunked || g.sets.length !== 1) return null;
    var total = 0, k, j;
    for (k = 0; k < pieces.length; k++) {
      var o = pieces[k].geom.origin;
      if (o[0] !== g.origin[0] || o[1] !== g.origin[1]) return null;
      total += pieces[k].geom.features;
    }
    if (total !== g.features) return null;
    var parts = [], set = [];
    for (var gi = 0; gi < g.parts.length; gi++) {
      var type = g.parts[gi].type, got = [], start = 0, n = 0, nxy = 0, nr = 0;
      for (k = 0; k < pieces.length; k++) {
        var pg = pieces[k].geom;
        for (j = 0; j < pg.parts.length; j++) {
          if (pg.parts[j].type !== type) continue;
          var s = pg.sets[0][j];
          got.push({ p: pg.parts[j], s: s, start: start });
          n += pg.parts[j].n; nxy += s.xy.length; nr += s.rings ? s.rings.length - 1 : 0;
        }
        start += pg.features;
      }
      if (n !== g.parts[gi].n) return null;
      var feat = new Uint32Array(n), bbox = new Float32Array(4 * n), xy = new Float32Array(nxy);
      var rings = type === "point" ? null : new Uint32Array(nr + 1), frings = new Uint32Array(n + 1);
      var fi = 0, vi = 0, ri = 0;
      got.forEach(function (x) {
        var p = x.p, sx = x.s, m, q;
        for (q = 0; q < p.n; q++) feat[fi + q] = p.feat[q] + x.start;
        bbox.set(p.bbox, 4 * fi);
        xy.set(sx.xy, 2 * vi);
        if (rings) {
          m = sx.rings.length - 1;
          for (q = 0; q < m; q++) rings[ri + q] = sx.rings[q] + vi;
          for (q = 0; q < p.n; q++) frings[fi + q] = sx.frings[q] + ri;
          ri += m;
        } else {
          for (q = 0; q < p.n; q++) frings[fi + q] = sx.frings[q] + vi;
        }
        vi += sx.xy.length / 2;
        fi += p.n;
      });
      if (rings) { rings[ri] = vi; frings[fi] = ri; } else frings[fi] = vi;
      parts.push({ type: type, n: n, feat: feat, bbox: bbox });
      set.push({ xy: xy, rings: rings, frings: frings });
    }
    return { key: g.key, features: g.features, origin: g.origin, typical: g.typical || 0, bands: g.bands, parts: parts, sets: [set] };
  } };
})();
