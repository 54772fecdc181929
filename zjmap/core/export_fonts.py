"""The exporter's CJK font: the font-manager entry, a small TrueType subset of the glyphs a PDF uses (why hand-built: see _subset_font), embedding."""

from __future__ import annotations

import hashlib
import math
import os
import threading
from typing import Any

from zjmap.core.cjkfonts import ensure_cjk_font
from zjmap.core.look import cjk_families


_FONT_LOCK = threading.Lock()
_FONT_ENTRIES: dict[str, Any] = {}


def _cjk_entry(bold: bool) -> Any:
    """The font-manager entry (file + face index) of the CJK font, or None."""
    key = "bold" if bold else "regular"
    with _FONT_LOCK:
        if key in _FONT_ENTRIES:
            return _FONT_ENTRIES[key]
        from matplotlib import font_manager as fm

        entry = None
        found = ensure_cjk_font()  # registers the CJK files if matplotlib's cache predates them
        families = cjk_families()
        for fam in families + ([found] if found and found not in families else []):
            cands = [e for e in fm.fontManager.ttflist if e.name == fam and e.style == "normal"]
            if cands:
                want = 700 if bold else 400
                entry = min(cands, key=lambda e: abs(_weight(e.weight) - want))
                break
        _FONT_ENTRIES[key] = entry
        return entry


def _weight(w: Any) -> int:
    if isinstance(w, (int, float)):
        return int(w)
    return {"bold": 700, "normal": 400, "regular": 400}.get(str(w), 400)


def _font_family() -> list[str]:
    e = _cjk_entry(False)
    return ([e.name] if e is not None else []) + ["DejaVu Sans"]


_SUBSET_CACHE: dict[tuple[str, int, str], bytes] = {}
_GLYPH_CACHE: dict[tuple[str, int, int], tuple[Any, int, int]] = {}


def _subset_font(entry: Any, chars: str) -> bytes:
    """A small TrueType font holding only ``chars`` of the CJK font entry.

    matplotlib subsets fonts for PDF itself, but on a 20 MB CFF font
    collection that takes ~3 s per face (fontTools parses the whole font).
    Here FreeType (matplotlib's FT2Font) hands over just the outlines needed;
    they become quadratic TrueType glyphs (fontTools cu2qu) in a font built
    from scratch, which the PDF then embeds as a CID TrueType subset: ~0.3 s
    for a few hundred characters, glyphs cached for the next export.
    Falls back to fontTools' subsetter if that fails.
    """
    key = (entry.fname, int(getattr(entry, "index", 0) or 0), chars)
    if key in _SUBSET_CACHE:
        return _SUBSET_CACHE[key]
    try:
        data = _build_font(entry.fname, key[1], chars)
    except Exception:  # noqa: BLE001 -- any FreeType/fontTools trouble: the slower, proven way
        data = _subset_with_fonttools(entry.fname, key[1], chars)
    if len(_SUBSET_CACHE) > 32:
        _SUBSET_CACHE.clear()
    _SUBSET_CACHE[key] = data
    return data


