"""Big layers in the static export (issue 16): drawn class by class from flat arrays, the same picture.

Layers of at least ``export_draw.MERGE_FEATURES`` features go the fast way
(one compound path per style class, outline thinned by Agg); the tests draw
the same small layers both ways (by lowering or raising that threshold) and
compare the pixels, and check holes, multipolygons, choropleth and category
colours, marker sizes, the filter, CJK text and Cancel during the writing.
"""

from __future__ import annotations

import inspect

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from PIL import Image
from shapely.geometry import MultiPolygon, Polygon, box

from zjmap.core import export_draw
from zjmap.core.classify import layer_choropleth
from zjmap.core.export import ExportCancelled, export_map, lonlat_to_pixel
from zjmap.core.export_plan import SEA
from zjmap.core.featurerows import FeatureRows
from zjmap.core.layercache import RaggedColumn
from zjmap.core.layers import LayerStack, MapLayer
from zjmap.core.userfiles import read_layer
from zjmap.core.userlayers import user_layer

BBOX = (120.0, 30.0, 120.6, 30.45)
CLASSES = ["城镇", "农业", "生态"]


def _hex(c: str) -> np.ndarray:
    c = c.lstrip("#")
    return np.array([int(c[i:i + 2], 16) for i in (0, 2, 4)], dtype=float)


def _over_sea(colour: str, alpha: float) -> np.ndarray:
    return alpha * _hex(colour) + (1 - alpha) * _hex(SEA)


def _cells(n_side: int = 12) -> list:
    """Squares with gaps between them (strokes never overlap); every third has a
    hole, every fifth is a two-part multipolygon."""
    w, s, e, n = BBOX
    step = min(e - w, n - s) / n_side
    out = []
    for i in range(n_side):
        for j in range(n_side):
            x, y = w + i * step + step * 0.15, s + j * step + step * 0.15
            a = step * 0.7
            k = i * n_side + j
            if k % 5 == 0:
                g = MultiPolygon([box(x, y, x + a * 0.4, y + a), box(x + a * 0.6, y, x + a, y + a)])
            elif k % 3 == 0:
                hole = [(x + a * 0.3, y + a * 0.3), (x + a * 0.7, y + a * 0.3), (x + a * 0.7, y + a * 0.7), (x + a * 0.3, y + a * 0.7)]
                g = Polygon(box(x, y, x + a, y + a).exterior.coords, [hole])  # hole wound like the exterior
            else:
                g = box(x, y, x + a, y + a)
            out.append(g)
    return out


def _stack(layer: MapLayer) -> LayerStack:
    st = LayerStack()
    st.add(layer)
    return st


def _png(stack: LayerStack, path, **kw) -> np.ndarray:
    kw.setdefault("furniture", False)
    res = export_map(stack, path, bbox=BBOX, width_px=600, height_px=450, **kw)
    return np.asarray(Image.open(path).convert("RGB"), dtype=float), res


def _both_ways(monkeypatch, stack, tmp_path, **kw):
    monkeypatch.setattr(export_draw, "MERGE_FEATURES", 10**9)
    each, _ = _png(stack, tmp_path / "each.png", **kw)
    monkeypatch.setattr(export_draw, "MERGE_FEATURES", 1)
    classes, res = _png(stack, tmp_path / "classes.png", **kw)
    return each, classes, res


def _user_layer(tmp_path, geoms, **cols) -> MapLayer:
    gdf = gpd.GeoDataFrame({"名称": [f"地块{i}" for i in range(len(geoms))], **cols}, geometry=geoms, crs=4326)
    p = tmp_path / "cells.gpkg"
    gdf.to_file(p, driver="GPKG")
    return user_layer(read_layer(p), "u1", title="地块", source=None, color="#e41a1c")


def test_classes_draw_the_pixels_each_feature_draws(monkeypatch, tmp_path):
    geoms = _cells()
    layer = _user_layer(tmp_path, geoms, 类别=[CLASSES[i % 3] for i in range(len(geoms))])
    layer.style = {"kind": "categorical", "field": "类别"}
    each, classes, res = _both_ways(monkeypatch, _stack(layer), tmp_path)
    diff = np.abs(each - classes).max(axis=2)
    assert (diff > 24).mean() < 0.002, f"{(diff > 24).mean():.4f} of the pixels differ"
    assert diff.mean() < 0.5
    # the three categories' colours are on the map, at the layer's fill opacity
    aff = res.affine
    for k, cat in enumerate(CLASSES):
        g = geoms[[i for i in range(len(geoms)) if i % 3 == k and i % 5][0]]
        c, r = lonlat_to_pixel(aff, *g.representative_point().coords[0])
        want = _over_sea(layer.styler.colors[cat], layer.styler.polygon_fill_opacity())
        assert np.abs(classes[r, c] - want).max() <= 3, (cat, classes[r, c], want)


