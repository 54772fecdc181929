"""What reading a planner's file gives back, and how it fails.

The result and error types of :mod:`zjmap.core.userfiles` (re-exported
there), in their own module so that the readers, the shapefile checks and
the CRS guessing raise and return the same types without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
from pyproj import CRS

from zjmap.core.pointcolumn import FrameSlot, frame_len


if TYPE_CHECKING:  # a layer's shapefile parts; no import cycle at run time
    from zjmap.core.shapefile_parts import _ShpParts


#: Features per chunk when reading shapefiles/GeoPackages (and per cleaning
#: step for formats read in one go). ~0.1 s of work for small polygons.
CHUNK_FEATURES = 20_000

WGS84 = CRS.from_epsg(4326)


ProgressFn = Callable[[float, str], Any]
CancelFn = Callable[[], bool]


class UserFileError(Exception):
    """A file zjmap cannot read; ``str(exc)`` is one plain sentence (or two).

    ``kind`` says what is wrong, so a caller decides on it rather than on the
    words (the window offers to choose the encoding or coordinate system by
    hand for the kinds in :data:`OVERRIDABLE_KINDS`): one of :data:`KINDS`."""

    def __init__(self, message: str, kind: str = "unreadable"):
        super().__init__(message)
        if kind not in KINDS:
            raise ValueError(f"unknown kind of file problem {kind!r}")
        self.kind = kind


#: What can be wrong with a planner's file.
KINDS = {
    "encoding": "the attribute text is not in the encoding used (or named)",
    "crs": "the coordinate system is missing, unreadable or does not fit the coordinates",
    "missing": "the file, or a part of it (.shx, .dbf, the .shp of a sidecar), is not there",
    "damaged": "the file is cut short, empty or corrupt",
    "not_map_data": "the file is not a kind zjmap reads, or holds no shapes",
    "empty": "the file holds no features",
    "no_layer": "the named layer is not in the file",
    "access": "the operating system refused to read it",
    "server": "a database or web service is down, refused the login or failed the query",
    "unreadable": "anything else",
}
#: Kinds a planner may fix by choosing the encoding or coordinate system by hand.
OVERRIDABLE_KINDS = frozenset({"encoding", "crs"})


class LoadCancelled(Exception):
    """The ``cancel`` callable returned True; nothing was loaded."""


@dataclass(frozen=True)
class LayerInfo:
    name: str
    features: int | None  # None if the driver cannot count without reading
    geometry_type: str | None  # GDAL's name ("Polygon", "Point Z", ...); None: plain table
    crs: str | None  # "EPSG:4549", a CRS name, or None if the file has none
    problem: str | None = None  # why this layer cannot be loaded, if it cannot
    problem_kind: str | None = None  # UserFileError.kind of ``problem``

    def to_dict(self) -> dict[str, Any]:
        d = {
            "name": self.name,
            "features": self.features,
            "geometry_type": self.geometry_type,
            "crs": self.crs,
        }
        if self.problem:
            d["problem"] = self.problem
        return d


@dataclass(frozen=True)
class SourceInfo:
    path: str
    driver: str  # GDAL driver name ("ESRI Shapefile", "GPKG", ...) or "CSV"
    container: str | None  # "zip" for a zipped set of shapefiles, else None
    layers: tuple[LayerInfo, ...]
    notes: tuple[str, ...] = ()

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "driver": self.driver,
            "container": self.container,
            "layers": [layer.to_dict() for layer in self.layers],
            "notes": list(self.notes),
        }


@dataclass
class LoadedLayer:
    name: str
    # EPSG:4326, non-empty 2D geometries only; a point layer holds a PointFrame
    # (coordinates) and makes the GeoDataFrame when this is first read
    gdf: gpd.GeoDataFrame = FrameSlot()  # type: ignore[assignment]
    driver: str
    source_crs: str  # "EPSG:4549" (or a CRS name if it has no code)
    crs_guessed: bool
    crs_guess_reason: str | None
    encoding: str | None
    encoding_reason: str | None
    repaired: int
    skipped: int
    geometry_types: list[str]
    fields: dict[str, str]
    bounds_wgs84: tuple[float, float, float, float] | None  # None: the layer is empty
    warnings: list[str] = field(default_factory=list)

    @property
    def features(self) -> int:
        return frame_len(LoadedLayer.__dict__["gdf"].raw(self))

    @property
    def held(self) -> Any:
        """The GeoDataFrame or PointFrame as read, without making anything."""
        return LoadedLayer.__dict__["gdf"].raw(self)


# ---------------------------------------------------------------------------
# Progress / cancel


class _Run:
    def __init__(self, progress: ProgressFn | None, cancel: CancelFn | None):
        self._progress = progress
        self._cancel = cancel

    def report(self, fraction: float, message: str) -> None:
        if self._progress is not None:
            self._progress(max(0.0, min(1.0, float(fraction))), message)

    def check_cancel(self) -> None:
        if self._cancel is not None and self._cancel():
            raise LoadCancelled("Loading was cancelled.")


@dataclass
class _Layer:
    name: str
    display: str  # for messages: "roads.shp", "layer 'x' of plan.gpkg"
    driver: str
    gdal_path: str
    gdal_layer: str | None = None
    shp: _ShpParts | None = None
    file: Path | None = None
    notes: list[str] = field(default_factory=list)  # said about the file itself (e.g. a rebuilt .shx)


@dataclass
class _Source:
    path: Path
    display: str
    driver: str
    container: str | None
    layers: list[_Layer]


def _vanished(display: str) -> UserFileError:
    return UserFileError(
        f"{display} disappeared while zjmap was reading it (was it moved, deleted, or on a "
        "disconnected drive?).", kind="missing"
    )


def _layer_gone(lay: _Layer) -> bool:
    if lay.shp is not None:
        return lay.shp.gone()
    return lay.file is not None and not lay.file.exists()


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = text.split("; It might help")[0].rstrip(". ")  # drop GDAL's driver-prefix tip
    return f" (GDAL: {text[:200]})" if text else ""


def _kind(driver: str) -> str:
    return {
        "GPKG": "GeoPackage",
        "LIBKML": "KML",
        "OpenFileGDB": "FileGDB",
        "ESRI Shapefile": "Shapefile",
    }.get(driver, driver)
