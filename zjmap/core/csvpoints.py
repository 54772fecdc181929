"""CSV tables with lon/lat columns read as point layers: the text decoded
(UTF-8, else GBK/GB18030), the coordinate columns found by name and every
column typed.

Part of :mod:`zjmap.core.userfiles` (``read_layer``); big tables go through
:mod:`zjmap.core.csvarrow`.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from zjmap.core import csvarrow
from zjmap.core.userfile_types import UserFileError, _Layer, _Run, _Source, _vanished
from zjmap.core import userfile_readers as _readers
from zjmap.core.userfile_readers import _Reader


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


def _lonlat_columns(cols: list[str], disp: str) -> tuple[str, str]:
    lon = _find_col(cols, _LON_NAMES, "经度")
    lat = _find_col(cols, _LAT_NAMES, "纬度")
    if lon is None or lat is None or lon == lat:
        shown = ", ".join(cols[:12]) + (" …" if len(cols) > 12 else "")
        raise UserFileError(
            f"{disp} has no longitude/latitude columns zjmap recognises (it looks for lon/lng/"
            f"longitude/x/经度 and lat/latitude/y/纬度; the columns are: {shown}).", kind="not_map_data"
        )
    return lon, lat


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
        table = self._arrow_table(raw, encoding)
        if table is not None:  # the file's own UTF-8 bytes typed in Arrow's kernels, no Python text
            cols = [str(c).strip() for c in table.column_names]
            lon, lat = _lonlat_columns(cols, disp)
            x = csvarrow.arrow_degrees(table.column(cols.index(lon)))
            y = csvarrow.arrow_degrees(table.column(cols.index(lat)))
            attrs = pd.DataFrame({c: csvarrow.arrow_column(table.column(i))
                                  for i, c in enumerate(cols) if c not in (lon, lat)},
                                 index=pd.RangeIndex(table.num_rows))
        else:
            df = self._pandas_table(raw, encoding)
            cols = list(df.columns)
            lon, lat = _lonlat_columns(cols, disp)
            x, y = csvarrow.degrees(df[lon], _readers._ARROW), csvarrow.degrees(df[lat], _readers._ARROW)
            attrs = df.drop(columns=[lon, lat])
            for c in attrs.columns:
                attrs[c] = _infer_column(attrs[c])
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.any() and np.abs(y[ok]).max() > 90 and np.abs(x[ok]).max() <= 90:
            x, y = y, x
            self.warnings.append(
                f"In {disp} the columns {lon!r} and {lat!r} look swapped (latitudes over 90°); they were swapped back."
            )
        # the coordinates stay numbers: no shapely point per row (zjmap.core.pointcolumn)
        self.attrs = attrs
        self.xy = np.column_stack([x, y])
        self.ok = ok
        self.total = len(attrs)
        self.columns = (lon, lat)

    def _arrow_table(self, raw: bytes, encoding: str | None) -> Any:
        """A big UTF-8 table read by Arrow from its bytes (Arrow checks the
        UTF-8), or None: small, another encoding, or not a table Arrow reads as pandas does."""
        if not (_readers._ARROW and len(raw) > csvarrow.ARROW_CHARS and encoding in (None, "UTF-8")):
            return None
        if raw.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return None
        head = raw[:20000].decode("utf-8", "ignore")  # the sample for the delimiter (a cut character dropped)
        delim = self._delimiter(head)
        names = csvarrow.header_names(head, delim)
        if names is None:
            return None
        stripped = [c.strip() for c in names]
        try:
            lon, lat = _lonlat_columns(stripped, self.lay.display)
        except UserFileError:  # said by the careful way, from the decoded text
            return None
        # the coordinates parsed as numbers while reading; anything odd in them ("°", blanks): as text
        table = csvarrow.read_arrow(head, delim, raw, floats=(names[stripped.index(lon)], names[stripped.index(lat)]))
        if table is None:
            table = csvarrow.read_arrow(head, delim, raw)
        if table is not None:
            self.encoding = "UTF-8"
            self.encoding_reason = ("chosen by hand" if encoding else
                                    "the text is valid UTF-8" if not raw.isascii() else "all text is plain ASCII")
        return table

    def _delimiter(self, sample: str) -> str:
        try:
            return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            return "\t" if self.lay.file is not None and self.lay.file.suffix.lower() == ".tsv" else ","

    def _pandas_table(self, raw: bytes, encoding: str | None) -> pd.DataFrame:
        """The table as text columns, decoded in Python (GBK, a byte-order mark, small tables)."""
        disp = self.lay.display
        text, self.encoding, self.encoding_reason = _decode_text(raw, encoding, disp)
        delim = self._delimiter(text[:20000])
        # UTF-8 without a byte-order mark: Arrow parses the file's own bytes (no second encoding)
        as_utf8 = raw if self.encoding == "UTF-8" and not raw.startswith(codecs.BOM_UTF8) else None
        df = csvarrow.read_table(text, delim, as_utf8) if _readers._ARROW and len(text) > csvarrow.ARROW_CHARS else None
        try:
            if df is None:
                df = pd.read_csv(io.StringIO(text), sep=delim, dtype=str, keep_default_na=False, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise UserFileError(f"{disp} is not a readable table ({str(exc).splitlines()[0][:120]}).", kind="not_map_data") from exc
        df.columns = [str(c).strip().lstrip("\ufeff") for c in df.columns]
        return df

    def point_batches(self, run: _Run) -> Iterator[tuple[pd.DataFrame, np.ndarray, np.ndarray]]:
        for start in range(0, self.total, self.chunk_size):
            run.check_cancel()
            end = start + self.chunk_size
            yield self.attrs.iloc[start:end], self.xy[start:end], self.ok[start:end]

    def chunks(self, run: _Run) -> Iterator[gpd.GeoDataFrame]:
        for attrs, xy, ok in self.point_batches(run):
            geoms = np.full(len(attrs), None, dtype=object)
            geoms[ok] = shapely.points(xy[ok])
            yield gpd.GeoDataFrame(attrs, geometry=geoms)


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
    if _readers._ARROW and len(s) > csvarrow.INFER_ROWS:
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
