"""Table models over a layer's attribute frame, for tables of a million rows.

:class:`GdfModel` reads a frame lazily column by column. :class:`RowsModel`
adds what the attribute table needs (the rows the layer's filter keeps, a
text filter, sorting by a column) as one numpy array of row numbers, worked
out with pandas on whole columns. A ``QSortFilterProxyModel`` does the same
through a Python ``data()`` call per cell and comparison: the table of a
million points took six minutes to open (``setSortingEnabled`` sorts at once,
~16 data() calls a row) and each filter a Python call per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from zjmap.core.featurerows import column_values, value_getter


class GdfModel(QAbstractTableModel):
    """The attribute table of a GeoDataFrame: the cells shown read one by one
    (a million-row column is not turned into Python values to show 30 rows),
    whole columns only to sort or filter by them. Values as a feature's
    props hold them (zjmap.core.featurerows)."""

    def __init__(self, gdf, parent=None):
        super().__init__(parent)
        self.gdf = gdf  # a GeoDataFrame, or a point layer's attribute frame (no geometry column)
        geom = getattr(gdf, "_geometry_column_name", None)
        self.cols = [c for c in gdf.columns if c != geom]
        self._cache: dict[int, list[Any]] = {}
        self._cells: dict[int, Callable[[int], Any]] = {}

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.gdf)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.cols)

    def _col(self, c: int) -> list[Any]:
        """Every row's value of column ``c`` (made once)."""
        got = self._cache.get(c)
        if got is None:
            got = self._cache[c] = column_values(self.gdf[self.cols[c]])
        return got

    def _cell(self, c: int, row: int) -> Any:
        whole = self._cache.get(c)
        if whole is not None:
            return whole[row]
        get = self._cells.get(c)
        if get is None:
            get = self._cells[c] = value_getter(self.gdf[self.cols[c]])
        return get(row)

    def _row(self, row: int) -> int:
        """The frame's row shown at ``row``."""
        return row

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        v = self._cell(index.column(), self._row(index.row()))
        if role == Qt.ItemDataRole.DisplayRole:
            return display_text(v)
        if role == Qt.ItemDataRole.UserRole:  # sort key
            if isinstance(v, (int, float)) and not (isinstance(v, float) and v != v):
                return float(v)
            return "" if v is None or (isinstance(v, float) and v != v) else str(v)
        if role == Qt.ItemDataRole.TextAlignmentRole and isinstance(v, (int, float)):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return str(self.cols[section])
        return str(self._row(section) + 1)


def display_text(v: Any) -> str:
    """A cell as the table shows it (and as its text filter matches it)."""
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e15 else str(v)
    return str(v)


class RowsModel(GdfModel):
    """A frame's rows in an order, less hidden and filtered-out rows; ``order``
    holds the frame's row number of each row shown."""

    def __init__(self, gdf, parent=None):
        super().__init__(gdf, parent)
        n = len(gdf)
        self.order = np.arange(n, dtype=np.int64)
        self._hidden = np.zeros(n, dtype=bool)
        self._text = ""
        self._sort: tuple[int, Qt.SortOrder] = (-1, Qt.SortOrder.AscendingOrder)
        self._sorted: dict[tuple[int, bool], np.ndarray] = {}  # every row, sorted by a column

    def total(self) -> int:
        return len(self.gdf)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.order)

    def _row(self, row: int) -> int:
        return int(self.order[row])

    def set_hidden(self, rows: Any) -> None:
        """Leave out these frame rows (what the layer's filter hides)."""
        self._hidden = np.zeros(self.total(), dtype=bool)
        rows = np.asarray(rows, dtype=np.int64)
        self._hidden[rows[(rows >= 0) & (rows < self.total())]] = True
        self._arrange()

    def set_text(self, text: str) -> None:
        """Keep the rows with ``text`` in some cell as shown (any case)."""
        self._text = text
        self._arrange()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:  # noqa: D102 (Qt override)
        self._sort = (column, order)
        self._arrange()

    def _arrange(self) -> None:
        keep = ~self._hidden
        if self._text:
            keep &= self._matches(self._text)
        column, order = self._sort
        if 0 <= column < len(self.cols):
            rows = self._sorted_rows(column, order == Qt.SortOrder.DescendingOrder)
            rows = rows[keep[rows]]
        else:
            rows = np.flatnonzero(keep)
        self.beginResetModel()
        self.order = rows.astype(np.int64, copy=False)
        self.endResetModel()

    def _sorted_rows(self, column: int, descending: bool) -> np.ndarray:
        """Every frame row sorted by a column (stable, empty cells last), made once per column and direction."""
        got = self._sorted.get((column, descending))
        if got is None:
            import pandas as pd

            s = pd.Series(self.gdf[self.cols[column]].to_numpy(), copy=False).reset_index(drop=True)
            if not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)):
                s = pd.Series([None if display_text(v) == "" else display_text(v) for v in self._col(column)])
            got = s.sort_values(ascending=not descending, kind="stable", na_position="last").index.to_numpy()
            self._sorted[(column, descending)] = got
        return got

    def _matches(self, text: str) -> np.ndarray:
        import pandas as pd

        needle = text.casefold()
        hit = np.zeros(self.total(), dtype=bool)
        for c in range(len(self.cols)):
            shown = pd.Series([display_text(v) for v in self._col(c)], dtype=object)
            hit |= shown.str.casefold().str.contains(needle, regex=False).to_numpy(dtype=bool)
        return hit
