"""GCJ-02 <-> WGS-84 transform (zjmap.core.gcj02)."""

import numpy as np
from pyproj import Geod

from zjmap.core.gcj02 import gcj02_to_wgs84, gcj02_to_wgs84_coords, wgs84_to_gcj02

GEOD = Geod(ellps="WGS84")

# Published reference pairs: (wgs lon, wgs lat, gcj lon, gcj lat)
KNOWN = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # Shanghai (eviltransform tests)
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),  # Beijing (coordtransform README)
]


def test_forward_matches_known_pairs():
    for wlon, wlat, glon, glat in KNOWN:
        lon, lat = wgs84_to_gcj02(wlon, wlat)
        assert abs(lon - glon) < 1e-9 and abs(lat - glat) < 1e-9


def test_inverse_recovers_known_pairs():
    for wlon, wlat, glon, glat in KNOWN:
        lon, lat = gcj02_to_wgs84(glon, glat)
        assert abs(lon - wlon) < 1e-7 and abs(lat - wlat) < 1e-7


def test_round_trip_over_zhejiang():
    rng = np.random.default_rng(0)
    lon = rng.uniform(118.0, 123.0, 2000)
    lat = rng.uniform(27.0, 31.5, 2000)
    glon, glat = wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert np.max(np.abs(wlon - lon)) < 1e-6
    assert np.max(np.abs(wlat - lat)) < 1e-6


def test_offset_in_hangzhou_is_a_few_hundred_metres_east_and_south():
    lon, lat = 120.155, 30.274  # West Lake area (WGS-84)
    glon, glat = wgs84_to_gcj02(lon, lat)
    _, _, dist = GEOD.inv(lon, lat, glon, glat)
    assert 300 < dist < 700
    # GCJ-02 lies east and south of the truth in Zhejiang, so the inverse
    # must move raw Amap coordinates west and north.
    assert glon > lon and glat < lat
    wlon, wlat = gcj02_to_wgs84(lon, lat)
    assert wlon < lon and wlat > lat


def test_result_does_not_depend_on_batch():
    # shared border vertices must convert bit-identically whatever else is converted with them
    pt = np.array([[120.8, 30.9]])
    many = np.vstack([pt, np.random.default_rng(1).uniform([118, 27], [123, 31.5], (500, 2))])
    assert np.array_equal(gcj02_to_wgs84_coords(pt)[0], gcj02_to_wgs84_coords(many)[0])


def test_scalars_and_outside_china():
    lon, lat = gcj02_to_wgs84(120.0, 30.0)
    assert np.ndim(lon) == 0 and np.ndim(lat) == 0
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)
