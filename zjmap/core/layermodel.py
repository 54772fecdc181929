"""What a layer is made of, as typed parts, and how it says it changed.

A :class:`~zjmap.core.layers.MapLayer` holds its features plus these parts:

* ``source`` — where its features came from: :class:`ShippedSource` (the
  base map and seed layers of geodata/) or :class:`ReadSource` (a planner's
  file, database table or web feature service, read by
  :func:`zjmap.core.userfiles.read_layer`). A new kind of layer (a table
  join, tiles, a raster) adds its own source class with a ``kind``.
* ``table`` — its attribute table (:class:`LayerTable`).
* ``labels`` — when and how its names are drawn (:class:`LabelRules`).
* ``about`` — what the layer tree and the panel say about it (:class:`About`).
* ``display`` — the page's drawing state (:class:`DisplayState`: the flat
  arrays of the canvas renderer).

A layer's ``events`` (after napari's ``layer.events``) fire when one of its
properties is set: ``layer.events.opacity.connect(fn)``; ``fn`` gets an
:class:`Event`. :class:`~zjmap.core.layers.LayerStack` listens to every
layer it holds and tells its own listeners (the window) as before.

Hand-written because psygnal/napari's ``EmitterGroup`` would be a new
dependency (and a Qt-free core cannot use Qt signals) for ~40 lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Event:
    type: str  # the property: "visible", "opacity", "style", "title_zh", "display"
    source: Any  # the layer
    value: Any  # the new value


class Emitter:
    """One event type of one layer: connect callbacks, call it to emit."""

    def __init__(self, owner: Any, name: str):
        self.owner = owner
        self.name = name
        self._callbacks: list[Callable[[Event], Any]] = []

    def connect(self, fn: Callable[[Event], Any]) -> Callable[[Event], Any]:
        if fn not in self._callbacks:
            self._callbacks.append(fn)
        return fn

    def disconnect(self, fn: Callable[[Event], Any]) -> None:
        if fn in self._callbacks:
            self._callbacks.remove(fn)

    def __call__(self, value: Any) -> None:
        ev = Event(self.name, self.owner, value)
        for fn in list(self._callbacks):
            fn(ev)


class EventGroup:
    """``group.<name>`` is an :class:`Emitter`; ``group.connect(fn)`` hears them all."""

    def __init__(self, owner: Any, names: tuple[str, ...]):
        self.names = names
        for n in names:
            setattr(self, n, Emitter(owner, n))

    def emitter(self, name: str) -> Emitter:
        return getattr(self, name)

    def connect(self, fn: Callable[[Event], Any]) -> None:
        for n in self.names:
            self.emitter(n).connect(fn)

    def disconnect(self, fn: Callable[[Event], Any]) -> None:
        for n in self.names:
            self.emitter(n).disconnect(fn)


# ---------------------------------------------------------------------------
# Sources


@dataclass
class ShippedSource:
    """A layer of geodata/: a base-map level or a seed layer."""

    seed: str = ""  # the seed document its features are quoted from (seed layers)
    level: str = ""  # "province" | "prefecture" | "county" (base layers)

    @property
    def kind(self) -> str:
        return "shipped"


@dataclass
class ReadSource:
    """A planner's layer read by ``read_layer``: how it was asked for and how it came out."""

    path: str  # a file path, or a postgresql:// / OAPIF: source text
    layer: str | None = None  # the layer read (its name in the file)
    layer_arg: str | int | None = None  # the layer as asked for (None: the file's only/first one)
    encoding_override: str | None = None
    crs_override: str | None = None
    driver: str | None = None
    crs: str | None = None
    crs_guessed: bool = False
    crs_reason: str | None = None
    encoding: str | None = None
    encoding_reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    repaired: int = 0
    skipped: int = 0

    @property
    def kind(self) -> str:
        """"file", "database" (PostGIS) or "web" (OGC API Features)."""
        from zjmap.core.pgsource import is_pg, is_remote

        if is_pg(self.path):
            return "database"
        return "web" if is_remote(self.path) else "file"


@dataclass
class TableSource(ReadSource):
    """A statistics table joined to the base's units (:mod:`zjmap.core.joinlayer`):
    ``path`` is the table's; ``join`` the saved JoinSpec (sheet, header row, key,
    level, manual picks) a workspace rebuilds it from; the rest is what the
    panel shows beside a unit's row."""

    join: dict[str, Any] = field(default_factory=dict)
    sheet: str | None = None
    source_label: str = ""  # "file.xlsx · sheet"
    header_row: int = 0
    key: str = ""
    level: str = ""
    columns: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # adcode -> how its row matched (changed, picked)
    keys: dict[str, str] = field(default_factory=dict)  # adcode -> the key as the table wrote it
    summary: dict[str, Any] = field(default_factory=dict)


LayerSource = ShippedSource | ReadSource


# ---------------------------------------------------------------------------
# The other parts


@dataclass
class LayerTable:
    """The attribute table of a planner's layer (None for shipped layers,
    whose attributes live on their features)."""

    gdf: Any = None  # geopandas.GeoDataFrame, EPSG:4326
    name_field: str | None = None  # the column that names a feature

    @property
    def attributes(self) -> Any:
        """A pandas frame whose columns are the attributes: a deferred table's
        ``attrs`` (no geometry made: zjmap.core.layercache.DeferredTable), else the GeoDataFrame."""
        attrs = getattr(self, "attrs", None)
        return attrs if attrs is not None else self.gdf

    @property
    def columns(self) -> list[str]:
        """The attribute columns (no geometry), without making a deferred table's GeoDataFrame."""
        attrs = getattr(self, "attrs", None)
        if attrs is not None:
            return [str(c) for c in attrs.columns]
        gdf = self.gdf
        return [] if gdf is None else [str(c) for c in gdf.columns if c != gdf.geometry.name]


@dataclass
class LabelRules:
    min_zoom: float | None = None  # labels from this zoom on; None: no page labels
    priority: int = 0  # when labels would overlap, the higher keeps its place
    skip: frozenset[str] = frozenset()  # names not labelled (drawn by another layer)


@dataclass
class About:
    description_zh: str = ""
    description_en: str = ""
    note: str = ""


@dataclass
class DisplayState:
    """How the canvas renderer draws the layer (zjmap.core.bigdisplay)."""

    arrays: Any = None  # BigDisplay, built on first need
    bands_pending: bool = False  # the simplified zoom bands are still to be added
    options: dict[str, Any] | None = None  # BigDisplay.build options (base map: geodata/base/layers.json)
