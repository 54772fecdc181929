"""Statistics tables in the window: File → Add table…, drops of .xlsx/.xls (and
CSVs without coordinates), the join preview with its match summary and
manual picks, and the choropleth style dialog with a histogram of the values.

Reading, matching and classifying are the Qt-free core's
(:mod:`zjmap.core.tables`, :mod:`zjmap.core.tablejoin`,
:mod:`zjmap.core.classify`); this module only shows them. Reading and matching
run on the worker helper with progress and Cancel (:mod:`zjmap.qt.table_jobs`):
the window stays live while a big workbook is read, and a cancelled or failed
read leaves the map and the preview as they were.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# the core's table modules import pandas: loaded on first use, not at start-up
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")  # = zjmap.core.tables' (a test checks)
TABLE_SUFFIXES = (".csv", ".txt", ".tsv", *EXCEL_SUFFIXES)

LEVEL_CHOICES = [("自动 Automatic", None), ("省级 Province", "province"), ("地级市 Prefecture", "prefecture"),
                 ("县级 County", "county")]
STATUS_LOOK = {
    "matched": ("已匹配 matched", "#e5f5e0"), "changed": ("区划变更 changed", "#fff3c4"),
    "fixed": ("手工 picked", "#deebf7"), "ambiguous": ("待定 ambiguous", "#fdd0a2"),
    "unmatched": ("未匹配 unmatched", "#fcbba1"), "outside": ("范围外 outside", "#eeeeee"),
    "total": ("合计行 total", "#f0f0f0"),
}
LEAVE_OUT = "（不用 leave out）"
PREVIEW_ROWS = 200


def _combo(items: list[tuple[str, object]], current: object = None) -> QComboBox:
    box = QComboBox()
    for label, data in items:
        box.addItem(label, data)
    i = box.findData(current)
    if i >= 0:
        box.setCurrentIndex(i)
    return box


class TableJoinDialog(QDialog):
    """Preview of a table and its match to the base, before the layer is made."""

    def __init__(self, ctl: "TableController", path: str, table, result):
        """``table`` and ``result``: the file read and matched (off the GUI thread, see TableController)."""
        from zjmap.core import tablejoin as J
        super().__init__(ctl.parent_widget)
        self.ctl = ctl
        self.path = str(path)
        self.fixes: dict[int, str | None] = {}
        self.table = table
        self.result: J.MatchResult | None = result
        self.layer_id: str | None = None
        self.job = None  # the Worker re-reading or re-matching, while it runs
        self.job_progress = None
        self._applied: dict = {}  # the controls as the shown result was made (a cancel goes back to them)
        self.setWindowTitle(f"添加表格 Add table — {Path(path).name}")
        self.resize(980, 720)
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.sheet = QComboBox()
        sheets = table.sheets
        for s in sheets:
            self.sheet.addItem(s, s)
        self.sheet.setEnabled(bool(sheets))
        self.header = QSpinBox()
        self.header.setRange(1, 999)
        self.key = QComboBox()
        self.parent_col = QComboBox()
        self.level = _combo(LEVEL_CHOICES)
        # or one of the planner's own layers (read from a file), by one of its fields
        from zjmap.core.layermodel import ReadSource, TableSource

        for layer in ctl.stack:
            if layer.kind == "user" and isinstance(layer.source, ReadSource) and not isinstance(layer.source, TableSource) \
                    and layer.table.attributes is not None:
                self.level.addItem(f"图层 Layer: {layer.title}", f"layer:{layer.id}")
        self.target_field = QComboBox()
        self.target_field.setEnabled(False)
        form.addRow("工作表 Sheet", self.sheet)
        form.addRow("表头行 Header row", self.header)
        form.addRow("键列 Key column (代码或名称 code or name)", self.key)
        form.addRow("上级列 Parent column", self.parent_col)
        form.addRow("连接到 Join to", self.level)
        form.addRow("图层字段 Layer field", self.target_field)
        lay.addLayout(form)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.preview = QTableWidget()
        self.preview.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        lay.addWidget(self.preview, 3)
        lay.addWidget(QLabel("未匹配 / 待定的行：选择对应单位 — rows to pick by hand:"))
        self.pending = QTableWidget(0, 4)
        self.pending.setHorizontalHeaderLabels(["行 Row", "键值 Key", "说明 Why", "单位 Unit"])
        self.pending.horizontalHeader().setStretchLastSection(True)
        lay.addWidget(self.pending, 2)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("加入地图 Add to map")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self._busy = False
        self._took_read(table, result)
        self.sheet.currentIndexChanged.connect(lambda _: self.reload(first=True))
        self.header.valueChanged.connect(lambda _: self.reload())
        self.key.currentIndexChanged.connect(lambda _: self.rematch())
        self.parent_col.currentIndexChanged.connect(lambda _: self.rematch())
        self.level.currentIndexChanged.connect(lambda _: self._target_changed())
        self.target_field.currentIndexChanged.connect(lambda _: self.rematch())

    # -- reading and matching (on the worker, see zjmap.qt.table_jobs) --------
    @property
    def idle(self) -> bool:
        """No re-read or re-match running (tests wait for it)."""
        return self.job is None

    def _match_args(self):
        from zjmap.qt.table_jobs import MatchArgs

        layer = self.target_layer()
        if layer is not None:
            fld = self.target_field.currentData()
            return MatchArgs(None, None, dict(self.fixes), layer.table.attributes[fld].tolist(), str(fld))
        return MatchArgs(self.level.currentData(), self.parent_col.currentData(), dict(self.fixes))

    def reload(self, first: bool = False, sheet: object = "current") -> bool:
        """Read the sheet again (a new sheet, or a header row given by hand), then match."""
        from zjmap.qt.table_jobs import MatchArgs, read_job

        if self._busy:
            return False
        if sheet == "current":
            sheet = self.sheet.currentData() if self.sheet.count() else None
        args = self._match_args()
        args = MatchArgs(args.level, None if args.values is None else args.parent, {}, args.values, args.field)
        self._start(f"读取 Reading {Path(self.path).name}…", read_job, self.path, sheet,
                    None if first else self.header.value(), args)
        return True

    def rematch(self) -> bool:
        from zjmap.qt.table_jobs import match_job

        if self._busy or self.table is None:
            return False
        self._start("匹配 Matching…", match_job, self.table, self.key.currentData(), self._match_args())
        return True

    def _start(self, label: str, fn, *args) -> None:
        from zjmap.qt.worker import progress_dialog, start_worker

        self._stop_job()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        self.job_progress = progress_dialog(self, "添加表格 Add table", label, on_cancel=self.cancel_job)
        self.job = start_worker(fn, *args, name="zjmap-table", connect={
            "progress": self._job_progress, "result": self._job_result, "errored": self._job_failed,
            "cancelled": self._job_cancelled})

    def cancel_job(self) -> None:
        """The progress dialog's Cancel: the preview goes back to what it showed."""
        if self.job is not None:
            self.job.cancel()

    def _stop_job(self) -> None:
        from zjmap.qt.worker import close_progress

        if self.job is not None:
            self.job.cancel()  # a newer choice wins; the old job's late signals are ignored
        self.job = None
        close_progress(self.job_progress)
        self.job_progress = None

    def _current(self) -> bool:
        return self.job is not None and self.sender() is self.job

    def _job_progress(self, fraction: float, message: str) -> None:
        if self._current() and self.job_progress is not None:
            self.job_progress.setLabelText(message)
            self.job_progress.setValue(int(fraction * 1000))

    def _job_result(self, value) -> None:
        from zjmap.core.tables import Table

        if not self._current():
            return
        self._stop_job()
        if isinstance(value, tuple) and isinstance(value[0], Table):
            self.fixes.clear()
            self._took_read(*value)
        else:
            self.result = value
            self._took_match()

    def _job_failed(self, exc) -> None:
        from zjmap.qt.table_jobs import failure_text

        if not self._current():
            return
        self._stop_job()
        self._revert()
        title, text = failure_text(exc)
        self._show()
        self.summary.setText(f"<b style='color:#b00'>{title}:</b> {text}<br>"
                             f"<span style='color:#555'>预览为上次的结果 — the preview shows the last good read.</span>")

    def _job_cancelled(self) -> None:
        if not self._current():
            return
        self._stop_job()
        self._revert()
        self._show()
        self.summary.setText("已取消，预览为上次的结果 — cancelled; the preview shows the last good read.<br>"
                             + self.summary.text())

    def _took_read(self, table, result) -> None:
        """A sheet read: its columns into the key and parent lists, the guessed key chosen."""
        self.table = table
        self._busy = True
        try:
            if table.sheet is not None:
                self.sheet.setCurrentIndex(self.sheet.findData(table.sheet))
            self.header.setValue(table.header_row)
            self.key.clear()
            self.parent_col.clear()
            for c in table.columns:
                self.key.addItem(c, c)
            self.parent_col.addItem("（自动 automatic）", None)
            self.parent_col.addItem("（无 none）", "")
            for c in table.columns:
                self.parent_col.addItem(c, c)
            self.key.setCurrentIndex(max(0, self.key.findData(result.key)))
        finally:
            self._busy = False
        self.result = result
        self._took_match()

    def _took_match(self) -> None:
        self._applied = {"sheet": self.sheet.currentIndex(), "header": self.header.value(),
                         "key": self.key.currentIndex(), "parent": self.parent_col.currentIndex(),
                         "level": self.level.currentIndex(), "field": self.target_field.currentIndex(),
                         "field_items": [self.target_field.itemData(i) for i in range(self.target_field.count())],
                         "fixes": dict(self.fixes)}
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(True)
        self._show()

    def _revert(self) -> None:
        """The controls back to what made the shown result."""
        a = self._applied
        if not a:
            return
        self._busy = True
        try:
            self.sheet.setCurrentIndex(a["sheet"])
            self.header.setValue(a["header"])
            self.key.setCurrentIndex(a["key"])
            self.parent_col.setCurrentIndex(a["parent"])
            self.level.setCurrentIndex(a["level"])
            self.target_field.clear()
            for d in a["field_items"]:
                self.target_field.addItem(str(d), d)
            self.target_field.setCurrentIndex(a["field"])
            self.target_field.setEnabled(self.target_layer() is not None)
            self.parent_col.setEnabled(self.target_layer() is None)
            self.fixes = dict(a["fixes"])
        finally:
            self._busy = False
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(self.result is not None)

    def target_layer(self):
        """The planner's layer chosen as the join target, or None (the base)."""
        lv = self.level.currentData()
        if isinstance(lv, str) and lv.startswith("layer:"):
            return self.ctl.stack.layer(lv[len("layer:"):])
        return None

    def _target_changed(self) -> None:
        layer = self.target_layer()
        self._busy = True
        self.target_field.clear()
        if layer is not None:
            for c in layer.table.columns:
                self.target_field.addItem(str(c), c)
            if layer.table.name_field in layer.table.columns:
                self.target_field.setCurrentIndex(self.target_field.findData(layer.table.name_field))
        self.target_field.setEnabled(layer is not None)
        self.parent_col.setEnabled(layer is None)
        self._busy = False
        self.fixes.clear()
        self.rematch()

    def _show(self) -> None:
        from zjmap.core import tablejoin as J
        r, t = self.result, self.table
        s = r.summary()
        lv = {"province": "省级", "prefecture": "地级市", "county": "县级",
              "layer": f"图层“{self.target_layer().title if self.target_layer() else ''}”的"}[r.level]
        notes = f"；注释行 {len(t.notes)} 条已略过" if t.notes else ""
        self.summary.setText(
            f"<b>{t.source_label}</b>：表头第 {t.header_row} 行{'（自动判断）' if t.header_guessed else ''}，"
            f"连接到{lv}单位{'（上级列：' + r.parent_column + '）' if r.parent_column else ''}。<br>"
            f"共 <b>{s['rows']}</b> 行 rows：匹配 matched <b>{s['matched']}</b>"
            f"（其中区划变更 changed {len(s['changed'])}，手工 picked {s['fixed']}），"
            f"未匹配 unmatched <b>{len(s['unmatched'])}</b>，待定 ambiguous <b>{len(s['ambiguous'])}</b>，"
            f"范围外 outside {len(s['outside'])}，合计行 totals {len(s['totals_skipped'])}{notes}。"
            + (f"<br>⚠ {len(s['matched_shared_names'])} 个名称底图外也有同名单位（未给上级列），已按底图单位匹配，"
               f"见预览中的提示 — names also used outside the map, matched to the map's unit (hover for details)."
               if s.get("matched_shared_names") else "")
            + "".join(f"<br>⚠ {a['key']}：{a['year']}年撤销，所辖县区分入{'、'.join(a['went_to'])} — abolished "
                      f"{a['year']}, split between them — 未匹配 not matched（可在下方手工指定 pick a unit below）"
                      for a in s.get("abolished", [])))
        cols = ["匹配 Match", "单位 Unit"] + list(t.columns)
        rows = r.rows[:PREVIEW_ROWS]
        self.preview.setColumnCount(len(cols))
        self.preview.setRowCount(len(rows))
        self.preview.setHorizontalHeaderLabels(cols)
        self.preview.setVerticalHeaderLabels([str(m.source_row) for m in rows])
        frame = t.frame
        for i, m in enumerate(rows):
            label, colour = STATUS_LOOK[m.status]
            cells = [label, m.name or ""] + ["" if v is None or v != v else str(v) for v in frame.iloc[m.row]]
            for c, text in enumerate(cells):
                it = QTableWidgetItem(text)
                it.setBackground(QColor(colour))
                if m.note:
                    it.setToolTip(m.note)
                self.preview.setItem(i, c, it)
        todo = [m for m in r.rows if m.status in ("unmatched", "ambiguous", "fixed")
                or (m.source_row in self.fixes)]
        self.pending.setRowCount(len(todo))
        g = J.gazetteer()
        if r.level == "layer":  # the layer's features by the join field's value
            fld = self.target_field.currentData()
            vals = self.target_layer().table.attributes[fld].tolist()
            units = [J.Unit(str(i), str(v), "layer", "", "") for i, v in enumerate(vals)]
        else:
            units = sorted(g.units[r.level], key=lambda u: (u.province, u.parent, u.adcode))
        for i, m in enumerate(todo):
            self.pending.setItem(i, 0, QTableWidgetItem(str(m.source_row)))
            self.pending.setItem(i, 1, QTableWidgetItem(m.key))
            why = QTableWidgetItem(m.note)
            why.setToolTip(m.note)  # the column is narrow; 巢湖市's "abolished 2011 …" is read in full here
            self.pending.setItem(i, 2, why)
            box = QComboBox()
            box.addItem(LEAVE_OUT, None)
            first = list(m.candidates)
            for u in first + [u for u in units if u not in first]:
                box.addItem(f"{u.parent} {u.name_zh}（{u.adcode}）" if u.level not in ("province", "layer") else
                            f"{u.name_zh}（{u.adcode}）" if u.level == "province" else
                            f"{u.name_zh}（第 {int(u.adcode) + 1} 个要素 feature）", u.adcode)
            current = self.fixes.get(m.source_row, m.adcode if m.status == "fixed" else None)
            box.setCurrentIndex(max(0, box.findData(current)))
            box.currentIndexChanged.connect(lambda _, b=box, row=m.source_row: self.fix_row(row, b.currentData()))
            self.pending.setCellWidget(i, 3, box)

    def fix_row(self, source_row: int, adcode: str | None) -> None:
        """The planner's pick for a row (None: leave it out); the match is redone."""
        if adcode is None:
            self.fixes.pop(source_row, None)
        else:
            self.fixes[source_row] = adcode
        self.rematch()

    def pending_combo(self, source_row: int) -> QComboBox:
        for i in range(self.pending.rowCount()):
            if self.pending.item(i, 0).text() == str(source_row):
                return self.pending.cellWidget(i, 3)
        raise KeyError(source_row)

    # -- result -----------------------------------------------------------------
    def spec(self) -> J.JoinSpec:
        from zjmap.core import tablejoin as J

        layer = self.target_layer()
        target = None
        if layer is not None:
            src = layer.source
            target = {"path": src.path, "layer": src.layer_arg if src.layer_arg is not None else src.layer,
                      "encoding": src.encoding_override, "crs": src.crs_override,
                      "field": self.target_field.currentData()}
        return J.JoinSpec(self.path, self.table.sheet, self.table.header_row, self.result.key, self.result.level,
                          None if layer is not None else self.parent_col.currentData(), dict(self.fixes), target)

    def accept(self) -> None:
        from zjmap.core import tablejoin as J
        from zjmap.core.tables import TableError
        if self.result is None or self.job is not None:
            return  # still reading or matching: the OK button is off until it is done
        if not any(m.adcode for m in self.result.rows):
            QMessageBox.warning(self, "没有匹配 Nothing matched",
                                "表中没有一行能与底图单位对应：请检查键列和连接层级。\n"
                                "No row matches a unit of the map: check the key column and the level.")
            return
        from zjmap.core.joinlayer import joined_layer
        from zjmap.core.userlayers import new_layer_id

        ctl = self.ctl
        try:
            spec = self.spec()
            if spec.target:  # the layer is loaded: no need to read its file again
                from zjmap.core.layerjoin import run_layer_join

                joined = run_layer_join(spec, self.table, self.target_layer().table.gdf)
            else:  # what was read and matched for the preview: nothing is read again
                joined = J.join_matched(spec, self.table, self.result)
            lid = new_layer_id(set(ctl.stack.ids()) | ctl.user_layers.reserved_ids())
            layer = joined_layer(joined, lid)
        except (TableError, KeyError, ValueError) as exc:
            QMessageBox.warning(self, "无法连接 Cannot join", str(exc.args[0] if exc.args else exc))
            return
        ctl.stack.add(layer)
        self.layer_id = lid
        s = joined.result.summary()
        ctl.status_bar.showMessage(
            f"已加入 Added {layer.title}: {s['matched']} / {s['rows']} 行匹配 rows matched", 15000)
        super().accept()

    def done(self, r: int) -> None:  # noqa: D401 - QDialog.done: closing stops a running job
        self._stop_job()
        super().done(r)


