"""Layer filters pushed down into a PostGIS layer's queries, against the real server (conftest ``pg``):
what comes back equals SQL's own ``bbox AND filter``, values are bound (a hostile one selects nothing
and drops nothing), a filter that does not fit is refused plainly, and workspaces keep it."""

from __future__ import annotations

import numpy as np
import pytest

from zjmap.core import livelayer, postgis
from zjmap.core import workspace as wsm
from zjmap.core.layers import LayerStack
from zjmap.core.livelayer import live_layer, live_of
from zjmap.core.pgsource import parse_pg

from pgserver import PASSWORD

BBOX = (120.0, 30.2, 120.25, 30.35)
ENV = "geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490)"
FILTER = "用地 in ('工业用地', '绿地') and area_ha > 1.5 and name not like '地块1%'"
SQL_FILTER = "用地 IN ('工业用地', '绿地') AND area_ha > 1.5 AND name NOT LIKE '地块1%%'"  # written out by hand


@pytest.fixture()
def layer(pg):
    postgis.forget_password(parse_pg(pg.uri)[0].server_key)
    uri = pg.uri.replace("postgres@", f"postgres:{PASSWORD}@")
    handle = postgis.open_layer(uri + ("&" if "?" in uri else "?") + "table=public.parcels")
    yield handle
    handle.close()


def _gids(pg, where: str, params=()) -> set[int]:
    return {r[0] for r in pg.sql(f"SELECT gid FROM public.parcels WHERE {where}", tuple(params))}


def test_every_query_carries_the_filter(pg, layer):
    want = _gids(pg, f"{ENV} AND {SQL_FILTER}", BBOX)
    assert 20 < len(want) < len(_gids(pg, ENV, BBOX))  # the filter really removes some of the view
    layer.set_filter(FILTER)
    view = layer.view(BBOX, zoom=12, max_features=10_000)
    assert not view.thinned and view.in_view == len(want)
    assert set(view.gdf["__fid"].astype(int)) == want
    assert layer.count(BBOX) == len(want)
    assert set(layer.read(bbox=BBOX)["__fid"].astype(int)) == want
    assert layer.count() == len(_gids(pg, SQL_FILTER))
    # identify: a parcel the filter leaves out is not found at its own centre; one it keeps is
    out_gid, lon, lat = pg.sql(f"SELECT gid, ST_X(c), ST_Y(c) FROM (SELECT gid, ST_PointOnSurface(geom) c FROM parcels "
                               f"WHERE {ENV} AND NOT ({SQL_FILTER}) ORDER BY gid LIMIT 1) s", BBOX)[0]
    assert out_gid not in set(layer.at(lon, lat, 1e-6)["__fid"].astype(int))
    in_gid, lon, lat = pg.sql(f"SELECT gid, ST_X(c), ST_Y(c) FROM (SELECT gid, ST_PointOnSurface(geom) c FROM parcels "
                              f"WHERE {ENV} AND {SQL_FILTER} ORDER BY gid LIMIT 1) s", BBOX)[0]
    assert in_gid in set(layer.at(lon, lat, 1e-6)["__fid"].astype(int))
    # a low-zoom sample draws only what the filter keeps
    sample = layer.view((119.8, 30.0, 120.5, 30.6), zoom=8, max_features=200)
    assert sample.thinned and set(sample.gdf["__fid"].astype(int)) <= _gids(pg, SQL_FILTER)
    layer.set_filter(None)
    assert layer.count(BBOX) == len(_gids(pg, ENV, BBOX))


def test_export_and_inspect_reads_take_the_filter(pg, layer):
    text = layer.src.text
    assert postgis.inspect_source(text, where=FILTER)["features"] == len(_gids(pg, SQL_FILTER))
    got = postgis.read_layer(text, bbox=BBOX, where=FILTER)
    assert set(got.gdf["gid"].astype(int)) == _gids(pg, f"{ENV} AND {SQL_FILTER}", BBOX)


def test_hostile_value_is_just_a_value(pg, layer):
    hostile = "name = 'x''); drop table parcels;--'"
    layer.set_filter(hostile)
    assert layer.filter_text == hostile
    assert layer.count() == 0 and len(layer.view(BBOX, zoom=12).gdf) == 0
    assert pg.sql("SELECT count(*) FROM public.parcels")[0][0] == 3000  # the table is intact
    assert layer._filter[1] == ["x'); drop table parcels;--"]  # the value went as a parameter


