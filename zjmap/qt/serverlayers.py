"""Server layers in the window: File → Add database / web layer…, the
view-driven refresh of live layers, Reconnect, and Save to PostGIS.

A live layer (:mod:`zjmap.core.livelayer`) is asked for its features again
whenever the page reports a new view (debounced; one query per layer at a
time, the newest view or filter wins: the server stops the query it
supersedes, as it does when the layer is removed). The query runs on a worker thread; its result
replaces the layer in the stack at the same place with the same look. When
the server goes away the layer keeps its last features, is marked
unavailable in the layer tree (tooltip, status bar) and its menu offers
Reconnect; the other layers and the workspace are not touched.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from zjmap.core.layerfilter import with_filter
from zjmap.core.layers import MapLayer
from zjmap.core.livelayer import live_of
from zjmap.core.pgsource import is_pg, is_remote
from zjmap.qt.prompts import ask_password, unlock
from zjmap.qt.worker import close_progress, progress_dialog, start_worker, warm_import

log = logging.getLogger(__name__)

#: Milliseconds the view must rest before live layers are asked again.
DEBOUNCE_MS = 40


class ServerLayerController(QObject):
    refreshed = Signal(str)  # layer id: a new view's features reached the map
    unavailable = Signal(str, str)  # layer id, message
    filter_refused = Signal(str, str)  # layer id, why the server cannot apply the filter

    def __init__(self, parent, menu, stack, map_view, camera, tree, status_bar, user_layers):
        """``menu``: File, where Add database / web layer… goes third. ``parent``
        owns the dialogs; the stack, map view, camera (the view a live layer
        is asked for), tree (redrawn when a layer's state changes), status bar
        and the user-layer controller (which loads what the dialog picks)."""
        super().__init__(parent)
        self.parent_widget = parent
        self.stack = stack
        self.map = map_view
        self.camera = camera
        self.tree = tree
        self.status_bar = status_bar
        self.user_layers = user_layers
        act = QAction("添加数据库 / 网络图层… Add database / web layer…", parent)
        act.setStatusTip("PostGIS 表、OGC API Features、WFS PostGIS tables and web feature services")
        act.triggered.connect(self.add_dialog)
        acts = menu.actions()
        menu.insertAction(acts[2] if len(acts) > 2 else None, act)
        self.act_add_server_layer = act
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh_all)
        self._running: dict[str, Any] = {}
        self._again: set[str] = set()
        self._handles: dict[str, Any] = {}  # layer id → its server handle (closed when the layer goes)
        self._close_after: dict[str, Any] = {}  # handles of removed layers whose query is being stopped
        self._swapping: str | None = None
        map_view.bridge.view_changed.connect(self._on_view)
        stack.subscribe(self._on_stack)

    def _on_stack(self, event: str, lid: str) -> None:
        if event == "added" and lid in self.stack:
            live = live_of(self.stack.layer(lid))
            if live is not None:
                self._handles[lid] = live.handle
        elif event == "styled" and lid in self.stack:
            live = live_of(self.stack.layer(lid))
            want = (self.stack.layer(lid).style or {}).get("filter") or None
            if live is not None and live.available and want != getattr(live.handle, "filter_text", want):
                self.refresh(lid)  # the new filter goes to the server (live_layer sets it on the handle)
        elif event == "removed" and lid != self._swapping:
            handle = self._handles.pop(lid, None)
            running = self._running.get(lid)
            if running is not None:  # stop its query; the connection closes once the worker let go of it
                running.cancel()
                if handle is not None:
                    self._close_after[lid] = handle
            elif handle is not None:
                handle.close()

    # -- live refresh ---------------------------------------------------------
    def live_ids(self) -> list[str]:
        return [layer.id for layer in self.stack if live_of(layer) is not None]

    def _on_view(self, *_: Any) -> None:
        if self.live_ids():
            self._timer.start()

    def refresh_all(self) -> None:
        for lid in self.live_ids():
            layer = self.stack.layer(lid)
            if layer.visible and live_of(layer).available:
                self.refresh(lid)

    def refresh(self, lid: str) -> None:
        """Ask the server for the current view of layer ``lid`` (on a worker)."""
        from zjmap.core.livelayer import live_layer
        from zjmap.core.userfile_types import LoadCancelled  # geopandas: not on the start-up path

        if lid in self._running:
            self._again.add(lid)  # the newest view is asked once this one is back …
            self._running[lid].cancel()  # … which the server stops now (pgsql.cancellable)
            return
        stack = self.stack
        old = stack.layer(lid)
        live = live_of(old)
        view = self.camera.as_tuple()

        def work(state) -> MapLayer:
            return live_layer(live.handle, live.text, lid, view=view, previous=old, cancel=state)

        def done(new: MapLayer) -> None:
            if lid not in stack or stack.layer(lid) is not old:
                return  # removed or replaced meanwhile
            idx = stack.ids().index(lid)
            self._swapping = lid
            try:
                stack.remove(lid)
                stack.add(new, idx)
            finally:
                self._swapping = None
            self.refreshed.emit(lid)

        def failed(exc: BaseException) -> None:
            from zjmap.core.postgis import PgFilterError

            msg = str(exc) or type(exc).__name__
            if isinstance(exc, PgFilterError):  # the layer keeps the filter the server took
                if lid in stack:
                    stack.set_style(lid, with_filter(stack.layer(lid).style, live.handle.filter_text))
                self.status_bar.showMessage(f"⚠ {old.title}: {msg}", 20000)
                self.filter_refused.emit(lid, msg)
                return
            if lid in stack:
                live.error = msg
                layer = stack.layer(lid)
                layer.about.description_zh = live.note()
                self.tree.rebuild()
            self.status_bar.showMessage(f"⚠ {old.title}: {msg}", 20000)
            self.unavailable.emit(lid, msg)

        def finished(*_: Any) -> None:
            self._running.pop(lid, None)
            gone = self._close_after.pop(lid, None)
            if gone is not None:
                gone.close()
            if lid in self._again:
                self._again.discard(lid)
                if lid in stack and live_of(stack.layer(lid)).available:
                    self.refresh(lid)

        self._running[lid] = start_worker(work, name=f"zjmap-live-{lid}", parent=self,
                                          cancel_exceptions=(LoadCancelled,),
                                          connect={"result": done, "errored": failed, "finished": finished})

    def busy(self) -> bool:
        return bool(self._running) or self._timer.isActive()

    def reconnect(self, lid: str) -> None:
        """Open a new connection for ``lid``; on success it is drawn again."""
        stack = self.stack
        live = live_of(stack.layer(lid))

        def done(_: Any) -> None:
            live.error = None
            if lid in stack:
                stack.layer(lid).about.description_zh = live.note()
                self.tree.rebuild()
                self.status_bar.showMessage(f"已重新连接 Reconnected: {stack.layer(lid).title}", 8000)
                self.refresh(lid)

        def failed(exc: BaseException) -> None:
            self.status_bar.showMessage(f"⚠ {exc}", 20000)
            self.unavailable.emit(lid, str(exc))

        start_worker(live.handle.reconnect, name=f"zjmap-reconnect-{lid}", pass_state=False, parent=self,
                     connect={"result": done, "errored": failed})

    def zoom_to(self, lid: str) -> bool:
        """Zoom to a live layer's extent as the server has it (only what its
        filter keeps), asked on a worker; False when ``lid`` is not live (its
        features are all here: the window zooms to them)."""
        layer = self.stack.layer(lid)
        live = live_of(layer)
        if live is None or not live.available:
            return False
        handle = live.handle

        def work() -> Any:
            return handle.bounds() if hasattr(handle, "bounds") else handle.extent

        def done(b: Any) -> None:
            if b is None:
                self.status_bar.showMessage(f"{layer.title}: 没有要素 no features to zoom to", 8000)
            else:
                self.map.fit_bounds(*(float(v) for v in b), 12)

        def failed(exc: BaseException) -> None:
            self.status_bar.showMessage(f"⚠ {layer.title}: {exc}", 20000)

        start_worker(work, name=f"zjmap-extent-{lid}", pass_state=False, parent=self,
                     connect={"result": done, "errored": failed})
        return True

    # -- menus ----------------------------------------------------------------
    def contribute_menu(self, menu, layer) -> None:
        """Server items in a user layer's menu in the layer tree."""
        if layer.kind != "user":
            return
        lid = layer.id
        live = live_of(layer)
        if live is not None and not live.available:
            menu.addAction("重新连接 Reconnect", lambda: self.reconnect(lid))
        if live is None:
            menu.addAction("保存到 PostGIS… Save to PostGIS…", lambda: self.save_dialog(lid))

    # -- dialogs ----------------------------------------------------------------
    def add_dialog(self) -> "ServerDialog":
        dlg = ServerDialog(self)
        dlg.show()
        return dlg

    def ask_password(self, key: str, message: str) -> bool:
        """Ask for server ``key``'s password once (the one prompt of :mod:`zjmap.qt.prompts`);
        it is kept for the session (and in the keyring if the planner ticks it)."""
        parent = self.parent_widget
        return unlock(key, message, lambda text: ask_password(parent, text))

    def save_dialog(self, lid: str) -> "SaveDialog":
        dlg = SaveDialog(self, lid)
        dlg.show()
        return dlg


