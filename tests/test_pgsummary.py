"""Summaries of a PostGIS point layer computed by the real server (conftest ``pg``) equal the Python path's."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from zjmap import cli
from zjmap.core import pgsummary, postgis, userfiles
from zjmap.core.analysis import summarize
from zjmap.core.analysis_io import open_layer, zones_of
from zjmap.core.pgsource import parse_pg

from pgserver import PASSWORD

STATS = ["count", "sum", "mean", "min", "max"]
POINTS_SQL = """
SELECT setseed(0.42);
CREATE TABLE IF NOT EXISTS public.sum_sites (gid serial PRIMARY KEY, 类别 text, 人口 double precision, 户数 integer,
                                             geom geometry(Point, 4490));
INSERT INTO public.sum_sites (类别, 人口, 户数, geom)
SELECT (ARRAY['学校', '医院', '社区'])[1 + i % 3], CASE WHEN i % 11 = 0 THEN NULL ELSE round((random() * 900)::numeric, 1) END,
       i % 37, ST_SetSRID(ST_MakePoint(118.2 + random() * 4.4, 27.3 + random() * 3.8), 4490)
FROM generate_series(1, 4000) i;
CREATE INDEX IF NOT EXISTS sum_sites_geom ON public.sum_sites USING gist (geom);
ANALYZE public.sum_sites;
"""


@pytest.fixture(scope="module")
def source(pg):
    if not pg.sql("SELECT count(*) FROM pg_class WHERE relname = 'sum_sites'")[0][0]:
        pg.sql(POINTS_SQL)
    postgis.forget_password(parse_pg(pg.uri)[0].server_key)
    uri = pg.uri.replace("postgres@", f"postgres:{PASSWORD}@")
    return uri + ("&" if "?" in uri else "?") + "table=public.sum_sites"


@pytest.fixture(scope="module")
def counties():
    return zones_of(open_layer("county"))


@pytest.mark.parametrize("where", [None, "类别 = '学校' and 户数 > 5"])
def test_pushed_down_summary_equals_the_python_path(source, counties, where):
    layer = postgis.open_layer(source)
    try:
        layer.set_filter(where)
        pushed = pgsummary.summarize_on_server(layer, counties, "人口", STATS)
        here = summarize(counties, layer.read(), "人口", STATS)
    finally:
        layer.close()
    assert list(pushed.columns) == list(here.columns)
    assert 100 < pushed["count"].sum() <= 4000 and (pushed["count"] > 0).sum() > 20
    assert (pushed["count"].to_numpy() == here["count"].to_numpy()).all()
    for col in ("sum_人口", "mean_人口", "min_人口", "max_人口"):
        np.testing.assert_allclose(pushed[col].to_numpy(float), here[col].to_numpy(float), rtol=1e-9, equal_nan=True)


def test_the_server_summary_moves_the_progress_bar_zone_batch_by_zone_batch(source, counties, monkeypatch):
    """The zones go to the server a batch at a time (ZONE_STATEMENTS): the
    progress moves after each, and the rows are the one statement's."""
    layer = postgis.open_layer(source)
    try:
        monkeypatch.setattr(pgsummary, "ZONE_STATEMENTS", 1)
        whole = pgsummary.summarize_on_server(layer, counties, "人口", STATS)
        monkeypatch.setattr(pgsummary, "ZONE_STATEMENTS", 10)
        seen: list[tuple[float, str]] = []
        batched = pgsummary.summarize_on_server(layer, counties, "人口", STATS, progress=lambda f, t: seen.append((f, t)))
        # Cancel between two statements: the next one is not sent
        from zjmap.core.userfile_types import LoadCancelled

        some: list[float] = []
        with pytest.raises(LoadCancelled):
            pgsummary.summarize_on_server(layer, counties, "人口", STATS, cancel=lambda: len(some) >= 3,
                                          progress=lambda f, t: some.append(f))
        assert len(some) == 3
    finally:
        layer.close()
    nz = len(counties.geoms)
    assert nz > 50 and 9 <= len(seen) <= 11, (nz, len(seen))
    fracs = [f for f, _t in seen]
    assert fracs == sorted(fracs) and fracs[0] < 0.2 and fracs[-1] == pytest.approx(0.95)
    assert seen[-1][1].endswith(f"{nz} of {nz} zones")
    pd.testing.assert_frame_equal(batched.drop(columns="geometry"), whole.drop(columns="geometry"))
    assert whole["count"].sum() > 100


