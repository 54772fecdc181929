"""Files GDAL and QGIS open although they are not whole: zjmap opens them too,
and says what was odd about them (issue 11)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import corpus
import pytest

from zjmap.core.userfiles import UserFileError, inspect_file, open_source, read_layer

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "fixtures" / "realworld"


def _inspect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zjmap", "inspect", *args],
                          capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=60)


def test_geometry_only_shapefile_opens_with_a_warning(tmp_path):
    shp = corpus.geometry_only_shp(tmp_path)
    got = read_layer(shp)
    assert len(got.gdf) == 4 and got.fields == {}
    assert got.encoding is None
    assert any("shapes_only.dbf is missing" in w and "only the shapes" in w for w in got.warnings)
    assert open_source(shp).layers[0].features == 4


def test_dbf_without_fields_opens(tmp_path):
    got = read_layer(corpus.dbf_without_fields(tmp_path))
    assert len(got.gdf) == 4 and got.fields == {}
    assert got.bounds_wgs84[0] == pytest.approx(120.15)


def test_zero_record_shapefile_is_an_empty_layer(tmp_path):
    shp = corpus.zero_features_shp(tmp_path)
    got = read_layer(shp)
    assert len(got.gdf) == 0 and got.bounds_wgs84 is None
    assert got.fields == {"name": "str"} and got.source_crs == "EPSG:4326"
    assert got.geometry_types == ["Polygon"]
    assert got.warnings[0].startswith("图层为空 The layer is empty: nothing.shp has no features")
    r = _inspect(str(shp))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["features"] == 0 and out["fields"] == {"name": "str"} and out["crs"] == "EPSG:4326"
    assert out["layers"][0]["features"] == 0 and "problem" not in out["layers"][0]


def test_missing_shx_is_rebuilt_in_a_temporary_copy(tmp_path):
    shp = corpus.missing_sidecar(tmp_path, ".shx")
    before = sorted(p.name for p in tmp_path.iterdir())
    got = read_layer(shp)
    assert len(got.gdf) == 4 and sorted(got.gdf["名称"]) == sorted(corpus.PLACES)
    assert any("noshx.shx" in w and "temporary copy" in w for w in got.warnings)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written beside it
    assert any("temporary copy" in n for n in open_source(shp).notes)


def test_missing_shx_inside_a_zip_is_rebuilt_outside_it(tmp_path):
    import zipfile

    corpus.missing_sidecar(tmp_path, ".shx")
    z = tmp_path / "noshx.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in tmp_path.glob("noshx.*"):
            zf.write(f, "data/" + f.name)
    before = z.read_bytes()
    got = read_layer(z)
    assert len(got.gdf) == 4 and sorted(got.gdf["名称"]) == sorted(corpus.PLACES)
    assert any("noshx.shp in noshx.zip had no index file (noshx.shx)" in w for w in got.warnings)
    assert z.read_bytes() == before


def test_geopackage_with_an_unknown_z_layer_lists_every_layer(tmp_path):
    gpkg = corpus.gpkg_with_unknown_z_layer(tmp_path)
    info = open_source(gpkg)
    assert info.layer_names == ["城镇", "zones"]
    towns, zones = info.layers
    assert towns.problem is None and towns.features == 4
    assert zones.problem is not None and "layer 'zones' of plan.gpkg" in zones.problem
    assert "Unknown Z" in zones.problem
    assert len(read_layer(gpkg, layer="城镇").gdf) == 4
    with pytest.raises(UserFileError, match=r"layer 'zones' of plan\.gpkg.*Unknown Z"):
        read_layer(gpkg, layer="zones")
    assert read_layer(gpkg).name == "城镇"  # the default skips the bad one


def test_empty_layer_of_a_geopackage_is_listed_and_loads_empty(tmp_path):
    gpkg = corpus.gpkg_with_empty_layer(tmp_path)
    info = open_source(gpkg)
    empty = [i for i in info.layers if i.name == "空图层"][0]
    assert empty.features == 0 and empty.problem is None
    got = read_layer(gpkg, layer="空图层")
    assert len(got.gdf) == 0 and got.source_crs == "EPSG:4549" and list(got.fields) == ["名称"]
    assert read_layer(gpkg).name != "空图层"  # by default a layer with features is chosen


def test_inspect_sample_prints_decoded_records(tmp_path):
    shp = corpus.gbk_shapefile_no_cpg(tmp_path)
    r = _inspect(str(shp), "--sample", "2")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["sample"]) == 2
    assert out["sample"][0] == {"名称": "嘉善县", "地级市": "嘉兴市", "面积": 506.58}
    assert out["sample"][1]["名称"] == "西湖区"
    assert "sample" not in json.loads(_inspect(str(shp)).stdout)


# --- from other projects' test data (tests/fixtures/realworld/SOURCES.md) ----


def test_pyshp_latin1_without_shx(tmp_path):
    for f in REAL.glob("latin1.*"):
        shutil.copy(f, tmp_path)
    out = inspect_file(tmp_path / "latin1.shp", encoding="ISO-8859-1", sample=1)
    assert out["features"] == 1 and out["sample"] == [{"id": 2, "Name": "Ñandú"}]
    assert any("latin1.shx" in w for w in out["warnings"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latin1.dbf", "latin1.shp"]


def test_pyshp_junk_after_the_records():
    got = read_layer(REAL / "corrupt_too_long.shp")
    assert len(got.gdf) == 10 and set(got.gdf["test"]) == {"value"}
    assert got.geometry_types == ["LineString"]


def test_shapefile_js_html_prj_without_shx(tmp_path):
    for f in REAL.glob("htmlprj.*"):
        shutil.copy(f, tmp_path)
    shp = tmp_path / "htmlprj.shp"
    notes = open_source(shp).notes
    assert any("htmlprj.shx" in n for n in notes) and any("htmlprj.prj" in n for n in notes)
    with pytest.raises(UserFileError, match=r"htmlprj\.prj of htmlprj\.shp cannot be understood"):
        read_layer(shp)
    got = read_layer(shp, crs="EPSG:4326")  # the planner chooses it, as the app offers
    assert list(got.gdf["field"]) == ["💩", "Hněvošický háj"]
    assert not (tmp_path / "htmlprj.shx").exists()


def test_shapefile_js_zero_length_line_in_a_zip():
    got = read_layer(REAL / "zero-len-line.zip")
    assert len(got.gdf) == 2 and got.skipped == 1
    assert got.gdf["Operator"].iloc[0] == "El Paso Natural Gas Co"
