"""A planner's own layers in the window: File → Add layer…, drag and drop,
the layer chooser, encoding/CRS override, style, attribute table, remove.

The main window builds :class:`UserLayerController` with the File menu, the
drop targets and what it works on (the stack, map view, camera, status bar
and the window's ``select_and_zoom``; the window itself only as the dialogs'
parent), keeps its actions and registers ``contribute_menu`` with the layer
tree's one menu.

Loading runs on a worker thread (``open_source``, ``read_layer`` and building
the MapLayer with its display arrays are Qt-free and thread-safe) behind a
window-modal progress dialog with Cancel. Only adding the finished layer to
the stack happens on the UI thread. A file that cannot be read is reported in
a message box in the reader's own plain words (:class:`UserFileError`), never
a traceback, and the stack is left exactly as it was.

The dialogs (read options, layer chooser, style, attribute table) are in
:mod:`zjmap.qt.userlayer_dialogs`.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QProgressDialog, QWidget

from zjmap.core import formats
from zjmap.core.layermodel import ReadSource
from zjmap.core.layers import MapLayer
from zjmap.core import layercache
from zjmap.core.memory import release_free_memory
from zjmap.core import userfiles_lazy as uf
from zjmap.core.pgsource import is_remote, source_title

if TYPE_CHECKING:
    from zjmap.core.userfiles import SourceInfo
from zjmap.core.userlayers import USER_COLORS, new_layer_id, user_layer
from zjmap.qt.layertree import LAYER_ROLE
from zjmap.qt.userlayer_dialogs import AttributeTable, StyleDialog, ask_read_options, choose_layers
from zjmap.qt.worker import TaskState, Worker, close_progress, progress_dialog, start_worker, warm_import

log = logging.getLogger(__name__)

#: What the file picker offers and what a drop accepts (zjmap.core.formats).
FILE_FILTER = formats.open_filter()
DROP_SUFFIXES = formats.drop_suffixes()
_SIDECARS = set(formats.SHAPEFILE_SIDECARS)

# ---------------------------------------------------------------------------
# Loading


@dataclass
class LoadRequest:
    path: str
    layer: str | int | None = None
    encoding: str | None = None
    crs: str | None = None
    replace_id: str | None = None  # reload this layer in place (encoding/CRS override)
    title: str | None = None


class LoadTask(QObject):
    """One file (one layer of it) being loaded. ``status``: "queued" →
    "running" → "loaded" | "cancelled" | "failed" | "chose" (a chooser
    was shown and the picked layers were queued as new tasks)."""

    finished = Signal(str)

    def __init__(self, ctl: "UserLayerController", req: LoadRequest):
        super().__init__(ctl)
        self.ctl = ctl
        self.req = req
        self.status = "queued"
        self.message: str | None = None
        self.layer_id: str | None = None
        self.fraction = 0.0
        self.timings: dict[str, float] = {}  # perf_counter() at each step (benchmarks read them)
        self.progress: QProgressDialog | None = None
        self.worker: Worker | None = None
        self.from_cache = False  # read from zjmap.core.layercache
        self.cache_as: tuple[str, dict] | None = None  # (key, meta) to keep it there once shown
        self.bounds: tuple[float, float, float, float] | None = None  # the layer's, WGS-84 (as read)
        self.full_display: Any = None  # reopened: the display to send once its coarse set is drawn
        # the chunks of a big file sent to the page while it is read (each owns its array file)
        self.chunks_shown: list[Any] = []

    @property
    def done(self) -> bool:
        return self.status not in ("queued", "running")

    # -- UI thread -----------------------------------------------------------
    def start(self) -> None:
        self.status = "running"
        self.timings["start"] = time.perf_counter()
        stack = self.ctl.stack
        name = Path(self.req.path).name
        self.progress = progress_dialog(self.ctl.parent_widget, "添加图层 Add layer", f"正在读取 Reading {name}…",
                                        on_cancel=self.cancel)
        if self.req.replace_id:
            self.layer_id = self.req.replace_id
        else:
            self.layer_id = new_layer_id(set(stack.ids()) | self.ctl.reserved_ids())
        color = USER_COLORS[self.ctl.count_user_layers() % len(USER_COLORS)]
        if self.req.replace_id and self.req.replace_id in stack:
            old = stack.layer(self.req.replace_id)
            color = old.style.get("color", color)
        self.worker = start_worker(self._work, color, name=f"zjmap-load-{name}", cancel_exceptions=(uf.LoadCancelled,),
                                   connect={"progress": self._on_progress, "result": self._on_result,
                                            "yielded": self._on_chunk,
                                            "errored": self._on_errored, "cancelled": self._on_cancelled})

    @property
    def thread(self):
        return self.worker.thread if self.worker is not None else None

    def _cancelled(self) -> bool:
        return self.worker is not None and self.worker.is_cancelled()

    def cancel(self) -> None:
        if not self.done and self.worker is not None:
            self.worker.cancel()
            if self.progress is not None:
                self.progress.setLabelText("正在取消 Cancelling…")

    def _on_progress(self, fraction: float, message: str) -> None:
        if self.done or self.progress is None:
            return
        self.fraction = fraction
        dlg = self.progress
        if not self._cancelled():
            dlg.setLabelText(f"{Path(self.req.path).name}\n{message}")
        # a window-modal QProgressDialog processes events in setValue: the
        # load may finish (and close the dialog) inside this call
        dlg.setValue(int(fraction * 1000))

    def _close_progress(self) -> None:
        close_progress(self.progress)
        self.progress = None

    def _on_chunk(self, value: tuple[dict, Any]) -> None:
        """A chunk of a big file read: drawn now, with those before it, until
        the layer itself is added (the first picture long before the read ends)."""
        spec, disp = value
        if self.done or self._cancelled():
            return
        self.timings.setdefault("first_chunk", time.perf_counter())
        self.chunks_shown.append(disp)
        self.ctl.map.call("addChunk", spec, None)

    def _finish(self, status: str) -> None:
        self.status = status
        if self.chunks_shown:
            self.chunks_shown = []  # their files go; the page has the layer's own arrays or nothing
            if status != "loaded" and self.layer_id is not None and self.layer_id not in self.ctl.stack:
                self.ctl.map.call("removeLayer", self.layer_id)  # what was drawn of a file that did not load
        self._close_progress()
        self.finished.emit(status)

    def _on_result(self, value: "MapLayer | SourceInfo") -> None:
        if self.worker is not None:
            self.worker.value = None  # the stack holds the layer; a finished task must not keep it alive
        if isinstance(value, MapLayer):
            self._on_loaded(value)
        else:
            self._on_choose(value)

    def _on_loaded(self, layer: MapLayer) -> None:
        try:
            self.timings["built"] = time.perf_counter()
            self.ctl.put_layer(layer, self.req, self.bounds)
            self.timings["added"] = time.perf_counter()
            if self.cache_as is not None:
                self.ctl.keep_in_cache(layer, *self.cache_as)
            if self.from_cache:
                self.ctl.reopened(layer, self.full_display)
                self.full_display = None
            else:  # geometry kept as flat coordinates (zjmap.core.lazygeom): shapes made once drawn, as reopened
                self.ctl.when_drawn(layer, lambda: self.ctl.prepare_geometry(layer))
        except Exception as exc:  # the stack refused it (say a clashing id): nothing changed
            log.exception("adding %s failed", self.req.path)
            self.message = f"{Path(self.req.path).name} was read but could not be added to the map ({exc})."
            self._finish("failed")
            self.ctl.show_error(self.message, False, self.req)
            return
        self._finish("loaded")

    def _on_choose(self, info: SourceInfo) -> None:
        self._close_progress()
        self.status = "chose"
        self.ctl.choose_from(info, self.req)
        self.finished.emit("chose")

    def _on_failed(self, message: str, offer: bool) -> None:
        self.message = message
        self._finish("failed")
        self.ctl.show_error(message, offer, self.req)

    def _on_cancelled(self) -> None:
        self._finish("cancelled")
        self.ctl.status_bar.showMessage(f"已取消加载 Cancelled loading {Path(self.req.path).name}", 5000)

    def _on_errored(self, exc: BaseException) -> None:
        req = self.req
        if isinstance(exc, uf.UserFileError):
            self._on_failed(str(exc), exc.kind in uf.OVERRIDABLE_KINDS)
        elif isinstance(exc, MemoryError):
            self._on_failed(f"{Path(req.path).name} is too big to load: the computer ran out of memory.", False)
        else:  # a bug or an unforeseen file: plain words, details in the log
            log.error("loading %s failed", req.path, exc_info=exc)
            self._on_failed(
                f"zjmap could not load {Path(req.path).name}: an unexpected problem occurred "
                f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}).",
                False,
            )

    # -- worker thread -------------------------------------------------------
    def _work(self, state: TaskState, color: str) -> "MapLayer | SourceInfo":
        req = self.req
        cancelled = state  # answers "cancelled?"; a server stops its statement at once (pgsql.cancellable)

        def read_progress(f: float, msg: str) -> None:
            state.set_progress(0.85 * f, msg)

        def build_progress(f: float, msg: str) -> None:
            state.set_progress(0.85 + 0.14 * f, msg)

        if is_remote(req.path):  # a big table or a web collection: only what the view needs
            from zjmap.core.livelayer import live_layer, open_live

            handle = open_live(req.path, crs=req.crs, cancel=cancelled)
            if handle is not None:
                state.set_progress(0.3, "Asking the server for the view")
                return live_layer(handle, req.path, self.layer_id or "user_x", title=req.title, color=color,
                                  view=self.ctl.camera.as_tuple(), cancel=cancelled)
        # an unchanged big file opened before: its table and display arrays from the cache
        # (looked up first: listing a CSV's or a GeoPackage's layers reads much of it; a
        # file with several layers to choose from is never kept under "no layer chosen")
        key = layercache.cache_key(req.path, req.layer, req.encoding, req.crs)
        hit = layercache.load(key) if key else None
        fmt = formats.by_suffix(Path(req.path).suffix)
        if req.layer is None and hit is None and not (fmt is not None and fmt.driver == "CSV"):
            # (a lon/lat table is one layer: listing it would parse it twice)
            info = uf.open_source(req.path)
            usable = [i for i in info.layers if i.problem is None]
            if len(usable) > 1:
                return info
        state.check()
        chunks: list[Any] = []
        if hit is not None:
            loaded = hit.loaded
            self.from_cache = True
        else:
            from zjmap.core.displaychunks import ChunkEncoder, chunk_spec

            encoder = ChunkEncoder()  # each chunk's display arrays, encoded while the next is read

            preview = not req.replace_id  # a layer read again in place keeps showing itself meanwhile

            def on_chunk(geoms: Any, ragged: Any = None) -> None:
                c = encoder.add(geoms, ragged)
                chunks.append(c)
                if preview and c is not None and (c.start > 0 or c.n >= uf.CHUNK_FEATURES):
                    state.send(chunk_spec(self.layer_id or "user_x", c, color))  # the file is written here

            loaded = uf.read_layer(req.path, layer=req.layer, encoding=req.encoding, crs=req.crs,
                                   progress=read_progress, cancel=cancelled, on_chunk=on_chunk)
            if key and loaded.features >= layercache.MIN_FEATURES:
                self.cache_as = (key, layercache.meta_of(loaded))
        self.bounds = loaded.bounds_wgs84
        self.timings["read"] = time.perf_counter()
        state.set_progress(0.85, f"Preparing {loaded.features:,} features for the map")
        source = ReadSource(str(req.path), layer=loaded.name, layer_arg=req.layer, encoding_override=req.encoding,
                            crs_override=req.crs)
        title = req.title or _title_for(req, loaded.name)
        display = None
        if hit is not None:  # the coarsest set first when kept apart: a smaller file for the page to read
            display = hit.first or hit.display
            self.full_display = hit.display if hit.first is not None else None
        layer = user_layer(loaded, self.layer_id or "user_x", title=title, source=source, color=color,
                           progress=build_progress, cancel=cancelled, display=display,
                           table=hit.table if hit else None, chunks=chunks)
        del loaded, hit, chunks
        if not self.from_cache:
            release_free_memory()  # the read's temporaries: back to the system, not kept at the peak
        state.check()
        return layer


def _title_for(req: LoadRequest, layer_name: str) -> str:
    stem = source_title(req.path)
    if req.layer is not None and str(layer_name) != stem:
        return f"{stem} — {layer_name}"
    return str(layer_name) or stem


class UserLayerController(QObject):
    """Per-window: the load queue, the dialogs, the layer menu for user layers."""

    bands_added = Signal(str)  # a big layer's simplified zoom bands reached the map

    def __init__(self, parent, menu, drop_targets: list[QWidget], stack, map_view, camera, status_bar,
                 select_and_zoom: Callable[[str], None]):
        """``menu``: File, where Add layer… (Ctrl+O) and Add layer with encoding /
        CRS… go first; files dropped on ``drop_targets`` are loaded. ``parent``
        owns the dialogs; loaded layers go onto ``stack``, the map view shows
        their zoom bands and is moved to a layer out of the ``camera``'s view,
        the status bar says what was loaded, and a double-clicked row of an
        attribute table goes to ``select_and_zoom(feature_id)``."""
        super().__init__(parent)
        self.parent_widget = parent
        self.stack = stack
        self.map = map_view
        self.camera = camera
        self.status_bar = status_bar
        self.select_and_zoom = select_and_zoom
        act = QAction("添加图层… Add layer…", parent)
        act.setShortcut(QKeySequence("Ctrl+O"))
        act.setStatusTip("添加自己的数据：Shapefile、GeoPackage、GeoJSON、KML、CSV… Add your own data")
        act.triggered.connect(self.add_layer_dialog)
        act2 = QAction("添加图层（指定编码 / 坐标系）… Add layer with encoding / CRS…", parent)
        act2.triggered.connect(self.add_layer_with_options_dialog)
        first = menu.actions()[0] if menu.actions() else None
        menu.insertAction(first, act)
        menu.insertAction(first, act2)
        if first is not None:
            menu.insertSeparator(first)
        self.act_add_layer = act
        self.act_add_layer_options = act2
        self.drop_filter = _DropFilter(self)
        for w in drop_targets:
            w.installEventFilter(self.drop_filter)
        self.queue: deque[LoadTask] = deque()
        self.current: LoadTask | None = None
        self.tasks: list[LoadTask] = []  # every task, newest last (tests inspect them)
        self.tables: dict[str, AttributeTable] = {}
        self._cache_after_bands: dict[str, tuple[str, dict]] = {}

    # -- queue ---------------------------------------------------------------
    def reserved_ids(self) -> set[str]:
        return {t.layer_id for t in self.tasks if t.layer_id and not t.done}

    def count_user_layers(self) -> int:
        return sum(1 for layer in self.stack if layer.kind == "user") + len(self.reserved_ids())

    def load(self, req: LoadRequest) -> LoadTask:
        task = LoadTask(self, req)
        task.finished.connect(self._next)
        self.tasks.append(task)
        self.queue.append(task)
        if self.current is None or self.current.done:
            self._next()
        return task

    def _next(self, *_: Any) -> None:
        if self.current is not None and not self.current.done:
            return
        self.current = None
        while self.queue:
            task = self.queue.popleft()
            if task.done:
                continue
            self.current = task
            task.start()
            return

    def add_from_path(self, path: str | Path, layer: str | int | None = None, encoding: str | None = None,
                      crs: str | None = None) -> LoadTask:
        """Load ``path`` (one layer of it, or ask when it holds several) on a
        worker thread and add it on top of the stack. What File → Add layer…
        and a drop call; returns the task (``task.status``, ``task.finished``)."""
        return self.load(LoadRequest(str(path), layer, encoding, crs))

    def reach_inside(self, widgets: list[QWidget]) -> None:
        """Drops on these widgets inside the drop targets (the map's page
        widget, line edits: they take drops themselves), and on any widget
        added to them from now on. The window calls it once the map is on
        screen: wrapping Qt's inner widgets for the first time costs PySide
        some 50 ms of enum creation, which the first picture need not wait for."""
        for w in widgets:
            w.installEventFilter(self.drop_filter)
        self.drop_filter.follow_children = True

    def busy(self) -> bool:
        return any(not t.done for t in self.tasks)

    # -- results -------------------------------------------------------------
    def put_layer(self, layer: MapLayer, req: LoadRequest,
                  bounds: tuple[float, float, float, float] | None = None) -> None:
        """Add ``layer`` (read for ``req``; ``bounds``: its lon/lat box, as read)."""
        stack = self.stack
        if req.replace_id and req.replace_id in stack:
            old = stack.layer(req.replace_id)
            idx = stack.ids().index(req.replace_id)
            layer.title_zh = old.title_zh
            layer.visible = old.visible
            layer.opacity = old.opacity
            self.close_table(req.replace_id)
            stack.remove(req.replace_id)
            stack.add(layer, idx)
        else:
            stack.add(layer)  # on top
        src = layer.source if isinstance(layer.source, ReadSource) else ReadSource("")
        bits = [f"已加载 Loaded {layer.title}: {len(layer.features):,} 个要素 features", f"坐标系 CRS {src.crs}"]
        if src.crs_guessed:
            bits[-1] += " (推测 guessed — 右键图层可更改 right-click the layer to change)"
        if src.encoding:
            bits.append(f"编码 {src.encoding}")
        if src.warnings:
            bits.append("⚠ " + src.warnings[0])
        self.status_bar.showMessage(" · ".join(bits), 15000)
        self._zoom_if_out_of_view(layer, bounds)
        if layer.display.bands_pending:
            self._add_bands_later(layer)

    def keep_in_cache(self, layer: MapLayer, key: str, meta: dict) -> None:
        """Write a big layer just read into the cache, off the UI thread, once
        its zoom bands exist (the next opening of the unchanged file is then quick)."""
        if layer.display.bands_pending:
            self._cache_after_bands[layer.id] = (key, meta)
            return
        gdf, arrays = layer.table, layer.display.arrays  # its GeoDataFrame made by the worker, if needed
        if gdf is None or arrays is None:
            return

        def failed(exc: BaseException) -> None:  # a full disk: the file is just read again next time
            log.warning("could not keep %s in the cache: %s", layer.id, exc)

        start_worker(layercache.store, key, meta, gdf, arrays, name=f"zjmap-cache-{layer.id}", pass_state=False,
                     connect={"errored": failed})

    def _add_bands_later(self, layer: MapLayer) -> None:
        """A layer of millions of vertices was shown at full resolution: add
        its simplified zoom bands on a worker thread, then send them."""
        old = layer.display.arrays
        if old is None:
            return

        def work() -> Any:
            new = old.with_bands()
            new.geometry_payload()  # writes the array file here, not on the UI thread
            release_free_memory()
            return new

        def done(new) -> None:
            stack = self.stack
            if layer.id not in stack or stack.layer(layer.id) is not layer or layer.display.arrays is not old:
                return  # removed or replaced meanwhile
            layer.display.arrays = new
            layer.display.bands_pending = False
            self.map.add_layer(layer, stack.ids().index(layer.id))
            self.bands_added.emit(layer.id)
            later = self._cache_after_bands.pop(layer.id, None)
            if later is not None:
                self.keep_in_cache(layer, *later)

        def failed(exc: BaseException) -> None:  # the layer still draws at full resolution
            log.error("simplified bands for %s", layer.id, exc_info=exc)

        # no parent: the worker (and its slots, which hold the layer) goes once finished
        start_worker(work, name=f"zjmap-bands-{layer.id}", pass_state=False,
                     connect={"result": done, "errored": failed})

    def when_drawn(self, layer: MapLayer, then: Any, poll_ms: int = 25) -> None:
        """Call ``then()`` once the page has read ``layer``'s array file and
        drawn it (asked every ``poll_ms``; at once for a hidden layer, after
        20 s at the latest); not if the layer was removed, replaced or given
        other arrays meanwhile. Work that would compete with the first
        picture (the page reading its file, the GIL) waits for this."""
        shown = layer.display.arrays
        asked = [0]

        def current() -> bool:
            stack = self.stack
            return layer.id in stack and stack.layer(layer.id) is layer and layer.display.arrays is shown

        def answered(text: Any) -> None:
            if not shiboken6.isValid(self.map):
                return
            try:
                stats = json.loads(text) if isinstance(text, str) else text
            except ValueError:
                stats = None
            if stats is None or (stats.get("loaded") and stats.get("key") == shown.key) or stats.get("error"):
                if current():
                    then()
            else:
                # tied to the map view: a window closed meanwhile takes the next ask with it
                QTimer.singleShot(poll_ms, self.map, ask)

        def ask() -> None:
            if not shiboken6.isValid(self.map) or not current():
                return
            asked[0] += 1
            if asked[0] * poll_ms > 20_000:  # the page never said: go on all the same
                then()
                return
            self.map.call("bigStats", layer.id, callback=answered)

        ask()

    def reopened(self, layer: MapLayer, full: Any) -> None:
        """A layer reopened from the cache is on the page: once drawn, ``full``
        (every zoom band, when it was drawn from its coarsest set alone) is
        sent and its exact geometry is made in the background."""

        def then() -> None:
            if full is not None:
                layer.display.arrays = full
                if layer.id in self.map.sent:  # a hidden layer's stub gets the full one when first shown
                    self.map.add_layer(layer, self.stack.ids().index(layer.id))
            self.prepare_geometry(layer)

        self.when_drawn(layer, then)

    def settle(self, layer: MapLayer) -> None:
        """A layer put on the map another way (a workspace restored): its
        zoom bands, if still to come, and its exact geometry, if reopened
        from the cache, made in the background as for a layer added here."""
        if layer.display.bands_pending:
            self._add_bands_later(layer)
        self.when_drawn(layer, lambda: self.prepare_geometry(layer))

    def prepare_geometry(self, layer: MapLayer) -> None:
        """A reopened layer's exact geometry is made from its flat coordinates
        on first need (zjmap.core.layercache): make it now, off the UI thread
        and a step at a time, so the first click or table finds it ready."""
        from zjmap.core.lazygeom import PREPARE_MAX_VERTICES

        column = getattr(layer.features, "column", None)
        if column is None or not hasattr(column, "prepare") or column.built:
            return
        if column.vertices() > PREPARE_MAX_VERTICES:  # a million parcels: shapes made where needed only
            return

        def failed(exc: BaseException) -> None:  # made on first need instead
            log.warning("preparing the geometry of %s: %s", layer.id, exc)

        start_worker(column.prepare, name=f"zjmap-geometry-{layer.id}", pass_state=False, connect={"errored": failed})

    def _zoom_if_out_of_view(self, layer: MapLayer, bounds: tuple[float, float, float, float] | None = None) -> None:
        if bounds is None:  # not known from the read: the table's
            gdf = layer.table.gdf
            if gdf is None or not len(gdf):
                return
            bounds = tuple(float(v) for v in gdf.total_bounds)  # type: ignore[assignment]
        west, south, east, north = (float(v) for v in bounds)  # type: ignore[union-attr]
        if self.camera.contains_any((west, south, east, north)):
            return  # already (partly) in view: leave the planner's view alone
        self.map.fit_bounds(west, south, east, north, 14)

    def show_error(self, message: str, offer_override: bool, req: LoadRequest) -> None:
        title = "无法加载 Cannot load"
        if offer_override:
            ans = QMessageBox.warning(
                self.parent_widget, title,
                message + "\n\n手动选择编码或坐标系后重试？\nChoose the encoding or coordinate system by hand and try again?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.Yes,
            )
            if ans == QMessageBox.StandardButton.Yes:
                opts = ask_read_options(self.parent_widget, req.encoding, req.crs, note=message)
                if opts is not None:
                    enc, crs = opts
                    self.load(LoadRequest(req.path, req.layer, enc, crs, req.replace_id, req.title))
        else:
            QMessageBox.warning(self.parent_widget, title, message)

    def choose_from(self, info: SourceInfo, req: LoadRequest) -> None:
        picked = choose_layers(self.parent_widget, info, req.encoding, req.crs)
        if not picked:
            return
        names, enc, crs = picked
        for n in names:
            self.load(LoadRequest(req.path, n, enc, crs))

    # -- user actions ----------------------------------------------------------
    def add_layer_dialog(self) -> None:
        warm_up_reading()
        start = getattr(self, "_last_dir", "") or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, "添加图层 Add layer", start, FILE_FILTER)
        if path:
            self._last_dir = str(Path(path).parent)
            self.add_from_path(path)

    def add_layer_with_options_dialog(self) -> LoadTask | None:
        """Pick a file, then its encoding and coordinate system by hand."""
        warm_up_reading()
        start = getattr(self, "_last_dir", "") or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, "添加图层 Add layer", start, FILE_FILTER)
        if not path:
            return None
        self._last_dir = str(Path(path).parent)
        opts = ask_read_options(self.parent_widget, note=f"{Path(path).name}: 自动检测可能出错时手动指定 "
                                                  "Choose by hand when automatic detection gets it wrong.")
        if opts is None:
            return None
        enc, crs = opts
        return self.add_from_path(path, encoding=enc, crs=crs)

    def reload_with_options(self, layer_id: str) -> LoadTask | None:
        layer = self.stack.layer(layer_id)
        src = layer.source
        assert isinstance(src, ReadSource)
        note = "\n".join(x for x in [
            f"编码 Encoding: {src.encoding} — {src.encoding_reason or ''}" if src.encoding else "",
            f"坐标系 CRS: {src.crs} — {src.crs_reason or ('from the file' if not src.crs_guessed else '')}",
        ] if x)
        opts = ask_read_options(self.parent_widget, src.encoding_override, src.crs_override, note=note)
        if opts is None:
            return None
        enc, crs = opts
        return self.load(LoadRequest(src.path, src.layer_arg if src.layer_arg is not None else src.layer,
                                     enc, crs, replace_id=layer_id))

    def remove(self, layer_id: str) -> None:
        if layer_id in self.stack and self.stack.layer(layer_id).kind == "user":
            self.close_table(layer_id)
            self.stack.remove(layer_id)

    def open_table(self, layer_id: str) -> "AttributeTable":
        tbl = self.tables.get(layer_id)
        if tbl is None:
            tbl = AttributeTable(self, self.stack.layer(layer_id))
            tbl.finished.connect(lambda _r, lid=layer_id: self.tables.pop(lid, None))
            self.tables[layer_id] = tbl
        tbl.show()
        tbl.raise_()
        return tbl

    def close_table(self, layer_id: str) -> None:
        tbl = self.tables.pop(layer_id, None)
        if tbl is not None:
            tbl.close()
            tbl.deleteLater()

    def open_style(self, layer_id: str) -> "StyleDialog":
        dlg = StyleDialog(self, self.stack.layer(layer_id))
        dlg.show()
        self._style_dialog = dlg
        return dlg

    # -- layer tree menu ---------------------------------------------------------
    def contribute_menu(self, menu: QMenu, layer) -> None:
        """A user layer's own items in the layer tree's menu."""
        if layer.kind != "user":
            return
        lid = layer.id
        menu.addAction("样式… Style…", lambda: self.open_style(lid))
        menu.addAction("编码 / 坐标系… Encoding / CRS…", lambda: self.reload_with_options(lid))


_reading_warmed = False


def warm_up_reading() -> None:
    """Import the file readers (geopandas, pandas, pyarrow: a second or two)
    on a background thread once the planner shows the intent to add a file
    (the file dialog opens, a drag enters the window), so the read itself
    starts at full speed. Not at start-up: the import would hold the GIL
    and slow the first clicks on the map."""
    global _reading_warmed
    if _reading_warmed:
        return
    _reading_warmed = True
    warm_import("zjmap.core.userfiles", name="zjmap-warm-readers")


def add_layer_from_path(user_layers: UserLayerController, path: str | Path, layer: str | int | None = None,
                        encoding: str | None = None, crs: str | None = None) -> LoadTask:
    """:meth:`UserLayerController.add_from_path` for scripts, tests and
    benchmarks: ``add_layer_from_path(window.user_layers, path)``."""
    return user_layers.add_from_path(path, layer, encoding, crs)


# ---------------------------------------------------------------------------
# Drag and drop


def _paths_from_mime(mime) -> list[str]:
    if mime is None or not mime.hasUrls():
        return []
    paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
    return [p for p in paths if p and Path(p).suffix.lower() in DROP_SUFFIXES]


def dropped_files(paths: list[str]) -> list[str]:
    """The files to load from a drop: a shapefile's sidecars dropped with it
    count once (as the .shp); a sidecar alone is passed on (the reader finds
    its .shp or says what is missing)."""
    out: list[str] = []
    shp_stems = {str(Path(p).with_suffix("")).lower() for p in paths if Path(p).suffix.lower() == ".shp"}
    seen_stems: set[str] = set()
    for p in paths:
        suf = Path(p).suffix.lower()
        stem = str(Path(p).with_suffix("")).lower()
        if suf in _SIDECARS:
            if stem in shp_stems or stem in seen_stems:
                continue
            seen_stems.add(stem)
        out.append(p)
    return out


class _DropFilter(QObject):
    """Accepts dropped map files anywhere on the window (map, tree, panel)."""

    def __init__(self, ctl: UserLayerController):
        super().__init__(ctl)
        self.ctl = ctl
        self.follow_children = False  # see UserLayerController.reach_inside

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        t = event.type()
        if t in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if _paths_from_mime(event.mimeData()):
                warm_up_reading()
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                return True
            return False
        if t == QEvent.Type.Drop:
            paths = dropped_files(_paths_from_mime(event.mimeData()))
            if not paths:
                return False
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            for p in paths:
                self.ctl.add_from_path(p)
            return True
        if t == QEvent.Type.ChildAdded and self.follow_children and isinstance(obj, QWidget):
            child = event.child()
            if isinstance(child, QWidget):
                child.installEventFilter(self)
        return False
