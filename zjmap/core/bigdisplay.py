"""How a layer of many features is drawn fast: display geometry for the
canvas renderer (``zjmap/web/biglayer.js``).

Planners' own layers and the base map both go this way. :class:`BigDisplay`
holds flat typed arrays per zoom band instead of GeoJSON: coordinates already
projected to Web-Mercator pixels at zoom 0 (float32, relative to an origin),
ring and feature offsets, one geometry set per band. The page draws them
without a Leaflet object per feature and without projecting any vertex on a
zoom: that is what keeps zooms fast.

Display simplification: the full geometry stays in Python (identify, the
attribute table, export use it). The page gets one geometry set per zoom band
(:data:`ZOOM_BANDS`), each simplified to half a screen pixel at the band's
deepest zoom, so it looks the same as the full geometry. Polygon coverages
(parcels, grids, admin units: polygons that share edges) are simplified with
``shapely.coverage_simplify`` when they are small enough for it to be quick,
so shared edges stay shared; otherwise each shape is simplified on its own
(plain Douglas–Peucker, ``simplify(preserve_topology=False)``, 7x faster than
keeping topology): at half a pixel the gaps and self-touchings this can
cause are invisible. A band is only computed when a sample
shows it would drop a good share of the vertices (a grid of squares has
nothing to drop), and each band is simplified from the finer one before it.
"""

from __future__ import annotations

import atexit
import base64
import json
import math
import os
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from zjmap.core.labels import anchors as label_anchors
from zjmap.core.labels import label_text as _label
from zjmap.core.layers import MapLayer, layer_geometries

__all__ = [
    "BIG_FEATURES",
    "DEFER_VERTICES",
    "ZOOM_BANDS",
    "BigDisplay",
    "big_payload",
    "check_cancel",
    "page_head",
    "is_big",
    "label_text",
]

#: Layers with at least this many features are drawn by the canvas renderer.
BIG_FEATURES = 2000
#: Deepest zoom of each simplified band; deeper zooms get the full geometry.
ZOOM_BANDS = (8, 10, 12)
#: Layers with more vertices than this are shown first at full resolution
#: and get their simplified zoom bands afterwards (simplifying millions of
#: vertices takes seconds; the canvas draws full resolution fast enough meanwhile).
DEFER_VERTICES = 1_000_000
#: A page's own array files (the start page with the base map) come in two:
#: the geometry sets of the zooms up to this one, which the page reads before
#: it first draws (the start view is at zoom 7 in a usual window: one step
#: in is there too), and the finer sets, read after it has drawn (the base
#: map's finer sets are 80 % of its bytes).
HEAD_ZOOM = 8
#: Largest polygon set (total vertices) for which coverage_simplify is used.
COVERAGE_MAX_VERTICES = 150_000

ProgressFn = Callable[[float, str], Any]
CancelFn = Callable[[], bool]


def check_cancel(cancel: CancelFn | None) -> None:
    if cancel is not None and cancel():
        from zjmap.core.userfiles import LoadCancelled

        raise LoadCancelled("Loading was cancelled.")


def label_text(props: Mapping[str, Any], fld: str) -> str:
    return _label(props.get(fld))



def is_big(layer: MapLayer) -> bool:
    return len(layer.features) >= BIG_FEATURES or layer.display.arrays is not None


_BIG_DIR: Path | None = None


def _big_dir() -> Path:
    """This process's directory for big layers' array files (removed at exit)."""
    global _BIG_DIR
    if _BIG_DIR is None or not _BIG_DIR.is_dir():
        _BIG_DIR = Path(tempfile.mkdtemp(prefix="zjmap-big-"))
        atexit.register(shutil.rmtree, str(_BIG_DIR), True)
    return _BIG_DIR


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _b64(arr: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(arr).tobytes()).decode("ascii")


def _world(xy: np.ndarray) -> np.ndarray:
    """lon/lat → Leaflet's EPSG:3857 pixel coordinates at zoom 0 (256 px world)."""
    lon = xy[:, 0]
    lat = np.clip(xy[:, 1], -85.0511287798, 85.0511287798)
    x = (lon + 180.0) / 360.0 * 256.0
    y = (0.5 - np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) / (2 * np.pi)) * 256.0
    return np.column_stack([x, y])


def band_tolerance(max_zoom: int, lat: float, px: float = 0.5) -> float:
    """``px`` screen pixels at ``max_zoom``, in degrees (conservative in latitude)."""
    return px * 360.0 / (256.0 * 2.0**max_zoom) * math.cos(math.radians(min(abs(lat), 85.0)))


