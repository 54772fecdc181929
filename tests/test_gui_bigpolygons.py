"""A big polygon layer in a real window: drawn chunk by chunk while it is
read, then identified, filtered, styled, exported, saved and restored like any
layer (issue 16: the display arrays made chunk by chunk). The window is this
module's own (as test_gui_workspace's): opening a workspace changes a window."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import pytest

import zjmap.qt.userlayers as qul
from zjmap.core import displaychunks, layercache, userfiles, userlayers
from guitools import js, js_click, wait_until
from test_gui_userlayers import big_stats, drawn, wait_task
from test_gui_workspace import settled, win  # noqa: F401  (win: a window of this module's own)
from test_layercache import write_parcels

N = 20_000
CHUNK = 2_000


@pytest.fixture(scope="module")
def parcels(tmp_path_factory):
    """20,000 wiggly 24-vertex parcels in a GBK shapefile without .cpg."""
    return write_parcels(tmp_path_factory.mktemp("bigpolygons") / "地块.shp", n=N)


@pytest.fixture
def held(monkeypatch):
    """The read stops after its second chunk until ``gate`` is set (so the
    test sees the page while the file is still being read); chunks of 2,000."""
    gate = threading.Event()
    real = displaychunks.ChunkEncoder.add
    calls = []

    def add(self, geoms, ragged=None):
        calls.append(len(geoms))
        if len(calls) == 3:
            gate.wait(30)
        return real(self, geoms, ragged)

    monkeypatch.setattr(displaychunks.ChunkEncoder, "add", add)
    # and the read layer waits for ``gate.layer`` before it goes to the stack
    gate.layer = threading.Event()
    real_layer = qul.user_layer

    def user_layer(*args, **kw):
        gate.layer.wait(30)
        return real_layer(*args, **kw)

    monkeypatch.setattr(qul, "user_layer", user_layer)
    monkeypatch.setattr(userfiles, "CHUNK_FEATURES", CHUNK)
    monkeypatch.setattr(layercache, "enabled", False)
    # shown first at full resolution, its zoom bands later (as a file of millions of vertices)
    monkeypatch.setattr(userlayers, "DEFER_VERTICES", 100_000)
    # (and those bands are another test's: they would replace the arrays checked here)
    monkeypatch.setattr(qul.UserLayerController, "_add_bands_later", lambda self, layer: None)
    yield gate
    gate.set()
    gate.layer.set()


def _chunk_files(task) -> list[Path]:
    out = []
    for disp in task.chunks_shown:
        url = disp.geometry_payload()["url"]
        out.append(Path(url2pathname(urlparse(url).path)))
    return out


def test_a_big_file_is_drawn_chunk_by_chunk_while_it_is_read(win, parcels, held):
    task = qul.add_layer_from_path(win.user_layers, parcels)
    lid = task.layer_id
    # the first two chunks are on the map while the rest of the file waits to be read
    assert wait_until(lambda: (big_stats(win, lid) or {}).get("pieces") == 2
                      and big_stats(win, lid)["draws"] >= 1, 20000), big_stats(win, lid)
    st = big_stats(win, lid)
    assert not task.done and lid not in win.stack
    assert st["features"] == 2 * CHUNK and st["drawn"] > 0 and not st["loaded"]
    files = _chunk_files(task)
    assert len(files) == 2 and all(f.exists() for f in files)
    held.set()
    assert wait_until(lambda: big_stats(win, lid)["pieces"] == N // CHUNK, 20000), big_stats(win, lid)
    held.layer.set()
    wait_task(task)
    assert task.status == "loaded", task.message
    # the layer itself takes the chunks' place: all its features, one set of arrays,
    # joined in the page from the chunks it has (its file is not read again), then its zoom bands
    assert win.stack.layer(lid).display.bands_pending
    assert wait_until(lambda: (big_stats(win, lid) or {}).get("loaded") and big_stats(win, lid)["pieces"] == 0, 20000)
    st = big_stats(win, lid)
    assert st["features"] == N and st["joined"] and drawn(win, lid)
    layer = win.stack.layer(lid)
    full = layer.display.arrays.geoms[-1][0]
    sums = js(win.map, f"""(function () {{
        var g = ZJ.layers[{json.dumps(lid)}].group.geom, s = g.sets[0][0], p = g.parts[0], out = [0, 0, 0, 0, 0];
        for (var i = 0; i < s.xy.length; i++) out[0] += s.xy[i] * (1 + i % 7);
        for (i = 0; i < s.rings.length; i++) out[1] += s.rings[i] * (1 + i % 5);
        for (i = 0; i < s.frings.length; i++) out[2] += s.frings[i];
        for (i = 0; i < p.n; i++) out[3] += p.feat[i] * (1 + i % 3);
        for (i = 0; i < 4 * p.n; i++) out[4] += p.bbox[i];
        return JSON.stringify(out); }})()""")
    w = np.arange(len(full.xy)) % 7 + 1
    feat = layer.display.arrays.parts[0].feat.astype(float)
    want = [float((full.xy.astype(float) * w).sum()), float((full.rings.astype(float) * (np.arange(len(full.rings)) % 5 + 1)).sum()),
            float(full.frings.astype(float).sum()), float((feat * (np.arange(len(feat)) % 3 + 1)).sum())]
    assert np.allclose(sums[:4], want, rtol=1e-9, atol=1e-6)
    assert sums[4] == pytest.approx(float(layer.display.arrays.parts[0].bbox.astype(float).sum()), rel=1e-6)
    assert not any(f.exists() for f in files)  # the chunks' files went with the read
    disp = layer.display.arrays
    assert disp.parts[0].feat.tolist() == list(range(N))  # joined from the chunks, row for row
    assert task.timings["first_chunk"] < task.timings["read"]
    assert not win.map.js_errors
    win.user_layers.remove(lid)


def test_a_cancelled_big_read_takes_what_it_drew_away(win, parcels, held):
    before = win.stack.ids()
    task = qul.add_layer_from_path(win.user_layers, parcels)
    lid = task.layer_id
    assert wait_until(lambda: (big_stats(win, lid) or {}).get("pieces") == 2, 20000), big_stats(win, lid)
    task.cancel()
    held.set()
    held.layer.set()
    wait_task(task)
    assert task.status == "cancelled"
    assert wait_until(lambda: big_stats(win, lid) is None, 10000), big_stats(win, lid)
    assert win.stack.ids() == before and not win.map.js_errors


def test_the_big_polygon_layer_identifies_filters_styles_exports_saves_and_restores(win, parcels, tmp_path,
                                                                                       monkeypatch):
    from PIL import Image

    from zjmap.core.export import export_map, lonlat_to_pixel
    from zjmap.core.layerfilter import with_filter
    from zjmap.core.userlayers import style_graduated

    monkeypatch.setattr(userfiles, "CHUNK_FEATURES", CHUNK)
    monkeypatch.setattr(layercache, "enabled", False)
    task = qul.add_layer_from_path(win.user_layers, parcels)
    wait_task(task)
    assert task.status == "loaded", task.message
    lid = task.layer_id
    layer = win.stack.layer(lid)
    assert len(layer.features) == N
    win.zoom_to_layer(lid)
    assert wait_until(lambda: drawn(win, lid), 20000)
    shown: list[str] = []
    win.panel_updated.connect(shown.append)

    def click(k: int) -> str:
        p = layer.features[k].geometry.representative_point()
        n = len(shown)
        js_click(win, p.x, p.y)
        assert wait_until(lambda: len(shown) > n, 10000)
        return shown[-1]

    # identify: a click on parcel 12,345 shows it, its name decoded from GBK
    assert click(12_345) == f"{lid}:12345"
    assert "地块12345" in win.panel.details.toPlainText()
    # filter: the first half (面积 = 1.5 × row) is left out: drawn with nothing, not identified
    win.stack.set_style(lid, with_filter(layer.style, "面积 >= 15000"))
    hidden = np.asarray(layer.hidden_rows)
    assert len(hidden) == 10_000 and hidden.max() == 9_999
    assert click(4_321) != f"{lid}:4321"
    assert click(14_321) == f"{lid}:14321"
    # style: graduated by area, the hidden rows keep their own (empty) look
    win.stack.set_style(lid, with_filter(style_graduated(layer, "面积", 4), "面积 >= 15000"))
    st = layer.display.arrays.styles_for(layer)
    assert len(st["styles"]) == len(layer.style["breaks"]) - 1 + 1
    colours = {layer.feature_style(layer.features[k])["fillColor"] for k in (10_000, 19_999)}
    assert len(colours) == 2
    # export: the shown parcels are in the picture, the filtered-out ones are not
    out = export_map(win.stack, tmp_path / "parcels.png", bbox=(120.0, 31.3, 120.6, 31.9), layers=[lid],
                     width_px=600, height_px=600, furniture=False)
    img = np.asarray(Image.open(out.path).convert("RGB")).astype(int)

    def colour_at(k: int) -> np.ndarray:
        p = layer.features[k].geometry.representative_point()
        c, r = lonlat_to_pixel(out.affine, p.x, p.y)
        return img[r, c]

    # parcel 10,830 (kept) at 120.30, 31.80; parcel 9,030 (left out) at 120.30, 31.50: the base map
    kept, left_out = colour_at(10_830), colour_at(9_030)
    assert kept[0] > kept[2] + 40  # the ramp's red-orange, over the grey land
    assert abs(left_out[0] - left_out[2]) < 25
    # save and restore: the file, the style and the filter come back
    path = tmp_path / "big.zjmap"
    assert win.workspace.save_to(path)
    assert win.workspace.new_workspace(ask=False) and lid not in win.stack
    assert win.workspace.open_path(path, ask=False) and settled(win, 60000)
    assert wait_until(lambda: lid in win.stack and drawn(win, lid), 60000)
    back = win.stack.layer(lid)
    assert len(back.features) == N and len(back.hidden_rows) == 10_000
    assert back.style.get("filter") == "面积 >= 15000" and back.style["kind"] == "graduated"
    assert back.features[12_345].props["名称"] == "地块12345"
    assert not win.map.js_errors
    win.user_layers.remove(lid)
