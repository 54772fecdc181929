"""The dialogs of a planner's own layers: read options (encoding / CRS), the
layer chooser, the style dialog and the attribute table. The style dialog and
the attribute table take the :class:`~zjmap.qt.userlayers.UserLayerController`
(its stack and ``select_and_zoom``; its parent widget as theirs)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from zjmap.core.layers import MapLayer, feature_id
from zjmap.qt.tablerows import RowsModel
from zjmap.core.userlayers import (
    USER_COLORS,
    category_fields,
    numeric_fields,
    style_categorical,
    style_graduated,
    style_single,
    with_labels,
)

if TYPE_CHECKING:
    from zjmap.core.userfiles import SourceInfo
    from zjmap.qt.userlayers import UserLayerController

ENCODINGS = [
    ("自动 Automatic", None),
    ("GBK / GB18030 (简体中文)", "GB18030"),
    ("UTF-8", "UTF-8"),
    ("Big5 (繁體中文)", "Big5"),
    ("Latin-1 (ISO-8859-1)", "ISO-8859-1"),
]
CRS_CHOICES = [
    ("自动 Automatic (file's own, else guessed)", None),
    ("EPSG:4326 WGS 84 经纬度", "EPSG:4326"),
    ("EPSG:4490 CGCS2000 经纬度", "EPSG:4490"),
    ("EPSG:4549 CGCS2000 3° 高斯-克吕格 CM 120°E", "EPSG:4549"),
    ("EPSG:4550 CGCS2000 3° 高斯-克吕格 CM 123°E", "EPSG:4550"),
    ("EPSG:4548 CGCS2000 3° 高斯-克吕格 CM 117°E", "EPSG:4548"),
    ("EPSG:4528 CGCS2000 3° zone 40 (带号)", "EPSG:4528"),
    ("EPSG:2385 西安80 Xi'an 1980 3° CM 120°E", "EPSG:2385"),
    ("EPSG:2437 北京54 Beijing 1954 3° CM 120°E", "EPSG:2437"),
    ("EPSG:3857 Web Mercator", "EPSG:3857"),
]






def _combo(choices: list[tuple[str, str | None]], current: str | None, editable: bool = True) -> QComboBox:
    box = QComboBox()
    box.setEditable(editable)
    for label, value in choices:
        box.addItem(label, value)
    if current:
        i = next((n for n, (_l, v) in enumerate(choices) if v and v.lower() == str(current).lower()), -1)
        if i < 0:
            box.addItem(str(current), str(current))
            i = box.count() - 1
        box.setCurrentIndex(i)
    return box


def _combo_value(box: QComboBox) -> str | None:
    i = box.currentIndex()
    text = box.currentText().strip()
    if i >= 0 and box.itemText(i) == text:
        return box.itemData(i)
    return text or None  # typed by hand: "EPSG:4547", "cp936"…


class ReadOptionsDialog(QDialog):
    """Encoding and coordinate system, chosen by hand."""

    def __init__(self, parent, encoding: str | None = None, crs: str | None = None, note: str = ""):
        super().__init__(parent)
        self.setWindowTitle("编码 / 坐标系 Encoding / CRS")
        lay = QVBoxLayout(self)
        if note:
            lab = QLabel(note, self)
            lab.setWordWrap(True)
            lab.setStyleSheet("color:#555")
            lay.addWidget(lab)
        form = QFormLayout()
        self.encoding = _combo(ENCODINGS, encoding)
        self.crs = _combo(CRS_CHOICES, crs)
        self.crs.setToolTip("也可输入 EPSG 代码 Or type an EPSG code, e.g. EPSG:4547")
        form.addRow("属性编码 Attribute encoding:", self.encoding)
        form.addRow("坐标系 Coordinate system:", self.crs)
        lay.addLayout(form)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.setMinimumWidth(460)

    def values(self) -> tuple[str | None, str | None]:
        return _combo_value(self.encoding), _combo_value(self.crs)


def ask_read_options(parent, encoding: str | None = None, crs: str | None = None, note: str = "") -> tuple[str | None, str | None] | None:
    dlg = ReadOptionsDialog(parent, encoding, crs, note)
    if dlg.exec() != QDialog.DialogCode.Accepted:
        return None
    return dlg.values()


class LayerChooser(QDialog):
    """Which layers of a GeoPackage / zip / FileGDB to add."""

    def __init__(self, parent, info: SourceInfo, encoding: str | None = None, crs: str | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"选择图层 Choose layers — {Path(info.path).name}")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("此文件包含多个图层，请选择要添加的图层：\nThis file holds several layers; tick the ones to add:", self))
        self.list = QListWidget(self)
        for li in info.layers:
            n = "?" if li.features is None else f"{li.features:,}"
            text = f"{li.name}    ({n} 个要素 features, {li.geometry_type or '表 table'}, {li.crs or '无坐标系 no CRS'})"
            it = QListWidgetItem(text, self.list)
            it.setData(Qt.ItemDataRole.UserRole, li.name)
            if li.problem:
                it.setFlags(Qt.ItemFlag.NoItemFlags)
                it.setToolTip(li.problem)
                it.setText(text + "  — 无法加载 cannot load")
            else:
                it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                it.setCheckState(Qt.CheckState.Checked)
        lay.addWidget(self.list)
        form = QFormLayout()
        self.encoding = _combo(ENCODINGS, encoding)
        self.crs = _combo(CRS_CHOICES, crs)
        form.addRow("属性编码 Encoding:", self.encoding)
        form.addRow("坐标系 CRS:", self.crs)
        lay.addLayout(form)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.resize(560, 360)

    def chosen(self) -> list[str]:
        out = []
        for i in range(self.list.count()):
            it = self.list.item(i)
            if it.flags() & Qt.ItemFlag.ItemIsUserCheckable and it.checkState() == Qt.CheckState.Checked:
                out.append(it.data(Qt.ItemDataRole.UserRole))
        return out


def choose_layers(parent, info: SourceInfo, encoding: str | None = None, crs: str | None = None):
    """(layer names, encoding, crs) the planner picked, or None."""
    dlg = LayerChooser(parent, info, encoding, crs)
    if dlg.exec() != QDialog.DialogCode.Accepted or not dlg.chosen():
        return None
    return dlg.chosen(), _combo_value(dlg.encoding), _combo_value(dlg.crs)


def _color_icon(color: str) -> QIcon:
    pm = QPixmap(16, 16)
    pm.fill(QColor(color))
    return QIcon(pm)


class StyleDialog(QDialog):
    """Single colour, categories by a field, graduated by a numeric field; labels."""

    def __init__(self, ctl: UserLayerController, layer: MapLayer):
        super().__init__(ctl.parent_widget)
        self.ctl = ctl
        self.layer_id = layer.id
        self.setWindowTitle(f"样式 Style — {layer.title}")
        st = layer.style or {}
        self.color = st.get("color") or USER_COLORS[0]
        lay = QVBoxLayout(self)
        grid = QGridLayout()
        self.kind = QButtonGroup(self)
        self.r_single = QRadioButton("单一颜色 Single colour", self)
        self.r_cat = QRadioButton("按类别 Categories by field", self)
        self.r_grad = QRadioButton("分级 Graduated by number", self)
        for i, r in enumerate((self.r_single, self.r_cat, self.r_grad)):
            self.kind.addButton(r, i)
            grid.addWidget(r, i, 0)
        self.color_btn = QPushButton(self.color, self)
        self.color_btn.setIcon(_color_icon(self.color))
        self.color_btn.clicked.connect(self._pick_color)
        grid.addWidget(self.color_btn, 0, 1)
        self.cat_field = QComboBox(self)
        for f, n in category_fields(layer):
            self.cat_field.addItem(f"{f}  ({n} 类)", f)
        if not self.cat_field.count():
            self.cat_field.addItem("（无合适字段 no field with 2–60 values）", None)
            self.r_cat.setEnabled(False)
        grid.addWidget(self.cat_field, 1, 1)
        gl = QHBoxLayout()
        self.num_field = QComboBox(self)
        for f in numeric_fields(layer):
            self.num_field.addItem(f, f)
        if not self.num_field.count():
            self.num_field.addItem("（无数值字段 no numeric field）", None)
            self.r_grad.setEnabled(False)
        self.classes = QSpinBox(self)
        self.classes.setRange(2, 7)
        self.classes.setValue(5)
        self.method = QComboBox(self)
        self.method.addItem("分位数 Quantiles", "quantile")
        self.method.addItem("等间距 Equal intervals", "equal")
        gl.addWidget(self.num_field, 2)
        gl.addWidget(QLabel("级 classes", self))
        gl.addWidget(self.classes)
        gl.addWidget(self.method, 1)
        gw = QWidget(self)
        gw.setLayout(gl)
        gl.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(gw, 2, 1)
        lay.addLayout(grid)
        ll = QHBoxLayout()
        self.labels = QCheckBox("标注 Labels from field:", self)
        self.label_field = QComboBox(self)
        fields = layer.table.columns
        for f in fields:
            self.label_field.addItem(f, f)
        ll.addWidget(self.labels)
        ll.addWidget(self.label_field, 1)
        lay.addLayout(ll)
        # current state
        kind = st.get("kind", "single")
        if kind == "categorical" and self.r_cat.isEnabled():
            self.r_cat.setChecked(True)
            self._select(self.cat_field, st.get("field"))
        elif kind == "graduated" and self.r_grad.isEnabled():
            self.r_grad.setChecked(True)
            self._select(self.num_field, st.get("field"))
            if st.get("breaks"):
                self.classes.setValue(max(2, min(7, len(st["breaks"]) - 1)))
        else:
            self.r_single.setChecked(True)
        lf = st.get("label_field") or layer.table.name_field
        self.labels.setChecked(bool(st.get("label_field")))
        self._select(self.label_field, lf)
        bb = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Apply | QDialogButtonBox.StandardButton.Cancel, self
        )
        bb.accepted.connect(self._ok)
        bb.rejected.connect(self.reject)
        bb.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        lay.addWidget(bb)
        self.setMinimumWidth(520)

    @staticmethod
    def _select(box: QComboBox, value: Any) -> None:
        i = box.findData(value)
        if i >= 0:
            box.setCurrentIndex(i)

    def _pick_color(self) -> None:
        c = QColorDialog.getColor(QColor(self.color), self, "颜色 Colour")
        if c.isValid():
            self.set_color(c.name())

    def set_color(self, color: str) -> None:
        self.color = color
        self.color_btn.setText(color)
        self.color_btn.setIcon(_color_icon(color))
        self.r_single.setChecked(True)

    def style(self) -> dict[str, Any]:
        layer = self.ctl.stack.layer(self.layer_id)
        if self.r_cat.isChecked() and self.cat_field.currentData():
            st = style_categorical(layer, self.cat_field.currentData())
        elif self.r_grad.isChecked() and self.num_field.currentData():
            st = style_graduated(layer, self.num_field.currentData(), self.classes.value(), self.method.currentData())
        else:
            st = style_single(self.color)
        st.setdefault("color", self.color)
        return with_labels(st, self.label_field.currentData() if self.labels.isChecked() else None)

    def apply(self) -> None:
        if self.layer_id in self.ctl.stack:
            self.ctl.stack.set_style(self.layer_id, self.style())

    def _ok(self) -> None:
        self.apply()
        self.accept()


class AttributeTable(QDialog):
    """Every feature's attributes; double-click a row to select it on the map."""

    def __init__(self, ctl: UserLayerController, layer: MapLayer):
        super().__init__(ctl.parent_widget)
        self.ctl = ctl
        self.layer_id = layer.id
        self.setWindowTitle(f"属性表 Attribute table — {layer.title}")
        self.setWindowFlag(Qt.WindowType.Window, True)
        gdf = layer.table.attributes  # a point layer's: no geometry made for the table
        self.model = RowsModel(gdf, self)  # filtered and sorted with whole columns, not per row
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("筛选 Filter (any field)…")
        self.filter.returnPressed.connect(self._apply_filter)
        self.count = QLabel(self)
        top.addWidget(self.filter, 1)
        top.addWidget(self.count)
        lay.addLayout(top)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the file's order first
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setDefaultSectionSize(130)
        self.view.doubleClicked.connect(self._activate)
        lay.addWidget(self.view)
        hint = QLabel("双击一行在地图上选中 Double-click a row to select it on the map", self)
        hint.setStyleSheet("color:#777")
        lay.addWidget(hint)
        self.show_filtered()
        self.resize(820, 480)

    def show_filtered(self) -> None:
        """Only the rows the layer's filter keeps (Analysis → Filter…)."""
        layer = self.ctl.stack.layer(self.layer_id)
        self.model.set_hidden(layer.hidden_rows)
        self._update_count()

    def _apply_filter(self) -> None:
        self.model.set_text(self.filter.text().strip())
        self._update_count()

    def _update_count(self) -> None:
        self.count.setText(f"{self.model.rowCount():,} / {self.model.total():,} 行 rows")

    def feature_id(self, row: int) -> str:
        return feature_id(self.layer_id, self.model.order[row])

    def _activate(self, index: QModelIndex) -> None:
        fid = self.feature_id(index.row())
        if self.ctl.stack.has_feature(fid):
            self.ctl.select_and_zoom(fid)
