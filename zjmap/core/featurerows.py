"""A planner's big layer as a table, its features made on demand.

A file of a million points or polygons is kept the way it was read: one
attribute table (pandas columns, text in Arrow buffers) and one array of
shapely geometries. :class:`FeatureRows` is the layer's ``features``: a
sequence that makes a :class:`~zjmap.core.layers.MapFeature` (id, props,
geometry) only for the row asked for, for a click, the side panel, a search
hit. Keeping a Python dict of props and a feature object per row cost about
1 KB a feature (a GB for a million points) and seconds to build; the code
that goes over every feature (styles, labels, the search index, identify)
asks for whole columns instead (:meth:`FeatureRows.values_of`,
:attr:`FeatureRows.geoms`).

Feature ids stay ``"<layer_id>:<row>"``, so :meth:`FeatureRows.row_of` reads
the row back from an id without an index of a million strings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

import numpy as np

from zjmap.core.layers import MapFeature, feature_id
from zjmap.core.pointcolumn import PointColumn

__all__ = ["FeatureRows", "column_values", "value_getter"]


def column_values(s: Any) -> list[Any]:
    """Plain Python values of a column, as props hold them: NaN/NaT → None,
    dates → ISO text, numpy scalars → int/float, bytes → text."""
    import pandas as pd  # not at import time: the start-up path imports this module

    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return [None if pd.isna(v) else v.isoformat() for v in s]
    if pd.api.types.is_float_dtype(s.dtype):
        arr = s.to_numpy(dtype=float, na_value=np.nan)
        vals = arr.tolist()
        if np.isnan(arr).any():
            vals = [None if v != v else v for v in vals]
        return vals
    if pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        if s.isna().any():  # nullable ints
            return [None if pd.isna(v) else v for v in s.astype(object)]
        return s.tolist()
    if pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):  # text: the common case, fast
        if s.isna().any():
            return s.astype(object).where(s.notna(), None).tolist()
        return s.tolist()
    return [_plain(v) for v in s.tolist()]


def _plain(v: Any) -> Any:
    import pandas as pd

    if v is None or isinstance(v, (str, int, bool)):
        return v
    if isinstance(v, float):
        return None if v != v else v
    if isinstance(v, np.generic):
        return _plain(v.item())
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if np.ndim(v) == 0 and pd.isna(v):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def value_getter(s: Any) -> Callable[[int], Any]:
    """One row's plain value of a column, without converting the whole column."""
    import pandas as pd

    if pd.api.types.is_float_dtype(s.dtype):
        arr = s.to_numpy(dtype=float, na_value=np.nan)

        def get_float(i: int) -> Any:
            v = float(arr[i])
            return None if math.isnan(v) else v

        return get_float
    if (pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)) and not s.isna().any():
        arr = s.to_numpy()
        return lambda i: arr[i].item()
    arr = s.array  # Arrow text stays in its buffers: one value is taken out at a time
    if pd.api.types.is_string_dtype(s.dtype) and hasattr(arr, "__arrow_array__"):
        pa_arr = arr.__arrow_array__().combine_chunks()  # a tenth of pandas' per-item cost
        return lambda i: pa_arr[i].as_py()
    return lambda i: _plain(arr[i])