def test_holes_and_multipolygons_kept_from_flat_arrays(monkeypatch, tmp_path):
    """A reopened layer's flat coordinates (RaggedColumn) with holes wound like
    their exteriors: the holes stay empty and both parts of a multipolygon fill."""
    geoms = np.array([shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in _cells()], dtype=object)
    gtype, coords, offsets = shapely.to_ragged_array(geoms)
    table = pd.DataFrame({"名称": [f"地块{i}" for i in range(len(geoms))]})
    feats = FeatureRows("u1", table, RaggedColumn(int(gtype), coords, offsets))
    layer = MapLayer("u1", "地块", "", "user", "polygon", feats, style={"kind": "single", "color": "#2b8cbe"})
    monkeypatch.setattr(export_draw, "MERGE_FEATURES", 1)
    img, res = _png(_stack(layer), tmp_path / "flat.png")
    assert not feats.column.built  # drawn without making a shapely geometry
    fill = _over_sea("#2b8cbe", layer.styler.polygon_fill_opacity())
    sea = _hex(SEA)
    for k, g in enumerate(geoms):
        part = g.geoms[0]
        x0, y0, x1, y1 = part.bounds
        if len(part.interiors):
            c, r = lonlat_to_pixel(res.affine, (x0 + x1) / 2, (y0 + y1) / 2)
            assert np.abs(img[r, c] - sea).max() <= 2, f"hole of feature {k} filled: {img[r, c]}"
            c, r = lonlat_to_pixel(res.affine, x0 + (x1 - x0) * 0.15, (y0 + y1) / 2)
            assert np.abs(img[r, c] - fill).max() <= 3
        for p in g.geoms:
            c, r = lonlat_to_pixel(res.affine, *p.centroid.coords[0]) if not len(p.interiors) else lonlat_to_pixel(
                res.affine, p.bounds[0] + (p.bounds[2] - p.bounds[0]) * 0.15, p.centroid.y)
            assert np.abs(img[r, c] - fill).max() <= 3, f"part of feature {k} not filled: {img[r, c]}"
    # and the same picture as the shapely path of the same shapes
    layer2 = MapLayer("u1", "地块", "", "user", "polygon", FeatureRows("u1", table, geoms),
                      style={"kind": "single", "color": "#2b8cbe"})
    img2, _ = _png(_stack(layer2), tmp_path / "shapely.png")
    assert (np.abs(img - img2).max(axis=2) > 24).mean() < 0.001


def test_big_choropleth_fills_at_the_maps_opacity_and_the_legend_lists_its_classes(tmp_path):
    w, s, e, n = BBOX
    xs, ys = np.meshgrid(np.linspace(w, e, 60, endpoint=False), np.linspace(s, n, 45, endpoint=False))
    d = (e - w) / 60
    geoms = [box(x, y, x + d * 0.8, y + d * 0.8) for x, y in zip(xs.ravel(), ys.ravel())]
    values = np.arange(len(geoms), dtype=float)
    layer = _user_layer(tmp_path, geoms, 人口=values)
    assert len(geoms) >= export_draw.MERGE_FEATURES
    layer.style = layer_choropleth(layer, "人口", "quantiles", 5)
    layer.restyle()
    st = layer.styler
    img, res = _png(_stack(layer), tmp_path / "choro.png", furniture=True, title="人口分级图")
    assert len(set(st.ramp)) == 5
    seen = set()
    for k in range(0, len(geoms), 97):
        c, r = lonlat_to_pixel(res.affine, *geoms[k].centroid.coords[0])
        if not 60 <= r < 370 or (r > 250 and c > 430) or c > 540:  # under the title, legend, scale bar, arrow
            continue
        colour = st.color_of({"人口": values[k]})
        want = _over_sea(colour, st.polygon_fill_opacity())
        assert np.abs(img[r, c] - want).max() <= 3, (k, img[r, c], want)
        seen.add(colour)
    assert len(seen) >= 4
    assert [row for row in res.legend if "–" in row] and len([row for row in res.legend if "–" in row]) == 5


def test_big_points_keep_their_marker_size_and_colours(monkeypatch, tmp_path):
    w, s, e, n = BBOX
    # 20 px apart: the discs do not overlap (where they do, a big layer draws class after class)
    xs, ys = np.meshgrid(np.linspace(w + 0.01, e - 0.01, 30), np.linspace(s + 0.01, n - 0.01, 22))
    rows = [f"{x:.6f},{y:.6f},{CLASSES[i % 3]}\n" for i, (x, y) in enumerate(zip(xs.ravel(), ys.ravel()))]
    p = tmp_path / "pts.csv"
    p.write_text("lon,lat,类别\n" + "".join(rows), encoding="utf-8")
    layer = user_layer(read_layer(p), "u1", title="点", source=None, color="#e41a1c")
    layer.style = {"kind": "categorical", "field": "类别"}
    assert layer.features.points is not None
    each, classes, res = _both_ways(monkeypatch, _stack(layer), tmp_path)
    assert not layer.features.points.built  # drawn from the coordinates
    # Agg stamps one marker per class (its edge anti-aliased a little
    # differently from a marker per point): the same colour at every point,
    # as much ink
    sea = _hex(SEA)
    for x, y in zip(xs.ravel(), ys.ravel()):
        c, r = lonlat_to_pixel(res.affine, x, y)
        assert np.abs(each[r, c] - classes[r, c]).max() <= 3
    ink = [np.abs(img - sea).sum() for img in (each, classes)]  # coverage, anti-aliased edges weighed by it
    assert abs(ink[0] - ink[1]) < 0.02 * ink[0], ink
    # each point: a disc of the class colour (fill opacity 0.75), radius 6 css px
    x, y = xs.ravel()[4], ys.ravel()[4]
    c, r = lonlat_to_pixel(res.affine, x, y)
    want = _over_sea(layer.styler.colors[CLASSES[4 % 3]], 0.75)
    assert np.abs(classes[r, c] - want).max() <= 3
    row = np.abs(classes[r, c - 9:c + 10] - _hex(SEA)).max(axis=1) > 8
    assert 12 <= row.sum() <= 15  # 2 × (6 px + half the 1.5 px outline)


