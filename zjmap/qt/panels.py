"""Side panel: details, source text in context, figures as table and chart,
and the list of everything at a clicked place."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, QUrl
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from zjmap.core.describe import Describer
from zjmap.core.provenance import reflow
from zjmap.core.selection import SelectionState

FEATURE_ROLE = Qt.ItemDataRole.UserRole + 2
#: Most entries the "everything at this place" list shows (the count says the rest).
PLACE_LIST_MAX = 300


class SidePanel(QWidget):
    feature_chosen = Signal(str)  # a place-list entry was picked
    document_requested = Signal(str, int, int)  # seed, start, end

    def __init__(self, describer: Describer, parent=None):
        super().__init__(parent)
        self.describer = describer
        self.stack = describer.stack
        self.current_id: str | None = None
        self.charts = None  # created on first use: matplotlib is slow to import

        self.title = QLabel("点击地图上的要素 / Click a feature on the map", self)
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-weight:bold;font-size:14px;padding:4px")

        self.place_label = QLabel(self)
        self.place_list = QListWidget(self)
        self.place_list.itemActivated.connect(self._pick)
        self.place_list.itemClicked.connect(self._pick)
        self.place_box = QWidget(self)
        pl = QVBoxLayout(self.place_box)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.place_label)
        pl.addWidget(self.place_list)
        self.place_box.hide()

        self.tabs = QTabWidget(self)
        self.details = QTextBrowser(self)
        self.source = QTextBrowser(self)
        self.source.setOpenLinks(False)
        self.source.anchorClicked.connect(self._anchor)
        self.fig_widget = QWidget(self)
        self.fig_layout = QVBoxLayout(self.fig_widget)
        self.fig_split = QSplitter(Qt.Orientation.Vertical, self.fig_widget)
        self.table = QTableWidget(0, 5, self)
        self.table.setHorizontalHeaderLabels(["指标 Label", "数值 Value", "单位 Unit", "年份 Year", "原文 Quote"])
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.fig_split.addWidget(self.table)
        self.fig_layout.addWidget(self.fig_split)
        self.tabs.addTab(self.details, "详情 Details")
        self.tabs.addTab(self.source, "原文 Source")
        self.tabs.addTab(self.fig_widget, "数据 Figures")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.title)
        lay.addWidget(self.place_box)
        lay.addWidget(self.tabs, 1)

    # -- following the selection ---------------------------------------------
    def show_state(self, state: SelectionState) -> None:
        if state.place:
            unit = self.stack.feature(state.place) if self.stack.has_feature(state.place) else None
            name = unit.name if unit else state.place
            self.place_label.setText(f"{name}：此处共 {len(state.ids)} 项 / {len(state.ids)} features here")
            self.place_list.clear()
            # a big layer puts tens of thousands of features in a county: list the
            # first few hundred (the clicked one first) and say how many more
            ids = state.ids
            if len(ids) > PLACE_LIST_MAX:
                first = [state.focus] if state.focus in ids else []
                ids = first + [i for i in ids[:PLACE_LIST_MAX] if i != state.focus][:PLACE_LIST_MAX - len(first)]
            titles: dict[str, str] = {}
            for fid in ids:
                got = self.stack.feature_name(fid)  # a big table's row is not made into a feature
                if got is None:
                    continue
                name, lid = got
                title = titles.get(lid)
                if title is None:
                    title = titles[lid] = self.stack.layer(lid).title
                it = QListWidgetItem(f"{name}  —  {title}")
                it.setData(FEATURE_ROLE, fid)
                self.place_list.addItem(it)
                if fid == state.focus:
                    self.place_list.setCurrentItem(it)
            if len(state.ids) > len(ids):
                more = QListWidgetItem(f"…… 另有 {len(state.ids) - len(ids):,} 项，放大地图可逐一点选 / "
                                       f"{len(state.ids) - len(ids):,} more: zoom in to pick them")
                more.setFlags(Qt.ItemFlag.NoItemFlags)
                self.place_list.addItem(more)
            self.place_box.show()
            self.show_feature(state.focus or state.place)
        else:
            self.place_box.hide()
            self.show_feature(state.primary)

    def show_feature(self, fid: str | None) -> None:
        self.current_id = fid
        if fid is None or not self.stack.has_feature(fid):
            self.title.setText("点击地图上的要素 / Click a feature on the map")
            self.details.clear()
            self.source.clear()
            self._fill_figures([], None)
            return
        f = self.stack.feature(fid)
        d = self.describer
        layer = self.stack.layer(f.layer_id)
        self.title.setText(f"{f.name}  ·  {layer.title}")
        self.details.setHtml(d.details_html(f))
        self.source.setHtml(d.sources_html(f))
        self._fill_figures(d.figures(f), d.chart(f))

    def _fill_figures(self, rows, chart) -> None:
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            when = str(r.year) if r.year is not None else (r.period or "")
            notes = "；".join(x for x in (r.note, r.derived) if x)
            vals = [r.label, str(r.value), r.unit, when, reflow(r.quote or "") + (f"（{notes}）" if notes else "")]
            for j, v in enumerate(vals):
                item = QTableWidgetItem(v.replace("\n", ""))
                item.setToolTip(v)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()
        if chart is not None:
            if self.charts is None:
                from zjmap.qt.charts import ChartCanvas

                self.charts = ChartCanvas(self.fig_widget)
                self.fig_split.addWidget(self.charts)
            self.charts.show()
            self.charts.show_spec(chart)
        elif self.charts is not None:
            self.charts.show_spec(None)
            self.charts.hide()
        self.tabs.setTabText(2, f"数据 Figures ({len(rows)})")

    # -- user actions ----------------------------------------------------------
    def _pick(self, item: QListWidgetItem) -> None:
        fid = item.data(FEATURE_ROLE)
        if fid:
            self.feature_chosen.emit(fid)

    def _anchor(self, url: QUrl) -> None:
        s = url.toString()
        if s.startswith("doc:"):
            _, seed, start, end = s.split(":")
            self.document_requested.emit(seed, int(start), int(end))
