"""Static export (zjmap.core.export and `zjmap export`): georeferenced PNG, PDF text, SVG legend, errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zjmap.core.export import (
    BOUNDARY_SOURCE,
    ExportCancelled,
    ExportError,
    export_map,
    lonlat_to_pixel,
    pixel_to_lonlat,
    read_world_file,
)
from zjmap.core.shipped import shipped_stack

ROOT = Path(__file__).resolve().parents[1]
ZJ_FILL = (0xF4, 0xEC, 0xD4)
NEIGHBOUR_FILL = (0xE3, 0xE1, 0xDC)
SEA = (0xCF, 0xE2, 0xF0)
ZJ_BBOX = (118.0, 27.0, 123.2, 31.2)


@pytest.fixture(scope="module")
def stack():
    return shipped_stack()


def rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def pixel(img: np.ndarray, aff, lon: float, lat: float) -> tuple[int, int, int]:
    c, r = lonlat_to_pixel(aff, lon, lat)
    return tuple(int(v) for v in img[r, c])


def test_png_view_is_georeferenced(stack, tmp_path):
    out = tmp_path / "view.png"
    r = export_map(stack, out, bbox=ZJ_BBOX, layers=["bay_platforms"], width_px=1000, height_px=700, title="港口")
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == (700, 1000, 3) and r.size_px == (1000, 700)
    aff = read_world_file(out.with_suffix(".pgw"))
    assert np.allclose(aff, r.affine, atol=1e-9)
    assert out.with_suffix(".prj").read_text().startswith('GEOGCS["GCS_WGS_1984"')
    # equirectangular: rows and columns are linear in lat/lon, the bbox is all inside
    w, s, e, n = r.bbox
    assert aff[1] == aff[2] == 0.0 and aff[0] > 0 > aff[3]
    assert w <= ZJ_BBOX[0] and e >= ZJ_BBOX[2] and s <= ZJ_BBOX[1] + 1e-9 and n >= ZJ_BBOX[3] - 1e-9
    assert np.allclose(pixel_to_lonlat(aff, -0.5, -0.5), (w, n)) and np.allclose(pixel_to_lonlat(aff, 999.5, 699.5), (e, s))
    # aspect: one pixel is as many km east-west as north-south at the centre latitude
    lat0 = (s + n) / 2
    assert aff[0] * np.cos(np.radians(lat0)) == pytest.approx(-aff[3], rel=1e-3)
    # known colours at known places
    assert pixel(img, aff, 119.75, 28.75) == ZJ_FILL  # Jinhua–Lishui hills
    assert pixel(img, aff, 117.6, 30.1) == NEIGHBOUR_FILL  # Anhui
    assert pixel(img, aff, 123.0, 28.3) == SEA
    # each seed point's colour (fill 0.75 over Zhejiang or the sea) at its lon/lat
    layer = stack.layer("bay_platforms")
    for f in layer.features:
        c, row = lonlat_to_pixel(aff, f.geometry.x, f.geometry.y)
        got = img[row - 1:row + 2, c - 1:c + 2].reshape(-1, 3).astype(float)
        colour = rgb(layer.feature_style(f)["color"])
        wants = [0.75 * colour + 0.25 * np.array(bg) for bg in (ZJ_FILL, SEA)]
        assert min(np.abs(got - wt).max(axis=1).min() for wt in wants) <= 10, (f.name, got[4], wants)


def test_png_scale_renders_more_pixels_same_extent(stack, tmp_path):
    r1 = export_map(stack, tmp_path / "a.png", bbox=ZJ_BBOX, width_px=500, height_px=400, scale=1, furniture=False)
    r4 = export_map(stack, tmp_path / "b.png", bbox=ZJ_BBOX, width_px=500, height_px=400, scale=4, furniture=False)
    assert Image.open(r4.path).size == (2000, 1600)
    assert np.allclose(r1.bbox, r4.bbox)
    assert r4.affine[0] == pytest.approx(r1.affine[0] / 4)
    # sharp, not upscaled: a 4× image has far more distinct edge pixels than the 1× one
    img4 = np.asarray(Image.open(r4.path).convert("L"), dtype=float)
    small = np.asarray(Image.open(r1.path).convert("L").resize((2000, 1600), Image.NEAREST), dtype=float)
    assert np.abs(img4 - small).mean() > 0.5


def test_page_png_size_and_dpi(stack, tmp_path):
    r = export_map(stack, tmp_path / "a3.png", page="A3", landscape=True, dpi=100)
    assert Image.open(r.path).size == (1654, 1169) == r.size_px
    assert r.page_mm == (420.0, 297.0)
    # the world file describes the map frame inside the page
    aff = r.affine
    col, row = lonlat_to_pixel(aff, 119.75, 28.75)
    assert tuple(np.asarray(Image.open(r.path).convert("RGB"))[row, col]) == ZJ_FILL


def pdf_text(path: Path) -> str:
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    from pypdf import PdfReader

    return "".join(p.extract_text() for p in PdfReader(str(path)).pages)


def test_pdf_has_searchable_title_places_sources_and_embedded_fonts(stack, tmp_path):
    out = tmp_path / "map.pdf"
    r = export_map(stack, out, bbox=ZJ_BBOX, page="A4", title="浙江省产业集聚区 Test Map")
    text = pdf_text(out)
    flat = re.sub(r"\s+", "", text)
    assert "浙江省产业集聚区" in flat and "TestMap" in flat
    for place in ("杭州市", "宁波市", "温州市"):
        assert place in flat
    assert "西湖区" not in flat  # county labels only when zoomed in
    assert "cnmaps-data1.1.2" in flat and "GCJ-02→WGS-84" in flat and "EPSG:4326WGS-84" in flat
    visible_seeds = sorted({stack.layer(i).source.seed for i in r.layers if stack.layer(i).kind == "seed"})
    assert r.seeds == visible_seeds
    for k in visible_seeds:
        assert f"seeds/{k}" in flat
    # the legend: layer titles and categories of the visible layers
    for lid in r.layers:
        layer = stack.layer(lid)
        if layer.kind == "seed":
            assert re.sub(r"\s+", "", layer.title)[:6] in flat
    # every font is embedded (TrueType subsets, so the text stays searchable)
    from pypdf import PdfReader

    fonts = []
    for page in PdfReader(str(out)).pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            desc = f["/DescendantFonts"][0].get_object()["/FontDescriptor"] if "/DescendantFonts" in f else f.get("/FontDescriptor")
            fonts.append((str(f["/BaseFont"]), "/FontFile2" in desc.get_object()))
    assert fonts and all(emb for _, emb in fonts), fonts
    assert any("CJK" in name for name, _ in fonts)


def test_county_labels_when_zoomed_in(stack, tmp_path):
    r = export_map(stack, tmp_path / "hz.svg", bbox=(119.9, 30.1, 120.4, 30.4), width_px=900, height_px=600, layers=[])
    text = Path(r.path).read_text(encoding="utf-8")
    assert "<!-- 西湖区 -->" in text and "<!-- 上城区 -->" in text


def test_svg_parses_and_names_its_legend(stack, tmp_path):
    out = tmp_path / "map.svg"
    r = export_map(stack, out, bbox=ZJ_BBOX, page="A4", landscape=True, title="SVG 图例",
                   layers=["cluster_zones", "ms_pairings", "ms_figures"])
    tree = ET.parse(out)
    ns = {"svg": "http://www.w3.org/2000/svg", "dc": "http://purl.org/dc/elements/1.1/",
          "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"}
    root = tree.getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # text is drawn as glyph outlines (no font needed), so no <text> elements …
    assert root.find(".//svg:text", ns) is None
    # … and the strings are in the metadata: title, legend entries (dc:subject), sources
    assert root.find(".//dc:title", ns).text == "SVG 图例"
    subjects = {li.text for li in root.findall(".//dc:subject//rdf:li", ns)}
    for lid in ("cluster_zones", "ms_pairings", "ms_figures"):
        layer = stack.layer(lid)
        assert layer.title in subjects
        for row in layer.legend():
            if row.label:
                assert row.label in subjects
    assert BOUNDARY_SOURCE in root.find(".//dc:description", ns).text
    raw = out.read_text(encoding="utf-8")
    assert "<!-- 杭州市 -->" in raw  # each text's paths follow a comment with the text
    assert set(r.legend) >= {stack.layer("cluster_zones").title}


def test_legend_lists_only_what_is_in_the_bbox(stack, tmp_path):
    # northern demonstration zone only: the southern mountain-county layer draws nothing there
    r = export_map(stack, tmp_path / "demo.png", bbox=(120.7, 30.85, 121.2, 31.2), width_px=600, height_px=500,
                   layers=["demo_members", "ms_26_counties"])
    assert stack.layer("demo_members").title in r.legend
    assert stack.layer("ms_26_counties").title not in r.legend
    assert r.seeds == ["004"]


def test_selection_highlight_is_drawn(stack, tmp_path):
    f = stack.layer("cluster_zones").features[0]
    sel = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"role": "selected"},
         "geometry": {"type": "Point", "coordinates": [f.geometry.x, f.geometry.y]}}]}
    r = export_map(stack, tmp_path / "sel.png", bbox=ZJ_BBOX, layers=[], width_px=800, height_px=600,
                   selection_geojson=sel, furniture=False)
    img = np.asarray(Image.open(r.path).convert("RGB")).astype(int)
    c, row = lonlat_to_pixel(r.affine, f.geometry.x, f.geometry.y)
    ring = img[row - 14:row + 15, c - 14:c + 15].reshape(-1, 3)
    yellow = np.abs(ring - np.array([0xFF, 0xD4, 0x00])).max(axis=1) <= 30
    assert yellow.sum() > 20


def test_bad_requests_raise_clear_errors(stack, tmp_path):
    with pytest.raises(ExportError, match="unknown layer id 'nope'"):
        export_map(stack, tmp_path / "x.png", layers=["nope"], width_px=100, height_px=100)
    for bad in [(1, 2, 3), (123, 27, 118, 31), (118, 27, 123, float("nan")), ("a", 1, 2, 3)]:
        with pytest.raises(ExportError, match="bad bbox"):
            export_map(stack, tmp_path / "x.png", bbox=bad, width_px=100, height_px=100)
    with pytest.raises(ExportError, match="does not exist"):
        export_map(stack, tmp_path / "missing" / "x.pdf")
    with pytest.raises(ExportError, match="use a .png, .svg or .pdf"):
        export_map(stack, tmp_path / "x.jpg")
    with pytest.raises(ExportError, match="unknown page size"):
        export_map(stack, tmp_path / "x.pdf", page="B5")
    assert list(tmp_path.iterdir()) == []


def test_cancel_leaves_no_file(stack, tmp_path):
    seen = []

    def progress(frac, msg):
        seen.append(frac)

    out = tmp_path / "c.png"
    with pytest.raises(ExportCancelled):
        export_map(stack, out, width_px=800, height_px=600, progress=progress, cancel=lambda: len(seen) > 2)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    seen.clear()
    r = export_map(stack, out, width_px=400, height_px=300, progress=progress)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen) and r.path.exists()


# -- CLI ------------------------------------------------------------------------------


def test_cli_exports_headless(tmp_path):
    out = tmp_path / "cli.png"
    code = (
        "import sys; from zjmap.cli import main; "
        f"rc = main(['export', {str(out)!r}, '--layers', 'cluster_zones', '--width', '400', '--height', '300', "
        "'--bbox', '118,27,123.2,31.2', '--title', '命令行']); "
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'; sys.exit(rc)"
    )
    env = dict(os.environ, ZJMAP_ROOT=str(ROOT))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert Image.open(out).size == (400, 300)
    assert out.with_suffix(".pgw").exists()
    assert p.stderr.startswith("wrote ")


@pytest.mark.parametrize(
    "args, words",
    [
        (["--layers", "cluster_zones,nope"], "unknown layer id 'nope'"),
        (["--bbox", "118,27,123"], "bad --bbox"),
        (["--bbox", "123,27,118,31"], "bad bbox"),
        (["--width", "300"], "both --width and --height"),
    ],
)
def test_cli_bad_input_exit_2(tmp_path, capsys, args, words):
    from zjmap.cli import main

    rc = main(["export", str(tmp_path / "x.pdf"), *args])
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err


def test_cli_unwritable_path_exit_2(tmp_path, capsys):
    from zjmap.cli import main

    rc = main(["export", str(tmp_path / "nowhere" / "x.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: cannot write")
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        rc = main(["export", str(ro / "x.png")])
        assert rc == 2 and "no permission" in capsys.readouterr().err


def test_cli_add_file_as_layer(tmp_path, capsys):
    pytest.importorskip("zjmap.core.userlayers")
    from zjmap.cli import main

    src = tmp_path / "sites.geojson"
    src.write_text(
        '{"type":"FeatureCollection","features":['
        '{"type":"Feature","properties":{"名称":"地块甲"},"geometry":{"type":"Polygon",'
        '"coordinates":[[[119.6,28.6],[120.0,28.6],[120.0,28.9],[119.6,28.9],[119.6,28.6]]]}}]}',
        encoding="utf-8",
    )
    out = tmp_path / "with_user.png"
    rc = main(["export", str(out), "--add", str(src), "--layers", "", "--width", "600", "--height", "450",
               "--bbox", "118,27,123.2,31.2"])
    err = capsys.readouterr().err
    assert rc == 0, err
    img = np.asarray(Image.open(out).convert("RGB"))
    aff = read_world_file(out.with_suffix(".pgw"))
    from zjmap.core.userlayers import USER_COLORS

    got = np.array(pixel(img, aff, 119.8, 28.75), dtype=float)
    want = 0.35 * rgb(USER_COLORS[0]) + 0.65 * np.array(ZJ_FILL)  # polygon fill 0.35 over Zhejiang
    assert np.abs(got - want).max() <= 6, (got, want)
    rc = main(["export", str(out), "--add", str(tmp_path / "missing.shp")])
    assert rc == 2 and capsys.readouterr().err.startswith("error: ")
