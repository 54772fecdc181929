"""The layers the app ships with, as a LayerStack: base boundaries, then seed layers.

Base layers are read from the display GeoJSON (already simplified for the
screen); seed layers from the built catalogue. Both are plain data files
under geodata/, described by geodata/base/layers.json and catalogue.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from shapely.geometry import shape

from zjmap.core.boundaries import display_geojson_path
from zjmap.core.catalogue import Catalogue, load_catalogue
from zjmap.core.layers import LayerStack, MapLayer, make_features
from zjmap.core.paths import geodata_dir


def base_layer_defs() -> list[dict]:
    path = geodata_dir() / "base" / "layers.json"
    return json.loads(path.read_text(encoding="utf-8"))["layers"]


def base_layer(defn: dict) -> MapLayer:
    data = json.loads(Path(display_geojson_path(defn["level"])).read_text(encoding="utf-8"))
    items = []
    for feat in data["features"]:
        props = dict(feat["properties"])
        props.setdefault("name", props.get("name_zh"))
        fid = f"{defn['id']}:{props.get('adcode') or props['name_zh']}"
        items.append((fid, props, shape(feat["geometry"])))
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
        info={
            "level": defn["level"],
            "labels_min_zoom": defn.get("label_min_zoom"),
            "label_skip": defn.get("label_skip", []),
        },
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
                info={
                    "seed": info.seed,
                    "description_zh": info.description_zh,
                    "description_en": info.description_en,
                    "note": info.note,
                    "labels_min_zoom": 9 if info.geometry == "point" else None,
                },
            )
        )
    return out


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
