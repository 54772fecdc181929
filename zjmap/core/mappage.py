"""Builds the offline Leaflet page with folium.

folium writes the page skeleton (map, scale bar); its CDN defaults are
replaced by the Leaflet files of the `xstatic-leaflet` package, copied beside
the page, so the page loads with no network at all. Layer data goes into a
separate `layers.js` beside the page (pages over 2 MB cannot go through
`setHtml`, and a file URL has no such limit); `zjmap/web/zjmap.js` draws it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterable

import folium
from branca.element import Element, MacroElement
from jinja2 import Template

from zjmap.core.display import to_geojson_geometry
from zjmap.core.layers import LayerStack, MapLayer
from zjmap.core.paths import web_dir

# Zhejiang's extent (W, S, E, N): the view the app opens on.
ZHEJIANG_BOUNDS = (118.0, 27.0, 123.2, 31.2)
CENTER = (29.15, 120.4)


def leaflet_dir() -> Path:
    import xstatic.pkg.leaflet as xl

    return Path(xl.BASE_DIR)


def _copy_assets(out_dir: Path) -> None:
    lib = out_dir / "lib"
    if not (lib / "leaflet.js").exists():
        lib.mkdir(parents=True, exist_ok=True)
        src = leaflet_dir()
        for name in ("leaflet.js", "leaflet.css"):
            shutil.copy2(src / name, lib / name)
        shutil.copytree(src / "images", lib / "images", dirs_exist_ok=True)
    for p in web_dir().iterdir():
        if p.suffix in (".js", ".css"):
            shutil.copy2(p, out_dir / p.name)


class _Boot(MacroElement):
    """Hands the folium map to zjmap.js once folium has created it."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        ZJ.init({{ this._parent.get_name() }}, window.ZJ_LAYERS || [], {{ this.bounds }});
        {% endmacro %}"""
    )

    def __init__(self, bounds: Iterable[float]):
        super().__init__()
        w, s, e, n = bounds
        self.bounds = json.dumps([[s, w], [n, e]])


def layer_payload(layer: MapLayer, decimals: int = 5) -> dict[str, Any]:
    """A layer as the page needs it: GeoJSON with the style already decided."""
    feats = []
    for f in layer.features:
        feats.append(
            {
                "type": "Feature",
                "id": f.id,
                "properties": {"id": f.id, "name": f.name, "s": layer.feature_style(f)},
                "geometry": to_geojson_geometry(f.geometry, decimals),
            }
        )
    labels = None
    skip = set(layer.info.get("label_skip") or ())
    if layer.kind == "base" and layer.info.get("labels_min_zoom") is not None:
        labels = {
            "minZoom": layer.info["labels_min_zoom"],
            "points": [
                [f.name, round(f.props["label_lat"], 4), round(f.props["label_lon"], 4)]
                for f in layer.features
                if "label_lon" in f.props and f.name not in skip
            ],
        }
    elif layer.info.get("labels_min_zoom") is not None:
        pts = []
        for f in layer.features:
            rp = f.geometry.representative_point() if not f.geometry.is_empty else None
            if rp is not None:
                pts.append([f.name, round(rp.y, 4), round(rp.x, 4)])
        labels = {"minZoom": layer.info["labels_min_zoom"], "points": pts}
    return {
        "id": layer.id,
        "kind": layer.kind,
        "geometry": layer.geometry,
        "visible": layer.visible,
        "opacity": layer.opacity,
        "interactive": layer.kind != "base",
        "labels": labels,
        "data": {"type": "FeatureCollection", "features": feats},
    }


def build_page(out_dir: Path, stack: LayerStack, animate: bool = True, bounds: Iterable[float] = ZHEJIANG_BOUNDS) -> Path:
    """Writes index.html, layers.js and the assets into out_dir; returns the page."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _copy_assets(out_dir)

    m = folium.Map(
        location=CENTER,
        zoom_start=7,
        tiles=None,
        control_scale=True,
        zoom_control=True,
        zoomAnimation=animate,
        fadeAnimation=animate,
        markerZoomAnimation=animate,
        minZoom=5,
        maxZoom=16,
    )
    # Offline: only the local Leaflet, none of folium's CDN extras.
    m.default_js = [("leaflet", "lib/leaflet.js")]
    m.default_css = [("leaflet_css", "lib/leaflet.css")]
    root = m.get_root()
    root.header.add_child(Element('<link rel="stylesheet" href="zjmap.css"/>'), name="zjmap_css")
    root.header.add_child(Element('<script src="qrc:///qtwebchannel/qwebchannel.js"></script>'), name="qwebchannel")
    # zjmap.js first, then any extension scripts of zjmap/web (e.g. big-layer drawing)
    scripts = sorted(p.name for p in web_dir().glob("*.js"))
    scripts.sort(key=lambda n: n != "zjmap.js")
    for n, name in enumerate(scripts):
        root.header.add_child(Element(f'<script src="{name}"></script>'), name=f"zjmap_js_{n}")
    root.header.add_child(Element('<script src="layers.js"></script>'), name="zjmap_layers")
    m.add_child(_Boot(bounds))

    write_layers_js(out_dir, [layer_payload(layer) for layer in stack])
    page = out_dir / "index.html"
    page.write_text(root.render(), encoding="utf-8")
    return page


def write_layers_js(out_dir: Path, payloads: list[dict[str, Any]]) -> Path:
    path = out_dir / "layers.js"
    path.write_text(
        "window.ZJ_LAYERS = " + json.dumps(payloads, ensure_ascii=False, separators=(",", ":")) + ";\n",
        encoding="utf-8",
    )
    return path
