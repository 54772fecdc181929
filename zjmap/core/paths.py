"""Where the shipped data lives.

The data folders sit beside the package in a checkout (the app is run from
its repository); ZJMAP_ROOT overrides that for tests and installs elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    env = os.environ.get("ZJMAP_ROOT")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2]


def geodata_dir() -> Path:
    return project_root() / "geodata"


def seeds_dir() -> Path:
    return project_root() / "seeds"


def web_dir() -> Path:
    """Static JS/CSS of the map page that ship inside the package."""
    return Path(__file__).resolve().parents[1] / "web"


def files_stamp(files, salt: str = "") -> str:
    """A short hash of files' paths, sizes and mtimes (a missing file left
    out): what a cache keyed on them depends on changes, and reading them
    is not needed to tell."""
    import hashlib

    h = hashlib.sha1(salt.encode())
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            continue
        h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]
