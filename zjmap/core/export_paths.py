"""Geometry → matplotlib paths for the exporter: flat coordinate arrays per layer, cached per geometry object."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry


@dataclass
class _Ragged:
    """Coordinates of many features in one array; feature k is rows offsets[k]:offsets[k+1]."""

    coords: np.ndarray  # (N, 2) lon, lat
    codes: np.ndarray | None  # matplotlib path codes (None for points)
    offsets: np.ndarray  # (n + 1,)

    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def path(self, k: int) -> Any:
        from matplotlib.path import Path as MPath

        a, b = self.offsets[k], self.offsets[k + 1]
        return MPath(self.coords[a:b], self.codes[a:b], readonly=True) if b > a else None

    def points(self, k: int) -> np.ndarray:
        return self.coords[self.offsets[k]:self.offsets[k + 1]]

    def compound(self, ks: np.ndarray) -> Any:
        """One path made of features ``ks`` (vectorised gather, no per-feature objects)."""
        from matplotlib.path import Path as MPath

        ks = np.asarray(ks, dtype=np.int64)
        counts = self.offsets[ks + 1] - self.offsets[ks]
        ks, counts = ks[counts > 0], counts[counts > 0]
        if not len(ks):
            return None
        total = int(counts.sum())
        shift = np.repeat(self.offsets[ks] - (np.cumsum(counts) - counts), counts)
        idx = np.arange(total, dtype=np.int64) + shift
        return MPath(self.coords[idx], self.codes[idx] if self.codes is not None else None, readonly=True)


@dataclass
class _Geoms:
    """A layer's geometries as matplotlib-ready arrays: areas, lines, points, bounds."""

    poly: _Ragged
    line: _Ragged
    pts: _Ragged
    bounds: np.ndarray  # (n, 4)


def _ragged(coords: np.ndarray, codes: np.ndarray | None, owner: np.ndarray, n: int) -> _Ragged:
    off = np.zeros(n + 1, dtype=np.int64)
    if len(owner):
        np.cumsum(np.bincount(owner, minlength=n), out=off[1:])
    return _Ragged(coords, codes, off)


def _to_geoms(geoms: np.ndarray) -> _Geoms:
    """Polygons (holes as reversed rings, for the non-zero fill rule), lines and points, in bulk."""
    from matplotlib.path import Path as MPath

    n = len(geoms)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    parts2, o2 = shapely.get_parts(parts, return_index=True)  # collections of multi-parts
    owner = owner[o2]
    types = shapely.get_type_id(parts2)
    empty2 = np.empty((0, 2))
    noown = np.empty(0, dtype=np.int64)

    pm = types == 3
    if pm.any():
        polys = shapely.orient_polygons(parts2[pm], exterior_cw=False)
        rings, rown = shapely.get_rings(polys, return_index=True)
        rown = owner[pm][rown]
        coords, cidx = shapely.get_coordinates(rings, return_index=True)
        counts = np.bincount(cidx, minlength=len(rings))
        counts = counts[counts > 0]
        ends = np.cumsum(counts)
        codes = np.full(len(coords), MPath.LINETO, dtype=MPath.code_type)
        codes[ends - counts] = MPath.MOVETO
        # rings end on their first point already; no CLOSEPOLY code, so that
        # matplotlib may simplify the path (it only does for MOVETO/LINETO paths)
        poly = _ragged(coords, codes, rown[cidx], n)
    else:
        poly = _ragged(empty2, np.empty(0, dtype=MPath.code_type), noown, n)

    lm = (types == 1) | (types == 2)
    if lm.any():
        coords, cidx = shapely.get_coordinates(parts2[lm], return_index=True)
        counts = np.bincount(cidx, minlength=int(lm.sum()))
        counts = counts[counts > 0]
        codes = np.full(len(coords), MPath.LINETO, dtype=MPath.code_type)
        codes[np.cumsum(counts) - counts] = MPath.MOVETO
        line = _ragged(coords, codes, owner[lm][cidx], n)
    else:
        line = _ragged(empty2, np.empty(0, dtype=MPath.code_type), noown, n)

    ptm = types == 0
    if ptm.any():
        coords, cidx = shapely.get_coordinates(parts2[ptm], return_index=True)
        pts = _ragged(coords, None, owner[ptm][cidx], n)
    else:
        pts = _ragged(empty2, None, noown, n)
    return _Geoms(poly, line, pts, shapely.bounds(geoms))


# A few layers' arrays, keyed by their geometries (checked by weak reference,
# so a layer that is gone or rebuilt is never served stale data).
_CACHE_LOCK = threading.Lock()
_GEOM_CACHE: "dict[tuple[int, int, int], tuple[Any, Any, _Geoms]]" = {}
_CACHE_LAYERS = 48


def _layer_geoms(geoms: Sequence[BaseGeometry]) -> _Geoms:
    import weakref

    n = len(geoms)
    if n == 0:
        return _to_geoms(np.empty(0, dtype=object))
    key = (id(geoms[0]), id(geoms[-1]), n)
    with _CACHE_LOCK:
        hit = _GEOM_CACHE.pop(key, None)
        if hit is not None and hit[0]() is geoms[0] and hit[1]() is geoms[-1]:
            _GEOM_CACHE[key] = hit  # most recently used last
            return hit[2]
    arr = np.empty(n, dtype=object)
    arr[:] = list(geoms)
    g = _to_geoms(arr)
    try:
        refs = (weakref.ref(geoms[0]), weakref.ref(geoms[-1]))
    except TypeError:
        return g
    with _CACHE_LOCK:
        _GEOM_CACHE[key] = (refs[0], refs[1], g)
        while len(_GEOM_CACHE) > _CACHE_LAYERS:
            _GEOM_CACHE.pop(next(iter(_GEOM_CACHE)))
    return g