@dataclass
class _Part:
    """Features of one geometry family: "polygon" | "line" | "point"."""

    type: str
    feat: np.ndarray  # uint32 indices into layer.features
    bbox: np.ndarray  # float32 (n, 4) world coords relative to the origin (not sent: the page
    # computes them from the coordinates, a quarter less to send and parse)


@dataclass
class _Geom:
    """One part's coordinates for one band."""

    xy: np.ndarray  # float32 (n*2,) relative world coords
    rings: np.ndarray | None  # uint32 ring/line start offsets (+ end), in points
    frings: np.ndarray  # uint32 per-feature start offset (+ end), in rings (points for "point")

    def vertices(self) -> int:
        return len(self.xy) // 2


def _families(geoms: np.ndarray) -> dict[str, np.ndarray]:
    t = shapely.get_type_id(geoms)
    out = {
        "polygon": np.flatnonzero((t == 3) | (t == 6)),
        "line": np.flatnonzero((t == 1) | (t == 2) | (t == 5)),
        "point": np.flatnonzero((t == 0) | (t == 4)),
    }
    other = np.flatnonzero(t == 7)  # collections: split below by the caller
    if len(other):
        out["collection"] = other
    return {k: v for k, v in out.items() if len(v)}


def ragged_of(geoms: np.ndarray) -> tuple[int, np.ndarray, tuple[np.ndarray, ...]]:
    """``shapely.to_ragged_array(geoms, include_z=False)`` (shapes of one
    family), with a quicker way for the common case (parcels, grids: Polygons
    of one ring each, 5x faster than to_ragged_array)."""
    types = shapely.get_type_id(geoms)
    if len(geoms) and np.all(types == 3) and not shapely.get_num_interior_rings(geoms).any():
        n = shapely.get_num_coordinates(geoms)
        coords = shapely.get_coordinates(geoms)
        ring_off = np.concatenate([[0], np.cumsum(n)])
        return 3, coords, (ring_off, np.arange(len(geoms) + 1))
    gtype, coords, offsets = shapely.to_ragged_array(geoms, include_z=False)
    return int(gtype), coords, offsets


def _encode(geoms: np.ndarray, family: str, origin: np.ndarray) -> _Geom:
    """Flat arrays for one family: closing vertices of rings dropped (the
    renderer closes them), coordinates relative to ``origin`` as float32."""
    _gtype, coords, offsets = ragged_of(geoms)
    return encode_ragged(coords, offsets, family, origin)


def encode_ragged(coords: np.ndarray, offsets: tuple[np.ndarray, ...], family: str, origin: np.ndarray) -> _Geom:
    """:func:`_encode` from a family's flat coordinates and offsets (:func:`ragged_of`)."""
    if family == "polygon":
        if len(offsets) == 2:  # all Polygon: (ring offsets, polygon offsets)
            ring_off, frings = offsets
        else:  # MultiPolygon: (ring, polygon, multipolygon)
            ring_off, poly_off, multi_off = offsets
            frings = poly_off[multi_off]
        ring_off = np.asarray(ring_off, dtype=np.int64)
        # drop each ring's closing vertex
        keep = np.ones(len(coords), dtype=bool)
        ends = ring_off[1:] - 1
        ends = ends[ring_off[1:] > ring_off[:-1]]
        keep[ends] = False
        coords = coords[keep]
        ring_off = ring_off - np.arange(len(ring_off))
        rings = ring_off
    elif family == "line":
        if len(offsets) == 1:  # LineString
            rings = np.asarray(offsets[0], dtype=np.int64)
            frings = np.arange(len(rings), dtype=np.int64)
        else:
            rings, frings = offsets
    else:  # points
        if len(offsets) == 0:
            frings = np.arange(len(coords) + 1, dtype=np.int64)
        else:
            frings = offsets[0]
        rings = None
    w = _world(coords) - origin
    return _Geom(
        w.astype("<f4").ravel(),
        None if rings is None else np.asarray(rings, dtype="<u4"),
        np.asarray(frings, dtype="<u4"),
    )


