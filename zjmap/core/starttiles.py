"""The base map's tiles of the start view, kept from one start for the next.

Drawing the base map was the largest piece of a cold start page's work
(about 40 ms of its ~190 ms), and it is the same picture at every start with
the same data and look. The page sends its start tiles as one PNG once it is
idle (``zjmap/web/starttiles.js``); they are kept beside the shipped layers'
cache (``mappage.save_layers_cache``), and the next start's page puts them
into its tile cache while it reads the arrays. The page itself checks that
the image was drawn from the same layers, styles, zoom and pixel ratio (its
fingerprint); the stamp here covers what the page cannot see: its own
scripts and the web engine that drew it.

Qt-free, and cheap to import: start-up reads it before numpy is imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from zjmap.core.paths import files_stamp, web_dir

META = "start-tiles.json"
SCRIPT = "startview.js"  # window.ZJ_START_VIEW, loaded by the page before zjmap.js
MAX_PNG_BYTES = 16 << 20
PNG_HEAD = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk: no data, its CRC
#: the fields the page's image description has (starttiles.js keep())
FIELDS = {"fp": str, "z": int, "r": (int, float), "x0": int, "y0": int, "cols": int, "rows": int, "cells": str}


def stamp() -> str:
    """What drew the tiles besides their data and styles: the page's scripts
    and the web engine (PySide6's package file), by size and mtime."""
    files = sorted(web_dir().glob("*.js"))
    spec = importlib.util.find_spec("PySide6")
    if spec is not None and spec.origin:
        files.append(Path(spec.origin))
    return files_stamp(files)


def _valid(meta: Any) -> bool:
    if not isinstance(meta, dict) or any(not isinstance(meta.get(k), t) for k, t in FIELDS.items()):
        return False
    return 0 < meta["cols"] * meta["rows"] == len(meta["cells"]) and set(meta["cells"]) <= {"t", "e", "-"}


def save(cache: Path, meta: dict, png: bytes) -> bool:
    """Keep the page's start tiles in a shipped layers' cache directory;
    False (nothing written) for anything that is not a whole description
    and a PNG, or a cache that cannot be written."""
    if (not _valid(meta) or not png.startswith(PNG_HEAD) or not png.endswith(PNG_END) or len(png) > MAX_PNG_BYTES
            or not cache.is_dir()):
        return False
    image = _image_name(png)  # a page never pairs a description with another image, nor with a damaged one
    kept = {k: meta[k] for k in FIELDS} | {"image": image, "stamp": stamp()}
    try:
        for name, data in ((image, png), (META, json.dumps(kept).encode())):  # the description last: it names the image
            tmp = cache / f".{name}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, cache / name)
    except OSError:
        return False
    for old in cache.glob("start-tiles-*.png"):
        if old.name != image:
            old.unlink(missing_ok=True)
    return True


def kept(cache: Path | None) -> dict | None:
    """The kept description, if its image is there and its stamp is this
    app's; else None (the page draws from its arrays)."""
    if cache is None:
        return None
    try:
        meta = json.loads((cache / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not _valid(meta) or meta.get("stamp") != stamp() or not isinstance(meta.get("image"), str):
        return None
    return meta if _intact(cache / meta["image"]) else None


def _intact(path: Path) -> bool:
    """The image as it was kept: its name holds its bytes' hash. The engine
    draws a PNG cut short, or one whose data is garbled, as far as it can
    read it: blank tiles, where the arrays would draw the map."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return path.name == _image_name(data)


def _image_name(png: bytes) -> str:
    return f"start-tiles-{hashlib.sha1(png).hexdigest()[:12]}.png"



def view_script(tiles: dict | None, keep: bool) -> str:
    """startview.js: the tiles to start from (or null), and whether the page
    should send its own start tiles (the shipped page only)."""
    return "window.ZJ_START_VIEW = " + json.dumps({"tiles": tiles, "keep": keep}) + ";\n"
