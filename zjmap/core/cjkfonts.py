"""Chinese text in matplotlib (the Figures chart, every export): always a CJK font when one is installed.

matplotlib finds fonts through a cache (``fontlist-*.json`` in its config
folder) made the first time it ran. A machine where it ran before
``fonts-noto-cjk`` was installed keeps a cache without any CJK family, and
every Chinese character comes out as a box in DejaVu Sans. Rebuilding the
whole cache costs seconds, so instead the CJK font files are found directly
(the known Noto / WenQuanYi paths, else fontconfig's ``fc-list :lang=zh``)
and only they are added to matplotlib's font manager, on first use.

Which families count, best first, is the page's font list in
``geodata/look.json`` (:func:`zjmap.core.look.cjk_families`): exports use
the fonts the map is shown in. Nothing here imports matplotlib until
:func:`ensure_cjk_font` is called, so the app's start-up stays as fast as before.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import threading

from zjmap.core.look import cjk_families

#: where Debian and Ubuntu put them (fonts-noto-cjk, fonts-wqy-zenhei, fonts-wqy-microhei)
KNOWN_FILES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK*.tt[cf]",
    "/usr/share/fonts/noto-cjk/NotoSansCJK*.tt[cf]",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
]

#: the package that brings one (Debian 12/13, Ubuntu 24.04)
FONT_PACKAGE = "fonts-noto-cjk"
MISSING_MESSAGE = (
    "未安装中文字体 No Chinese (CJK) font is installed: Chinese text in charts and exports "
    f"would show as boxes. Install {FONT_PACKAGE} (sudo apt-get install {FONT_PACKAGE})."
)

_lock = threading.Lock()
_state: dict[str, object] = {}


def cjk_font_files() -> list[str]:
    """CJK font files on this machine: the known paths, else what fontconfig
    lists for Chinese. No matplotlib; a few stat calls when the known paths hit."""
    found = sorted({f for pat in KNOWN_FILES for f in glob.glob(pat)})
    if found:
        return found
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = {line.split(":")[0].strip() for line in out.splitlines() if line.strip()}
    return sorted(f for f in files if f.lower().endswith((".ttf", ".ttc", ".otf", ".otc")))


def have_cjk_font() -> bool:
    """Whether any CJK font exists (for the status bar and the export dialog; no matplotlib)."""
    if "files" not in _state:
        _state["files"] = cjk_font_files()
    return bool(_state["files"])


def ensure_cjk_font() -> str | None:
    """The CJK family matplotlib will use, registering the font files with
    its font manager if its cache does not know any; None if none exists."""
    with _lock:
        if "family" in _state:
            return _state["family"]  # type: ignore[return-value]
        from matplotlib import font_manager as fm

        family = _known_family(fm)
        if family is None:
            files = _state.get("files")
            if files is None:
                files = _state["files"] = cjk_font_files()
            for f in files:  # type: ignore[union-attr]
                try:
                    fm.fontManager.addfont(f)
                except (OSError, RuntimeError, ValueError):
                    continue
            family = _known_family(fm)
            if family is None:  # a CJK font of a family not in the list: take its name
                names = [e.name for e in fm.fontManager.ttflist if e.fname in set(files)]  # type: ignore[arg-type]
                family = names[0] if names else None
        _state["family"] = family
        return family


def _known_family(fm) -> str | None:
    have = {e.name for e in fm.fontManager.ttflist}
    return next((f for f in cjk_families() if f in have), None)
