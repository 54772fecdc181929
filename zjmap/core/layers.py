"""The map's layers as one ordered stack: base boundaries, seed layers, user layers.

Every view (the Leaflet page, the layer tree, identify, export) reads this
stack; none keeps its own copy of which layers exist or which are visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable

from shapely.geometry.base import BaseGeometry

from zjmap.core.display import drawn_geometry
from zjmap.core.layermodel import About, DisplayState, Event, EventGroup, LabelRules, LayerSource, LayerTable
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


#: Properties whose setting fires ``layer.events.<name>`` (and the stack event beside it).
EVENTED = ("visible", "opacity", "style", "title_zh")
_STACK_EVENT = {"visible": "visibility", "opacity": "opacity", "style": "styled", "title_zh": "renamed"}


@dataclass(eq=False)
class MapLayer:
    """One layer: its features and typed parts (see :mod:`zjmap.core.layermodel`).

    Setting ``visible``, ``opacity``, ``style`` or ``title_zh`` fires
    ``layer.events.<name>`` with the new value (a changed style is applied
    to the styler first; an opacity is clamped to 0..1)."""

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
    source: LayerSource | None = None
    table: LayerTable = field(default_factory=LayerTable)
    labels: LabelRules = field(default_factory=LabelRules)
    about: About = field(default_factory=About)
    display: DisplayState = field(default_factory=DisplayState)

    #: ids of the features the layer's filter (``style["filter"]``) leaves out
    hidden: ClassVar[frozenset] = frozenset()
    hidden_rows: ClassVar[Any] = ()  # their positions in ``features``
    filter_error: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        self.restyle()
        object.__setattr__(self, "events", EventGroup(self, EVENTED))

    def __setattr__(self, name: str, value: Any) -> None:
        events = self.__dict__.get("events")
        if events is None or name not in EVENTED:  # during __init__, or not evented
            object.__setattr__(self, name, value)
            return
        if name == "opacity":
            value = max(0.0, min(1.0, float(value)))
        if name == "visible":
            value = bool(value)
        old = self.__dict__.get(name)
        object.__setattr__(self, name, value)
        if name == "style":
            self.restyle()
        elif old == value:
            return
        events.emitter(name)(value)

    # the callbacks of ``events`` (the stack's, the window's) are not data: not pickled
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("events", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        object.__setattr__(self, "events", EventGroup(self, EVENTED))

    def restyle(self) -> None:
        feats = self.features
        # a big layer's table answers per column (zjmap.core.featurerows), without a dict per feature
        props = feats if getattr(feats, "lazy", False) else [f.props for f in feats]
        self.styler = LayerStyler(self.style, self.geometry, props)
        from zjmap.core.layerfilter import hidden_rows

        self.hidden_rows, self.hidden, self.filter_error = hidden_rows(self)

    @property
    def title(self) -> str:
        return self.title_zh or self.title_en or self.id

    def legend(self) -> list[LegendRow]:
        return self.styler.legend()

    def feature_style(self, f: MapFeature) -> dict[str, Any]:
        if f.id in self.hidden:
            from zjmap.core.layerfilter import HIDDEN_STYLE

            return dict(HIDDEN_STYLE)
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

    def _on_layer_event(self, event: Event) -> None:
        """A held layer's property changed (by the stack or directly): tell the listeners."""
        self._emit(_STACK_EVENT[event.type], event.source.id)

    def __setstate__(self, state: dict[str, Any]) -> None:  # unpickled (the start-up cache)
        self.__dict__.update(state)
        for layer in self._layers:
            layer.events.connect(self._on_layer_event)

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

    def feature_name(self, feature_id: str) -> tuple[str, str] | None:
        """A feature's name and layer id, None for an unknown id; a big table's
        row is not made into a feature for it (FeatureRows.name)."""
        got = self._features.get(feature_id)
        if got is not None:
            return got.name, got.layer_id
        rows, k = self._lazy_row(feature_id)
        return (rows.name(k), rows.layer_id) if rows is not None else None

    def has_feature(self, feature_id: str) -> bool:
        return feature_id in self._features or self._lazy_row(feature_id)[0] is not None

    def _lazy_row(self, feature_id: str) -> tuple[Any, int]:
        layer_id = layer_of(feature_id)
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
        layer.events.connect(self._on_layer_event)
        self._emit("added", layer.id)

    def remove(self, layer_id: str) -> None:
        layer = self.layer(layer_id)
        self._layers.remove(layer)
        layer.events.disconnect(self._on_layer_event)
        if self._lazy.pop(layer_id, None) is None:
            for f in layer.features:
                self._features.pop(f.id, None)
        self._emit("removed", layer_id)

    def move(self, layer_id: str, index: int) -> None:
        layer = self.layer(layer_id)
        self._layers.remove(layer)
        self._layers.insert(max(0, min(index, len(self._layers))), layer)
        self._emit("moved", layer_id)

    # the layer's own events tell the listeners (see _on_layer_event)
    def set_visible(self, layer_id: str, visible: bool) -> None:
        self.layer(layer_id).visible = visible

    def set_opacity(self, layer_id: str, opacity: float) -> None:
        layer = self.layer(layer_id)
        if layer.opacity == max(0.0, min(1.0, float(opacity))):
            self._emit("opacity", layer_id)  # as before: said even when unchanged
        layer.opacity = opacity

    def rename(self, layer_id: str, title: str) -> None:
        layer = self.layer(layer_id)
        if layer.title_zh == title:
            self._emit("renamed", layer_id)
        layer.title_zh = title

    def set_style(self, layer_id: str, style: dict[str, Any]) -> None:
        self.layer(layer_id).style = dict(style)


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
