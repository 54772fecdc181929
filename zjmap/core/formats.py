"""The kinds of file a planner can add, each naming its own extensions.

One registry (after glue's ``glue/core/data_factories``: each reader says
what it reads) that the file dialog, drag and drop, the "locate a moved
file" dialog and the reader (:mod:`zjmap.core.userfiles`, which registers
an opener per format with :func:`opener`) all read. Light on purpose: the
window imports it at start-up, long before geopandas is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class FileFormat:
    key: str
    label: str  # as the file dialog shows it
    extensions: tuple[str, ...]  # lower case, with the dot; the first is the format's own
    driver: str  # GDAL's driver name ("CSV": zjmap's own lon/lat table reader)
    folder: bool = False  # a folder, not a file (FileGDB)


FORMATS: tuple[FileFormat, ...] = (
    FileFormat("shapefile", "Shapefile", (".shp", ".zip"), "ESRI Shapefile"),
    FileFormat("gpkg", "GeoPackage", (".gpkg",), "GPKG"),
    FileFormat("geojson", "GeoJSON", (".geojson", ".json"), "GeoJSON"),
    FileFormat("kml", "KML", (".kml", ".kmz"), "KML"),
    FileFormat("flatgeobuf", "FlatGeobuf", (".fgb",), "FlatGeobuf"),
    FileFormat("csv", "CSV 经纬度表", (".csv", ".tsv", ".txt"), "CSV"),
    FileFormat("filegdb", "FileGDB", (".gdb",), "OpenFileGDB", folder=True),
)

#: The other files of a shapefile: picking or dropping one means its .shp.
SHAPEFILE_SIDECARS: tuple[str, ...] = (".dbf", ".shx", ".prj", ".cpg")
#: Sidecars the reader also recognises (spatial indexes, metadata).
SHAPEFILE_EXTRA_PARTS: tuple[str, ...] = (".sbn", ".sbx", ".qix", ".qmd")

#: What zjmap reads, in a sentence for messages.
SUPPORTED_TEXT = ("shapefile (.shp or .zip), GeoPackage, GeoJSON, KML, FlatGeobuf, FileGDB folder or CSV "
                  "with longitude/latitude columns")


def by_suffix(suffix: str) -> FileFormat | None:
    s = suffix.lower()
    return next((f for f in FORMATS if s in f.extensions), None)


def file_extensions() -> list[str]:
    """Every extension of a file (not folder) format, in registry order."""
    return [e for f in FORMATS if not f.folder for e in f.extensions]


def _patterns(exts: list[str] | tuple[str, ...]) -> str:
    return " ".join("*" + e for e in exts)


def map_data_filter() -> str:
    """"Map data (*.shp …)" for a file dialog: every format at once."""
    return f"地图数据 Map data ({_patterns(file_extensions())})"


def open_filter() -> str:
    """The file dialog's filter: all map data, then each format, then all files."""
    each = [f"{f.label} ({_patterns(f.extensions)})" for f in FORMATS if not f.folder]
    return ";;".join([map_data_filter(), *each, "所有文件 All files (*)"])


def drop_suffixes() -> set[str]:
    """What a drop onto the window accepts: every format and the shapefile sidecars."""
    return {e for f in FORMATS for e in f.extensions} | set(SHAPEFILE_SIDECARS)


def driver_by_suffix() -> dict[str, str]:
    return {e: f.driver for f in FORMATS if not f.folder for e in f.extensions if e != ".zip"}


# -- openers: the reader registers how it opens each format ---------------------

_OPENERS: dict[str, Callable[..., Any]] = {}


def opener(key: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: ``fn(path, display)`` opens files of format ``key``
    (formats without an opener go straight to GDAL with their driver)."""
    if all(f.key != key for f in FORMATS):
        raise KeyError(f"no file format {key!r}")

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        _OPENERS[key] = fn
        return fn

    return register


def opener_for(fmt: FileFormat) -> Callable[..., Any] | None:
    return _OPENERS.get(fmt.key)
