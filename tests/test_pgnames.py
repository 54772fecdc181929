"""Odd table and column names (``占比%``, ``a"b``, ``x{y}``, spaces, Chinese) against the real server
(conftest ``pg``): every query zjmap builds -- browse, live view, identify, filter pushdown, point
summaries, whole reads, write-back create/replace/append -- treats them as names, never as psycopg
placeholders (``%``) or format fields (``{}``), and the values that come back are SQL's own."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from zjmap.core import pgsummary, pgwrite, postgis
from zjmap.core.analysis import summarize
from zjmap.core.analysis_io import open_layer, zones_of
from zjmap.core.livelayer import live_layer
from zjmap.core.pgsource import parse_pg

from pgserver import PASSWORD

TABLE = "规划 指标{x} 50%"
PCT, QUOTE, BRACE, SPACE = "占比%", 'a"b', "x{y}", "名 称"
ODD_SQL = """
SELECT setseed(0.31);
CREATE TABLE IF NOT EXISTS public."规划 指标{x} 50%" (gid serial PRIMARY KEY, "占比%" double precision,
    "a""b" text, "x{y}" integer, "名 称" text, geom geometry(Point, 4490));
INSERT INTO public."规划 指标{x} 50%" ("占比%", "a""b", "x{y}", "名 称", geom)
SELECT round((random() * 100)::numeric, 2), (ARRAY['甲%', '乙"', '丙{}'])[1 + i % 3], i % 9, '站点 ' || i,
       ST_SetSRID(ST_MakePoint(119.5 + random() * 1.5, 29.5 + random() * 1.2), 4490)
