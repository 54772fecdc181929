"""The app's settings file, in a module of its own: the window's frame reads
its saved geometry before the rest of the app is imported (qt/startup.py)."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication


def make_settings() -> QSettings:
    """The app's settings: an INI file in the user's config folder
    (``$XDG_CONFIG_HOME/zjmap/zjmap.ini`` on Linux)."""
    app = QApplication.instance()
    org = (app.organizationName() if app else "") or "zjmap"
    name = (app.applicationName() if app else "") or "zjmap"
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, org, name)
