"""The spec -> layer builder (tools/build_geodata.py --layers-only), on fixture specs."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "specs"
GPKG = ROOT / "geodata" / "base" / "boundaries.gpkg"
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def bg():
    spec = importlib.util.spec_from_file_location("build_geodata", ROOT / "tools" / "build_geodata.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["build_geodata"] = mod  # dataclasses need the module registered
    spec.loader.exec_module(mod)
    return mod


def seed_text(seed):
    return next(SEEDS.glob(f"{seed}_*.txt")).read_text(encoding="utf-8")


def run(bg, specs: Path, out: Path) -> int:
    return bg.main(["--layers-only", "--specs", str(specs), "--out", str(out / "geodata"),
                    "--base", str(GPKG)])


@pytest.fixture(scope="session")
def built(bg, tmp_path_factory):
    out = tmp_path_factory.mktemp("built")
    assert run(bg, FIXTURES, out) == 0
    return out


def load_layer(out, layer):
    return json.loads((out / "geodata" / "layers" / f"{layer}.geojson").read_text(encoding="utf-8"))


def spec_copy(tmp_path, name):
    d = tmp_path / "specs"
    d.mkdir(exist_ok=True)
    shutil.copy(FIXTURES / name, d / name)
    return d, json.loads((d / name).read_text(encoding="utf-8"))


def save(d, name, spec):
    (d / name).write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")


def test_offsets_match_seed_text(built):
    fc = load_layer(built, "test_demo_zone")
    zone = next(f for f in fc["features"] if f["id"] == "test_demo_zone_all")
    text = seed_text("004")
    fig = zone["properties"]["figures"][0]
    assert fig["start"] == text.index("区域面积约 2413 平方公")
    assert text[fig["start"]:fig["end"]] == fig["quote"]
    for f in fc["features"]:
        for s in f["properties"]["sources"] + f["properties"]["figures"]:
            assert seed_text(s["seed"])[s["start"]:s["end"]] == s["quote"]


def test_properties_and_precision(built):
    fc = load_layer(built, "test_demo_zone")
    by = {f["id"]: f for f in fc["features"]}
    zone = by["test_demo_zone_all"]["properties"]
    assert zone["precision"] == "exact_boundary" and zone["precision_label_en"]
    assert zone["attributes"] == {"counties": 3} and zone["host_county"] == []
    town = by["test_demo_xitang"]["properties"]
    assert town["precision"] == "town_approx" and "±3" in town["precision_label_en"]
    assert town["host_prefecture"] == "嘉兴市" and town["host_county"] == ["嘉善县"]
    assert town["place_note"].startswith("Circle")
    assert by["test_demo_xitang"]["geometry"]["type"] == "Polygon"
    link = load_layer(built, "test_links")["features"][0]
    assert link["properties"]["precision"] == "schematic_link"
    assert link["geometry"]["type"] == "LineString" and len(link["geometry"]["coordinates"]) == 2
    pt = load_layer(built, "test_points")["features"][0]
    assert pt["properties"]["precision"] == "point" and pt["properties"]["precision_label_zh"]


def test_circle_radius_is_geodesic(built):
    from pyproj import Geod

    fc = load_layer(built, "test_demo_zone")
    ring = next(f for f in fc["features"] if f["id"] == "test_demo_xitang")["geometry"]["coordinates"][0]
    geod = Geod(ellps="WGS84")
    for lon, lat in ring[::8]:
        _, _, d = geod.inv(120.89, 30.94, lon, lat)
        assert abs(d - 5000) < 5


def test_catalogue_json(built):
    cat = json.loads((built / "geodata" / "catalogue.json").read_text(encoding="utf-8"))
    assert cat["version"] == 1
    assert set(cat["seeds"]) == {"000", "001", "002", "003", "004"}
    assert all(s["title_zh"] and s["title_en"] for s in cat["seeds"].values())
    ids = [e["id"] for e in cat["layers"]]
    assert ids == ["test_demo_zone", "test_links", "test_points"]  # by order
    e = cat["layers"][0]
    assert e["count"] == 2 and e["file"].endswith("layers/test_demo_zone.geojson")
    for k in ("title_zh", "title_en", "group_zh", "group_en", "seed", "order", "geometry", "style",
              "description_zh", "description_en", "note"):
        assert k in e


def test_rebuild_is_identical(bg, built, tmp_path):
    assert run(bg, FIXTURES, tmp_path) == 0
    for rel in ("geodata/catalogue.json", "geodata/layers/test_demo_zone.geojson",
                "geodata/layers/test_links.geojson"):
        assert (tmp_path / rel).read_bytes() == (built / rel).read_bytes()


def _fails(bg, specs, tmp_path, capsys, *needles):
    out = tmp_path / "out"
    assert run(bg, specs, out) != 0
    err = capsys.readouterr().err
    for n in needles:
        assert n in err, err
    assert not (out / "geodata" / "catalogue.json").exists()
    return err


def test_wrong_quote_fails(bg, tmp_path, capsys):
    d, spec = spec_copy(tmp_path, "demo_zone.json")
    spec["features"][1]["sources"][0]["quote"] = "西塘镇、姚庄镇五个镇全域为先行启动区（不在原文里）"
    save(d, "demo_zone.json", spec)
    _fails(bg, d, tmp_path, capsys, "demo_zone.json", "test_demo_xitang", "not found",
           "西塘镇、姚庄镇五个镇全域为先行启动区（不在原文里"[:30])


def test_ambiguous_quote_needs_occurrence(bg, tmp_path, capsys):
    text = seed_text("004")
    quote = "长三角生态绿色一体化发展示范区"
    assert text.count(quote) > 2
    d, spec = spec_copy(tmp_path, "demo_zone.json")
    spec["features"][0]["sources"].append({"seed": "004", "quote": quote})
    save(d, "demo_zone.json", spec)
    _fails(bg, d, tmp_path, capsys, "test_demo_zone_all", "occurrence")
    spec["features"][0]["sources"][-1]["occurrence"] = 2
    save(d, "demo_zone.json", spec)
    out = tmp_path / "ok"
    assert run(bg, d, out) == 0
    src = load_layer(out, "test_demo_zone")["features"][0]["properties"]["sources"][-1]
    first = text.index(quote)
    assert src["start"] == text.index(quote, first + 1)


def test_figure_not_in_quote_fails(bg, tmp_path, capsys):
    d, spec = spec_copy(tmp_path, "demo_zone.json")
    spec["features"][0]["figures"][0]["value"] = 2400
    save(d, "demo_zone.json", spec)
    _fails(bg, d, tmp_path, capsys, "demo_zone.json", "test_demo_zone_all", "2400", "derived")
    # ... unless it says how it was derived
    spec["features"][0]["figures"][0]["derived"] = "rounded for the test"
    save(d, "demo_zone.json", spec)
    assert run(bg, d, tmp_path / "ok") == 0


def test_point_outside_host_county_fails(bg, tmp_path, capsys):
    d, spec = spec_copy(tmp_path, "jiaxing_points.json")
    spec["features"][0]["host"] = {"prefecture": "嘉兴市", "county": "嘉善县"}  # point is in 南湖区
    save(d, "jiaxing_points.json", spec)
    _fails(bg, d, tmp_path, capsys, "jiaxing_points.json", "test_pt_jiaxing_services", "嘉善县")


def test_unknown_unit_and_duplicate_ids_fail(bg, tmp_path, capsys):
    d, spec = spec_copy(tmp_path, "demo_zone.json")
    spec["features"][0]["place"]["names"].append("不存在县")
    spec["features"][1]["id"] = "test_demo_zone_all"
    save(d, "demo_zone.json", spec)
    _fails(bg, d, tmp_path, capsys, "不存在县", "already used")


@pytest.mark.parametrize("value,quote,ok", [
    (2413, "区域面积约 2413 平方公", True),
    (2413, "约2,413平方公里", True),
    (2413.0, "约 2413 平方", True),
    (2413, "约 2413.0 平方", True),
    (24.1, "增长 24.10%", True),
    (84.3, "占陆域面积的 84.3%", True),
    (-3.5, "下降 3.5 个百分点", True),
    (241, "约 2413 平方", False),
    (3, "增长 3.5%", False),
    (660, "面积约 6600 平方", False),
    ("两翼", "一核两翼", True),
])
def test_value_in_quote(bg, value, quote, ok):
    assert bg.value_in_quote(value, quote) is ok


def test_builder_cli_exit_code(tmp_path):
    d = tmp_path / "specs"
    d.mkdir()
    spec = json.loads((FIXTURES / "jiaxing_points.json").read_text(encoding="utf-8"))
    spec["features"][0]["sources"][0]["quote"] = "这句话不在种子文档里"
    (d / "bad.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_geodata.py"), "--layers-only", "--specs", str(d),
         "--out", str(tmp_path / "geodata"), "--base", str(GPKG)],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 1
    assert "bad.json: test_pt_jiaxing_services" in out.stderr and "这句话不在种子文档里" in out.stderr
