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
