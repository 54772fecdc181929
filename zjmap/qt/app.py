"""Starting the app: environment QtWebEngine needs, fonts, the main window."""

from __future__ import annotations

import os
import sys


def prepare_environment() -> None:
    """QtWebEngine refuses to run as root without --no-sandbox; GPU is optional."""
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
    want = ["--disable-gpu"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        want.insert(0, "--no-sandbox")
    for w in want:
        if w not in flags:
            flags = (flags + " " + w).strip()
    os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = flags
    os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false;js=false")


def make_application(argv: list[str] | None = None):
    prepare_environment()
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6 import QtWebEngineWidgets  # noqa: F401  (must load before QApplication)
    from PySide6.QtGui import QFont, QFontDatabase
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        app = QApplication(argv or sys.argv[:1] or ["zjmap"])
        app.setApplicationName("zjmap")
        app.setOrganizationName("zjmap")
    from zjmap.qt import collector

    collector.install()  # cycles collected on this thread only, never a worker's
    families = set(QFontDatabase.families())
    for fam in ("Noto Sans CJK SC", "WenQuanYi Zen Hei", "Noto Sans SC"):
        if fam in families:
            f = QFont(fam)
            f.setPointSize(max(9, app.font().pointSize()))
            app.setFont(f)
            break
    return app


def run_app(argv: list[str] | None = None) -> int:
    from zjmap.qt.startup import open_main_window

    app, win = open_main_window(argv)
    win.show()
    return app.exec()
