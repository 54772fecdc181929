"""The map's look from one file, ``geodata/look.json``: the sea colour, the
selection highlight, label sizes and colours, default line widths and point
radii, the fonts Chinese is drawn with. The page gets the same file as ``window.ZJ_LOOK`` (see
:func:`look_js`), so what is exported looks like what is on screen."""

from __future__ import annotations

import functools
import json
import math
from typing import Any

from zjmap.core.paths import geodata_dir


@functools.lru_cache(maxsize=1)
def load_look() -> dict[str, Any]:
    return json.loads((geodata_dir() / "look.json").read_text(encoding="utf-8"))


def label_look(key: str) -> dict[str, Any]:
    """Size (CSS px), colour, bold, dx of the page labels of ``key``
    ("base_province", "seed", …), the default where look.json says nothing."""
    labels = load_look()["labels"]
    return {**labels["default"], **labels.get(key, {})}


def default_style(renderer: str) -> dict[str, float]:
    """{"weight", "radius"} a style without them is drawn with by ``renderer``."""
    return dict(load_look()["defaults"][renderer])


#: CSS's generic families: the page's last resort, not a font matplotlib can find.
GENERIC_FAMILIES = frozenset({"sans-serif", "serif", "monospace", "system-ui", "cursive", "fantasy"})


def cjk_families() -> list[str]:
    """The font families Chinese is drawn with, best first: look.json's
    ``font_families`` (the page's list) without the generic ones. Charts and
    exports (:mod:`zjmap.core.cjkfonts`) take the first one installed."""
    return [f for f in load_look()["font_families"] if f not in GENERIC_FAMILIES]


def look_js() -> str:
    """The look as a script the page loads before zjmap.js."""
    return "window.ZJ_LOOK = " + json.dumps(load_look(), ensure_ascii=False) + ";\n"


def dense_point_radius(n: int, width_css: float, height_css: float) -> float | None:
    """The radius (CSS px) at most that ``n`` points of a big layer in a view
    of that size are drawn at (look.json's dense_points), or None when they
    are few enough for their style's own."""
    d = load_look()["dense_points"]
    if n <= d["from"]:
        return None
    return max(d["min_radius"], math.sqrt(d["cover"] * width_css * height_css / (math.pi * n)))
