"""A layer's exact geometry kept as flat coordinates in a file, made into
shapely shapes only where something needs them.

A million parcels as shapely objects are ~820 MB of GEOS memory (25 M
vertices plus a few hundred bytes per shape), though drawing needs only the
display arrays (:mod:`zjmap.core.bigdisplay`) and a click only the few shapes
near it. So a big layer keeps its cleaned WGS-84 geometry the way
``shapely.to_ragged_array`` lays it out: float64 coordinates in a file mapped
into memory (the cache's ``coords.npy`` on a reopen,
:mod:`zjmap.core.layercache`; a file written chunk by chunk while it is read
on a fresh read, :class:`RaggedSink`) and small integer offsets.
:class:`RaggedColumn` makes shapes from them on demand: all of them once
(:meth:`~RaggedColumn.geoms`: analysis, the GeoDataFrame), a slab at a time
without keeping them (:meth:`~RaggedColumn.slice`: the zoom bands), a few rows
(:meth:`~RaggedColumn.rows`, :meth:`~RaggedColumn.query`: identify, through
each shape's box). Pages of the mapped file read for a slab are given back
at once (``madvise(MADV_DONTNEED)``: the file stays in the system's page
cache, not in the app's memory).

Hand-written because no library keeps GeoArrow-style buffers and makes
shapely shapes of chosen rows from them (shapely's ``from_ragged_array``
takes whole arrays: the slicing and gathering of offsets is done here).
"""

from __future__ import annotations

import mmap
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["PREPARE_CHUNK", "PREPARE_MAX_VERTICES", "RaggedColumn", "RaggedPiece", "RaggedSink", "map_npy"]

#: Geometries made per step when made in the background (a step holds the GIL).
PREPARE_CHUNK = 5000
#: Layers with more vertices keep their geometry as coordinates: shapes are
#: made on demand only (a million parcels' shapes would add ~820 MB).
PREPARE_MAX_VERTICES = 3_000_000

_MULTI = {0: 4, 1: 5, 3: 6}  # Point → MultiPoint, LineString → MultiLineString, Polygon → MultiPolygon
_SINGLE = {m: s for s, m in _MULTI.items()}
_FAMILY = {0: "point", 4: "point", 1: "line", 5: "line", 3: "polygon", 6: "polygon"}


def map_npy(path: str | os.PathLike[str]) -> tuple[np.ndarray, mmap.mmap]:
    """A ``.npy`` file's array as a read-only view of the mapped file, and the
    mapping (whose pages :meth:`RaggedColumn.slice` gives back)."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(fh)
        start = fh.tell()
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    count = int(np.prod(shape)) if shape else 1
    arr = np.frombuffer(mm, dtype=dtype, count=count, offset=start).reshape(shape, order="F" if fortran else "C")
    return arr, mm


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, e) for s, e in zip(starts, ends)])`` without a loop."""
    lens = (ends - starts).astype(np.int64)
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, np.int64)
    keep = lens > 0
    starts, lens = starts[keep].astype(np.int64), lens[keep]
    out = np.ones(total, np.int64)
    out[0] = starts[0]
    ends_at = np.cumsum(lens)[:-1]
    out[ends_at] = starts[1:] - (starts[:-1] + lens[:-1]) + 1
    return np.cumsum(out)


def _ragged_slice(coords: np.ndarray, offsets: tuple[np.ndarray, ...], a: int, b: int
                  ) -> tuple[np.ndarray, tuple[np.ndarray, ...], int, int]:
    """Geometries ``a:b`` of a ragged array, their offsets starting at 0, and
    the range of coordinates they take."""
    lo, hi = a, b
    out: list[np.ndarray] = []
    for off in reversed(offsets):  # outermost level first: features → parts → rings → coordinates
        seg = np.asarray(off[lo:hi + 1], dtype=np.int64)
        out.append(seg - seg[0])
        lo, hi = int(seg[0]), int(seg[-1])
    return coords[lo:hi], tuple(reversed(out)), lo, hi


