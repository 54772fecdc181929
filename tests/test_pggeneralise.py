"""Low-zoom views generalised by the server, street zooms exact (real PostgreSQL + PostGIS, conftest ``pg``)."""

from __future__ import annotations

import shapely

from zjmap.core import postgis
from zjmap.core.pgsource import parse_pg

from pgserver import PASSWORD

WHOLE = (119.8, 30.0, 120.5, 30.6)
STREET = (120.0, 30.2, 120.15, 30.3)
IN_BOX = "geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490)"


def _layer(pg):
    postgis.forget_password(parse_pg(pg.uri)[0].server_key)
    return postgis.open_layer(pg.uri.replace("postgres@", f"postgres:{PASSWORD}@") + "?table=public.parcels")


def test_low_zoom_is_simplified_by_the_server_street_zoom_is_exact(pg):
    layer = _layer(pg)
    try:
        want, table_points = pg.sql(f"SELECT count(*), sum(ST_NPoints(geom)) FROM parcels WHERE {IN_BOX}", WHOLE)[0]
        low = layer.view(WHOLE, zoom=9, max_features=10_000)
        assert not low.thinned and low.shown == want == 3000
        got_points = int(shapely.get_num_coordinates(low.gdf.geometry.values).sum())
        assert got_points < table_points / 4, (got_points, table_points)
        assert low.gdf.geometry.notna().all() and (~low.gdf.geometry.is_empty).all()
        # the same query, filtered: still SQL's count
        layer.set_filter("用地 == '绿地'")
        greens = pg.sql(f"SELECT count(*) FROM parcels WHERE {IN_BOX} AND 用地 = '绿地'", WHOLE)[0][0]
        assert layer.view(WHOLE, zoom=9, max_features=10_000).shown == greens
        layer.set_filter(None)

        street = layer.view(STREET, zoom=postgis.EXACT_ZOOM + 1)
        exact = dict(pg.sql(f"SELECT gid::text, ST_AsBinary(geom) FROM parcels WHERE {IN_BOX}", STREET))
        assert street.shown == len(exact) > 50
        for fid, g in zip(street.gdf["__fid"], street.gdf.geometry):
            assert shapely.equals_exact(g, shapely.from_wkb(bytes(exact[fid])), 0.0)
    finally:
        layer.close()
