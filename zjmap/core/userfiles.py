"""Reading a planner's own files: shapefiles (loose or zipped), GeoPackage,
GeoJSON, KML, FlatGeobuf, FileGDB folders and CSV tables with lon/lat columns.

Two calls, both safe to run on a worker thread (no Qt, no global state):

``open_source(path) -> SourceInfo``
    what is in the file: driver and layers with feature counts.
``read_layer(path, layer=None, encoding=None, crs=None, progress=None,
cancel=None) -> LoadedLayer``
    one layer as a GeoDataFrame in EPSG:4326 plus everything the UI should
    tell the planner about how it was read (CRS source, encoding, repairs).

All bad input raises :class:`UserFileError` with a plain-English sentence
naming the file (GDAL's own words, if any, only in parentheses at the end).
A cancelled load raises :class:`LoadCancelled`.

What zjmap decides itself rather than leaving to GDAL, and why:

* shapefile sidecars, truncation and "text file named .shp" are checked from
  the bytes first, because GDAL either fails with a cryptic message or (for a
  missing .dbf or a garbage .prj) silently carries on;
* the attribute encoding (see :mod:`zjmap.core.dbf`) is passed to pyogrio
  explicitly: pyogrio's own guess for a GBK shapefile without ``.cpg`` is
  ISO-8859-1, i.e. mojibake;
* the ``.prj`` is parsed with pyproj, because GDAL ignores one it cannot
  parse and the data would come out with no CRS;
* without a CRS (or with one the coordinates plainly do not fit) the CRS is
  guessed from the coordinates: degrees, Gauss–Krüger zone-prefixed metres,
  or Gauss–Krüger metres around 120°E (see :func:`guess_crs`).

Shapefiles and GeoPackages (cheap to reopen, fast random access) are read in
chunks with pyogrio's ``skip_features``/``max_features`` so ``progress``
moves and ``cancel`` is honoured between chunks; other formats are read in
one call and then cleaned and reprojected chunk by chunk.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import math
import os
import re
import warnings as _warnings
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError, GeometryError
from pyproj import CRS, Transformer
from pyproj.enums import TransformDirection
from pyproj.exceptions import CRSError, ProjError

from zjmap.core import csvarrow
from zjmap.core import dbf as _dbf
from zjmap.core import formats as _formats
from zjmap.core import oddfiles as _odd
from zjmap.core.pgsource import is_remote as _is_remote

__all__ = [
    "CHUNK_FEATURES",
    "LayerInfo",
    "LoadCancelled",
    "LoadedLayer",
    "SourceInfo",
    "KINDS",
    "OVERRIDABLE_KINDS",
    "UserFileError",
    "guess_crs",
    "inspect_file",
    "open_source",
    "read_layer",
]

#: Features per chunk when reading shapefiles/GeoPackages (and per cleaning
#: step for formats read in one go). ~0.1 s of work for small polygons.
CHUNK_FEATURES = 20_000

WGS84 = CRS.from_epsg(4326)

# Where this app's data normally lies: used to choose between CRS candidates.
_YRD = (114.8, 27.0, 123.0, 35.2)  # Shanghai, Jiangsu, Zhejiang, Anhui
_CHINA = (73.0, 3.0, 136.0, 54.0)

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
    gdf: gpd.GeoDataFrame  # EPSG:4326, non-empty 2D geometries only
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
        return len(self.gdf)


# ---------------------------------------------------------------------------
# Public API


def open_source(path: str | os.PathLike[str]) -> SourceInfo:
    """Describe what ``path`` holds; raises :class:`UserFileError` if nothing usable.

    A layer that is present but cannot be loaded (say one shapefile of two
    in a zip lacks its .dbf) is listed with ``problem`` set; only if no layer
    is loadable does this raise. A garbage ``.prj`` is not a reason to raise
    here (the planner can still choose the CRS): it shows as a note.
    """
    if _is_remote(path):
        from zjmap.core.remote import open_remote

        return open_remote(str(path))
    src = _resolve(path)
    infos: list[LayerInfo] = []
    notes: list[str] = []
    for lay in src.layers:
        info, layer_notes = _layer_info(lay)
        infos.append(info)
        notes.extend(lay.notes + layer_notes)
    usable = [i for i in infos if i.problem is None]
    if not usable:
        raise UserFileError(infos[0].problem or f"{src.display} has nothing zjmap can load.",
                            kind=infos[0].problem_kind or "empty")
    return SourceInfo(str(src.path), src.driver, src.container, tuple(infos), tuple(notes))


def read_layer(
    path: str | os.PathLike[str],
    layer: str | int | None = None,
    encoding: str | None = None,
    crs: str | int | CRS | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    *,
    chunk_size: int | None = None,
) -> LoadedLayer:
    """Read one layer of a planner's file into EPSG:4326.

    ``layer``: name or 0-based index; default the first loadable layer (with
    a warning naming the others). ``encoding``: attribute text encoding,
    overriding detection (shapefiles and CSV; e.g. "GBK", "UTF-8").
    ``crs``: the data's coordinate system ("EPSG:4549", 4549, WKT or a pyproj
    CRS), overriding the file's own and any guess. ``progress(fraction,
    message)`` is called as the load moves; ``cancel()`` is polled between
    chunks and makes this raise :class:`LoadCancelled`.

    A database or web-service source string (``postgresql://…``, ``PG:…``,
    ``OAPIF:…``, a WFS URL) is read by :mod:`zjmap.core.remote` instead.
    """
    if _is_remote(path):
        from zjmap.core.remote import read_remote

        return read_remote(str(path), progress=progress, cancel=cancel)
    run = _Run(progress, cancel)
    p = Path(path)
    run.report(0.0, f"Opening {p.name}")
    src = _resolve(p)
    lay, warnings = _pick_layer(src, layer)
    warnings = lay.notes + warnings
    if encoding is not None:
        encoding = _check_encoding_name(encoding)
    override = _parse_crs_arg(crs) if crs is not None else None
    cs = max(1, int(chunk_size or CHUNK_FEATURES))

    reader: _Reader
    if lay.driver == "CSV":
        reader = _CsvReader(src, lay, encoding, cs)
    else:
        reader = _OgrReader(src, lay, encoding, cs)
    warnings.extend(reader.warnings)
    run.check_cancel()

    if reader.total == 0 and isinstance(reader, _OgrReader):
        return _empty_layer(lay, reader, override, warnings)
    if reader.total == 0:
        raise UserFileError(f"{lay.display} contains no features: there is nothing to show.", kind="empty")

    parts: list[gpd.GeoDataFrame] = []
    repaired = skipped = outside = 0
    had_z = False
    decision: _CrsDecision | None = None
    pending: list[gpd.GeoDataFrame] = []
    done = 0
    # each chunk is repaired and reprojected (mostly GEOS and PROJ, which let
    # go of the GIL) on a second thread while the next one is read
    cleaner = ThreadPoolExecutor(1, thread_name_prefix="zjmap-clean")
    cleaning: list[Future] = []
    try:
        for raw in reader.chunks(run):
            done += len(raw)
            geoms = np.asarray(raw.geometry.array, dtype=object) if len(raw) else np.empty(0, object)
            keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
            skipped += int((~keep).sum())
            raw = raw.loc[keep]
            if decision is None:
                pending.append(raw)
                if len(raw) or reader.bounds is not None:
                    bounds = reader.bounds if reader.bounds is not None else _bounds(raw)
                    decision = _decide_crs(override, reader.declared_crs, reader.crs_problem, bounds, lay)
                    warnings.extend(decision.warnings)
                todo, pending = (pending, []) if decision is not None else ([], pending)
            else:
                todo = [raw]
            for chunk in todo:
                assert decision is not None
                cleaning.append(cleaner.submit(_clean, chunk, decision.transformer))
            total = max(reader.total, done, 1)
            run.report(0.02 + 0.96 * done / total, f"Read {done:,} of {total:,} features")
            run.check_cancel()
        for fut in cleaning:
            out, n_fixed, n_dropped, n_out, z = fut.result()
            repaired += n_fixed
            skipped += n_dropped
            outside += n_out
            had_z |= z
            if len(out):
                parts.append(out)
    finally:
        cleaner.shutdown(wait=True, cancel_futures=True)

    if done == 0 and isinstance(reader, _OgrReader):
        return _empty_layer(lay, reader, override, warnings)
    if done == 0:
        raise UserFileError(f"{lay.display} contains no features: there is nothing to show.", kind="empty")
    if decision is None or not parts:
        raise UserFileError(
            f"{lay.display} has {done:,} features but none of them has a shape "
            "(all geometries are empty), so there is nothing to show.", kind="empty"
        )
    run.report(0.99, "Finishing")
    gdf = _assemble(parts, reader)
    if had_z:
        warnings.append("Heights (Z) and measures (M) were dropped: the map is two-dimensional.")
    if repaired:
        warnings.append(
            f"{repaired:,} invalid shape{'s were' if repaired != 1 else ' was'} repaired "
            "(e.g. self-intersecting polygons); check them if areas matter."
        )
    if skipped:
        warnings.append(f"{skipped:,} feature{'s' if skipped != 1 else ''} without a shape (empty or unreadable geometry) left out.")
    if outside:
        warnings.append(
            f"{outside:,} feature{'s' if outside != 1 else ''} could not be converted to longitude/latitude "
            f"with {decision.label} and {'were' if outside != 1 else 'was'} left out."
        )
    bounds84 = tuple(float(v) for v in gdf.total_bounds)
    if not _overlaps(bounds84, _CHINA):
        warnings.append(
            f"The data lies outside China (around {_fmt_lonlat(bounds84)}); "
            "if it should be in Zhejiang, its coordinate system is probably wrong."
        )
    result = LoadedLayer(
        name=lay.name,
        gdf=gdf,
        driver=lay.driver,
        source_crs=decision.label,
        crs_guessed=decision.guessed,
        crs_guess_reason=decision.reason,
        encoding=reader.encoding,
        encoding_reason=reader.encoding_reason,
        repaired=repaired,
        skipped=skipped + outside,
        geometry_types=sorted(set(gdf.geom_type.dropna().unique())),
        fields={c: str(gdf[c].dtype) for c in gdf.columns if c != gdf.geometry.name},
        bounds_wgs84=bounds84,  # type: ignore[arg-type]
        warnings=warnings,
    )
    run.report(1.0, f"Loaded {len(gdf):,} features from {lay.display}")
    return result


def inspect_file(
    path: str | os.PathLike[str],
    layer: str | int | None = None,
    encoding: str | None = None,
    crs: str | int | None = None,
    sample: int = 0,
) -> dict[str, Any]:
    """What ``zjmap inspect`` prints: the file read exactly as the app reads it;
    ``sample``: also the first N records' attribute values, decoded as the app
    decodes them (so a script can see whether the Chinese text came out right)."""
    if _is_remote(path):
        from zjmap.core.remote import inspect_source

        return inspect_source(str(path))
    info = open_source(path)
    loaded = read_layer(path, layer=layer, encoding=encoding, crs=crs)
    out = {
        "path": info.path,
        "driver": info.driver,
        "container": info.container,
        "layers": [layer_.to_dict() for layer_ in info.layers],
        "layer": loaded.name,
        "features": loaded.features,
        "geometry_types": loaded.geometry_types,
        "crs": loaded.source_crs,
        "crs_guessed": loaded.crs_guessed,
        "crs_guess_reason": loaded.crs_guess_reason,
        "encoding": loaded.encoding,
        "encoding_reason": loaded.encoding_reason,
        "bounds_wgs84": list(loaded.bounds_wgs84) if loaded.bounds_wgs84 is not None else None,
        "fields": loaded.fields,
        "repaired": loaded.repaired,
        "skipped": loaded.skipped,
        "warnings": loaded.warnings,
    }
    if sample > 0:
        out["sample"] = _sample_records(loaded.gdf, sample)
    return out


def _sample_records(gdf: gpd.GeoDataFrame, n: int) -> list[dict[str, Any]]:
    """The first ``n`` records as JSON-ready values (dates and numbers as the
    table shows them; missing values as null)."""
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    rows = []
    for rec in gdf[cols].head(n).itertuples(index=False, name=None):
        row = {}
        for c, v in zip(cols, rec):
            if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT or v is pd.NA:
                row[str(c)] = None
            elif isinstance(v, (np.integer, np.floating, np.bool_)):
                row[str(c)] = v.item()
            elif isinstance(v, (str, int, float, bool)):
                row[str(c)] = v
            else:
                row[str(c)] = str(v)
        rows.append(row)
    return rows


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


# ---------------------------------------------------------------------------
# What is in the file


_EXT_DRIVER = _formats.driver_by_suffix()
_SIDE_EXTS = set(_formats.SHAPEFILE_SIDECARS) | set(_formats.SHAPEFILE_EXTRA_PARTS)
_SUPPORTED = _formats.SUPPORTED_TEXT


class _ShpParts:
    """The files of one shapefile, on disk or inside a zip, by extension."""

    display: str  # "roads.shp" or "roads.shp in data.zip"
    stem: str

    def exists(self, ext: str) -> bool:
        raise NotImplementedError

    def size(self, ext: str) -> int:
        raise NotImplementedError

    def read(self, ext: str, n: int = -1) -> bytes:
        raise NotImplementedError

    def gone(self) -> bool:
        raise NotImplementedError

    def name(self, ext: str) -> str:
        return f"{self.stem}{ext}"


class _DiskShp(_ShpParts):
    def __init__(self, shp: Path):
        self.shp = shp
        self.stem = shp.stem
        self.display = shp.name
        self._had = [e for e in (".shp", ".shx", ".dbf") if self.exists(e)]

    def _find(self, ext: str) -> Path | None:
        # GDAL looks for the lower- and the upper-case extension.
        for e in (ext.lower(), ext.upper()):
            cand = self.shp.with_suffix(e)
            if cand.is_file():
                return cand
        return None

    def exists(self, ext: str) -> bool:
        return self._find(ext) is not None

    def size(self, ext: str) -> int:
        f = self._find(ext)
        if f is None:
            raise FileNotFoundError(self.name(ext))
        return f.stat().st_size

    def read(self, ext: str, n: int = -1) -> bytes:
        f = self._find(ext)
        if f is None:
            raise FileNotFoundError(self.name(ext))
        with open(f, "rb") as fp:
            return fp.read(n)

    def gone(self) -> bool:
        return not all(self.exists(e) for e in self._had or [".shp"])


class _ZipShp(_ShpParts):
    def __init__(self, zip_path: Path, member: str, shown: str):
        self.zip_path = zip_path
        self.member = member
        base = member[: -len(".shp")]
        self._base = base
        self.stem = PurePosixPath(shown).name[: -len(".shp")]
        self.display = f"{PurePosixPath(shown).name} in {zip_path.name}"

    def _info(self, ext: str) -> zipfile.ZipInfo | None:
        with zipfile.ZipFile(self.zip_path) as zf:
            names = set(zf.namelist())
            for e in (ext.lower(), ext.upper()):
                if self._base + e in names:
                    return zf.getinfo(self._base + e)
        return None

    def exists(self, ext: str) -> bool:
        return self._info(ext) is not None

    def size(self, ext: str) -> int:
        info = self._info(ext)
        if info is None:
            raise FileNotFoundError(self.name(ext))
        return info.file_size

    def read(self, ext: str, n: int = -1) -> bytes:
        info = self._info(ext)
        if info is None:
            raise FileNotFoundError(self.name(ext))
        with zipfile.ZipFile(self.zip_path) as zf, zf.open(info) as fp:
            return fp.read(n)

    def gone(self) -> bool:
        return not self.zip_path.is_file()


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


def _resolve(path: str | os.PathLike[str]) -> _Source:
    p = Path(path)
    disp = p.name or str(p)
    if not p.exists():
        raise UserFileError(f"zjmap cannot find {disp} (looked for {p}).", kind="missing")
    if p.is_dir():
        fmt = _formats.by_suffix(p.suffix)
        if fmt is not None and fmt.folder:
            return _ogr_source(p, fmt.driver)
        raise UserFileError(
            f"{disp} is a folder; open one of the files in it ({_SUPPORTED}).", kind="not_map_data"
        )
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise UserFileError(f"zjmap cannot open {disp} ({exc.strerror or exc}).", kind="access") from exc
    if size == 0:
        raise UserFileError(
            f"{disp} is empty (0 bytes): the copy or download probably failed. "
            "Copy it again from the original.", kind="damaged"
        )
    ext = p.suffix.lower()
    if ext in _SIDE_EXTS:
        shp = _DiskShp(p.with_suffix(".shp"))
        if shp.exists(".shp"):
            p, ext = shp._find(".shp") or p, ".shp"  # the planner picked a sidecar
        else:
            raise UserFileError(
                f"{disp} is only one part of a shapefile, and {p.stem}.shp is not next to it; "
                "copy all files with that name (.shp, .shx, .dbf, .prj, .cpg) together.", kind="missing"
            )
    fmt = _formats.by_suffix(ext)
    if fmt is None:
        return _ogr_source(p, None)  # GDAL may still know it (its message says if not)
    opener = _formats.opener_for(fmt)
    return opener(p, disp) if opener is not None else _ogr_source(p, fmt.driver)


@_formats.opener("shapefile")
def _open_shapefile(p: Path, disp: str) -> _Source:
    if p.suffix.lower() == ".zip":
        return _zip_source(p)
    parts = _DiskShp(p)
    notes: list[str] = []
    read_from = p
    if not parts.exists(".shx") and _shp_signature_ok(parts):
        read_from = _odd.restored_shx_copy(p)
        parts = _DiskShp(read_from)
        notes.append(_shx_rebuilt(p.name, f"{p.stem}.shx"))
    lay = _Layer(p.stem, parts.display, "ESRI Shapefile", str(read_from), None, shp=parts, file=p, notes=notes)
    return _Source(p, p.name, "ESRI Shapefile", None, [lay])


@_formats.opener("gpkg")
def _open_gpkg(p: Path, disp: str) -> _Source:
    with open(p, "rb") as fp:
        magic = fp.read(16)
    if magic != b"SQLite format 3\x00":
        raise UserFileError(
            f"{disp} is not a GeoPackage: it does not have the SQLite signature "
            "(the file may be damaged, or another kind of file renamed to .gpkg).", kind="not_map_data"
        )
    return _ogr_source(p, "GPKG")


@_formats.opener("flatgeobuf")
def _open_fgb(p: Path, disp: str) -> _Source:
    with open(p, "rb") as fp:
        magic = fp.read(4)
    if magic[:3] != b"fgb":
        raise UserFileError(f"{disp} is not a FlatGeobuf file: it does not start with the FlatGeobuf signature.",
                            kind="not_map_data")
    return _ogr_source(p, "FlatGeobuf")


@_formats.opener("csv")
def _open_csv(p: Path, disp: str) -> _Source:
    lay = _Layer(p.stem, disp, "CSV", str(p), None, file=p)
    return _Source(p, disp, "CSV", None, [lay])


def _zip_source(p: Path) -> _Source:
    disp = p.name
    try:
        with zipfile.ZipFile(p) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserFileError(
            f"{disp} is not a readable zip archive: it is damaged or the download was cut short ({exc}).", kind="damaged"
        ) from exc
    real = [
        i for i in infos
        if not i.filename.startswith("__MACOSX/") and not PurePosixPath(i.filename).name.startswith("._")
    ]
    if not real:
        raise UserFileError(f"{disp} is an empty zip archive: it holds no files.", kind="empty")
    shps = [i for i in real if i.filename.lower().endswith(".shp")]
    if not shps:
        listed = ", ".join(_zip_display_name(i) for i in real[:5]) + (" …" if len(real) > 5 else "")
        raise UserFileError(
            f"{disp} holds no shapefile (it contains: {listed}). "
            "Unzip it and open the GIS file directly if it is another format.", kind="not_map_data"
        )
    shown = [_zip_display_name(i) for i in shps]
    stems = [PurePosixPath(s).name[:-4] for s in shown]
    layers = []
    for info, s, stem in zip(shps, shown, stems):
        name = stem if stems.count(stem) == 1 else s[:-4]
        parts = _ZipShp(p, info.filename, s)
        if not parts.exists(".shx") and _shp_signature_ok(parts):
            disk = _DiskShp(_odd.restored_shx_copy_from_zip(p, info.filename))
            disk.display = parts.display
            layers.append(_Layer(name, parts.display, "ESRI Shapefile", str(disk.shp), None, shp=disk, file=p,
                                 notes=[_shx_rebuilt(parts.display, parts.name(".shx"))]))
            continue
        gdal_path = f"/vsizip/{p.resolve().as_posix()}/{info.filename}"
        layers.append(_Layer(name, parts.display, "ESRI Shapefile", gdal_path, None, shp=parts, file=p))
    return _Source(p, disp, "ESRI Shapefile", "zip", layers)


def _zip_display_name(info: zipfile.ZipInfo) -> str:
    """Member name for people: zips made on Chinese Windows store GBK names
    without the UTF-8 flag, which Python (like GDAL) decodes as CP437."""
    name = info.filename
    if info.flag_bits & 0x800 or name.isascii():
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            pass
    return name


def _ogr_source(p: Path, driver: str | None, gdal_path: str | None = None) -> _Source:
    disp = p.name
    gpath = gdal_path or str(p)
    try:
        names = pyogrio.list_layers(gpath)
    except GeometryError as exc:
        # one layer's type has no name in pyogrio (GDAL's "Unknown Z"): the
        # whole listing fails, so list a GeoPackage's layers from its own table
        names = [(n, None) for n, t in _odd.gpkg_layer_names(p) if t == "features"] if driver == "GPKG" else None
        if not names:
            raise UserFileError(f"zjmap cannot read {disp}: a layer in it has a shape type zjmap cannot read{_detail(exc)}.", kind="not_map_data") from exc
    except (DataSourceError, DataLayerError, RuntimeError, OSError) as exc:
        if not p.exists():
            raise _vanished(disp) from exc
        if driver is None:
            raise UserFileError(
                f"zjmap cannot read {disp}: it is not a file type zjmap knows "
                f"(it reads {_SUPPORTED}).", kind="not_map_data"
            ) from exc
        kind = {"GPKG": "GeoPackage", "OpenFileGDB": "FileGDB"}.get(driver, driver)
        raise UserFileError(
            f"zjmap cannot read {disp}: it is damaged or not really a {kind} file{_detail(exc)}.", kind="damaged"
        ) from exc
    if driver is None:
        try:
            driver = str(pyogrio.read_info(gpath).get("driver") or "unknown")
        except Exception:  # noqa: BLE001 - any failure: just an unknown driver
            driver = "unknown"
    if len(names) == 0:
        raise UserFileError(f"{disp} holds no layers: there is nothing to show.", kind="empty")
    layers = []
    for name, _gtype in names:
        name = str(name)
        show = disp if len(names) == 1 else f"layer '{name}' of {disp}"
        layers.append(_Layer(name, show, driver, gpath, name, file=p))
    return _Source(p, disp, driver, None, layers)


def _layer_info(lay: _Layer) -> tuple[LayerInfo, list[str]]:
    """Count features etc. of one layer; a broken layer gets ``problem``."""
    notes: list[str] = []
    try:
        if lay.shp is not None:
            facts = _check_shapefile(lay.shp)
            crs_label = None
            try:
                c = _prj_crs(lay.shp)
                crs_label = _crs_label(c) if c is not None else None
            except UserFileError as exc:
                notes.append(str(exc))
            return LayerInfo(lay.name, facts.n, facts.geometry_type, crs_label, None), notes
        if lay.driver == "CSV":
            r = _CsvReader(None, lay, None, CHUNK_FEATURES)
            problem = None if r.total else f"{lay.display} contains no rows: there is nothing to show."
            return LayerInfo(lay.name, r.total, "Point", None, problem, problem and "empty"), notes
        info = _ogr_info(lay, None)
        n = info.get("features")
        n = None if n is None or n < 0 else int(n)
        gtype = info.get("geometry_type")
        c = info.get("crs")
        crs_label = None
        if c:
            try:
                crs_label = _crs_label(CRS.from_user_input(c))
            except CRSError:
                crs_label = str(c)
        problem = None
        if gtype is None:
            problem = f"{lay.display} is a plain table without shapes: there is nothing to show on a map."
        return LayerInfo(lay.name, n, gtype, crs_label, problem, problem and "not_map_data"), notes
    except UserFileError as exc:
        return LayerInfo(lay.name, None, None, None, str(exc), exc.kind), notes


def _pick_layer(src: _Source, layer: str | int | None) -> tuple[_Layer, list[str]]:
    names = [lay.name for lay in src.layers]
    if layer is None:
        if len(src.layers) == 1:
            return src.layers[0], []
        first_problem, first_kind = None, None
        usable = []
        for lay in src.layers:
            info, _ = _layer_info(lay)
            if info.problem is None:
                usable.append((info.features == 0, lay))  # an empty layer only if all are empty
            elif first_problem is None:
                first_problem, first_kind = info.problem, info.problem_kind
        if usable:
            lay = min(usable, key=lambda u: u[0])[1]
            others = [n for n in names if n != lay.name]
            return lay, [
                f"{src.display} holds {len(names)} layers; loaded '{lay.name}' "
                f"(the others: {', '.join(others)})."
            ]
        raise UserFileError(first_problem or f"{src.display} has nothing zjmap can load.",
                            kind=first_kind or "empty")
    if isinstance(layer, int) and not isinstance(layer, bool):
        if 0 <= layer < len(src.layers):
            return src.layers[layer], []
    else:
        for lay in src.layers:
            if lay.name == layer:
                return lay, []
        for lay in src.layers:
            if lay.name.casefold() == str(layer).casefold():
                return lay, []
        if str(layer).isdigit() and int(layer) < len(src.layers):
            return src.layers[int(layer)], []
    raise UserFileError(
        f"{src.display} has no layer {layer!r}; its layers are: {', '.join(names)}.", kind="no_layer"
    )


# ---------------------------------------------------------------------------
# Shapefile checks


@dataclass
class _ShpFacts:
    n: int
    geometry_type: str | None
    dbf: _dbf.DbfHeader | None  # None: geometry only (no .dbf)
    warnings: list[str]


_SHP_TYPES = {
    0: None, 1: "Point", 3: "LineString", 5: "Polygon", 8: "MultiPoint",
    11: "Point Z", 13: "LineString Z", 15: "Polygon Z", 18: "MultiPoint Z",
    21: "Point M", 23: "LineString M", 25: "Polygon M", 28: "MultiPoint M",
    31: "MultiPatch",
}  # fmt: skip


def _check_shapefile(parts: _ShpParts) -> _ShpFacts:
    """Sidecars present, sizes consistent, signatures right: else a clear error."""
    shp = parts.display
    try:
        if not parts.exists(".shp"):
            raise _vanished(shp)
        size = parts.size(".shp")
        if size == 0:
            raise UserFileError(
                f"{shp} is empty (0 bytes): the copy or download probably failed. "
                "Copy it again from the original.", kind="damaged"
            )
        head = parts.read(".shp", 100)
        if int.from_bytes(head[:4], "big") != 9994:
            if _looks_like_text(head):
                snippet = head[:40].decode("utf-8", "replace").splitlines()[0] if head.strip() else ""
                raise UserFileError(
                    f"{shp} is not a shapefile: it is a text file (it starts with {snippet!r}). "
                    "It may have been renamed, or saved by a program that wrote text instead.", kind="not_map_data"
                )
            raise UserFileError(
                f"{shp} is not a shapefile: it does not start with the shapefile signature "
                "(it may be another kind of file renamed to .shp, or damaged).", kind="not_map_data"
            )
        if size < 100:
            raise UserFileError(
                f"{shp} is incomplete: it has only {size} bytes, less than a shapefile header; "
                "the copy or download was probably cut short.", kind="damaged"
            )
        declared = int.from_bytes(head[24:28], "big") * 2
        if size < declared:
            raise UserFileError(
                f"{shp} is incomplete: its header says {declared:,} bytes but the file has only "
                f"{size:,}; the copy or download was probably cut short.", kind="damaged"
            )
        shape_type = int.from_bytes(head[32:36], "little")

        shx = parts.name(".shx")
        if not parts.exists(".shx"):
            raise UserFileError(
                f"{shp} cannot be opened: its index file {shx} is missing. A shapefile is several "
                "files with the same name (.shp, .shx, .dbf, usually .prj and .cpg); copy all of them together.", kind="missing"
            )
        shx_size = parts.size(".shx")
        shx_head = parts.read(".shx", 100)
        if shx_size < 100 or int.from_bytes(shx_head[:4], "big") != 9994:
            raise UserFileError(f"{shp} cannot be opened: its index file {shx} is damaged or empty.", kind="damaged")
        shx_declared = int.from_bytes(shx_head[24:28], "big") * 2
        if shx_size < shx_declared:
            raise UserFileError(
                f"{shp} cannot be opened: its index file {shx} is incomplete "
                f"({shx_size:,} of {shx_declared:,} bytes).", kind="damaged"
            )
        n = (min(shx_size, shx_declared) - 100) // 8

        dbf = parts.name(".dbf")
        if not parts.exists(".dbf"):  # GDAL opens the shapes alone, and so does zjmap
            return _ShpFacts(n, _SHP_TYPES.get(shape_type, f"type {shape_type}"), None, [
                f"{shp} has no attribute table ({dbf} is missing): only the shapes were loaded. "
                "If it should have attributes, copy the .dbf along with the other files."
            ])
        dbf_size = parts.size(".dbf")
        if dbf_size == 0:
            raise UserFileError(f"{shp} cannot be opened: its attribute table {dbf} is empty (0 bytes).", kind="damaged")
        try:
            header = _dbf.parse_header(parts.read(".dbf", 65536))
        except _dbf.DbfError as exc:
            raise UserFileError(f"{shp} cannot be opened: its attribute table {dbf} is damaged ({exc}).", kind="damaged") from exc
        if dbf_size < header.data_len:
            raise UserFileError(
                f"{shp} cannot be opened: its attribute table {dbf} is incomplete "
                f"({dbf_size:,} of {header.data_len:,} bytes); the copy was probably cut short.", kind="damaged"
            )
    except FileNotFoundError as exc:
        raise _vanished(shp) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        if parts.gone():
            raise _vanished(shp) from exc
        raise UserFileError(f"zjmap cannot read {shp} ({exc}).", kind="access") from exc
    warnings: list[str] = []
    if header.n_records != n:
        warnings.append(
            f"{dbf} has {header.n_records:,} rows but {shp} has {n:,} shapes; "
            "the file was probably edited by a program that did not keep them together."
        )
    return _ShpFacts(n, _SHP_TYPES.get(shape_type, f"type {shape_type}"), header, warnings)


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # cut mid-character by the 100-byte read
    

def _prj_crs(parts: _ShpParts) -> CRS | None:
    """The CRS of the .prj, None if there is no .prj; UserFileError if unparseable."""
    if not parts.exists(".prj"):
        return None
    prj = parts.name(".prj")
    raw = parts.read(".prj")
    text = raw.decode("utf-8", "replace").strip().lstrip("\ufeff")
    if not text:
        return None
    try:
        return _parse_prj_text(text)
    except CRSError as exc:
        raise UserFileError(
            f"The coordinate system file {prj} of {parts.display} cannot be understood "
            f"(it starts {text[:30]!r}); choose the coordinate system by hand.", kind="crs"
        ) from exc


@functools.lru_cache(maxsize=32)
def _parse_prj_text(text: str) -> CRS:
    """WKT (ESRI or OGC) as .prj files hold it; a PROJ string or "EPSG:n" also
    pass. Anything else fails at once (pyproj's free-text lookup is slow)."""
    head = text.lstrip()[:12].upper()
    if re.match(r"^[A-Z_0-9]+\[", head):
        return CRS.from_wkt(text)
    if head.startswith("+PROJ") or head.startswith("+INIT"):
        return CRS.from_proj4(text)
    if re.fullmatch(r"(EPSG|ESRI):\d+", text.strip().upper()):
        return CRS.from_user_input(text.strip())
    raise CRSError("not WKT")


def _shapefile_encoding(
    parts: _ShpParts, facts: _ShpFacts, override: str | None
) -> tuple[str | None, str, list[str]]:
    """(encoding, reason, warnings) for a shapefile's attributes."""
    header = facts.dbf
    if header is None:
        return None, "no attribute table (.dbf)", []
    want = min(header.data_len, header.header_len + 32 * 1024 * 1024)
    try:
        data = parts.read(".dbf", want)
    except (zipfile.BadZipFile, OSError) as exc:
        if parts.gone() or isinstance(exc, FileNotFoundError):
            raise _vanished(parts.display) from exc
        raise UserFileError(f"zjmap cannot read {parts.name('.dbf')} ({exc}).", kind="access") from exc
    samples = _dbf.text_samples(header, data[header.header_len :])
    dbf = parts.name(".dbf")
    if override is not None:
        bad = _dbf.first_undecodable(samples, override)
        if bad is not None:
            raise UserFileError(
                f"The attribute text of {dbf} is not valid {override} (e.g. the bytes {bad[:12].hex(' ')}); "
                "choose another encoding (Chinese files are usually GBK or UTF-8).", kind="encoding"
            )
        return override, "chosen by hand", []
    cpg_text = None
    if parts.exists(".cpg"):
        try:
            cpg_text = parts.read(".cpg", 200).decode("ascii", "replace")
        except OSError:
            cpg_text = None
    choice = _dbf.choose_encoding(cpg_text, header.ldid, samples)
    if choice.encoding is None:
        raise UserFileError(
            f"The attribute text of {dbf} cannot be decoded: it is neither UTF-8 nor GBK/GB18030 "
            f"({choice.reason}); choose the encoding by hand.", kind="encoding"
        )
    return choice.encoding, choice.reason, choice.warnings


# ---------------------------------------------------------------------------
# Readers: each yields raw GeoDataFrame chunks in the source CRS.


class _Reader:
    total: int
    bounds: tuple[float, float, float, float] | None  # of the whole layer, if cheap
    declared_crs: CRS | None
    crs_problem: str | None
    encoding: str | None
    encoding_reason: str | None
    warnings: list[str]
    drop_null_columns = False

    def chunks(self, run: _Run) -> Iterator[gpd.GeoDataFrame]:
        raise NotImplementedError


def _have_arrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


# Read through Arrow when pyarrow is there: about a third faster, and GDAL
# lets go of the GIL meanwhile (the window stays responsive and the chunk
# before is repaired on the other thread); plain pyogrio otherwise.
_ARROW = _have_arrow()

# GDAL's names for encodings where the portable spelling differs from Python's.
_GDAL_ENCODING = {"GBK": "CP936", "BIG5": "CP950"}
# Drivers where reopening is cheap and skip_features seeks directly.
_CHUNKED_DRIVERS = {"ESRI Shapefile", "GPKG", "OpenFileGDB"}


class _OgrReader(_Reader):
    def __init__(self, src: _Source, lay: _Layer, encoding: str | None, chunk_size: int):
        self.lay = lay
        self.chunk_size = chunk_size
        self.warnings = []
        self.crs_problem = None
        self.declared_crs = None
        self.bounds = None
        self.drop_null_columns = lay.driver in ("KML", "LIBKML")
        if lay.shp is not None:
            facts = _check_shapefile(lay.shp)
            self.warnings.extend(facts.warnings)
            self.total = facts.n
            enc, why, w = _shapefile_encoding(lay.shp, facts, encoding)
            self.encoding, self.encoding_reason = enc, why
            self.warnings.extend(w)
            self._gdal_encoding: str | None = _GDAL_ENCODING.get(enc, enc) if enc else None
            self.geometry_type = facts.geometry_type
            try:
                self.declared_crs = _prj_crs(lay.shp)
            except UserFileError as exc:
                self.crs_problem = str(exc)
            info = _ogr_info(lay, self._gdal_encoding, bounds=True) if self.total else {}
        else:
            self._gdal_encoding = _GDAL_ENCODING.get(encoding, encoding) if encoding else None
            info = _ogr_info(lay, self._gdal_encoding, count=True, bounds=lay.driver in _CHUNKED_DRIVERS)
            self.geometry_type = info.get("geometry_type")
            if info.get("geometry_type") is None:
                raise UserFileError(
                    f"{lay.display} is a plain table without shapes: there is nothing to show on a map.", kind="not_map_data"
                )
            n = info.get("features")
            self.total = int(n) if n is not None and n >= 0 else -1
            c = info.get("crs")
            if c:
                try:
                    self.declared_crs = CRS.from_user_input(c)
                except CRSError:
                    self.crs_problem = (
                        f"The coordinate system of {lay.display} cannot be understood; "
                        "choose the coordinate system by hand."
                    )
            self.encoding = encoding or str(info.get("encoding") or "UTF-8")
            self.encoding_reason = "chosen by hand" if encoding else f"{_kind(lay.driver)} text is {self.encoding}"
        tb = info.get("total_bounds")
        if tb is not None and all(math.isfinite(v) for v in tb) and tb[0] <= tb[2] and tb[1] <= tb[3]:
            if not (lay.shp is not None and tuple(tb) == (0.0, 0.0, 0.0, 0.0)):
                self.bounds = tuple(float(v) for v in tb)  # type: ignore[assignment]
        self.chunked = lay.driver in _CHUNKED_DRIVERS and self.total > 0

    def _read(self, **kw: Any) -> gpd.GeoDataFrame:
        lay = self.lay
        try:
            return pyogrio.read_dataframe(
                lay.gdal_path,
                layer=lay.gdal_layer,
                encoding=self._gdal_encoding,
                on_invalid="fix",
                use_arrow=_ARROW,
                **kw,
            )
        except UnicodeDecodeError as exc:
            raise UserFileError(
                f"The attribute text of {lay.display} is not valid {self.encoding}; "
                "choose another encoding (Chinese files are usually GBK or UTF-8).", kind="encoding"
            ) from exc
        except FileNotFoundError as exc:
            raise _vanished(lay.display) from exc
        except (DataSourceError, DataLayerError, RuntimeError, OSError, ValueError) as exc:
            if _layer_gone(lay):
                raise _vanished(lay.display) from exc
            raise UserFileError(
                f"zjmap could not read {lay.display}: the file is damaged or incomplete{_detail(exc)}.", kind="damaged"
            ) from exc

    def chunks(self, run: _Run) -> Iterator[gpd.GeoDataFrame]:
        if self.chunked:
            for start in range(0, self.total, self.chunk_size):
                run.check_cancel()
                if _layer_gone(self.lay):
                    raise _vanished(self.lay.display)
                yield self._read(skip_features=start, max_features=self.chunk_size)
            return
        run.report(0.02, f"Reading {self.lay.display}")
        df = self._read()
        if self.total < 0:
            self.total = len(df)
        for start in range(0, len(df), self.chunk_size):
            run.check_cancel()
            yield df.iloc[start : start + self.chunk_size]


def _ogr_info(lay: _Layer, encoding: str | None, count: bool = False, bounds: bool = False) -> dict[str, Any]:
    try:
        return pyogrio.read_info(
            lay.gdal_path,
            layer=lay.gdal_layer,
            encoding=encoding,
            force_feature_count=count,
            force_total_bounds=bounds,
        )
    except UnicodeDecodeError as exc:
        raise UserFileError(
            f"The field names of {lay.display} are not valid {encoding}; choose another encoding.", kind="encoding"
        ) from exc
    except FileNotFoundError as exc:
        raise _vanished(lay.display) from exc
    except GeometryError as exc:
        raise UserFileError(
            f"zjmap cannot load {lay.display}: its shape type ({_odd.geometry_type_name(exc)}) is one zjmap's "
            "reader does not handle; the file's other layers can still be loaded.", kind="not_map_data"
        ) from exc
    except (DataSourceError, DataLayerError, RuntimeError, OSError, ValueError) as exc:
        if _layer_gone(lay):
            raise _vanished(lay.display) from exc
        raise UserFileError(
            f"zjmap could not read {lay.display}: the file is damaged or incomplete{_detail(exc)}.", kind="damaged"
        ) from exc


# CSV column names (compared after lower-casing and dropping spaces, "_", "-").
_LON_NAMES = ["lon", "lng", "longitude", "long", "经度", "x", "pointx", "xcoord", "coordx",
              "wgs84lon", "gpslon", "lon84", "东经", "x坐标"]  # fmt: skip
_LAT_NAMES = ["lat", "latitude", "纬度", "y", "pointy", "ycoord", "coordy",
              "wgs84lat", "gpslat", "lat84", "北纬", "y坐标"]  # fmt: skip


def _norm_col(name: str) -> str:
    s = str(name).strip().lstrip("\ufeff").lower()
    for ch in " _-.()（）°":
        s = s.replace(ch, "")
    return s


def _find_col(columns: list[str], names: list[str], contains: str) -> str | None:
    normed = {_norm_col(c): c for c in columns}
    for n in names:
        if n in normed:
            return normed[n]
    for c in columns:
        if contains in str(c):
            return c
    return None


class _CsvReader(_Reader):
    def __init__(self, src: _Source | None, lay: _Layer, encoding: str | None, chunk_size: int):
        assert lay.file is not None
        self.lay = lay
        self.chunk_size = chunk_size
        self.warnings = []
        self.declared_crs = None
        self.crs_problem = None
        self.bounds = None
        disp = lay.display
        try:
            raw = lay.file.read_bytes()
        except FileNotFoundError as exc:
            raise _vanished(disp) from exc
        except OSError as exc:
            raise UserFileError(f"zjmap cannot read {disp} ({exc.strerror or exc}).", kind="access") from exc
        if b"\x00" in raw[:4096]:
            raise UserFileError(f"{disp} is not a text table: it contains binary data.", kind="not_map_data")
        text, self.encoding, self.encoding_reason = _decode_text(raw, encoding, disp)
        sample = text[:20000]
        try:
            delim = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delim = "\t" if lay.file.suffix.lower() == ".tsv" else ","
        # UTF-8 without a byte-order mark: Arrow parses the file's own bytes (no second encoding)
        as_utf8 = raw if self.encoding == "UTF-8" and not raw.startswith(codecs.BOM_UTF8) else None
        df = csvarrow.read_table(text, delim, as_utf8) if _ARROW and len(text) > csvarrow.ARROW_CHARS else None
        try:
            if df is None:
                df = pd.read_csv(io.StringIO(text), sep=delim, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise UserFileError(f"{disp} is not a readable table ({str(exc).splitlines()[0][:120]}).", kind="not_map_data") from exc
        df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
        cols = list(df.columns)
        lon = _find_col(cols, _LON_NAMES, "经度")
        lat = _find_col(cols, _LAT_NAMES, "纬度")
        if lon is None or lat is None or lon == lat:
            shown = ", ".join(cols[:12]) + (" …" if len(cols) > 12 else "")
            raise UserFileError(
                f"{disp} has no longitude/latitude columns zjmap recognises (it looks for lon/lng/"
                f"longitude/x/经度 and lat/latitude/y/纬度; the columns are: {shown}).", kind="not_map_data"
            )
        x, y = csvarrow.degrees(df[lon], _ARROW), csvarrow.degrees(df[lat], _ARROW)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any() and np.abs(y[ok]).max() > 90 and np.abs(x[ok]).max() <= 90:
            x, y = y, x
            self.warnings.append(
                f"In {disp} the columns {lon!r} and {lat!r} look swapped (latitudes over 90°); they were swapped back."
            )
        geoms = np.full(len(df), None, dtype=object)
        geoms[ok] = shapely.points(x[ok], y[ok])
        attrs = df.drop(columns=[lon, lat])
        for c in attrs.columns:
            attrs[c] = _infer_column(attrs[c])
        self.df = gpd.GeoDataFrame(attrs, geometry=geoms)
        self.total = len(self.df)
        self.columns = (lon, lat)

    def chunks(self, run: _Run) -> Iterator[gpd.GeoDataFrame]:
        for start in range(0, len(self.df), self.chunk_size):
            run.check_cancel()
            yield self.df.iloc[start : start + self.chunk_size]


def _decode_text(raw: bytes, encoding: str | None, disp: str) -> tuple[str, str, str]:
    if encoding is not None:
        try:
            return raw.decode(encoding), encoding, "chosen by hand"
        except UnicodeDecodeError as exc:
            raise UserFileError(
                f"{disp} is not valid {encoding} text (at byte {exc.start:,}); choose another encoding "
                "(Chinese files are usually GBK or UTF-8).", kind="encoding"
            ) from exc
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", "replace"), "UTF-8", "the file starts with a UTF-8 byte-order mark"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), "UTF-16", "the file starts with a UTF-16 byte-order mark"
    try:
        text = raw.decode("utf-8")
        why = "the text is valid UTF-8" if not raw.isascii() else "all text is plain ASCII"
        return text, "UTF-8", why
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "GB18030", "the text is not valid UTF-8 but is valid GBK/GB18030 (Chinese)"
    except UnicodeDecodeError as exc:
        raise UserFileError(
            f"The text of {disp} cannot be decoded: it is neither UTF-8 nor GBK/GB18030 "
            f"(at byte {exc.start:,}); choose the encoding by hand.", kind="encoding"
        ) from exc


def _infer_column(s: pd.Series) -> pd.Series:
    """Numbers stay text if converting would lose something (codes like "0571")."""
    if _ARROW and len(s) > csvarrow.INFER_ROWS:
        got = csvarrow.infer_column(s)
        if got is not None:
            return got
    vals = s.str.strip()
    nonempty = vals[vals != ""]
    if nonempty.empty:
        return s
    if nonempty.str.match(r"^[+-]?0\d").any():
        return s
    num = pd.to_numeric(nonempty, errors="coerce")
    if num.isna().any():
        return s
    out = pd.to_numeric(vals.where(vals != ""), errors="coerce")
    if (out.dropna() % 1 == 0).all() and not out.isna().any() and (out.abs() < 2**53).all():
        return out.astype("int64")
    return out


# ---------------------------------------------------------------------------
# Coordinate systems


@dataclass
class _CrsDecision:
    crs: CRS
    label: str
    guessed: bool
    reason: str | None
    warnings: list[str]
    transformer: Transformer | None  # None: already EPSG:4326


def _crs_label(c: CRS) -> str:
    code = c.to_epsg()
    if code is not None:
        return f"EPSG:{code}"
    auth = c.to_authority()
    if auth is not None:
        return f"{auth[0]}:{auth[1]}"
    return c.name or "custom coordinate system"


def _parse_crs_arg(crs: str | int | CRS) -> CRS:
    if isinstance(crs, CRS):
        return crs
    text = str(crs).strip()
    try:
        if text.isdigit():
            return CRS.from_epsg(int(text))
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise UserFileError(
            f"{text[:60]!r} is not a coordinate system zjmap knows; give it as EPSG:number, e.g. EPSG:4549.", kind="crs"
        ) from exc


def _check_encoding_name(encoding: str) -> str:
    enc = _dbf.cpg_encoding(encoding) or encoding.strip()
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise UserFileError(
            f"{encoding!r} is not a text encoding zjmap knows; try GBK, GB18030 or UTF-8.", kind="encoding"
        ) from exc
    return enc


@functools.lru_cache(maxsize=64)
def _to_wgs84(c: CRS) -> Transformer:
    # Building a Transformer costs ~0.1 s (PROJ database look-ups); pyproj
    # Transformers are thread-safe since 3.1, so they are shared.
    return Transformer.from_crs(c, WGS84, always_xy=True)


def _transformer(c: CRS) -> Transformer | None:
    """None when converting to EPSG:4326 changes nothing (WGS 84 in another
    spelling, or CGCS2000 degrees, whose difference PROJ treats as nil)."""
    if c == WGS84:
        return None
    t = _to_wgs84(c)
    if t.definition.split(" ")[0] == "proj=noop":
        return None
    return t


def _fits(c: CRS, bounds: tuple[float, float, float, float]) -> bool:
    """Do the data's bounds make sense in ``c``? (convertible, on Earth, round-trips)"""
    minx, miny, maxx, maxy = bounds
    xs = np.array([minx, maxx, minx, maxx, (minx + maxx) / 2])
    ys = np.array([miny, miny, maxy, maxy, (miny + maxy) / 2])
    if c.is_geographic:
        return bool(np.all(np.abs(xs) <= 180.0 + 1e-9) and np.all(np.abs(ys) <= 90.0 + 1e-9))
    try:
        t = _to_wgs84(c)
        lon, lat = t.transform(xs, ys, errcheck=False)
        if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
            return False
        if np.any(np.abs(lon) > 180) or np.any(np.abs(lat) > 90):
            return False
        bx, by = t.transform(lon, lat, direction=TransformDirection.INVERSE, errcheck=False)
    except (ProjError, CRSError):
        return False
    err = np.hypot(np.asarray(bx) - xs, np.asarray(by) - ys)
    return bool(np.all(np.isfinite(err)) and np.all(err < 1.0))


def _lonlat_box(c: CRS, bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    if not _fits(c, bounds):
        return None
    t = _transformer(c)
    if t is None:
        return bounds
    b = t.transform_bounds(*bounds, errcheck=False)
    return b if all(math.isfinite(v) for v in b) else None


def _inside(box: tuple[float, ...], region: tuple[float, ...], slack: float = 0.0) -> bool:
    return (
        box[0] >= region[0] - slack
        and box[2] <= region[2] + slack
        and box[1] >= region[1] - slack
        and box[3] <= region[3] + slack
    )


def _overlaps(box: tuple[float, ...], region: tuple[float, ...]) -> bool:
    return box[0] <= region[2] and box[2] >= region[0] and box[1] <= region[3] and box[3] >= region[1]


def _fmt_range(lo: float, hi: float) -> str:
    return f"{lo:,.0f}–{hi:,.0f}"


def _fmt_lonlat(b: tuple[float, ...]) -> str:
    lon = (b[0] + b[2]) / 2
    lat = (b[1] + b[3]) / 2
    return f"{abs(lon):.2f}°{'E' if lon >= 0 else 'W'} {abs(lat):.2f}°{'N' if lat >= 0 else 'S'}"


def guess_crs(bounds: tuple[float, float, float, float], what: str = "the file") -> tuple[CRS, str]:
    """Guess the CRS of coordinates with these bounds (minx, miny, maxx, maxy).

    Returns (crs, reason); raises :class:`UserFileError` if nothing fits.

    * inside ±180/±90: longitude/latitude degrees, EPSG:4326;
    * x ≥ 10,000,000: Gauss–Krüger metres with the zone number prefixed to
      the easting: 25–45 → CGCS2000 3-degree zone (EPSG:4513 + zone − 25,
      e.g. 40 → EPSG:4528, CM 120°E), 13–23 → 6-degree zone (EPSG:4491 +
      zone − 13); Web Mercator (EPSG:3857) when that puts the data in the
      Yangtze River Delta and the zone does not;
    * 200,000 < x < 800,000 and 2,000,000 < y < 6,000,000: CGCS2000 3-degree
      Gauss–Krüger without zone prefix; CM 120°E (EPSG:4549, most of
      Zhejiang), CM 123°E (EPSG:4550) or CM 117°E (EPSG:4548), the first
      that lands the data in/near the Yangtze River Delta.
    """
    minx, miny, maxx, maxy = bounds
    if not all(math.isfinite(v) for v in bounds):
        raise UserFileError(f"zjmap cannot tell the coordinate system of {what}: its coordinates are not numbers.", kind="crs")
    where = f"x {_fmt_range(minx, maxx)}, y {_fmt_range(miny, maxy)}"
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        return WGS84, (
            f"{what} does not say which coordinate system it uses; its coordinates are "
            "within ±180/±90, so they were read as longitude/latitude degrees (WGS 84, EPSG:4326; "
            "CGCS2000 degrees differ by less than a metre)."
        )
    cands: list[tuple[CRS, str]] = []
    if minx >= 1e7 and maxx < 1e8:
        zmin, zmax = int(minx // 1e6), int(maxx // 1e6)
        if zmin == zmax:
            zone = zmin
            if 25 <= zone <= 45:
                code = 4513 + zone - 25
                cands.append((CRS.from_epsg(code), (
                    f"the x coordinates start with {zone}, the zone number of the CGCS2000 3-degree "
                    f"Gauss–Krüger zone {zone} (central meridian {3 * zone}°E), EPSG:{code}"
                )))
            elif 13 <= zone <= 23:
                code = 4491 + zone - 13
                cands.append((CRS.from_epsg(code), (
                    f"the x coordinates start with {zone}, the zone number of the CGCS2000 6-degree "
                    f"Gauss–Krüger zone {zone} (central meridian {6 * zone - 3}°E), EPSG:{code}"
                )))
        if maxx <= 2.0037e7 and -2.0e7 < miny and maxy < 2.0e7:
            cands.append((CRS.from_epsg(3857), (
                "the coordinates look like Web Mercator metres (EPSG:3857, used by web maps)"
            )))
    elif 2e5 < minx and maxx < 8e5 and 2e6 < miny and maxy < 6e6:
        for code, cm in ((4549, 120), (4550, 123), (4548, 117)):
            cands.append((CRS.from_epsg(code), (
                f"the coordinates are metres that fit the CGCS2000 3-degree Gauss–Krüger projection "
                f"with central meridian {cm}°E (EPSG:{code})"
            )))
    boxes: dict[int, tuple[float, float, float, float] | None] = {}
    for region, place in ((_YRD, "the Yangtze River Delta"), (_CHINA, "China")):
        for i, (c, why) in enumerate(cands):
            if i not in boxes:
                boxes[i] = _lonlat_box(c, bounds)
            box = boxes[i]
            if box is not None and _inside(box, region, slack=1.0):
                return c, (
                    f"{what} does not say which coordinate system it uses; {why}, which puts the data "
                    f"in {place} ({where}). If it is in Xi'an 1980 or Beijing 1954 instead, choose "
                    "that coordinate system by hand."
                )
    raise UserFileError(
        f"zjmap cannot tell the coordinate system of {what}: it does not say, and its coordinates "
        f"({where}) are neither longitude/latitude nor Gauss–Krüger metres of China. "
        "Choose the coordinate system by hand.", kind="crs"
    )


def _decide_crs(
    override: CRS | None,
    declared: CRS | None,
    problem: str | None,
    bounds: tuple[float, float, float, float],
    lay: _Layer,
) -> _CrsDecision:
    if override is not None:
        label = _crs_label(override)
        if not _fits(override, bounds):
            raise UserFileError(
                f"The coordinates of {lay.display} do not fit {label} (they would land off the map); "
                "that is not their coordinate system.", kind="crs"
            )
        return _CrsDecision(override, label, False, None, [], _transformer(override))
    if declared is not None:
        label = _crs_label(declared)
        if _fits(declared, bounds):
            return _CrsDecision(declared, label, False, None, [], _transformer(declared))
        try:
            guess, why = guess_crs(bounds, lay.display)
        except UserFileError:
            raise UserFileError(
                f"The coordinates of {lay.display} do not fit the coordinate system it declares ({label}): "
                "they would land off the map. Choose the coordinate system by hand.", kind="crs"
            ) from None
        glabel = _crs_label(guess)
        why = why.replace(f"{lay.display} does not say which coordinate system it uses", f"{lay.display} says {label}, but its coordinates do not fit that")
        return _CrsDecision(
            guess, glabel, True, why,
            [f"{lay.display} declares {label}, but its coordinates do not fit it; read as {glabel} instead."],
            _transformer(guess),
        )
    if problem is not None:
        raise UserFileError(problem, kind="crs")  # the .prj could not be understood
    guess, why = guess_crs(bounds, lay.display)
    return _CrsDecision(guess, _crs_label(guess), True, why, [], _transformer(guess))


# ---------------------------------------------------------------------------
# Geometry cleaning


_POLYGONAL = {"Polygon", "MultiPolygon"}


def _clean(
    raw: gpd.GeoDataFrame, transformer: Transformer | None
) -> tuple[gpd.GeoDataFrame, int, int, int, bool]:
    """2D, valid, in EPSG:4326. Returns (gdf, repaired, emptied, unconvertible, had_z)."""
    geoms = np.asarray(raw.geometry.array, dtype=object)
    attrs = pd.DataFrame(raw.drop(columns=raw.geometry.name))
    if len(geoms) == 0:
        return gpd.GeoDataFrame(attrs, geometry=geoms, crs=WGS84), 0, 0, 0, False
    had_z = bool(shapely.has_z(geoms).any())
    if had_z:
        geoms = shapely.force_2d(geoms)
    invalid = ~shapely.is_valid(geoms)
    repaired = int(invalid.sum())
    if repaired:
        idx = np.flatnonzero(invalid)
        types = shapely.get_type_id(geoms[idx])
        poly = np.isin(types, (3, 6))
        if poly.any():
            geoms[idx[poly]] = shapely.make_valid(geoms[idx[poly]], method="structure", keep_collapsed=False)
        if (~poly).any():
            geoms[idx[~poly]] = shapely.make_valid(geoms[idx[~poly]])
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    emptied = int((~keep).sum())
    outside = 0
    if transformer is not None:
        def fn(xy: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)
            return np.column_stack([x, y])

        geoms[keep] = shapely.transform(geoms[keep], fn)
        b = shapely.bounds(geoms)
        bad = keep & ~np.all(np.isfinite(b), axis=1)
        outside = int(bad.sum())
        keep &= ~bad
    out = gpd.GeoDataFrame(attrs.loc[keep], geometry=geoms[keep], crs=WGS84)
    return out, repaired, emptied, outside, had_z


def _bounds(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float]:
    b = shapely.total_bounds(np.asarray(gdf.geometry.array, dtype=object))
    return tuple(float(v) for v in b)  # type: ignore[return-value]


_KML_STYLE_COLUMNS = {"tessellate", "extrude", "visibility", "drawOrder", "altitudeMode", "icon"}


def _assemble(parts: list[gpd.GeoDataFrame], reader: _Reader) -> gpd.GeoDataFrame:
    gdf = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    gdf = gpd.GeoDataFrame(gdf, geometry=gdf.geometry.name, crs=WGS84).reset_index(drop=True)
    if reader.drop_null_columns:
        # LIBKML gives every KML the same dozen columns; keep the ones with content.
        noise = [
            c for c in gdf.columns
            if c != gdf.geometry.name
            and (gdf[c].isna().all() or (c in _KML_STYLE_COLUMNS and gdf[c].nunique(dropna=True) <= 1))
        ]
        gdf = gdf.drop(columns=noise)
    return gdf


# ---------------------------------------------------------------------------
# Messages


# pyogrio turns measured (M) geometries into Z ones with a UserWarning; zjmap
# drops Z and M anyway, so that one is silenced (a targeted, process-wide
# filter: warnings.catch_warnings() is not thread-safe, and loads run on
# worker threads). Other GDAL warnings pass through.
_warnings.filterwarnings("ignore", message=r".*[Mm]easured \(M\) geometry types are not supported")


def _shp_signature_ok(parts: _ShpParts) -> bool:
    try:
        return parts.size(".shp") >= 100 and int.from_bytes(parts.read(".shp", 4), "big") == 9994
    except OSError:
        return False


def _shx_rebuilt(shp: str, shx: str) -> str:
    return (f"{shp} had no index file ({shx}): zjmap rebuilt it in a temporary copy "
            "(your files are unchanged). Copy the .shx along with the other files next time.")


def _empty_layer(lay: _Layer, reader: _OgrReader, override: CRS | None, warnings: list[str]) -> LoadedLayer:
    """A layer with no records is still a layer, as GDAL and QGIS open it:
    its fields and CRS, no features; the first warning says it is empty."""
    frame = reader._read()
    c = override or reader.declared_crs
    label = _crs_label(c) if c is not None else "none"
    cols = [col for col in frame.columns if col != frame.geometry.name]
    gdf = gpd.GeoDataFrame({col: frame[col].iloc[:0] for col in cols},
                           geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    gtype = (reader.geometry_type or "").replace(" Z", "").replace(" M", "").strip()
    empty = (f"图层为空 The layer is empty: {lay.display} has no features "
             f"(its {len(cols)} field{'s' if len(cols) != 1 else ''} and coordinate system are kept).")
    return LoadedLayer(
        name=lay.name, gdf=gdf, driver=lay.driver, source_crs=label, crs_guessed=False,
        crs_guess_reason=None, encoding=reader.encoding, encoding_reason=reader.encoding_reason,
        repaired=0, skipped=0, geometry_types=[gtype] if gtype else [],
        fields={col: str(frame[col].dtype) for col in cols}, bounds_wgs84=None,
        warnings=[empty] + warnings,
    )


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
