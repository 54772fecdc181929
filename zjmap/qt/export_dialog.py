"""File → Export map… (Ctrl+E): the current view to PNG (+ world file), SVG or PDF.

The dialog only gathers options; :mod:`zjmap.core.export` draws. The view
comes from the page (``ZJ.view()``), the layers from the stack, the
highlight from the explorer. The plan (what to draw) is made on the UI
thread, the drawing and writing on a worker thread while a progress dialog
with Cancel keeps the window responsive.

``ExportDialog.run(path, …)`` runs an export with given options and no file
picker (tests and scripts use it); it returns an :class:`ExportJob`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QCheckBox,
    QVBoxLayout,
    QWidget,
)

from zjmap.core.export import ExportCancelled, ExportError, ExportResult, plan_export, render_plan, warm_up
from zjmap.page.protocol import parse_view
from zjmap.qt.worker import TaskState, Worker, close_progress, progress_dialog, start_worker

FORMATS = [("PNG 图片（带坐标 world file）", "png"), ("SVG 矢量图", "svg"), ("PDF 文档", "pdf")]
SCALES = [1, 2, 4]
#: The dialog's warm-up (imports, font, path arrays); an export waits for it
#: so the two never fill the same caches at once.
_WARM: Worker | None = None


def _render_after_warm_up(state: TaskState, plan: Any, path: Path) -> ExportResult:
    warm = _WARM
    if warm is not None and warm.thread is not None:
        warm.thread.join()
    return render_plan(plan, path, progress=state.set_progress, cancel=state.is_cancelled)


@dataclass(frozen=True)
class ExportSources:
    """What an export reads: the layers (``stack``), the view (``map`` asked
    first, ``camera`` when the page is not ready), the highlight
    (``explorer``), the legend texts (``catalogue``) and where it reports
    (``status_bar``)."""

    stack: Any
    map: Any = None
    camera: Any = None
    explorer: Any = None
    catalogue: Any = None
    status_bar: Any = None


class ExportController:
    """File → Export map… (Ctrl+E): ``action`` goes into the menu it is given,
    before ``before`` (the window's Quit). It exports what ``sources`` holds;
    ``parent`` is only the dialogs' parent."""

    def __init__(self, parent: QWidget, sources: ExportSources, menu, before: QAction | None = None):
        self.parent = parent
        self.sources = sources
        self.dialog: ExportDialog | None = None
        act = QAction("导出地图… Export map…", parent)
        act.setShortcut(QKeySequence("Ctrl+E"))
        act.setStatusTip("把当前地图导出为 PNG / SVG / PDF  Export the current map")
        act.triggered.connect(lambda: self.open_dialog())
        if before is not None and before in menu.actions():
            menu.insertAction(before, act)
            menu.insertSeparator(before)
        else:
            menu.addAction(act)
        self.action = act

    def open_dialog(self) -> "ExportDialog":
        if self.dialog is None:
            self.dialog = ExportDialog(self.parent, self.sources)
        dlg = self.dialog
        dlg.show()
        dlg.raise_()
        dlg.activateWindow()
        return dlg


class LayerListSnapshot:
    """The visible layers at one moment, for warm-up on another thread."""

    def __init__(self, stack: Any):
        self._layers = list(stack.visible_layers())

    def visible_layers(self) -> list[Any]:
        return self._layers


class ExportJob(QObject):
    """One export in flight: view → plan (UI thread) → render (worker thread)."""

    finished = Signal(object)  # ExportResult
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QWidget, sources: ExportSources, path: Path, options: dict[str, Any],
                 show_progress: bool = True):
        super().__init__(parent)
        self.parent_widget = parent
        self.sources = sources
        self.path = Path(path)
        self.options = options
        self.show_progress = show_progress
        self.result: ExportResult | None = None
        self.error: str | None = None
        self.was_cancelled = False
        self.done = False
        self.view: dict[str, Any] | None = None
        self._cancel_asked = False
        self.worker: Worker | None = None
        self._dialog: QProgressDialog | None = None
        self.started_at = time.perf_counter()

    # -- control ---------------------------------------------------------------
    def start(self, view: dict[str, Any] | None = None) -> None:
        if view is not None:
            self._with_view(view)
            return
        mapview = self.sources.map
        if mapview is None or not getattr(mapview, "is_ready", False):
            self._with_view(self._fallback_view())
            return
        answered = {"done": False}

        def got(res: Any) -> None:
            if answered["done"]:
                return
            answered["done"] = True
            self._with_view(parse_view(res) or self._fallback_view())

        def timeout() -> None:
            if not answered["done"]:
                answered["done"] = True
                self._with_view(self._fallback_view())

        mapview.call("view", callback=got)
        QTimer.singleShot(3000, timeout)

    def cancel(self) -> None:
        self._cancel_asked = True
        if self.worker is not None:
            self.worker.cancel()
        elif not self.done:
            self._finish_cancelled()

    # -- steps ---------------------------------------------------------------
    def _fallback_view(self) -> dict[str, Any]:
        """The last view the page reported, else Zhejiang at the map widget's size."""
        from zjmap.core.mappage import ZHEJIANG_BOUNDS

        w, s, e, n = ZHEJIANG_BOUNDS
        camera = self.sources.camera
        if camera is not None and camera.bounds is not None:
            w, s, e, n = camera.bounds
        mapview = self.sources.map
        width = mapview.width() if mapview is not None else 1000
        height = mapview.height() if mapview is not None else 700
        return {"w": w, "s": s, "e": e, "n": n, "width": width, "height": height, "zoom": None}

    def _with_view(self, view: dict[str, Any]) -> None:
        if self.done or self._cancel_asked:
            if not self.done:
                self._finish_cancelled()
            return
        self.view = view
        o = self.options
        selection = None
        if o.get("selection", True) and self.sources.explorer is not None:
            selection = self.sources.explorer.highlight_geojson()
        bbox = (float(view["w"]), float(view["s"]), float(view["e"]), float(view["n"]))
        try:
            if o["layout"] == "view":
                plan = plan_export(
                    self.sources.stack, self.path, bbox=bbox, width_px=int(round(view["width"])),
                    height_px=int(round(view["height"])), scale=o.get("scale", 1), title=o.get("title"),
                    selection_geojson=selection, fmt=o["fmt"], catalogue=self.sources.catalogue,
                )
            else:
                plan = plan_export(
                    self.sources.stack, self.path, bbox=bbox, page=o.get("page", "A4"),
                    landscape=o.get("landscape", False), dpi=o.get("dpi", 300), title=o.get("title"),
                    selection_geojson=selection, fmt=o["fmt"], catalogue=self.sources.catalogue,
                )
        except ExportError as exc:
            self._finish_failed(str(exc))
            return
        if self.show_progress:
            self._dialog = progress_dialog(self.parent_widget, "导出地图 Export map", "正在导出地图… Exporting map…",
                                           maximum=100, min_duration_ms=300, min_width=0, on_cancel=self.cancel)
        self.worker = start_worker(_render_after_warm_up, plan, self.path, name="zjmap-export",
                                   cancel_exceptions=(ExportCancelled,), keep_late_result=True,
                                   connect={"progress": self._on_progress, "result": self._on_result,
                                            "errored": self._on_errored, "cancelled": self._finish_cancelled})

    def _on_progress(self, frac: float, msg: str) -> None:
        dlg = self._dialog
        if dlg is None or self.done:
            return
        if msg:
            dlg.setLabelText(f"正在导出地图… Exporting map…\n{msg}")
        # a window-modal QProgressDialog processes events in setValue: the
        # export may finish (and close the dialog) inside this call
        dlg.setValue(int(frac * 100))

    def _close_dialog(self) -> None:
        close_progress(self._dialog)
        self._dialog = None

    def _on_errored(self, exc: BaseException) -> None:
        if isinstance(exc, ExportError):
            self._finish_failed(str(exc))
        else:  # show the planner, don't lose the window
            self._finish_failed(f"{type(exc).__name__}: {exc}")

    def _on_result(self, result: ExportResult) -> None:
        self._close_dialog()
        self.result = result
        self.done = True
        self._status(self._describe(result), 8000)
        self.finished.emit(result)

    def _describe(self, r: ExportResult) -> str:
        if r.size_px:
            size = f"{r.size_px[0]}×{r.size_px[1]} px"
        else:
            size = f"{r.page_mm[0]:g}×{r.page_mm[1]:g} mm" if r.page_mm else ""
        extra = "，含坐标文件 .pgw/.prj" if r.world_file else ""
        return f"已导出地图 Exported: {r.path} ({size}{extra}, {r.seconds:.1f} s)"

    def _finish_failed(self, msg: str) -> None:
        self._close_dialog()
        self.error = msg
        self.done = True
        self._status(f"导出失败 Export failed: {msg}", 10000)
        self.failed.emit(msg)

    def _finish_cancelled(self) -> None:
        self._close_dialog()
        self.was_cancelled = True
        self.done = True
        self._status("已取消导出 Export cancelled", 5000)
        self.cancelled.emit()

    def _status(self, text: str, ms: int) -> None:
        sb = self.sources.status_bar
        if sb is not None:
            sb.showMessage(text, ms)