def _simplify(geoms: np.ndarray, family: str, tol: float, coverage: bool) -> np.ndarray:
    if family == "point":
        return geoms
    if coverage:
        try:
            out = shapely.coverage_simplify(geoms, tol)
            if not shapely.is_empty(out).any():
                return out
        except shapely.errors.GEOSException:  # not a coverage after all
            pass
    # plain Douglas–Peucker: ~7x faster than preserve_topology=True, and a
    # shape that self-intersects by half a pixel draws the same (even-odd fill)
    out = shapely.simplify(geoms, tol, preserve_topology=False)
    empty = shapely.is_empty(out)
    if empty.any():
        out[empty] = geoms[empty]
    return out


def _worth_simplifying(geoms: np.ndarray, family: str, tol: float, rng: np.random.Generator,
                       min_drop: float = 0.4) -> bool:
    """Would simplifying drop at least ``min_drop`` of the vertices? Judged on a sample
    (a band that keeps more is not worth sending: JS skips sub-pixel steps anyway)."""
    if family == "point" or len(geoms) == 0:
        return False
    idx = rng.choice(len(geoms), size=min(len(geoms), 1500), replace=False)
    sample = geoms[idx]
    before = int(shapely.get_num_coordinates(sample).sum())
    if before == 0:
        return False
    after = int(shapely.get_num_coordinates(shapely.simplify(sample, tol, preserve_topology=False)).sum())
    return after <= (1 - min_drop) * before


