"""Choropleth classes, ramps and legends (zjmap.core.classify), and the headless export."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zjmap.core import classify as C
from zjmap.core.styling import LayerStyler

ROOT = Path(__file__).resolve().parents[1]
T = ROOT / "tests" / "fixtures" / "tables"
VALUES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 50, 100, None, "—"]


def test_quantiles_counts_and_no_data():
    c = C.classify(VALUES, "quantiles", 4)
    assert c.k == 4 and sum(c.counts) == 12 and c.no_data == 2
    assert c.bounds[0] == 1 and c.bounds[-1] == 100
    assert c.counts == [3, 3, 3, 3]


def test_equal_interval_and_natural_breaks():
    e = C.classify(VALUES, "equal_interval", 3)
    assert e.bounds == pytest.approx([1, 34, 67, 100])
    assert e.counts == [11, 0, 1] or e.counts == [10, 1, 1]
    j = C.classify(VALUES, "jenks", 3)  # Fisher–Jenks: 50 and 100 stand apart
    assert j.scheme == "natural_breaks" and j.counts == [10, 1, 1]


def test_std_mean_and_manual():
    y = list(np.random.default_rng(1).normal(100, 10, 500))
    s = C.classify(y, "std_mean", 5)
    mean, sd = np.mean(y), np.std(y)
    assert s.bounds[2] == pytest.approx(mean - sd, rel=0.02) and s.bounds[3] == pytest.approx(mean + sd, rel=0.02)
    m = C.classify(VALUES, "manual", breaks=[5, 20])
    assert m.bounds == [1, 5, 20, 100] and m.counts == [5, 5, 2]
    with pytest.raises(ValueError, match="unknown classification"):
        C.classify(VALUES, "bogus")


def test_ramps_colourblind_safe_defaults():
    names = {r["name"]: r for r in C.ramps()["ramps"]}
    for default in (C.ramps()["default_sequential"], C.ramps()["default_diverging"]):
        assert names[default]["colorblind_safe"]
    assert C.ramp_colors("YlOrRd", 5) == ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]  # ColorBrewer
    assert len(C.ramp_colors("RdBu", 7)) == 7 and len(C.ramp_colors("Blues", 2)) == 2
    assert C.default_ramp("std_mean") == "RdBu" and C.default_ramp("quantiles") == "YlOrRd"


def test_style_legend_counts_and_colours_agree():
    style = C.choropleth_style(VALUES, "v", "quantiles", 4)
    props = [{"v": v} for v in VALUES]
    st = LayerStyler(style, "polygon", props)
    legend = st.legend()
    assert len(legend) == 5 and legend[-1].label.startswith("无数据") and "（2）" in legend[-1].label
    # the colours the map draws give the counts the legend shows (upper bounds inclusive)
    drawn = [st.color_of(p) for p in props]
    for i, colour in enumerate(style["ramp"]):
        assert drawn.count(colour) == style["counts"][i]
        assert f"（{style['counts'][i]}）" in legend[i].label
    assert drawn.count(style["no_data_color"]) == 2
    assert st.feature_style(props[0])["fillOpacity"] > 0.7


def test_parse_style_arg():
    assert C.parse_style_arg("choropleth:人口") == C.StyleArg("人口", "quantiles", 5, None)
    assert C.parse_style_arg("choropleth:人口:jenks:4") == C.StyleArg("人口", "natural_breaks", 4, None)
    assert C.parse_style_arg("choropleth:人口::3:blues") == C.StyleArg("人口", "quantiles", 3, "Blues")
    for bad in ("graduated:x", "choropleth:", "choropleth:x:quantiles:zero", "choropleth:x:quantiles:20"):
        with pytest.raises(ValueError):
            C.parse_style_arg(bad)


def test_cli_export_choropleth_png(tmp_path):
    from PIL import Image

    gpkg = tmp_path / "pop.gpkg"
    env_run = dict(cwd=ROOT, capture_output=True, text=True, timeout=180)
    j = subprocess.run([sys.executable, "-m", "zjmap", "join", str(T / "census2020_zhejiang_cities.csv"),
                        "--out", str(gpkg)], **env_run)
    assert j.returncode == 0, j.stderr
    png = tmp_path / "pop.png"
    x = subprocess.run([sys.executable, "-m", "zjmap", "export", str(png), "--width", "500", "--height", "500",
                        "--layers", "base_province,base_county", "--add", str(gpkg),
                        "--style", "choropleth:常住人口（人）:quantiles:5"], **env_run)
    assert x.returncode == 0, x.stderr
    im = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    present = {"#%02x%02x%02x" % tuple(int(v) for v in px) for px in im[::7]}
    ramp = C.ramp_colors("YlOrRd", 5)
    # fills are blended at 85 % over the base: look for colours near each class's
    def near(hexc):
        r, g, b = (int(hexc[i:i + 2], 16) for i in (1, 3, 5))
        return any(abs(int(p[1:3], 16) - r) + abs(int(p[3:5], 16) - g) + abs(int(p[5:7], 16) - b) < 40
                   for p in present)
    assert sum(near(c) for c in ramp) >= 4
    bad = subprocess.run([sys.executable, "-m", "zjmap", "export", str(png), "--add", str(gpkg),
                          "--style", "choropleth:不存在"], **env_run)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error:") and "no field '不存在'" in bad.stderr


def test_each_add_takes_its_own_style():
    q = C.parse_style_arg("choropleth:人口")
    b = C.parse_style_arg("choropleth:GDP:equal_interval:4:Blues")
    # a --style styles the --add it follows
    assert C.styles_for_adds([("add", "a.gpkg"), ("style", "choropleth:人口"), ("add", "b.gpkg"),
                              ("style", "choropleth:GDP:equal_interval:4:Blues")]) == [("a.gpkg", q), ("b.gpkg", b)]
    # the old form: one --style after (or before) all the --adds styles the last one
    assert C.styles_for_adds([("add", "a.gpkg"), ("add", "b.gpkg"), ("style", "choropleth:人口")]) == [
        ("a.gpkg", None), ("b.gpkg", q)]
    assert C.styles_for_adds([("style", "choropleth:人口"), ("add", "a.gpkg"), ("add", "b.gpkg")]) == [
        ("a.gpkg", None), ("b.gpkg", q)]
    # LAYER=SPEC names the layer by number, file name or name, wherever it stands
    for name in ("1", "a.gpkg", "a", "/x/a.gpkg"):
        assert C.styles_for_adds([("style", f"{name}=choropleth:人口"), ("add", "/x/a.gpkg"), ("add", "b.gpkg")]) == [
            ("/x/a.gpkg", q), ("b.gpkg", None)]
    for items, msg in (([("add", "a.gpkg"), ("style", "c=choropleth:人口")], "no --add is called that"),
                       ([("add", "a.gpkg"), ("style", "choropleth:人口"), ("style", "1=choropleth:x")],
                        "two --style for the same layer"),
                       ([("add", "d/a.gpkg"), ("add", "e/a.gpkg"), ("style", "a=choropleth:人口")], "by number"),
                       ([("style", "choropleth:人口")], "give a layer with --add"),
                       ([("add", "a.gpkg"), ("style", "choropleth:x:quantiles:5:Rainbow")], "unknown colour ramp")):
        with pytest.raises(ValueError, match=msg):
            C.styles_for_adds(items)


def test_cli_export_two_joined_layers_each_with_its_choropleth(tmp_path):
    """Zhejiang's cities by population (YlOrRd) and Anhui's by a made-up GDP (Blues) on one PDF page."""
    from PIL import Image

    from zjmap.core import tablejoin as J

    env_run = dict(cwd=ROOT, capture_output=True, text=True, timeout=300)
    anhui = [u for u in J.gazetteer().units["prefecture"] if u.province == "安徽省"]
    table = tmp_path / "安徽各市.csv"
    table.write_text("地区,地区生产总值（亿元）\n" + "".join(f"{u.name_zh},{(i + 1) * 500}\n"
                                                     for i, u in enumerate(anhui)), encoding="utf-8")
    for src, out in ((T / "census2020_zhejiang_cities.csv", "zj.gpkg"), (table, "ah.gpkg")):
        J.write_joined(J.run_join(J.JoinSpec(str(src))).gdf, tmp_path / out)  # what `zjmap join --out` writes
    pdf = tmp_path / "two.pdf"
    x = subprocess.run([sys.executable, "-m", "zjmap", "export", str(pdf), "--bbox", "114.8,27.0,123.0,34.7",
                        "--layers", "base_province,base_county",
                        "--add", str(tmp_path / "zj.gpkg"), "--style", "choropleth:常住人口（人）:quantiles:5",
                        "--add", str(tmp_path / "ah.gpkg"), "--style", "choropleth:地区生产总值（亿元）:equal_interval:4:Blues"],
                       **env_run)
    assert x.returncode == 0, x.stderr
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    # both legends, each with its own field and class bounds (Anhui: 500 … 8,000 in four equal classes)
    assert "zj · 常住人口（人）" in text and "ah · 地区生产总值（亿元）" in text
    assert "9,404,283 – 11,936,010（2）" in text
    assert all(b in text for b in ("500 – 2,375（4）", "6,125 – 8,000（4）"))
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-singlefile", str(pdf), str(tmp_path / "two")], check=True)
    im = np.asarray(Image.open(tmp_path / "two.png").convert("RGB")).reshape(-1, 3)
    present = {tuple(int(v) for v in px) for px in im[::3]}

    def near(hexc):
        r, g, b = (int(hexc[i:i + 2], 16) for i in (1, 3, 5))
        return any(abs(p[0] - r) + abs(p[1] - g) + abs(p[2] - b) < 30 for p in present)
    assert sum(near(c) for c in C.ramp_colors("YlOrRd", 5)) >= 4
    assert sum(near(c) for c in C.ramp_colors("Blues", 4)) >= 3
    # the old form still styles the last --add only, and a LAYER= that names nothing is one error line
    bad = subprocess.run([sys.executable, "-m", "zjmap", "export", str(tmp_path / "x.pdf"),
                          "--add", str(tmp_path / "zj.gpkg"), "--style", "ah=choropleth:地区生产总值（亿元）"], **env_run)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: --style") and "no --add" in lines[0]


def test_legend_swatches_are_filled_as_the_map_is(tmp_path):
    """A choropleth's legend swatch has its class's colour at the map's fill opacity (it was a fixed
    0.35 against the map's 0.85, so the legend showed paler colours than the map)."""
    import re

    env_run = dict(cwd=ROOT, capture_output=True, text=True, timeout=180)
    gpkg = tmp_path / "pop.gpkg"
    j = subprocess.run([sys.executable, "-m", "zjmap", "join", str(T / "census2020_zhejiang_cities.csv"),
                        "--out", str(gpkg)], **env_run)
    assert j.returncode == 0, j.stderr
    svg = tmp_path / "pop.svg"
    x = subprocess.run([sys.executable, "-m", "zjmap", "export", str(svg), "--layers", "base_province",
                        "--add", str(gpkg), "--style", "choropleth:常住人口（人）:quantiles:5"], **env_run)
    assert x.returncode == 0, x.stderr
    fills: dict[str, list[float]] = {}
    for style in re.findall(r'style="([^"]*)"', svg.read_text(encoding="utf-8")):
        m = re.search(r"fill: (#[0-9a-f]{6})", style)
        if m:
            op = re.search(r"fill-opacity: ([0-9.]+)", style)
            fills.setdefault(m.group(1), []).append(float(op.group(1)) if op else 1.0)
    for colour in C.ramp_colors("YlOrRd", 5):
        seen = fills.get(colour, [])
        assert len(seen) >= 2, (colour, seen)  # on the map and in the legend
        assert max(seen) - min(seen) < 0.01 and min(seen) > 0.7, (colour, seen)