class ServerDialog(QDialog):
    """Connection string → browse tables (with row estimates) → add as a layer."""

    def __init__(self, ctl: ServerLayerController):
        super().__init__(ctl.parent_widget)
        self.ctl = ctl
        self.setWindowTitle("添加数据库 / 网络图层 Add database / web layer")
        self.source = QLineEdit()
        self.source.setPlaceholderText("postgresql://user@host:5432/db · PG:\"dbname=…\" · "
                                       "postgresql://?service=NAME · OAPIF:http://…/collections/NAME")
        self.browse_btn = QPushButton("浏览 Browse")
        self.browse_btn.clicked.connect(self.browse)
        self.tables = QListWidget()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.source, 1)
        row.addWidget(self.browse_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("连接 Connection (URI, service=, PG:, OAPIF:/WFS URL):"))
        lay.addLayout(row)
        lay.addWidget(self.tables, 1)
        lay.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("添加 Add")
        self.buttons.accepted.connect(self.add)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.resize(640, 420)
        self.infos: list[Any] = []
        self.worker = None
        # the readers and psycopg import while the planner types (as File → Add layer's dialog does)
        from zjmap.qt.userlayers import warm_up_reading

        warm_up_reading()
        warm_import("zjmap.core.livelayer_deps", name="zjmap-warm-server")

    def browse(self) -> None:
        text = self.source.text().strip()
        if not is_pg(text):
            self.status.setText("浏览只适用于 PostgreSQL；网络图层直接添加 Browsing is for PostgreSQL; add a web layer directly.")
            return
        from zjmap.core import postgis

        self.status.setText("正在连接 Connecting…")

        def done(infos: list) -> None:
            self.infos = infos
            self.tables.clear()
            for t in infos:
                est = "?" if t.rows_estimate is None else f"{t.rows_estimate:,}"
                it = QListWidgetItem(f"{t.schema}.{t.name}  ({t.kind}, {t.geom}: {t.geometry_type}, "
                                     f"EPSG:{t.srid}, ≈{est} 行 rows)")
                self.tables.addItem(it)
            self.status.setText(f"{len(infos)} 个空间表 tables/views with geometry")
            if infos:
                self.tables.setCurrentRow(0)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, postgis.PgPasswordNeeded) and self.ctl.ask_password(exc.key, str(exc)):
                self.browse()
                return
            self.status.setText(f"⚠ {exc}")

        self.worker = start_worker(postgis.list_tables, text, name="zjmap-browse", pass_state=False, parent=self,
                                   connect={"result": done, "errored": failed})

    def chosen_source(self) -> str | None:
        text = self.source.text().strip()
        row = self.tables.currentRow()
        if self.infos and row >= 0 and is_pg(text):
            from zjmap.core.postgis import source_of

            return self.infos[row].source(source_of(text)).text
        return text or None

    def add(self) -> None:
        src = self.chosen_source()
        if not src or not is_remote(src):
            self.status.setText("请填写连接并选择表 Give a connection and choose a table.")
            return
        from zjmap.qt.userlayers import LoadRequest

        self.task = self.ctl.user_layers.load(LoadRequest(str(src)))
        self.accept()