def test_cli_summarize_of_points_runs_on_the_server(source, pg, capsys, monkeypatch):
    def no_reading(*a, **k):  # the only monkeypatch: proof that no row is read into Python
        raise AssertionError("the table was read into Python")

    monkeypatch.setattr(userfiles, "read_layer", no_reading)
    monkeypatch.setattr(postgis, "read_layer", no_reading)
    monkeypatch.setattr(postgis.PgLayer, "read", no_reading)
    rc = cli.main(["summarize", source, "--by", "county", "--field", "户数", "--stat", "count,sum,max",
                   "--where", "类别 = '医院'"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "summarised by the server" in err
    got = pd.read_csv(io.StringIO(out), dtype={"adcode": str})
    n, s, mx = pg.sql("SELECT count(*), sum(户数), max(户数) FROM public.sum_sites WHERE 类别 = '医院'")[0]
    assert 0 < got["count"].sum() <= n * 1.02 and got["sum_户数"].sum() <= s and got["max_户数"].max() <= mx
    inside = pg.sql("SELECT count(*) FROM public.sum_sites WHERE 类别 = '医院' AND "
                    "ST_X(geom) BETWEEN 119.5 AND 121.0 AND ST_Y(geom) BETWEEN 28.5 AND 30.5")[0][0]
    assert got["count"].sum() >= inside  # deep inside Zhejiang every point lies in some county


def test_bad_filter_is_one_error_line(source, pg, capsys):
    assert cli.main(["summarize", source, "--by", "county", "--where", "类别 > 3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and "does not fit" in err


LINES_SQL = """
SELECT setseed(0.27);
CREATE TABLE IF NOT EXISTS public.sum_lines (gid serial PRIMARY KEY, 等级 integer, 车道 double precision,
                                             geom geometry(LineString, 4490));
INSERT INTO public.sum_lines (等级, 车道, geom)
SELECT i % 5, CASE WHEN i % 13 = 0 THEN NULL ELSE 2 + (i % 4) * 2 END,
       ST_SetSRID(ST_MakeLine(ARRAY(SELECT ST_MakePoint(x + k * 0.03 * cos(a + k), y + k * 0.03 * sin(a + 0.5 * k))
                                    FROM generate_series(0, 11) k)), 4490)
FROM (SELECT i, 118.4 + random() * 3.8 AS x, 27.4 + random() * 3.4 AS y, random() * 6.28 AS a
      FROM generate_series(1, 600) i) p;
CREATE INDEX IF NOT EXISTS sum_lines_geom ON public.sum_lines USING gist (geom);
ANALYZE public.sum_lines;
"""


def _both_paths(source: str, zones, field: str, stats: list[str], where: str | None = None):
    layer = postgis.open_layer(source)
    try:
        layer.set_filter(where)
        return pgsummary.summarize_on_server(layer, zones, field, stats), summarize(zones, layer.read(), field, stats)
    finally:
        layer.close()


def _same(pushed, here, measure: str) -> None:
    assert list(pushed.columns) == list(here.columns)
    assert (pushed["count"].to_numpy() == here["count"].to_numpy()).all()
    for col in [c for c in here.columns if c.split("_")[0] in ("sum", "mean", "min", "max")] + [measure]:
        np.testing.assert_allclose(pushed[col].to_numpy(float), here[col].to_numpy(float), rtol=1e-6, atol=1e-9,
                                   equal_nan=True, err_msg=col)


@pytest.mark.parametrize("where", [None, "用地 in ('居住用地', '绿地') and plots > 3"])
def test_polygon_summary_on_the_server_equals_the_python_path(source, counties, pg, where):
    """Area-weighted sums and means, areas on the spheroid, slivers left out: as pyproj's Geod measures them."""
    parcels = source.replace("public.sum_sites", "public.parcels")
    pushed, here = _both_paths(parcels, counties, "area_ha", [*STATS, "area"], where)
    _same(pushed, here, "area_km2")
    assert (pushed["count"] > 0).sum() >= 3  # parcels near Hangzhou over several counties
    # every parcel lies in some county: the pieces add up to the parcels' own areas and values
    sql_where = "true" if where is None else "用地 IN ('居住用地', '绿地') AND plots > 3"
    area, value = pg.sql(f"SELECT sum(ST_Area(ST_SetSRID(geom, 4326)::geography)) / 1e6, sum(area_ha) "
                         f"FROM public.parcels WHERE {sql_where}")[0]
    assert pushed["area_km2"].sum() == pytest.approx(area, rel=1e-6)
    assert pushed["sum_area_ha"].sum() == pytest.approx(value, rel=1e-6)


def test_line_summary_on_the_server_equals_the_python_path(source, counties, pg):
    if not pg.sql("SELECT count(*) FROM pg_class WHERE relname = 'sum_lines'")[0][0]:
        pg.sql(LINES_SQL)
    lines = source.replace("public.sum_sites", "public.sum_lines")
    pushed, here = _both_paths(lines, counties, "车道", [*STATS, "length"], "等级 <> 0")
    _same(pushed, here, "length_km")
    assert (pushed["count"] > 0).sum() > 40 and pushed["length_km"].sum() > 1000
    # the lines' length inside the zones is at most their whole length (geodesic, on the server)
    whole = pg.sql("SELECT sum(ST_Length(ST_SetSRID(geom, 4326)::geography)) / 1e3 FROM public.sum_lines WHERE 等级 <> 0")[0][0]
    assert pushed["length_km"].sum() <= whole * (1 + 1e-9)
    # a projected table (CGCS2000 / 3-degree Gauss-Kruger): measured in lon/lat as the Python path reads it
    roads = source.replace("public.sum_sites", "gk.roads")
    pushed, here = _both_paths(roads, counties, "id", ["count", "sum", "max", "length"])
    _same(pushed, here, "length_km")
    assert 390 < pushed["length_km"].sum() < 410  # forty roads of 10 km