@dataclass
class BigDisplay:
    """What the canvas renderer needs, prepared once per layer.

    ``geoms[k]`` are the geometry sets (one per distinct band, finest last),
    ``bands`` maps each band's deepest zoom to its geometry set. Style and
    label arrays are cached per style.
    """

    origin: np.ndarray  # float64 (2,) world coords subtracted from all coordinates
    parts: list[_Part]
    geoms: list[list[_Geom]]  # [set][part]
    bands: list[tuple[int, int]]  # (max_zoom, set index); last max_zoom 99
    typical_px: float  # median feature size in world px at zoom 0
    key: str = field(default_factory=lambda: uuid.uuid4().hex)  # the page keeps decoded arrays per key
    _encoded: dict[Path | None, dict[str, Any]] = field(default_factory=dict)  # per directory
    _path: Path | None = None
    _where: dict[tuple, list[int]] = field(default_factory=dict)  # (array key) → [offset, length] in its file
    _fam_geoms: list[np.ndarray] = field(default_factory=list)  # full geometries of each part
    _lat: float = 30.0
    #: how far (screen pixels at a band's deepest zoom) a band may stray from
    #: the true shape, and the least share of vertices a band must drop to be kept
    #: (two fifths: the page fills a polygon a few pixels across vertex by
    #: vertex; a million parcels' band for zoom 10 drops 48 %, and kept, it
    #: takes a third off a first zoom to 9 or 10)
    tolerance_px: float = 0.5
    min_drop: float = 0.4
    _style_cache: dict[str, dict[str, Any]] = field(default_factory=dict)
    _label_cache: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: joined from the chunks the page was sent while the file was read (zjmap.core.displaychunks):
    #: the page may join those instead of reading the file
    chunked: bool = False

    @classmethod
    def build(cls, layer: MapLayer, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
              bands: tuple[int, ...] = ZOOM_BANDS, **simplification: float) -> "BigDisplay":
        return cls.from_geometries(layer_geometries(layer), progress, cancel, bands, **simplification)

    @classmethod
    def from_geometries(cls, geoms: np.ndarray, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                        bands: tuple[int, ...] = ZOOM_BANDS, **simplification: float) -> "BigDisplay":
        """From the features' geometries (WGS-84, in feature order).
        ``simplification``: ``tolerance_px``, ``min_drop`` (see the fields)."""
        fams = _families(geoms)
        if "collection" in fams:
            # split collections into their members; each member is drawn for its feature
            coll = fams.pop("collection")
            parts_g = shapely.get_parts(geoms[coll], return_index=True)
            members, owner = parts_g
            extra = _families(members)
            extra_sets = {k: (coll[owner[v]], members[v]) for k, v in extra.items() if k != "collection"}
        else:
            extra_sets = {}
        b = shapely.bounds(geoms)
        ok = np.all(np.isfinite(b), axis=1)
        lo = _world(np.array([[np.nanmin(b[ok, 0]), np.nanmax(b[ok, 3])]]))[0] if ok.any() else np.zeros(2)
        origin = np.floor(lo)
        parts: list[_Part] = []
        fam_geoms: list[np.ndarray] = []
        for fam in ("polygon", "line", "point"):
            idx_list, g_list = [], []
            if fam in fams:
                idx_list.append(fams[fam])
                g_list.append(geoms[fams[fam]])
            if fam in extra_sets:
                idx_list.append(extra_sets[fam][0])
                g_list.append(extra_sets[fam][1])
            if not idx_list:
                continue
            idx = np.concatenate(idx_list)
            g = np.concatenate(g_list)
            order = np.argsort(idx, kind="stable")
            idx, g = idx[order], g[order]
            bb = shapely.bounds(g)
            w0 = _world(bb[:, [0, 3]])  # west, north → min x, min y
            w1 = _world(bb[:, [2, 1]])  # east, south → max x, max y
            bbox = np.column_stack([w0 - origin, w1 - origin]).astype("<f4")
            parts.append(_Part(fam, idx.astype("<u4"), bbox))
            fam_geoms.append(g)
        sizes = np.concatenate([np.maximum(p.bbox[:, 2] - p.bbox[:, 0], p.bbox[:, 3] - p.bbox[:, 1])
                                for p in parts] or [np.empty(0, "<f4")])  # no parts: an empty layer
        typical = float(np.median(sizes)) if len(sizes) else 0.0

        lat = float((b[ok, 1].min() + b[ok, 3].max()) / 2) if ok.any() else 30.0
        full = [_encode(g, p.type, origin) for g, p in zip(fam_geoms, parts)]
        disp = cls(origin, parts, [full], [(99, 0)], typical, **simplification)
        disp._fam_geoms = fam_geoms
        disp._lat = lat
        return disp._with_bands(bands, progress, cancel)

    @classmethod
    def from_points(cls, xy: np.ndarray, bands: tuple[int, ...] = ZOOM_BANDS, **simplification: float) -> "BigDisplay":
        """What :meth:`from_geometries` gives for a layer of points, straight
        from their lon/lat (float64 (n, 2), all finite; zjmap.core.pointcolumn):
        no shapely point is made. Points have no simplified bands."""
        n = len(xy)
        origin = np.floor(_world(np.array([[xy[:, 0].min(), xy[:, 1].max()]]))[0]) if n else np.zeros(2)
        w = (_world(xy) - origin).astype("<f4")
        part = _Part("point", np.arange(n, dtype="<u4"), np.concatenate([w, w], axis=1))
        geom = _Geom(w.ravel(), None, np.arange(n + 1, dtype="<u4"))
        disp = cls(origin, [part], [[geom]], [(99, 0)], 0.0, **simplification)
        disp._fam_geoms = [np.empty(0, dtype=object)]  # points are never simplified: not needed
        disp._lat = float((xy[:, 1].min() + xy[:, 1].max()) / 2) if n else 30.0
        return disp._with_bands(bands, None, None)

    def with_bands(self, bands: tuple[int, ...] = ZOOM_BANDS, progress: ProgressFn | None = None,
                   cancel: CancelFn | None = None) -> "BigDisplay":
        """A new display (new key, new file) with the simplified zoom bands
        added to this one's full-resolution set: for layers first shown
        without them (:data:`DEFER_VERTICES`)."""
        disp = BigDisplay(self.origin, self.parts, [self.geoms[-1]], [(99, 0)], self.typical_px,
                          tolerance_px=self.tolerance_px, min_drop=self.min_drop)
        disp._fam_geoms = self._fam_geoms
        disp._lat = self._lat
        return disp._with_bands(bands, progress, cancel)

    def _with_bands(self, bands: tuple[int, ...], progress: ProgressFn | None, cancel: CancelFn | None) -> "BigDisplay":
        from zjmap.core.displaychunks import SLAB, bands_by_slabs

        if bands and max((len(g) for g in self._fam_geoms), default=0) > SLAB:
            return bands_by_slabs(self, bands, progress, cancel)  # a big layer: a slab of features at a time
        parts, origin, lat = self.parts, self.origin, self._lat
        rng = np.random.default_rng(0)
        sets: list[list[_Geom]] = [self.geoms[-1]]
        band_set: dict[int, int] = {}
        # a column of flat coordinates (zjmap.core.lazygeom) of a small layer: its shapes, made for this
        current = [g if isinstance(g, np.ndarray) or not bands else g[0:len(g)] for g in self._fam_geoms]
        # finest band first: each coarser band is simplified from the one before
        ordered = sorted(bands, reverse=True)
        for step, mz in enumerate(ordered):
            check_cancel(cancel)
            if progress is not None:
                progress(step / len(ordered), f"Simplifying for zoom ≤ {mz}")
            tol = band_tolerance(mz, lat, self.tolerance_px)
            new_geoms, changed = [], False
            for g, p in zip(current, parts):
                if _worth_simplifying(g, p.type, tol, rng, self.min_drop):
                    nverts = int(shapely.get_num_coordinates(g).sum())
                    cov = p.type == "polygon" and nverts <= COVERAGE_MAX_VERTICES
                    g = _simplify(g, p.type, tol, cov)
                    changed = True
                new_geoms.append(g)
            if changed:
                sets.insert(0, [_encode(g, p.type, origin) for g, p in zip(new_geoms, parts)])
                current = new_geoms
            band_set[mz] = -len(sets)  # counted from the end: stable as sets grow at the front
        band_list = [(mz, len(sets) + band_set[mz]) for mz in sorted(bands)]
        band_list.append((99, len(sets) - 1))
        if progress is not None:
            progress(1.0, "Display ready")
        self.geoms = sets
        self.bands = band_list
        return self

    def vertices(self) -> list[int]:
        return [sum(g.vertices() for g in s) for s in self.geoms]

    def geometry_payload(self, directory: Path | None = None) -> dict[str, Any]:
        """The geometry part of the payload: where each typed array lies in
        the binary file the page reads (:meth:`write`), written once.

        Sending typed arrays as a file instead of base64 inside the
        ``runJavaScript`` text saves encoding, a JSON string of tens of MB
        on both sides and the page's decoding: the page reads the file with
        one XMLHttpRequest into an ArrayBuffer and views it without copying.

        ``directory``: write the file there and name it relative to it (a
        page written into that directory, such as the start page with the
        base map, finds it beside itself and can be cached with it); by
        default a temporary file named by its absolute URL.
        """
        got = self._encoded.get(directory)
        if got is None:
            head_sets = self._head_sets() if directory is not None else len(self.geoms)
            path, *more = self._write_files(directory, head_sets)
            tail = more[0] if more else None
            got = self._encoded[directory] = {
                "key": self.key,
                "url": path.name if directory is not None else path.as_uri(),
                "bytes": path.stat().st_size,
                # the finer sets, in a file of their own read after the first drawing
                "more": None if tail is None else {"url": tail.name, "bytes": tail.stat().st_size, "from": head_sets},
                "origin": [float(self.origin[0]), float(self.origin[1])],
                "typical": self.typical_px,
                "features": int(max((int(p.feat.max()) + 1 for p in self.parts if len(p.feat)), default=0)),
                "parts": [{"type": p.type, "n": int(len(p.feat)), "feat": self._where["feat", i]}
                          for i, p in enumerate(self.parts)],
                "sets": [
                    [
                        {
                            "xy": self._where["xy", k, i],
                            "rings": None if g.rings is None else self._where["rings", k, i],
                            "frings": self._where["frings", k, i],
                        }
                        for i, g in enumerate(s)
                    ]
                    for k, s in enumerate(self.geoms)
                ],
                "bands": [[mz, i] for mz, i in self.bands],
                "chunked": self.chunked and len(self.geoms) == 1,
            }
        return got

    def _head_sets(self) -> int:
        """How many sets (coarsest first) the zooms up to HEAD_ZOOM draw from:
        all of them unless exactly the first few do."""
        used = {i for _, i in self._bands_to(HEAD_ZOOM)}
        k = max(used, default=len(self.geoms) - 1) + 1
        return k if used == set(range(k)) else len(self.geoms)

    def _bands_to(self, zoom: int) -> list[tuple[int, int]]:
        """The bands a zoom of at most ``zoom`` is drawn with (the page picks the
        first band whose deepest zoom is at least the view's)."""
        out = []
        for mz, i in sorted(self.bands):
            out.append((mz, i))
            if mz >= zoom:
                break
        return out

    def _layout(self, head_sets: int) -> tuple[list[list[np.ndarray]], dict[tuple, list[int]]]:
        """The arrays of each file in file order and where each lies in its file
        (offset, length), 4-byte aligned: the parts' feature numbers and the
        first ``head_sets`` sets, then (a second file) the rest, if any."""
        files: list[list[np.ndarray]] = [[]]
        where: dict[tuple, list[int]] = {}
        offset = 0

        def put(key: tuple, arr: np.ndarray) -> None:
            nonlocal offset
            where[key] = [offset, int(arr.size)]
            files[-1].append(arr)
            offset += arr.nbytes

        for i, p in enumerate(self.parts):
            put(("feat", i), p.feat.astype("<u4", copy=False))
        for k, s in enumerate(self.geoms):
            if k == head_sets:
                files.append([])
                offset = 0
            for i, g in enumerate(s):
                put(("xy", k, i), g.xy)
                if g.rings is not None:
                    put(("rings", k, i), g.rings)
                put(("frings", k, i), g.frings)
        return files, where

    def write(self, directory: Path | None = None) -> Path:
        """The arrays, one after another (little-endian), in ``directory`` or
        else in a temporary file deleted with this object (or at exit)."""
        return self._write_files(directory, len(self.geoms))[0]

    def _write_files(self, directory: Path | None, head_sets: int) -> list[Path]:
        """:meth:`write`, with the sets from ``head_sets`` on in a second file
        (if there are any)."""
        if directory is None and self._path is not None:
            return [self._path]
        files, self._where = self._layout(head_sets)
        path = (directory if directory is not None else _big_dir()) / f"{self.key}.bin"
        paths = [path, path.with_name(f"{self.key}.more.bin")][:len(files)]
        for p, chunks in zip(paths, files):
            p.unlink(missing_ok=True)  # a link to a cached file (mappage.build_page) is not written through
            with open(p, "wb") as fh:
                for arr in chunks:
                    fh.write(memoryview(np.ascontiguousarray(arr)).cast("B"))  # no copy of 200 MB of coordinates
        if directory is None:
            self._path = path
            weakref.finalize(self, _unlink, str(path))
        return paths

    def __getstate__(self) -> dict[str, Any]:
        # files written by this process are not the next one's
        return {**self.__dict__, "_encoded": {}, "_path": None}

    def styles_for(self, layer: MapLayer) -> dict[str, Any]:
        """Palette of distinct drawing styles and each feature's index into it."""
        key = json.dumps(layer.style, sort_keys=True, ensure_ascii=False, default=str)
        got = self._style_cache.get(key)  # the filter is part of the style
        if got is not None:
            return got
        from zjmap.core.stylepalette import style_palette

        styles, index = style_palette(layer.styler, layer.features, layer.hidden_rows)
        dtype = "<u1" if len(styles) <= 255 else "<u2" if len(styles) <= 65535 else "<u4"
        got = {"styles": styles, "index": _b64(index.astype(dtype)), "bytes": np.dtype(dtype).itemsize}
        if len(self._style_cache) > 8:
            self._style_cache.clear()
        self._style_cache[key] = got
        return got

    def labels_for(self, layer: MapLayer, fld: str | None) -> dict[str, Any] | None:
        if not fld:
            return None
        got = self._label_cache.get(fld)
        if got is None:
            feats = layer.features
            if hasattr(feats, "values_of"):
                texts = [_label(v) for v in feats.values_of(fld)]
            else:
                texts = [label_text(f.props, fld) for f in feats]
            points = getattr(feats, "points", None)  # a point table: its coordinates are the anchors
            at = points.xy if points is not None else label_anchors(layer_geometries(layer))
            w = (_world(at) - self.origin).astype("<f4")
            got = {"texts": texts, "xy": _b64(w.ravel())}
            self._label_cache.clear()
            self._label_cache[fld] = got
        out = dict(got)
        mz = layer.style.get("label_min_zoom")
        out["minZoom"] = mz
        return out


def page_head(layer: MapLayer) -> dict[str, Any]:
    """What the page is told about any layer, whatever draws it."""
    return {
        "id": layer.id,
        "kind": layer.kind,
        "geometry": layer.geometry,
        "visible": layer.visible,
        "opacity": layer.opacity,
        "interactive": layer.kind != "base",
    }


def big_payload(layer: MapLayer, directory: Path | None = None) -> dict[str, Any]:
    """The page's spec for a layer drawn by the canvas renderer: ``big``
    instead of GeoJSON ``data``. ``directory``: see :meth:`BigDisplay.geometry_payload`."""
    disp = layer.display.arrays
    if disp is None:
        opts = dict(layer.display.options or {})
        bands = tuple(opts.pop("zoom_bands", ZOOM_BANDS))
        disp = layer.display.arrays = BigDisplay.build(layer, bands=bands, **opts)
    return {
        **page_head(layer),
        "labels": None,
        "data": None,
        "big": {
            "geometry": disp.geometry_payload(directory),
            "style": disp.styles_for(layer),
            "labels": disp.labels_for(layer, layer.style.get("label_field")),
        },
    }
