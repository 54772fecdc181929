"""A big layer's display arrays made chunk by chunk while the file is read.

Encoding 25 M vertices at once (a million parcels) took 8 s after the read
and a transient 1.5 GB of float64 coordinates and projection temporaries.
Each chunk the reader hands over is encoded instead (on the cleaning thread,
while GDAL reads the next one): flat float32 arrays relative to one origin,
exactly what :func:`zjmap.core.bigdisplay._encode` makes for the whole layer.
:func:`assemble` joins them into the full-resolution set of a
:class:`~zjmap.core.bigdisplay.BigDisplay` without touching a vertex again,
and the window can send each chunk to the page as it comes (the first
picture of a big file within a second or two, the rest drawn as it is read).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from zjmap.core.bigdisplay import (
    COVERAGE_MAX_VERTICES, ZOOM_BANDS, BigDisplay, CancelFn, ProgressFn, band_tolerance, _encode, _families,
    encode_ragged,
    _Geom, _Part, _simplify, _world, check_cancel,
)

__all__ = ["SLAB", "ChunkEncoder", "DisplayChunk", "assemble", "bands_by_slabs", "chunk_spec", "encode_column",
           "num_vertices"]

FAMILIES = ("polygon", "line", "point")


@dataclass
class DisplayChunk:
    """One chunk's full-resolution display arrays: ``parts`` / ``geoms`` as
    in a BigDisplay's one set, with ``feat`` counted within the chunk; its
    rows are the layer's ``start`` … ``start + n - 1``."""

    start: int
    n: int
    origin: np.ndarray  # the layer's origin (the first chunk's north-west corner)
    parts: list[_Part]
    geoms: list[_Geom]
    lat_range: tuple[float, float]  # south, north (degrees)

    def vertices(self) -> int:
        return sum(g.vertices() for g in self.geoms)


class ChunkEncoder:
    """Encodes a layer's chunks in row order (one thread calls :meth:`add`).
    ``usable`` turns False at a geometry collection (drawn member by member:
    the layer is then encoded as a whole, after the read)."""

    def __init__(self) -> None:
        self.origin: np.ndarray | None = None
        self.start = 0
        self.usable = True

    def add(self, geoms: np.ndarray, ragged: Any = None) -> DisplayChunk | None:
        """The chunk of the next ``len(geoms)`` rows (WGS-84, none missing or
        empty). ``ragged``: the same shapes' flat coordinates already taken
        out (a :class:`~zjmap.core.lazygeom.RaggedPiece`: one family), used
        instead of taking them out again."""
        start = self.start
        self.start += len(geoms)
        if not self.usable or len(geoms) == 0:
            return None
        fams = _families(geoms) if ragged is None else {ragged.family: np.arange(len(geoms))}
        if "collection" in fams:
            self.usable = False
            return None
        b = shapely.bounds(geoms) if ragged is None else ragged.bounds
        if self.origin is None:
            self.origin = np.floor(_world(np.array([[b[:, 0].min(), b[:, 3].max()]]))[0])
        origin = self.origin
        parts, out = [], []
        for fam in FAMILIES:
            idx = fams.get(fam)
            if idx is None:
                continue
            bb = b[idx]
            w0 = _world(bb[:, [0, 3]])
            w1 = _world(bb[:, [2, 1]])
            parts.append(_Part(fam, idx.astype("<u4"), np.column_stack([w0 - origin, w1 - origin]).astype("<f4")))
            if ragged is None:
                out.append(_encode(geoms[idx], fam, origin))
            else:
                out.append(encode_ragged(ragged.coords, ragged.offsets, fam, origin))
        return DisplayChunk(start, len(geoms), origin, parts, out, (float(b[:, 1].min()), float(b[:, 3].max())))


def _join_offsets(offs: list[np.ndarray], shifts: list[int]) -> np.ndarray:
    """Offset arrays (each with its end) of consecutive pieces as one."""
    pieces = [o[:-1].astype(np.int64) + s for o, s in zip(offs, shifts)]
    pieces.append(np.array([int(offs[-1][-1]) + shifts[-1]], dtype=np.int64))
    return np.concatenate(pieces).astype("<u4")


