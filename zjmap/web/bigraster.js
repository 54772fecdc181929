/* zjmap: small features of a canvas layer (biglayer.js) written straight
 * into a pixel buffer (Canvas 2D pays microseconds per path contour in
 * software: 100,000 contours take a second or more, however batched).
 *
 * Every shape is worked out relative to a whole pixel near it (its first
 * vertex, floored), so a shape moved by whole pixels lands on the same
 * pixels whatever the buffer: a tile and a drawing of the whole view agree
 * pixel for pixel (tiles.js). Device x of a world x: w * S + gx - nx.
 */
(function () {
  "use strict";
  var ZJ = window.ZJ;
  if (!ZJ) return;

  var buffers = [];

  /* A pixel buffer w × h, cleared (the last two sizes asked are kept). */
  function raster(w, h) {
    for (var i = 0; i < buffers.length; i++) {
      var b = buffers[i];
      if (b.w === w && b.h === h) {
        if (b.used) b.px.fill(0);
        b.used = false;
        return b;
      }
    }
    var img = new ImageData(w, h);
    var ras = { w: w, h: h, img: img, px: new Uint32Array(img.data.buffer), used: false,
      xs: new Float64Array(256), sx: new Float64Array(1024), sy: new Float64Array(1024) };
    buffers.unshift(ras);
    if (buffers.length > 2) buffers.length = 2;
    return ras;
  }

  /* Pixels [floor(x0), ceil(x1)) (at least one) × the same in y, clipped. */
  function rect(ras, x0, y0, x1, y1, color) {
    var W = ras.w, H = ras.h, px = ras.px;
    var ia = Math.floor(x0), ib = Math.max(ia, Math.ceil(x1) - 1);
    var ja = Math.floor(y0), jb = Math.max(ja, Math.ceil(y1) - 1);
    if (ib < 0 || jb < 0 || ia >= W || ja >= H) return;
    ia = Math.max(0, ia); ib = Math.min(W - 1, ib); ja = Math.max(0, ja); jb = Math.min(H - 1, jb);
    for (var y = ja; y <= jb; y++) for (var x = ia; x <= ib; x++) px[y * W + x] = color;
    ras.used = true;
  }

  /* A 1-px line between two points given relative to pixel (bx, by). */
  function line(ras, x0, y0, x1, y1, bx, by, color) {
    var W = ras.w, H = ras.h, px = ras.px;
    var dx = x1 - x0, dy = y1 - y0, n = Math.ceil(Math.max(Math.abs(dx), Math.abs(dy)));
    if (n === 0) n = 1;
    var sx = dx / n, sy = dy / n, x = x0, y = y0;
    for (var s = 0; s <= n; s++) {
      var ix = bx + Math.floor(x), iy = by + Math.floor(y);
      if (ix >= 0 && iy >= 0 && ix < W && iy < H) px[iy * W + ix] = color;
      x += sx; y += sy;
    }
  }

  /* Feature i of a polygon set: even-odd scanline fill at pixel centres,
   * then (outline) a 1-px outline; a sliver thinner than a row still shows. */
  function fillPolygon(ras, geo, i, v, outline, col) {
    var xy = geo.xy, rings = geo.rings, fr = geo.frings, W = ras.w, H = ras.h, px = ras.px;
    var a0 = rings[fr[i]], a1 = rings[fr[i + 1]], n = a1 - a0;
    if (n < 3) return;
    if (ras.sx.length < n) { ras.sx = new Float64Array(n * 2); ras.sy = new Float64Array(n * 2); }
    var S = v.S, gx = v.gx, gy = v.gy, nx = v.nx, ny = v.ny;
    var sx = ras.sx, sy = ras.sy, ymin = 1e9, ymax = -1e9, j;
    var bx = Math.floor(xy[2 * a0] * S + gx - nx), by = Math.floor(xy[2 * a0 + 1] * S + gy - ny);
    for (j = 0; j < n; j++) {
      sx[j] = (xy[2 * (a0 + j)] * S + gx - nx) - bx;
      var yy = (sy[j] = (xy[2 * (a0 + j) + 1] * S + gy - ny) - by);
      if (yy < ymin) ymin = yy;
      if (yy > ymax) ymax = yy;
    }
    var ya = Math.max(0, by + Math.ceil(ymin - 0.5)), yb = Math.min(H - 1, by + Math.floor(ymax - 0.5));
    var xs = ras.xs, fill = col.fill;
    if (!(fill >>> 24)) yb = ya - 1; // outline only (fill: false): no rows to fill
    for (var y = ya; y <= yb; y++) {
      var yc = (y - by) + 0.5, cnt = 0;
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
        var xa = Math.max(0, bx + Math.ceil(xs[p] - 0.5)), xb = Math.min(W - 1, bx + Math.floor(xs[p + 1] - 0.5));
        for (var x = xa; x <= xb; x++) px[row + x] = fill;
      }
    }
    if (outline) {
      var ln = col.line;
      for (ri = fr[i]; ri < fr[i + 1]; ri++) {
        r0 = rings[ri] - a0; r1 = rings[ri + 1] - a0;
        for (j = r0; j < r1; j++) {
          k = j + 1 < r1 ? j + 1 : r0;
          line(ras, sx[j], sy[j], sx[k], sy[k], bx, by, ln);
        }
      }
    } else if (yb < ya && ymax - ymin < 1) {
      rect(ras, bx + sx[0], by + ymin, bx + sx[0] + 1, by + ymax, col.dot);
    }
    ras.used = true;
  }

  var spans = {};
  function spanOf(rr) {
    if (spans[rr]) return spans[rr];
    var s = [];
    for (var dy = -rr; dy <= rr; dy++) s.push(Math.floor(Math.sqrt(rr * rr - dy * dy)));
    return (spans[rr] = s);
  }

  /* The points of feature i as discs of a radius (a few pixels: a square
   * with the outline colour's corners), clipped to the buffer. */
  function discs(ras, geo, i, col, radius, v) {
    var xy = geo.xy, fr = geo.frings, W = ras.w, H = ras.h, px = ras.px;
    var S = v.S, gx = v.gx, gy = v.gy, nx = v.nx, ny = v.ny;
    var rr = Math.max(1, Math.round(radius)), pt, x, y;
    if (rr <= 2) {
      var n2 = 2 * rr - 1;
      for (pt = fr[i]; pt < fr[i + 1]; pt++) {
        var x0 = Math.round(xy[2 * pt] * S + gx - nx) - rr + 1, y0 = Math.round(xy[2 * pt + 1] * S + gy - ny) - rr + 1;
        if (x0 + n2 <= 0 || y0 + n2 <= 0 || x0 >= W || y0 >= H) continue;
        for (var yy = Math.max(0, -y0); yy < n2 && y0 + yy < H; yy++) {
          var row = (y0 + yy) * W + x0, edgeY = yy === 0 || yy === n2 - 1;
          for (var xx = Math.max(0, -x0); xx < n2 && x0 + xx < W; xx++) px[row + xx] = edgeY && (xx === 0 || xx === n2 - 1) ? col.line : col.fill;
        }
      }
      ras.used = true;
      return;
    }
    var span = spanOf(rr);
    for (pt = fr[i]; pt < fr[i + 1]; pt++) {
      var cx = Math.round(xy[2 * pt] * S + gx - nx), cy = Math.round(xy[2 * pt + 1] * S + gy - ny);
      for (var dy = -rr; dy <= rr; dy++) {
        y = cy + dy;
        if (y < 0 || y >= H) continue;
        var h = span[dy + rr], edge = Math.abs(dy) === rr;
        for (x = Math.max(0, cx - h); x <= Math.min(W - 1, cx + h); x++) {
          px[y * W + x] = edge || x === cx - h || x === cx + h ? col.line : col.fill;
        }
      }
    }
    ras.used = true;
  }

  /* The coordinates and style numbers of a part's single points in the
   * grid's order (made once per geometry and per style). */
  function sortByCell(grid, geo, sidx) {
    var items = grid.items, n = items.length, q, i;
    if (grid._xyOf !== geo) {
      var xy = geo.xy, sorted = new Float32Array(2 * n);
      for (q = 0; q < n; q++) { i = items[q]; sorted[2 * q] = xy[2 * i]; sorted[2 * q + 1] = xy[2 * i + 1]; }
      grid._xy = sorted;
      grid._xyOf = geo;
    }
    if (grid._kOf !== sidx) {
      var ks = new Uint32Array(n);
      for (q = 0; q < n; q++) ks[q] = sidx[items[q]];
      grid._k = ks;
      grid._kOf = sidx;
    }
  }

  /* The cells of a grid query's rectangle, row by row: [c0, c1, r0, r1]. */
  function cellRange(grid, x0, y0, x1, y1) {
    var cs = grid.cs;
    return [Math.max(0, Math.floor((x0 - grid.X0) / cs) - 1), Math.min(grid.cols - 1, Math.floor((x1 - grid.X0) / cs)),
      Math.max(0, Math.floor((y0 - grid.Y0) / cs) - 1), Math.min(grid.rows - 1, Math.floor((y1 - grid.Y0) / cs))];
  }

  /* How many of a part's single points lie within m of the placed
   * rectangle v and are drawn (stops at enough): as gridDots reads them. */
  function gridCount(grid, geo, sidx, look, v, m, enough) {
    sortByCell(grid, geo, sidx);
    var xy = grid._xy, kk = grid._k, n = 0, cr = cellRange(grid, v.x0 - m, v.y0 - m, v.x1 + m, v.y1 + m);
    for (var q = 0; q < grid.big.length; q++) if (!look[sidx[grid.big[q]]].none && ++n === enough) return n;
    for (var row = cr[2]; row <= cr[3]; row++) {
      var a = grid.start[row * grid.cols + cr[0]], e = grid.start[row * grid.cols + cr[1] + 1];
      for (q = a; q < e; q++) {
        if (look[kk[q]].none) continue;
        var x = xy[2 * q], y = xy[2 * q + 1];
        if (x + m < v.x0 || x - m > v.x1 || y + m < v.y0 || y - m > v.y1) continue;
        if (++n === enough) return n;
      }
    }
    return n;
  }

  /* The dots of a part of single points, in the order a grid query gives
   * them, read from a copy of the coordinates (and style numbers) sorted by
   * grid cell: the same pixels as discs called per point, without a random
   * read of 24 MB of arrays per point (cache misses were most of the first
   * zoom to a level with a million points). rad: each style's radius. */
  function gridDots(ras, grid, geo, sidx, look, rad, v, m) {
    sortByCell(grid, geo, sidx);
    var items = grid.items, q, i;
    var xy = grid._xy, kk = grid._k, W = ras.w, H = ras.h, px = ras.px, S = v.S;
    var gx = v.gx, gy = v.gy, nx = v.nx, ny = v.ny, drawn = 0;
    var X0 = v.x0, X1 = v.x1, Y0 = v.y0, Y1 = v.y1;
    for (q = 0; q < grid.big.length; q++) { // none for points (kept for the query's order)
      i = grid.big[q];
      var bx = geo.xy[2 * geo.frings[i]], by = geo.xy[2 * geo.frings[i] + 1];
      if (look[sidx[i]].none || bx + m < X0 || bx - m > X1 || by + m < Y0 || by - m > Y1) continue;
      drawn++;
      discs(ras, geo, i, look[sidx[i]], rad[sidx[i]], v);
    }
    var cr = cellRange(grid, X0 - m, Y0 - m, X1 + m, Y1 + m), c0 = cr[0], c1 = cr[1], r0 = cr[2], r1 = cr[3];
    for (var row = r0; row <= r1; row++) {
      // the cells c0..c1 of a row are one run of the sorted arrays
      var a = grid.start[row * grid.cols + c0], e = grid.start[row * grid.cols + c1 + 1];
      for (q = a; q < e; q++) {
        var k = kk[q], col = look[k];
        if (col.none) continue; // filtered out
        var x = xy[2 * q], y = xy[2 * q + 1];
        if (x + m < X0 || x - m > X1 || y + m < Y0 || y - m > Y1) continue;
        drawn++;
        var rr = Math.max(1, Math.round(rad[k]));
        if (rr > 2) { discs(ras, geo, items[q], col, rad[k], v); continue; }
        var n2 = 2 * rr - 1, fill = col.fill, line = col.line;
        var x0 = Math.round(x * S + gx - nx) - rr + 1, y0 = Math.round(y * S + gy - ny) - rr + 1;
        if (x0 + n2 <= 0 || y0 + n2 <= 0 || x0 >= W || y0 >= H) continue;
        for (var yy = Math.max(0, -y0); yy < n2 && y0 + yy < H; yy++) {
          var at = (y0 + yy) * W + x0, edgeY = yy === 0 || yy === n2 - 1;
          for (var xx = Math.max(0, -x0); xx < n2 && x0 + xx < W; xx++) px[at + xx] = edgeY && (xx === 0 || xx === n2 - 1) ? line : fill;
        }
      }
    }
    if (drawn) ras.used = true;
    return drawn;
  }

  /* A style's colours packed as pixels (RGBA little-endian), at a layer opacity. */
  function colors(st, op) {
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
    var out = {
      fill: pack(st.fillColor || st.color, fo),
      line: pack(st.color, lo),
      // a feature too small to show its outline: one colour between fill and outline
      dot: pack(st.color, Math.min(1, fo + (lo - fo) * 0.25)),
    };
    out.none = !(out.fill >>> 24) && !(out.line >>> 24); // drawn with nothing (filtered out)
    // a fill whose edge a solid outline of a pixel or more covers: written into
    // the pixel buffer even for a feature drawn as a canvas path (biglayer.js
    // _sweep), which then only strokes (Skia's anti-aliased fills were 40 % of
    // a first deep zoom to a million parcels; a coverage gets no seams either)
    var weight = st.weight == null ? ZJ.look.defaults.canvas.weight : st.weight;
    out.under = !!(out.fill >>> 24) && lo >= 0.8 && weight >= 1 && !st.dashArray;
    return out;
  }

  /* Whether feature i of a polygon set, h device pixels tall, is cheap to
   * fill here (its rows times its edges): a detailed shape far bigger than a
   * tile is filled by Skia, which skips what lies off the tile. */
  function fillsUnder(geo, i, h) {
    return (geo.rings[geo.frings[i + 1]] - geo.rings[geo.frings[i]]) * h <= 50000;
  }

  ZJ.bigRaster = { fillsUnder: fillsUnder, raster: raster, rect: rect, fillPolygon: fillPolygon, discs: discs, gridDots: gridDots, gridCount: gridCount, colors: colors };
})();
