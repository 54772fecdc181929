"""Builds the offline Leaflet page with folium.

folium writes the page skeleton (map, scale bar); its CDN defaults are
replaced by the Leaflet files of the `xstatic-leaflet` package, copied beside
the page, so the page loads with no network at all. Layer data goes into a
separate `layers.js` beside the page (pages over 2 MB cannot go through
`setHtml`, and a file URL has no such limit); `zjmap/web/zjmap.js` draws it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from zjmap.core import starttiles
from zjmap.core.look import look_js
from zjmap.core.paths import files_stamp, web_dir

if TYPE_CHECKING:
    from zjmap.core.layers import LayerStack, MapLayer

# Nothing at module level pulls in numpy, shapely or the layer model: the
# window starts loading the last run's page (build_page with `cached`) before
# they are imported (zjmap/qt/startup.py). The functions that serialise
# layers import them.

# Zhejiang's extent (W, S, E, N): the view the app opens on.
ZHEJIANG_BOUNDS = (118.0, 27.0, 123.2, 31.2)
CENTER = (29.15, 120.4)
CACHE_VERSION = 3  # bump when the page skeleton changes


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


def layer_stub(layer: MapLayer) -> str:
    """A hidden layer without its data: the page asks for nothing until it is shown."""
    from zjmap.core.bigdisplay import page_head

    head = {**page_head(layer), "visible": False, "labels": None, "data": None}
    return json.dumps(head, ensure_ascii=False, separators=(",", ":"))


def _label_points(layer: MapLayer) -> dict | None:
    """Name labels drawn as page elements (base and seed layers): where
    each goes and from which zoom."""
    from zjmap.core.labels import name_labels

    mz = layer.labels.min_zoom
    if mz is None:
        return None
    pts = [[name, round(lat, 4), round(lon, 4)] for name, lon, lat in name_labels(layer.features, layer.kind, layer.labels.skip)]
    return {"minZoom": mz, "points": pts, "priority": layer.labels.priority}


def renderer_of(layer: MapLayer) -> str:
    """Which page renderer draws the layer: "canvas" (the base map, user
    layers and any big layer) or "vector" (seed layers, as SVG)."""
    from zjmap.core.bigdisplay import is_big

    return "canvas" if layer.kind in ("user", "base") or is_big(layer) else "vector"


def layer_payload(layer: MapLayer, directory: Path | None = None) -> str:
    """A layer as the page needs it, as JSON text.

    The base map, user layers and any layer of `BIG_FEATURES` features or
    more go to the canvas renderer (zjmap/web/biglayer.js) as flat typed
    arrays in a file (in ``directory`` when given: see
    `BigDisplay.geometry_payload`): no vertex is projected in the page on a
    zoom. Seed layers (a few hundred features, hatch patterns, crisp SVG)
    go as GeoJSON with the style decided, its geometry JSON straight from
    GEOS (`shapely.to_geojson`, vectorised).
    """
    import shapely

    from zjmap.core.bigdisplay import big_payload, page_head

    if renderer_of(layer) == "canvas":
        spec = big_payload(layer, directory)
        if spec["big"]["labels"] is None:
            spec["labels"] = _label_points(layer)
        return json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    shapes = [f.geometry for f in layer.features]
    geoms = shapely.to_geojson(shapes) if shapes else []
    parts = []
    for f, g in zip(layer.features, geoms):
        props = json.dumps({"id": f.id, "name": f.name, "s": layer.feature_style(f)}, ensure_ascii=False, separators=(",", ":"))
        parts.append(f'{{"type":"Feature","id":{json.dumps(f.id, ensure_ascii=False)},"properties":{props},"geometry":{g}}}')
    head = {**page_head(layer), "labels": _label_points(layer)}
    head_json = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    coarse = coarse_outlines(shapes)
    coarse_json = "" if not coarse else ',"coarse":[' + ",".join(
        f'{{"upTo":{z},"geometries":[{",".join(g)}]}}' for z, g in coarse) + "]"
    return head_json[:-1] + coarse_json + ',"data":{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}}"


def coarse_outlines(shapes: list) -> list[tuple[int, list[str]]]:
    """The simplified copies of ``shapes`` the page may draw zoomed out
    (look.json's coarse_outlines): (zoom up to which a copy is drawn, its
    GeoJSON), by zoom, each simplified from ``shapes`` themselves; none
    where a copy saves too few vertices. A copy's tolerance is the rule's
    pixels at its zoom in degrees of latitude at the layer's highest
    latitude: no more than that share of a pixel anywhere on the layer."""
    import numpy as np
    import shapely

    from zjmap.core.bigdisplay import band_tolerance
    from zjmap.core.look import load_look

    rule = load_look()["coarse_outlines"]
    arr = np.asarray(shapes, dtype=object)
    if not len(arr):
        return []
    finer = int(shapely.get_num_coordinates(arr).sum())
    if finer < rule["min_vertices"]:
        return []
    bounds = shapely.total_bounds(arr)
    lat = max(abs(bounds[1]), abs(bounds[3]))
    kept = []
    for z in sorted((int(z) for z in rule["zooms"]), reverse=True):
        copy = shapely.simplify(arr, band_tolerance(z, lat, rule["pixels"]), preserve_topology=True)
        n = int(shapely.get_num_coordinates(copy).sum())
        if n <= (1 - rule["min_saved"]) * finer:
            kept.append((z, list(shapely.to_geojson(copy))))
            finer = n
    return kept[::-1]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zjmap"


def _scripts() -> list[str]:
    # zjmap.js first, then any extension scripts of zjmap/web (e.g. big-layer drawing)
    names = sorted(p.name for p in web_dir().glob("*.js"))
    names.sort(key=lambda n: n != "zjmap.js")
    return names


def _boot_element(bounds: Iterable[float]):
    """Hands the folium map to zjmap.js once folium has created it."""
    from branca.element import MacroElement
    from jinja2 import Template

    class Boot(MacroElement):
        _template = Template(
            """{% macro script(this, kwargs) %}
            ZJ.init({{ this._parent.get_name() }}, window.ZJ_LAYERS || [], {{ this.bounds }});
            {% endmacro %}"""
        )

    el = Boot()
    w, s, e, n = bounds
    el.bounds = json.dumps([[s, w], [n, e]])
    return el


def render_page_html(animate: bool, bounds: Iterable[float]) -> str:
    """The page skeleton, rendered by folium."""
    import folium  # slow to import (it pulls in pandas): only on a cache miss
    from branca.element import Element

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
    root.header.add_child(Element('<script src="look.js"></script>'), name="zjmap_look")  # geodata/look.json
    root.header.add_child(Element(f'<script src="{starttiles.SCRIPT}"></script>'), name="zjmap_start_view")
    for n, name in enumerate(_scripts()):
        root.header.add_child(Element(f'<script src="{name}"></script>'), name=f"zjmap_js_{n}")
    root.header.add_child(Element('<script src="layers.js"></script>'), name="zjmap_layers")
    m.add_child(_boot_element(bounds))
    return root.render()


def _folium_stamp() -> str:
    """Which folium renders the page: its package file's size and mtime (an
    upgrade changes them). importlib.metadata's version lookup costs ~40 ms
    of start-up, scanning every installed distribution."""
    spec = importlib.util.find_spec("folium")
    if spec is None or not spec.origin:
        return "?"
    try:
        st = os.stat(spec.origin)
    except OSError:
        return "?"
    return f"{spec.origin}:{st.st_size}:{st.st_mtime_ns}"


def page_html(animate: bool, bounds: Iterable[float]) -> str:
    """folium's page, cached on disk: it depends only on these arguments, the
    script list and the folium version, and rendering it costs most of a second."""
    bounds = [float(b) for b in bounds]
    key = hashlib.sha1(json.dumps([CACHE_VERSION, _folium_stamp(), animate, bounds, _scripts(), CENTER]).encode()).hexdigest()[:16]
    path = cache_dir() / f"page-{key}.html"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    html = render_page_html(animate, bounds)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs time
    return html


def build_page(
    out_dir: Path,
    stack: LayerStack | None,
    animate: bool = True,
    bounds: Iterable[float] = ZHEJIANG_BOUNDS,
    cached: Path | None = None,
    keep_start_tiles: bool = False,
) -> Path:
    """Writes index.html, layers.js (with the array files of the layers the
    canvas draws) and the assets into out_dir; returns the page.

    `cached`: a directory saved by `save_layers_cache` whose files are used
    as they are (and its start tiles, zjmap.core.starttiles); without it
    the layers are serialised from `stack`. `keep_start_tiles`: the page is
    the shipped start page and sends its start tiles to be kept.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    _copy_assets(out_dir)
    (out_dir / "look.js").write_text(look_js(), encoding="utf-8")
    tiles = starttiles.kept(cached)
    if cached is None:
        assert stack is not None
        write_layers_js(out_dir, [layer_payload(lyr, out_dir) if lyr.visible else layer_stub(lyr) for lyr in stack])
    else:
        for f in cached.iterdir():
            if f.suffix == ".bin" or (tiles and f.name == tiles["image"]):
                _link_or_copy(f, out_dir / f.name)
            elif f.name == "layers.js":
                shutil.copy2(f, out_dir / f.name)
    (out_dir / starttiles.SCRIPT).write_text(starttiles.view_script(tiles, keep_start_tiles), encoding="utf-8")
    page = out_dir / "index.html"
    page.write_text(page_html(animate, bounds), encoding="utf-8")
    return page


