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
    var LOOK = ZJ.look, DEF = LOOK.defaults.canvas, DENSE = LOOK.dense_points;

    var FILES = ZJ.bigFiles, decode = FILES.decode;

    var TILES = ZJ.tiles, R = ZJ.bigRaster, SIZE = TILES.SIZE, G = TILES.GUTTER;

    /* A canvas over the view plus a margin, put together on moveend from
     * tiles (tiles.js) drawn by _paint(targets, frame) and kept until the
     * drawing changes (redraw); labels over it per view (_overlay). Scaled
     * while Leaflet animates a zoom, as L.Renderer does. A frame maps world
     * pixels at zoom 0 to device pixels: px = w * S - nx (nx a whole pixel). */
    var Surface = L.Layer.extend({
      options: { pane: "overlayPane", padding: 0.15 },

      onAdd: function () {
        var c = (this._canvas = L.DomUtil.create("canvas", "zj-big-layer leaflet-zoom-animated"));
        c.style.pointerEvents = "none";
        this._ctx = c.getContext("2d");
        this.getPane().appendChild(c);
        this._tiles = this._tiles || TILES.cache();
        this._drawnView = null;
        this._reset();
      },

      onRemove: function () {
        L.DomUtil.remove(this._canvas);
        this._canvas = null;
        this._ctx = null;
        this._tiles.clear();
        this._forget();
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

      /* What is drawn changed: every tile goes. */
      redraw: function (arrival) {
        if (!arrival) this._gen = (this._gen || 0) + 1; // the drawing changed (style, order, ...): starttiles.js
        this._seeded = false;
        if (this._tiles) this._tiles.clear();
        this._forget();
        if (this._map && this._canvas) this._draw();
        return this;
      },

      _forget: function () {},

      /* Redrawn once the files the page reads are in: layers read together
       * (the base map at start) draw once, not once each. Tiles of the start
       * view kept from the last start (starttiles.js) are these arrays'
       * drawing: they stay, and only what they lack is drawn. */
      redrawSoon: function () {
        if (this._queued) return;
        this._queued = true;
        var self = this;
        page.whenLoaded(function () {
          self._queued = false;
          if (!self._map) return;
          var start = self._start; // the base map's first picture (starttiles.js): its kept tiles go in first
          self._start = null;
          if (start) start.before();
          if (!self._seeded) self.redraw(true);
          else if (self._canvas) { self._seeded = false; self._draw(); }
          if (start) start.after();
        });
      },

      /* Whether there is nothing to draw yet. */
      _empty: function () { return false; },

      /* Whether anything is drawn on the tile at device pixel (nx, ny) of a frame. */
      _meets: function (frame, nx, ny) { return true; },

      /* Size and place the canvas, put the view's tiles on it (drawing
       * those missing), then the labels. */
      _draw: function () {
        if (this._empty()) { // arrays still loading (the base map at start): no tiles of nothing; drawn once they are in
          if (this._frame) this._ctx.clearRect(0, 0, this._canvas.width, this._canvas.height);
          this._frame = null;
          return;
        }
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
        var t0 = performance.now(), z = map.getZoom(), po = map.getPixelOrigin();
        var frame = { z: z, S: Math.pow(2, z) * r, r: r, nx: Math.round((po.x + min.x) * r), ny: Math.round((po.y + min.y) * r), W: CW, H: CH };
        // the part of the canvas on screen (the rest is margin for a drag)
        frame.view = [Math.round(size.x * pad * r), Math.round(size.y * pad * r), Math.round(size.x * r), Math.round(size.y * r)];
        this._frame = frame;
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.clearRect(0, 0, CW, CH);
        this._prepare(frame);
        this._composite(ctx, frame);
        this._overlay(ctx, frame);
        this._drawn(frame, performance.now() - t0);
        TILES.ahead(this, frame, this._later);
      },

      /* A tile drawn ahead of need (tiles.js); one of the view's margin goes on the canvas. */
      _ahead: function (frame, cell, margin) {
        this._render(frame, [cell]);
        var t = this._tiles.tiles.get(this._tiles.key(frame.z, cell[0], cell[1], frame.r));
        this._tiles.stats.ahead++;
        if (margin && frame === this._frame && t && t.canvas) this._ctx.drawImage(t.canvas, cell[0] * SIZE - frame.nx, cell[1] * SIZE - frame.ny);
      },

      /* The view's tiles onto the canvas; the missing ones drawn first. */
      _composite: function (ctx, frame) {
        var cache = this._tiles, z = frame.z, r = frame.r, cells = TILES.cover(frame.nx, frame.ny, frame.W, frame.H);
        var keys = cells.map(function (t) { return cache.key(z, t[0], t[1], r); });
        cache.view = new Set(keys);
        var got = keys.map(function (k) { return cache.get(k); }), missing = [], i, vw = frame.view;
        this._later = [];
        for (i = 0; i < cells.length; i++) {
          if (got[i]) continue;
          var x = cells[i][0] * SIZE - frame.nx, y = cells[i][1] * SIZE - frame.ny;
          // on screen now; a tile only in the margin is drawn next, while the page is idle
          if (x + SIZE > vw[0] && x < vw[0] + vw[2] && y + SIZE > vw[1] && y < vw[1] + vw[3]) missing.push(cells[i]);
          else this._later.push(cells[i]);
        }
        if (missing.length) {
          this._render(frame, missing);
          got = keys.map(function (k) { return cache.tiles.get(k); });
        }
        cache.stats.lastRendered = missing.length;
        cache.stats.lastReused = cells.length - missing.length - this._later.length;
        cache.stats.rendered += missing.length;
        cache.stats.reused += cache.stats.lastReused;
        ctx.imageSmoothingEnabled = false;
        for (i = 0; i < cells.length; i++) {
          if (got[i] && got[i].canvas) ctx.drawImage(got[i].canvas, cells[i][0] * SIZE - frame.nx, cells[i][1] * SIZE - frame.ny);
        }
      },

      /* Tiles drawn and kept: each rectangle of them drawn at once on one
       * canvas (with a margin all round that is not kept: Skia clips strokes
       * at a canvas's edge a little unlike a line going on), then cut up. */
      _render: function (frame, cells) {
        var cache = this._tiles, self = this;
        TILES.rects(cells).forEach(function (rc) {
          var W = (rc[2] - rc[0] + 1) * SIZE + 2 * G, H = (rc[3] - rc[1] + 1) * SIZE + 2 * G, sc = TILES.scratch(W, H);
          var t = { ctx: sc.getContext("2d"), nx: rc[0] * SIZE - G, ny: rc[1] * SIZE - G, W: W, H: H, n: 0 };
          self._paint([t], frame);
          for (var ty = rc[1]; ty <= rc[3]; ty++) {
            for (var tx = rc[0]; tx <= rc[2]; tx++) {
              var cv = null;
              if (t.n && self._meets(frame, tx * SIZE, ty * SIZE)) {
                cv = TILES.canvas();
                cv.getContext("2d").drawImage(sc, (tx - rc[0]) * SIZE + G, (ty - rc[1]) * SIZE + G, SIZE, SIZE, 0, 0, SIZE, SIZE);
              }
              cache.put(cache.key(frame.z, tx, ty, frame.r), cv);
            }
          }
        });
      },

      /* The whole view drawn at once, as no tile is (probes.js compares the two). */
      _paintView: function (ctx, frame) {
        this._prepare(frame);
        this._paint([{ ctx: ctx, nx: frame.nx, ny: frame.ny, W: frame.W, H: frame.H, n: 0 }], frame);
        this._overlay(ctx, frame);
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

      _sorted: function () {
        var order = ZJ.order;
        return this.members.slice().sort(function (a, b) { return order.indexOf(a.id) - order.indexOf(b.id); });
      },

      _forget: function () { this.members.forEach(function (m) { m._forget(); }); },
      _empty: function () { return this.members.every(function (m) { return m._empty(); }); },
      _meets: function (frame, nx, ny) { return this.members.some(function (m) { return m._meets(frame, nx, ny); }); },
      _prepare: function (frame) { this.members.forEach(function (m) { m._prepare(frame); }); },
      _paint: function (targets, frame) { this._sorted().forEach(function (m) { m._paint(targets, frame); }); },
      _overlay: function (ctx, frame) { this._sorted().forEach(function (m) { m._overlay(ctx, frame); }); },
      _drawn: function (frame, ms) {
        var tiles = this._tiles.stats;
        this.members.forEach(function (m) { m.stats.tiles = tiles; m._drawn(frame, ms); });
      },
    });
    var surfaces = {};
    function sharedSurface(pane) {
      return surfaces[pane] || (surfaces[pane] = new SharedSurface(pane));
    }

    /* Where a set of arrays lies in a frame, for one target (a tile or the view). */
    function place(g, frame, t) {
      var S = frame.S, gx = g.origin[0] * S, gy = g.origin[1] * S;
      return { S: S, r: frame.r, gx: gx, gy: gy, nx: t.nx, ny: t.ny, W: t.W, H: t.H,
        x0: (t.nx - gx) / S, x1: (t.nx + t.W - gx) / S, y0: (t.ny - gy) / S, y1: (t.ny + t.H - gy) / S };
    }

    /* A layer of flat arrays: on its own canvas, or (base map) on a canvas
     * it shares. Its own canvas puts features smaller than a few pixels
     * straight into a pixel buffer (bigraster.js); a shared one draws paths
     * only (pixels put into a canvas would wipe what the layers below drew). */
    var BigLayer = Surface.extend({
      /* geom: decoded geometry, or null while the array file loads (setGeometry). */
      initialize: function (spec, geom) {
        this.id = spec.id;
        this._key = spec.big.geometry ? spec.big.geometry.key : null; // what its arrays are (starttiles.js)
        this._shared = spec.kind === "base" ? sharedSurface("zjBase") : null;
        this.geom = null;
        this.opacity = spec.opacity == null ? 1 : spec.opacity;
        this.stats = { draws: 0, lastMs: 0, labels: 0, features: 0 };
        this._style = spec.big.style;
        this._labels = spec.big.labels;
        this._zs = {};
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

      redraw: function (arrival) {
        if (this._shared) this._shared.redraw(arrival);
        else Surface.prototype.redraw.call(this, arrival);
        return this;
      },

      redrawSoon: function () {
        if (this._shared) this._shared.redrawSoon();
        else Surface.prototype.redrawSoon.call(this);
      },

      _forget: function () {
        this._zs = {};
        this._cols = null;
      },

      setGeometry: function (geom) {
        this.geom = geom;
        this.pieces = null; // the chunks shown while the file was read give way
        this.setStyle(this._style, this._labels);
        if (this._map) this.redrawSoon();
      },

      /* One more chunk of a file still being read, in the first style;
       * redrawn at most every quarter second as chunks pour in. */
      addPiece: function (geom) {
        this.pieces.push({ geom: geom, sidx: geom.parts.map(function (p) { return new Uint8Array(p.n); }) });
        this.stats.features += geom.features;
        if (!this._map || this._soon) return;
        var self = this, wait = Math.max(0, (this._lastPaint || 0) + 250 - performance.now());
        this._soon = setTimeout(function () {
          self._soon = null;
          if (self._map) self.redraw();
        }, wait);
      },

      /* Palette + per-feature index → each part's features' style. */
      setStyle: function (style, labels) {
        this._style = style;
        this._labels = labels;
        if (!this.geom) return;
        var T = style.bytes === 1 ? Uint8Array : style.bytes === 2 ? Uint16Array : Uint32Array;
        var index = decode(style.index, T);
        this.styles = style.styles;
        this._cols = null;
        this.sidx = this.geom.parts.map(function (p) {
          var s = new T(p.n);
          for (var i = 0; i < p.n; i++) s[i] = index[p.feat[i]];
          return s;
        });
        this.stats.features = index.length;
        this.labels = null;
        if (labels && labels.texts) {
          this.labels = { texts: labels.texts, xy: decode(labels.xy, Float32Array), minZoom: labels.minZoom };
        }
      },

      setOpacity: function (op) {
        this.opacity = op;
        this._cols = null;
        if (this._map) this.redraw();
      },

      _band: function (z, geom) { return FILES.band(geom || this.geom, z); },

      _empty: function () { return !this.geom && !(this.pieces && this.pieces.length); },

      /* What is drawn: the layer's arrays, or the chunks of a file still
       * being read (pieces: each its own arrays and features' styles). */
      _pieces: function () {
        if (this.pieces) return this.pieces;
        return this.geom ? [{ geom: this.geom, sidx: this.sidx }] : [];
      },

      /* The styles' pixel colours, and how far past its box a feature may
       * paint (outline, point radius, anti-aliasing), in device pixels. */
      _look: function (r) {
        if (this._cols) return this._cols;
        var op = this.opacity, reach = 0;
        var cols = (this.styles || []).map(function (st) {
          reach = Math.max(reach, (st.radius || DEF.radius) + (st.weight == null ? DEF.weight : st.weight));
          return R.colors(st, op);
        });
        cols.reach = (reach + 4) * r;
        return (this._cols = cols);
      },

      /* Per zoom, as first seen: point parts with so many points in view
       * that their discs would cover the canvas several times over get
       * smaller raster dots (the density still reads, and each costs a few
       * pixels, not a hundred). Decided once a zoom, so every tile agrees. */
      _prepare: function (frame) {
        var key = frame.z + "@" + frame.r;
        if (this._zs[key] || this._shared) return;
        var self = this, r = frame.r, look = this._look(r);
        this._zs[key] = this._pieces().map(function (pc) {
          var v = place(pc.geom, frame, frame);
          return pc.geom.parts.map(function (p, pi) {
            if (p.type !== "point") return 0;
            var n = self._count(pc.geom, pi, pc.sidx[pi], v, look, look.reach / v.S);
            return n > DENSE.from ? Math.max(DENSE.min_radius * r, Math.sqrt(DENSE.cover * frame.W * frame.H / (Math.PI * n))) : 0;
          });
        });
      },

      /* Features of a part whose box (plus m world units) meets a placed rectangle. */
      _count: function (g, pi, sidx, v, look, m, enough) {
        var part = g.parts[pi], bbox = part.bbox, full = g.sets[g.sets.length - 1][pi];
        if (R.gridCount && part.type === "point" && g.sets.length === 1 && full.xy.length === 2 * part.n) {
          return R.gridCount(TILES.grid(part), full, sidx, look, v, m, enough);
        }
        var q = TILES.query(TILES.grid(part), v.x0 - m, v.y0 - m, v.x1 + m, v.y1 + m), buf = q[0], n = 0;
        for (var c = 0; c < q[1]; c++) {
          var i = buf[c], b = 4 * i;
          if (look[sidx[i]].none) continue;
          if (bbox[b + 2] + m < v.x0 || bbox[b] - m > v.x1 || bbox[b + 3] + m < v.y0 || bbox[b + 1] - m > v.y1) continue;
          if (++n === enough) break;
        }
        return n;
      },

      /* Features in the view last drawn (whose box meets the canvas; a point's disc). */
      countInView: function () {
        var f = this._frame || (this._shared && this._shared._frame), self = this;
        if (!f) return 0;
        var look = this._look(f.r), n = 0;
        this._pieces().forEach(function (pc) {
          var v = place(pc.geom, f, f);
          pc.geom.parts.forEach(function (p, pi) {
            var m = p.type === "point" ? ((self.styles[0] && self.styles[0].radius) || DEF.radius) * f.r / v.S + 2 / v.S : 0;
            n += self._count(pc.geom, pi, pc.sidx[pi], v, look, m);
          });
        });
        return n;
      },

      _meets: function (frame, nx, ny) {
        var look = this._look(frame.r), self = this, t = { nx: nx, ny: ny, W: SIZE, H: SIZE };
        return this._pieces().some(function (pc) {
          var v = place(pc.geom, frame, t), m = look.reach / v.S;
          return pc.geom.parts.some(function (p, pi) { return self._count(pc.geom, pi, pc.sidx[pi], v, look, m, 1) > 0; });
        });
      },

      /* Draw onto a target (a rectangle of tiles, or the whole view): the
       * raster buffer first, then the features big on screen as canvas
       * paths; t.n counts what fell on it. */
      _paint: function (targets, frame) {
        var pieces = this._pieces(), t = targets[0];
        if (!pieces.length) return; // arrays still loading: drawn when they arrive
        var z = frame.z, r = frame.r, look = this._look(r), zs = this._zs[z + "@" + r] || [], self = this, jobs = [];
        var ras = this._shared ? null : R.raster(t.W, t.H);
        pieces.forEach(function (pc, k) {
          var g = pc.geom, set = g.sets[self._band(z, g)], v = place(g, frame, t);
          for (var pi = 0; pi < g.parts.length; pi++) {
            var items = [], fit = (zs[k] || [])[pi] || 0;
            t.n += self._sweep(ras, g, pi, set[pi], pc.sidx[pi], v, look, fit, items);
            if (items.length) jobs.push({ part: g.parts[pi], geo: set[pi], v: v, sidx: pc.sidx[pi], items: items, under: !!ras });
          }
        });
        if (ras && ras.used) t.ctx.putImageData(ras.img, 0, 0);
        jobs.forEach(function (job) { self._vector(job, targets); });
        this._lastPaint = performance.now();
      },

      /* One part's features near a placed target: the small ones into the
       * pixel buffer ras (if any), the big ones' indices into vec. Returns
       * the features it put into ras. */
      _sweep: function (ras, g, pi, geo, sidx, v, look, fit, vec) {
        var part = g.parts[pi], bbox = part.bbox, type = part.type, S = v.S, r = v.r;
        var m = look.reach / S, styles = this.styles;
        if (R.gridDots && type === "point" && ras && fit && g.sets.length === 1 && geo.xy.length === 2 * part.n) { // single points: R.gridDots
          var rad = styles.map(function (st) { return Math.min((st.radius || DEF.radius) * r, fit); });
          return R.gridDots(ras, TILES.grid(part), geo, sidx, look, rad, v, m);
        }
        var q = TILES.query(TILES.grid(part), v.x0 - m, v.y0 - m, v.x1 + m, v.y1 + m), buf = q[0], nq = q[1];
        var gx = v.gx, gy = v.gy, nx = v.nx, ny = v.ny, drawn = 0, raster = !!ras;
        for (var c = 0; c < nq; c++) {
          var i = buf[c], k = sidx[i], col = look[k];
          if (col.none) continue; // filtered out
          var b = 4 * i, bx0 = bbox[b], by0 = bbox[b + 1], bx1 = bbox[b + 2], by1 = bbox[b + 3];
          if (bx1 + m < v.x0 || bx0 - m > v.x1 || by1 + m < v.y0 || by0 - m > v.y1) continue;
          var w = (bx1 - bx0) * S, h = (by1 - by0) * S, big = this._big(type, w, h, r, raster, fit);
          if (big) { // a fill its outline covers the edge of goes into ras (_vector strokes it only)
            if (raster && col.under && type === "polygon" && R.fillsUnder(geo, i, h)) R.fillPolygon(ras, geo, i, v, false, col);
            vec.push(i);
            continue;
          }
          drawn++;
          if (type === "point") R.discs(ras, geo, i, col, Math.min((styles[k].radius || DEF.radius) * r, fit), v);
          else if (w < 1.5 && h < 1.5) R.rect(ras, bx0 * S + gx - nx, by0 * S + gy - ny, bx1 * S + gx - nx, by1 * S + gy - ny, col.dot);
          else if (type === "polygon") R.fillPolygon(ras, geo, i, v, (w >= 4 * r && h >= 4 * r) || !(col.fill >>> 24), col);
          else R.rect(ras, bx0 * S + gx - nx, by0 * S + gy - ny, bx1 * S + gx - nx, by1 * S + gy - ny, col.line);
        }
        return drawn;
      },

      /* Features big on screen as anti-aliased canvas paths, a path per
       * style and run of 64 feature numbers (the same batches whatever the
       * target, so a tile and the whole view blend alike), made for each
       * target from the features that reach it: Skia strokes a whole path
       * before it clips, so a path holds only what its tile shows. */
      _vector: function (job, targets) {
        var items = job.items, sidx = job.sidx, bb = job.part.bbox, v = job.v, S = v.S, gx = v.gx, gy = v.gy;
        items.sort(function (a, b) { return (sidx[a] - sidx[b]) || (a - b); });
        for (var s = 0; s < items.length;) {
          var k = sidx[items[s]], run = Math.floor(items[s] / 64), e = s + 1;
          while (e < items.length && sidx[items[e]] === k && Math.floor(items[e] / 64) === run) e++;
          var st = this.styles[k], grow = ((st.weight == null ? DEF.weight : st.weight) + (st.radius || DEF.radius) + 2) * v.r;
          var under = job.under && job.part.type === "polygon" && this._look(v.r)[k].under;
          for (var t = 0; t < targets.length; t++) {
            var tg = targets[t], sub = [], bare = [];
            for (var q = s; q < e; q++) {
              var b = 4 * items[q];
              if (bb[b + 2] * S + gx - tg.nx < -grow || bb[b] * S + gx - tg.nx > tg.W + grow ||
                  bb[b + 3] * S + gy - tg.ny < -grow || bb[b + 1] * S + gy - tg.ny > tg.H + grow) continue;
              (under && R.fillsUnder(job.geo, items[q], (bb[b + 3] - bb[b + 1]) * S) ? bare : sub).push(items[q]);
            }
            if (sub.length) { this._stroke(tg.ctx, this._path(job, k, sub, tg), st, job.part.type, v.r); tg.n++; }
            if (bare.length) { this._stroke(tg.ctx, this._path(job, k, bare, tg), st, job.part.type, v.r, true); tg.n++; }
          }
          s = e;
        }
      },

      /* Whether a feature w × h device pixels is a canvas path (not raster). */
      _big: function (type, w, h, r, raster, fit) {
        if (type === "point") return !(raster && fit);
        if (!raster) return true;
        if (w < 1.5 && h < 1.5) return false;
        if (type === "polygon") return !(w < 24 * r && h < 24 * r);
        return !(type === "line" && w < 3 && h < 3);
      },

      /* The path of some features on a target. A run of vertices all
       * beyond one edge of the target (plus a margin) draws nothing there:
       * its first and last vertex will do (the straight line between them
       * stays beyond that edge); vertices within a third of a pixel of the
       * last one drawn are skipped. Coordinates kept to 1/256 px. */
      _path: function (job, k, members, tg) {
        var st = this.styles[k], type = job.part.type, geo = job.geo, pv = job.v, r = pv.r;
        var xy = geo.xy, rings = geo.rings, fr = geo.frings, S = pv.S, gx = pv.gx, gy = pv.gy, nx = tg.nx, ny = tg.ny;
        var radius = (st.radius || DEF.radius) * r, weight = (st.weight == null ? DEF.weight : st.weight) * r;
        var m = weight + 4 * r, X1 = tg.W + m, Y1 = tg.H + m, path = new Path2D();
        var out = function (x, y) { return (x < -m ? 1 : x > X1 ? 2 : 0) | (y < -m ? 4 : y > Y1 ? 8 : 0); };
        // the same edges in world units, for runs of 64 vertices at once (chunkBox)
        var cb = type === "point" ? null : TILES.chunkBoxes(geo);
        var wx0 = (nx - m - gx) / S, wx1 = (nx + X1 - gx) / S, wy0 = (ny - m - gy) / S, wy1 = (ny + Y1 - gy) / S;
        for (var q = 0; q < members.length; q++) {
          var i = members[q];
          if (type === "point") {
            for (var pt = fr[i]; pt < fr[i + 1]; pt++) {
              var cx = Math.round((xy[2 * pt] * S + gx - nx) * 256) / 256, cy = Math.round((xy[2 * pt + 1] * S + gy - ny) * 256) / 256;
              path.moveTo(cx + radius, cy);
              path.arc(cx, cy, radius, 0, 6.283185307179586);
            }
            continue;
          }
          for (var ri = fr[i]; ri < fr[i + 1]; ri++) {
            var a = rings[ri], en = rings[ri + 1];
            if (en <= a) continue;
            var lx = Math.round((xy[2 * a] * S + gx - nx) * 256) / 256, ly = Math.round((xy[2 * a + 1] * S + gy - ny) * 256) / 256;
            path.moveTo(lx, ly);
            var run = out(lx, ly), px = 0, py = 0, held = false;
            for (var j = a + 1; j < en; j++) {
              if (run && (j & 63) === 0 && j + 64 < en) { // 64 vertices all beyond an edge the run is beyond: held at once
                var o = TILES.chunkBox(geo, j >> 6);
                var code = (cb[o + 2] < wx0 ? 1 : cb[o] > wx1 ? 2 : 0) | (cb[o + 3] < wy0 ? 4 : cb[o + 1] > wy1 ? 8 : 0);
                if (run & code) {
                  run &= code;
                  j += 63;
                  px = Math.round((xy[2 * j] * S + gx - nx) * 256) / 256; py = Math.round((xy[2 * j + 1] * S + gy - ny) * 256) / 256;
                  held = true;
                  continue;
                }
              }
              var x = Math.round((xy[2 * j] * S + gx - nx) * 256) / 256, y = Math.round((xy[2 * j + 1] * S + gy - ny) * 256) / 256;
              var c = out(x, y);
              if (run & c) {
                run &= c;
                px = x; py = y; held = true;
                continue;
              }
              if (held) { path.lineTo(px, py); lx = px; ly = py; held = false; }
              run = c;
              if (j < en - 1 && x - lx < 0.34 && lx - x < 0.34 && y - ly < 0.34 && ly - y < 0.34) continue;
              path.lineTo(x, y);
              lx = x; ly = y;
            }
            if (held) path.lineTo(px, py);
            if (type === "polygon") path.closePath();
          }
        }
        return path;
      },

      /* bare: the fill is in the pixel buffer already (_sweep). */
      _stroke: function (ctx, path, st, type, r, bare) {
        var op = this.opacity, rr = r || 1;
        var lineOp = (st.opacity == null ? 1 : st.opacity) * op;
        var fillOp = (st.fillOpacity == null ? 0.3 : st.fillOpacity) * op;
        var weight = (st.weight == null ? DEF.weight : st.weight) * rr;
        ctx.lineJoin = "round";
        ctx.lineCap = "round";
        ctx.setLineDash(st.dashArray ? String(st.dashArray).split(/[ ,]+/).map(function (d) { return Number(d) * rr; }) : []);
        ctx.fillStyle = st.fillColor || st.color;
        ctx.strokeStyle = st.color;
        ctx.lineWidth = weight;
        if (type !== "line" && st.fill !== false && !bare) { ctx.globalAlpha = fillOp; ctx.fill(path, "evenodd"); }
        if (weight > 0 && st.stroke !== false) { ctx.globalAlpha = lineOp; ctx.stroke(path); }
        ctx.globalAlpha = 1;
        ctx.setLineDash([]);
      },

      _overlay: function (ctx, frame) {
        this._placed = this.labels && !this.pieces && this.geom ? ZJ.bigLabels.draw(ctx, this, place(this.geom, frame, frame), frame.z) : 0;
      },

      _drawn: function (frame, ms) {
        var s = this.stats;
        s.draws++;
        s.lastMs = ms;
        s.zoom = frame.z;
        s.set = this.geom ? this._band(frame.z) : 0;
        s.labels = this._placed || 0;
        if (!this._shared) s.tiles = this._tiles.stats;
        if (!s.firstDraw && this._pieces().length) s.firstDraw = performance.now();
        this._lastPaint = performance.now();
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
      var reuse = prev && geom.key && prev.key === geom.key && !prev.partial ? prev : null;
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
        var first = true; // the page is drawn once the first file is in; the finer sets follow (bigfiles.js)
        FILES.load(geom, function (decoded) {
          try {
            if (first) layer.stats.decodeMs = performance.now() - t0;
            var cur = ZJ.layers[spec.id];
            if (cur && cur.group === layer) layer.setGeometry(decoded); // not removed or replaced meanwhile
          } finally {
            if (first) page.loadEnded();
            first = false;
          }
        }, function (msg) {
          if (first) page.loadEnded();
          first = false;
          layer.stats.error = msg;
          var cur = ZJ.layers[spec.id];
          // a layer removed meanwhile takes its file with it: not an error
          if (cur && cur.group === layer) console.error("zjmap big layer " + spec.id + ": " + msg);
        }, function (read) { afterStart(function () { layer.stats.finerAsked = performance.now(); read(); }); });
      }
      return entry(layer, spec, t0);
    }

    /* The finer sets of the page's own files are read once it is drawn, the window is complete and the page idle. */
    function afterStart(fn) {
      page.whenLoaded(function () { ZJ.whenStarted(function () { requestIdleCallback(fn, { timeout: 500 }); }); });
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
      startView: function () { if (surfaces.zjBase && ZJ.startTiles) ZJ.startTiles.use(surfaces.zjBase, page); },
      setOpacity: function (l, opacity) { l.group.setOpacity(opacity); },
      restacked: function (change, added) {
        placeCanvases();
        if (change === "order" || (change === "add" && added && added.big)) { // the order on a shared canvas
          Object.keys(surfaces).forEach(function (k) { surfaces[k].redraw(); });
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
      FILES.load(spec.big.chunk, function (decoded) {
        var cur = ZJ.layers[spec.id];
        if (cur && cur.group === layer && layer.pieces && !layer.geom) layer.addPiece(decoded);
      }, function (msg) { layer.stats.error = msg; });
      return true;
    };

    return renderer;
  }
})();
