"""Filters rendered as SQL run by the real PostgreSQL (conftest ``pg``) select what
the pandas evaluation selects; `zjmap summarize` reads a postgresql:// source."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from zjmap import cli
from zjmap.core.expr import parse
from zjmap.core.postgis import forget_password
from zjmap.core.pgsource import parse_pg
from zjmap.core.userfiles import read_layer

from pgserver import PASSWORD

FILTERS = [
    "用地 = '工业用地' and area_ha > 2.5",
    "name like '地块1%' or plots in (3, 5, 7)",
    "not (area_ha <= 1 or 用地 in ('绿地', '商业用地'))",
    "用地 ilike '%用地' and plots != 0",
    "name not like '地块2_' and area_ha is not null",
]


@pytest.fixture(scope="module")
def source(pg):
    forget_password(parse_pg(pg.uri)[0].server_key)
    uri = pg.uri.replace("postgres@", f"postgres:{PASSWORD}@")
    return uri + ("&" if "?" in uri else "?") + "table=public.parcels84"


@pytest.fixture(scope="module")
def parcels(source):
    return read_layer(source).gdf


@pytest.mark.parametrize("text", FILTERS)
def test_where_sql_matches_pandas(pg, parcels, text):
    where, params = parse(text).to_sql()
    gids = {r[0] for r in pg.sql(f"SELECT gid FROM public.parcels84 WHERE {where}", tuple(params))}
    mine = set(parcels.loc[parse(text).evaluate(parcels.drop(columns="geometry")), "gid"].astype(int))
    assert 0 < len(gids) < 3000
    assert mine == gids


def test_summarize_a_postgis_table_by_county(pg, source, capsys):
    rc = cli.main(["summarize", source, "--by", "county", "--field", "area_ha", "--stat", "count,area,sum",
                   "--where", "用地 = '居住用地'"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "summarised by the server" in err  # polygons too are summarised in SQL (core/pgsummary.py)
    got = pd.read_csv(io.StringIO(out), dtype={"adcode": str}).set_index("adcode")
    # the same figures from PostGIS: ellipsoidal areas of the pieces inside each county would need the
    # counties in the database; the parcels' own geodesic area (ST_Area on geography) is the check here
    total_km2 = pg.sql("SELECT sum(ST_Area(geom::geography)) / 1e6 FROM public.parcels84 WHERE 用地 = '居住用地'")[0][0]
    n = pg.sql("SELECT count(*) FROM public.parcels84 WHERE 用地 = '居住用地'")[0][0]
    assert got["area_km2"].sum() == pytest.approx(total_km2, rel=1e-4)  # every parcel lies in some county
    assert n <= got["count"].sum() <= n * 1.25  # some cross a county border and count in both
    s = pg.sql("SELECT sum(area_ha) FROM public.parcels84 WHERE 用地 = '居住用地'")[0][0]
    assert got["sum_area_ha"].sum() == pytest.approx(s, rel=1e-6)  # area-weighted shares add up
    assert (got.loc[got["count"] > 0].index.str.startswith("33")).all()  # Hangzhou's counties