class HistogramCanvas(QWidget):
    """The values' histogram with the class breaks drawn on it (matplotlib)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        from zjmap.qt.charts import ChartCanvas

        self.canvas = ChartCanvas(self)
        self.canvas.setMinimumHeight(220)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.canvas)
        self.breaks: list[float] = []

    def draw(self, values, style: dict) -> None:
        from zjmap.core import classify as C
        counts, edges = C.histogram(values)
        fig = self.canvas.figure
        fig.clear()
        ax = fig.add_subplot(111)
        if counts:
            ax.stairs(counts, edges, fill=True, color="#9ecae1")
        self.breaks = list(style.get("breaks") or [])[1:-1]
        for b, col in zip(self.breaks, style.get("ramp", [])[1:]):
            ax.axvline(b, color="#333333", linewidth=1.2)
        ax.set_xlabel(str(style.get("field", "")))
        ax.set_ylabel("单位数 units")
        self.canvas.draw_idle()


class ChoroplethDialog(QDialog):
    """Field, classification, classes, ramp (manual breaks too), histogram and legend preview."""

    def __init__(self, ctl: "TableController", layer_id: str):
        from zjmap.core import classify as C
        super().__init__(ctl.parent_widget)
        from zjmap.core.userlayers import numeric_fields

        self.stack = ctl.stack
        self.layer_id = layer_id
        layer = self.stack.layer(layer_id)
        st = layer.style or {}
        self.setWindowTitle(f"分级设色 Choropleth — {layer.title}")
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.field = QComboBox()
        for f in numeric_fields(layer):
            if f != "table_row":
                self.field.addItem(f, f)
        self.field.setCurrentIndex(max(0, self.field.findData(st.get("field"))))
        self.scheme = _combo([(f"{zh} {en}", key) for key, (zh, en) in C.SCHEMES.items()], st.get("scheme", "quantiles"))
        self.k = QSpinBox()
        self.k.setRange(2, C.MAX_K)
        self.k.setValue(int(st.get("k", 5)))
        self.ramp = QComboBox()
        for r in C.ramps()["ramps"]:
            self.ramp.addItem(f"{r['name']} {r['title_zh']}" + ("" if r["colorblind_safe"] else "（非色盲友好 not colour-blind safe）"),
                              r["name"])
        self.ramp.setCurrentIndex(max(0, self.ramp.findData(st.get("ramp_name", C.default_ramp("quantiles")))))
        self.manual = QLineEdit(", ".join(f"{b:g}" for b in (st.get("manual_breaks") or [])))
        self.manual.setPlaceholderText("手工断点，如 50, 100, 200 — manual breaks")
        form.addRow("字段 Field", self.field)
        form.addRow("分级方法 Classification", self.scheme)
        form.addRow("级数 Classes", self.k)
        form.addRow("色带 Colours (ColorBrewer)", self.ramp)
        form.addRow("手工断点 Manual breaks", self.manual)
        lay.addLayout(form)
        self.hist = HistogramCanvas(self)
        lay.addWidget(self.hist)
        self.legend = QListWidget()
        lay.addWidget(self.legend)
        self.error = QLabel()
        self.error.setStyleSheet("color:#b00")
        lay.addWidget(self.error)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        for w in (self.field, self.scheme, self.ramp):
            w.currentIndexChanged.connect(lambda _: self.update_preview())
        self.k.valueChanged.connect(lambda _: self.update_preview())
        self.manual.editingFinished.connect(self.update_preview)
        self.style: dict | None = None
        self.update_preview()

    def _manual(self) -> list[float] | None:
        text = self.manual.text().replace("，", ",").strip()
        if not text:
            return None
        return [float(x) for x in text.split(",") if x.strip()]

    def update_preview(self) -> bool:
        from zjmap.core import classify as C
        from zjmap.core.styling import LayerStyler

        layer = self.stack.layer(self.layer_id)
        fld = self.field.currentData()
        if fld is None:
            self.error.setText("此图层没有数值字段 This layer has no numeric field.")
            return False
        try:
            self.style = C.layer_choropleth(layer, fld, self.scheme.currentData(), self.k.value(),
                                            self.ramp.currentData(), self._manual())
        except ValueError as exc:
            self.error.setText(str(exc.args[0] if exc.args else exc))
            self.style = None
            return False
        self.error.setText("")
        self.hist.draw([f.props.get(fld) for f in layer.features], self.style)
        self.legend.clear()
        for row in LayerStyler(self.style, layer.geometry, [f.props for f in layer.features]).legend():
            it = QListWidgetItem(row.label)
            it.setBackground(QColor(row.color))
            self.legend.addItem(it)
        return True

    def accept(self) -> None:
        if self.style is None and not self.update_preview():
            return
        self.stack.set_style(self.layer_id, self.style)
        super().accept()


# ---------------------------------------------------------------------------
# Installation


class TableController(QObject):
    """File → Add table… (Ctrl+T) in ``menu`` after ``after`` (Add layer with
    encoding / CRS…), table files dropped on ``drop_targets``, and Choropleth…
    in a user layer's menu in the layer tree (``contribute_menu``)."""

    def __init__(self, parent, menu, after: QAction | None, drop_targets: list[QWidget],
                 stack, status_bar, user_layers):
        """``parent`` owns the dialogs; joined layers go onto ``stack`` with ids
        clear of those ``user_layers`` is still loading."""
        super().__init__(parent)
        self.parent_widget = parent
        self.stack = stack
        self.status_bar = status_bar
        self.user_layers = user_layers
        self.dialogs: list[TableJoinDialog] = []  # tests drive the newest
        self.opening: dict = {}  # Worker -> TableOpen, while a table is read
        act = QAction("添加表格… Add table…", parent)
        act.setShortcut(QKeySequence("Ctrl+T"))
        act.setStatusTip("统计年鉴、普查表（Excel / CSV）按省、市、县连接到地图 Join a statistics table to the map")
        act.triggered.connect(self.add_table_dialog)
        acts = menu.actions()
        idx = acts.index(after) + 1 if after in acts else 0
        menu.insertAction(acts[idx] if idx < len(acts) else None, act)
        self.act_add_table = act
        self.drop_filter = _TableDropFilter(self)
        self.reach_inside(drop_targets)

    def reach_inside(self, widgets: list[QWidget]) -> None:
        """Table files dropped on these widgets too (see UserLayerController.reach_inside)."""
        for w in widgets:
            w.installEventFilter(self.drop_filter)

    def contribute_menu(self, menu, layer) -> None:
        if layer.kind == "user":
            menu.addAction("分级设色… Choropleth…", lambda: self.open_choropleth(layer.id))

    def add_table_dialog(self) -> None:
        import os

        from zjmap.qt.workspace_actions import make_settings

        settings = make_settings()
        start = str(settings.value("folders/table", "") or "")
        path, _ = QFileDialog.getOpenFileName(
            self.parent_widget, "添加表格 Add table", start if os.path.isdir(start) else str(Path.home()),
            "统计表 Tables (*.xlsx *.xls *.xlsm *.csv *.tsv *.txt);;所有文件 All files (*)")
        if path:
            settings.setValue("folders/table", str(Path(path).parent))  # remembered for next time
            self.open_table(path)

    def open_table(self, path: str, modal: bool = True) -> "TableOpen":
        """Read and match ``path`` on the worker (progress, Cancel), then show the preview.

        Returns the :class:`~zjmap.qt.table_jobs.TableOpen` at once; its ``dialog`` is
        set when the read is done. A file that is no table gets a message; a cancel
        or a failure adds nothing and leaves the map as it was."""
        from zjmap.qt.table_jobs import TableOpen, open_job
        from zjmap.qt.worker import progress_dialog, start_worker

        job = TableOpen(str(path), modal)
        job.progress = progress_dialog(self.parent_widget, "添加表格 Add table",
                                       f"读取 Reading {Path(path).name}…", on_cancel=lambda: job.worker.cancel())
        job.worker = start_worker(open_job, str(path), name="zjmap-table-open", connect={
            "progress": self._open_progress, "result": self._open_result, "errored": self._open_failed,
            "cancelled": self._open_cancelled})
        self.opening[job.worker] = job
        return job

    def _open_job(self):
        return self.opening.get(self.sender())

    def _open_progress(self, fraction: float, message: str) -> None:
        job = self._open_job()
        if job is not None and job.progress is not None:
            job.progress_seen.append((fraction, message))
            job.progress.setLabelText(message)
            job.progress.setValue(int(fraction * 1000))

    def _open_end(self, status: str):
        from zjmap.qt.worker import close_progress

        job = self.opening.pop(self.sender(), None)
        if job is not None:
            close_progress(job.progress)
            job.progress = None
            job.status = status
        return job

    def _open_result(self, value) -> None:
        job = self._open_end("opened")
        if job is None:
            return
        table, result = value
        dlg = TableJoinDialog(self, job.path, table, result)
        job.dialog = dlg
        self.dialogs.append(dlg)
        if job.modal:
            dlg.open()

    def _open_failed(self, exc) -> None:
        from zjmap.qt.table_jobs import failure_text

        job = self._open_end("failed")
        if job is None:
            return
        title, text = failure_text(exc)
        job.message = text
        QMessageBox.warning(self.parent_widget, title, text)

    def _open_cancelled(self) -> None:
        job = self._open_end("cancelled")
        if job is not None:
            self.status_bar.showMessage(f"已取消读取 Cancelled reading {Path(job.path).name}", 8000)

    def open_choropleth(self, layer_id: str, modal: bool = True) -> ChoroplethDialog:
        dlg = ChoroplethDialog(self, layer_id)
        if modal:
            dlg.open()
        return dlg


