"""One source for the map's look: geodata/look.json, read by the page and by the exporter."""

from __future__ import annotations

import re
from pathlib import Path

from guitools import js

from zjmap.core import export
from zjmap.core.look import cjk_families, default_style, label_look, load_look

ROOT = Path(__file__).resolve().parents[1]


def test_the_page_files_hold_no_colours_or_label_sizes_of_their_own():
    css = (ROOT / "zjmap" / "web" / "zjmap.css").read_text(encoding="utf-8")
    assert "font-size" not in css and not [c for c in re.findall(r"#[0-9a-fA-F]{3,6}\b", css) if c != "#fff"]
    page = (ROOT / "zjmap" / "web" / "zjmap.js").read_text(encoding="utf-8")
    assert "#ffd400" not in page and "#cfe2f0" not in page
    big = (ROOT / "zjmap" / "web" / "biglayer.js").read_text(encoding="utf-8")
    assert "|| 6" not in big and "Noto Sans CJK SC" not in big


def test_the_exporter_reads_the_same_look():
    look = load_look()
    assert export.SEA == look["sea"]
    assert label_look("base_province")["size"] == 15 and label_look("base_water")["size"] == look["labels"]["default"]["size"]
    assert default_style("canvas") == {"weight": 1, "radius": 6}


def test_the_exporter_draws_chinese_in_the_fonts_of_look_json(monkeypatch):
    """One font list (look.json's font_families): the page's CSS list, and
    without its generic fallback the families exports and charts look for."""
    from zjmap.core import cjkfonts, export_fonts, look

    fonts = load_look()["font_families"]
    assert cjk_families() == fonts[:-1] and fonts[-1] == "sans-serif" and fonts[0] == "Noto Sans CJK SC"
    for mod in ("cjkfonts.py", "export_fonts.py", "export.py", "export_render.py"):
        assert "Noto Sans CJK SC" not in (ROOT / "zjmap" / "core" / mod).read_text(encoding="utf-8"), mod
    # a look that names another family first: the exporter's font follows it
    monkeypatch.setattr(look, "load_look", lambda: {**load_look(), "font_families": ["DejaVu Serif", "sans-serif"]})
    monkeypatch.setattr(cjkfonts, "_state", {})
    monkeypatch.setattr(export_fonts, "_FONT_ENTRIES", {})
    assert cjkfonts.ensure_cjk_font() == "DejaVu Serif"
    assert export_fonts._font_family() == ["DejaVu Serif", "DejaVu Sans"]


def test_the_page_draws_with_the_look(win):
    look = load_look()
    assert js(win.map, "JSON.stringify(ZJ.look)") == look
    bg = js(win.map, "getComputedStyle(document.querySelector('.leaflet-container')).backgroundColor")
    r, g, b = (int(look["sea"][i:i + 2], 16) for i in (1, 3, 5))
    assert bg == f"rgb({r}, {g}, {b})"
    size = js(win.map, "(function(){var s=document.createElement('span');var d=document.createElement('div');"
                       "d.className='zj-label zj-label-base zj-label-base_province';d.appendChild(s);"
                       "document.body.appendChild(d);var f=getComputedStyle(s).fontSize;d.remove();return f;})()")
    assert size == f"{look['labels']['base_province']['size']}px"