def _link_or_copy(src: Path, dst: Path) -> None:
    """A cached array file in a page's directory: linked (the start page's
    arrays are megabytes, copied on every start), else copied. Whatever
    writes a file of that name there later unlinks it first
    (BigDisplay._write_files): the cache is never written through it."""
    try:
        dst.unlink(missing_ok=True)
        os.symlink(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def shipped_layers_key() -> str:
    """Changes whenever anything that shapes the shipped layers' page data does:
    the geodata files and the code that styles and serialises them."""
    from zjmap.core.paths import geodata_dir

    g = geodata_dir()
    here = Path(__file__).resolve().parent
    files = sorted(
        [*g.glob("layers/*.geojson"), *g.glob("base/display_*.geojson"), g / "base" / "layers.json",
         g / "view.json", g / "catalogue.json"]
    ) + [here / n for n in ("mappage.py", "bigdisplay.py", "styling.py", "layers.py", "layermodel.py", "labels.py", "display.py", "shipped.py", "catalogue.py")]
    return files_stamp(files, str(CACHE_VERSION))


def shipped_layers_cache(key: str) -> Path | None:
    """The saved layers of the shipped stack for this key, if complete."""
    d = cache_dir() / f"layers-{key}"
    return d if (d / "layers.js").is_file() else None


def save_layers_cache(page_dir: Path, key: str) -> None:
    """Keep a page's layers.js and array files for the next start (written
    to a new directory, then renamed: a reader never sees half of it)."""
    target = cache_dir() / f"layers-{key}"
    if (target / "layers.js").is_file():
        return
    tmp = cache_dir() / f".layers-{key}.{os.getpid()}.tmp"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for f in [page_dir / "layers.js", *page_dir.glob("*.bin")]:
            shutil.copy2(f, tmp / f.name)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # a read-only cache only costs time
        return
    prune_stale_caches(key)


def prune_stale_caches(key: str) -> None:
    """Remove the cached start-up data of other versions of the shipped
    layers (each code or data change makes a new key; the old ones are dead)."""
    for p in cache_dir().glob("layers-*"):
        if p.name not in (f"layers-{key}",):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
    for p in cache_dir().glob("stack-*.pickle"):
        if p.name != f"stack-{key}.pickle":
            p.unlink(missing_ok=True)


def write_layers_js(out_dir: Path, payloads: list[str]) -> Path:
    path = out_dir / "layers.js"
    path.write_text("window.ZJ_LAYERS = [" + ",\n".join(payloads) + "];\n", encoding="utf-8")
    return path
