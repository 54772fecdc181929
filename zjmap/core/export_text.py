"""Text measurement and wrapping for the exporter's title, legend and source line (estimates: CJK glyphs are one em wide)."""

from __future__ import annotations

import re


def _text_width_pt(s: str, size: float) -> float:
    w = 0.0
    for c in s:
        o = ord(c)
        if o >= 0x2E80 or 0xFF00 <= o <= 0xFFEF or c in "“”‘’—…→·":
            w += 1.0
        elif c in "il.,:;|!'":
            w += 0.3
        elif c.isupper() or c in "mwMW%@":
            w += 0.72
        else:
            w += 0.56
    return w * size


_NO_LINE_START = set("）)】」』》〉，。、；：！？!?,.;:”’…·%")


def _wrap(s: str, size: float, width_pt: float, max_lines: int = 3) -> list[str]:
    """Break s into lines no wider than width_pt (at spaces when possible, else anywhere)."""
    if _text_width_pt(s, size) <= width_pt:
        return [s]
    lines: list[str] = []
    cur = ""
    tokens = re.findall(r"[A-Za-z0-9\-.,:%()/+]+ ?|.", s)
    for tok in tokens:
        # no line starts with closing punctuation (kinsoku): let it overhang
        if cur and tok[0] not in _NO_LINE_START and _text_width_pt(cur + tok, size) > width_pt:
            lines.append(cur.rstrip())
            cur = tok.lstrip()
            if len(lines) == max_lines:
                break
        else:
            cur += tok
    else:
        if cur:
            lines.append(cur.rstrip())
        return lines
    # ran out of lines: mark the cut
    last = lines[-1]
    while last and _text_width_pt(last + "…", size) > width_pt:
        last = last[:-1]
    lines[-1] = last + "…"
    return lines