class ExportDialog(QDialog):
    """Options for an export. ``run()`` exports without any file picker."""

    def __init__(self, parent: QWidget, sources: ExportSources):
        super().__init__(parent)
        self.parent_widget = parent
        self.sources = sources
        self.setWindowTitle("导出地图 Export map")
        self.setMinimumWidth(460)
        self.job: ExportJob | None = None

        self.fmt = QComboBox(self)
        for label, key in FORMATS:
            self.fmt.addItem(label, key)
        self.layout_view = QRadioButton("当前视图 Current view（地图铺满图片）", self)
        self.layout_page = QRadioButton("打印页面 Print page（标题、图例在页边）", self)
        group = QButtonGroup(self)
        group.addButton(self.layout_view)
        group.addButton(self.layout_page)
        self.layout_view.setChecked(True)
        self.scale = QComboBox(self)
        for s in SCALES:
            self.scale.addItem(f"{s}×", s)
        self.scale.setCurrentIndex(1)
        self.page = QComboBox(self)
        self.page.addItems(["A4", "A3"])
        self.orientation = QComboBox(self)
        self.orientation.addItem("纵向 Portrait", False)
        self.orientation.addItem("横向 Landscape", True)
        self.orientation.setCurrentIndex(1)
        self.dpi = QSpinBox(self)
        self.dpi.setRange(72, 600)
        self.dpi.setSingleStep(50)
        self.dpi.setValue(300)
        self.dpi.setSuffix(" dpi")
        self.title = QLineEdit(self)
        self.title.setPlaceholderText("地图标题（可选） Map title (optional)")
        self.selection = QCheckBox("包含选中要素的高亮 Include the selection highlight", self)
        self.selection.setChecked(True)
        self.path = QLineEdit(self)
        browse = QPushButton("浏览… Browse…", self)
        browse.clicked.connect(self._browse)
        path_row = QWidget(self)
        pr = QHBoxLayout(path_row)
        pr.setContentsMargins(0, 0, 0, 0)
        pr.addWidget(self.path, 1)
        pr.addWidget(browse)

        form = QFormLayout()
        form.addRow("格式 Format", self.fmt)
        form.addRow("版式 Layout", self.layout_view)
        form.addRow("", self.layout_page)
        form.addRow("倍率 Scale (PNG)", self.scale)
        form.addRow("纸张 Page", self.page)
        form.addRow("方向 Orientation", self.orientation)
        form.addRow("分辨率 Resolution (PNG)", self.dpi)
        form.addRow("标题 Title", self.title)
        form.addRow("", self.selection)
        form.addRow("文件 File", path_row)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("导出 Export")
        buttons.accepted.connect(self._export_clicked)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.note)
        from zjmap.core.cjkfonts import MISSING_MESSAGE, have_cjk_font

        self.font_warning = QLabel(MISSING_MESSAGE, self)  # only where no CJK font exists
        self.font_warning.setWordWrap(True)
        self.font_warning.setStyleSheet("color: #b00020;")
        self.font_warning.setVisible(not have_cjk_font())
        lay.addWidget(self.font_warning)
        lay.addWidget(buttons)

        self.fmt.currentIndexChanged.connect(self._format_changed)
        self.layout_view.toggled.connect(self._update_enabled)
        self.path.setText(str(self._default_dir() / f"zjmap-地图-{time.strftime('%Y%m%d-%H%M')}.png"))
        self._update_enabled()
        # imports, font and path arrays ready before the planner clicks Export
        # (the stack's layer list is copied here, on the UI thread)
        visible = LayerListSnapshot(sources.stack) if sources.stack is not None else None
        global _WARM
        _WARM = start_worker(warm_up, visible, name="zjmap-export-warm", pass_state=False)

    # -- widgets ---------------------------------------------------------------
    @staticmethod
    def _default_dir() -> Path:
        for loc in (QStandardPaths.StandardLocation.PicturesLocation, QStandardPaths.StandardLocation.HomeLocation):
            d = QStandardPaths.writableLocation(loc)
            if d and Path(d).is_dir():
                return Path(d)
        return Path.home()

    def _format_changed(self) -> None:
        key = self.fmt.currentData()
        # PNG: the current view; SVG/PDF: a print page (either can be changed)
        (self.layout_view if key == "png" else self.layout_page).setChecked(True)
        p = self.path.text().strip()
        if p:
            self.path.setText(str(Path(p).with_suffix("." + key)))
        self._update_enabled()

    def _update_enabled(self) -> None:
        view = self.layout_view.isChecked()
        png = self.fmt.currentData() == "png"
        self.scale.setEnabled(view and png)
        for w in (self.page, self.orientation):
            w.setEnabled(not view)
        self.dpi.setEnabled(not view and png)
        if view:
            self.note.setText("图片与屏幕上的地图同范围；PNG 旁写 .pgw/.prj 坐标文件（WGS-84 经纬度），可在 GIS 中直接叠加。")
        else:
            self.note.setText("页面含标题、图例、比例尺、指北针和资料来源；SVG/PDF 为矢量，中文可检索。")

    def _browse(self) -> None:
        key = self.fmt.currentData()
        filters = {"png": "PNG (*.png)", "svg": "SVG (*.svg)", "pdf": "PDF (*.pdf)"}
        path, _ = QFileDialog.getSaveFileName(self, "导出到 Export to", self.path.text(), filters[key])
        if path:
            if Path(path).suffix.lower() != "." + key:
                path = str(Path(path).with_suffix("." + key))
            self.path.setText(path)

    def options(self) -> dict[str, Any]:
        return {
            "fmt": self.fmt.currentData(),
            "layout": "view" if self.layout_view.isChecked() else "page",
            "scale": self.scale.currentData(),
            "page": self.page.currentText(),
            "landscape": bool(self.orientation.currentData()),
            "dpi": self.dpi.value(),
            "title": self.title.text().strip(),
            "selection": self.selection.isChecked(),
        }

    def _export_clicked(self) -> None:
        path = self.path.text().strip()
        if not path:
            QMessageBox.warning(self, "导出地图 Export map", "请选择文件 Choose a file to write.")
            return
        job = self.run(path, **self.options())
        job.failed.connect(lambda msg: QMessageBox.warning(self.parent_widget, "导出失败 Export failed", msg))
        self.accept()

    # -- the testable entry point ---------------------------------------------------
    def run(
        self,
        path: str | Path,
        fmt: str | None = None,
        layout: str | None = None,
        scale: int = 1,
        page: str = "A4",
        landscape: bool = False,
        dpi: int = 300,
        title: str = "",
        selection: bool = True,
        view: dict[str, Any] | None = None,
        show_progress: bool = True,
    ) -> ExportJob:
        """Export with these options, no file picker. Returns the running job.

        ``fmt`` defaults to the path's suffix; ``layout`` to "view" for PNG and
        "page" for SVG/PDF; ``view`` (w, s, e, n, width, height) to the page's
        current view (``ZJ.view()``).
        """
        p = Path(path)
        fmt = (fmt or p.suffix.lstrip(".") or "png").lower()
        layout = layout or ("view" if fmt == "png" else "page")
        opts = {"fmt": fmt, "layout": layout, "scale": scale, "page": page, "landscape": landscape,
                "dpi": dpi, "title": title, "selection": selection}
        job = ExportJob(self.parent_widget, self.sources, p, opts, show_progress=show_progress)
        self.job = job
        job.start(view)
        return job
