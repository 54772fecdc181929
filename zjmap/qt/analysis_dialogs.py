"""Analysis menu: filter a layer, select by location, summarise by zone, buffer.

The work runs in :mod:`zjmap.core.analysis` on a worker thread
(:func:`~zjmap.qt.worker.start_worker`) behind the one progress dialog with
Cancel. A result that is a layer (a selection, a buffer, a summary) is
written to a GeoPackage under the data folder and loaded like any file, so
it draws, identifies, joins the workspace and survives a restart like one.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox,
                               QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QMessageBox, QPushButton, QTableView, QVBoxLayout, QWidget)

from zjmap.core.layerfilter import filter_mask, layer_table, with_filter
from zjmap.core.layers import MapLayer
from zjmap.core.livelayer import live_of
from zjmap.core.pgsource import is_pg
from zjmap.qt.layertree import LAYER_ROLE
from zjmap.qt.worker import close_progress, progress_dialog, start_worker

RELATIONS = [("相交 intersect", "intersects"), ("位于其内 are within", "within"),
             ("包含 contain", "contains"), ("在距离内 are within a distance of", "dwithin")]
# the analysis core (geopandas, pandas) is imported when a dialog runs, not at start-up
STATS = ("count", "sum", "mean", "min", "max", "length", "area")
STAT_LABELS = {"count": "计数 count", "sum": "合计 sum", "mean": "平均 mean", "min": "最小 min",
               "max": "最大 max", "length": "线长 length (km)", "area": "面积 area (km²)"}


def results_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    p = Path(base) / "zjmap" / "results"
    p.mkdir(parents=True, exist_ok=True)
    return p


def _safe_name(text: str) -> str:
    return re.sub(r"[\\/:*?\"<>|\s]+", "_", text).strip("_")[:60] or "result"


def named_layer(layer: MapLayer):
    """A stack layer as an analysis table; base units in their analysis version."""
    from zjmap.core.analysis_io import layer_frame, open_layer

    level = getattr(layer.source, "level", "") if layer.kind == "base" else ""
    if level:
        return open_layer(level)
    return layer_frame(layer)


def current_layer_id(ctl: "AnalysisActions") -> str | None:
    item = ctl.tree.currentItem()
    lid = item.data(0, LAYER_ROLE) if item is not None else None
    return lid if lid in ctl.stack else None


def _layer_combo(ctl: "AnalysisActions", want: Callable[[MapLayer], bool] = lambda _l: True, current: str | None = None) -> QComboBox:
    box = QComboBox()
    for layer in reversed(list(ctl.stack)):
        if layer.features and want(layer):
            box.addItem(f"{layer.title}  [{layer.id}]", layer.id)
    if current is not None:
        i = box.findData(current)
        if i >= 0:
            box.setCurrentIndex(i)
    return box


def _is_polygons(layer: MapLayer) -> bool:
    return layer.geometry == "polygon"


def _form_with_ok_cancel(dialog: QDialog, form: QFormLayout, on_ok) -> None:
    """Lay out a form above OK/Cancel: the run-on-OK dialogs look alike."""
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dialog)
    buttons.accepted.connect(on_ok)
    buttons.rejected.connect(dialog.reject)
    lay = QVBoxLayout(dialog)
    lay.addLayout(form)
    lay.addWidget(buttons)


# ---------------------------------------------------------------------------
# Running work


class Job:
    """One analysis on a worker with the progress dialog; ``on_result`` on the GUI thread."""

    def __init__(self, ctl: "AnalysisActions", title: str, fn: Callable[..., Any], on_result: Callable[[Any], None]):
        from zjmap.core.analysis import AnalysisCancelled
        from zjmap.core.userfile_types import LoadCancelled

        self.ctl = ctl
        self.title = title
        self.status = "running"
        self.on_result = on_result
        self.dialog = progress_dialog(ctl.parent_widget, title, title + "…", maximum=1000, on_cancel=self.cancel)
        self.worker = start_worker(fn, name="zjmap-analysis", cancel_exceptions=(AnalysisCancelled, LoadCancelled),
                                   connect={"progress": self._progress, "result": self._result,
                                            "errored": self._error, "cancelled": self._cancelled})

    def cancel(self) -> None:
        self.worker.cancel()

    def _progress(self, frac: float, msg: str) -> None:
        d = self.dialog
        if d is not None:
            if msg:
                d.setLabelText(msg)
            d.setValue(int(frac * 1000))

    def _close(self, status: str) -> None:
        close_progress(self.dialog)
        self.dialog = None
        self.status = status

    def _result(self, value: Any) -> None:
        self._close("done")
        self.on_result(value)

    def _error(self, exc: BaseException) -> None:
        self._close("failed")
        msg = str(exc) if isinstance(exc, ValueError) else f"分析失败 The analysis failed: {exc}"
        self.ctl.status_bar.showMessage(msg, 15000)
        self.ctl.last_error = msg
        QMessageBox.warning(self.ctl.parent_widget, "分析 Analysis", msg) if not self.ctl.quiet else None

    def _cancelled(self) -> None:
        self._close("cancelled")
        msg = f"已取消 Cancelled: {self.title}. 未添加结果 Nothing was added."
        self.ctl.last_message = msg
        self.ctl.status_bar.showMessage(msg, 10000)


def _progress_of(state) -> tuple[Callable[[float, str], None], Callable[[], bool]]:
    """The task's progress and cancel for the core: the state itself answers
    "cancelled?" and lets a database stop its statement the moment Cancel is
    pressed (:func:`zjmap.core.pgsql.cancellable`)."""
    return state.set_progress, state


# ---------------------------------------------------------------------------
# Filter


class FilterDialog(QDialog):
    """Type a filter or build it clause by clause; the count is live, errors show where."""

    OPS = ["=", "!=", ">", ">=", "<", "<=", "like", "in", "is null", "is not null"]

    def __init__(self, ctl: "AnalysisActions", layer: MapLayer):
        super().__init__(ctl.parent_widget)
        self.ctl = ctl
        self.layer = layer
        self.setWindowTitle(f"筛选 Filter — {layer.title}")
        self.table = layer_table(layer)
        self.text = QLineEdit(layer.style.get("filter", ""), self)
        self.text.setPlaceholderText("例 e.g.  产值 > 1000 and 行业 in ('纺织', '电子')")
        self.text.textChanged.connect(self.check)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        cols = [str(c) for c in self.table.columns]
        self.field = QComboBox(self)
        self.field.addItems(cols)
        self.op = QComboBox(self)
        self.op.addItems(self.OPS)
        self.value = QComboBox(self)
        self.value.setEditable(True)
        self.join = QComboBox(self)
        self.join.addItems(["and", "or"])
        add = QPushButton("添加条件 Add", self)
        add.clicked.connect(self.add_clause)
        self.field.currentTextChanged.connect(self._fill_values)
        self._fill_values(self.field.currentText())
        row = QHBoxLayout()
        for w in (self.join, self.field, self.op, self.value, add):
            row.addWidget(w)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.Reset, self)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Reset).setText("清除 Clear")
        buttons.button(QDialogButtonBox.StandardButton.Reset).clicked.connect(lambda: self.text.setText(""))
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("表达式 Expression:", self))
        lay.addWidget(self.text)
        lay.addLayout(row)
        lay.addWidget(self.status)
        lay.addWidget(buttons)
        self.resize(720, 200)
        self.check()

    def _fill_values(self, col: str) -> None:
        self.value.clear()
        if col in self.table.columns:
            vals = self.table[col].dropna().unique()[:200]
            self.value.addItems([str(v) for v in sorted(vals, key=str)])

    def clause(self) -> str:
        col, op, val = self.field.currentText(), self.op.currentText(), self.value.currentText()
        name = col if re.fullmatch(r"[^\W\d]\w*", col) else '"' + col.replace('"', '""') + '"'
        if op.startswith("is"):
            return f"{name} {op}"
        numeric = col in self.table.columns and self.table[col].dtype.kind in "iuf"

        def lit(v: str) -> str:
            v = v.strip()
            return v if numeric and re.fullmatch(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?", v) else "'" + v.replace("'", "''") + "'"

        if op == "in":
            return f"{name} in ({', '.join(lit(v) for v in val.split(','))})"
        if op == "like":
            return f"{name} like {lit(val if '%' in val or '_' in val else '%' + val + '%')}"
        return f"{name} {op} {lit(val)}"

    def add_clause(self) -> None:
        cur = self.text.text().strip()
        self.text.setText(f"{cur} {self.join.currentText()} {self.clause()}" if cur else self.clause())

    def check(self) -> bool:
        from zjmap.core.expr import ExprError

        text = self.text.text().strip()
        if not text:
            self.status.setText(f"无筛选：显示全部 {len(self.layer.features):,} 个要素 No filter: all features shown")
            return True
        try:
            keep = filter_mask(self.layer, text)
        except ExprError as exc:
            self.status.setText(f"<span style='color:#b00'>{exc}</span>")
            self.text.setCursorPosition(min(exc.pos, len(text)))
            return False
        self.status.setText(f"{int(keep.sum()):,} / {len(keep):,} 个要素符合 features match")
        return True

    def apply(self) -> None:
        if not self.check():
            return
        self.ctl.stack.set_style(self.layer.id, with_filter(self.layer.style, self.text.text()))
        tbl = self.ctl.user_layers.tables.get(self.layer.id) if self.ctl.user_layers is not None else None
        if tbl is not None:
            tbl.show_filtered()
        n = len(self.layer.features) - len(self.layer.hidden)
        self.ctl.status_bar.showMessage(f"筛选 Filter {self.layer.title}: {n:,} / {len(self.layer.features):,}", 8000)
        self.accept()


# ---------------------------------------------------------------------------
# Summary results


class SummaryWindow(QDialog):
    """The summary as a sortable table: copy, save as CSV or XLSX."""

    def __init__(self, parent, result, title: str):
        from zjmap.qt.tablerows import GdfModel

        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setWindowTitle(f"汇总 Summary — {title}")
        self.result = result
        self.model = GdfModel(result, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.view = QTableView(self)
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # zone order until a header is clicked
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        copy = QPushButton("复制 Copy", self)
        copy.clicked.connect(self.copy)
        save = QPushButton("另存为… Save as CSV / XLSX…", self)
        save.clicked.connect(lambda: self.save())
        row = QHBoxLayout()
        row.addWidget(QLabel(f"{len(result):,} 个分区 zones", self))
        row.addStretch(1)
        row.addWidget(copy)
        row.addWidget(save)
        lay = QVBoxLayout(self)
        lay.addWidget(self.view)
        lay.addLayout(row)
        self.resize(760, 520)

    def table_text(self) -> str:
        """What Copy puts on the clipboard: the rows as sorted now, tab-separated."""
        cols = self.model.cols
        lines = ["\t".join(map(str, cols))]
        for r in range(self.proxy.rowCount()):
            lines.append("\t".join(str(self.proxy.index(r, c).data() or "") for c in range(len(cols))))
        return "\n".join(lines) + "\n"

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.table_text())

    def save(self, path: str | None = None) -> Path | None:
        from zjmap.core.analysis_io import AnalysisError, write_result

        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "保存汇总 Save summary", str(Path.home() / "summary.xlsx"),
                                                  "Excel (*.xlsx);;CSV (*.csv)")
            if not path:
                return None
        try:
            return write_result(self.result, path)
        except AnalysisError as exc:
            QMessageBox.warning(self, "保存 Save", str(exc))
            return None


# ---------------------------------------------------------------------------
# Dialogs


class SummariseDialog(QDialog):
    def __init__(self, ctl: "AnalysisActions"):
        super().__init__(ctl.parent_widget)
        self.ctl = ctl
        self.setWindowTitle("分区汇总 Summarise by zone")
        cur = current_layer_id(ctl)
        self.data = _layer_combo(ctl, lambda l: l.kind != "base", cur)
        self.zones = _layer_combo(ctl, _is_polygons, "base_county")
        self.field = QComboBox(self)
        self.where = QLineEdit(self)
        self.where.setPlaceholderText("可选 optional, e.g. 产值 > 1000")
        self.checks: dict[str, QCheckBox] = {s: QCheckBox(STAT_LABELS[s], self) for s in STATS}
        self.checks["count"].setChecked(True)
        stats = QWidget(self)
        srow = QHBoxLayout(stats)
        srow.setContentsMargins(0, 0, 0, 0)
        for c in self.checks.values():
            srow.addWidget(c)
        self.data.currentIndexChanged.connect(self._data_changed)
        form = QFormLayout()
        form.addRow("数据 Data:", self.data)
        form.addRow("分区 Zones:", self.zones)
        form.addRow("字段 Field:", self.field)
        form.addRow("统计 Statistics:", stats)
        form.addRow("筛选 Where:", self.where)
        _form_with_ok_cancel(self, form, self.run)
        self._data_changed()

    def _data_changed(self, *_: Any) -> None:
        lid = self.data.currentData()
        self.field.clear()
        self.field.addItem("（无 none）", None)
        if lid is None:
            return
        layer = self.ctl.stack.layer(lid)
        table = layer_table(layer)
        for c in table.columns:
            if table[c].dtype.kind in "iuf":
                self.field.addItem(str(c), str(c))
        self.where.setText(layer.style.get("filter", ""))
        fam = {"point": "point", "line": "line", "link": "line", "polygon": "polygon"}.get(layer.geometry)
        self.checks["length"].setEnabled(fam == "line")
        self.checks["area"].setEnabled(fam == "polygon")
        self.checks["length"].setChecked(fam == "line")
        self.checks["area"].setChecked(fam == "polygon")

    def chosen_stats(self) -> list[str]:
        return [s for s, c in self.checks.items() if c.isChecked() and c.isEnabled()]

    def run(self) -> Job | None:
        from zjmap.core.analysis import AnalysisError, summarize
        from zjmap.core.analysis import column_name
        from zjmap.core.analysis_io import write_result, zones_of
        from zjmap.core.expr import ExprError, parse

        a = self.ctl
        data_layer = a.stack.layer(self.data.currentData())
        zone_layer = a.stack.layer(self.zones.currentData())
        field = self.field.currentData()
        stats = self.chosen_stats()
        where = self.where.text().strip()
        try:
            if where:
                parse(where).check_fields([str(c) for c in layer_table(data_layer).columns])
            if any(s in ("sum", "mean", "min", "max") for s in stats) and not field:
                raise AnalysisError("合计/平均/最小/最大 need a numeric field: choose one")
        except (ExprError, AnalysisError) as exc:
            QMessageBox.warning(self, "分区汇总 Summarise", str(exc)) if not a.quiet else None
            a.last_error = str(exc)
            return None
        self.accept()
        title = f"{data_layer.title} × {zone_layer.title}"

        live = live_of(data_layer)
        table = live.text if live is not None and is_pg(live.text) else None  # its view only is here

        def work(state):
            prog, cancel = _progress_of(state)
            prog(0.0, "读取图层 Reading layers")
            zones = zones_of(named_layer(zone_layer))
            if table is not None:
                from zjmap.core.pgsummary import summarize_table

                res = summarize_table(table, zones, field, stats, where or None, progress=prog, cancel=cancel)
            else:
                frame = named_layer(data_layer).frame
                if where:
                    frame = frame[parse(where).evaluate(frame.drop(columns=frame.geometry.name))]
                res = summarize(zones, frame, field, stats, progress=prog, cancel=cancel)
            path = results_dir() / f"{_safe_name(title)}_{time.strftime('%Y%m%d_%H%M%S')}.gpkg"
            write_result(res, path)
            return res, path

        def done(value):
            res, path = value
            a.summary_window = SummaryWindow(a.parent_widget, res, title)
            a.summary_window.show()
            stat_cols = [column_name(s, field) for s in stats]
            a.add_result_layer(path, title, stat_cols[0] if stat_cols else None)

        a.job = Job(a, "分区汇总 Summarising", work, done)
        return a.job


class SelectByLocationDialog(QDialog):
    """Features of layer A that intersect / are within / contain / are near layer B
    (all of it, or its selected feature) become a new layer."""

    def __init__(self, ctl: "AnalysisActions"):
        super().__init__(ctl.parent_widget)
        self.ctl = ctl
        self.setWindowTitle("按位置选择 Select by location")
        self.a = _layer_combo(ctl, current=current_layer_id(ctl))
        self.rel = QComboBox(self)
        for label, key in RELATIONS:
            self.rel.addItem(label, key)
        self.b = _layer_combo(ctl)
        self.only_selected = QCheckBox("只用 B 中选中的要素 Only B's selected feature", self)
        self.km = QDoubleSpinBox(self)
        self.km.setRange(0.0, 1000.0)
        self.km.setDecimals(2)
        self.km.setValue(5.0)
        self.km.setSuffix(" km")
        form = QFormLayout()
        form.addRow("选择 Select features of A:", self.a)
        form.addRow("它们 that:", self.rel)
        form.addRow("B:", self.b)
        form.addRow("", self.only_selected)
        form.addRow("距离 Distance:", self.km)
        _form_with_ok_cancel(self, form, self.run)

    def run(self) -> Job | None:
        from zjmap.core.analysis import AnalysisError, select_by_location
        from zjmap.core.analysis_io import write_result

        w = self.ctl
        a_layer, b_layer = w.stack.layer(self.a.currentData()), w.stack.layer(self.b.currentData())
        rel = self.rel.currentData()
        km = float(self.km.value()) if rel == "dwithin" else None
        focus = w.explorer.selection.state.focus
        b_ids = None
        if self.only_selected.isChecked():
            if not focus or not focus.startswith(b_layer.id + ":"):
                msg = f"B（{b_layer.title}）中没有选中的要素 Nothing of layer B is selected: click one on the map first"
                w.last_error = msg
                QMessageBox.warning(self, "按位置选择", msg) if not w.quiet else None
                return None
            b_ids = {focus}
        self.accept()
        title = f"{a_layer.title} {rel} {b_layer.title}" + (f" {km:g} km" if km else "")

        def work(state):
            prog, _cancel = _progress_of(state)
            prog(0.1, "选择 Selecting")
            a = named_layer(a_layer).frame
            if a_layer.hidden and a_layer.kind != "base":  # rows follow the features: the filter applies
                keep = np.ones(len(a), dtype=bool)
                keep[np.asarray(a_layer.hidden_rows, dtype=int)] = False
                a = a[keep]
            b_geoms = [f.geometry for f in b_layer.features if (b_ids is None or f.id in b_ids) and f.id not in b_layer.hidden]
            mask = select_by_location(a.geometry, np.array(b_geoms, dtype=object), rel, km)
            chosen = a[mask]
            if not len(chosen):
                raise AnalysisError(f"没有符合的要素 No feature of {a_layer.title} {rel} {b_layer.title}")
            path = results_dir() / f"{_safe_name(title)}_{time.strftime('%Y%m%d_%H%M%S')}.gpkg"
            write_result(chosen, path, layer_name="selection")
            return path, int(mask.sum()), len(a)

        def done(value):
            path, n, total = value
            w.status_bar.showMessage(f"选中 Selected {n:,} / {total:,}", 8000)
            w.add_result_layer(path, title)

        w.job = Job(w, "按位置选择 Selecting", work, done)
        return w.job


def buffer_selection(a: "AnalysisActions", km: float | None = None) -> Job | None:
    """The selected feature (or, with none, the current layer) grown by ``km`` into a new layer."""
    from PySide6.QtWidgets import QInputDialog

    from zjmap.core.measure import buffer_km

    focus = a.explorer.selection.state.focus
    if focus and a.stack.has_feature(focus):
        feats = [a.stack.feature(focus)]
        what = feats[0].name
    else:
        lid = current_layer_id(a)
        if lid is None:
            a.last_error = "先选中一个要素或图层 Select a feature or a layer first"
            a.status_bar.showMessage(a.last_error, 8000)
            return None
        layer = a.stack.layer(lid)
        feats = [f for f in layer.features if f.id not in layer.hidden]
        what = layer.title
    if km is None:
        km, ok = QInputDialog.getDouble(a.parent_widget, "缓冲区 Buffer", f"{what}: 距离 distance (km)", 1.0, 0.01, 500.0, 2)
        if not ok:
            return None

    def work(state):
        import geopandas as gpd

        from zjmap.core.analysis_io import write_result

        state.set_progress(0.2, "缓冲 Buffering")
        geoms = buffer_km(np.array([f.geometry for f in feats], dtype=object), km)
        gdf = gpd.GeoDataFrame({"name": [f.name for f in feats], "source_id": [f.id for f in feats],
                                "buffer_km": km}, geometry=list(geoms), crs="EPSG:4326")
        path = results_dir() / f"{_safe_name(what)}_buffer_{km:g}km_{time.strftime('%Y%m%d_%H%M%S')}.gpkg"
        write_result(gdf, path, layer_name="buffer")
        return path

    a.job = Job(a, "缓冲区 Buffering", work, lambda path: a.add_result_layer(path, f"{what} {km:g} km 缓冲区"))
    return a.job


# ---------------------------------------------------------------------------
# Installation


class AnalysisActions:
    """Per-window state of the Analysis menu (tests read ``job`` and ``last_error``)."""

    def __init__(self, parent, menu, stack, tree, explorer, status_bar, user_layers, measure):
        """``menu`` is the Analysis menu the window placed (after View, before
        Bookmarks and Help); ``actions`` are its entries, for window-wide shortcuts.
        The analyses read the ``stack``, the ``tree``'s current layer and the
        ``explorer``'s selection, report in ``status_bar``, load results
        through ``user_layers``; ``measure`` (a MeasureTool) ends the menu.
        ``parent`` is only the dialogs' parent."""
        self.parent_widget = parent
        self.stack = stack
        self.tree = tree
        self.explorer = explorer
        self.status_bar = status_bar
        self.user_layers = user_layers
        self.job: Job | None = None
        self.last_error: str | None = None
        self.last_message: str | None = None  # the last job's end said in the status bar
        self.quiet = False  # tests: no modal message boxes
        self.summary_window: SummaryWindow | None = None
        self.loads: list[Any] = []
        self.actions: list[QAction] = []
        items = [
            ("筛选… Filter…", "Ctrl+Shift+F", lambda: self.open_filter()),
            ("按位置选择… Select by location…", "Ctrl+Shift+L", self.open_select),
            ("分区汇总… Summarise by zone…", "Ctrl+Shift+U", self.open_summarise),
            ("缓冲区… Buffer…", "Ctrl+Shift+B", lambda: buffer_selection(self)),
        ]
        for text, keys, fn in items:
            act = QAction(text, parent)
            act.setShortcut(QKeySequence(keys))
            act.triggered.connect(fn)
            menu.addAction(act)
            self.actions.append(act)
        menu.addSeparator()
        self.measure = measure
        menu.addAction(self.measure.action)
        self.actions.append(self.measure.action)

    def add_result_layer(self, path: Path, title: str, graduate: str | None = None):
        """Load a result file as a layer; a summary comes as a choropleth of its first statistic."""
        from zjmap.core.classify import layer_choropleth
        from zjmap.qt.userlayers import LoadRequest

        w = self
        task = self.user_layers.load(LoadRequest(str(path)))
        self.loads.append(task)

        def loaded(*_: Any) -> None:
            lid = task.layer_id
            if not lid or lid not in w.stack:
                return
            w.stack.rename(lid, title)
            if graduate:
                layer = w.stack.layer(lid)
                try:
                    w.stack.set_style(lid, layer_choropleth(layer, graduate, "natural_breaks"))
                except (ValueError, KeyError):  # all zones empty: nothing to classify
                    pass

        task.finished.connect(loaded)
        return task

    def open_filter(self, layer_id: str | None = None) -> FilterDialog | None:
        lid = layer_id or current_layer_id(self)
        if lid is None:
            self.status_bar.showMessage("先在图层列表中选一个图层 Pick a layer in the layer list first", 8000)
            return None
        dlg = FilterDialog(self, self.stack.layer(lid))
        dlg.show()
        self.filter_dialog = dlg
        return dlg

    def open_summarise(self) -> SummariseDialog:
        self.summarise_dialog = SummariseDialog(self)
        self.summarise_dialog.show()
        return self.summarise_dialog

    def open_select(self) -> SelectByLocationDialog:
        self.select_dialog = SelectByLocationDialog(self)
        self.select_dialog.show()
        return self.select_dialog