def _build_font(fname: str, index: int, chars: str) -> bytes:
    import io

    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from matplotlib import ft2font
    from matplotlib.ft2font import LoadFlags

    ft = ft2font.FT2Font(fname, face_index=index)
    upem = int(ft.units_per_EM)
    order = [".notdef"]
    cmap: dict[int, str] = {}
    glyphs: dict[str, Any] = {".notdef": TTGlyphPen(None).glyph()}
    metrics: dict[str, tuple[int, int]] = {".notdef": (upem // 2, 0)}
    for ch in sorted(set(chars)):
        cp = ord(ch)
        name = f"uni{cp:04X}" if cp <= 0xFFFF else f"u{cp:06X}"
        ck = (fname, index, cp)
        got = _GLYPH_CACHE.get(ck)
        if got is None:
            if ft.get_char_index(cp) == 0:
                continue  # not in the font: drawn as a blank
            g = ft.load_char(cp, flags=LoadFlags.NO_SCALE)
            verts, codes = ft.get_path()
            pts = [(float(x) * 64.0, float(y) * 64.0) for x, y in verts]  # FT2Font reports 1/64 units
            tt = TTGlyphPen(None)
            pen = Cu2QuPen(tt, upem / 1000.0, reverse_direction=True)  # PostScript → TrueType winding
            k, n, open_ = 0, len(codes), False
            while k < n:
                c = int(codes[k])
                if c == 1:  # MOVETO
                    if open_:
                        pen.closePath()
                    pen.moveTo(pts[k])
                    open_ = True
                    k += 1
                elif c == 2:  # LINETO
                    pen.lineTo(pts[k])
                    k += 1
                elif c == 3:  # CURVE3
                    pen.qCurveTo(pts[k], pts[k + 1])
                    k += 2
                elif c == 4:  # CURVE4
                    pen.curveTo(pts[k], pts[k + 1], pts[k + 2])
                    k += 3
                else:  # CLOSEPOLY (79) or STOP
                    if open_:
                        pen.closePath()
                        open_ = False
                    k += 1
            if open_:
                pen.closePath()
            lsb = int(math.floor(min((x for x, _ in pts), default=0.0)))
            got = (tt.glyph(), int(g.horiAdvance), lsb)
            _GLYPH_CACHE[ck] = got
        order.append(name)
        cmap[cp] = name
        glyphs[name] = got[0]
        metrics[name] = (got[1], got[2])
    fb = FontBuilder(upem, isTTF=True)
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap(cmap)
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics(metrics)
    fb.setupHorizontalHeader(ascent=int(ft.ascender), descent=int(ft.descender))
    fb.setupNameTable({"familyName": ft.family_name, "styleName": ft.style_name,
                       "psName": ft.postscript_name or ft.family_name.replace(" ", "")})
    fb.setupOS2(sTypoAscender=int(ft.ascender), sTypoDescender=int(ft.descender),
                usWinAscent=int(ft.ascender), usWinDescent=-int(ft.descender))
    fb.setupPost()
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


def _subset_with_fonttools(fname: str, index: int, chars: str) -> bytes:
    import io

    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(fname, fontNumber=index, lazy=True)
    opts = subset.Options()
    opts.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "VORG", "vhea", "vmtx", "DSIG", "JSTF", "MATH"]
    opts.layout_features = []
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    opts.desubroutinize = True
    sub = subset.Subsetter(opts)
    sub.populate(text=chars)
    sub.subset(font)
    if "CFF " in font:
        _cff_to_glyf(font)
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def _cff_to_glyf(font: Any) -> None:
    """Convert CFF (cubic) outlines to TrueType glyf (quadratic) in place."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    gs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(gs)
        gs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf
    del font["CFF "]
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones",):
        setattr(maxp, attr, 1)
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 0)
    font["maxp"] = maxp
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = order
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def _embed_fonts_for_pdf(fig: Any, tmpdir: str) -> None:
    """Point every text of the figure at a per-export subset of the CJK font."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.text import Text

    texts = [t for t in fig.findobj(Text) if t.get_text() and t.get_visible()]
    groups: dict[bool, list[Any]] = {False: [], True: []}
    for t in texts:
        groups[_weight(t.get_fontweight()) >= 600].append(t)
    for bold, items in groups.items():
        if not items:
            continue
        entry = _cjk_entry(bold) or _cjk_entry(False)
        if entry is None:
            return
        chars = "".join(sorted({c for t in items for c in t.get_text()} | set(" 0123456789")))
        try:
            data = _subset_font(entry, chars)
        except Exception:  # noqa: BLE001 -- fontTools failing leaves matplotlib's own embedding
            continue
        digest = hashlib.sha1(data).hexdigest()[:12]
        path = os.path.join(tmpdir, f"zjmap-{digest}.ttf")
        if not os.path.exists(path):
            with open(path, "wb") as fh:
                fh.write(data)
        for t in items:
            t.set_fontproperties(FontProperties(fname=path, size=t.get_fontsize()))


