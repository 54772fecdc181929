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

This module is the public face; the work is split by job (each re-exported
here where other modules use it): :mod:`~zjmap.core.userfile_types` (results,
errors, progress), :mod:`~zjmap.core.userfile_sources` (what is in a file),
:mod:`~zjmap.core.shapefile_parts` (a shapefile's parts and their checks),
:mod:`~zjmap.core.userfile_readers` (chunked pyogrio reads),
:mod:`~zjmap.core.csvpoints` (lon/lat tables) and
:mod:`~zjmap.core.crsguess` (the coordinate system).
"""

from __future__ import annotations

import math
import os
import warnings as _warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from zjmap.core.pgsource import is_remote as _is_remote
from zjmap.core.userfile_types import (
    CHUNK_FEATURES, CancelFn, KINDS, LayerInfo, LoadCancelled, LoadedLayer, OVERRIDABLE_KINDS,
    ProgressFn, SourceInfo, UserFileError, WGS84, _Layer, _Run,
)
from zjmap.core.userfile_sources import _layer_info, _pick_layer, _resolve
from zjmap.core.userfile_readers import _OgrReader, _Reader
from zjmap.core.csvpoints import _CsvReader, _decode_text  # noqa: F401  (_decode_text: tables.py)
from zjmap.core.pointcolumn import LazyFrame
from zjmap.core.pointread import NotPlainPoints, left_out_warnings, read_points
from zjmap.core.crsguess import (
    _CHINA, _CrsDecision, _check_encoding_name, _crs_label, _decide_crs, _overlaps,
    _parse_crs_arg, guess_crs,
)


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

#: Layers of this many features or more keep their geometry as flat
#: coordinates and make shapely shapes on demand (zjmap.core.lazygeom); None:
#: every layer a GeoDataFrame of shapes, the eager way (tests compare both).
LAZY_MIN_FEATURES: int | None = 2000

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
    on_chunk: Callable[[np.ndarray, Any], Any] | None = None,
) -> LoadedLayer:
    """Read one layer of a planner's file into EPSG:4326.

    ``layer``: name or 0-based index; default the first loadable layer (with
    a warning naming the others). ``encoding``: attribute text encoding,
    overriding detection (shapefiles and CSV; e.g. "GBK", "UTF-8").
    ``crs``: the data's coordinate system ("EPSG:4549", 4549, WKT or a pyproj
    CRS), overriding the file's own and any guess. ``progress(fraction,
    message)`` is called as the load moves; ``cancel()`` is polled between
    chunks and makes this raise :class:`LoadCancelled`. ``on_chunk(geoms, ragged)``
    is called with each chunk's cleaned WGS-84 geometries (and, for a layer
    kept as flat coordinates, those coordinates: a
    :class:`~zjmap.core.lazygeom.RaggedPiece`, else None), in row order, on
    the cleaning thread while the next chunk is read (the window encodes and
    shows them as they come: :mod:`zjmap.core.displaychunks`).

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

    if isinstance(reader, _CsvReader) or (isinstance(reader, _OgrReader) and reader.plain_points()):
        # points: read as coordinates, no shapely point per row until one is needed
        try:
            return read_points(lay, reader, reader.point_batches(run), override, list(warnings), run)
        except NotPlainPoints:  # the file said points but holds other shapes
            pass

    parts: list[Any] = []
    # a big layer keeps its geometry as flat coordinates, not a shapely shape a row (zjmap.core.lazygeom)
    sink = None
    if LAZY_MIN_FEATURES is not None and reader.total >= LAZY_MIN_FEATURES and not reader.drop_null_columns:
        from zjmap.core.lazygeom import RaggedSink

        sink = RaggedSink()
    read_all = False
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
                cleaning.append(cleaner.submit(_clean, chunk, decision.transformer, on_chunk, sink))
            if len(cleaning) > 3:  # at most three raw chunks wait for the cleaner: the read's memory stays flat
                cleaning[-4].result()
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
        read_all = True
    finally:
        cleaner.shutdown(wait=True, cancel_futures=True)
        if sink is not None and not (read_all and done and decision is not None and parts):
            sink.discard()  # failed, cancelled or nothing kept: its file goes
            sink = None

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
    gdf: Any
    if sink is not None:
        column = sink.finish()
        attrs = (parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)).reset_index(drop=True)
        if isinstance(column, np.ndarray):  # mixed families or collections: shapely shapes, as before
            gdf = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(column, crs=WGS84), crs=WGS84)
        else:
            gdf = LazyFrame(attrs, column)
        geometry_types = sorted(_TYPE_NAMES[t] for t in sink.type_ids)
        fields = {str(c): str(attrs[c].dtype) for c in attrs.columns}
    else:
        gdf = _assemble(parts, reader)
        geometry_types = sorted(set(gdf.geom_type.dropna().unique()))
        fields = {c: str(gdf[c].dtype) for c in gdf.columns if c != gdf.geometry.name}
    if had_z:
        warnings.append("Heights (Z) and measures (M) were dropped: the map is two-dimensional.")
    if repaired:
        warnings.append(
            f"{repaired:,} invalid shape{'s were' if repaired != 1 else ' was'} repaired "
            "(e.g. self-intersecting polygons); check them if areas matter."
        )
    bounds84 = tuple(float(v) for v in gdf.total_bounds)
    warnings.extend(left_out_warnings(skipped, outside, decision.label, bounds84))  # type: ignore[arg-type]
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
        geometry_types=geometry_types,
        fields=fields,
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
# Geometry cleaning


_POLYGONAL = {"Polygon", "MultiPolygon"}
_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
               6: "MultiPolygon", 7: "GeometryCollection"}


def _clean(
    raw: gpd.GeoDataFrame, transformer: Transformer | None, on_chunk: Callable[[np.ndarray, Any], Any] | None = None,
    sink: Any = None,
) -> tuple[Any, int, int, int, bool]:
    """2D, valid, in EPSG:4326. Returns (gdf, repaired, emptied, unconvertible, had_z);
    ``on_chunk`` gets the geometries kept (see :func:`read_layer`). With a
    ``sink`` (:class:`~zjmap.core.lazygeom.RaggedSink`) the kept shapes go
    into it as flat coordinates and the first item is the attributes alone."""
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
    kept = geoms[keep]
    if sink is not None:
        piece = sink.add(kept)
        if on_chunk is not None:
            on_chunk(kept, piece)  # the display encoded from the coordinates taken out once
        return attrs.loc[keep], repaired, emptied, outside, had_z
    if on_chunk is not None:
        on_chunk(kept, None)
    out = gpd.GeoDataFrame(attrs.loc[keep], geometry=kept, crs=WGS84)
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
