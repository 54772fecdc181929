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

import numpy as np
import pandas as pd

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


def read_table(text: str, delim: str, utf8: bytes | None = None) -> pd.DataFrame | None:
    """The table as text columns, as ``pd.read_csv(dtype=str,
    keep_default_na=False, skipinitialspace=True)`` gives it, or None when
    Arrow cannot read it the same way (duplicate column names, ragged rows…)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    header = next(csv.reader(io.StringIO(text[: text.find("\n") + 1 or len(text)]), delimiter=delim), [])
    names = [str(c) for c in header]
    if not names or len(set(names)) != len(names) or any(not c.strip() for c in names):
        return None  # pandas renames these ("a.1", "Unnamed: 0"): leave them to it
    try:
        table = pacsv.read_csv(
            io.BytesIO(utf8 if utf8 is not None else text.encode("utf-8")),
            parse_options=pacsv.ParseOptions(delimiter=delim),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    cols = {}
    for c in names:  # skipinitialspace, only where some value starts with a space
        col = table.column(c)
        cols[c] = pc.utf8_ltrim(col, characters=" ") if pc.any(pc.starts_with(col, " ")).as_py() else col
    return pa.table(cols).to_pandas()


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