def _ragged_take(coords: np.ndarray, offsets: tuple[np.ndarray, ...], rows: np.ndarray
                 ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Geometries ``rows`` (any order) of a ragged array, as a ragged array."""
    sel = np.asarray(rows, dtype=np.int64)
    out: list[np.ndarray] = []
    for off in reversed(offsets):
        off = np.asarray(off)
        s, e = off[sel].astype(np.int64), off[sel + 1].astype(np.int64)
        out.append(np.concatenate([[0], np.cumsum(e - s)]))
        sel = _ranges(s, e)
    return coords[sel], tuple(reversed(out))


class RaggedColumn:
    """The shapely geometries of one geometry family, kept as flat
    coordinates and offsets (``shapely.to_ragged_array``'s layout) and made
    on demand. ``single``: rows that were single shapes in a layer of multi
    ones (a Polygon among MultiPolygons), given back as they were read.
    ``bounds``: each row's box (west, south, east, north), if known."""

    def __init__(self, gtype: int, coords: np.ndarray, offsets: tuple[np.ndarray, ...],
                 single: np.ndarray | None = None, bounds: np.ndarray | None = None, mapping: Any = None):
        self.gtype = int(gtype)
        self.coords = coords
        self.offsets = offsets
        self.single = single if single is not None and single.any() else None
        self._bounds = bounds
        self._mapping = mapping  # the mmap the coordinates are a view of (None: in memory)
        self._base = np.frombuffer(mapping, dtype=np.uint8, count=1).ctypes.data if mapping is not None and len(mapping) else 0
        self._n = len(offsets[-1]) - 1 if offsets else len(coords)
        self._out: np.ndarray | None = None
        self._done = 0  # geometries made so far (in order)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n

    @property
    def built(self) -> bool:
        return self._done >= self._n

    @property
    def family(self) -> str:
        return _FAMILY.get(self.gtype, "mixed")

    def vertices(self) -> int:
        return len(self.coords)

    # -- making shapes -------------------------------------------------------
    def _make(self, coords: np.ndarray, offsets: tuple[np.ndarray, ...], single: np.ndarray | None) -> np.ndarray:
        import shapely

        g = shapely.from_ragged_array(shapely.GeometryType(self.gtype), np.asarray(coords), offsets)
        if single is not None and single.any():
            g[single] = shapely.get_geometry(g[single], 0)
        return g

    def _release(self, lo: int, hi: int) -> None:
        """Give back the pages of coordinates ``lo:hi`` of a mapped file (read
        again from the page cache if needed): what a slab read stays out of memory."""
        mm = self._mapping
        if mm is None or hi <= lo or not hasattr(mm, "madvise") or not self.coords.flags.c_contiguous:
            return
        start = self.coords.ctypes.data - self._base + lo * 16
        end = self.coords.ctypes.data - self._base + hi * 16
        page = mmap.PAGESIZE
        a = -(-start // page) * page
        b = (end // page) * page
        if b > a:
            try:
                mm.madvise(mmap.MADV_DONTNEED, a, b - a)
            except (OSError, ValueError):
                pass

    def slice(self, a: int, b: int) -> np.ndarray:
        """Rows ``a:b`` as shapes, made for the caller and not kept."""
        out = self._out
        if out is not None and b <= self._done:
            return out[a:b]
        coords, offsets, lo, hi = _ragged_slice(self.coords, self.offsets, a, b)
        g = self._make(coords, offsets, None if self.single is None else self.single[a:b])
        self._release(lo, hi)
        return g

    def rows(self, idx: Any) -> np.ndarray:
        """The shapes of rows ``idx`` (any order)."""
        idx = np.asarray(idx, dtype=np.int64)
        out = self._out
        if out is not None and self.built:
            return out[idx]
        if len(idx) == 0:
            return np.empty(0, dtype=object)
        coords, offsets = _ragged_take(self.coords, self.offsets, idx)
        return self._make(coords, offsets, None if self.single is None else self.single[idx])

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            a, b, step = key.indices(self._n)
            return self.slice(a, b)[::step] if step != 1 else self.slice(a, b)
        if np.ndim(key) == 0:
            return self.geometry(int(key))
        key = np.asarray(key)
        if key.dtype == bool:
            key = np.flatnonzero(key)
        return self.rows(key)

    def geoms(self) -> np.ndarray:
        """Every geometry (made now if not yet; kept)."""
        if not self.built or self._out is None:
            with self._lock:
                while not self.built or self._out is None:
                    self._step(self._n)
        assert self._out is not None
        return self._out

    def _step(self, size: int) -> None:  # with the lock held
        if self._out is None:
            self._out = np.empty(self._n, dtype=object)
        a = self._done
        b = min(self._n, a + size)
        self._out[a:b] = self.slice(a, b)
        self._done = b

    def geometry(self, k: int) -> Any:
        """Row ``k``'s geometry, without making the others."""
        out = self._out
        if out is not None and k < self._done:
            return out[k]
        return self.slice(k, k + 1)[0]

    def prepare(self, cancel: Callable[[], bool] | None = None) -> bool:
        """Make the geometries :data:`PREPARE_CHUNK` at a time (so the UI
        thread gets the GIL between steps); False when ``cancel`` stopped it."""
        while not self.built:
            if cancel is not None and cancel():
                return False
            with self._lock:
                if not self.built:
                    self._step(PREPARE_CHUNK)
            time.sleep(0)
        return True

    # -- boxes: what a click or an area is tested against first -----------
    def bounds(self) -> np.ndarray:
        """Each row's (west, south, east, north), float64 (n, 4); computed once."""
        got = self._bounds
        if got is None:
            import shapely

            parts = []
            for a in range(0, self._n, 50_000):
                parts.append(shapely.bounds(self.slice(a, min(self._n, a + 50_000))))
            got = self._bounds = np.concatenate(parts) if parts else np.empty((0, 4))
        return got

    def total_bounds(self) -> np.ndarray:
        b = self.bounds()
        if not len(b):
            return np.full(4, np.nan)
        return np.array([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])

    def query(self, geom: Any, predicate: str | None = None, distance: float | None = None) -> np.ndarray:
        """Rows whose shape meets ``geom`` (``STRtree.query`` for one shape:
        ``predicate`` "intersects" or "dwithin" with ``distance``): boxes
        first, shapes made only for the rows whose box is near."""
        import shapely

        b = self.bounds()
        w, s, e, n = shapely.bounds(geom)
        d = float(distance or 0.0) if predicate == "dwithin" else 0.0
        near = np.flatnonzero((b[:, 0] <= e + d) & (b[:, 2] >= w - d) & (b[:, 1] <= n + d) & (b[:, 3] >= s - d))
        if predicate is None or len(near) == 0:
            return near
        g = self.rows(near)
        if predicate == "dwithin":
            ok = shapely.dwithin(g, geom, d)
        else:
            ok = getattr(shapely, predicate)(g, geom)
        return near[ok]

    def save_coords(self, path: str | os.PathLike[str], step: int = 4_000_000) -> None:
        """The coordinates as a ``.npy`` file, written a slab at a time (a
        mapped file's pages given back after each: no copy of them in memory)."""
        coords = self.coords
        with open(path, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(coords))
            for a in range(0, len(coords), step):
                b = min(len(coords), a + step)
                fh.write(memoryview(np.ascontiguousarray(coords[a:b], dtype="<f8")).cast("B"))
                self._release(a, b)

    def __getstate__(self) -> dict[str, Any]:  # a workspace's copy: the coordinates, not the mapping
        return {"gtype": self.gtype, "coords": np.array(self.coords), "offsets": tuple(np.array(o) for o in self.offsets),
                "single": self.single, "bounds": self._bounds}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["gtype"], state["coords"], state["offsets"], state["single"], state["bounds"])


@dataclass
class RaggedPiece:
    """One chunk's shapes of one family as flat coordinates (``to_ragged_array``'s
    layout) and boxes: what the display encoder reads instead of the shapes."""

    family: str
    coords: np.ndarray
    offsets: tuple[np.ndarray, ...]
    bounds: np.ndarray


class RaggedSink:
    """Collects a layer's cleaned geometry chunk by chunk (one thread calls
    :meth:`add`, in row order) as flat coordinates appended to a file, and
    :meth:`finish` gives the :class:`RaggedColumn` over that file. A layer
    that mixes families (points and polygons) or holds collections cannot be
    one column: :meth:`finish` then gives plain shapely shapes (the eager way)."""

    def __init__(self, directory: Path | None = None):
        from zjmap.core.bigdisplay import _big_dir

        self.path = (directory or _big_dir()) / f"{uuid.uuid4().hex}.coords"
        self._fh = open(self.path, "wb")
        self._pieces: list[tuple[Any, ...]] = []  # ("ragged", gtype, offsets, types, n_coords) | ("raw", geoms)
        self._bounds: list[np.ndarray] = []
        self._family: str | None = None
        self.one_column = True
        self.type_ids: set[int] = set()

    def add(self, geoms: np.ndarray) -> RaggedPiece | None:
        """The next ``len(geoms)`` rows' shapes (WGS-84, 2D, none missing or
        empty); their flat coordinates (None: not one column any more)."""
        import shapely

        from zjmap.core.bigdisplay import ragged_of

        if len(geoms) == 0:
            return None
        t = shapely.get_type_id(geoms)
        self.type_ids.update(int(v) for v in np.unique(t))
        fams = {_FAMILY.get(int(v), "mixed") for v in np.unique(t)}
        if self.one_column and (len(fams) > 1 or "mixed" in fams or (self._family not in (None, *fams))):
            self.one_column = False
        if not self.one_column:
            self._pieces.append(("raw", geoms))
            return None
        self._family = fams.pop()
        gtype, coords, offsets = ragged_of(geoms)
        coords = np.ascontiguousarray(coords, dtype="<f8")
        offsets = tuple(np.asarray(o, np.int64) for o in offsets)
        self._fh.write(memoryview(coords).cast("B"))
        self._pieces.append(("ragged", int(gtype), offsets, t, len(coords)))
        bounds = shapely.bounds(geoms)
        self._bounds.append(bounds)
        return RaggedPiece(self._family, coords, offsets, bounds)

    def discard(self) -> None:
        try:
            self._fh.close()
        finally:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def finish(self) -> RaggedColumn | np.ndarray:
        """The layer's geometry: one column over the coordinates' file, or
        (mixed families, collections) an array of shapely shapes."""
        self._fh.close()
        try:
            if self.path.stat().st_size:
                with open(self.path, "rb") as fh:
                    mm: Any = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                coords = np.frombuffer(mm, dtype="<f8").reshape(-1, 2)
            else:
                mm, coords = None, np.empty((0, 2))
        finally:
            os.unlink(self.path)  # the mapping keeps the data; the file goes with it
        ragged = [p for p in self._pieces if p[0] == "ragged"]
        if not self.one_column:
            return self._shapes(coords)
        gtypes = {p[1] for p in ragged}
        target = next(iter(gtypes)) if len(gtypes) == 1 else _MULTI.get(min(gtypes), max(gtypes))
        levels: list[list[np.ndarray]] = []
        single: list[np.ndarray] = []
        shifts: list[int] = []
        for _k, gtype, offsets, types, n_coords in ragged:
            n = len(types)
            if gtype != target:  # single shapes among multi ones: one part each
                offsets = (*offsets, np.arange(n + 1, dtype=np.int64))
            single.append(types == _SINGLE[target] if target in _SINGLE else np.zeros(n, bool))
            counts = [n_coords] + [len(o) - 1 for o in offsets[:-1]]
            if not levels:
                levels = [[] for _ in offsets]
                shifts = [0] * len(offsets)
            for j, o in enumerate(offsets):
                levels[j].append(o[:-1] + shifts[j])
                shifts[j] += counts[j]
        offs = tuple(np.concatenate([*lv, np.array([s], np.int64)]) for lv, s in zip(levels, shifts))
        mask = np.concatenate(single) if single else None
        bounds = np.concatenate(self._bounds) if self._bounds else np.empty((0, 4))
        return RaggedColumn(target, coords, offs, mask, bounds, mapping=mm)

    def _shapes(self, coords: np.ndarray) -> np.ndarray:
        import shapely

        out = []
        pos = 0
        for p in self._pieces:
            if p[0] == "raw":
                out.append(p[1])
                continue
            _k, gtype, offsets, types, n_coords = p
            g = shapely.from_ragged_array(shapely.GeometryType(gtype), np.array(coords[pos:pos + n_coords]), offsets)
            pos += n_coords
            one = (types != gtype) & (gtype in _MULTI.values())
            if one.any():
                g[one] = shapely.get_geometry(g[one], 0)
            out.append(g)
        return np.concatenate(out) if out else np.empty(0, dtype=object)
