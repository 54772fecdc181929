"""Test environment: offscreen Qt, QtWebEngine flags, settings kept away from the user's."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never read or write the planner's real settings or autosaves.
_HOME = tempfile.mkdtemp(prefix="zjmap-test-home-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_HOME, "data")
os.environ["XDG_CACHE_HOME"] = os.path.join(_HOME, "cache")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def qapp():
    """pytest-qt's QApplication, made the way QtWebEngine needs it."""
    from zjmap.qt.app import make_application

    return make_application(["zjmap-tests"])


@pytest.fixture(scope="module")
def win(qapp):
    """The real main window on the shipped data, one per test module."""
    from guitools import close_window, open_window

    w = open_window()
    yield w
    close_window(w)


@pytest.fixture(scope="session")
def pg():
    """A real PostgreSQL + PostGIS on 127.0.0.1 (tests/pgserver.py), with test tables:

    ``public.parcels``: 3,000 irregular polygons near Hangzhou in CGCS2000
    (EPSG:4490) with Chinese names (``public.parcels84``: the same in EPSG:4326); ``gk.roads``: lines in CGCS2000 / 3-degree
    Gauss-Kruger CM 120E (EPSG:4549); ``public.sites``: geography points;
    ``public.big_parcels`` a view.
    """
    from pgserver import PgServer

    srv = PgServer.create()
    srv.sql(PARCELS_SQL)
    yield srv
    srv.destroy()


PARCELS_SQL = """
SELECT setseed(0.15);
CREATE TABLE public.parcels (
    gid serial PRIMARY KEY, name text, 用地 text, area_ha double precision, plots integer, approved date,
    geom geometry(Polygon, 4490));
INSERT INTO public.parcels (name, 用地, area_ha, plots, approved, geom)
SELECT '地块' || i, (ARRAY['居住用地', '工业用地', '商业用地', '绿地'])[1 + i % 4], round((random() * 5)::numeric, 2),
       i % 17, date '2020-01-01' + i,
       ST_SetSRID(ST_MakePolygon(ST_MakeLine(ARRAY(
           SELECT ST_MakePoint(x + r * (0.7 + 0.3 * sin((k % 24) * 1.7 + i)) * cos(2 * pi() * (k % 24) / 24),
                               y + r * (0.7 + 0.3 * sin((k % 24) * 1.7 + i)) * sin(2 * pi() * (k % 24) / 24))
           FROM generate_series(0, 24) k))), 4490)
FROM (SELECT i, 119.9 + random() * 0.5 AS x, 30.1 + random() * 0.4 AS y, 0.002 + random() * 0.003 AS r
      FROM generate_series(1, 3000) i) p;
CREATE INDEX parcels_geom ON public.parcels USING gist (geom);
CREATE SCHEMA gk;
CREATE TABLE gk.roads (id bigint PRIMARY KEY, 名称 text, geom geometry(LineString, 4549));
INSERT INTO gk.roads SELECT i, '道路' || i,
    ST_MakeLine(ST_MakePoint(500000 + i * 300, 3330000), ST_MakePoint(500000 + i * 300, 3340000))::geometry(LineString, 4549)
FROM generate_series(1, 40) i;
CREATE TABLE public.sites (id int PRIMARY KEY, name text, geog geography(Point, 4326));
INSERT INTO public.sites VALUES (1, '杭州站', 'SRID=4326;POINT(120.1826 30.2440)'), (2, '宁波站', 'SRID=4326;POINT(121.5396 29.8658)');
CREATE TABLE public.parcels84 AS SELECT gid, name, 用地, area_ha, plots, ST_Transform(geom, 4326)::geometry(Polygon, 4326) AS geom
    FROM public.parcels;
ALTER TABLE public.parcels84 ADD PRIMARY KEY (gid);
CREATE INDEX parcels84_geom ON public.parcels84 USING gist (geom);
CREATE VIEW public.big_parcels AS SELECT gid, name, geom FROM public.parcels WHERE area_ha > 2.5;
ANALYZE;
"""


@pytest.fixture(scope="session")
def oapif(pg, tmp_path_factory):
    """A real pygeoapi (tests/oapifserver.py) serving a GeoPackage and the ``pg`` parcels table."""
    import geopandas as gpd
    import pyogrio
    from oapifserver import OapifServer

    from zjmap.core import postgis
    from pgserver import PASSWORD

    uri = pg.uri.replace("postgres@", f"postgres:{PASSWORD}@")
    gdf = postgis.read_layer(uri + "?table=parcels").gdf.iloc[:800]
    gpkg = str(tmp_path_factory.mktemp("oapif") / "parcels.gpkg")
    pyogrio.write_dataframe(gpd.GeoDataFrame(gdf, crs="EPSG:4326"), gpkg, layer="parcels", driver="GPKG")
    srv = OapifServer.start(pg, gpkg)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def wfs(pg):
    """A real WFS 2.0 (MapServer, tests/wfsserver.py) serving the ``pg`` parcels as ``ms:parcels``."""
    from wfsserver import WfsServer

    srv = WfsServer.start(pg)
    yield srv
    srv.stop()


@pytest.fixture()
def file_keyring(tmp_path, monkeypatch):
    """keyrings.alt's PlaintextKeyring in ``tmp_path``, chosen as the planner would
    (``PYTHON_KEYRING_BACKEND``) and set with keyring.set_keyring; the keyring
    zjmap saw before comes back afterwards."""
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    before = keyring.get_keyring()
    kr = PlaintextKeyring()
    kr.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    keyring.set_keyring(kr)
    yield kr
    keyring.set_keyring(before)
