"""Reading a vector layer through pyogrio in chunks so progress moves and
cancel is honoured between chunks: one streaming pass over pyogrio's
``open_arrow`` (a RecordBatch stream; GDAL keeps its cursor, so every batch
costs the same) when pyarrow is installed, ``skip_features`` /
``max_features`` reads otherwise (on a GeoPackage each skip re-walks the rows
before it, so that fallback is near-quadratic on big files).

Part of :mod:`zjmap.core.userfiles` (``read_layer``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError, GeometryError
from pyproj import CRS
from pyproj.exceptions import CRSError

from zjmap.core import oddfiles as _odd
from zjmap.core.userfile_types import (
    UserFileError, _Layer, _Run, _Source, _detail, _kind, _layer_gone, _vanished,
)
from zjmap.core.shapefile_parts import _check_shapefile, _prj_crs, _shapefile_encoding


T = TypeVar("T")

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
# pyogrio's RecordBatch stream (pyogrio ≥ 0.7 built against GDAL ≥ 3.6).
_STREAM = hasattr(pyogrio, "open_arrow")

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
        except (UnicodeDecodeError, DataSourceError, DataLayerError, RuntimeError, OSError, ValueError) as exc:
            raise self._translate(exc) from exc  # FileNotFoundError is an OSError

    def _translate(self, exc: BaseException) -> UserFileError:
        """The planner's message for a failure while reading (same as ``_read``)."""
        lay = self.lay
        if isinstance(exc, UnicodeDecodeError):
            return UserFileError(
                f"The attribute text of {lay.display} is not valid {self.encoding}; "
                "choose another encoding (Chinese files are usually GBK or UTF-8).", kind="encoding"
            )
        return _damaged_or_gone(lay, exc)

    def _arrow_batches(self, run: _Run, convert: Callable[[dict[str, Any], Any], T]) -> Iterator[T]:
        """One pass over GDAL's Arrow stream, ``chunk_size`` features a batch,
        each given to ``convert(meta, batch)``; failures in the planner's words."""
        lay = self.lay
        try:
            with pyogrio.open_arrow(
                lay.gdal_path, layer=lay.gdal_layer, encoding=self._gdal_encoding,
                batch_size=self.chunk_size, use_pyarrow=True, datetime_as_string=True,
            ) as (meta, stream):
                while True:
                    run.check_cancel()
                    if _layer_gone(lay):  # GDAL would read on from the unlinked file
                        raise _vanished(lay.display)
                    try:
                        batch = stream.read_next_batch()
                    except StopIteration:
                        return
                    yield convert(meta, batch)
        except (UnicodeDecodeError, FileNotFoundError, DataSourceError, DataLayerError, RuntimeError,
                OSError, ValueError) as exc:
            raise self._translate(exc) from exc

    def _stream(self, run: _Run) -> Iterator[gpd.GeoDataFrame]:
        return self._arrow_batches(run, _batch_frame)

    def plain_points(self) -> bool:
        """A layer of 2D points read in one stream: read as coordinates (zjmap.core.pointread)."""
        return self.chunked and _ARROW and _STREAM and self.geometry_type == "Point"

    def point_batches(self, run: _Run) -> Iterator[tuple[Any, np.ndarray, np.ndarray]]:
        """(attributes, x/y, has-a-point) per batch of GDAL's Arrow stream,
        the WKB read straight into numbers (zjmap.core.pointcolumn.wkb_points)."""
        return self._arrow_batches(run, _batch_points)

    def chunks(self, run: _Run) -> Iterator[gpd.GeoDataFrame]:
        if self.chunked and _ARROW and _STREAM:
            yield from self._stream(run)
            return
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


def _batch_frame(meta: dict[str, Any], batch: Any) -> gpd.GeoDataFrame:
    """One Arrow batch as the GeoDataFrame ``read_dataframe(use_arrow=True)``
    gives: pyogrio converts only whole tables, so its steps are repeated here
    per batch (WKB → shapely with invalid shapes fixed, ISO datetime text →
    datetimes through pyogrio's own parser)."""
    import shapely

    df, col = _batch_attrs(meta, batch)
    wkb = getattr(col, "storage", col).to_numpy(zero_copy_only=False) if col is not None else None
    geoms = shapely.from_wkb(wkb, on_invalid="fix") if wkb is not None else np.full(len(df), None, object)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index), crs=meta["crs"])


def _batch_points(meta: dict[str, Any], batch: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    """One Arrow batch of a point layer: (attributes, x/y float64 (n, 2), has-a-point)."""
    import shapely

    from zjmap.core.pointcolumn import wkb_points
    from zjmap.core.pointread import NotPlainPoints

    df, wkb = _batch_attrs(meta, batch)
    if wkb is None:
        raise NotPlainPoints()
    got = wkb_points(wkb)
    if got is None:  # Z, big-endian or odd rows: shapely reads this batch
        g = shapely.from_wkb(getattr(wkb, "storage", wkb).to_numpy(zero_copy_only=False), on_invalid="fix")
        t = shapely.get_type_id(g)
        if np.isin(t, (1, 2, 3, 4, 5, 6, 7)).any():
            raise NotPlainPoints()
        xy = np.column_stack([shapely.get_x(g), shapely.get_y(g)])
        got = xy, (t == 0) & np.isfinite(xy).all(axis=1)
    return df, got[0], got[1]


def _batch_attrs(meta: dict[str, Any], batch: Any) -> tuple[Any, Any]:
    """One Arrow batch's attributes as pandas (datetimes parsed as pyogrio
    does) and its WKB column (Arrow), or None when it has none."""
    from pyogrio.geopandas import _try_parse_datetime

    name = meta["geometry_name"] or "wkb_geometry"
    names = batch.schema.names
    col = None
    if name in names:
        col = batch.column(names.index(name))
        batch = batch.drop_columns([name])
    # the attributes copied out of GDAL's batch: pandas' Arrow text columns would keep
    # a view of it, and a view keeps the whole batch alive, its WKB too (420 MB of
    # a million parcels' batches held by their attribute text)
    import pyarrow as pa

    if batch.num_columns:  # (none: a shapefile without .dbf, whose rows the empty batch still counts)
        batch = pa.RecordBatch.from_arrays([pa.concat_arrays([c]) for c in batch.columns], schema=batch.schema)
    df = batch.to_pandas()
    for dtype, column in zip(meta["dtypes"], meta["fields"]):
        if dtype is not None and dtype.startswith("datetime") and dtype != "datetime64[D]" and column in df:
            df[column] = _try_parse_datetime(df[column], False, True)
    return df, col


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
    except GeometryError as exc:
        raise UserFileError(
            f"zjmap cannot load {lay.display}: its shape type ({_odd.geometry_type_name(exc)}) is one zjmap's "
            "reader does not handle; the file's other layers can still be loaded.", kind="not_map_data"
        ) from exc
    except (DataSourceError, DataLayerError, RuntimeError, OSError, ValueError) as exc:
        raise _damaged_or_gone(lay, exc) from exc


def _damaged_or_gone(lay: _Layer, exc: BaseException) -> UserFileError:
    """A read that failed: the file went away (moved, deleted) or it is damaged."""
    if isinstance(exc, FileNotFoundError) or _layer_gone(lay):
        return _vanished(lay.display)
    return UserFileError(
        f"zjmap could not read {lay.display}: the file is damaged or incomplete{_detail(exc)}.", kind="damaged"
    )