def _table_paths(mime) -> list[str]:
    """Dropped statistics tables: Excel files, and CSVs without coordinate columns
    (told from their first rows: the table itself is read on the worker)."""
    from zjmap.core.joinlayer import looks_like_point_file

    if mime is None or not mime.hasUrls():
        return []
    out = []
    for u in mime.urls():
        p = u.toLocalFile() if u.isLocalFile() else ""
        suf = Path(p).suffix.lower()
        if suf in EXCEL_SUFFIXES or (suf in TABLE_SUFFIXES and Path(p).is_file() and not looks_like_point_file(p)):
            out.append(p)
    return out


class _TableDropFilter(QObject):
    def __init__(self, ctl: TableController):
        super().__init__(ctl)
        self.ctl = ctl

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        t = event.type()
        if t in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            mime = event.mimeData()
            urls = mime.urls() if mime is not None and mime.hasUrls() else []
            if not urls or not all(Path(u.toLocalFile()).suffix.lower() in TABLE_SUFFIXES for u in urls):
                return False
            paths = _table_paths(mime) if t == QEvent.Type.Drop else [
                u.toLocalFile() for u in urls if Path(u.toLocalFile()).suffix.lower() in EXCEL_SUFFIXES]
            if not paths:
                return False  # CSVs with coordinates: the layer loader takes them
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            if t == QEvent.Type.Drop:
                for p in paths:
                    try:
                        self.ctl.open_table(p)
                    except Exception as exc:  # noqa: BLE001 - never let an odd file escape an event filter
                        QMessageBox.warning(self.ctl.parent_widget, "无法打开表格 Cannot open table",
                                            f"{Path(p).name}: {exc}")
            return True
        return False
