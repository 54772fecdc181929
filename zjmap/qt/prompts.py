"""Questions every controller may ask: whether a modal dialog can be shown
at all, and the one database-password prompt (File → Add database layer,
Save to PostGIS, a workspace's PostGIS layers, Locate… of a missing one).

A password typed here is kept for the session, and in the system keyring
when the planner ticks "remember" (:mod:`zjmap.core.pgpasswords`), never in
a workspace or settings file; the server's key (``user@host:port/db``)
decides which layers it unlocks, so each server is asked once per session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

log = logging.getLogger(__name__)


def headless() -> bool:
    """The "offscreen"/"minimal" platforms: nothing modal is shown (tests, scripted runs)."""
    return QGuiApplication.platformName() in ("offscreen", "minimal")


@dataclass(frozen=True)
class PasswordAnswer:
    """What the planner typed, and whether to keep it in the system keyring."""

    text: str
    keep: bool = False


class PasswordDialog(QDialog):
    """The password field and "remember in the keyring" (offered only when the system has one)."""

    def __init__(self, parent: QWidget | None, message: str):
        from zjmap.core.pgpasswords import keyring_available

        super().__init__(parent)
        self.setWindowTitle("数据库密码 Database password")
        box = QVBoxLayout(self)
        box.addWidget(QLabel(message))
        self.field = QLineEdit()
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setPlaceholderText("密码 Password")
        box.addWidget(self.field)
        self.remember = QCheckBox("在系统钥匙串中记住 Remember in the system keyring")
        has = keyring_available()
        self.remember.setEnabled(has)
        self.remember.setToolTip("下次打开时不再询问；密码不会写入工作空间 Not asked next time; never written to a workspace"
                                 if has else "本系统没有钥匙串：只在本次会话中记住 No keyring on this system: "
                                 "kept for this session only")
        box.addWidget(self.remember)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        box.addWidget(buttons)
        self.buttons = buttons

    def answer(self) -> PasswordAnswer | None:
        text = self.field.text()
        return PasswordAnswer(text, self.remember.isEnabled() and self.remember.isChecked()) if text else None


def ask_password(parent: QWidget | None, message: str) -> PasswordAnswer | None:
    """What the planner typed for the server ``message`` names (None: cancelled,
    left empty, or headless)."""
    if headless():
        log.warning("not asking for a database password (headless): %s", message)
        return None
    dlg = PasswordDialog(parent, message)
    return dlg.answer() if dlg.exec() == QDialog.DialogCode.Accepted else None


def unlock(key: str, message: str, ask: Callable[[str], PasswordAnswer | str | None]) -> bool:
    """Ask with ``ask(message)`` (:func:`ask_password`, or a controller's
    replaceable prompt that shows it) and keep the answer for server ``key``
    (in the keyring if the planner ticked it; a plain string: this session);
    False when nothing was given (the caller says why the layer is not read)."""
    from zjmap.core.postgis import remember_password

    got = ask(message)
    answer = PasswordAnswer(got) if isinstance(got, str) else got
    if answer is None or not answer.text:
        return False
    remember_password(key, answer.text, keep=answer.keep)
    return True
