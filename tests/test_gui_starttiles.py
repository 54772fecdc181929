"""The base map's start tiles (zjmap/web/starttiles.js, zjmap/core/starttiles.py,
issue 16): a start keeps the tiles of its first picture once the page is
idle, and the next start at that size puts its first picture together from
them, the same picture as drawn from the arrays; at another zoom they are
not used and the map is drawn from its arrays."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMainWindow

from guitools import js, spin, wait_until
from zjmap.core import starttiles
from zjmap.core.mappage import shipped_layers_cache, shipped_layers_key


def state(view) -> dict:
    return js(view, "JSON.stringify(ZJ.startTiles.state)")


@pytest.fixture
def kept(win):
    """The window's page, idle after its start, has sent the tiles of its first
    picture (or drew all of it from tiles kept before): they are in the cache."""
    assert wait_until(lambda: (lambda s: s["kept"] or (s["used"] and not s["lacked"]))(state(win.map)), 15000), state(win.map)
    assert wait_until(lambda: starttiles.kept(shipped_layers_cache(shipped_layers_key())) is not None, 5000)
    return starttiles.kept(shipped_layers_cache(shipped_layers_key()))


def start_page(size):
    """A new map view of that size on the start page from the cache, held
    (so the page's later work waits), once it is drawn on screen."""
    from zjmap.qt.mapview import MapView

    frame = QMainWindow()
    view = MapView(animate=False)
    view.setFixedSize(size)
    frame.setCentralWidget(view)
    view.hold_ready()
    assert view.load_shipped_early()
    frame.show()
    assert wait_until(lambda: view.is_shown, 30000), f"never shown; JS errors: {view.js_errors}"
    return frame, view


def alike(view) -> dict:
    """The base canvas against the same view drawn whole from the arrays:
    the kept tiles went through PNG (a level apart here and there where
    alpha is partial) and anti-aliasing may differ at a tile's edge."""
    c = js(view, 'ZJ.bigCheck("base_province")')
    assert c["painted"] > 0.1 * c["pixels"], c
    assert c["more"] < 0.01 * c["painted"] and c["edge"] <= 0.05 * c["more"] + 10, c
    return c


def close(frame, view) -> None:
    view.shutdown()
    frame.close()
    frame.deleteLater()
    spin(50)


def test_the_next_start_at_that_size_draws_its_base_map_from_the_kept_tiles(qapp, win, kept):
    frame, view = start_page(win.map.size())
    try:
        s = state(view)
        assert s["used"] > 0 and s["lacked"] == 0 and s["why"] == "", s
        assert s["frame"]["z"] == kept["z"] == js(view, "ZJ.map.getZoom()")
        assert kept["cells"].count("t") > 0 and s["used"] == len(kept["cells"]) - kept["cells"].count("-")
        alike(view)
        assert not js(view, "JSON.stringify(ZJ.startTiles.state.kept)")  # nothing new to keep
        assert view.js_errors == []
    finally:
        close(frame, view)


def test_at_another_zoom_the_kept_tiles_are_not_used(qapp, win, kept):
    size = win.map.size()
    size.setWidth(size.width() // 3)
    size.setHeight(size.height() // 3)
    frame, view = start_page(size)
    try:
        s = state(view)
        assert js(view, "ZJ.map.getZoom()") != kept["z"]
        assert s["used"] == 0 and "zoom" in s["why"] and s["lacked"] > 0, s
        alike(view)  # drawn from the arrays
        assert view.js_errors == []
    finally:
        close(frame, view)


def test_a_kept_image_that_cannot_be_read_leaves_the_map_drawn_from_its_arrays(qapp, win, kept):
    """A damaged image, cut short or with its data garbled (the engine would
    draw either as far as it can read it: blank tiles), is not given to the
    page: it draws its base map from the arrays as if nothing were kept,
    with no error on the page."""
    path = shipped_layers_cache(shipped_layers_key()) / kept["image"]
    whole = path.read_bytes()
    garbled = whole[:60] + bytes(len(whole) - 72) + whole[-12:]  # a PNG's head and end, nothing readable between
    try:
        for damaged in (whole[: len(whole) // 3], garbled):
            path.write_bytes(damaged)
            frame, view = start_page(win.map.size())
            try:
                s = state(view)
                assert s["used"] == 0 and s["why"] == "none kept" and s["lacked"] > 0, (len(damaged), s)
                alike(view)
                assert view.js_errors == []
            finally:
                close(frame, view)
    finally:
        path.write_bytes(whole)
