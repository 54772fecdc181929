"""The base map's start tiles kept for the next start (zjmap/core/starttiles.py):
what is kept, and when a page is given them."""

from __future__ import annotations

import json
import struct
import zlib

from zjmap.core import starttiles
from zjmap.core.mappage import build_page


def png(w: int = 2, h: int = 1) -> bytes:
    """A real (tiny) PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\x10\x20\x30\xff" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


META = {"fp": "[128,1,7,...]", "z": 7, "r": 1, "x0": 208, "y0": 100, "cols": 3, "rows": 2, "cells": "tte-tt"}


def test_a_whole_description_and_png_are_kept_and_given_back(tmp_path):
    assert starttiles.save(tmp_path, META, png())
    got = starttiles.kept(tmp_path)
    assert {k: got[k] for k in META} == META and got["stamp"] == starttiles.stamp()
    assert (tmp_path / got["image"]).read_bytes() == png()
    # a newer image replaces the old one: one image in the cache, named in the description
    assert starttiles.save(tmp_path, {**META, "z": 6}, png(3, 2))
    again = starttiles.kept(tmp_path)
    assert again["z"] == 6 and again["image"] != got["image"]
    assert sorted(p.name for p in tmp_path.glob("start-tiles-*.png")) == [again["image"]]


def test_what_is_not_a_whole_description_or_a_png_is_not_kept(tmp_path):
    assert not starttiles.save(tmp_path, META, b"GIF89a not a png")
    assert not starttiles.save(tmp_path, {**META, "cells": "tt"}, png())  # 2 cells for 3 × 2 tiles
    assert not starttiles.save(tmp_path, {**META, "cells": "ttxxtt"}, png())
    assert not starttiles.save(tmp_path, {k: v for k, v in META.items() if k != "fp"}, png())
    assert not starttiles.save(tmp_path / "gone", META, png())  # no cache directory: nothing written
    assert starttiles.kept(tmp_path) is None and not list(tmp_path.iterdir())


def test_tiles_drawn_by_other_scripts_or_another_engine_are_not_given(tmp_path, monkeypatch):
    assert starttiles.save(tmp_path, META, png())
    monkeypatch.setattr(starttiles, "stamp", lambda: "another build")
    assert starttiles.kept(tmp_path) is None
    monkeypatch.undo()
    got = starttiles.kept(tmp_path)
    image = tmp_path / got["image"]
    image.write_bytes(png())  # written again, the same bytes: still given
    assert starttiles.kept(tmp_path) is not None
    image.write_bytes(png()[:20] + b"\x00" * (len(png()) - 32) + png()[-12:])  # a PNG's head and end, its data lost
    assert starttiles.kept(tmp_path) is None
    image.write_bytes(png()[:30])  # cut short
    assert starttiles.kept(tmp_path) is None
    image.unlink()
    assert starttiles.kept(tmp_path) is None  # the description without its image


def test_the_start_page_from_the_cache_gets_the_kept_tiles(tmp_path):
    cache = tmp_path / "layers-k"
    cache.mkdir()
    (cache / "layers.js").write_text("window.ZJ_LAYERS = [];\n", encoding="utf-8")
    assert starttiles.save(cache, META, png())
    image = starttiles.kept(cache)["image"]

    def view(page_dir):
        text = (page_dir / starttiles.SCRIPT).read_text(encoding="utf-8")
        assert text.startswith("window.ZJ_START_VIEW = ")
        return json.loads(text[len("window.ZJ_START_VIEW = "):].rstrip().rstrip(";"))

    page = build_page(tmp_path / "p1", None, animate=False, cached=cache, keep_start_tiles=True)
    v = view(page.parent)
    assert v["keep"] is True and v["tiles"]["image"] == image and v["tiles"]["cells"] == META["cells"]
    assert (page.parent / image).read_bytes() == png()
    assert f'src="{starttiles.SCRIPT}"' in page.read_text(encoding="utf-8")
    assert not (page.parent / starttiles.META).exists()  # the page gets what it draws, not the cache's files
    # a page told not to keep its own (not the shipped start page) still draws from the kept ones
    page = build_page(tmp_path / "p2", None, animate=False, cached=cache, keep_start_tiles=False)
    assert view(page.parent)["keep"] is False and view(page.parent)["tiles"]["image"] == image
