"""Questions every controller may ask: whether a modal dialog can be shown
at all, and the one database-password prompt (File → Add database layer,
Save to PostGIS, a workspace's PostGIS layers, Locate… of a missing one).

A password typed here is kept for the session, and in the system keyring
when there is one (:func:`zjmap.core.postgis.remember_password`), never in
a workspace or settings file; the server's key (``user@host:port/db``)
decides which layers it unlocks, so each server is asked once per session.
"""

from __future__ import annotations

import logging
from typing import Callable

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

log = logging.getLogger(__name__)


def headless() -> bool:
    """The "offscreen"/"minimal" platforms: nothing modal is shown (tests, scripted runs)."""
    return QGuiApplication.platformName() in ("offscreen", "minimal")


def ask_password(parent: QWidget | None, message: str) -> str | None:
    """What the planner typed for the server ``message`` names (None: cancelled,
    left empty, or headless)."""
    if headless():
        log.warning("not asking for a database password (headless): %s", message)
        return None
    pw, ok = QInputDialog.getText(parent, "数据库密码 Database password",
                                  f"{message}\n密码 Password:", QLineEdit.EchoMode.Password)
    return pw if ok and pw else None


def unlock(key: str, message: str, ask: Callable[[str], str | None]) -> bool:
    """Ask with ``ask(message)`` (:func:`ask_password`, or a controller's
    replaceable prompt that shows it) and keep the answer for server ``key``;
    False when nothing was given (the caller says why the layer is not read)."""
    from zjmap.core.postgis import remember_password

    pw = ask(message)
    if not pw:
        return False
    remember_password(key, pw)
    return True
