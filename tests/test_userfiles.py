"""Reading planners' own files (zjmap.core.userfiles) over a corpus built in tmp dirs."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import corpus
import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod

from zjmap.core import dbf
from zjmap.core.userfiles import (
    LoadCancelled,
    UserFileError,
    guess_crs,
    open_source,
    read_layer,
)

ROOT = Path(__file__).resolve().parents[1]
GEOD = Geod(ellps="WGS84")


def assert_at_places(gdf, tol_m: float = 1.0) -> None:
    """Every point is within tol_m metres of the PLACES entry named in 名称."""
    assert len(gdf) == len(corpus.PLACES)
    for name, geom in zip(gdf["名称"], gdf.geometry):
        lon, lat = corpus.PLACES[name]
        _, _, dist = GEOD.inv(lon, lat, geom.x, geom.y)
        assert dist < tol_m, (name, dist)


# --- encodings ---------------------------------------------------------------


def test_gbk_shapefile_without_cpg_reads_chinese(tmp_path):
    shp = corpus.gbk_shapefile_no_cpg(tmp_path)
    # pyogrio's own guess for this file is ISO-8859-1: mojibake. That is why
    # the encoding is decided by zjmap and passed explicitly.
    plain = pyogrio.read_dataframe(shp)
    assert "嘉善县" not in set(plain.iloc[:, 0])

    got = read_layer(shp)
    assert list(got.gdf["名称"]) == ["嘉善县", "西湖区"]
    assert list(got.gdf["地级市"]) == ["嘉兴市", "杭州市"]
    assert got.encoding in ("GBK", "GB18030")
    assert "UTF-8" in got.encoding_reason
    assert got.fields["面积"] == "float64"
    assert got.source_crs == "EPSG:4490" and not got.crs_guessed


def test_ldid_byte_0x4d_means_gbk(tmp_path):
    shp = corpus.gbk_shapefile_no_cpg(tmp_path)
    corpus.set_ldid(shp, 0x4D)
    got = read_layer(shp)
    assert got.encoding == "GBK"
    assert "0x4D" in got.encoding_reason
    assert got.gdf["名称"].iloc[0] == "嘉善县"


def test_ldid_0x57_is_treated_as_unknown(tmp_path):
    shp = corpus.gbk_shapefile_no_cpg(tmp_path)
    corpus.set_ldid(shp, 0x57)
    got = read_layer(shp)
    assert got.encoding == "GB18030"
    assert got.gdf["名称"].iloc[0] == "嘉善县"


def test_utf8_shapefile_with_cpg(tmp_path):
    shp = corpus.place_points(tmp_path, "utf8", 4326, cpg="UTF-8")
    got = read_layer(shp)
    assert got.encoding == "UTF-8"
    assert ".cpg" in got.encoding_reason
    assert set(got.gdf["名称"]) == set(corpus.PLACES)


def test_cpg_that_lies_is_not_trusted(tmp_path):
    shp = corpus.gbk_shapefile_no_cpg(tmp_path)
    shp.with_suffix(".cpg").write_text("UTF-8")
    got = read_layer(shp)
    assert got.gdf["名称"].iloc[0] == "嘉善县"
    assert any(".cpg" in w and "not valid UTF-8" in w for w in got.warnings)


def test_encoding_argument_overrides_and_wrong_one_is_a_clear_error(tmp_path):
    shp = corpus.gbk_shapefile_no_cpg(tmp_path)
    assert read_layer(shp, encoding="GBK").gdf["名称"].iloc[0] == "嘉善县"
    assert read_layer(shp, encoding="cp936").encoding == "GBK"
    with pytest.raises(UserFileError, match=r"county_gbk\.dbf is not valid UTF-8"):
        read_layer(shp, encoding="UTF-8")
    with pytest.raises(UserFileError, match="not a text encoding"):
        read_layer(shp, encoding="klingon")


def test_dbf_helpers():
    assert dbf.cpg_encoding("ANSI 936") == "GBK"
    assert dbf.cpg_encoding("65001") == "UTF-8"
    assert dbf.cpg_encoding(" utf8\r\n") == "UTF-8"
    assert dbf.cpg_encoding("1252") == "CP1252"
    assert dbf.cpg_encoding("SYSTEM") is None
    gbk = ["嘉善县".encode("gbk")]
    assert dbf.choose_encoding(None, 0, gbk).encoding == "GB18030"
    assert dbf.choose_encoding(None, 0x4D, gbk).encoding == "GBK"
    # a Western code page in the header is only a hint for Chinese text
    assert dbf.choose_encoding(None, 0x03, gbk).encoding == "GB18030"
    assert dbf.choose_encoding(None, 0, ["嘉善县".encode("utf-8")]).encoding == "UTF-8"
    # a UTF-8 character cut by a fixed-width field is not a decoding failure
    assert dbf.first_undecodable(["嘉善县".encode("utf-8")[:-1]], "UTF-8") is None
    assert dbf.choose_encoding(None, 0, [b"\xff\xff\xff\x80"]).encoding is None


def test_undecodable_attributes(tmp_path):
    shp = corpus.place_points(tmp_path, "junk", 4326)
    data = bytearray(shp.with_suffix(".dbf").read_bytes())
    hdr = dbf.parse_header(bytes(data))
    start = hdr.header_len + 1  # first record, first field (名称)
    data[start : start + 4] = b"\xff\xff\xff\x80"
    shp.with_suffix(".dbf").write_bytes(bytes(data))
    with pytest.raises(UserFileError, match=r"junk\.dbf cannot be decoded"):
        read_layer(shp)


# --- coordinate systems ------------------------------------------------------


@pytest.mark.parametrize("epsg", [4549, 4528])
def test_cgcs2000_gauss_kruger_lands_right(tmp_path, epsg):
    shp = corpus.place_points(tmp_path, f"gk{epsg}", epsg)
    x, _ = corpus.project(epsg, *corpus.PLACES["杭州市"])
    assert (x > 4e7) == (epsg == 4528)  # zone 40 carries the 40,500,000 false easting
    got = read_layer(shp)
    assert got.source_crs == f"EPSG:{epsg}" and not got.crs_guessed
    assert got.gdf.crs.to_epsg() == 4326
    assert_at_places(got.gdf)
    hz = got.gdf.loc[got.gdf["名称"] == "杭州市"].geometry.iloc[0]
    assert abs(hz.x - 120.15) < 1e-8 and abs(hz.y - 30.28) < 1e-8  # full precision


def test_no_prj_degrees_guessed_4326(tmp_path):
    got = read_layer(corpus.place_points(tmp_path, "deg", 4326, prj=False))
    assert got.source_crs == "EPSG:4326" and got.crs_guessed
    assert "degrees" in got.crs_guess_reason
    assert_at_places(got.gdf)


@pytest.mark.parametrize(
    ("epsg", "needle"),
    [(4549, "central meridian 120°E"), (4528, "start with 40")],
)
def test_no_prj_gauss_kruger_guessed_with_reason(tmp_path, epsg, needle):
    got = read_layer(corpus.place_points(tmp_path, "gk", epsg, prj=False))
    assert got.crs_guessed and got.source_crs == f"EPSG:{epsg}"
    assert needle in got.crs_guess_reason and f"EPSG:{epsg}" in got.crs_guess_reason
    assert_at_places(got.gdf)


def test_crs_argument_overrides(tmp_path):
    shp = corpus.place_points(tmp_path, "gk", 4549, prj=False)
    got = read_layer(shp, crs="EPSG:4549")
    assert not got.crs_guessed and got.source_crs == "EPSG:4549"
    assert_at_places(got.gdf)
    # ... also over a CRS the file declares
    wrong = corpus.place_points(tmp_path, "declared", 4549)
    with pytest.raises(UserFileError, match="do not fit EPSG:4326"):
        read_layer(wrong, crs="EPSG:4326")
    with pytest.raises(UserFileError, match="not a coordinate system"):
        read_layer(wrong, crs="EPSG:999999")


def test_declared_crs_that_does_not_fit_falls_back_to_guess(tmp_path):
    shp = corpus.place_points(tmp_path, "mislabelled", 4528, prj=False)
    corpus.write_prj(shp, 4549)  # a common mistake: zone-prefixed eastings, CM .prj
    got = read_layer(shp)
    assert got.crs_guessed and got.source_crs == "EPSG:4528"
    assert any("declares EPSG:4549" in w for w in got.warnings)
    assert_at_places(got.gdf)


def test_geojson_in_metres_without_crs_member(tmp_path):
    """GeoJSON is degrees by definition, but consultants export GK metres too."""
    x, y = corpus.project(4549, *corpus.PLACES["杭州市"])
    p = tmp_path / "gk.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"名称": "杭州市"}, "geometry": {"type": "Point", "coordinates": [x, y]}},
    ]}), encoding="utf-8")
    got = read_layer(p)
    assert got.crs_guessed and got.source_crs == "EPSG:4549"
    pt = got.gdf.geometry.iloc[0]
    assert GEOD.inv(120.15, 30.28, pt.x, pt.y)[2] < 1.0


def test_guess_crs_rules():
    c, why = guess_crs((120.0, 30.0, 121.0, 31.0))
    assert c.to_epsg() == 4326 and "degrees" in why
    # zone-prefixed eastings: 39 → EPSG:4527, 41 → EPSG:4529
    x39, y39 = corpus.project(4527, 117.2, 31.8)
    assert guess_crs((x39, y39, x39 + 10, y39 + 10))[0].to_epsg() == 4527
    x41, y41 = corpus.project(4529, 122.2, 30.0)
    assert guess_crs((x41, y41, x41 + 10, y41 + 10))[0].to_epsg() == 4529
    # Web Mercator metres of Hangzhou
    xm, ym = corpus.project(3857, 120.15, 30.28)
    c, why = guess_crs((xm, ym, xm + 10, ym + 10))
    assert c.to_epsg() == 3857 and "Web Mercator" in why
    with pytest.raises(UserFileError, match="cannot tell the coordinate system"):
        guess_crs((1000.0, 1000.0, 5000.0, 5000.0), "odd.shp")


# --- containers and formats --------------------------------------------------


def test_multilayer_geopackage(tmp_path):
    gpkg = corpus.multilayer_gpkg(tmp_path)
    info = open_source(gpkg)
    assert info.driver == "GPKG"
    assert info.layer_names == ["城镇", "zones"]
    assert [layer.features for layer in info.layers] == [4, 2]
    assert info.layers[0].crs == "EPSG:4549"

    zones = read_layer(gpkg, layer="zones")
    assert zones.name == "zones" and len(zones.gdf) == 2
    assert zones.geometry_types == ["Polygon"]
    towns = read_layer(gpkg)  # default: first layer, with a note about the other
    assert towns.name == "城镇"
    assert any("zones" in w for w in towns.warnings)
    assert_at_places(towns.gdf)
    with pytest.raises(UserFileError, match=r"no layer 'roads'.*城镇, zones"):
        read_layer(gpkg, layer="roads")


def test_zip_with_two_shapefiles(tmp_path):
    z = corpus.zip_two_shapefiles(tmp_path)
    info = open_source(z)
    assert info.container == "zip" and info.driver == "ESRI Shapefile"
    assert sorted(info.layer_names) == ["county_gbk", "towns"]
    counts = {layer.name: layer.features for layer in info.layers}
    assert counts == {"towns": 4, "county_gbk": 2}

    county = read_layer(z, layer="county_gbk")
    assert county.gdf["名称"].iloc[0] == "嘉善县"
    towns = read_layer(z, layer="towns")
    assert towns.source_crs == "EPSG:4549"
    assert_at_places(towns.gdf)


def test_zip_with_gbk_member_names(tmp_path):
    """Zips made on Chinese Windows store GBK names without the UTF-8 flag."""
    src = tmp_path / "src"
    src.mkdir()
    shp = corpus.place_points(src, "AAAA", 4326, cpg="UTF-8")
    z = tmp_path / "gbk_names.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(src.glob("AAAA.*")):
            zf.write(f, f.name)
    name = "县界".encode("gbk")
    assert len(name) == 4
    z.write_bytes(z.read_bytes().replace(b"AAAA", name))
    info = open_source(z)
    assert info.layer_names == ["县界"]
    got = read_layer(z)
    assert got.name == "县界" and len(got.gdf) == 4
    assert shp.exists()


def test_bowtie_is_repaired(tmp_path):
    got = read_layer(corpus.bowtie_shapefile(tmp_path))
    assert got.repaired == 1
    assert shapely.is_valid(np.asarray(got.gdf.geometry.array)).all()
    assert got.geometry_types == ["MultiPolygon", "Polygon"]
    assert got.gdf.geometry.iloc[0].area == pytest.approx(0.005, rel=1e-6)  # both halves kept


def test_z_geometries_become_2d(tmp_path):
    got = read_layer(corpus.z_shapefile(tmp_path))
    assert not shapely.has_z(np.asarray(got.gdf.geometry.array)).any()
    assert got.geometry_types == ["Polygon"]


def test_null_and_empty_geometries_are_skipped(tmp_path):
    got = read_layer(corpus.null_shapes_shapefile(tmp_path))
    assert got.skipped == 1 and list(got.gdf["名称"]) == ["a", "b"]
    mixed = read_layer(corpus.empty_geoms_geojson(tmp_path))
    assert mixed.skipped == 2
    assert mixed.geometry_types == ["LineString", "Point"]  # mixed types kept
    assert mixed.driver == "GeoJSON"


def test_csv_with_chinese_lonlat_columns(tmp_path):
    got = read_layer(corpus.csv_lonlat(tmp_path, encoding="gbk"))
    assert got.driver == "CSV" and got.encoding == "GB18030"
    assert len(got.gdf) == 4 and got.skipped == 1
    assert got.gdf["站点"].iloc[0] == "杭州市"
    assert got.fields["人口"] == "int64"
    assert got.crs_guessed and got.source_crs == "EPSG:4326"
    hz = got.gdf.geometry.iloc[0]
    assert (hz.x, hz.y) == corpus.PLACES["杭州市"]


def test_csv_utf8_english_columns(tmp_path):
    p = tmp_path / "pts.csv"
    p.write_text("name;Longitude;LAT\n西湖;120.14;30.25\n", encoding="utf-8-sig")
    got = read_layer(p)
    assert got.encoding == "UTF-8" and got.gdf["name"].iloc[0] == "西湖"
    q = tmp_path / "nocoords.csv"
    q.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(UserFileError, match="no longitude/latitude columns"):
        read_layer(q)


def test_kml(tmp_path):
    got = read_layer(corpus.kml_file(tmp_path))
    assert len(got.gdf) == 2
    assert got.geometry_types == ["Point", "Polygon"]
    assert got.gdf["Name"].iloc[0] == "杭州东站"
    assert not shapely.has_z(np.asarray(got.gdf.geometry.array)).any()
    assert "tessellate" not in got.fields  # LIBKML's style columns are dropped


def test_flatgeobuf(tmp_path):
    got = read_layer(corpus.fgb_file(tmp_path))
    assert got.driver == "FlatGeobuf" and got.source_crs == "EPSG:4549"
    assert sorted(got.gdf["地块"]) == ["A-01", "A-02"]
    minx, miny, maxx, maxy = got.bounds_wgs84
    assert minx == pytest.approx(120.15, abs=1e-6) and maxy == pytest.approx(30.29, abs=1e-4)


def test_sidecar_picked_instead_of_shp(tmp_path):
    shp = corpus.place_points(tmp_path, "towns", 4326)
    assert len(read_layer(shp.with_suffix(".dbf")).gdf) == 4


# --- bad input ---------------------------------------------------------------


BAD = [
    (corpus.zero_byte_shp, r"zero\.shp is empty \(0 bytes\)"),
    (corpus.truncated_shp, r"cut\.shp is incomplete"),
    (corpus.text_shp, r"notes\.shp is not a shapefile: it is a text file"),
    (corpus.empty_zip, r"empty\.zip is an empty zip"),
    (corpus.zip_without_shapefile, r"docs\.zip holds no shapefile"),
    (corpus.garbage_prj, r"badprj\.prj of badprj\.shp cannot be understood"),
]


@pytest.mark.parametrize(("make", "message"), BAD)
def test_bad_input_is_a_plain_error(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(UserFileError, match=message) as exc_info:
        read_layer(path)
    text = str(exc_info.value)
    assert "\n" not in text and "Traceback" not in text


@pytest.mark.parametrize(("make", "message"), [b for b in BAD if "prj" not in b[1]])
def test_open_source_refuses_bad_input(tmp_path, make, message):
    with pytest.raises(UserFileError, match=message):
        open_source(make(tmp_path))


def test_garbage_prj_can_be_overridden(tmp_path):
    shp = corpus.garbage_prj(tmp_path)
    info = open_source(shp)  # listed, with a note
    assert info.layers[0].crs is None and any("badprj.prj" in n for n in info.notes)
    assert read_layer(shp, crs="EPSG:4326").source_crs == "EPSG:4326"


def test_missing_file_and_damaged_geopackage(tmp_path):
    with pytest.raises(UserFileError, match="cannot find nowhere.shp"):
        read_layer(tmp_path / "nowhere.shp")
    bad = tmp_path / "broken.gpkg"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(UserFileError, match=r"broken\.gpkg.*damaged"):
        read_layer(bad)
    junk = tmp_path / "broken.geojson"
    junk.write_text('{"type": "FeatureCol', encoding="utf-8")
    with pytest.raises(UserFileError, match=r"broken\.geojson: it is damaged") as exc_info:
        read_layer(junk)
    assert "It might help" not in str(exc_info.value)


def test_file_deleted_mid_read(tmp_path):
    shp = corpus.grid_shapefile(tmp_path, 50)
    reads = []

    def progress(fraction, message):
        if message.startswith("Read "):
            reads.append(fraction)
            for f in tmp_path.glob("grid.*"):
                f.unlink()

    with pytest.raises(UserFileError, match=r"grid\.shp disappeared while zjmap was reading it"):
        read_layer(shp, progress=progress, chunk_size=10)
    assert len(reads) == 1


# --- progress and cancel -----------------------------------------------------


def test_progress_moves_in_chunks(tmp_path):
    shp = corpus.grid_shapefile(tmp_path, 50)
    seen = []
    got = read_layer(shp, progress=lambda f, m: seen.append((f, m)), chunk_size=10)
    assert len(got.gdf) == 50 and got.gdf["名称"].iloc[49] == "格网49"
    assert list(got.gdf["id"]) == list(range(50))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert sum(m.startswith("Read ") for _, m in seen) == 5


def test_cancel_after_first_chunk(tmp_path):
    shp = corpus.grid_shapefile(tmp_path, 50)
    state = {"chunks": 0}

    def progress(fraction, message):
        if message.startswith("Read "):
            state["chunks"] += 1

    with pytest.raises(LoadCancelled):
        read_layer(shp, progress=progress, cancel=lambda: state["chunks"] >= 1, chunk_size=10)
    assert state["chunks"] == 1


# --- zjmap inspect -----------------------------------------------------------


def _inspect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "zjmap", "inspect", *args],
        capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=60,
    )


def test_cli_inspect_prints_json(tmp_path):
    z = corpus.zip_two_shapefiles(tmp_path)
    r = _inspect(str(z), "--layer", "county_gbk")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["driver"] == "ESRI Shapefile"
    assert sorted(layer["name"] for layer in out["layers"]) == ["county_gbk", "towns"]
    assert out["features"] == 2 and out["geometry_types"] == ["Polygon"]
    assert out["crs"] == "EPSG:4490" and out["crs_guessed"] is False
    assert out["encoding"] == "GB18030"
    assert out["fields"]["名称"] == "str"
    assert out["repaired"] == 0 and out["skipped"] == 0
    assert out["bounds_wgs84"][0] == pytest.approx(120.05)


def test_cli_inspect_bad_input_exits_2(tmp_path):
    r = _inspect(str(corpus.truncated_shp(tmp_path)), "--crs", "EPSG:4326")
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "cut.shp is incomplete" in lines[0]


@pytest.mark.parametrize("make", [
    corpus.gbk_shapefile_no_cpg, corpus.bowtie_shapefile, corpus.z_shapefile,
    corpus.null_shapes_shapefile, corpus.empty_geoms_geojson, corpus.multilayer_gpkg,
    corpus.kml_file, corpus.fgb_file,
])
def test_arrow_and_plain_reads_agree(tmp_path, monkeypatch, make):
    """Files are read through Arrow when pyarrow is installed, plain pyogrio
    otherwise: both give the same table, shapes and counts."""
    import zjmap.core.userfile_readers as readers

    pytest.importorskip("pyarrow")
    path = make(tmp_path)
    got = {}
    for arrow in (True, False):
        monkeypatch.setattr(readers, "_ARROW", arrow)
        got[arrow] = read_layer(path)
    a, b = got[True], got[False]
    assert (a.encoding, a.repaired, a.skipped, a.geometry_types, a.fields) == \
        (b.encoding, b.repaired, b.skipped, b.geometry_types, b.fields)
    cols = [c for c in a.gdf.columns if c != a.gdf.geometry.name]
    assert a.gdf[cols].astype(str).values.tolist() == b.gdf[cols].astype(str).values.tolist()
    assert all(x.equals(y) for x, y in zip(a.gdf.geometry, b.gdf.geometry))


def _batched_gpkg(tmp_path, n=3_000):
    """A GeoPackage of a few thousand features: irregular polygons, some
    self-intersecting, one without a shape, Chinese text and a datetime."""
    import pandas as pd
    import shapely

    rng = np.random.default_rng(16)
    cx, cy = 120.0 + rng.random(n), 29.0 + rng.random(n)
    ang = np.sort(rng.random((n, 8)) * 2 * np.pi, axis=1)
    r = 0.002 + 0.002 * rng.random((n, 8))
    rings = np.stack([cx[:, None] + r * np.cos(ang), cy[:, None] + r * np.sin(ang)], axis=-1)
    rings[::97, [1, 2]] = rings[::97, [2, 1]]  # bow-ties to repair
    geoms = shapely.polygons(rings)
    geoms[5] = None
    gdf = gpd.GeoDataFrame({
        "名称": [f"地块{i}号" for i in range(n)],
        "area": rng.random(n),
        "updated": pd.Timestamp("2024-03-01") + pd.to_timedelta(np.arange(n), unit="min"),
    }, geometry=gpd.GeoSeries(geoms), crs="EPSG:4326")
    path = tmp_path / "batched.gpkg"
    pyogrio.write_dataframe(gdf, path, layer="parcels")
    return path


def test_streamed_batches_agree_with_chunked_and_plain_reads(tmp_path, monkeypatch):
    """A multi-batch GeoPackage read in one Arrow stream gives the same table,
    shapes and counts as skip_features chunks through Arrow and as plain
    pyogrio; progress moves once per batch and cancel stops between batches."""
    import zjmap.core.userfile_readers as readers

    pytest.importorskip("pyarrow")
    if not readers._STREAM:
        pytest.skip("this pyogrio has no open_arrow")
    path = _batched_gpkg(tmp_path)
    got, steps = {}, {}
    for case, arrow, stream in (("stream", True, True), ("chunks", True, False), ("plain", False, False)):
        monkeypatch.setattr(readers, "_ARROW", arrow)
        monkeypatch.setattr(readers, "_STREAM", stream)
        seen: list[str] = []
        got[case] = read_layer(path, chunk_size=700, progress=lambda f, m: seen.append(m))
        steps[case] = [m for m in seen if m.startswith("Read ")]
    assert steps["stream"][0].startswith("Read 700 of 3,000") and len(steps["stream"]) == 5
    a = got["stream"]
    assert len(a.gdf) == 2_999 and a.skipped == 1 and a.repaired >= 30
    assert str(a.gdf["updated"].dtype).startswith("datetime64")
    for case in ("chunks", "plain"):
        b = got[case]
        assert (a.encoding, a.repaired, a.skipped, a.geometry_types, a.fields) == \
            (b.encoding, b.repaired, b.skipped, b.geometry_types, b.fields)
        cols = [c for c in a.gdf.columns if c != a.gdf.geometry.name]
        assert a.gdf[cols].astype(str).values.tolist() == b.gdf[cols].astype(str).values.tolist()
        assert all(x.equals(y) for x, y in zip(a.gdf.geometry, b.gdf.geometry))

    monkeypatch.setattr(readers, "_ARROW", True)
    monkeypatch.setattr(readers, "_STREAM", True)
    batches: list[str] = []
    with pytest.raises(LoadCancelled):
        read_layer(path, chunk_size=700, progress=lambda f, m: batches.append(m),
                   cancel=lambda: sum(m.startswith("Read ") for m in batches) >= 2)
    assert sum(m.startswith("Read ") for m in batches) == 2
