"""Big CSV tables through Arrow: parsed and typed in vectorised kernels.

:mod:`zjmap.core.userfiles` reads a planner's lon/lat table with pandas'
reader (every cell a Python string) and types each column by a regex per
value; at a million rows that took over ten seconds. These helpers do the
same in Arrow's multithreaded CSV reader and compute kernels and give the
same columns, types and values (tests/test_featurerows.py compares both on
one table); anything Arrow cannot take the same way returns None and goes
the pandas way.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

#: Tables longer than this (characters) are parsed by Arrow's CSV reader:
#: multithreaded, text straight into Arrow buffers (a million rows in well
#: under a second, against several with pandas' reader and a Python string
#: per cell). Smaller ones, and any table Arrow refuses, go through pandas.
ARROW_CHARS = 2_000_000
#: Columns longer than this are typed by Arrow's kernels (see :func:`infer_column`).
INFER_ROWS = 10_000


def degrees(s: pd.Series, arrow: bool = True) -> np.ndarray:
    """A lon/lat text column as numbers (NaN where not a number; "°" dropped)."""
    if arrow and len(s) > INFER_ROWS and hasattr(s.array, "__arrow_array__"):
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pc.utf8_trim_whitespace(pc.replace_substring(s.array.__arrow_array__(), "°", ""))
        try:  # every value a number (the usual case): one vectorised cast
            return pc.cast(pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr),
                           pa.float64()).to_numpy(zero_copy_only=False).astype(float)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return pd.to_numeric(s.str.strip().str.replace("°", "", regex=False), errors="coerce").to_numpy(float)


def header_names(text: str, delim: str, whole: bool = False) -> list[str] | None:
    """The column names of the table ``text`` begins with (``whole``: it is
    all of it), or None when Arrow should not read it (pandas renames
    duplicate and blank names, "a.1", "Unnamed: 0": leave those to it)."""
    end = text.find("\n")
    if end < 0 and not whole:
        return None  # a header line longer than the sample: the careful way
    names = [str(c) for c in next(csv.reader(io.StringIO(text[: end + 1 if end >= 0 else len(text)]), delimiter=delim), [])]
    if not names or len(set(names)) != len(names) or any(not c.strip() for c in names):
        return None
    return names


def read_arrow(text: str, delim: str, utf8: bytes | None = None, floats: tuple[str, ...] = ()) -> "pa.Table | None":
    """The table as Arrow text columns (every cell as written; UTF-8 checked
    by Arrow), or None when Arrow cannot read it the way pandas does
    (duplicate column names, ragged rows, not UTF-8…). ``text``: the table,
    or its beginning when ``utf8`` holds the whole file's bytes.
    ``floats``: columns parsed as numbers while reading (the coordinates: no
    text kept for them); None if one of them holds anything else."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = header_names(text, delim, whole=utf8 is None or len(text) == len(utf8))
    if names is None:
        return None
    try:
        return pacsv.read_csv(
            io.BytesIO(utf8 if utf8 is not None else text.encode("utf-8")),
            parse_options=pacsv.ParseOptions(delimiter=delim),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.float64() if c in floats else pa.string() for c in names},
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _ltrim(col: Any) -> Any:
    """skipinitialspace: leading blanks dropped, only where some value has one."""
    import pyarrow.compute as pc

    return pc.utf8_ltrim(col, characters=" ") if pc.any(pc.starts_with(col, " ")).as_py() else col


def read_table(text: str, delim: str, utf8: bytes | None = None) -> pd.DataFrame | None:
    """The table as text columns, as ``pd.read_csv(dtype=str,
    keep_default_na=False, skipinitialspace=True)`` gives it, or None (see :func:`read_arrow`)."""
    import pyarrow as pa

    table = read_arrow(text, delim, utf8)
    if table is None:
        return None
    return pa.table({c: _ltrim(table.column(c)) for c in table.column_names}).to_pandas()


def arrow_degrees(col: Any) -> np.ndarray:
    """:func:`degrees` of an Arrow text column: one cast when every cell is a plain number."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.cast(col, pa.float64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return degrees(col.to_pandas())  # "°", spaces or gaps: the careful way


def arrow_column(col: Any) -> pd.Series:
    """One attribute column of the table, typed as :func:`infer_column` and
    ``csvpoints._infer_column`` type it, straight from its Arrow text: a
    column of plain numbers in one cast (no trim, no regex per value), a
    text column decided on its first rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = pa.chunked_array([col]) if isinstance(col, pa.Array) else col
    head = pc.utf8_trim_whitespace(col.slice(0, 2000))
    head = pc.filter(head, pc.not_equal(head, ""))
    try:
        pc.cast(head, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _ltrim(col).to_pandas()  # some early value is not a number: text
    try:
        num = pc.cast(col, pa.float64())  # no blank, no space anywhere: plain numbers
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        got = infer_column(_ltrim(col).to_pandas())  # gaps or spaces: the careful way
        return got if got is not None else _ltrim(col).to_pandas()
    if pc.any(pc.match_substring_regex(col, r"^[+-]?0\d")).as_py() or pc.any(pc.is_nan(num)).as_py():
        return col.to_pandas()  # codes like "0571", or "nan" spelt out: text, as pandas keeps them
    out = num.to_numpy()
    if len(out) and (out % 1 == 0).all() and (np.abs(out) < 2**53).all():
        return pd.Series(out.astype("int64"))
    return pd.Series(out)


def infer_column(s: pd.Series) -> pd.Series | None:
    """``csvpoints._infer_column`` in Arrow's vectorised kernels (the regex per
    value and pandas' number parsing took seconds a million rows); None:
    not text Arrow can take, use the pandas way."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        if hasattr(s.array, "__arrow_array__"):  # Arrow text already: no copy
            arr = pc.cast(s.array.__arrow_array__(), pa.string())
        else:
            arr = pa.array(s.to_numpy(dtype=object), type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    vals = pc.utf8_trim_whitespace(arr)
    empty = pc.equal(vals, "")
    nonempty = pc.filter(vals, pc.invert(empty))
    if len(nonempty) == 0:
        return s
    if pc.any(pc.match_substring_regex(nonempty, r"^[+-]?0\d")).as_py():
        return s
    try:
        num = pc.cast(nonempty, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return s  # some value is not a number: the column is text
    if pc.any(pc.is_nan(num)).as_py():
        return s  # "nan" spelt out: pandas keeps that column as text too
    out = pc.cast(pc.if_else(empty, pa.scalar(None, pa.string()), vals), pa.float64()).to_numpy(zero_copy_only=False)
    out = pd.Series(out, index=s.index, name=s.name)
    if not out.isna().any() and (out % 1 == 0).all() and (out.abs() < 2**53).all():
        return out.astype("int64")
    return out
