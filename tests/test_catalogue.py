"""The shipped seed-layer catalogue and its loader (zjmap.core.catalogue).

The checks over the shipped catalogue are generic: they run over whatever
layers geodata/catalogue.json lists.
"""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import shapely

from zjmap.core import catalogue as C
from zjmap.core.boundaries import find_unit

ROOT = Path(__file__).resolve().parents[1]
HOST_TOLERANCE_M = 500.0
PRECISIONS = {"exact_boundary", "province_polygon", "city_polygon", "county_polygon", "town_approx",
              "point", "schematic_line", "schematic_link"}
PROPS = ("id", "layer", "name_zh", "name_en", "aliases", "category", "attributes", "host_prefecture",
         "host_county", "precision", "precision_label_zh", "precision_label_en", "place_note",
         "sources", "figures")


@pytest.fixture(scope="session")
def cat():
    return C.load_catalogue()


@pytest.fixture(scope="session")
def bg():
    spec = importlib.util.spec_from_file_location("build_geodata", ROOT / "tools" / "build_geodata.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["build_geodata"] = mod
    spec.loader.exec_module(mod)
    return mod


def all_features(cat):
    return [f for li in cat.layers for f in cat.layer_features(li.id)]


def metres(a, b):
    """Distance in metres between two small-extent geometries (local equirectangular)."""
    lat0 = math.radians((a.centroid.y + b.centroid.y) / 2)

    def proj(c):
        c = c.copy()
        c[:, 0] *= 111320.0 * math.cos(lat0)
        c[:, 1] *= 110574.0
        return c

    return shapely.distance(shapely.transform(a, proj), shapely.transform(b, proj))


# -- the shipped catalogue ---------------------------------------------------

def test_catalogue_shape(cat):
    data = json.loads((ROOT / "geodata" / "catalogue.json").read_text(encoding="utf-8"))
    assert data["version"] == 1
    assert cat.layers, "no layers in geodata/catalogue.json"
    assert [li.id for li in cat.layers] == [li.id for li in sorted(cat.layers, key=lambda x: (x.order, x.id))]
    assert len({li.id for li in cat.layers}) == len(cat.layers)
    for seed, meta in cat.seeds.items():
        assert (ROOT / meta["file"]).exists() and meta["title_zh"] and meta["title_en"]
    for li in cat.layers:
        assert li.seed in cat.seeds
        assert li.count == len(cat.layer_features(li.id)) > 0
        assert (ROOT / li.file).exists()
        assert li.title_zh and li.title_en and li.geometry in ("polygon", "point", "line", "link")
    ids = [f.id for f in all_features(cat)]
    assert len(ids) == len(set(ids)) == len(cat.features)


def test_every_quote_is_at_its_offsets(cat):
    for f in all_features(cat):
        assert f.sources, f.id
        for q in f.sources + f.figures:
            text = cat.seed_text(q["seed"])
            assert text[q["start"]:q["end"]] == q["quote"], (f.id, q["quote"][:30])


def test_every_figure_is_in_its_quote_or_derived(cat, bg):
    for f in all_features(cat):
        for fig in f.figures:
            assert fig.get("derived") or bg.value_in_quote(fig["value"], fig["quote"]), (f.id, fig["label"])


def test_features_are_valid_and_complete(cat):
    for f in all_features(cat):
        for k in PROPS:
            assert k in f.props, (f.id, k)
        assert f.props["precision"] in PRECISIONS, f.id
        assert f.props["precision_label_zh"] and f.props["precision_label_en"]
        assert isinstance(f.props["host_county"], list) and isinstance(f.props["attributes"], dict)
        g = f.geometry
        assert g.is_valid and not g.is_empty, f.id
        minx, miny, maxx, maxy = g.bounds
        assert 113 < minx and maxx < 124 and 24 < miny and maxy < 36, f.id  # WGS-84 lon/lat, not swapped


def test_features_lie_in_their_host_county(cat):
    checked = 0
    for f in all_features(cat):
        counties = f.props["host_county"]
        if not counties:
            continue
        prefs = f.props.get("host_prefectures") or []
        dists = []
        for name in counties:
            row = None
            for parent in prefs or [None]:
                try:
                    row = find_unit(name, "county", parent)
                    break
                except KeyError:
                    continue
            if row is None:
                continue  # outside the base boundaries (e.g. 闵行区): the builder warns
            dists.append((name, metres(f.geometry, row.geometry)))
        if not dists:
            continue
        checked += 1
        if f.geometry.geom_type == "Point":
            assert min(d for _, d in dists) <= HOST_TOLERANCE_M, (f.id, dists)
        else:
            for name, d in dists:
                assert d <= HOST_TOLERANCE_M, (f.id, name, d)
    assert checked > 0


# -- the loader API (on the shipped data) ---------------------------------------

def test_feature_api(cat):
    f = all_features(cat)[0]
    assert isinstance(f, C.Feature) and f.layer == f.props["layer"] and f.id == f.props["id"]
    assert f.name_zh == f.props["name_zh"] and isinstance(f.aliases, list)
    assert isinstance(f.sources[0], dict) and {"seed", "start", "end", "quote"} <= set(f.sources[0])
    assert cat.features[f.id] is f
    assert isinstance(cat.layer(f.layer), C.LayerInfo)
    assert C.load_catalogue() is cat  # cached per root


def test_search(cat):
    f = all_features(cat)[0]
    hits = cat.search(f.name_zh)
    assert hits and hits[0].name_zh == f.name_zh  # exact match first
    if f.name_en:
        assert f in cat.search(f.name_en.upper())  # case-insensitive
    assert f in cat.search(f.name_zh[:2])
    assert cat.search("") == []
    assert cat.search("no such name at all") == []


def test_search_ranking(tmp_path):
    root = tmp_path
    (root / "geodata" / "layers").mkdir(parents=True)

    def feat(fid, zh, en, aliases=()):
        props = {"id": fid, "layer": "t", "name_zh": zh, "name_en": en, "aliases": list(aliases),
                 "sources": [], "figures": [], "attributes": {"nested": {"a": [1, 2]}}}
        return {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [120, 30]}}

    fc = {"type": "FeatureCollection", "features": [
        feat("a", "新嘉兴港区", "New Jiaxing Port"),
        feat("b", "嘉兴港", "Jiaxing Port Area"),
        feat("c", "乍浦", "Zhapu", aliases=["嘉兴港"]),
    ]}
    (root / "geodata" / "layers" / "t.geojson").write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    cat = {"version": 1, "seeds": {}, "layers": [{"id": "t", "title_zh": "测试", "title_en": "Test",
                                                  "order": 1, "count": 3, "file": "geodata/layers/t.geojson"}]}
    (root / "geodata" / "catalogue.json").write_text(json.dumps(cat), encoding="utf-8")
    c = C.load_catalogue(root)
    assert [f.id for f in c.search("嘉兴港")] == ["b", "c", "a"]  # exact (name, alias), then substring
    assert [f.id for f in c.search("jiaxing")] == ["b", "a"]  # prefix before substring
    assert c.features["a"].props["attributes"] == {"nested": {"a": [1, 2]}}
    with pytest.raises(KeyError, match="unknown layer 'x'; known: t"):
        c.layer_features("x")
    fc_out = json.loads(C.catalogue_geojson("t", root=root))
    assert [f["id"] for f in fc_out["features"]] == ["a", "b", "c"]


# -- the CLI ----------------------------------------------------------------

def _zjmap(*args):
    return subprocess.run([sys.executable, "-m", "zjmap", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_catalog_layer(cat):
    li = cat.layers[0]
    out = _zjmap("catalog", "--layer", li.id)
    assert out.returncode == 0, out.stderr
    fc = json.loads(out.stdout)
    assert len(fc["features"]) == li.count
    assert all(f["properties"]["layer"] == li.id for f in fc["features"])
    assert isinstance(fc["features"][0]["properties"]["sources"], list)


def test_cli_catalog_all(cat):
    out = _zjmap("catalog")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["features"]) == len(cat.features)


def test_cli_catalog_unknown_layer():
    out = _zjmap("catalog", "--layer", "nope")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown layer 'nope'; known: ")
