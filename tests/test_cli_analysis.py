"""`zjmap summarize` and `zjmap select`: real files in, files out, one-line errors."""

from __future__ import annotations

import io

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

from zjmap import cli
from zjmap.core.boundaries import load_boundaries
from zjmap.core.paths import geodata_dir


def run(argv, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def firms_csv(tmp_path_factory):
    """300 'firms' as a GBK CSV with lon/lat columns, as planners get them."""
    rng = np.random.default_rng(21)
    n = 300
    df = pd.DataFrame({
        "企业名称": [f"企业{i:04d}" for i in range(n)],
        "lon": rng.uniform(120.0, 121.4, n).round(5),
        "lat": rng.uniform(29.6, 31.2, n).round(5),
        "产值": rng.gamma(2, 300, n).round(1),
        "行业": rng.choice(["纺织", "机械", "电子"], n),
    })
    p = tmp_path_factory.mktemp("firms") / "firms.csv"
    df.to_csv(p, index=False, encoding="gbk")
    return p, df


def test_summarize_csv_by_county_matches_geopandas(firms_csv, tmp_path, capsys):
    path, df = firms_csv
    out = tmp_path / "by_county.csv"
    rc, _, err = run(["summarize", str(path), "--by", "county", "--field", "产值",
                      "--stat", "count,sum,mean,max", "--where", "行业 in ('纺织', '电子')", "--out", str(out)], capsys)
    assert rc == 0, err
    assert "wrote" in err
    got = pd.read_csv(out, dtype={"adcode": str}, encoding="utf-8-sig")
    assert list(got.columns) == ["adcode", "name", "count", "sum_产值", "mean_产值", "max_产值"]
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon, df.lat), crs=4326)
    pts = pts[pts["行业"].isin(["纺织", "电子"])]
    counties = load_boundaries("county")
    ref = gpd.sjoin(pts, counties[["adcode", "geometry"]]).groupby("adcode")["产值"].agg(["size", "sum"])
    m = got.set_index("adcode").join(ref)
    assert got["count"].sum() > 100
    assert (m["count"] == m["size"].fillna(0)).all()
    assert np.allclose(m["sum_产值"], m["sum"].fillna(0))
    assert set(got["name"]) >= {"嘉善县", "海宁市"}


def test_summarize_xlsx_and_gpkg(tmp_path, capsys):
    xlsx, gpkg = tmp_path / "s.xlsx", tmp_path / "s.gpkg"
    for out in (xlsx, gpkg):
        rc, _, err = run(["summarize", "ms_26_counties", "--by", "prefecture", "--stat", "count,area", "--out", str(out)], capsys)
        assert rc == 0, err
    a = pd.read_excel(xlsx, dtype={"adcode": str})
    b = pyogrio.read_dataframe(gpkg)
    assert list(a.columns) == ["adcode", "name", "count", "area_km2"]
    assert a["count"].sum() == 26
    assert np.allclose(a["area_km2"], b["area_km2"])
    assert b.geometry.notna().all() and len(b) == len(load_boundaries("prefecture")) >= 41
    lishui = a.set_index("name").loc["丽水市"]
    assert lishui["count"] == 9 and 17_000 < lishui["area_km2"] < 17_600  # Lishui: 17,275 km²


def test_summarize_to_stdout(capsys):
    rc, out, err = run(["summarize", "demo_hubs", "--by", "county"], capsys)
    assert rc == 0, err
    table = pd.read_csv(io.StringIO(out), dtype={"adcode": str})
    assert table.set_index("adcode").loc[["330421", "310118", "320509"], "count"].sum() == 20


def test_base_layer_ids_name_the_levels(capsys):
    rc, out, err = run(["summarize", "demo_hubs", "--by", "base_prefecture"], capsys)
    assert rc == 0, err
    assert len(pd.read_csv(io.StringIO(out))) == len(load_boundaries("prefecture"))


def test_select_near_the_axes(tmp_path, capsys):
    out = tmp_path / "near.gpkg"
    rc, _, err = run(["select", "demo_hubs", "--within", "demo_axes", "--distance", "3", "--out", str(out)], capsys)
    assert rc == 0, err
    near = pyogrio.read_dataframe(out)
    hubs = gpd.read_file(geodata_dir() / "layers" / "demo_hubs.geojson").to_crs(32651)
    axes = gpd.read_file(geodata_dir() / "layers" / "demo_axes.geojson").to_crs(32651)
    d = hubs.geometry.apply(lambda g: axes.distance(g).min())
    assert sorted(near["id"]) == sorted(hubs.loc[d < 3000, "id"])
    assert 0 < len(near) < len(hubs)


def test_select_where_within(tmp_path, firms_csv, capsys):
    path, df = firms_csv
    out = tmp_path / "jx.gpkg"
    rc, _, err = run(["select", str(path), "--where", "产值 > 500", "--within", "ms_26_counties", "--out", str(out)], capsys)
    assert rc == 0, err
    sel = pyogrio.read_dataframe(out)
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon, df.lat), crs=4326)
    seed = gpd.read_file(geodata_dir() / "layers" / "ms_26_counties.geojson")
    ref = gpd.sjoin(pts[pts["产值"] > 500], seed[["geometry"]], predicate="within")
    assert sorted(sel["企业名称"]) == sorted(ref["企业名称"].unique())


@pytest.mark.parametrize("argv,words", [
    (["summarize", "demo_hubs", "--by", "county", "--where", "name_zh = '嘉善"], "position 11"),
    (["summarize", "demo_hubs", "--by", "county", "--where", "__import__('os')"], "functions"),
    (["summarize", "demo_hubs", "--by", "county", "--field", "产值"], "no field named '产值'"),
    (["summarize", "demo_hubs", "--by", "county", "--field", "name_zh", "--stat", "sum"], "not numeric"),
    (["summarize", "demo_hubs", "--by", "nowhere"], "unknown layer 'nowhere'"),
    (["summarize", "demo_hubs", "--by", "base_nowhere"], "unknown layer"),
    (["summarize", "no/such/file.shp", "--by", "county"], "no such file"),
    (["summarize", "demo_hubs", "--by", "demo_axes"], "zones must be polygons"),
    (["summarize", "demo_hubs", "--by", "county", "--stat", "median"], "unknown statistic"),
    (["summarize", "demo_hubs", "--by", "county", "--out", "x.docx"], ".csv"),
    (["select", "demo_hubs", "--distance", "5", "--out", "x.gpkg"], "needs --within"),
    (["select", "demo_hubs", "--where", "stuff > 1", "--out", "x.gpkg"], "no field named 'stuff'"),
])
def test_errors_one_line_exit_2(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path) if "x.gpkg" in argv or "x.docx" in argv else None
    rc, out, err = run(argv, capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert words in lines[0]
    assert "Traceback" not in err
