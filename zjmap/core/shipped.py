"""The layers the app ships with, as a LayerStack: base boundaries, then seed layers.

Base layers are read from the display GeoJSON (already simplified for the
screen); seed layers from the built catalogue. Both are plain data files
under geodata/, described by geodata/base/layers.json and catalogue.json.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import shapely

from zjmap.core.catalogue import Catalogue, load_catalogue
from zjmap.core.layermodel import About, DisplayState, LabelRules, ShippedSource
from zjmap.core.layers import LayerStack, MapLayer, feature_id, make_features
from zjmap.core.paths import geodata_dir


def base_layer_defs() -> list[dict]:
    path = geodata_dir() / "base" / "layers.json"
    return json.loads(path.read_text(encoding="utf-8"))["layers"]


def base_layer(defn: dict) -> MapLayer:
    # the display file named like boundaries.display_geojson_path(), without
    # importing geopandas (slow) on the start-up path
    name = defn.get("file") or f"display_{defn['level']}.geojson"
    text = (geodata_dir() / "base" / name).read_text(encoding="utf-8")
    data = json.loads(text)
    want = defn.get("filter") or {}
    items = []
    for feat, geom in zip(data["features"], shapely.from_geojson(text).geoms):
        if any(feat["properties"].get(k) != v for k, v in want.items()):
            continue
        props = dict(feat["properties"])
        props.setdefault("name", props.get("name_zh"))
        fid = feature_id(defn["id"], props.get("adcode") or props["name_zh"])
        items.append((fid, props, geom))
    return MapLayer(
        id=defn["id"],
        title_zh=defn["title_zh"],
        title_en=defn["title_en"],
        kind="base",
        geometry="polygon",
        features=make_features(defn["id"], "polygon", items),
        style=defn["style"],
        group_zh="底图",
        group_en="Base map",
        source=ShippedSource(level=defn["level"]),
        labels=LabelRules(defn.get("label_min_zoom"), defn.get("label_priority", 0), frozenset(defn.get("label_skip", []))),
        display=DisplayState(options=defn.get("display")),
    )


def seed_layers(cat: Catalogue) -> list[MapLayer]:
    out = []
    for info in cat.layers:
        feats = cat.layer_features(info.id)
        items = [(f.id, dict(f.props), f.geometry) for f in feats]
        out.append(
            MapLayer(
                id=info.id,
                title_zh=info.title_zh,
                title_en=info.title_en,
                kind="seed",
                geometry=info.geometry,
                features=make_features(info.id, info.geometry, items),
                style=dict(info.style or {}),
                group_zh=info.group_zh,
                group_en=info.group_en,
                source=ShippedSource(seed=info.seed),
                about=About(info.description_zh, info.description_en, info.note),
                # seed-layer names before any base name when labels would overlap
                labels=LabelRules(9 if info.geometry == "point" else None, priority=100),
            )
        )
    return out


def load_shipped(use_cache: bool = True) -> tuple[Catalogue, LayerStack]:
    """The catalogue and the shipped stack, from a pickle of the last start when
    none of their inputs changed (25 ms instead of ~0.6 s of JSON and GEOS parsing)."""
    from zjmap.core.mappage import cache_dir, shipped_layers_key

    path = cache_dir() / f"stack-{shipped_layers_key()}.pickle"
    if use_cache:
        try:
            with open(path, "rb") as fh:
                cat, stack = pickle.load(fh)
            if isinstance(cat, Catalogue) and isinstance(stack, LayerStack):
                return cat, stack
        except Exception:  # noqa: BLE001 - any unreadable cache is simply rebuilt
            pass
    cat = load_catalogue()
    stack = shipped_stack(cat)
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                pickle.dump((cat, stack), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError:
            pass
    return cat, stack


def view_settings() -> dict:
    return json.loads((geodata_dir() / "view.json").read_text(encoding="utf-8"))


def shipped_stack(cat: Catalogue | None = None, all_visible: bool = False) -> LayerStack:
    """Base layers at the bottom, then seed layers: areas under lines under points."""
    view = view_settings()
    kinds = view.get("draw_order", [])
    stack = LayerStack()
    for defn in base_layer_defs():
        stack.add(base_layer(defn))
    layers = seed_layers(cat or load_catalogue())
    layers.sort(key=lambda lyr: kinds.index(lyr.geometry) if lyr.geometry in kinds else len(kinds))
    start = set(view.get("visible_on_start", []))
    for layer in layers:
        layer.visible = all_visible or layer.id in start
        stack.add(layer)
    return stack
