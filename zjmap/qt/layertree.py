"""Layer tree: groups, visibility check boxes, opacity, legend swatches.

A view of the core LayerStack: toggling a box calls the stack, and the stack's
change events (not the widget) tell the map what to redraw.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QInputDialog, QTreeWidget, QTreeWidgetItem

from zjmap.core.layers import LayerStack, MapLayer
from zjmap.core.styling import LegendRow

LAYER_ROLE = Qt.ItemDataRole.UserRole + 1


def swatch(row: LegendRow, size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    c = QColor(row.color)
    if row.shape == "point":
        p.setBrush(QBrush(c))
        p.setPen(QPen(c.darker(130), 1))
        p.drawEllipse(2, 2, size - 4, size - 4)
    elif row.shape in ("line", "link"):
        pen = QPen(c, 3)
        if row.shape == "link":
            pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawLine(1, size - 3, size - 1, 3)
    else:
        fill = QColor(c)
        fill.setAlpha(120)
        p.setBrush(QBrush(fill))
        p.setPen(QPen(c, 1.5))
        p.drawRect(1, 1, size - 3, size - 3)
    p.end()
    return QIcon(pm)


class LayerTree(QTreeWidget):
    layer_activated = Signal(str)  # double-click: zoom to layer
    remove_requested = Signal(str)
    table_requested = Signal(str)
    filter_requested = Signal(str)  # Analysis → Filter… on this layer

    def __init__(self, stack: LayerStack, parent=None):
        super().__init__(parent)
        self.stack = stack
        self.setHeaderLabels(["图层 Layers"])
        self.setColumnCount(1)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.itemChanged.connect(self._item_changed)
        self.itemDoubleClicked.connect(self._double_clicked)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._updating = False
        self._contributors: list[Callable[[QMenu, MapLayer], None]] = []
        stack.subscribe(self._on_stack)
        self.rebuild()

    def _on_stack(self, event: str, layer_id: str) -> None:
        if event in ("added", "removed", "moved", "renamed", "styled"):
            self.rebuild()
        elif event == "visibility" and layer_id in self._items:
            self._updating = True
            self._items[layer_id].setCheckState(0, Qt.CheckState.Checked if self.stack.layer(layer_id).visible else Qt.CheckState.Unchecked)
            self._updating = False

    def rebuild(self) -> None:
        self._updating = True
        expanded = {self.topLevelItem(i).text(0): self.topLevelItem(i).isExpanded() for i in range(self.topLevelItemCount())}
        self.clear()
        self._items.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        # top of the list = top of the map, as in QGIS
        for layer in reversed(list(self.stack)):
            gname = layer.group_zh or ("我的图层" if layer.kind == "user" else "其他")
            if layer.kind == "user":
                gname = "我的图层 My layers"
            g = groups.get(gname)
            if g is None:
                g = QTreeWidgetItem(self, [gname if layer.kind == "user" else f"{gname}  {layer.group_en}".strip()])
                g.setFlags(Qt.ItemFlag.ItemIsEnabled)
                font = g.font(0)
                font.setBold(True)
                g.setFont(0, font)
                groups[gname] = g
            label = f"{layer.title}  ({len(layer.features)})"
            it = QTreeWidgetItem(g, [label])
            it.setData(0, LAYER_ROLE, layer.id)
            it.setToolTip(0, f"{layer.title_zh} / {layer.title_en}\n{layer.about.description_zh}")
            it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(0, Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
            self._items[layer.id] = it
            rows = layer.legend()
            if rows:
                it.setIcon(0, swatch(rows[0]))
            if len(rows) > 1:
                for row in rows:
                    leg = QTreeWidgetItem(it, [row.label])
                    leg.setIcon(0, swatch(row))
                    leg.setFlags(Qt.ItemFlag.ItemIsEnabled)
        for name, g in groups.items():
            key = g.text(0)
            g.setExpanded(expanded.get(key, True))
        self._updating = False

    def item_for(self, layer_id: str) -> QTreeWidgetItem:
        return self._items[layer_id]

    def _item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating:
            return
        lid = item.data(0, LAYER_ROLE)
        if lid:
            self.stack.set_visible(lid, item.checkState(0) == Qt.CheckState.Checked)

    def _double_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        lid = item.data(0, LAYER_ROLE)
        if lid:
            self.layer_activated.emit(lid)

    def highlight_layer(self, layer_id: str | None) -> None:
        self.clearSelection()
        if layer_id and layer_id in self._items:
            it = self._items[layer_id]
            it.setSelected(True)
            self.scrollToItem(it)

    # -- the layer menu -----------------------------------------------------------
    def add_menu_contributor(self, contribute: Callable[[QMenu, MapLayer], None]) -> None:
        """``contribute(menu, layer)`` adds its items for the clicked layer (after
        Filter…); controllers register here (user layers: Style…, Encoding / CRS…;
        tables: Choropleth…; server layers: Reconnect, Save to PostGIS…)."""
        self._contributors.append(contribute)

    def _menu(self, pos) -> None:
        item = self.itemAt(pos)
        lid = item.data(0, LAYER_ROLE) if item else None
        if not lid or lid not in self.stack:
            return
        self.exec_menu(self.menu_for(lid), self.viewport().mapToGlobal(pos))

    def exec_menu(self, menu: QMenu, global_pos) -> None:  # tests replace this: exec() blocks
        menu.exec(global_pos)

    def menu_for(self, lid: str) -> QMenu:
        """The one menu of a layer: the tree's own items, the contributors' in the middle."""
        stack = self.stack
        layer = stack.layer(lid)
        m = QMenu(self)
        m.addAction("缩放至图层 Zoom to layer", lambda: self.layer_activated.emit(lid))
        op = m.addMenu("不透明度 Opacity")
        for p in (100, 75, 50, 25):
            a = op.addAction(f"{p}%", lambda p=p: stack.set_opacity(lid, p / 100))
            a.setCheckable(True)
            a.setChecked(abs(layer.opacity - p / 100) < 1e-6)
        m.addAction("属性表 Attribute table", lambda: self.table_requested.emit(lid))
        m.addAction("筛选… Filter…", lambda: self.filter_requested.emit(lid))
        for contribute in self._contributors:
            contribute(m, layer)
        m.addSeparator()
        m.addAction("重命名 Rename…", lambda: self._rename(lid))
        m.addAction("上移 Move up", lambda: stack.move(lid, stack.ids().index(lid) + 1))
        m.addAction("下移 Move down", lambda: stack.move(lid, max(0, stack.ids().index(lid) - 1)))
        if layer.kind == "user":
            m.addSeparator()
            m.addAction("移除 Remove", lambda: self.remove_requested.emit(lid))
        return m

    def _rename(self, lid: str) -> None:
        layer = self.stack.layer(lid)
        text, ok = QInputDialog.getText(self, "重命名图层 Rename layer", "名称 Name:", text=layer.title)
        if ok and text.strip():
            self.stack.rename(lid, text.strip())
