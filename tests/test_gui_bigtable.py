"""The attribute table of a big layer opens at once and filters and sorts with
whole columns (zjmap.qt.tablerows.RowsModel): a sort-filter proxy made a Python
call per cell, and a million-row table took minutes to open. The window is conftest's."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt

import zjmap.qt.userlayers as qul
from zjmap.core import layercache
from guitools import wait_until
from test_identify_big import points_csv  # noqa: F401  (the 60,000-point CSV)


def test_a_big_layers_table_opens_filters_and_sorts_like_pandas(win, points_csv, monkeypatch):  # noqa: F811
    monkeypatch.setattr(layercache, "enabled", False)
    path, t = points_csv
    task = qul.add_layer_from_path(win.user_layers, path)
    assert wait_until(lambda: task.done, 60_000) and task.status == "loaded", task.message
    lid = task.layer_id
    try:
        t0 = time.perf_counter()
        tbl = win.user_layers.open_table(lid)
        tbl.repaint()
        opened = time.perf_counter() - t0
        m = tbl.model
        cols = [m.headerData(i, Qt.Orientation.Horizontal) for i in range(m.columnCount())]
        assert m.rowCount() == len(t) and f"{len(t):,} / {len(t):,}" in tbl.count.text()
        name, value = cols.index("名称"), cols.index("value")
        assert m.index(0, name).data() == "兴趣点000000"  # the file's order first
        assert opened < 5.0, opened  # the proxy's first sort alone took ~40 s for 60,000 rows
        # a header click: sorted by value, largest first (the proxy's order: stable, ties in file order)
        tbl.view.sortByColumn(value, Qt.SortOrder.DescendingOrder)
        want = t.sort_values("value", ascending=False, kind="stable")
        assert [tbl.feature_id(r) for r in range(5)] == [f"{lid}:{k}" for k in want.index[:5]]
        assert float(m.index(0, value).data()) == t["value"].max()
        # the text filter (any field, as shown), still sorted
        tbl.filter.setText("兴趣点0001")
        tbl._apply_filter()
        sel = t[t["名称"].str.contains("兴趣点0001", regex=False)].sort_values("value", ascending=False, kind="stable")
        assert m.rowCount() == len(sel) == 100
        assert [tbl.feature_id(r) for r in range(m.rowCount())] == [f"{lid}:{k}" for k in sel.index]
        # the layer's filter hides rows in the table too
        dlg = win.analysis.open_filter(lid)
        dlg.text.setText("value >= 50")
        dlg.apply()
        assert wait_until(lambda: m.rowCount() == int((sel["value"] >= 50).sum()), 10_000)
        assert all(float(m.index(r, value).data()) >= 50 for r in range(m.rowCount()))
        dlg.close()
        tbl.filter.setText("")
        tbl._apply_filter()
        assert m.rowCount() == int((t["value"] >= 50).sum())
        # a double-click selects the row's point on the map
        tbl._activate(m.index(0, 0))
        assert wait_until(lambda: win.panel.current_id == tbl.feature_id(0), 5000)
        assert np.isclose(float(m.index(0, value).data()), t["value"].max())
    finally:
        win.tree.remove_requested.emit(lid)
        assert wait_until(lambda: lid not in win.stack, 5000)
