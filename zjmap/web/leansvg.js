/* zjmap page: Leaflet's SVG renderer without its repeated work, for the
 * seed layers (GeoJSON as SVG, zjmap.js) and the selection.
 *
 * Leaflet 1.9 on a zoom step projects every path twice (viewreset, then
 * zoomend) and rebuilds its outline three times (the 'update' of viewreset
 * before the paths are projected again, the path's own reset, moveend); a
 * pan rebuilds every outline to clip it to the renderer's new bounds. The
 * seed layers hold county outlines (province_figures alone 48,000
 * vertices), so with them shown a step cost hundreds of ms. Here a path is
 * projected once per view origin (zoom and pixel origin) and its outline
 * rebuilt only when its projection changed, or when the new bounds can clip
 * it differently (it is neither wholly inside nor wholly outside both the
 * bounds it was built for and the new ones). What is drawn is the same: the
 * same Leaflet code projects, clips and writes each outline. */
(function () {
  "use strict";

  function viewKey(map) {
    var o = map.getPixelOrigin();
    return map.getZoom() + ":" + o.x + ":" + o.y;
  }

  // Leaflet clips to the renderer's bounds grown by the stroke weight
  function clipBounds(bounds, layer) {
    var w = layer.options.weight || 0, p = L.point(w, w);
    return L.bounds(bounds.min.subtract(p), bounds.max.add(p));
  }

  // the outline built for `was` is the one `now` would build
  function sameClip(layer, was, now) {
    if (was.min.equals(now.min) && was.max.equals(now.max)) return true;
    var px = layer._pxBounds;
    if (!px || !px.isValid()) return false;
    var a = clipBounds(was, layer), b = clipBounds(now, layer);
    if (a.contains(px) && b.contains(px)) return true;
    return !a.intersects(px) && !b.intersects(px);
  }

  /* The renderer class, made once Leaflet is loaded (zjmap.js's ZJ.init:
   * the page's scripts load before Leaflet). */
  window.ZJ_leanSVG = function () { return L.SVG.extend({
    // a path's state: _zjProj (view it was projected for, with the _pxBounds
    // that projection made), _zjBuilt (view and bounds its outline was built for)
    _projectFor: function (layer, key) {
      layer._project();
      layer._zjProj = key;
      layer._zjPx = layer._pxBounds;
    },

    _projectedFor: function (layer, key) {
      return layer._zjProj === key && layer._zjPx === layer._pxBounds; // not projected again elsewhere
    },

    _build: function (layer, key) {
      layer._update();
      layer._zjBuilt = { key: key, bounds: this._bounds, px: layer._pxBounds };
    },

    // projected for this view, and its outline built for it and these bounds
    _ready: function (layer, key) {
      if (!this._projectedFor(layer, key)) this._projectFor(layer, key);
      var built = layer._zjBuilt;
      if (built && built.key === key && built.px === layer._pxBounds && (built.bounds === this._bounds || sameClip(layer, built.bounds, this._bounds))) {
        built.bounds = this._bounds;
        return;
      }
      this._build(layer, key);
    },

    // a path just added (Path.onAdd) was projected and built for this view
    // and these bounds: not again (a layer's outline copy for a new zoom
    // comes in at moveend, zjmap.js swapBands)
    _addPath: function (layer) {
      L.SVG.prototype._addPath.call(this, layer);
      if (!this._map) return;
      var key = viewKey(this._map);
      layer._zjProj = key;
      layer._zjPx = layer._pxBounds;
      layer._zjBuilt = { key: key, bounds: this._bounds, px: layer._pxBounds };
    },

    // Leaflet fires zoomend and moveend before viewreset: by then the paths are ready
    _reset: function () {
      this._holding = true; // _update's 'update': the paths follow below
      this._update();
      this._holding = false;
      this._updateTransform(this._center, this._zoom);
      var key = viewKey(this._map);
      for (var id in this._layers) this._ready(this._layers[id], key);
    },

    _onZoomEnd: function () {
      var key = viewKey(this._map);
      for (var id in this._layers) {
        var l = this._layers[id];
        if (!this._projectedFor(l, key)) this._projectFor(l, key);
      }
    },

    _updatePaths: function () {
      if (this._holding) return;
      var key = viewKey(this._map);
      for (var id in this._layers) this._ready(this._layers[id], key);
    },
  }); };
})();
