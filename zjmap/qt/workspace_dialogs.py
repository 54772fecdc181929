"""What the workspace actions ask and show: :class:`Prompts` (every question
and message, replaceable in tests; headless runs take the safe default), the
missing-layers dialog and the bookmarks dialog."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from zjmap.core import formats
from zjmap.core.pgsource import is_remote
from zjmap.core.workspace import SUFFIX, LayerProblem, Workspace
from zjmap.qt.prompts import PasswordAnswer, ask_password
from zjmap.qt.prompts import headless as _headless

if TYPE_CHECKING:
    from zjmap.qt.workspace_actions import ReadJob, WorkspaceController

log = logging.getLogger(__name__)

FILE_FILTER = f"zjmap 工作空间 Workspace (*{SUFFIX});;所有文件 All files (*)"


class Prompts:
    """Every question the workspace actions ask and every message they show.

    Tests replace methods (``monkeypatch.setattr(Prompts, "ask_restore", ...)``).
    On a headless platform nothing modal is shown: questions take the safe
    default (keep the autosave aside, do not restore; discard on close since
    the autosave was already written) and messages go to the log."""

    def __init__(self, parent: QWidget | None):
        self.parent_widget = parent  # the dialogs' parent, nothing else

    def ask_restore(self, text: str) -> bool:
        if _headless():
            log.warning("not restoring a crashed session (headless): %s", text)
            return False
        ans = QMessageBox.question(
            self.parent_widget, "恢复工作 Restore work", text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes,
        )
        return ans == QMessageBox.StandardButton.Yes

    def ask_save_changes(self, text: str) -> str:
        """"save", "discard" or "cancel"."""
        if _headless():
            return "discard"
        box = QMessageBox(QMessageBox.Icon.Question, "保存更改 Save changes", text,
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self.parent_widget)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        ans = box.exec()
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
            QMessageBox.StandardButton(ans), "cancel")

    def error(self, title: str, text: str) -> None:
        if _headless():
            log.warning("%s: %s", title, text)
            return
        QMessageBox.warning(self.parent_widget, title, text)

    def open_path(self, start_dir: str) -> str | None:
        if _headless():
            return None
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, "打开工作空间 Open workspace", start_dir, FILE_FILTER)
        return path or None

    def save_path(self, start_dir: str, suggested: str) -> str | None:
        if _headless():
            return None
        path, _ = QFileDialog.getSaveFileName(self.parent_widget, "保存工作空间 Save workspace",
                                              os.path.join(start_dir, suggested), FILE_FILTER)
        return path or None

    def locate_file(self, start_dir: str, title: str) -> str | None:
        if _headless():
            return None
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, f"定位 Locate — {title}", start_dir,
                                              f"{formats.map_data_filter()};;所有文件 All files (*)")
        return path or None

    def bookmark_name(self, default: str) -> str | None:
        if _headless():
            return default
        text, ok = QInputDialog.getText(self.parent_widget, "添加书签 Add bookmark", "名称 Name:", text=default)
        return text.strip() if ok and text.strip() else None

    def locate_source(self, current: str, title: str) -> str | None:
        """Where a database or web layer is now: its connection, the saved one
        offered (no password in it; one is asked for if the server wants it)."""
        if _headless():
            return None
        text, ok = QInputDialog.getText(self.parent_widget, f"定位 Locate — {title}",
                                        "连接 Connection (postgresql://…?table=schema.name, OAPIF:…):", text=current)
        return text.strip() if ok and text.strip() else None

    def password(self, message: str) -> "PasswordAnswer | None":
        """What the planner typed for a database layer's password and whether to
        keep it in the keyring (None: cancelled): the app's one password prompt
        (:func:`zjmap.qt.prompts.ask_password`)."""
        return ask_password(self.parent_widget, message)

    def show_missing(self, ctl: "WorkspaceController", problems: list[LayerProblem]) -> "MissingLayersDialog":
        dlg = MissingLayersDialog(ctl, problems)
        dlg.show()
        return dlg




class MissingLayersDialog(QDialog):
    """The layers a workspace names whose files are missing or unreadable,
    each with Locate… (pick the file where it is now) and Remove."""

    def __init__(self, ctl: WorkspaceController, problems: list[LayerProblem]):
        super().__init__(ctl.parent_widget)
        self.ctl = ctl
        self.setWindowTitle("缺失的图层 Missing layers")
        self.setMinimumWidth(620)
        self.problems = list(problems)
        lay = QVBoxLayout(self)
        n = len(problems)
        intro = QLabel(
            f"工作空间中有 {n} 个图层无法打开，其他图层已加载。\n"
            f"{n} layer{'s' if n != 1 else ''} of the workspace could not be opened; everything else is loaded. "
            "Locate each file where it is now, or remove it from the workspace.", self)
        intro.setWordWrap(True)
        lay.addWidget(intro)
        inner = QWidget(self)
        grid = QGridLayout(inner)
        self.rows: dict[str, dict[str, Any]] = {}
        for r, p in enumerate(problems):
            title = QLabel(f"<b>{_html(p.title)}</b>", inner)
            path = QLabel(p.path, inner)
            path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            why = QLabel(("文件不存在 File not found" if p.missing else p.reason), inner)
            why.setWordWrap(True)
            why.setStyleSheet("color: #a33;")
            locate = QPushButton("定位… Locate…", inner)
            locate.clicked.connect(lambda _=False, prob=p: self.locate(prob))
            remove = QPushButton("移除 Remove", inner)
            remove.clicked.connect(lambda _=False, prob=p: self.remove(prob))
            box = QVBoxLayout()
            box.addWidget(title)
            box.addWidget(path)
            box.addWidget(why)
            grid.addLayout(box, r, 0)
            grid.addWidget(locate, r, 1)
            grid.addWidget(remove, r, 2)
            self.rows[p.entry.id] = {"problem": p, "status": why, "locate": locate, "remove": remove, "path": path}
        grid.setColumnStretch(0, 1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        lay.addWidget(scroll)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)

    def paths(self) -> list[str]:
        return [row["problem"].path for row in self.rows.values()]

    def locate(self, p: LayerProblem) -> ReadJob | None:
        """Where the layer is now: a file picked, or for a database / web layer
        its connection (the password asked if the server wants one)."""
        if is_remote(p.path):
            path = self.ctl.prompts.locate_source(p.path, p.title)
        else:
            start = os.path.dirname(p.path)
            if not os.path.isdir(start):
                start = self.ctl._last_dir("folders/locate")
            path = self.ctl.prompts.locate_file(start, p.title)
        if not path:
            return None
        self.set_status(p.entry.id, f"正在读取 Reading {path}…", ok=None)
        return self.ctl.locate(p.entry, path)

    def remove(self, p: LayerProblem) -> None:
        self.ctl.forget_missing(p.entry.id)
        self.set_status(p.entry.id, "已从工作空间移除 Removed from the workspace", ok=True)

    def set_status(self, layer_id: str, text: str, ok: bool | None) -> None:
        row = self.rows.get(layer_id)
        if row is None:
            return
        row["status"].setText(text)
        row["status"].setStyleSheet({True: "color: #2a7;", False: "color: #a33;", None: "color: #666;"}[ok])
        if ok:
            row["locate"].setEnabled(False)
            row["remove"].setEnabled(False)


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class BookmarksDialog(QDialog):
    """Manage bookmarks: rename (edit in place), go to, move, delete."""

    def __init__(self, ctl: WorkspaceController):
        super().__init__(ctl.parent_widget)
        self.ctl = ctl
        self.setWindowTitle("管理书签 Manage bookmarks")
        self.setMinimumSize(420, 320)
        lay = QHBoxLayout(self)
        self.list = QListWidget(self)
        self.list.itemChanged.connect(self._renamed)
        self.list.itemDoubleClicked.connect(lambda _i: self._go())
        lay.addWidget(self.list, 1)
        side = QVBoxLayout()
        for text, fn in (("转到 Go to", self._go), ("上移 Up", lambda: self._move(-1)),
                         ("下移 Down", lambda: self._move(1)), ("删除 Delete", self._delete)):
            b = QPushButton(text, self)
            b.clicked.connect(fn)
            side.addWidget(b)
        side.addStretch(1)
        close = QPushButton("关闭 Close", self)
        close.clicked.connect(self.accept)
        side.addWidget(close)
        lay.addLayout(side)
        ctl.bookmarks_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        row = self.list.currentRow()
        self.list.blockSignals(True)
        self.list.clear()
        for b in self.ctl.bookmarks:
            it = QListWidgetItem(b.name)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsEditable)
            z = f" z{b.view.zoom:g}" if b.view.zoom is not None else ""
            it.setToolTip(f"{b.view.west:.4f}, {b.view.south:.4f} — {b.view.east:.4f}, {b.view.north:.4f}{z}")
            self.list.addItem(it)
        self.list.blockSignals(False)
        if self.list.count():
            self.list.setCurrentRow(max(0, min(row, self.list.count() - 1)))

    def _renamed(self, item: QListWidgetItem) -> None:
        self.ctl.rename_bookmark(self.list.row(item), item.text())

    def _go(self) -> None:
        r = self.list.currentRow()
        if r >= 0:
            self.ctl.goto_bookmark(r)

    def _move(self, d: int) -> None:
        r = self.list.currentRow()
        if r >= 0 and 0 <= r + d < len(self.ctl.bookmarks):
            self.ctl.move_bookmark(r, r + d)
            self.list.setCurrentRow(r + d)

    def _delete(self) -> None:
        r = self.list.currentRow()
        if r >= 0:
            self.ctl.remove_bookmark(r)
