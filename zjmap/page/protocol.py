"""The one contract between Python and the map page (``zjmap/web/*.js``).

Every command the page accepts (a ``ZJ.<name>`` function) and every event it
sends back (a slot of :class:`zjmap.qt.bridge.Bridge`, called through the
QWebChannel) is named here with its arguments. Python builds page calls only
with :func:`js_call`, which refuses a name this module does not know;
``tests/test_protocol.py`` reads the page scripts and fails when a command
listed here is not defined there, or the page defines one nothing sends.

Qt-free: it only builds JavaScript text, so the exporter, the CLI and the
tests can use it without a display.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: What the shapes below hold (the payloads' fields, as the page reads them).
SHAPES: dict[str, str] = {
    "LayerSpec": (
        '{"id", "kind": "base"|"seed"|"user", "geometry": "polygon"|"line"|"point", "visible", "opacity", '
        '"interactive", "renderer"?: name, "labels": LabelPoints|null, and either "data": GeoJSON '
        'FeatureCollection (vector renderer; each feature\'s properties.s is its style) or "big": '
        '{"geometry", "style", "labels"} flat arrays (canvas renderer, zjmap/core/bigdisplay.py)} '
        "- built by zjmap.core.mappage.layer_payload / layer_stub"
    ),
    "ChunkSpec": (
        '{"id", "kind", "geometry", "opacity", "big": {"style", "chunk"}}: "chunk" is one read chunk\'s '
        'full-resolution arrays, laid out as a canvas layer\'s "geometry" - built by '
        "zjmap.core.displaychunks.chunk_spec"
    ),
    "LabelPoints": '{"minZoom", "points": [[name, lat, lon], ...], "priority"}',
    "StartTiles": (
        '{"fp" (what the tiles were drawn from), "z", "r" (pixel ratio), "x0", "y0" (the first tile\'s column, row), '
        '"cols", "rows", "cells": one of "t" (in the image), "e" (empty), "-" (not drawn) per tile, row by row} as '
        "JSON text - zjmap/web/starttiles.js; kept with \"image\" and \"stamp\" as window.ZJ_START_VIEW.tiles"
    ),
    "FeatureCollection": "GeoJSON FeatureCollection in EPSG:4326 (a feature's properties.role may be \"place\")",
    "View": '{"w", "s", "e", "n", "zoom", "lat", "lon", "width", "height"} as JSON text (CSS pixels)',
    "TileCheck": (
        '{"pixels", "painted" (not transparent), "mean": [r, g, b, a] of those, "differ", "more" (by more than '
        '"shade" levels), "edge" (of those, beside a tile edge), "worst" (premultiplied), "at": [x, y], "zoom", '
        '"tile", "nx", "ny"} as JSON text, or null'
    ),
    "ScreenPoint": '{"x", "y"} as JSON text, CSS pixels in the map view',
    "BigStats": '{"draws", "drawn", "lastMs", "loaded", "error", "key", "sets", "set", "shared", "features", '
                '"pieces" (chunks drawn while the file is read), "firstDrawAgo" (ms), "tiles": {"rendered", '
                '"reused", "lastRendered", "lastReused"} (tiles.js), ...} '
                "as JSON text, or null",
}


@dataclass(frozen=True)
class Message:
    """A command (Python → page) or an event (page → Python)."""

    name: str
    args: tuple[tuple[str, str], ...] = ()  # (name, shape or type)
    returns: str = "true"
    doc: str = ""
    probe: bool = False  # read by tests and benchmarks, not by the app


def _m(name: str, args: str = "", returns: str = "true", doc: str = "", probe: bool = False) -> Message:
    pairs = [a.split(":", 1) for a in args.split(";") if a]
    return Message(name, tuple((n.strip(), t.strip()) for n, t in pairs), returns, doc, probe)


#: Python → page: ``ZJ.<name>(args…)``.
COMMANDS: dict[str, Message] = {m.name: m for m in (
    _m("init", "map:L.Map;layers:LayerSpec[];startBounds:[[s,w],[n,e]]",
       doc="Sent by the page skeleton itself (zjmap.core.mappage), once Leaflet made the map."),
    _m("addLayer", "spec:LayerSpec;index:int|null", doc="Add (or replace) a layer at a place in the stack, bottom first."),
    _m("addChunk", "spec:ChunkSpec;index:int|null",
       doc="One more chunk of a big file being read, drawn with those before it until addLayer brings the layer."),
    _m("fillLayer", "spec:LayerSpec", doc="The data of a layer that started as a stub, at the stub's place."),
    _m("removeLayer", "id:str"),
    _m("setVisible", "id:str;visible:bool", returns="false when the page has no data for it yet"),
    _m("setOpacity", "id:str;opacity:float"),
    _m("setOrder", "ids:str[]", doc="The whole stack, bottom first."),
    _m("select", "selection:FeatureCollection;zoomTo:bool", doc="Highlight what Python selected."),
    _m("hover", "text:str|null;lat:float;lon:float", doc="Tooltip naming the feature under the cursor; null hides it."),
    _m("fitBounds", "w:float;s:float;e:float;n:float;maxZoom:int"),
    _m("setView", "lat:float;lon:float;zoom:float", doc="Centre and zoom at once, no animation."),
    _m("started", doc="Python took pageReady: the page stops fitting the start bounds to each new size."),
    _m("view", returns="View", doc="The view now (the exporter draws exactly it)."),
    _m("toScreen", "lon:float;lat:float", returns="ScreenPoint", probe=True),
    _m("isShown", "id:str", returns="bool", probe=True),
    _m("bigStats", "id:str", returns="BigStats", probe=True),
    _m("bigCheck", "id:str", returns="TileCheck", probe=True,
       doc="The canvas a big layer is on against the same view drawn whole, without tiles."),
    _m("benchStep", "what:'pan'|'zoom';arg:[dx,dy]|zoom", returns="float (ms); ZJ.benchResult later", probe=True),
)}

#: Page → Python: ``bridge.<name>(args…)`` (slots of zjmap.qt.bridge.Bridge).
EVENTS: dict[str, Message] = {m.name: m for m in (
    _m("pageReady", "width:int;height:int",
       doc="The start-up layers are drawn (after their array files were read) and two frames ran, at this size "
           "(CSS pixels): Python takes it once the size is the view's (a page loaded before its window was "
           "laid out says it again after fitting the start view to the new size)."),
    _m("mapClicked", "lon:float;lat:float;zoom:float", doc="Python hit-tests it (zjmap.core.identify)."),
    _m("mouseMoved", "lon:float;lat:float", doc="At most every 40 ms."),
    _m("viewChanged", "w:float;s:float;e:float;n:float;zoom:float", doc="After every pan or zoom (moveend)."),
    _m("startTiles", "meta:StartTiles;png:str",
       doc="The shipped start page, idle after a start not all drawn from kept tiles: the base map's tiles of the "
           "start view as one PNG (base64), kept for the next start (zjmap.core.starttiles)."),
)}

#: Page → page: how a renderer script (biglayer.js) joins zjmap.js. Not a command.
PAGE_HOOKS: dict[str, str] = {
    "defineRenderer": "ZJ.defineRenderer(name, factory): factory(helpers) → {build, setOpacity, realise?, restacked?}",
    "whenStarted": "ZJ.whenStarted(fn): fn once Python has taken the page (started), for work that can wait (finer sets, tiles ahead)",
    "isStarted": "ZJ.isStarted(): whether Python has taken the page",
}


class Raw(str):
    """JSON text already encoded (a layer payload of many MB is encoded once, by the caller)."""


def js_arg(value: Any) -> str:
    return value if isinstance(value, Raw) else json.dumps(value, ensure_ascii=False)


def js_call(name: str, *args: Any) -> str:
    """``ZJ.<name>(…)`` as JavaScript text, for a command this module names."""
    cmd = COMMANDS.get(name)
    if cmd is None:
        raise ValueError(f"the map page has no command {name!r}")
    if len(args) > len(cmd.args):
        raise TypeError(f"ZJ.{name} takes {len(cmd.args)} arguments, not {len(args)}")
    return f"ZJ.{name}({', '.join(js_arg(a) for a in args)})"


def parse_view(text: Any) -> dict[str, Any] | None:
    """The answer of ``view``: a dict with at least w/s/e/n/width/height, else None."""
    try:
        v = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return None
    return v if isinstance(v, dict) and "w" in v else None