@pytest.mark.parametrize("bad, says", [
    ("nosuch > 3", "no field named 'nosuch'"),
    ("Area_ha > 3", "did you mean area_ha"),
    ("name > 3", "筛选无效"),  # text compared with a number: the server's own typing, said now
    ("area_ha > ", "position"),
])
def test_a_filter_that_does_not_fit_leaves_the_layer_as_it_was(pg, layer, bad, says):
    layer.set_filter("plots = 3")
    before = layer.count(BBOX)
    with pytest.raises(postgis.PgFilterError) as exc:
        layer.set_filter(bad)
    assert says in str(exc.value) and "public.parcels" in str(exc.value)
    assert layer.filter_text == "plots = 3" and layer.count(BBOX) == before
    assert layer.available


def test_workspace_round_trips_a_live_layers_filter(pg, layer, monkeypatch, tmp_path):
    monkeypatch.setattr(livelayer, "LIVE_ROWS", 1000)  # the 3,000-row table counts as big
    stack = LayerStack()
    first = live_layer(layer, layer.src.text, "user_1", view=(*BBOX, 12.0))
    stack.add(first)
    stack.set_style("user_1", {**first.style, "filter": FILTER})
    path = tmp_path / "plan.zjmap"
    wsm.save_workspace(wsm.capture(stack), path)
    ws = wsm.load_workspace(path)
    assert ws.entry("user_1").style["filter"] == FILTER
    layers, problems = wsm.read_user_layers(ws)
    assert problems == []
    back = layers["user_1"]
    live = live_of(back)
    try:
        assert back.style["filter"] == FILTER and live.handle.filter_text == FILTER
        # the first view after the restore already came filtered from the server
        assert live.in_view == len(_gids(pg, SQL_FILTER)) == len(back.features)
        assert not back.hidden
        again = live_layer(live.handle, live.text, "user_1", view=(*BBOX, 12.0), previous=back)
        assert {str(f.props["gid"]) for f in again.features} == {str(g) for g in _gids(pg, f"{ENV} AND {SQL_FILTER}", BBOX)}
    finally:
        live.handle.close()


CORNER = "geom && ST_MakeEnvelope(120.3, 30.42, 120.42, 30.52, 4490)"


def _extent(pg, table: str, where: str, srid: int = 4490) -> tuple[float, ...]:
    box = f"ST_Transform(ST_SetSRID(ST_Extent(geom), {srid}), 4326)" if srid != 4490 else "ST_Extent(geom)"
    return pg.sql(f"SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT {box} AS b FROM {table} "
                  f"WHERE {where}) s")[0]


def test_bounds_are_those_of_what_the_filter_keeps(pg, layer):
    whole = layer.bounds()  # unfiltered: the planner's statistics, about the whole table
    np.testing.assert_allclose(whole, _extent(pg, "public.parcels", "true"), atol=0.02)
    gids = sorted(_gids(pg, CORNER))
    assert 3 < len(gids) < 200
    layer.set_filter(f"gid in ({', '.join(map(str, gids))}) and plots >= 0")
    got = layer.bounds()
    want = _extent(pg, "public.parcels", f"gid IN ({', '.join(map(str, gids))})")
    np.testing.assert_allclose(got, want, atol=1e-9)
    assert (got[2] - got[0]) < (whole[2] - whole[0]) / 3  # the corner, not the table
    # a live layer made with the filter opens on those features
    first = live_layer(layer, layer.src.text, "user_corner", where=layer.filter_text)
    assert live_of(first).bbox == pytest.approx(want) and len(first.features) == len(gids)
    layer.set_filter("plots = 1000")  # keeps nothing: no extent
    assert layer.bounds() is None
    layer.set_filter(None)
    assert layer.bounds() == pytest.approx(whole)


def test_bounds_of_a_filtered_projected_table(pg):
    postgis.forget_password(parse_pg(pg.uri)[0].server_key)
    uri = pg.uri.replace("postgres@", f"postgres:{PASSWORD}@")
    roads = postgis.open_layer(uri + ("&" if "?" in uri else "?") + "table=gk.roads")
    try:
        roads.set_filter("id <= 3")
        got = roads.bounds()
        want = _extent(pg, "gk.roads", "id <= 3", srid=4549)
        np.testing.assert_allclose(got, want, atol=1e-6)
        assert got[2] - got[0] < 0.02  # three roads 300 m apart, not forty
    finally:
        roads.close()