class SaveDialog(QDialog):
    """Write a user layer to a PostGIS table: create, replace or append."""

    def __init__(self, ctl: ServerLayerController, lid: str):
        super().__init__(ctl.parent_widget)
        self.ctl = ctl
        self.lid = lid
        layer = ctl.stack.layer(lid)
        self.setWindowTitle(f"保存到 PostGIS Save to PostGIS — {layer.title}")
        self.target = QLineEdit()
        self.target.setPlaceholderText("postgresql://user@host:5432/db?table=schema.name")
        self.mode = QComboBox()
        for label, mode in (("新建 create", "create"), ("替换 replace", "replace"), ("追加 append", "append")):
            self.mode.addItem(label, mode)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("目标表 Target table", self.target)
        form.addRow("方式 Mode", self.mode)
        form.addRow(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.resize(560, 160)
        self.written: int | None = None
        self.worker = None
        self.progress = None  # the progress dialog while it saves

    def save(self) -> None:
        from zjmap.core import pgwrite, postgis
        from zjmap.core.userfile_types import LoadCancelled

        text = self.target.text().strip()
        if not is_pg(text):
            self.status.setText("请填写 PostgreSQL 地址 Give a postgresql:// address with ?table=schema.name")
            return
        gdf = self.ctl.stack.layer(self.lid).table.gdf
        mode = self.mode.currentData()
        self.status.setText("正在保存 Saving…")
        self.buttons.setEnabled(False)
        title = "保存到 PostGIS Saving to PostGIS"
        jobs: list[Any] = []  # this save's worker (the dialog's Cancel stops it)
        dlg = self.progress = progress_dialog(self, title, f"{title}: {len(gdf):,} 个要素 features…",
                                              on_cancel=lambda: jobs[0].cancel() if jobs else None)

        def work(state) -> int:
            return pgwrite.write_layer(gdf, text, mode, progress=state.set_progress, cancel=state)

        def moved(frac: float, msg: str) -> None:
            if self.progress is dlg:
                dlg.setLabelText(msg)
                dlg.setValue(int(frac * 1000))

        def end() -> None:
            close_progress(dlg)
            if self.progress is dlg:
                self.progress = None
            self.buttons.setEnabled(True)

        def done(n: int) -> None:
            end()
            self.written = n
            self.ctl.status_bar.showMessage(f"已保存 Saved {n:,} 个要素 features to {text.split('?')[0]}", 10000)
            self.accept()

        def failed(exc: BaseException) -> None:
            end()
            if isinstance(exc, postgis.PgPasswordNeeded) and self.ctl.ask_password(exc.key, str(exc)):
                self.save()
                return
            self.status.setText(f"⚠ {exc}")

        def cancelled() -> None:
            end()
            self.status.setText("已取消 Cancelled: 未写入 nothing was written; the table is as it was.")

        self.worker = start_worker(work, name="zjmap-save-pg", parent=self, cancel_exceptions=(LoadCancelled,),
                                   connect={"progress": moved, "result": done, "errored": failed,
                                            "cancelled": cancelled})
        jobs.append(self.worker)


__all__ = ["ServerDialog", "ServerLayerController", "SaveDialog"]
