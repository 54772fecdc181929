/* zjmap tiles for the canvas layers (biglayer.js): a layer, or the shared
 * base canvas, is drawn into fixed tiles of the world's pixel grid at each
 * zoom and a view is put together from the tiles it has; only tiles it has
 * not got are drawn. A pan draws the tiles it uncovers, a zoom back to a
 * zoom seen draws none. Tiles sit at whole device pixels, so a tile holds
 * the very pixels a drawing of the whole view would have there.
 *
 * Also the grid of features' bounding boxes that lets a tile (or a view
 * zoomed in) look at the features near it instead of all of them.
 *
 * Hand-written: Leaflet's GridLayer makes a DOM element per tile and knows
 * nothing of a layer drawn at once (labels laid out over the whole view).
 */
(function () {
  "use strict";
  var ZJ = window.ZJ;
  if (!ZJ) return;

  // device pixels a side (64 KB a tile): a view is drawn from the tiles that meet it, and
  // 256-px ones drew 1.8 times its area on a first visit (128: 1.4 times, a quarter less to draw)
  var SIZE = 128;
  var GUTTER = 8; // margin round what is drawn at once, not kept (biglayer.js _render)
  var CAP = 880; // tiles kept across all layers (56 MB): the web engine stays under 400 MB at 100k parcels
  var lru = new Map(); // "cache id|key" -> tile, least recently used first
  var pool = []; // canvases of tiles let go, to draw the next ones on
  var nextId = 1;

  /* One surface's tiles: key (zoom, column, row, pixel ratio) → {canvas or null when empty}. */
  function Cache() {
    this.id = nextId++;
    this.tiles = new Map();
    this.view = null; // keys of the view drawn last: never let go to make room
    this.stats = { rendered: 0, reused: 0, lastRendered: 0, lastReused: 0, ahead: 0 };
  }

  Cache.prototype.key = function (z, tx, ty, r) { return z + "/" + tx + "/" + ty + "@" + r; };

  Cache.prototype.get = function (key) {
    var t = this.tiles.get(key);
    if (t) {
      var g = this.id + "|" + key;
      lru.delete(g);
      lru.set(g, t);
    }
    return t || null;
  };

  Cache.prototype.put = function (key, canvas) {
    var old = this.tiles.get(key);
    if (old) this._drop(key, old);
    var t = { canvas: canvas, cache: this, key: key };
    this.tiles.set(key, t);
    lru.set(this.id + "|" + key, t);
    trim();
    return t;
  };

  Cache.prototype._drop = function (key, t) {
    this.tiles.delete(key);
    lru.delete(this.id + "|" + key);
    release(t.canvas);
  };

  /* Everything drawn is out of date (style, opacity, data, order). */
  Cache.prototype.clear = function () {
    var self = this;
    this.tiles.forEach(function (t, key) { self._drop(key, t); });
    this.view = null;
  };

  function trim() {
    if (lru.size <= CAP) return;
    var it = lru.values(), n = lru.size - CAP;
    var gone = [];
    for (var step = it.next(); !step.done && gone.length < n; step = it.next()) {
      var t = step.value;
      if (t.cache.view && t.cache.view.has(t.key)) continue; // on screen now
      gone.push(t);
    }
    gone.forEach(function (t) { t.cache._drop(t.key, t); });
  }

  function canvas() {
    var c = pool.pop();
    if (c) {
      c.getContext("2d").clearRect(0, 0, SIZE, SIZE);
      return c;
    }
    c = document.createElement("canvas");
    c.width = SIZE;
    c.height = SIZE;
    return c;
  }

  function release(c) {
    if (c && pool.length < 64) pool.push(c);
  }

  /* Tiles to draw as rectangles [tx0, ty0, tx1, ty1]: runs along each row,
   * joined with the run below of the same columns (a pan's L: two). */
  function rects(cells) {
    var rows = {}, out = [];
    cells.forEach(function (c) { (rows[c[1]] = rows[c[1]] || []).push(c[0]); });
    var open = {};
    Object.keys(rows).map(Number).sort(function (a, b) { return a - b; }).forEach(function (ty) {
      var xs = rows[ty].sort(function (a, b) { return a - b; }), next = {};
      for (var i = 0; i < xs.length;) {
        var j = i;
        while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
        var key = xs[i] + ":" + xs[j], prev = open[key];
        if (prev && prev[3] === ty - 1) { prev[3] = ty; next[key] = prev; }
        else { var rc = [xs[i], ty, xs[j], ty]; out.push(rc); next[key] = rc; }
        i = j + 1;
      }
      open = next;
    });
    return out;
  }

  var scratchCanvas = null;
  /* One canvas w × h, cleared, to draw a rectangle of tiles on. */
  function scratchOf(w, h) {
    var c = scratchCanvas || (scratchCanvas = document.createElement("canvas"));
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    else c.getContext("2d").clearRect(0, 0, w, h);
    return c;
  }

  /* The tiles (column, row) a rectangle of device pixels at a zoom covers. */
  function cover(nx, ny, W, H) {
    var out = [];
    for (var ty = Math.floor(ny / SIZE); ty * SIZE < ny + H; ty++)
      for (var tx = Math.floor(nx / SIZE); tx * SIZE < nx + W; tx++) out.push([tx, ty]);
    return out;
  }

  /* A grid over features' boxes (x0, y0, x1, y1 in bbox): each feature in
   * the cell of its box's lower corner, those wider than a cell on a list of
   * their own. A query yields the big ones, then the cells row by row: any
   * two features come in the same order whatever the rectangle asked. */
  function buildGrid(bbox, n) {
    var X0 = Infinity, Y0 = Infinity, X1 = -Infinity, Y1 = -Infinity, i;
    for (i = 0; i < n; i++) {
      var b = 4 * i;
      if (!(bbox[b] <= bbox[b + 2])) continue; // empty
      if (bbox[b] < X0) X0 = bbox[b];
      if (bbox[b + 1] < Y0) Y0 = bbox[b + 1];
      if (bbox[b + 2] > X1) X1 = bbox[b + 2];
      if (bbox[b + 3] > Y1) Y1 = bbox[b + 3];
    }
    if (!(X1 >= X0)) { X0 = Y0 = 0; X1 = Y1 = 1; }
    // a cell twice the size of most features, and about four features a cell
    var sizes = [], stepI = Math.max(1, Math.floor(n / 2000));
    for (i = 0; i < n; i += stepI) sizes.push(Math.max(bbox[4 * i + 2] - bbox[4 * i], bbox[4 * i + 3] - bbox[4 * i + 1]) || 0);
    sizes.sort(function (a, b) { return a - b; });
    var p90 = sizes.length ? sizes[Math.floor(sizes.length * 0.9)] : 0;
    var W = X1 - X0 || 1e-9, H = Y1 - Y0 || 1e-9;
    var cs = Math.max(2 * p90, Math.sqrt(W * H / Math.max(1, n / 4)), 1e-9);
    var cols = Math.min(4096, Math.floor(W / cs) + 1), rows = Math.min(4096, Math.floor(H / cs) + 1);
    while (cols * rows > (1 << 20)) { cs *= 1.5; cols = Math.floor(W / cs) + 1; rows = Math.floor(H / cs) + 1; }
    var cell = new Int32Array(n), count = new Uint32Array(cols * rows + 1), big = [];
    for (i = 0; i < n; i++) {
      var o = 4 * i, x0 = bbox[o], y0 = bbox[o + 1];
      if (!(x0 <= bbox[o + 2]) || bbox[o + 2] - x0 > cs || bbox[o + 3] - y0 > cs) {
        cell[i] = -1;
        if (x0 <= bbox[o + 2]) big.push(i);
        continue;
      }
      var cx = Math.min(cols - 1, Math.floor((x0 - X0) / cs)), cy = Math.min(rows - 1, Math.floor((y0 - Y0) / cs));
      cell[i] = cy * cols + cx;
      count[cell[i] + 1]++;
    }
    for (i = 0; i < cols * rows; i++) count[i + 1] += count[i];
    var fill = count.slice(0, cols * rows), items = new Uint32Array(count[cols * rows]);
    for (i = 0; i < n; i++) if (cell[i] >= 0) items[fill[cell[i]]++] = i;
    return { X0: X0, Y0: Y0, cs: cs, cols: cols, rows: rows, start: count, items: items, big: new Uint32Array(big), n: n };
  }

  var scratch = new Uint32Array(1024);

  /* Features whose cell lies near the rectangle (a superset of those whose
   * box meets it), into a shared buffer: returns [buffer, count]. */
  function query(grid, x0, y0, x1, y1) {
    if (scratch.length < grid.n) scratch = new Uint32Array(Math.max(grid.n, 2 * scratch.length));
    var out = scratch, k = 0, i;
    for (i = 0; i < grid.big.length; i++) out[k++] = grid.big[i];
    var cs = grid.cs;
    var c0 = Math.max(0, Math.floor((x0 - grid.X0) / cs) - 1), c1 = Math.min(grid.cols - 1, Math.floor((x1 - grid.X0) / cs));
    var r0 = Math.max(0, Math.floor((y0 - grid.Y0) / cs) - 1), r1 = Math.min(grid.rows - 1, Math.floor((y1 - grid.Y0) / cs));
    var start = grid.start, items = grid.items;
    for (var r = r0; r <= r1; r++) {
      for (var c = c0; c <= c1; c++) {
        var cell = r * grid.cols + c;
        for (i = start[cell]; i < start[cell + 1]; i++) out[k++] = items[i];
      }
    }
    return [out, k];
  }

  /* The grid of a part's boxes (made once per part). */
  function gridOf(part) {
    return part._grid || (part._grid = buildGrid(part.bbox, part.n));
  }

  /* The boxes of a set's runs of 64 vertices (run k: j = 64 k … 64 k + 63),
   * each made the first time it is asked (chunkBox): a first zoom to a band
   * reads only the vertices it draws, not all of the band's (25 M vertices
   * of a million parcels took 120 ms to box at once on the first deep zoom). */
  function chunkBoxes(geo) {
    if (!geo._cb) {
      var runs = Math.ceil(geo.xy.length / 128);
      geo._cb = new Float32Array(4 * runs);
      geo._cbMade = new Uint8Array(runs);
    }
    return geo._cb;
  }

  /* Where run k's box (x0, y0, x1, y1) is in chunkBoxes(geo), made if it is not yet. */
  function chunkBox(geo, k) {
    var made = geo._cbMade, o = 4 * k;
    if (made[k]) return o;
    ZJ.bigFiles.extent(geo.xy, 64 * k, Math.min(geo.xy.length / 2, 64 * k + 64), geo._cb, k);
    made[k] = 1;
    return o;
  }

  /* Tiles drawn ahead while the page is idle (from 200 ms after a view is
   * drawn): the view's margin first, then the ring round the canvas (the
   * next pan's), then the view one zoom in and one zoom out; a few
   * milliseconds a slice, so a step never waits long behind them. */
  var wishes = new Map(), timer = null, aheadOn = true, made = 0, IDLE = 200, workAsked = false;

  function ahead(surface, frame, margin) {
    if (!aheadOn) return;
    var map = surface._map, list = [];
    list.push({ frame: frame, cells: (margin || []).slice(), margin: true, phase: 0 });
    list.push({ frame: frame, cells: cover(frame.nx - SIZE, frame.ny - SIZE, frame.W + 2 * SIZE, frame.H + 2 * SIZE), phase: 1 });
    [1, -1].forEach(function (dz, k) {
      var z = frame.z + dz;
      if (!map || z > map.getMaxZoom() || z < map.getMinZoom()) return;
      var f = Math.pow(2, dz), cx = (frame.nx + frame.W / 2) * f, cy = (frame.ny + frame.H / 2) * f;
      var fr = { z: z, S: frame.S * f, r: frame.r, W: frame.W, H: frame.H, nx: Math.round(cx - frame.W / 2), ny: Math.round(cy - frame.H / 2) };
      list.push({ frame: fr, cells: cover(fr.nx, fr.ny, fr.W, fr.H), phase: 2 + k });
    });
    wishes.set(surface, list);
    made = 0; // a new view: half the kept tiles may go to what it may want next
    // only once the view has stayed a moment: a planner panning on is not kept waiting behind tiles
    clearTimeout(timer);
    timer = setTimeout(work, IDLE);
  }

  /* The next tile wished for: every surface's margin first, then their rings, then the zooms. */
  function nextWish() {
    var best = null;
    wishes.forEach(function (list, surface) {
      if (!surface._map || !surface._tiles) { wishes.delete(surface); return; }
      while (list.length && !list[0].cells.length) list.shift();
      if (!list.length) { wishes.delete(surface); return; }
      if (!best || list[0].phase < best[1].phase) best = [surface, list[0]];
    });
    if (!best) return null;
    var w = best[1];
    if (!w.margin && made >= CAP / 2) { wishes.clear(); return null; } // the rest of the room for the views seen
    return [best[0], w, w.cells.shift()];
  }

  function work() {
    timer = null;
    if (ZJ.isStarted && !ZJ.isStarted()) { // not while the window around the page is being completed
      if (!workAsked) {
        workAsked = true;
        ZJ.whenStarted(function () { workAsked = false; if (!timer) timer = setTimeout(work, 0); });
      }
      return;
    }
    var t0 = performance.now();
    while (performance.now() - t0 < 4) {
      var next = nextWish();
      if (!next) return;
      var surface = next[0], w = next[1], cell = next[2];
      if (surface._tiles.tiles.has(surface._tiles.key(w.frame.z, cell[0], cell[1], w.frame.r))) continue;
      surface._ahead(w.frame, cell, w.margin);
      made++;
    }
    timer = setTimeout(work, 0);
  }

  ZJ.tiles = {
    ahead: ahead,
    setAhead: function (on) { aheadOn = !!on; if (!on) wishes.clear(); },
    chunkBoxes: chunkBoxes,
    chunkBox: chunkBox,
    SIZE: SIZE,
    GUTTER: GUTTER,
    cache: function () { return new Cache(); },
    canvas: canvas,
    release: release,
    cover: cover,
    rects: rects,
    scratch: scratchOf,
    grid: gridOf,
    query: query,
    cached: function () { return lru.size; },
    setCap: function (n) { CAP = n; trim(); },
  };
})();
