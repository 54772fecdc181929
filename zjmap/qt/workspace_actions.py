"""Keeping a planner's work: workspaces, bookmarks, autosave, crash recovery.

The main window builds :class:`WorkspaceController` with what it needs (the
stack, explorer, map view, camera, status bar, the user-layer controller and
:class:`WindowHooks` for the title and geometry; the window itself only as the
dialogs' parent), fills File and Bookmarks with
:func:`zjmap.qt.workspace_menus.workspace_menus`, keeps
the actions it returns and asks :meth:`WorkspaceController.may_close` before
it closes:

* File → 新建 New (Ctrl+N), 打开 Open… (Ctrl+Shift+O), 保存 Save (Ctrl+S),
  另存为 Save As… (Ctrl+Shift+S), 最近 Recent workspaces. The file format is
  :mod:`zjmap.core.workspace` (``docs/workspace-format.md``).
* 书签 Bookmarks: Add bookmark… (Ctrl+B) names the current extent; each
  bookmark jumps there; Manage… renames, reorders and deletes. Bookmarks
  live in the workspace, not in the user's settings.
* Autosave: the whole session (same format, absolute paths) is written
  atomically to ``<AppDataLocation>/sessions/session-<id>.zjmap`` about 1.5 s
  after every change and once a minute if anything changed since. Beside it
  a ``session-<id>.lock`` (a :class:`QLockFile`: pid, host, process name)
  says the session is running. A clean exit removes both. At the next
  start, a lock whose process is gone (or an autosave without its lock)
  means the app did not exit cleanly: the planner is asked whether to
  restore the last autosave. Declined autosaves are kept in
  ``<AppDataLocation>/recovered/`` (the newest five).
* QSettings (INI, ``$XDG_CONFIG_HOME/zjmap/zjmap.ini`` on Linux): window
  geometry, last folders, recent workspaces, and the last workspace, which is
  reopened at start (``zjmap --workspace PATH`` opens another instead).

Every question and message goes through :class:`Prompts`
(:mod:`zjmap.qt.workspace_dialogs`, with the missing-layers and bookmarks dialogs), so tests (and any
headless run: the "offscreen"/"minimal" platforms show no modal dialogs and
take the safe default) can answer them.

Reading the user layers of a workspace runs on a worker thread (Qt-free
core calls) behind a window-modal progress dialog with Cancel; the stack is
changed on the UI thread in one go when all are read, so a cancelled or
failed open leaves the session exactly as it was (that reading is
:mod:`zjmap.qt.workspace_readjob`; where the session's files are kept and
how crashed sessions are found, :mod:`zjmap.qt.workspace_session`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QLockFile, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from zjmap.core import workspace as wsc
from zjmap.core.mappage import ZHEJIANG_BOUNDS
from zjmap.core.pgsource import is_remote
from zjmap.core.workspace import (
    SUFFIX,
    Bookmark,
    LayerEntry,
    LayerProblem,
    RestoreReport,
    ShippedDefaults,
    View,
    Workspace,
    WorkspaceError,
)
from zjmap.qt.prompts import unlock
from zjmap.qt.workspace_dialogs import MissingLayersDialog, Prompts
from zjmap.qt.workspace_readjob import ReadJob
from zjmap.qt.workspace_session import (  # noqa: F401  (app_data_dir, recovered_dir: tests; make_settings: qt/tables.py)
    Candidate, app_data_dir, crashed_sessions, make_settings, recovered_dir, sessions_dir, set_aside,
)

log = logging.getLogger(__name__)

#: Set by ``zjmap --workspace PATH`` before the window exists; the first
#: window opens it instead of the last workspace, then clears it.
STARTUP_WORKSPACE: str | None = None

AUTOSAVE_DELAY_MS = 1500
AUTOSAVE_PERIOD_MS = 60_000
RECENT_MAX = 10


# ---------------------------------------------------------------------------
# The controller


@dataclass
class WindowHooks:
    """What the workspace changes on its window, as the window's own methods:
    the title (the workspace's name, ``[*]`` while modified) and the geometry
    kept between runs. The controller holds these, never the window."""

    title: str  # the window's own title, shown after the workspace's name
    set_title: Callable[[str], Any]
    set_modified: Callable[[bool], Any]
    save_geometry: Callable[[], Any]
    save_state: Callable[[], Any]
    restore_geometry: Callable[[Any], Any]
    restore_state: Callable[[Any], Any]


class WorkspaceController(QObject):
    """Per window: the current workspace file, bookmarks, autosave, recovery."""

    restored = Signal(object)  # RestoreReport, after open / recover / new
    saved = Signal(str)
    autosaved = Signal(str)
    bookmarks_changed = Signal()

    def __init__(self, parent, stack, explorer, map_view, camera, status_bar, user_layers, hooks: WindowHooks):
        """``parent`` owns the dialogs (nothing else is read off it); the stack
        and explorer (selection, and the place a bookmark is named after) are
        what a workspace captures and restores, the map view and camera where
        it looks, the user-layer controller's attribute tables close when
        their layers go."""
        super().__init__(parent)
        self.parent_widget = parent
        self.stack = stack
        self.explorer = explorer
        self.selection = explorer.selection
        self.map = map_view
        self.status_bar = status_bar
        self.user_layers = user_layers
        self.hooks = hooks
        self.defaults = ShippedDefaults.from_stack(self.stack)
        self.settings = make_settings()
        self.prompts = Prompts(parent)
        self.path: Path | None = None
        self.modified = False
        self.bookmarks: list[Bookmark] = []
        self.view: View | None = None
        self.pending: list[LayerEntry] = []  # user layers whose file is missing: kept on save
        self.previous_order: list[str] = []
        self.messages: list[str] = []  # every error shown (tests read them)
        self.last_report: RestoreReport | None = None
        self.missing_dialog: MissingLayersDialog | None = None
        self.job: ReadJob | None = None
        self._applying = False
        self._pending_view: View | None = None
        self._started = False
        self._shut = False
        self._dirty_since_autosave = True
        self.base_title = hooks.title

        # session files: the lock says "running"; the autosave holds the state
        self.session_id = f"{os.getpid()}-{int(time.time() * 1000)}"
        sdir = sessions_dir()
        sdir.mkdir(parents=True, exist_ok=True)
        self.lock_path = sdir / f"session-{self.session_id}.lock"
        self.autosave_path = sdir / f"session-{self.session_id}{SUFFIX}"
        self.lock = QLockFile(str(self.lock_path))
        self.lock.setStaleLockTime(0)  # stale only when its process is gone, never by age
        if not self.lock.tryLock(0):
            log.warning("could not create the session lock %s", self.lock_path)

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.periodic_timer = QTimer(self)
        self.periodic_timer.setInterval(AUTOSAVE_PERIOD_MS)
        self.periodic_timer.timeout.connect(self._periodic)
        self.periodic_timer.start()

        self.stack.subscribe(self._on_stack)
        self.selection.subscribe(self._on_selection)
        camera.subscribe(self._on_camera)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_quit)
        self._update_title()

    # -- state changes ---------------------------------------------------------
    def _on_stack(self, event: str, layer_id: str) -> None:
        if self._applying:
            return
        self.mark_modified()

    def _on_selection(self, state) -> None:
        if not self._applying:
            self.schedule_autosave()

    def _on_camera(self, camera) -> None:
        self.view = View(*camera.bounds, camera.zoom)
        if not self._applying:
            self.schedule_autosave()

    def mark_modified(self, modified: bool = True) -> None:
        if self.modified != modified:
            self.modified = modified
            self._update_title()
        self.schedule_autosave()

    def schedule_autosave(self) -> None:
        self._dirty_since_autosave = True
        if not self._shut:
            self.autosave_timer.start()  # restarts: debounced

    def _update_title(self) -> None:
        name = self.path.name if self.path else "未命名 Untitled"
        self.hooks.set_title(f"{name}[*] — {self.base_title}")
        self.hooks.set_modified(self.modified)

    @property
    def busy(self) -> bool:
        return self.job is not None and not self.job.done

    # -- capture -----------------------------------------------------------------
    def capture(self) -> Workspace:
        return wsc.capture(
            self.stack,
            selection=self.selection.state,
            view=self.view,
            bookmarks=self.bookmarks,
            defaults=self.defaults,
            pending=self.pending,
            previous_order=self.previous_order,
        )

    # -- autosave ----------------------------------------------------------------
    def _periodic(self) -> None:
        if self._dirty_since_autosave:
            self.autosave_now()

    def autosave_now(self) -> bool:
        """Write the session to the autosave file (atomically). Not while a
        workspace is being read: the state is about to change in one go."""
        if self._shut or self.busy:
            if self.busy:
                self.autosave_timer.start()
            return False
        meta = {
            "workspace": str(self.path) if self.path else None,
            "modified": self.modified,
            "pid": os.getpid(),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        try:
            wsc.save_workspace(self.capture(), self.autosave_path, extra={"autosave": meta}, relative=False)
        except (WorkspaceError, OSError, TypeError, ValueError) as exc:
            log.warning("autosave failed: %s", exc)
            self.status_bar.showMessage(f"自动保存失败 Autosave failed: {exc}", 8000)
            return False
        self._dirty_since_autosave = False
        self.autosaved.emit(str(self.autosave_path))
        return True

    # -- start-up ----------------------------------------------------------------
    def startup(self) -> None:
        """Once the map is ready: offer to recover a crashed session, else open
        the workspace given on the command line or the last one."""
        if self._started:
            return
        self._started = True
        global STARTUP_WORKSPACE
        explicit, STARTUP_WORKSPACE = STARTUP_WORKSPACE, None
        if self.offer_recovery():
            return
        if explicit:
            self.open_path(explicit, ask=False)
            return
        self.settings.sync()
        last = str(self.settings.value("workspace/last", "") or "")
        if last and os.path.exists(last):
            self.open_path(last, ask=False)
        elif last:
            self.status_bar.showMessage(f"上次的工作空间已不存在 The last workspace is gone: {last}", 8000)
        self.autosave_now()

    def _crashed_sessions(self) -> list[Candidate]:
        return crashed_sessions(self.lock_path)

    def offer_recovery(self) -> bool:
        """Ask whether to restore the newest autosave of a session that did
        not exit cleanly; True if restoring started."""
        try:
            cands = self._crashed_sessions()
        except OSError as exc:
            log.warning("could not look for crashed sessions: %s", exc)
            return False
        if not cands:
            return False
        newest = cands[0]
        started = False
        try:
            ws = wsc.load_workspace(newest.autosave)
        except WorkspaceError as exc:
            self.show_error("无法恢复 Cannot recover", f"The autosave of the last session cannot be used: {exc}")
            ws = None
        if ws is not None:
            meta = ws.extra.get("autosave") if isinstance(ws.extra.get("autosave"), dict) else {}
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(newest.mtime))
            wpath = meta.get("workspace")
            what = (f"工作空间 workspace {Path(wpath).name}" if wpath else "未保存的工作 unsaved work")
            n_user = len(ws.user_layers())
            text = (
                "zjmap 上次没有正常退出。是否恢复 {when} 自动保存的工作？\n"
                "zjmap did not shut down properly last time. Restore the work autosaved at {when}?\n\n"
                "{what}: {n} 个自己的图层 own layers, {b} 个书签 bookmarks{mod}."
            ).format(when=when, what=what, n=n_user, b=len(ws.bookmarks),
                     mod=" (有未保存的更改 with unsaved changes)" if meta.get("modified") else "")
            if self.prompts.ask_restore(text):
                target = Path(wpath) if isinstance(wpath, str) and wpath else None
                started = self._start_restore(ws, mode="recover", target=target)
        for c in cands:
            self._set_aside(c.autosave)
            if c.lock is not None:
                c.lock.unlock()
        return started

    def _set_aside(self, autosave: Path) -> None:
        set_aside(autosave)

    # -- open / new ------------------------------------------------------------
    def confirm_discard(self, doing: str = "继续 continue") -> bool:
        """If there are unsaved changes, ask to save them; False: do not go on."""
        if not self.modified:
            return True
        name = self.path.name if self.path else "未命名工作空间 the untitled workspace"
        ans = self.prompts.ask_save_changes(
            f"保存对 {name} 的更改吗？\nSave the changes to {name} before you {doing}?")
        if ans == "save":
            return self.save()
        return ans == "discard"

    def new_workspace(self, ask: bool = True) -> bool:
        if self.busy or (ask and not self.confirm_discard("start a new workspace")):
            return False
        empty = Workspace(layers=[])
        self._apply(empty, {}, [], mode="new", target=None)
        self.map.fit_bounds(*ZHEJIANG_BOUNDS)
        return True

    def open_dialog(self) -> bool:
        if self.busy or not self.confirm_discard("open another workspace"):
            return False
        path = self.prompts.open_path(self._last_dir())
        if not path:
            return False
        return self.open_path(path, ask=False)

    def open_path(self, path: str | os.PathLike[str], ask: bool = True) -> bool:
        """Open a workspace file; True if reading its layers started. Errors are
        shown (and kept in ``messages``); the current session stays as it was."""
        if self.busy:
            self.status_bar.showMessage("正在打开另一个工作空间 Busy opening a workspace", 4000)
            return False
        if ask and not self.confirm_discard("open another workspace"):
            return False
        p = Path(path).absolute()
        try:
            ws = wsc.load_workspace(p)
        except WorkspaceError as exc:
            self.show_error("无法打开工作空间 Cannot open workspace", str(exc))
            if exc.kind == "io" and not p.exists():
                self._forget_recent(p)
            return False
        self._remember_dir(p.parent)
        return self._start_restore(ws, mode="open", target=p)

    def _start_restore(self, ws: Workspace, mode: str, target: Path | None) -> bool:
        job = ReadJob(self.parent_widget, ws, password=self._unlock)
        self.job = job
        job.finished.connect(lambda status: self._on_read(job, ws, mode, target, status))
        return True

    def _on_read(self, job: ReadJob, ws: Workspace, mode: str, target: Path | None, status: str) -> None:
        if status == "cancelled":
            self.status_bar.showMessage("已取消打开工作空间 Opening the workspace was cancelled", 5000)
            self._after_job()
            return
        if status == "failed":
            self.show_error("无法打开工作空间 Cannot open workspace",
                            f"zjmap could not read the layers of the workspace ({job.message}).")
            self._after_job()
            return
        self._apply(ws, job.layers, job.problems, mode=mode, target=target)
        self._keep_read(job)
        self._after_job()

    def _keep_read(self, job: ReadJob) -> None:
        """Big layers read from their files: kept in the cache, as File → Add
        layer… does, so the next opening of the workspace is quick."""
        for lid, (key, meta) in job.kept.items():
            layer = job.layers.get(lid)
            if layer is not None and lid in self.stack and self.stack.layer(lid) is layer:
                self.user_layers.keep_in_cache(layer, key, meta)

    def _unlock(self, key: str, message: str) -> bool:
        """A database server's password, asked through :class:`Prompts` and kept for the session."""
        return unlock(key, message, self.prompts.password)

    def _after_job(self) -> None:
        self.job = None
        if self._dirty_since_autosave:
            self.schedule_autosave()

    def _apply(self, ws: Workspace, layers: dict, problems: list[LayerProblem], mode: str,
               target: Path | None) -> RestoreReport:
        self._applying = True
        try:
            for lid in list(self.user_layers.tables):  # attribute tables of layers about to go
                self.user_layers.close_table(lid)
            ignored = wsc.apply_workspace(self.stack, ws, layers, selection=self.selection, defaults=self.defaults)
        finally:
            self._applying = False
        for layer in layers.values():  # zoom bands and geometry still to make, in the background
            if layer.id in self.stack:
                self.user_layers.settle(layer)
        self.bookmarks = list(ws.bookmarks)
        self.pending = [p.entry for p in problems]
        self.previous_order = ws.order
        self.path = target
        self.modified = mode == "recover"
        self._update_title()
        self.bookmarks_changed.emit()
        if ws.view is not None:
            self.apply_view(ws.view)
        report = RestoreReport([lid for lid in layers], list(problems), ignored)
        self.last_report = report
        if mode == "open" and target is not None:
            self._add_recent(target)
            self.settings.setValue("workspace/last", str(target))
            self.settings.sync()
        n = len(layers)
        if mode != "new":
            msg = f"已打开 Opened {target.name if target else '恢复的工作 recovered work'}: {n} 个自己的图层 own layers"
            if problems:
                msg += f", {len(problems)} 个缺失 missing"
            self.status_bar.showMessage(msg, 8000)
        if self.missing_dialog is not None:
            self.missing_dialog.close()
            self.missing_dialog = None
        if problems:
            self.missing_dialog = self.prompts.show_missing(self, list(problems))
        self._dirty_since_autosave = True
        self.restored.emit(report)
        return report

    # -- save --------------------------------------------------------------------
    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        suggested = self.path.name if self.path else f"工作空间{SUFFIX}"
        path = self.prompts.save_path(self._last_dir(), suggested)
        if not path:
            return False
        p = Path(path)
        if p.suffix.lower() != SUFFIX:
            p = p.with_name(p.name + SUFFIX)
        return self.save_to(p)

    def save_to(self, path: str | os.PathLike[str]) -> bool:
        p = Path(path).absolute()
        try:
            wsc.save_workspace(self.capture(), p)
        except WorkspaceError as exc:
            self.show_error("无法保存 Cannot save", str(exc))
            return False
        self.path = p
        self.modified = False
        self._update_title()
        self._remember_dir(p.parent)
        self._add_recent(p)
        self.settings.setValue("workspace/last", str(p))
        self.settings.sync()
        self.status_bar.showMessage(f"已保存 Saved {p}", 5000)
        self.saved.emit(str(p))
        self.schedule_autosave()
        return True

    # -- missing layers ------------------------------------------------------------
    def locate(self, entry: LayerEntry, path: str) -> ReadJob | None:
        """Read a missing layer from where the planner found it; on success it
        joins the stack at its saved place and leaves ``pending``."""
        if self.busy:
            return None
        name = (entry.title or entry.id) if is_remote(str(path)) else Path(path).name
        job = ReadJob(self.parent_widget, Workspace(layers=[entry]), entries=[entry], path_override=str(path),
                      label=f"正在读取 Reading {name}…", password=self._unlock)
        self.job = job
        job.finished.connect(lambda status: self._on_located(job, entry, status))
        return job

    def _on_located(self, job: ReadJob, entry: LayerEntry, status: str) -> None:
        self.job = None
        layer = job.layers.get(entry.id) if status == "done" else None
        if layer is None:
            reason = job.problems[0].reason if job.problems else (job.message or status)
            if self.missing_dialog is not None:
                self.missing_dialog.set_status(entry.id, f"✗ {reason}", ok=False)
            return
        if entry.id in self.stack:
            self.stack.remove(entry.id)
        self.stack.add(layer, wsc.insert_position(self.stack, self.previous_order, entry.id))
        self.pending = [e for e in self.pending if e.id != entry.id]
        if not is_remote(layer.source.path):
            self._remember_dir(Path(layer.source.path).parent, key="folders/locate")
        if self.missing_dialog is not None:
            self.missing_dialog.set_status(entry.id, f"✓ 已恢复 Restored from {layer.source.path}", ok=True)
        self.mark_modified()

    def forget_missing(self, layer_id: str) -> None:
        """Drop a missing layer from the workspace (on the next save)."""
        if any(e.id == layer_id for e in self.pending):
            self.pending = [e for e in self.pending if e.id != layer_id]
            self.mark_modified()

    # -- bookmarks -----------------------------------------------------------------
    def current_view(self) -> View:
        return self.view or View(*ZHEJIANG_BOUNDS, zoom=None)

    def default_bookmark_name(self, view: View) -> str:
        lon, lat = view.center
        base = ""
        try:
            unit = self.explorer.identifier.base_unit_at(lon, lat)
            base = unit.name if unit is not None else ""
        except Exception:  # noqa: BLE001 - a name is a nicety
            base = ""
        base = base or f"书签 Bookmark {len(self.bookmarks) + 1}"
        names = {b.name for b in self.bookmarks}
        name, i = base, 2
        while name in names:
            name, i = f"{base} ({i})", i + 1
        return name

    def add_bookmark(self, name: str | None = None) -> Bookmark | None:
        view = self.current_view()
        if name is None:
            name = self.prompts.bookmark_name(self.default_bookmark_name(view))
            if not name:
                return None
        b = Bookmark(name, view)
        self.bookmarks.append(b)
        self.bookmarks_changed.emit()
        self.mark_modified()
        self.status_bar.showMessage(f"已添加书签 Bookmark added: {name}", 4000)
        return b

    def goto_bookmark(self, index: int) -> None:
        self.apply_view(self.bookmarks[index].view)

    def remove_bookmark(self, index: int) -> None:
        del self.bookmarks[index]
        self.bookmarks_changed.emit()
        self.mark_modified()

    def rename_bookmark(self, index: int, name: str) -> None:
        name = name.strip()
        if name and name != self.bookmarks[index].name:
            self.bookmarks[index] = Bookmark(name, self.bookmarks[index].view)
            self.bookmarks_changed.emit()
            self.mark_modified()

    def move_bookmark(self, index: int, to: int) -> None:
        if 0 <= to < len(self.bookmarks) and to != index:
            b = self.bookmarks.pop(index)
            self.bookmarks.insert(to, b)
            self.bookmarks_changed.emit()
            self.mark_modified()

    # -- the map view -----------------------------------------------------------------
    def apply_view(self, view: View) -> None:
        """Centre and zoom as saved (the same scale whatever the window size);
        an extent without a zoom is fitted."""
        self.view = view  # what the session shows now, even before the page reports it
        m = self.map
        if not m.is_ready:
            if self._pending_view is None:
                m.ready.connect(self._apply_pending_view)
            self._pending_view = view
            return
        if view.zoom is None:
            m.fit_bounds(*view.bbox)
        else:
            lon, lat = view.center
            m.set_view(lat, lon, float(view.zoom))

    def _apply_pending_view(self) -> None:
        try:
            self.map.ready.disconnect(self._apply_pending_view)
        except (RuntimeError, TypeError):
            pass
        v, self._pending_view = self._pending_view, None
        if v is not None:
            self.apply_view(v)

    # -- settings -------------------------------------------------------------------
    def _last_dir(self, key: str = "folders/workspace") -> str:
        d = str(self.settings.value(key, "") or "")
        if d and os.path.isdir(d):
            return d
        if self.path is not None:
            return str(self.path.parent)
        return str(Path.home())

    def _remember_dir(self, d: Path, key: str = "folders/workspace") -> None:
        self.settings.setValue(key, str(d))

    def recent(self) -> list[str]:
        raw = self.settings.value("workspace/recent", "[]")
        try:
            items = json.loads(raw) if isinstance(raw, str) else list(raw or [])
        except ValueError:
            items = []
        return [str(x) for x in items if isinstance(x, str) and x][:RECENT_MAX]

    def _set_recent(self, items: list[str]) -> None:
        self.settings.setValue("workspace/recent", json.dumps(items[:RECENT_MAX], ensure_ascii=False))
        self.settings.sync()

    def _add_recent(self, p: Path) -> None:
        s = str(p)
        self._set_recent([s] + [x for x in self.recent() if x != s])

    def _forget_recent(self, p: Path) -> None:
        self._set_recent([x for x in self.recent() if x != str(p)])

    def clear_recent(self) -> None:
        self._set_recent([])

    def restore_geometry(self) -> None:
        geo = self.settings.value("window/geometry")
        if geo is not None:
            try:
                self.hooks.restore_geometry(geo)
            except TypeError:
                pass
        state = self.settings.value("window/state")
        if state is not None:
            try:
                self.hooks.restore_state(state)
            except TypeError:
                pass

    # -- messages ------------------------------------------------------------------
    def show_error(self, title: str, text: str) -> None:
        self.messages.append(text)
        self.prompts.error(title, text)

    # -- clean exit ------------------------------------------------------------------
    def may_close(self) -> bool:
        """The window is about to close: False if the planner cancelled at
        "save the changes?" (the window stays open); else the session ends cleanly."""
        if self._shut:
            return True
        if not self.confirm_discard("close zjmap"):
            return False
        self.shutdown(clean=True)
        return True

    def _on_quit(self) -> None:
        # the app quits without the window closing (say the session ends):
        # write the last autosave and keep it, so the next start offers it
        if not self._shut:
            if self.modified:
                self.autosave_now()
                self.shutdown(clean=False)
            else:
                self.shutdown(clean=True)

    def shutdown(self, clean: bool = True) -> None:
        """Stop autosaving; remember the window and the workspace; a clean
        exit removes the autosave and the "running" lock."""
        if self._shut:
            return
        self._shut = True
        self.autosave_timer.stop()
        self.periodic_timer.stop()
        if self.job is not None and not self.job.done:
            self.job.cancel()
        try:
            self.settings.setValue("window/geometry", self.hooks.save_geometry())
            self.settings.setValue("window/state", self.hooks.save_state())
            self.settings.setValue("workspace/last", str(self.path) if self.path else "")
            self.settings.sync()
        except RuntimeError:  # the window is already gone
            pass
        if clean:
            try:
                self.autosave_path.unlink(missing_ok=True)
            except OSError:
                pass
        self.lock.unlock()
        app = QApplication.instance()
        if app is not None:
            try:
                app.aboutToQuit.disconnect(self._on_quit)
            except (RuntimeError, TypeError):
                pass
