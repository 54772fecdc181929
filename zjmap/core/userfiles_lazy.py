"""`zjmap.core.userfiles`, imported on first use.

Reading planners' files needs geopandas and pandas (most of a second to
import); the window needs them only once a file is added, not at start-up.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    return getattr(importlib.import_module("zjmap.core.userfiles"), name)