def join_geoms(family: str, geoms: list[_Geom | None]) -> _Geom:
    """Consecutive pieces of one family's flat arrays as one. Each piece in
    the list gives up its coordinates once they are copied (25 M vertices
    are not held twice while they are joined)."""
    if len(geoms) == 1:
        return geoms[0]  # type: ignore[return-value]
    verts = np.cumsum([0] + [g.vertices() for g in geoms])[:-1].tolist()  # type: ignore[union-attr]
    xy = np.empty(sum(len(g.xy) for g in geoms), dtype="<f4")  # type: ignore[union-attr]
    pos = 0
    for k, g in enumerate(geoms):
        n = len(g.xy)  # type: ignore[union-attr]
        xy[pos:pos + n] = g.xy  # type: ignore[union-attr]
        pos += n
        geoms[k] = _Geom(np.empty(0, "<f4"), g.rings, g.frings)  # type: ignore[union-attr]
    if family == "point":
        return _Geom(xy, None, _join_offsets([g.frings for g in geoms], verts))
    nrings = np.cumsum([0] + [len(g.rings) - 1 for g in geoms])[:-1].tolist()  # type: ignore[arg-type]
    rings = _join_offsets([g.rings for g in geoms], verts)  # type: ignore[misc]
    return _Geom(xy, rings, _join_offsets([g.frings for g in geoms], nrings))


def assemble(chunks: list[DisplayChunk], geoms: np.ndarray, progress: ProgressFn | None = None,
             cancel: CancelFn | None = None, bands: tuple[int, ...] = ZOOM_BANDS) -> BigDisplay | None:
    """The layer's BigDisplay from its chunks (``geoms``: the layer's
    geometries, for the zoom bands), or None when the chunks do not cover
    the layer row for row."""
    chunks = [c for c in chunks if c is not None]
    if not chunks or sum(c.n for c in chunks) != len(geoms):
        return None
    if any(c.origin is not chunks[0].origin for c in chunks):
        return None
    expect = 0
    for c in chunks:
        if c.start != expect:
            return None
        expect += c.n
    parts: list[_Part] = []
    full: list[_Geom] = []
    fam_geoms: list[np.ndarray] = []
    south = min(c.lat_range[0] for c in chunks)
    north = max(c.lat_range[1] for c in chunks)
    origin = chunks[0].origin
    by_family = {fam: [(c.start, p, g) for c in chunks for p, g in zip(c.parts, c.geoms) if p.type == fam]
                 for fam in FAMILIES}
    for c in chunks:  # the chunks give up their arrays: each piece is freed once joined
        c.parts, c.geoms = [], []
    del chunks
    for fam in FAMILIES:
        got = by_family.pop(fam)
        if not got:
            continue
        feat = np.concatenate([p.feat.astype(np.int64) + start for start, p, _g in got]).astype("<u4")
        bbox = np.concatenate([p.bbox for _s, p, _g in got])
        parts.append(_Part(fam, feat, bbox))
        pieces = [g for _s, _p, g in got]
        del got
        full.append(join_geoms(fam, pieces))
        # a layer of flat coordinates (zjmap.core.lazygeom) is one family: the column itself,
        # its shapes made a slab at a time for the zoom bands
        fam_geoms.append(geoms if not isinstance(geoms, np.ndarray) and len(feat) == len(geoms) else geoms[feat])
    sizes = np.concatenate([np.maximum(p.bbox[:, 2] - p.bbox[:, 0], p.bbox[:, 3] - p.bbox[:, 1]) for p in parts])
    disp = BigDisplay(origin, parts, [full], [(99, 0)], float(np.median(sizes)) if len(sizes) else 0.0)
    disp._fam_geoms = fam_geoms
    disp._lat = (south + north) / 2
    disp.chunked = True
    return disp._with_bands(bands, progress, cancel)


def chunk_spec(layer_id: str, chunk: DisplayChunk, color: str) -> tuple[dict[str, Any], BigDisplay]:
    """What the page's ``addChunk`` gets for one chunk, drawn in the layer's
    first colour, and the one-set display that owns its array file (written
    here, on the reading side; the file goes with that object)."""
    from zjmap.core.styling import LayerStyler

    disp = BigDisplay(chunk.origin, chunk.parts, [chunk.geoms], [(99, 0)], 0.0)
    kind = chunk.parts[0].type if len({p.type for p in chunk.parts}) == 1 else "mixed"
    look = LayerStyler({"kind": "single", "color": color}, kind, []).feature_style({})
    head = {"id": layer_id, "kind": "user", "geometry": kind, "visible": True, "opacity": 1.0, "interactive": False}
    spec = {**head, "big": {"style": {"styles": [look]}, "chunk": disp.geometry_payload()}}
    disp.parts, disp.geoms = [], []  # written: it keeps only its file (the arrays are the layer's)
    return spec, disp