class FeatureRows(Sequence[MapFeature]):
    """``layer.features`` of a big user layer: rows of ``table`` (attributes,
    no geometry column) with ``geoms`` (shapely, WGS-84), made into
    :class:`MapFeature` on access. ``name_field``: the column copied into
    ``props["name"]`` when the table has no ``name`` column."""

    lazy = True  # LayerStack resolves these layers' ids by row, not from a registry

    def __init__(self, layer_id: str, table: Any, geoms: Any, name_field: str | None = None):
        if len(table) != len(geoms):
            raise ValueError(f"{len(table)} rows but {len(geoms)} geometries")
        self.layer_id = layer_id
        self.prefix = feature_id(layer_id, "")
        self.table = table
        self._n = len(geoms)
        #: the geometries as given: an array, or a column that makes them on
        #: first need (``geoms()`` all, ``geometry(k)`` one: a cached read,
        #: zjmap.core.layercache)
        self.column = geoms
        self.keys = [str(c) for c in table.columns]
        self.name_field = name_field if name_field in self.keys else None
        self._add_name = self.name_field is not None and "name" not in self.keys
        self._getters: list[Callable[[int], Any]] | None = None
        self._name_getters: list[Callable[[int], Any]] | None = None

    @property
    def geoms(self) -> np.ndarray:
        """Every row's shapely geometry (made now if the column defers them)."""
        col = self.column
        return col if isinstance(col, np.ndarray) else col.geoms()

    @property
    def points(self) -> PointColumn | None:
        """A point layer's coordinates (zjmap.core.pointcolumn): what drawing and
        identifying read instead of shapely points; None for other layers."""
        col = self.column
        return col if isinstance(col, PointColumn) else None

    # -- the sequence --------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, i: int) -> MapFeature: ...

    @overload
    def __getitem__(self, i: slice) -> list[MapFeature]: ...

    def __getitem__(self, i: int | slice) -> MapFeature | list[MapFeature]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = self._n
        k = int(i)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError(i)
        col = self.column  # one row's geometry, without making the others'
        return MapFeature(self.prefix + str(k), self.layer_id, self.props(k),
                          col[k] if isinstance(col, np.ndarray) else col.geometry(k))

    def __iter__(self) -> Iterator[MapFeature]:
        """Every feature, with its props taken column by column (much faster
        than row by row); each feature lives only as long as the caller keeps it."""
        n = self._n
        geoms = self.geoms
        step = 50_000
        for start in range(0, n, step):
            part = self.table.iloc[start:start + step]
            cols = [column_values(part[c]) for c in part.columns]
            for j, row in enumerate(zip(*cols) if cols else ([()] * len(part))):
                k = start + j
                yield MapFeature(self.prefix + str(k), self.layer_id, self._props(row), geoms[k])

    def __bool__(self) -> bool:
        return self._n > 0

    # -- rows ----------------------------------------------------------------
    def _props(self, row: Sequence[Any]) -> dict[str, Any]:
        props = dict(zip(self.keys, row))
        if self._add_name:
            v = props.get(self.name_field)  # type: ignore[arg-type]
            if v is not None:
                props["name"] = str(v)
        return props

    def props(self, k: int) -> dict[str, Any]:
        if self._getters is None:
            self._getters = [value_getter(self.table[c]) for c in self.table.columns]
        return self._props([get(k) for get in self._getters])

    def name(self, k: int) -> str:
        """Row ``k``'s :attr:`MapFeature.name` from its name columns alone (a
        list of a county's features names hundreds of rows; making each
        feature would read every column and make its geometry)."""
        if self._name_getters is None:
            cols = ["name_zh", self.name_field if self._add_name else "name", "name_en"]
            self._name_getters = [value_getter(self.table[self.table.columns[self.keys.index(c)]]) if c in self.keys
                                  else (lambda i: None) for c in cols]
        for get in self._name_getters:
            v = get(k)
            if v:
                return str(v)
        return self.prefix + str(k)

    def row_of(self, feature_id: str) -> int | None:
        """The row of one of this layer's feature ids, or None."""
        if not feature_id.startswith(self.prefix):
            return None
        tail = feature_id[len(self.prefix):]
        if not tail.isdigit():
            return None
        k = int(tail)
        return k if k < self._n else None

    def ids(self) -> Iterator[str]:
        p = self.prefix
        return (p + str(k) for k in range(self._n))

    # -- columns -------------------------------------------------------------
    def values_of(self, field: str) -> list[Any]:
        """Every row's plain value of ``field`` (None where missing; the
        name field for ``"name"`` when the table has no such column)."""
        if field == "name" and self._add_name:
            return [None if v is None else str(v) for v in column_values(self.table[self.name_field])]
        if field not in self.keys:
            return [None] * len(self)
        return column_values(self.table[self.table.columns[self.keys.index(field)]])

    def distinct_rows(self, fields: Sequence[str]) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Each row's index into the distinct combinations of ``fields``, and
        those combinations as small props dicts: what a style needs to tell
        features apart, decided once per combination instead of per row."""
        import pandas as pd

        codes = np.zeros(len(self), dtype=np.int64)
        values: list[list[Any]] = []  # per field: the plain value of each code
        for fld in fields:
            col = self.name_field if fld == "name" and self._add_name else fld
            if col not in self.keys:
                c, vals = np.zeros(len(self), dtype=np.int64), [None]
            else:
                c, uniq = pd.factorize(self.table[self.table.columns[self.keys.index(col)]], use_na_sentinel=True)
                vals = [None, *column_values(pd.Series(uniq))]  # code -1 (missing) → None
                if fld == "name" and self._add_name:
                    vals = [None if v is None else str(v) for v in vals]
                c = c.astype(np.int64) + 1
            values.append(vals)
            codes = codes * len(vals) + c
        combo = np.unique(codes)
        inverse = np.searchsorted(combo, codes)
        rows = []
        for code in combo.tolist():
            props: dict[str, Any] = {}
            for fld, vals in reversed(list(zip(fields, values))):
                code, j = divmod(code, len(vals))
                props[fld] = vals[j]
            rows.append(props)
        return inverse, rows