def test_dense_points_print_as_the_screen_draws_them(tmp_path):
    """50,000 points in the frame would cover it many times over at their
    style's 6 px: the export draws them at the radius the page does
    (look.json dense_points; 2.3 px for 50,000 in 600 × 450), so a point on
    its own is a small disc, as on screen."""
    from zjmap.core.look import dense_point_radius

    w, s, e, n = BBOX
    rng = np.random.default_rng(7)
    xs = np.concatenate([rng.uniform(w, w + 0.1, 50_000), [120.45]])
    ys = np.concatenate([rng.uniform(s, s + 0.08, 50_000), [30.3]])
    p = tmp_path / "dense.csv"
    p.write_text("lon,lat\n" + "".join(f"{x:.6f},{y:.6f}\n" for x, y in zip(xs, ys)), encoding="utf-8")
    layer = user_layer(read_layer(p), "u1", title="点", source=None, color="#e41a1c")
    fit = dense_point_radius(len(xs), 600, 450)
    assert fit is not None and 2.0 < fit < 2.6 and dense_point_radius(4000, 600, 450) is None
    img, res = _png(_stack(layer), tmp_path / "dense.png")
    c, r = lonlat_to_pixel(res.affine, 120.45, 30.3)
    row = np.abs(img[r, c - 9:c + 10] - _hex(SEA)).max(axis=1) > 8
    assert 3 <= row.sum() <= 2 * fit + 2, row.sum()  # was 12-15: 2 × (6 px + half the outline)


def test_the_filter_hides_features_of_a_big_layer(monkeypatch, tmp_path):
    geoms = _cells()
    layer = _user_layer(tmp_path, geoms, 编号=list(range(len(geoms))))
    layer.style = {**layer.style, "filter": "编号 >= 72"}
    assert len(layer.hidden_rows) == 72
    monkeypatch.setattr(export_draw, "MERGE_FEATURES", 1)
    fracs = []
    img, res = _png(_stack(layer), tmp_path / "f.png", progress=lambda f, m: fracs.append(f))
    assert any(0.8 < f < 0.96 for f in fracs)  # the bar moves while the file is written
    sea = _hex(SEA)
    c, r = lonlat_to_pixel(res.affine, *geoms[1].centroid.coords[0])
    assert np.abs(img[r, c] - sea).max() <= 2  # hidden
    c, r = lonlat_to_pixel(res.affine, *geoms[101].centroid.coords[0])
    assert np.abs(img[r, c] - sea).max() > 20  # kept


def test_big_layer_pdf_keeps_its_chinese_text(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    w, s, e, n = BBOX
    xs, ys = np.meshgrid(np.linspace(w, e, 60, endpoint=False), np.linspace(s, n, 45, endpoint=False))
    geoms = [box(x, y, x + 0.008, y + 0.008) for x, y in zip(xs.ravel(), ys.ravel())]
    layer = _user_layer(tmp_path, geoms, 类别=[CLASSES[i % 3] for i in range(len(geoms))])
    layer.style = {"kind": "categorical", "field": "类别"}
    out = tmp_path / "big.pdf"
    export_map(_stack(layer), out, bbox=BBOX, page="A4", title="大图层导出 测试")
    text = "".join(pg.extract_text() for pg in pypdf.PdfReader(out).pages)
    assert "大图层导出" in text and all(c in text for c in CLASSES)


def test_cancel_stops_a_big_export_while_it_draws(monkeypatch, tmp_path):
    geoms = _cells()
    layer = _user_layer(tmp_path, geoms, 类别=[CLASSES[i % 3] for i in range(len(geoms))])
    layer.style = {"kind": "categorical", "field": "类别"}
    monkeypatch.setattr(export_draw, "MERGE_FEATURES", 1)
    state = {"writing": False, "in_draw": False}

    def progress(frac, msg):
        state["writing"] = msg.startswith("Writing")

    def cancel():
        if state["writing"]:
            state["in_draw"] = any(f.function == "draw" for f in inspect.stack(0))
            return True
        return False

    out = tmp_path / "c.png"
    with pytest.raises(ExportCancelled):
        export_map(_stack(layer), out, bbox=BBOX, width_px=600, height_px=450, progress=progress, cancel=cancel)
    assert state["in_draw"]  # asked while matplotlib drew the layer, not only after the file was written
    assert not out.exists() and not list(tmp_path.glob("*.zjmap-tmp*"))