FROM generate_series(1, 1500) i;
CREATE INDEX IF NOT EXISTS odd_geom ON public."规划 指标{x} 50%" USING gist (geom);
ANALYZE public."规划 指标{x} 50%";
"""
BBOX = (119.8, 29.7, 120.6, 30.3)
# the filter as a planner types it (double quotes around names, '' inside text), and by hand in SQL
FILTER = '"占比%" > 30 and "a""b" in (\'甲%\', \'丙{}\') and "x{y}" < 7 and "名 称" like \'站点 1%\''
SQL_FILTER = """"占比%%" > 30 AND "a""b" IN ('甲%%', '丙{}') AND "x{y}" < 7 AND "名 称" LIKE '站点 1%%'"""
ENV = "geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490)"


@pytest.fixture(scope="module")
def server(pg):
    pg.sql(ODD_SQL) if not pg.sql("SELECT to_regclass(%s)", ('public."规划 指标{x} 50%"',))[0][0] else None
    postgis.forget_password(parse_pg(pg.uri)[0].server_key)
    return postgis.source_of(pg.uri.replace("postgres@", f"postgres:{PASSWORD}@"))


@pytest.fixture()
def layer(server):
    handle = postgis.open_layer(server.with_relation("public", TABLE))
    yield handle
    handle.close()


def _gids(pg, where: str, params=()) -> set[int]:
    return {r[0] for r in pg.sql(f'SELECT gid FROM public."规划 指标{{x}} 50%%" WHERE {where}', tuple(params))}


def test_browse_and_open_a_table_with_odd_names(server, layer):
    found = [t for t in postgis.list_tables(server, "public") if t.name == TABLE]
    assert len(found) == 1 and found[0].rows_estimate == 1500
    assert layer.columns == ["gid", PCT, QUOTE, BRACE, SPACE] and layer.key == "gid"
    b = layer.bounds()
    assert 119.5 <= b[0] < 119.6 and 30.6 < b[3] <= 30.7


def test_view_identify_count_and_read_keep_odd_columns(pg, layer):
    want = _gids(pg, ENV, BBOX)
    assert 100 < len(want) < 1500
    view = layer.view(BBOX, zoom=10)
    assert set(view.gdf["__fid"].astype(int)) == want and view.in_view == len(want)
    assert layer.count(BBOX) == len(want) and layer.estimate(BBOX) > 0
    row = view.gdf.sort_values("__fid").iloc[0]
    gid = int(row["__fid"])
    assert tuple(row[[PCT, QUOTE, BRACE, SPACE]]) == pg.sql(
        'SELECT "占比%%", "a""b", "x{y}", "名 称" FROM public."规划 指标{x} 50%%" WHERE gid = %s', (gid,))[0]
    lon, lat = row.geometry.x, row.geometry.y
    assert gid in set(layer.at(lon, lat, 1e-6)["__fid"].astype(int))
    assert set(layer.read(bbox=BBOX)["__fid"].astype(int)) == want
    assert len(layer.read()) == 1500
    # the live layer the map draws from that view: the odd names are its fields
    live = live_layer(layer, layer.src.text, "user_odd", view=(*BBOX, 10.0))
    assert {PCT, QUOTE, BRACE, SPACE} <= set(live.table.gdf.columns) and len(live.features) == len(want)
    props = {f.props[SPACE]: f.props for f in live.features}[row[SPACE]]
    assert (props[PCT], props[QUOTE], props[BRACE]) == (row[PCT], row[QUOTE], row[BRACE])


def test_filter_on_odd_columns_is_pushed_down(pg, layer):
    want = _gids(pg, f"{ENV} AND {SQL_FILTER}", BBOX)
    assert 3 < len(want) < len(_gids(pg, ENV, BBOX))
    layer.set_filter(FILTER)
    view = layer.view(BBOX, zoom=12)
    assert set(view.gdf["__fid"].astype(int)) == want
    assert layer.count() == len(_gids(pg, SQL_FILTER))
    assert set(layer.read(bbox=BBOX)["__fid"].astype(int)) == want
    # a whole read with the filter, the way export and the CLI read it
    got = postgis.read_layer(layer.src.text, where=FILTER)
    assert got.features == len(_gids(pg, SQL_FILTER)) and PCT in got.fields


def test_point_summary_of_an_odd_column_on_the_server(layer):
    zones = zones_of(open_layer("county"))
    stats = ["count", "sum", "mean", "min", "max"]
    layer.set_filter('"x{y}" < 7')
    pushed = pgsummary.summarize_on_server(layer, zones, PCT, stats)
    here = summarize(zones, layer.read(), PCT, stats)
    assert list(pushed.columns) == list(here.columns) and f"sum_{PCT}" in pushed.columns
    assert pushed["count"].sum() > 500 and (pushed["count"].to_numpy() == here["count"].to_numpy()).all()
    np.testing.assert_allclose(pushed[f"sum_{PCT}"].to_numpy(float), here[f"sum_{PCT}"].to_numpy(float),
                               rtol=1e-9)


@pytest.mark.parametrize("target", ['回写 "结果" 50%{z}', "plain_odd_cols"])
def test_write_back_odd_names_create_replace_append(pg, server, layer, target):
    gdf = layer.read().drop(columns="__fid").sort_values(SPACE).iloc[:200].reset_index(drop=True)
    gdf["备注 {1}%"] = [f"第{i}%" for i in range(len(gdf))]
    dest = server.with_relation("public", target)
    pg.sql("DROP TABLE IF EXISTS public.{}".format('"' + target.replace('"', '""') + '"'))
    assert pgwrite.write_layer(gdf, dest, mode="create") == 200
    back = postgis.read_layer(dest).gdf.sort_values(SPACE).reset_index(drop=True)
    for c in (PCT, QUOTE, BRACE, SPACE, "备注 {1}%"):
        assert list(back[c]) == list(gdf[c]), c
    assert shapely.equals_exact(back.geometry.values, gdf.geometry.values, 1e-9).all()
    assert pgwrite.write_layer(gdf.iloc[:10], dest, mode="append") == 10
    assert pgwrite.write_layer(gdf.iloc[:7], dest, mode="replace") == 7
    opened = postgis.open_layer(dest)
    try:
        assert opened.count() == 7 and PCT in opened.columns
    finally:
        opened.close()


def test_sql_layer_with_percent_in_its_own_text(pg, server):
    from urllib.parse import quote

    query = 'SELECT gid, "占比%", geom FROM public."规划 指标{x} 50%" WHERE "a""b" LIKE \'甲%\''
    handle = postgis.open_layer(server.with_relation("public", TABLE).text.split("?")[0] + "?sql=" + quote(query))
    try:
        want = _gids(pg, f"""{ENV} AND "a""b" LIKE '甲%%'""", BBOX)
        assert 30 < len(want) and handle.count(BBOX) == len(want)
        assert handle.view(BBOX, zoom=12).shown == len(want) == len(handle.read(bbox=BBOX))
        handle.set_filter('"占比%" >= 50')
        assert handle.count(BBOX) == len(_gids(pg, f"""{ENV} AND "a""b" LIKE '甲%%' AND "占比%%" >= 50""", BBOX))
    finally:
        handle.close()


def test_no_query_bypasses_pgsql():
    """Any other ``.execute(``/``.copy(`` on a psycopg connection would bring the ``%`` problem back."""
    import pathlib
    import re

    root = pathlib.Path(postgis.__file__).parents[1]
    users = [p for p in root.rglob("*.py") if "psycopg" in p.read_text(encoding="utf-8") and p.name != "pgsql.py"]
    assert {p.name for p in users} >= {"postgis.py", "pgwrite.py"}
    for p in users:
        text = p.read_text(encoding="utf-8")
        assert not re.search(r"\.execute\(|cursor\(\)\.copy\(", text), f"{p.name}: run SQL through zjmap.core.pgsql"
