"""The session on disk: where the app keeps its files and settings, and the
autosaves of sessions that did not exit cleanly (found, and kept aside).

The controller in :mod:`zjmap.qt.workspace_actions` writes the autosave and
holds the session lock; this module is what it reads back at start-up.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLockFile, QStandardPaths

from zjmap.core.workspace import SUFFIX
from zjmap.qt.settings import make_settings  # noqa: F401  (the settings the session keeps)

log = logging.getLogger(__name__)

#: Declined autosaves kept in ``recovered/`` (the newest this many).
KEEP_RECOVERED = 5


# ---------------------------------------------------------------------------
# Where things are kept


def app_data_dir() -> Path:
    """``QStandardPaths.AppDataLocation``: ``$XDG_DATA_HOME/zjmap/zjmap`` on Linux."""
    loc = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(loc or os.path.join(os.path.expanduser("~"), ".local", "share", "zjmap"))


def sessions_dir() -> Path:
    return app_data_dir() / "sessions"


def recovered_dir() -> Path:
    return app_data_dir() / "recovered"


# ---------------------------------------------------------------------------
# Sessions that did not exit cleanly


@dataclass
class Candidate:
    """A crashed session's autosave, offered for recovery."""

    autosave: Path
    lock: QLockFile | None  # held by us while deciding
    mtime: float


def crashed_sessions(own_lock: Path) -> list[Candidate]:
    """Sessions that did not exit cleanly, newest first: a lock whose process
    is gone (its lock now held here while the planner decides), or an autosave
    without its lock. ``own_lock`` is this session's (never offered).
    Half-written autosaves of dead sessions are removed on the way."""
    out: list[Candidate] = []
    sdir = sessions_dir()
    live: set[str] = set()  # sessions whose process is running (this one, other windows/instances)
    seen: set[str] = set()
    for lock_path in sorted(sdir.glob("session-*.lock")):
        sid = lock_path.name[len("session-"):-len(".lock")]
        seen.add(sid)
        if lock_path == own_lock:
            live.add(sid)
            continue
        lf = QLockFile(str(lock_path))
        lf.setStaleLockTime(0)
        if not lf.tryLock(0):
            live.add(sid)
            continue
        auto = sdir / f"session-{sid}{SUFFIX}"
        if auto.exists():
            out.append(Candidate(auto, lf, auto.stat().st_mtime))
        else:
            lf.unlock()  # crashed before its first autosave: nothing to offer
    for auto in sdir.glob(f"session-*{SUFFIX}"):
        sid = auto.name[len("session-"):-len(SUFFIX)]
        if sid not in seen:  # an autosave whose session ended without cleaning up
            out.append(Candidate(auto, None, auto.stat().st_mtime))
    for tmp in sdir.glob(f".session-*{SUFFIX}.*.tmp"):  # a write cut short by a crash
        sid = tmp.name[len(".session-"):].split(SUFFIX, 1)[0]
        if sid not in live:
            tmp.unlink(missing_ok=True)
    out.sort(key=lambda c: c.mtime, reverse=True)
    return out


def set_aside(autosave: Path) -> None:
    """Keep a crashed session's autosave in recovered/ (the newest few)."""
    rdir = recovered_dir()
    try:
        rdir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(autosave.stat().st_mtime))
        dest = rdir / f"recovered-{stamp}-{autosave.stem.split('-', 1)[-1]}{SUFFIX}"
        os.replace(autosave, dest)
        kept = sorted(rdir.glob(f"recovered-*{SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEEP_RECOVERED:]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not keep %s aside: %s", autosave, exc)
