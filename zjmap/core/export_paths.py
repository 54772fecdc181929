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




# ---------------------------------------------------------------------------
# Big layers: straight from the flat coordinates a layer already holds


def _bounds_of(coords: np.ndarray, off: np.ndarray) -> np.ndarray:
    """(n, 4) W, S, E, N of features ``off[k]:off[k+1]`` of ``coords``; NaN for an empty one."""
    n = len(off) - 1
    out = np.full((n, 4), np.nan)
    has = np.diff(off) > 0
    if has.any() and len(coords):
        starts = off[:-1][has]
        for j, (col, red) in enumerate(((0, np.minimum), (1, np.minimum), (0, np.maximum), (1, np.maximum))):
            out[has, j] = red.reduceat(coords[:, col], starts)
    return out


def _oriented_rings(coords: np.ndarray, ring_off: np.ndarray, exterior: np.ndarray) -> np.ndarray:
    """``coords`` with exterior rings anticlockwise and holes clockwise, so that
    matplotlib's non-zero fill leaves holes empty, also where the file wound
    them otherwise (and one compound path of many polygons never cancels
    where two of opposite winding overlap). Shoelace areas per ring on the
    flat array; the rings to turn are reversed by one index gather."""
    counts = np.diff(ring_off)
    rid = np.repeat(np.arange(len(counts)), counts)
    if not len(rid):
        return coords
    x = coords[:, 0] - coords[ring_off[:-1], 0][rid]  # about each ring's first vertex: no loss of precision
    y = coords[:, 1] - coords[ring_off[:-1], 1][rid]
    t = x[:-1] * y[1:] - x[1:] * y[:-1]
    t = np.append(t, 0.0)
    t[ring_off[1:] - 1] = 0.0  # the step from a ring's last vertex to the next ring's first
    area2 = np.bincount(rid, weights=t, minlength=len(counts))
    flip = np.where(exterior, area2 < 0, area2 > 0)
    if not flip.any():
        return coords
    idx = np.arange(len(coords), dtype=np.int64)
    turn = flip[rid]
    mirror = (ring_off[:-1] + ring_off[1:] - 1)[rid]
    idx[turn] = mirror[turn] - idx[turn]
    return coords[idx]


def _ring_codes(n_coords: int, starts: np.ndarray) -> np.ndarray:
    from matplotlib.path import Path as MPath

    codes = np.full(n_coords, MPath.LINETO, dtype=MPath.code_type)
    codes[starts] = MPath.MOVETO
    return codes


def _flat_geoms(gtype: int, coords: np.ndarray, offsets: Sequence[np.ndarray], n: int) -> _Geoms | None:
    """:class:`_Geoms` of one geometry family in ``shapely.to_ragged_array``'s
    layout (a reopened layer's :class:`zjmap.core.layercache.RaggedColumn`),
    without making a shapely object; None for a layout it does not know."""
    from matplotlib.path import Path as MPath

    coords = np.ascontiguousarray(coords[:, :2], dtype=np.float64)
    offs = [np.asarray(o, dtype=np.int64) for o in offsets]
    empty = _Ragged(np.empty((0, 2)), np.empty(0, dtype=MPath.code_type), np.zeros(n + 1, dtype=np.int64))
    none = _Ragged(np.empty((0, 2)), None, np.zeros(n + 1, dtype=np.int64))
    if gtype in (3, 6):  # (Multi)Polygon: rings → (parts →) features
        ring_off = offs[0]
        part_off = offs[1]
        exterior = np.zeros(len(ring_off) - 1, dtype=bool)
        exterior[part_off[:-1][np.diff(part_off) > 0]] = True
        feat_rings = part_off if gtype == 3 else part_off[offs[2]]
        coords = _oriented_rings(coords, ring_off, exterior)
        poly = _Ragged(coords, _ring_codes(len(coords), ring_off[:-1][np.diff(ring_off) > 0]), ring_off[feat_rings])
        return _Geoms(poly, empty, none, _bounds_of(coords, poly.offsets))
    if gtype in (1, 5):  # (Multi)LineString
        line_off = offs[0]
        feat = line_off if gtype == 1 else line_off[offs[1]]
        line = _Ragged(coords, _ring_codes(len(coords), line_off[:-1][np.diff(line_off) > 0]), feat)
        return _Geoms(empty, line, none, _bounds_of(coords, feat))
    if gtype in (0, 4):  # (Multi)Point; an empty point is NaN
        feat = np.arange(n + 1, dtype=np.int64) if gtype == 0 else offs[0]
        pts = _Ragged(coords, None, feat)
        return _Geoms(empty, empty, pts, _bounds_of(coords, feat))
    return None


_FLAT_CACHE: "dict[int, tuple[Any, _Geoms]]" = {}


def plan_geoms(features: Any) -> _Geoms:
    """The drawable arrays of a layer's features. A big table's point
    coordinates (:class:`zjmap.core.pointcolumn.PointColumn`) or a reopened
    layer's flat coordinates (:class:`zjmap.core.layercache.RaggedColumn`)
    are used as they are (no shapely object made); other layers go through
    their shapely geometries (:func:`_layer_geoms`). Cached per column."""
    import weakref

    col = getattr(features, "column", None)
    xy = getattr(col, "xy", None)
    flat: tuple[int, np.ndarray, Sequence[np.ndarray]] | None = None
    if isinstance(xy, np.ndarray):
        flat = (0, xy, ())
    elif getattr(col, "gtype", None) is not None and isinstance(getattr(col, "coords", None), np.ndarray):
        flat = (int(col.gtype), col.coords, col.offsets)
    if flat is None:
        geoms = getattr(features, "geoms", None)
        return _layer_geoms(geoms if geoms is not None else [f.geometry for f in features])
    with _CACHE_LOCK:
        hit = _FLAT_CACHE.get(id(col))
        if hit is not None and hit[0]() is col:
            return hit[1]
    g = _flat_geoms(flat[0], flat[1], flat[2], len(features))
    if g is None:
        return _layer_geoms(features.geoms)
    with _CACHE_LOCK:
        for k in [k for k, (ref, _) in _FLAT_CACHE.items() if ref() is None]:
            del _FLAT_CACHE[k]
        _FLAT_CACHE[id(col)] = (weakref.ref(col), g)
        while len(_FLAT_CACHE) > _CACHE_LAYERS:
            _FLAT_CACHE.pop(next(iter(_FLAT_CACHE)))
    return g