#: Features simplified at a time when a big layer gets its zoom bands.
SLAB = 50_000


def num_vertices(g: Any) -> int:
    """Vertices of an array of shapes or of a column of flat coordinates (zjmap.core.lazygeom)."""
    return int(shapely.get_num_coordinates(g).sum()) if isinstance(g, np.ndarray) else int(g.vertices())


def encode_column(column: Any, cancel: CancelFn | None = None, step: int = 20_000) -> list[DisplayChunk | None]:
    """The display chunks of a column of flat coordinates read without a
    window (a workspace, the command line): its shapes made a slab at a time."""
    encoder = ChunkEncoder()
    out: list[DisplayChunk | None] = []
    for a in range(0, len(column), step):
        check_cancel(cancel)
        out.append(encoder.add(column[a:a + step]))
    return out


def bands_by_slabs(disp: BigDisplay, bands: tuple[int, ...], progress: ProgressFn | None = None,
                   cancel: CancelFn | None = None) -> BigDisplay:
    """``disp`` with its zoom bands, simplified :data:`SLAB` features at a
    time: the simplified shapes of a million parcels (hundreds of MB of GEOS
    objects per band, three bands at once) never all exist together, only
    their flat arrays. The same bands as
    :meth:`~zjmap.core.bigdisplay.BigDisplay._with_bands` makes at once: each
    coarser band simplified from the finer one, a band kept where a sample
    shows it drops enough vertices (here one sample carried band to band),
    polygon parts small enough for it simplified as a coverage in one go."""
    parts, origin = disp.parts, disp.origin
    ordered = sorted(bands, reverse=True)
    tols = [band_tolerance(mz, disp._lat, disp.tolerance_px) for mz in ordered]
    rng = np.random.default_rng(0)
    worth: list[list[bool]] = []  # [part][band]
    for g, p in zip(disp._fam_geoms, parts):
        w: list[bool] = []
        sample = g[rng.choice(len(g), size=min(len(g), 1500), replace=False)] if len(g) and p.type != "point" else None
        for tol in tols:
            ok = False
            if sample is not None:
                before = int(shapely.get_num_coordinates(sample).sum())
                simp = shapely.simplify(sample, tol, preserve_topology=False)
                ok = before > 0 and int(shapely.get_num_coordinates(simp).sum()) <= (1 - disp.min_drop) * before
                if ok:
                    sample = simp
            w.append(ok)
        worth.append(w)
    changed = [any(w[b] for w in worth) for b in range(len(ordered))]
    pieces: list[list[list[_Geom]]] = [[[] for _p in parts] for _b in ordered]  # [band][part]
    total = max(1, sum(len(g) for g in disp._fam_geoms))
    done = 0
    for i, (g, p) in enumerate(zip(disp._fam_geoms, parts)):
        cov = p.type == "polygon" and num_vertices(g) <= COVERAGE_MAX_VERTICES
        step = max(1, len(g)) if cov else SLAB
        for s in range(0, len(g), step):
            check_cancel(cancel)
            cur = g[s:s + step]
            for b, tol in enumerate(tols):
                if worth[i][b]:
                    cur = _simplify(cur, p.type, tol, cov)
                if changed[b]:
                    pieces[b][i].append(_encode(cur, p.type, origin))
            done += len(cur)
            if progress is not None:
                progress(done / total, "Simplifying for the zoom bands")
    sets: list[list[_Geom]] = [disp.geoms[-1]]
    band_set: dict[int, int] = {}
    for b, mz in enumerate(ordered):  # finest first, as _with_bands
        if changed[b]:
            sets.insert(0, [join_geoms(p.type, pieces[b][i]) for i, p in enumerate(parts)])
            pieces[b] = []
        band_set[mz] = -len(sets)
    disp.geoms = sets
    disp.bands = [(mz, len(sets) + band_set[mz]) for mz in sorted(bands)] + [(99, len(sets) - 1)]
    if progress is not None:
        progress(1.0, "Display ready")
    return disp
