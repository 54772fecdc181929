"""The workspace's menus: File → New / Open… / Recent / Save / Save As… and
the Bookmarks menu, filled from a :class:`~zjmap.qt.workspace_actions.WorkspaceController`
and handed back to the main window as :class:`WorkspaceActions`; and the
start-up once the map is ready."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from zjmap.qt.workspace_dialogs import BookmarksDialog

if TYPE_CHECKING:
    from zjmap.qt.workspace_actions import WorkspaceController


@dataclass
class WorkspaceActions:
    """The workspace entries of File and the Bookmarks menu, made by ``workspace_menus``."""

    act_ws_new: QAction
    act_ws_open: QAction
    act_ws_save: QAction
    act_ws_save_as: QAction
    recent_menu: QMenu
    act_bookmark_add: QAction
    act_bookmark_manage: QAction

    def shortcuts(self) -> list[QAction]:
        """The actions whose shortcuts work anywhere in the window."""
        return [self.act_ws_new, self.act_ws_open, self.act_ws_save, self.act_ws_save_as, self.act_bookmark_add]


def workspace_menus(ctl: WorkspaceController, file_menu: QMenu, before: QAction | None,
                    bookmarks_menu: QMenu) -> WorkspaceActions:
    """File → New / Open… / Recent / Save / Save As… (before ``before``, the
    window's Quit) and the Bookmarks menu the window placed (before Help)."""
    parent = file_menu

    def action(text: str, shortcut: str | None, fn, tip: str = "") -> QAction:
        a = QAction(text, parent)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(lambda _checked=False: fn())
        return a

    recent = QMenu("最近的工作空间 Recent workspaces", file_menu)
    acts = WorkspaceActions(
        act_ws_new=action("新建工作空间 New workspace", "Ctrl+N", ctl.new_workspace,
                          "清空自己的图层和书签 Start again from the shipped map"),
        act_ws_open=action("打开工作空间… Open workspace…", "Ctrl+Shift+O", ctl.open_dialog),
        act_ws_save=action("保存工作空间 Save workspace", "Ctrl+S", ctl.save),
        act_ws_save_as=action("工作空间另存为… Save workspace as…", "Ctrl+Shift+S", ctl.save_as),
        recent_menu=recent,
        act_bookmark_add=action("添加书签… Add bookmark…", "Ctrl+B", ctl.add_bookmark,
                                "把当前视图存为书签 Name the current extent"),
        act_bookmark_manage=action("管理书签… Manage bookmarks…", None, lambda: _show_bookmarks(ctl)),
    )

    def fill_recent() -> None:
        recent.clear()
        items = ctl.recent()
        for i, p in enumerate(items, 1):
            a = recent.addAction(f"&{i} {Path(p).name}", lambda p=p: ctl.open_path(p))
            a.setToolTip(p)
            a.setStatusTip(p)
            a.setEnabled(os.path.exists(p))
        if not items:
            recent.addAction("（无 none）").setEnabled(False)
        recent.addSeparator()
        recent.addAction("清除列表 Clear list", ctl.clear_recent)

    recent.aboutToShow.connect(fill_recent)
    fill_recent()

    before = before if before in file_menu.actions() else None
    for a in (acts.act_ws_new, acts.act_ws_open):
        file_menu.insertAction(before, a)
    file_menu.insertMenu(before, recent)
    file_menu.insertSeparator(before)
    file_menu.insertAction(before, acts.act_ws_save)
    file_menu.insertAction(before, acts.act_ws_save_as)
    file_menu.insertSeparator(before)

    bm = bookmarks_menu

    def fill_bookmarks() -> None:
        bm.clear()
        bm.addAction(acts.act_bookmark_add)
        bm.addAction(acts.act_bookmark_manage)
        bm.addSeparator()
        for i, b in enumerate(ctl.bookmarks):
            bm.addAction(b.name, lambda i=i: ctl.goto_bookmark(i))
        if not ctl.bookmarks:
            bm.addAction("（还没有书签 no bookmarks yet）").setEnabled(False)

    bm.aboutToShow.connect(fill_bookmarks)
    ctl.bookmarks_changed.connect(fill_bookmarks)
    fill_bookmarks()
    return acts


def start_when_ready(ctl: WorkspaceController, map_view) -> None:
    """Restore the window's geometry now; autosave and the crash-recovery offer
    once the map is ready."""
    ctl.restore_geometry()
    if map_view.is_ready:
        QTimer.singleShot(0, ctl.startup)
        return

    def on_ready() -> None:
        try:
            map_view.ready.disconnect(on_ready)
        except (RuntimeError, TypeError):
            pass
        QTimer.singleShot(0, ctl.startup)  # after the map's own ready handlers

    map_view.ready.connect(on_ready)


def _show_bookmarks(ctl: WorkspaceController) -> BookmarksDialog:
    dlg = BookmarksDialog(ctl)
    dlg.show()
    ctl._bookmarks_dialog = dlg
    return dlg

