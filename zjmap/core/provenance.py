"""Where a quote sits in its seed document: the paragraph around it, its position.

The panels show a quote inside its surrounding text; this module finds that
text from the seed file and the quote's offsets, never from a copy of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARA_BREAK = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class QuoteInContext:
    seed: str
    start: int
    end: int
    before: str
    quote: str
    after: str
    line: int  # 1-based line of the quote's start in the seed file
    percent: int  # how far into the document, 0–100


def paragraph_bounds(text: str, start: int, end: int, max_chars: int = 400) -> tuple[int, int]:
    """The span of whole-ish paragraphs around [start, end), at most max_chars each side.

    The seeds are PDF extractions where every printed line is followed by a
    blank line, so a "paragraph" is cut at sentence ends (。！？) as well.
    """
    lo = max(0, start - max_chars)
    hi = min(len(text), end + max_chars)
    left = text[lo:start]
    cut = max(left.rfind("。"), left.rfind("！"), left.rfind("？"), left.rfind("\n\n\n"))
    if cut >= 0:
        lo = lo + cut + 1
    right = text[end:hi]
    ends = [i for i in (right.find("。"), right.find("！"), right.find("？")) if i >= 0]
    if ends:
        hi = end + min(ends) + 1
    return lo, hi


def in_context(seed: str, text: str, start: int, end: int, max_chars: int = 400) -> QuoteInContext:
    lo, hi = paragraph_bounds(text, start, end, max_chars)
    return QuoteInContext(
        seed=seed,
        start=start,
        end=end,
        before=text[lo:start],
        quote=text[start:end],
        after=text[end:hi],
        line=text.count("\n", 0, start) + 1,
        percent=round(100 * start / max(1, len(text))),
    )


def reflow(s: str) -> str:
    """Join the PDF line breaks for reading; the characters shown stay the seed's."""
    return _PARA_BREAK.sub("", s).replace("\n", "")
