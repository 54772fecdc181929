"""The map's layers as one ordered stack: base boundaries, seed layers, user layers.

Every view (the Leaflet page, the layer tree, identify, export) reads this
stack; none keeps its own copy of which layers exist or which are visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from shapely.geometry.base import BaseGeometry

from zjmap.core.display import drawn_geometry
from zjmap.core.styling import LayerStyler, LegendRow


@dataclass(frozen=True)
class MapFeature:
    """One drawable, identifiable thing. `id` is unique across the whole stack."""

    id: str
    layer_id: str
    props: dict[str, Any]
    geometry: BaseGeometry  # as drawn (links are arcs), WGS-84

    @property
    def name(self) -> str:
        p = self.props
        return str(p.get("name_zh") or p.get("name") or p.get("name_en") or self.id)


@dataclass
class MapLayer:
    id: str
    title_zh: str
    title_en: str
    kind: str  # "base" | "seed" | "user"
    geometry: str  # "polygon" | "point" | "line" | "link" | "mixed"
    features: list[MapFeature]
    style: dict[str, Any] = field(default_factory=dict)
    group_zh: str = ""
    group_en: str = ""
    visible: bool = True
    opacity: float = 1.0
    info: dict[str, Any] = field(default_factory=dict)  # description, seed, note, source …

    def __post_init__(self) -> None:
        self.restyle()

    def restyle(self) -> None:
        feats = self.features
        # a big layer's table answers per column (zjmap.core.featurerows), without a dict per feature
        props = feats if getattr(feats, "lazy", False) else [f.props for f in feats]
        self.styler = LayerStyler(self.style, self.geometry, props)

    @property
    def title(self) -> str:
        return self.title_zh or self.title_en or self.id

    def legend(self) -> list[LegendRow]:
        return self.styler.legend()

    def feature_style(self, f: MapFeature) -> dict[str, Any]:
        return self.styler.feature_style(f.props)


Listener = Callable[[str, str], None]  # (event, layer_id)


class LayerStack:
    """Ordered layers, bottom first, with change notification for the views."""

    def __init__(self) -> None:
        self._layers: list[MapLayer] = []
        self._listeners: list[Listener] = []
        self._features: dict[str, MapFeature] = {}
        self._lazy: dict[str, Any] = {}  # layer id → its FeatureRows: ids resolved by row

    # -- observation -------------------------------------------------------
    def subscribe(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def _emit(self, event: str, layer_id: str) -> None:
        for fn in list(self._listeners):
            fn(event, layer_id)

    # -- queries -----------------------------------------------------------
    def __iter__(self):
        return iter(list(self._layers))

    def __len__(self) -> int:
        return len(self._layers)

    def __contains__(self, layer_id: str) -> bool:
        return any(layer.id == layer_id for layer in self._layers)

    def layer(self, layer_id: str) -> MapLayer:
        for layer in self._layers:
            if layer.id == layer_id:
                return layer
        raise KeyError(f"no layer '{layer_id}'")

    def feature(self, feature_id: str) -> MapFeature:
        got = self._features.get(feature_id)
        if got is not None:
            return got
        rows, k = self._lazy_row(feature_id)
        if rows is None:
            raise KeyError(feature_id)
        return rows[k]

    def has_feature(self, feature_id: str) -> bool:
        return feature_id in self._features or self._lazy_row(feature_id)[0] is not None

    def _lazy_row(self, feature_id: str) -> tuple[Any, int]:
        layer_id = feature_id.rpartition(":")[0]
        rows = self._lazy.get(layer_id)
        k = rows.row_of(feature_id) if rows is not None else None
        return (rows, k) if k is not None else (None, -1)

    def visible_layers(self) -> list[MapLayer]:
        return [layer for layer in self._layers if layer.visible]

    def ids(self) -> list[str]:
        return [layer.id for layer in self._layers]

    # -- changes -----------------------------------------------------------
    def add(self, layer: MapLayer, index: int | None = None) -> None:
        if layer.id in self:
            raise ValueError(f"a layer '{layer.id}' is already loaded")
        lazy = getattr(layer.features, "lazy", False)
        if lazy and layer.features.layer_id != layer.id:
            raise ValueError(f"the features of layer '{layer.id}' are named for '{layer.features.layer_id}'")
        clash = [] if lazy else [f.id for f in layer.features if f.id in self._features]
        if clash:
            raise ValueError(f"feature ids already in use: {clash[:3]}")
        if index is None:
            self._layers.append(layer)
        else:
            self._layers.insert(index, layer)
        if lazy:
            self._lazy[layer.id] = layer.features
        else:
            for f in layer.features:
                self._features[f.id] = f
        self._emit("added", layer.id)

    def remove(self, layer_id: str) -> None:
        layer = self.layer(layer_id)
        self._layers.remove(layer)
        if self._lazy.pop(layer_id, None) is None:
            for f in layer.features:
                self._features.pop(f.id, None)
        self._emit("removed", layer_id)

    def move(self, layer_id: str, index: int) -> None:
        layer = self.layer(layer_id)
        self._layers.remove(layer)
        self._layers.insert(max(0, min(index, len(self._layers))), layer)
        self._emit("moved", layer_id)

    def set_visible(self, layer_id: str, visible: bool) -> None:
        layer = self.layer(layer_id)
        if layer.visible != visible:
            layer.visible = visible
            self._emit("visibility", layer_id)

    def set_opacity(self, layer_id: str, opacity: float) -> None:
        layer = self.layer(layer_id)
        layer.opacity = max(0.0, min(1.0, float(opacity)))
        self._emit("opacity", layer_id)

    def rename(self, layer_id: str, title: str) -> None:
        layer = self.layer(layer_id)
        layer.title_zh = title
        self._emit("renamed", layer_id)

    def set_style(self, layer_id: str, style: dict[str, Any]) -> None:
        layer = self.layer(layer_id)
        layer.style = dict(style)
        layer.restyle()
        self._emit("styled", layer_id)


def feature_id(layer_id: str, key: object) -> str:
    """The stack-wide id of one feature: ``"<layer id>:<row or key>"``
    (user layers use the row number of their table). Built only here."""
    return f"{layer_id}:{key}"


def feature_ids(layer_id: str, n: int) -> list[str]:
    """The ids of rows 0..n-1 of a user layer's table."""
    prefix = feature_id(layer_id, "")
    return [prefix + str(i) for i in range(n)]


def layer_of(fid: str) -> str:
    """The layer id part of a feature id."""
    return fid.rpartition(":")[0]


def layer_geometries(layer: MapLayer) -> Any:
    """The layer's geometries as one numpy array (a big table's own array, not a copy)."""
    got = getattr(layer.features, "geoms", None)
    if got is not None:
        return got
    import numpy as np

    return np.array([f.geometry for f in layer.features], dtype=object)


def make_features(layer_id: str, kind: str, items: Iterable[tuple[str, dict, BaseGeometry]]) -> list[MapFeature]:
    return [MapFeature(fid, layer_id, props, drawn_geometry(geom, kind)) for fid, props, geom in items]
