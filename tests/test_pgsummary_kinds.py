"""Summaries pushed down for geography columns and generic ``geometry`` columns (the real
server of conftest ``pg``) equal the Python path's (pyproj Geod areas and lengths) within 1e-6."""

from __future__ import annotations

import pytest

from zjmap.core import pgsummary, postgis
from zjmap.core.analysis import AnalysisError, summarize
from zjmap.core.analysis_io import open_layer, zones_of
from zjmap.core.pgsource import parse_pg

from pgserver import PASSWORD
from test_pgsummary import _both_paths, _same

STATS = ["count", "sum", "mean", "min", "max"]
KINDS_SQL = """
CREATE TABLE public.kind_parcels_geog AS
    SELECT gid, 用地, area_ha, plots, geom::geography(Polygon, 4326) AS geog FROM public.parcels84;
ALTER TABLE public.kind_parcels_geog ADD PRIMARY KEY (gid);
CREATE INDEX kind_parcels_geog_idx ON public.kind_parcels_geog USING gist (geog);
SELECT setseed(0.61);
CREATE TABLE public.kind_lines_geog (gid serial PRIMARY KEY, 车道 double precision, geog geography);
INSERT INTO public.kind_lines_geog (车道, geog)
SELECT CASE WHEN i % 9 = 0 THEN NULL ELSE 2 + i % 3 END,
       ST_MakeLine(ARRAY(SELECT ST_MakePoint(x + k * 0.04 * cos(a + k), y + k * 0.04 * sin(a + 0.4 * k))
                         FROM generate_series(0, 9) k))::geography
FROM (SELECT i, 118.6 + random() * 3.4 AS x, 27.6 + random() * 3.0 AS y, random() * 6.28 AS a
      FROM generate_series(1, 300) i) p;
CREATE INDEX kind_lines_geog_idx ON public.kind_lines_geog USING gist (geog);
CREATE TABLE public.kind_parcels_any (gid integer PRIMARY KEY, 用地 text, area_ha double precision, geom geometry);
INSERT INTO public.kind_parcels_any SELECT gid, 用地, area_ha, ST_Multi(geom) FROM public.parcels WHERE gid % 2 = 0;
INSERT INTO public.kind_parcels_any SELECT gid, 用地, area_ha, geom FROM public.parcels WHERE gid % 2 = 1;
CREATE INDEX kind_parcels_any_idx ON public.kind_parcels_any USING gist (geom);
CREATE TABLE public.kind_mixed (gid integer PRIMARY KEY, 类 text, geom geometry);
INSERT INTO public.kind_mixed SELECT gid, 'parcel', geom FROM public.parcels WHERE gid <= 50;
INSERT INTO public.kind_mixed SELECT 10000 + gid, 'centre', ST_Centroid(geom) FROM public.parcels WHERE gid <= 50;
ANALYZE;
"""


@pytest.fixture(scope="module")
def server(pg):
    if not pg.sql("SELECT count(*) FROM pg_class WHERE relname = 'kind_mixed'")[0][0]:
        pg.sql(KINDS_SQL)
    postgis.forget_password(parse_pg(pg.uri)[0].server_key)
    uri = pg.uri.replace("postgres@", f"postgres:{PASSWORD}@")
    return uri + ("&" if "?" in uri else "?") + "table="


@pytest.fixture(scope="module")
def counties():
    return zones_of(open_layer("county"))


def _both(source: str, zones, field, stats, where=None):
    """(on the server, in Python, the layer as resolved)."""
    layer = postgis.open_layer(source)
    layer.close()
    return (*_both_paths(source, zones, field, stats, where), layer)


@pytest.mark.parametrize("where", [None, "用地 = '工业用地'"])
def test_geography_polygons_on_the_server_equal_the_python_path(server, counties, pg, where):
    pushed, here, layer = _both(server + "public.kind_parcels_geog", counties, "area_ha", [*STATS, "area"], where)
    assert layer.geography and layer.geometry_type == "POLYGON"
    _same(pushed, here, "area_km2")
    assert (pushed["count"] > 0).sum() >= 3
    cond = "true" if where is None else "用地 = '工业用地'"
    area = pg.sql(f"SELECT sum(ST_Area(geog)) / 1e6 FROM public.kind_parcels_geog WHERE {cond}")[0][0]
    assert pushed["area_km2"].sum() == pytest.approx(area, rel=1e-6)  # the geodesic area, all of it in some county


def test_generic_geography_lines_on_the_server_equal_the_python_path(server, counties, pg):
    pushed, here, layer = _both(server + "public.kind_lines_geog", counties, "车道", [*STATS, "length"])
    assert layer.geography and layer.geometry_type == "GEOMETRY"
    _same(pushed, here, "length_km")
    assert (pushed["count"] > 0).sum() > 20 and pushed["length_km"].sum() > 500


def test_generic_geometry_polygons_on_the_server_equal_the_python_path(server, counties, pg):
    """A ``geometry`` column without a type (polygons and multipolygons, SRID 4490): summarised as polygons."""
    pushed, here, layer = _both(server + "public.kind_parcels_any", counties, "area_ha", [*STATS, "area"],
                                "用地 <> '绿地'")
    assert not layer.geography and layer.geometry_type == "GEOMETRY" and layer.srid == 4490
    _same(pushed, here, "area_km2")
    n = pg.sql("SELECT count(*) FROM public.kind_parcels_any WHERE 用地 <> '绿地'")[0][0]
    assert n <= pushed["count"].sum() <= n * 1.25


def test_geography_points_and_a_mixed_table(server, counties, pg):
    pushed, here, _layer = _both(server + "public.sites", counties, None, ["count"])
    assert pushed is not None and pushed["count"].sum() == here["count"].sum() == 2
    assert (pushed["count"].to_numpy() == here["count"].to_numpy()).all()
    # polygons and points in one column: refused as the Python path refuses them, in the same words
    layer = postgis.open_layer(server + "public.kind_mixed")
    try:
        with pytest.raises(AnalysisError) as on_server:
            pgsummary.summarize_on_server(layer, counties, None, ["count"])
        with pytest.raises(AnalysisError) as here_err:
            summarize(counties, layer.read(), None, ["count"])
        assert str(on_server.value) == str(here_err.value) and "mixes geometry kinds" in str(on_server.value)
        # the filter keeps only the polygons: then it is a polygon layer
        layer.set_filter("类 = 'parcel'")
        pushed = pgsummary.summarize_on_server(layer, counties, None, ["count", "area"])
        _same(pushed, summarize(counties, layer.read(), None, ["count", "area"]), "area_km2")
        assert pushed["count"].sum() >= 50
    finally:
        layer.close()
