/* zjmap big-layer renderer: planners' own layers (up to hundreds of
 * thousands of features) drawn on one canvas, with no Leaflet object per
 * feature.
 *
 * Python (zjmap/core/bigdisplay.py, big_payload) sends flat typed arrays in
 * base64: coordinates already projected to Web-Mercator pixels at zoom 0
 * (relative to an origin, float32), ring and feature offsets, one bounding
 * box per feature, and one geometry set per zoom band (simplified to half a
 * pixel of the band's deepest zoom). Styles come as a small palette plus one
 * palette index per feature. The canvas covers the view plus a margin, is
 * redrawn on moveend, and follows Leaflet's zoom animation like L.Renderer.
 * Clicks still go to Python (identify), so nothing here hit-tests.
 *
 * The "canvas" renderer of zjmap.js (a spec with `big`): registered with
 * ZJ.defineRenderer, whose factory runs once Leaflet is loaded.
 */
(function () {
  "use strict";
  var ZJ = window.ZJ;
  if (!ZJ) return;
  ZJ.defineRenderer("canvas", install);

  function install(page) {
    var LOOK = ZJ.look, DEF = LOOK.defaults.canvas, LAB = LOOK.labels.canvas;
    var FONT = "px " + LOOK.font_families.map(function (f) { return f.indexOf(" ") >= 0 ? "'" + f + "'" : f; }).join(", ");
    var MAX_LABELS = 400;

    function decode(b64, Type) {
      var bin = atob(b64), n = bin.length, u8 = new Uint8Array(n);
      for (var i = 0; i < n; i++) u8[i] = bin.charCodeAt(i);
      return new Type(u8.buffer);
    }

    /* The geometry of a payload: typed-array views of the binary file it
     * names (one XMLHttpRequest, no copy), or base64 strings given inline. */
    function loadGeometry(g, done, fail) {
      if (!g.url) {
        done(decodeGeometry(g));
        return;
      }
      var x = new XMLHttpRequest();
      x.open("GET", g.url);
      x.responseType = "arraybuffer";
      x.onload = function () {
        var buf = x.response;
        if (!buf || buf.byteLength !== g.bytes) {
          fail("the layer's array file is incomplete (" + (buf ? buf.byteLength : 0) + " of " + g.bytes + " bytes)");
          return;
        }
        done(viewGeometry(g, buf));
      };
      x.onerror = function () { fail("cannot read " + g.url); };
      x.send();
    }

    /* Typed arrays of a payload: views of the file read (no copy), or decoded base64. */
    function viewGeometry(g, buf) {
      return makeGeometry(g, function (w, T) { return new T(buf, w[0], w[1]); });
    }

    function decodeGeometry(g) { return makeGeometry(g, decode); }

    function makeGeometry(g, v) {
      var out = {
        key: g.key,
        features: g.features,
        origin: g.origin,
        typical: g.typical || 0,
        bands: g.bands,
        parts: g.parts.map(function (p) { return { type: p.type, n: p.n, feat: v(p.feat, Uint32Array), bbox: null }; }),
        sets: g.sets.map(function (set) {
          return set.map(function (s) {
            return { xy: v(s.xy, Float32Array), rings: s.rings ? v(s.rings, Uint32Array) : null, frings: v(s.frings, Uint32Array) };
          });
        }),
      };
      var full = out.sets[out.sets.length - 1];
      out.parts.forEach(function (p, i) { p.bbox = bboxes(p, full[i]); });
      return out;
    }

    /* Each feature's bounding box (x0, y0, x1, y1) from its full-resolution points. */
    function bboxes(part, geo) {
      var n = part.n, bb = new Float32Array(4 * n), xy = geo.xy, fr = geo.frings, rings = geo.rings;
      for (var i = 0; i < n; i++) {
        var a = rings ? rings[fr[i]] : fr[i], e = rings ? rings[fr[i + 1]] : fr[i + 1];
        var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        for (var j = a; j < e; j++) {
          var x = xy[2 * j], y = xy[2 * j + 1];
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
        bb[4 * i] = x0; bb[4 * i + 1] = y0; bb[4 * i + 2] = x1; bb[4 * i + 3] = y1;
      }
      return bb;
    }

    /* A canvas over the view plus a margin, redrawn on moveend and scaled
     * while Leaflet animates a zoom, as L.Renderer does; what is on it is
     * up to _paint(ctx, frame). */
    var Surface = L.Layer.extend({
      options: { pane: "overlayPane", padding: 0.15 },

      onAdd: function () {
        var c = (this._canvas = L.DomUtil.create("canvas", "zj-big-layer leaflet-zoom-animated"));
        c.style.pointerEvents = "none";
        this._ctx = c.getContext("2d");
        this.getPane().appendChild(c);
        this._drawnView = null;
        this._reset();
      },

      onRemove: function () {
        L.DomUtil.remove(this._canvas);
        this._canvas = null;
        this._ctx = null;
      },

      getEvents: function () {
        var ev = { viewreset: this._reset, moveend: this._reset, resize: this._reset, zoom: this._onZoom };
        if (this._zoomAnimated) ev.zoomanim = this._onAnimZoom;
        return ev;
      },

      bringToFront: function () {
        if (this._canvas) this.getPane().appendChild(this._canvas);
        return this;
      },

      bringToBack: function () {
        if (this._canvas) this.getPane().insertBefore(this._canvas, this.getPane().firstChild);
        return this;
      },

      _onAnimZoom: function (e) { this._updateTransform(e.center, e.zoom); },
      _onZoom: function () { this._updateTransform(this._map.getCenter(), this._map.getZoom()); },

      // as L.Renderer: scale the last drawing while Leaflet animates the zoom
      _updateTransform: function (center, zoom) {
        if (!this._center) return;
        var map = this._map,
          scale = map.getZoomScale(zoom, this._zoom),
          viewHalf = map.getSize().multiplyBy(0.5 + this.options.padding),
          currentCenterPoint = map.project(this._center, zoom),
          topLeftOffset = viewHalf.multiplyBy(-scale).add(currentCenterPoint).subtract(map._getNewPixelOrigin(center, zoom));
        L.DomUtil.setTransform(this._canvas, topLeftOffset, scale);
      },

      // moveend and viewreset both follow a zoom: draw once per view
      _reset: function () {
        if (!this._map || !this._canvas) return;
        var m = this._map, key = [m.getZoom(), m.getPixelOrigin(), m.getPixelBounds().min, m.getSize()].join("|");
        if (key === this._drawnView) return;
        this._draw();
        this._drawnView = key;
      },

      redraw: function () {
        if (this._map && this._canvas) this._draw();
        return this;
      },

      /* Size, place and clear the canvas; then paint it. A frame maps world
       * pixels at zoom 0 to device pixels: px = w * S + ox. */
      _draw: function () {
        var map = this._map, pad = this.options.padding, size = map.getSize();
        var min = map.containerPointToLayerPoint(size.multiplyBy(-pad)).round();
        var W = Math.round(size.x * (1 + 2 * pad)), H = Math.round(size.y * (1 + 2 * pad));
        var r = window.devicePixelRatio || 1, c = this._canvas, ctx = this._ctx;
        var CW = Math.round(W * r), CH = Math.round(H * r);
        if (c.width !== CW || c.height !== CH) {
          c.width = CW;
          c.height = CH;
          c.style.width = W + "px";
          c.style.height = H + "px";
        }
        L.DomUtil.setPosition(c, min);
        this._center = map.getCenter();
        this._zoom = map.getZoom();
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.clearRect(0, 0, CW, CH);
        var z = map.getZoom(), po = map.getPixelOrigin();
        this._paint(ctx, { z: z, S: Math.pow(2, z) * r, ox: (-po.x - min.x) * r, oy: (-po.y - min.y) * r, W: CW, H: CH, r: r });
      },
    });

    /* One canvas for several layers, painted in stack order (the base map:
     * one canvas to composite instead of one per layer). */
    var SharedSurface = Surface.extend({
      initialize: function (pane) {
        this.options = L.extend({}, this.options, { pane: pane });
        this.members = [];
      },

      join: function (layer) {
        if (this.members.indexOf(layer) < 0) this.members.push(layer);
        if (!layer._map.hasLayer(this)) this.addTo(layer._map);
        else this.redraw();
      },

      leave: function (layer) {
        this.members = this.members.filter(function (m) { return m !== layer; });
        if (!this._map) return;
        if (this.members.length) this.redraw();
        else this._map.removeLayer(this);
      },

      _paint: function (ctx, frame) {
        var order = ZJ.order;
        this.members.slice().sort(function (a, b) { return order.indexOf(a.id) - order.indexOf(b.id); })
          .forEach(function (m) { m._paint(ctx, frame); });
      },
    });
    var surfaces = {};
    function sharedSurface(pane) {
      return surfaces[pane] || (surfaces[pane] = new SharedSurface(pane));
    }

    /* A layer of flat arrays: on its own canvas, or (base map) on a canvas
     * it shares. Its own canvas puts features smaller than a few pixels
     * straight into a pixel buffer; a shared one draws paths only (pixels
     * put into a canvas would wipe what the layers below drew there). */
    var BigLayer = Surface.extend({
      /* geom: decoded geometry, or null while the array file loads (setGeometry). */
      initialize: function (spec, geom) {
        this.id = spec.id;
        this._shared = spec.kind === "base" ? sharedSurface("zjBase") : null;
        this.geom = null;
        this.opacity = spec.opacity == null ? 1 : spec.opacity;
        this.stats = { draws: 0, lastMs: 0, drawn: 0, labels: 0, features: 0 };
        this._style = spec.big.style;
        this._labels = spec.big.labels;
        if (geom) this.setGeometry(geom);
      },

      onAdd: function () {
        if (this._shared) this._shared.join(this);
        else Surface.prototype.onAdd.call(this);
      },

      onRemove: function () {
        if (this._shared) this._shared.leave(this);
        else Surface.prototype.onRemove.call(this);
      },

      getEvents: function () {
        return this._shared ? {} : Surface.prototype.getEvents.call(this);
      },

      redraw: function () {
        if (this._shared) this._shared.redraw();
        else Surface.prototype.redraw.call(this);
        return this;
      },

      setGeometry: function (geom) {
        this.geom = geom;
        this.pieces = null; // the chunks shown while the file was read give way
        this.setStyle(this._style, this._labels);
        if (this._map) this.redraw();
      },

      /* One more chunk of a file still being read, in the first style;
       * redrawn at most every quarter second as chunks pour in. */
      addPiece: function (geom) {
        var nst = this.styles.length;
        var groups = geom.parts.map(function (p) {
          var items = new Uint32Array(p.n), start = new Uint32Array(nst + 1);
          for (var i = 0; i < p.n; i++) items[i] = i;
          for (var k = 1; k <= nst; k++) start[k] = p.n;
          return { start: start, items: items };
        });
        this.pieces.push({ geom: geom, groups: groups });
        this.stats.features += geom.features;
        if (!this._map || this._soon) return;
        var self = this, wait = Math.max(0, (this._lastPaint || 0) + 250 - performance.now());
        this._soon = setTimeout(function () {
          self._soon = null;
          if (self._map) self.redraw();
        }, wait);
      },

      /* Palette + per-feature index → per part, feature indices grouped by style. */
      setStyle: function (style, labels) {
        this._style = style;
        this._labels = labels;
        if (!this.geom) return;
        var T = style.bytes === 1 ? Uint8Array : style.bytes === 2 ? Uint16Array : Uint32Array;
        var index = decode(style.index, T);
        var nst = style.styles.length;
        this.styles = style.styles;
        this.groups = this.geom.parts.map(function (p) {
          var count = new Uint32Array(nst + 1), i;
          for (i = 0; i < p.n; i++) count[index[p.feat[i]] + 1]++;
          for (i = 0; i < nst; i++) count[i + 1] += count[i];
          var start = count.slice(), fill = count.slice(0, nst), items = new Uint32Array(p.n);
          for (i = 0; i < p.n; i++) items[fill[index[p.feat[i]]]++] = i;
          return { start: start, items: items };
        });
        this.stats.features = index.length;
        this.labels = null;
        if (labels && labels.texts) {
          this.labels = { texts: labels.texts, xy: decode(labels.xy, Float32Array), minZoom: labels.minZoom };
        }
      },

      setOpacity: function (op) {
        this.opacity = op;
        (this.styles || []).forEach(function (st) { delete st._px; });
        if (this._map) this.redraw();
      },

      _band: function (z, geom) {
        var b = (geom || this.geom).bands;
        for (var i = 0; i < b.length; i++) if (z <= b[i][0]) return b[i][1];
        return b[b.length - 1][1];
      },


      /* What is drawn: the layer's arrays, or the chunks of a file still
       * being read (pieces: each its own arrays and style groups). */
      _pieces: function () {
        if (this.pieces) return this.pieces;
        return this.geom ? [{ geom: this.geom, groups: this.groups }] : [];
      },

      _paint: function (ctx, frame) {
        var pieces = this._pieces();
        if (!pieces.length) return; // arrays still loading: drawn when they arrive
        var t0 = performance.now(), S = frame.S, z = frame.z, CW = frame.W, CH = frame.H;
        var ras = this._shared ? null : this._raster(CW, CH);
        var jobs = [], drawn = 0, view = null, setIndex = 0, k, pi, j;
        for (k = 0; k < pieces.length; k++) {
          var g = pieces[k].geom;
          // coordinates are relative to the arrays' origin
          var ax = g.origin[0] * S + frame.ox, ay = g.origin[1] * S + frame.oy;
          view = { S: S, ax: ax, ay: ay, W: CW, H: CH, r: frame.r,
            x0: -ax / S, x1: (CW - ax) / S, y0: -ay / S, y1: (CH - ay) / S };
          setIndex = this._band(z, g);
          var set = g.sets[setIndex], first = jobs.length;
          for (pi = 0; pi < g.parts.length; pi++) {
            drawn += this._rasterPart(ras, g.parts[pi], set[pi], pieces[k].groups[pi], view, jobs, pi);
          }
          for (j = first; j < jobs.length; j++) { jobs[j].geo = set[jobs[j].part]; jobs[j].view = view; jobs[j].partOf = g.parts[jobs[j].part]; }
        }
        if (ras && ras.used) ctx.putImageData(ras.img, 0, 0);
        for (j = 0; j < jobs.length; j++) this._vectorJob(ctx, jobs[j], jobs[j].partOf, jobs[j].geo, jobs[j].view);
        this.stats.labels = this.labels && !this.pieces ? this._drawLabels(ctx, view, z, drawn) : 0;
        this.stats.drawn = drawn;
        this.stats.vector = jobs.reduce(function (a, b) { return a + b.items.length; }, 0);
        this.stats.draws++;
        this._lastPaint = performance.now();
        if (!this.stats.firstDraw) this.stats.firstDraw = this._lastPaint;
        this.stats.lastMs = this._lastPaint - t0;
        this.stats.zoom = z;
        this.stats.set = setIndex;
      },

      /* One pixel buffer the size of the canvas, reused. */
      _raster: function (w, h) {
        var ras = this._ras;
        if (!ras || ras.w !== w || ras.h !== h) {
          var img = this._ctx.createImageData(w, h);
          ras = this._ras = { w: w, h: h, img: img, px: new Uint32Array(img.data.buffer), used: false, xs: new Float64Array(256), sx: new Float64Array(1024), sy: new Float64Array(1024) };
        } else if (ras.used) {
          ras.px.fill(0);
        }
        ras.used = false;
        return ras;
      },

      _colors: function (st) {
        if (st._px) return st._px;
        var op = this.opacity;
        function rgb(c) {
          var m = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(String(c || "").trim());
          if (!m) return [59, 110, 165];
          var h = m[1].length === 3 ? m[1].replace(/(.)/g, "$1$1") : m[1];
          return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
        }
        function pack(c, a) {
          var v = rgb(c), al = Math.round(Math.max(0, Math.min(1, a)) * 255);
          return ((al << 24) | (v[2] << 16) | (v[1] << 8) | v[0]) >>> 0;
        }
        var fo = st.fill === false ? 0 : (st.fillOpacity == null ? 0.3 : st.fillOpacity) * op;
        var lo = st.stroke === false ? 0 : (st.opacity == null ? 1 : st.opacity) * op;
        st._px = {
          fill: pack(st.fillColor || st.color, fo),
          line: pack(st.color, lo),
          // a feature too small to show its outline: one colour between fill and outline
          dot: pack(st.color, Math.min(1, fo + (lo - fo) * 0.25)),
        };
        return st._px;
      },

      /* Small features go straight into the pixel buffer (Canvas 2D pays
       * microseconds per path contour in software: 100,000 contours take a
       * second or more, however they are batched); big ones are left for
       * anti-aliased canvas paths (jobs). Returns the features in view. */
      _rasterPart: function (ras, part, geo, grp, v, jobs, pi) {
        var bbox = part.bbox, type = part.type, drawn = 0, S = v.S, ax = v.ax, ay = v.ay;
        var pointsInView = 0;
        for (var k = 0; k < this.styles.length; k++) {
          var s0 = grp.start[k], s1 = grp.start[k + 1];
          if (s0 === s1) continue;
          var st = this.styles[k], col = this._colors(st), big = [];
          var radius = (st.radius || DEF.radius) * v.r, m = type === "point" ? (radius + 2) / S : 0;
          for (var q = s0; q < s1; q++) {
            var i = grp.items[q], b = 4 * i;
            var bx0 = bbox[b] - m, by0 = bbox[b + 1] - m, bx1 = bbox[b + 2] + m, by1 = bbox[b + 3] + m;
            if (bx1 < v.x0 || bx0 > v.x1 || by1 < v.y0 || by0 > v.y1) continue;
            drawn++;
            var w = (bx1 - bx0) * S, h = (by1 - by0) * S;
            if (type === "point") { big.push(i); pointsInView++; continue; }
            if (!ras) { big.push(i); continue; }
            if (w < 1.5 && h < 1.5) { // a dot
              this._rect(ras, bx0 * S + ax, by0 * S + ay, bx1 * S + ax, by1 * S + ay, col.dot);
              continue;
            }
            if (type === "polygon" && w < 24 * v.r && h < 24 * v.r) {
              this._fillPolygon(ras, geo, i, S, ax, ay, (w >= 4 * v.r && h >= 4 * v.r) || !(col.fill >>> 24) ? col : null, col);
              continue;
            }
            if (type === "line" && w < 3 && h < 3) {
              this._rect(ras, bx0 * S + ax, by0 * S + ay, bx1 * S + ax, by1 * S + ay, col.line);
              continue;
            }
            big.push(i);
          }
          if (big.length) jobs.push({ part: pi, style: k, items: big });
        }
        if (ras && type === "point" && pointsInView > 4000) { // many points: raster discs
          // so many that their discs would cover the canvas several times over:
          // smaller dots (the density still reads, and each costs a few pixels, not a hundred)
          var fit = Math.max(1.5 * v.r, Math.sqrt(3 * ras.w * ras.h / (Math.PI * pointsInView)));
          for (var j = jobs.length - 1; j >= 0; j--) {
            if (jobs[j].part !== pi) continue;
            var rad = Math.min((this.styles[jobs[j].style].radius || DEF.radius) * v.r, fit);
            this._discs(ras, geo, jobs[j].items, this._colors(this.styles[jobs[j].style]), rad, S, ax, ay);
            jobs.splice(j, 1);
          }
        }
        return drawn;
      },

      _rect: function (ras, x0, y0, x1, y1, color) {
        var W = ras.w, H = ras.h, px = ras.px;
        var ia = Math.max(0, Math.floor(x0)), ib = Math.min(W - 1, Math.max(ia, Math.ceil(x1) - 1));
        var ja = Math.max(0, Math.floor(y0)), jb = Math.min(H - 1, Math.max(ja, Math.ceil(y1) - 1));
        for (var y = ja; y <= jb; y++) for (var x = ia; x <= ib; x++) px[y * W + x] = color;
        ras.used = true;
      },

      /* Even-odd scanline fill at pixel centres, then a 1-px outline. */
      _fillPolygon: function (ras, geo, i, S, ax, ay, outline, col) {
        var xy = geo.xy, rings = geo.rings, fr = geo.frings, W = ras.w, H = ras.h, px = ras.px;
        var a0 = rings[fr[i]], a1 = rings[fr[i + 1]], n = a1 - a0;
        if (n < 3) return;
        if (ras.sx.length < n) { ras.sx = new Float64Array(n * 2); ras.sy = new Float64Array(n * 2); }
        var sx = ras.sx, sy = ras.sy, ymin = 1e9, ymax = -1e9, j;
        for (j = 0; j < n; j++) {
          sx[j] = xy[2 * (a0 + j)] * S + ax;
          var yy = (sy[j] = xy[2 * (a0 + j) + 1] * S + ay);
          if (yy < ymin) ymin = yy;
          if (yy > ymax) ymax = yy;
        }
        var ya = Math.max(0, Math.ceil(ymin - 0.5)), yb = Math.min(H - 1, Math.floor(ymax - 0.5));
        var xs = ras.xs, fill = col.fill;
        if (!(fill >>> 24)) yb = ya - 1; // outline only (fill: false): no rows to fill
        for (var y = ya; y <= yb; y++) {
          var yc = y + 0.5, cnt = 0;
          for (var ri = fr[i]; ri < fr[i + 1]; ri++) {
            var r0 = rings[ri] - a0, r1 = rings[ri + 1] - a0;
            for (j = r0; j < r1; j++) {
              var k = j + 1 < r1 ? j + 1 : r0;
              var y0 = sy[j], y1 = sy[k];
              if ((y0 <= yc) !== (y1 <= yc)) {
                if (cnt >= xs.length) { var bigger = new Float64Array(xs.length * 2); bigger.set(xs); xs = ras.xs = bigger; }
                xs[cnt++] = sx[j] + (yc - y0) * (sx[k] - sx[j]) / (y1 - y0);
              }
            }
          }
          for (var p = 1; p < cnt; p++) { // insertion sort: a handful of crossings
            var t = xs[p], q = p - 1;
            while (q >= 0 && xs[q] > t) { xs[q + 1] = xs[q]; q--; }
            xs[q + 1] = t;
          }
          var row = y * W;
          for (p = 0; p + 1 < cnt; p += 2) {
            var xa = Math.max(0, Math.ceil(xs[p] - 0.5)), xb = Math.min(W - 1, Math.floor(xs[p + 1] - 0.5));
            for (var x = xa; x <= xb; x++) px[row + x] = fill;
          }
        }
        if (outline) {
          var line = col.line;
          for (ri = fr[i]; ri < fr[i + 1]; ri++) {
            r0 = rings[ri] - a0; r1 = rings[ri + 1] - a0;
            for (j = r0; j < r1; j++) {
              k = j + 1 < r1 ? j + 1 : r0;
              this._line(ras, sx[j], sy[j], sx[k], sy[k], line);
            }
          }
        } else if (yb < ya && ymax - ymin < 1) { // thinner than a pixel row: still show it
          this._rect(ras, sx[0], ymin, sx[0] + 1, ymax, col.dot);
        }
        ras.used = true;
      },

      _line: function (ras, x0, y0, x1, y1, color) {
        var W = ras.w, H = ras.h, px = ras.px;
        var dx = x1 - x0, dy = y1 - y0, n = Math.ceil(Math.max(Math.abs(dx), Math.abs(dy)));
        if (n === 0) n = 1;
        var sx = dx / n, sy = dy / n, x = x0, y = y0;
        for (var s = 0; s <= n; s++) {
          var ix = x | 0, iy = y | 0;
          if (ix >= 0 && iy >= 0 && ix < W && iy < H) px[iy * W + ix] = color;
          x += sx; y += sy;
        }
      },

      _discs: function (ras, geo, items, col, radius, S, ax, ay) {
        var xy = geo.xy, fr = geo.frings, W = ras.w, H = ras.h, px = ras.px;
        var rr = Math.max(1, Math.round(radius)), span = [];
        for (var dy = -rr; dy <= rr; dy++) span.push(Math.floor(Math.sqrt(rr * rr - dy * dy)));
        if (rr <= 2) { // dots of a few pixels: a filled square with the outline colour's corners
          for (var q2 = 0; q2 < items.length; q2++) {
            var i2 = items[q2];
            for (var pt2 = fr[i2]; pt2 < fr[i2 + 1]; pt2++) {
              var x0 = Math.round(xy[2 * pt2] * S + ax) - rr + 1, y0 = Math.round(xy[2 * pt2 + 1] * S + ay) - rr + 1;
              var n2 = 2 * rr - 1;
              if (x0 < 0 || y0 < 0 || x0 + n2 > W || y0 + n2 > H) continue;
              for (var yy = 0; yy < n2; yy++) {
                var row = (y0 + yy) * W + x0;
                for (var xx = 0; xx < n2; xx++) px[row + xx] = (yy === 0 || yy === n2 - 1) && (xx === 0 || xx === n2 - 1) ? col.line : col.fill;
              }
            }
          }
          ras.used = true;
          return;
        }
        for (var q = 0; q < items.length; q++) {
          var i = items[q];
          for (var pt = fr[i]; pt < fr[i + 1]; pt++) {
            var cx = Math.round(xy[2 * pt] * S + ax), cy = Math.round(xy[2 * pt + 1] * S + ay);
            for (dy = -rr; dy <= rr; dy++) {
              var y = cy + dy;
              if (y < 0 || y >= H) continue;
              var h = span[dy + rr], edge = Math.abs(dy) === rr;
              for (var x = Math.max(0, cx - h); x <= Math.min(W - 1, cx + h); x++) {
                px[y * W + x] = edge || x === cx - h || x === cx + h ? col.line : col.fill;
              }
            }
          }
        }
        ras.used = true;
      },

      /* Anti-aliased canvas paths for features big on screen: a few hundred
       * at most, batched 50 contours to a path (a longer path costs more
       * than proportionally to fill in software). */
      _vectorJob: function (ctx, job, part, geo, v) {
        var st = this.styles[job.style], type = part.type, op = this.opacity;
        var xy = geo.xy, rings = geo.rings, fr = geo.frings, S = v.S, ax = v.ax, ay = v.ay, r = v.r;
        var radius = (st.radius || DEF.radius) * r;
        var lineOp = (st.opacity == null ? 1 : st.opacity) * op;
        var fillOp = (st.fillOpacity == null ? 0.3 : st.fillOpacity) * op;
        var weight = (st.weight == null ? DEF.weight : st.weight) * r;
        ctx.lineJoin = "round";
        ctx.lineCap = "round";
        ctx.setLineDash(st.dashArray ? String(st.dashArray).split(/[ ,]+/).map(function (d) { return Number(d) * r; }) : []);
        ctx.fillStyle = st.fillColor || st.color;
        ctx.strokeStyle = st.color;
        ctx.lineWidth = weight;
        var items = job.items, contours = 0, q = 0;
        var m = weight + 4 * r, X1 = v.W + m, Y1 = v.H + m;
        var out = function (x, y) { // which canvas edges (plus the margin) a point lies beyond
          return (x < -m ? 1 : x > X1 ? 2 : 0) | (y < -m ? 4 : y > Y1 ? 8 : 0);
        };
        var paint = function () {
          if (type !== "line" && st.fill !== false) { ctx.globalAlpha = fillOp; ctx.fill("evenodd"); }
          if (weight > 0 && st.stroke !== false) { ctx.globalAlpha = lineOp; ctx.stroke(); }
        };
        ctx.beginPath();
        for (q = 0; q < items.length; q++) {
          var i = items[q];
          if (type === "point") {
            for (var pt = fr[i]; pt < fr[i + 1]; pt++) {
              var cx = xy[2 * pt] * S + ax, cy = xy[2 * pt + 1] * S + ay;
              ctx.moveTo(cx + radius, cy);
              ctx.arc(cx, cy, radius, 0, 6.283185307179586);
              contours++;
            }
          } else {
            for (var ri = fr[i]; ri < fr[i + 1]; ri++) {
              var a = rings[ri], e = rings[ri + 1];
              if (e <= a) continue;
              var lx = xy[2 * a] * S + ax, ly = xy[2 * a + 1] * S + ay;
              ctx.moveTo(lx, ly);
              // A run of vertices all beyond one edge of the canvas (plus a
              // margin) draws nothing there: its first and last vertex will
              // do (the straight line between them stays beyond that edge, so
              // no fill or stroke inside the canvas changes). Big neighbours
              // of the view (provinces, a lake) shed most of their vertices.
              var run = out(lx, ly), px = 0, py = 0, held = false;
              for (var j = a + 1; j < e; j++) {
                var x = xy[2 * j] * S + ax, y = xy[2 * j + 1] * S + ay;
                var c = out(x, y);
                if (run & c) {
                  run &= c;
                  px = x; py = y; held = true;
                  continue;
                }
                if (held) { ctx.lineTo(px, py); lx = px; ly = py; held = false; }
                run = c;
                // skip vertices within a third of a pixel of the last one drawn
                if (j < e - 1 && x - lx < 0.34 && lx - x < 0.34 && y - ly < 0.34 && ly - y < 0.34) continue;
                ctx.lineTo(x, y);
                lx = x; ly = y;
              }
              if (held) ctx.lineTo(px, py);
              if (type === "polygon") ctx.closePath();
              contours++;
            }
          }
          if (contours >= 50) {
            paint();
            ctx.beginPath();
            contours = 0;
          }
        }
        if (contours) paint();
        ctx.globalAlpha = 1;
        ctx.setLineDash([]);
      },

      /* Labels of features in view, most room first come first; none overlap. */
      _drawLabels: function (ctx, v, z, inView) {
        var S = v.S, ax = v.ax, ay = v.ay, vx0 = v.x0, vx1 = v.x1, vy0 = v.y0, vy1 = v.y1, W = v.W, H = v.H;
        var lab = this.labels, minZoom = lab.minZoom;
        if (minZoom != null ? z < minZoom : inView > 3000) return 0;
        var xy = lab.xy, texts = lab.texts, n = texts.length;
        var r = v.r;
        ctx.font = Math.round(LAB.size * r) + FONT;
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.lineJoin = "round";
        ctx.globalAlpha = Math.max(0.35, this.opacity);
        var cell = 24 * r, cols = Math.ceil(W / cell) + 1, taken = new Uint8Array(cols * (Math.ceil(H / cell) + 1));
        var placed = 0;
        for (var i = 0; i < n && placed < MAX_LABELS; i++) {
          var t = texts[i];
          if (!t) continue;
          var rx = xy[2 * i], ry = xy[2 * i + 1];
          if (!(rx >= vx0 && rx <= vx1 && ry >= vy0 && ry <= vy1)) continue;
          var x = rx * S + ax, y = ry * S + ay;
          var w = Math.min(ctx.measureText(t).width, 220 * r) + 6 * r, h = 16 * r;
          var c0 = Math.max(0, Math.floor((x - w / 2) / cell)), c1 = Math.floor((x + w / 2) / cell);
          var r0 = Math.max(0, Math.floor((y - h / 2) / cell)), r1 = Math.floor((y + h / 2) / cell);
          var free = true, cc, rr;
          for (rr = r0; rr <= r1 && free; rr++) for (cc = c0; cc <= c1; cc++) if (taken[rr * cols + cc]) { free = false; break; }
          if (!free) continue;
          for (rr = r0; rr <= r1; rr++) for (cc = c0; cc <= c1 && cc < cols; cc++) taken[rr * cols + cc] = 1;
          ctx.strokeStyle = LAB.halo;
          ctx.lineWidth = LAB.haloWidth * r;
          ctx.strokeText(t, x, y, 220 * r);
          ctx.fillStyle = LAB.color;
          ctx.fillText(t, x, y, 220 * r);
          placed++;
        }
        ctx.globalAlpha = 1;
        return placed;
      },
    });

    /* Canvases go above the SVG of seed layers, unless a seed layer lies
     * above them in the stack: then below it (an SVG is one element, so a
     * canvas cannot sit between two seed layers). */
    function placeCanvases() {
      if (!ZJ.map) return;
      var pane = ZJ.map.getPane("overlayPane");
      var svg = null;
      for (var ch = pane.firstChild; ch; ch = ch.nextSibling) if (ch.tagName && ch.tagName.toLowerCase() === "svg") { svg = ch; break; }
      var topSeed = -1;
      ZJ.order.forEach(function (id, i) {
        var l = ZJ.layers[id];
        if (l && !l.big && l.visible && l.spec && l.spec.kind !== "base") topSeed = i;
      });
      ZJ.order.forEach(function (id, i) {
        var l = ZJ.layers[id];
        if (!l || !l.big || !l.group._canvas) return;
        if (svg && i < topSeed) pane.insertBefore(l.group._canvas, svg);
        else pane.appendChild(l.group._canvas);
      });
    }

    function build(spec, old) {
      var t0 = performance.now();
      var geom = spec.big.geometry;
      if (!geom) { // a file still being read: its chunks come with addChunk
        var first = new BigLayer(spec, null);
        first.pieces = [];
        first.styles = spec.big.style.styles;
        return entry(first, spec, t0);
      }
      // a restyle sends the same geometry again: keep the decoded arrays
      var prev = old && old.big ? old.group.geom : null;
      var reuse = prev && geom.key && prev.key === geom.key ? prev : null;
      // new arrays for the same features (zoom bands added, CRS fixed): keep
      // drawing the old ones until the new file is read, so nothing blinks
      var shown = reuse || (prev && geom.features && prev.features === geom.features ? prev : null);
      var layer = new BigLayer(spec, shown);
      var chunks = old && old.big ? old.group.pieces : null;
      if (!shown && chunks && chunks.length) { // the chunks drawn while the file was read, until its arrays are
        layer.pieces = chunks;
        layer.styles = spec.big.style.styles;
        layer.stats.features = old.group.stats.features;
        layer.stats.firstDraw = old.group.stats.firstDraw;
      }
      var joined = !shown && layer.pieces ? ZJ.chunks.join(geom, layer.pieces) : null;
      if (joined) { // the chunks drawn while the file was read are the layer's arrays: no second read
        layer.stats.joined = true;
        layer.setGeometry(joined);
      } else if (!reuse) {
        page.loadStarted();
        loadGeometry(geom, function (decoded) {
          try {
            layer.stats.decodeMs = performance.now() - t0;
            var cur = ZJ.layers[spec.id];
            if (cur && cur.group === layer) layer.setGeometry(decoded); // not removed or replaced meanwhile
          } finally {
            page.loadEnded();
          }
        }, function (msg) {
          page.loadEnded();
          layer.stats.error = msg;
          var cur = ZJ.layers[spec.id];
          // a layer removed meanwhile takes its file with it: not an error
          if (cur && cur.group === layer) console.error("zjmap big layer " + spec.id + ": " + msg);
        });
      }
      return entry(layer, spec, t0);
    }

    function entry(layer, spec, t0) {
      var lite = { id: spec.id, kind: spec.kind, geometry: spec.geometry, visible: spec.visible, opacity: spec.opacity,
        labels: null, data: { type: "FeatureCollection", features: [] }, big: true };
      layer.stats.addMs = performance.now() - t0;
      return { group: layer, labels: page.labelLayer(spec), minZoom: spec.labels ? spec.labels.minZoom : 0,
        labelPriority: spec.labels ? spec.labels.priority : 0, spec: lite,
        visible: !!spec.visible, opacity: spec.opacity, big: true };
    }

    var renderer = {
      build: build,
      setOpacity: function (l, opacity) { l.group.setOpacity(opacity); },
      restacked: function (change, added) {
        placeCanvases();
        if (change === "order" || (change === "add" && added && added.big)) {
          Object.keys(surfaces).forEach(function (k) { surfaces[k].redraw(); }); // the order on a shared canvas
        }
      },
    };

    /* A chunk of a big file being read: drawn at once, with those before it,
     * until the layer itself (addLayer) takes their place. The first chunk
     * makes the layer's entry (spec.big.geometry null). A chunk file that
     * cannot be read is skipped: the layer's own arrays follow. */
    ZJ.addChunk = function (spec, index) {
      var l = ZJ.layers[spec.id];
      if (!l) {
        ZJ.addLayer({ id: spec.id, kind: spec.kind, geometry: spec.geometry, visible: true, opacity: spec.opacity,
          interactive: false, labels: null, data: null, big: { geometry: null, style: spec.big.style, labels: null } }, index);
        l = ZJ.layers[spec.id];
      }
      if (!l.big || !l.group.pieces || l.group.geom) return false; // the layer itself is there
      var layer = l.group;
      loadGeometry(spec.big.chunk, function (decoded) {
        var cur = ZJ.layers[spec.id];
        if (cur && cur.group === layer && layer.pieces && !layer.geom) layer.addPiece(decoded);
      }, function (msg) { layer.stats.error = msg; });
      return true;
    };

    return renderer;
  }
})();
