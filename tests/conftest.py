"""Test environment: offscreen Qt, QtWebEngine flags, settings kept away from the user's."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never read or write the planner's real settings or autosaves.
_HOME = tempfile.mkdtemp(prefix="zjmap-test-home-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_HOME, "data")
os.environ["XDG_CACHE_HOME"] = os.path.join(_HOME, "cache")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def qapp():
    """pytest-qt's QApplication, made the way QtWebEngine needs it."""
    from zjmap.qt.app import make_application

    return make_application(["zjmap-tests"])


@pytest.fixture(scope="module")
def win(qapp):
    """The real main window on the shipped data, one per test module."""
    from guitools import close_window, open_window

    w = open_window()
    yield w
    close_window(w)
