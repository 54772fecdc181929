"""Reading a vector layer through pyogrio in chunks (``skip_features`` /
``max_features``) so progress moves and cancel is honoured between chunks,
through Arrow when pyarrow is installed.

Part of :mod:`zjmap.core.userfiles` (``read_layer``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError, GeometryError
from pyproj import CRS
from pyproj.exceptions import CRSError

from zjmap.core import oddfiles as _odd
from zjmap.core.userfile_types import (
    UserFileError, _Layer, _Run, _Source, _detail, _kind, _layer_gone, _vanished,
)
from zjmap.core.shapefile_parts import _check_shapefile, _prj_crs, _shapefile_encoding


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
