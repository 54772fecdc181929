/* zjmap: the labels of a canvas layer (biglayer.js), drawn over the view
 * put together from tiles (a label reaches across tiles, and labels give
 * way to each other over the whole view). */
(function () {
  "use strict";
  var ZJ = window.ZJ;
  if (!ZJ) return;
  var MAX_LABELS = 400;

  /* Labels of features in view, most room first come first; none overlap. */
  function draw(ctx, layer, v, z) {
    var LOOK = ZJ.look, LAB = LOOK.labels.canvas;
    var FONT = "px " + LOOK.font_families.map(function (f) { return f.indexOf(" ") >= 0 ? "'" + f + "'" : f; }).join(", ");
    var S = v.S, gx = v.gx, gy = v.gy, nx = v.nx, ny = v.ny, vx0 = v.x0, vx1 = v.x1, vy0 = v.y0, vy1 = v.y1, W = v.W, H = v.H;
    var lab = layer.labels, minZoom = lab.minZoom;
    if (minZoom != null ? z < minZoom : layer.countInView() > 3000) return 0;
    var xy = lab.xy, texts = lab.texts, n = texts.length;
    var r = v.r;
    ctx.font = Math.round(LAB.size * r) + FONT;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineJoin = "round";
    ctx.globalAlpha = Math.max(0.35, layer.opacity);
    var cell = 24 * r, cols = Math.ceil(W / cell) + 1, taken = new Uint8Array(cols * (Math.ceil(H / cell) + 1));
    var placed = 0;
    for (var i = 0; i < n && placed < MAX_LABELS; i++) {
      var t = texts[i];
      if (!t) continue;
      var rx = xy[2 * i], ry = xy[2 * i + 1];
      if (!(rx >= vx0 && rx <= vx1 && ry >= vy0 && ry <= vy1)) continue;
      var x = rx * S + gx - nx, y = ry * S + gy - ny;
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
  }

  ZJ.bigLabels = { draw: draw };
})();
