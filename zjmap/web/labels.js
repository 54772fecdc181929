/* zjmap page labels: the names of base and seed layers as page elements,
 * one placer for all of them (zjmap.js keeps a label set per layer).
 *
 * Why not one Leaflet marker per name: each marker is positioned with
 * translate3d (a composited layer of its own in software compositing), a
 * zoom across a layer's minZoom added or removed hundreds of markers, and
 * thinning read each box between style writes (a layout per name). Here
 * only the names in and near the view have elements, positioned with 2-D
 * transforms in one pane; a pan creates elements only for names that come
 * near the view; boxes are read in one batch, once per name.
 *
 * Thinning: where names would overlap, the layer with the higher
 * labelPriority keeps its place, the other is hidden (visibility) until a
 * zoom gives room. It considers the names in and near the view. */
(function () {
  "use strict";
  var ZJ = window.ZJ;
  if (!ZJ) return;

  var MARGIN = 0.25; // of the view's size on each side: names there get elements too
  var CELL = 64; // px, the grid cell of the overlap test

  var sets = []; // label sets in the order they were made (ties of priority keep it)
  var map = null, pane = null;

  /* A layer's names: [[text, lat, lon], ...] shown from minZoom. `on`: the
   * layer is visible (zjmap.js sets it). */
  function LabelSet(spec) {
    this.id = spec.id;
    this.className = "zj-label zj-label-" + spec.kind + " zj-label-" + spec.id;
    this.points = spec.labels.points;
    this.minZoom = spec.labels.minZoom;
    this.priority = spec.labels.priority || 0;
    this.on = false;
    this.world = null; // projected at zoom 0, once the map is known
    this.els = []; // index -> element (made on first need)
    this.boxes = []; // index -> [dx, dy, w, h] of the name's text around its anchor
    this.placed = []; // index -> "x,y" the element was last put at
    this.present = {}; // index -> true: its element is in the pane now
    sets.push(this);
  }

  LabelSet.prototype.count = function () { return this.points.length; };

  LabelSet.prototype.project = function () {
    if (this.world) return;
    this.world = this.points.map(function (p) { return map.project([p[1], p[2]], 0); });
  };

  LabelSet.prototype.element = function (i) {
    var el = this.els[i];
    if (!el) {
      el = this.els[i] = document.createElement("div");
      el.className = this.className + (map._zoomAnimated ? " leaflet-zoom-animated" : "");
      el.style.position = "absolute";
      el.style.left = "0";
      el.style.top = "0";
      var span = document.createElement("span");
      span.textContent = this.points[i][0];
      el.appendChild(span);
    }
    return el;
  };

  LabelSet.prototype.removeAll = function () {
    var self = this;
    Object.keys(this.present).forEach(function (i) { self.els[i].remove(); });
    this.present = {};
    this.placed = [];
  };

  function ordered() {
    return sets.filter(function (s) { return s.on; }).sort(function (a, b) { return b.priority - a.priority; });
  }

  /* Place every shown layer's names for the current view: elements for the
   * names near it, positions, boxes (read in one batch), then who is hidden. */
  function place() {
    if (!map || !map._loaded) return; // no view yet (layers added before the first fitBounds)
    var z = map.getZoom(), scale = Math.pow(2, z), origin = map.getPixelOrigin(), size = map.getSize();
    var b = map.getPixelBounds(), mx = size.x * MARGIN, my = size.y * MARGIN;
    var x0 = b.min.x - origin.x - mx, y0 = b.min.y - origin.y - my, x1 = b.max.x - origin.x + mx, y1 = b.max.y - origin.y + my;
    var todo = [], frag = document.createDocumentFragment();
    sets.forEach(function (s) {
      var want = {};
      if (s.on && z >= s.minZoom) {
        s.project();
        for (var i = 0; i < s.world.length; i++) {
          var w = s.world[i], x = Math.round(w.x * scale - origin.x), y = Math.round(w.y * scale - origin.y);
          if (x < x0 || x > x1 || y < y0 || y > y1) continue;
          want[i] = true;
          var el = s.element(i), key = x + "," + y;
          if (s.placed[i] !== key) {
            el.style.transform = "translate(" + x + "px," + y + "px)";
            s.placed[i] = key;
          }
          if (!s.present[i]) frag.appendChild(el);
          todo.push([s, i, x, y]);
        }
      }
      Object.keys(s.present).forEach(function (i) {
        if (!want[i]) { s.els[i].remove(); delete s.placed[i]; }
      });
      s.present = want;
    });
    if (frag.firstChild) pane.appendChild(frag);
    // boxes: all reads after all writes (one layout)
    todo.forEach(function (t) {
      var s = t[0], i = t[1];
      if (s.boxes[i]) return;
      var el = s.els[i], r = el.firstChild.getBoundingClientRect(), a = el.getBoundingClientRect();
      if (r.width) s.boxes[i] = [r.left - a.left, r.top - a.top, r.width, r.height];
    });
    thin(todo);
  }

  /* Hide the names that would cover one of a higher priority (or one placed
   * before it in the same layer). */
  function thin(todo) {
    var rank = {};
    ordered().forEach(function (s, k) { rank[s.id] = k; });
    todo.sort(function (a, b) { return rank[a[0].id] - rank[b[0].id] || a[1] - b[1]; });
    var grid = {}, hidden = 0;
    function cells(r, fn) {
      for (var gx = Math.floor(r[0] / CELL); gx <= Math.floor(r[2] / CELL); gx++)
        for (var gy = Math.floor(r[1] / CELL); gy <= Math.floor(r[3] / CELL); gy++)
          if (fn(gx + ":" + gy) === false) return false;
      return true;
    }
    todo.forEach(function (t) {
      var s = t[0], i = t[1], bx = s.boxes[i], el = s.els[i];
      if (!bx) return;
      var r = [t[2] + bx[0] - 2, t[3] + bx[1] - 1, t[2] + bx[0] + bx[2] + 2, t[3] + bx[1] + bx[3] + 1];
      var free = cells(r, function (k) {
        var list = grid[k] || [];
        for (var j = 0; j < list.length; j++) {
          var o = list[j];
          if (r[0] < o[2] && o[0] < r[2] && r[1] < o[3] && o[1] < r[3]) return false;
        }
      });
      if (free) cells(r, function (k) { (grid[k] = grid[k] || []).push(r); });
      else hidden++;
      var vis = free ? "" : "hidden";
      if (el.style.visibility !== vis) el.style.visibility = vis;
    });
    ZJ.labelsHidden = hidden;
  }

  /* While Leaflet animates a zoom, names move to where they will be (as
   * markers did); placed for the new view at moveend. */
  function animZoom(e) {
    sets.forEach(function (s) {
      Object.keys(s.present).forEach(function (i) {
        var p = map._latLngToNewLayerPoint([s.points[i][1], s.points[i][2]], e.zoom, e.center).round();
        s.els[i].style.transform = "translate(" + p.x + "px," + p.y + "px)";
        delete s.placed[i];
      });
    });
  }

  ZJ.Labels = {
    /* A layer's label set, or null when it has no names. */
    make: function (spec) {
      return spec.labels && spec.labels.points && spec.labels.points.length ? new LabelSet(spec) : null;
    },
    drop: function (set) {
      if (!set) return;
      set.removeAll();
      sets = sets.filter(function (s) { return s !== set; });
    },
    install: function (m) {
      map = m;
      pane = m.getPane("zjLabels");
      m.on("moveend", place);
      if (m._zoomAnimated) m.on("zoomanim", animZoom);
    },
    place: place,
    /* What the page shows now (tests and benchmarks): elements in the pane, hidden ones. */
    stats: function () {
      return { sets: sets.length, elements: pane ? pane.childNodes.length : 0, hidden: ZJ.labelsHidden || 0 };
    },
  };
})();
