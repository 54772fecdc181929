/* zjmap big-layer arrays (biglayer.js): a payload's typed arrays, read from
 * the binary files Python wrote (zjmap/core/bigdisplay.py, one
 * XMLHttpRequest per file, viewed without a copy) or decoded from base64.
 *
 * A page's own files come in two (bigdisplay.HEAD_ZOOM): the coarse sets,
 * which the layer is first drawn with, and the finer ones (`more`), read
 * after; until they are in, the deepest set read stands in for them
 * (ZJ.bigFiles.band).
 */
(function () {
  "use strict";
  var ZJ = window.ZJ;
  if (!ZJ) return;

  function decode(b64, Type) {
    var bin = atob(b64), n = bin.length, u8 = new Uint8Array(n);
    for (var i = 0; i < n; i++) u8[i] = bin.charCodeAt(i);
    return new Type(u8.buffer);
  }

  function read(url, bytes, done, fail) {
    var x = new XMLHttpRequest();
    x.open("GET", url);
    x.responseType = "arraybuffer";
    x.onload = function () {
      var buf = x.response;
      if (!buf || buf.byteLength !== bytes) {
        fail("the layer's array file is incomplete (" + (buf ? buf.byteLength : 0) + " of " + bytes + " bytes)");
        return;
      }
      done(buf);
    };
    x.onerror = function () { fail("cannot read " + url); };
    x.send();
  }

  /* The geometry of a payload: done(geometry) once its first file is read,
   * and again, with every set, once its finer sets are (if it has a `more`
   * file, read when later(read) says so; `partial` marks the first). */
  function load(g, done, fail, later) {
    if (!g.url) {
      done(makeGeometry(g, decode, g.sets.length));
      return;
    }
    read(g.url, g.bytes, function (head) {
      var more = g.more;
      done(makeGeometry(g, function (w, T) { return new T(head, w[0], w[1]); }, more ? more.from : g.sets.length));
      if (!more) return;
      (later || function (fn) { fn(); })(function () {
        read(more.url, more.bytes, function (tail) {
          done(makeGeometry(g, function (w, T, k) { return new T(k >= more.from ? tail : head, w[0], w[1]); }, g.sets.length));
        }, fail);
      });
    }, fail);
  }

  /* v(where, Type, set index): a typed array; the first nsets sets. */
  function makeGeometry(g, v, nsets) {
    var out = {
      key: g.key,
      partial: nsets < g.sets.length,
      features: g.features,
      origin: g.origin,
      typical: g.typical || 0,
      bands: g.bands,
      parts: g.parts.map(function (p) { return { type: p.type, n: p.n, feat: v(p.feat, Uint32Array, -1), bbox: null }; }),
      sets: g.sets.slice(0, nsets).map(function (set, k) {
        return set.map(function (s) {
          return { xy: v(s.xy, Float32Array, k), rings: s.rings ? v(s.rings, Uint32Array, k) : null, frings: v(s.frings, Uint32Array, k) };
        });
      }),
    };
    var full = out.sets[out.sets.length - 1];
    out.parts.forEach(function (p, i) { p.bbox = bboxes(p, full[i]); });
    return out;
  }

  /* Each feature's bounding box (x0, y0, x1, y1) from the finest points read. */
  function bboxes(part, geo) {
    var n = part.n, bb = new Float32Array(4 * n), fr = geo.frings, rings = geo.rings;
    for (var i = 0; i < n; i++) {
      extent(geo.xy, rings ? rings[fr[i]] : fr[i], rings ? rings[fr[i + 1]] : fr[i + 1], bb, i);
    }
    return bb;
  }

  /* The box (x0, y0, x1, y1) of points a … e - 1 of xy, into out[4k … 4k + 3]. */
  function extent(xy, a, e, out, k) {
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (var j = a; j < e; j++) {
      var x = xy[2 * j], y = xy[2 * j + 1];
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    out[4 * k] = x0; out[4 * k + 1] = y0; out[4 * k + 2] = x1; out[4 * k + 3] = y1;
  }

  /* The set a zoom is drawn with: its band's, or the finest read so far. */
  function band(geom, z) {
    var b = geom.bands, last = geom.sets.length - 1;
    for (var i = 0; i < b.length; i++) if (z <= b[i][0]) return Math.min(b[i][1], last);
    return Math.min(b[b.length - 1][1], last);
  }

  ZJ.bigFiles = { decode: decode, load: load, band: band, extent: extent };
})();
