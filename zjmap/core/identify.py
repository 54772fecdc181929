"""What is at a map position: hit-testing in Python, not in the page.

Clicks arrive as lon/lat + zoom; an STRtree per layer answers them, so the
answer is the same for seed and user layers and stays fast for big layers.
A point table is answered from its coordinates (a distance test on the
arrays, helped by a longitude order), no geometry made. Each layer's index
can be built ahead (:meth:`Identifier.prepare`, on a worker right after the
layer is shown) so that the first click does not pay for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Point

from zjmap.core.display import degrees_per_pixel
from zjmap.core.layers import LayerStack, MapFeature, MapLayer

#: Most hits a big table gives one click (the nearest; see :meth:`Identifier.at`).
MAX_HITS = 50
_RANK = {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1}
BASE_LEVELS = ("base_county", "base_prefecture", "base_province")


@dataclass(frozen=True)
class Hit:
    """One feature under the cursor. A big table's is made only when asked
    for (:attr:`feature`): a click reads the first of up to fifty, a hover one."""

    distance: float  # degrees; 0 inside a polygon
    rank: int  # 0 a point, 1 a line, 2 an area: the most specific first
    area: float
    layer_id: str
    make: Callable[[], MapFeature] = field(repr=False, compare=False)

    @cached_property
    def feature(self) -> MapFeature:
        return self.make()

    @classmethod
    def of(cls, f: MapFeature, distance: float) -> "Hit":
        return cls(float(distance), _RANK.get(f.geometry.geom_type, 2), float(f.geometry.area), f.layer_id, lambda: f)


class Identifier:
    """Spatial index over the stack, rebuilt per layer when layers change."""

    def __init__(self, stack: LayerStack):
        self.stack = stack
        #: per layer id: (the layer it was built for, its tree, its features)
        self._trees: dict[str, tuple[MapLayer, STRtree, Sequence[MapFeature]]] = {}
        self._building: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._insets: dict[str, tuple[Any, Any]] = {}
        #: (layer id, base unit id, inset): (the layer, its features, the rows it holds in the unit)
        self._contents: dict[tuple[str, str, float], tuple[MapLayer, Sequence[MapFeature], np.ndarray]] = {}
        stack.subscribe(self._on_change)

    def _on_change(self, event: str, layer_id: str) -> None:
        if event in ("added", "removed"):
            self._trees.pop(layer_id, None)
            for key in [k for k in self._contents if k[0] == layer_id]:
                self._contents.pop(key, None)

    def prepare(self, layer: MapLayer, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Build what identifying ``layer`` needs now (safe on a worker thread):
        a point table's longitude order, else the layer's tree; a big table's
        column readers. A click that
        comes meanwhile waits for the tree being built rather than building a
        second one; a point click scans the coordinates until the order exists."""
        if cancelled():
            return
        feats = layer.features
        points = getattr(feats, "points", None)
        if points is not None:
            points.build_index()
        else:
            self._tree(layer)
        if getattr(feats, "lazy", False) and len(feats) and not cancelled():
            feats.name(0)  # a big table's column readers, which the panel's first row
            feats.props(0)  # and place list would otherwise set up (~15 ms a text column)

    def _tree(self, layer: MapLayer) -> tuple[STRtree, Sequence[MapFeature]]:
        got = self._trees.get(layer.id)
        if got is None or got[0] is not layer:
            with self._locks_lock:
                lock = self._building.setdefault(layer.id, threading.Lock())
            with lock:
                got = self._trees.get(layer.id)
                if got is None or got[0] is not layer:
                    feats = layer.features
                    col = getattr(feats, "column", None)
                    if hasattr(col, "query"):  # flat coordinates (zjmap.core.lazygeom): boxes first, shapes made per hit
                        col.bounds()  # its boxes, computed once (what the tree is for the others)
                        got = (layer, col, feats)
                    elif getattr(feats, "lazy", False):  # a big table: its geometry array, features made per hit
                        got = (layer, STRtree(feats.geoms), feats)
                    else:
                        feats = list(feats)
                        got = (layer, STRtree([f.geometry for f in feats]), feats)
                    if any(held is layer for held in self.stack):  # not removed while it was built
                        self._trees[layer.id] = got
        return got[1], got[2]

    def at(self, lon: float, lat: float, zoom: float, tolerance_px: float = 6.0) -> list[Hit]:
        """Thematic features (not base units) under the cursor, most specific first."""
        pt = Point(lon, lat)
        tol = degrees_per_pixel(zoom) * tolerance_px
        hits: list[Hit] = []
        for layer in reversed(self.stack.visible_layers()):
            if layer.kind == "base":
                continue
            feats = layer.features
            points = getattr(feats, "points", None)
            if points is not None:  # a point table: a distance test on its coordinates, nearest first
                near = self._shown(layer, points.within(lon, lat, tol))[:MAX_HITS]
                d = np.hypot(points.xy[near, 0] - lon, points.xy[near, 1] - lat)
                hits.extend(Hit(dist, 0, 0.0, layer.id, partial(feats.__getitem__, i))
                            for i, dist in zip(near.tolist(), d.tolist()))
                continue
            tree, feats = self._tree(layer)
            idx = tree.query(pt, predicate="dwithin", distance=tol)
            if getattr(feats, "lazy", False):
                # a big table: the candidates ranked on its geometry (a column of
                # flat coordinates makes only these), features made for none of
                # them yet (at a provincial view thousands are within 6 px)
                idx = self._shown(layer, idx)
                g = feats.column[idx]
                tid = shapely.get_type_id(g)
                rank = np.select([tid <= 0, tid == 4, np.isin(tid, (1, 2, 5))], [0, 0, 1], 2)
                dist, area = shapely.distance(g, pt), shapely.area(g)
                for j in np.lexsort((area, dist, rank))[:MAX_HITS].tolist():
                    hits.append(Hit(float(dist[j]), int(rank[j]), float(area[j]), layer.id,
                                    partial(feats.__getitem__, int(idx[j]))))
                continue
            for i in idx:
                f = feats[int(i)]
                if f.id not in layer.hidden:  # left out by the layer's filter
                    hits.append(Hit.of(f, f.geometry.distance(pt)))
        order = {lid: n for n, lid in enumerate(reversed(self.stack.ids()))}
        hits.sort(key=lambda h: (h.rank, h.distance, h.area, order.get(h.layer_id, 0)))
        return hits

    @staticmethod
    def _shown(layer: MapLayer, rows: np.ndarray) -> np.ndarray:
        """The rows of a big table its filter keeps (by id: no feature made)."""
        if not layer.hidden:
            return rows
        p = layer.features.prefix
        return np.array([i for i in rows.tolist() if p + str(i) not in layer.hidden], dtype=np.int64)

    def base_unit_at(self, lon: float, lat: float) -> MapFeature | None:
        """The smallest base unit (county, then city, then province) under a point."""
        pt = Point(lon, lat)
        for layer_id in BASE_LEVELS:
            if layer_id not in self.stack:
                continue
            tree, feats = self._tree(self.stack.layer(layer_id))
            idx = tree.query(pt, predicate="intersects")
            if len(idx):
                return feats[int(idx[0])]
        return None

    def everything_in(self, unit: MapFeature, inset_deg: float = 0.004) -> list[MapFeature]:
        """Thematic features that lie in, cover, or run through a base unit,
        in every layer, shown or hidden: what the documents say about the place.

        Polygons count when they reach into the unit by more than ~400 m, so
        neighbours that only share its border stay out; testing against the
        inset unit avoids computing costly intersections of big polygons.
        """
        return [feats[int(i)] for feats, idx in self._inside(unit, inset_deg) for i in idx]

    def ids_in(self, unit: MapFeature, inset_deg: float = 0.004) -> list[str]:
        """The ids of :meth:`everything_in`, without making a big table's
        features (a county holds tens of thousands of a million points)."""
        out: list[str] = []
        for feats, idx in self._inside(unit, inset_deg):
            if getattr(feats, "lazy", False):
                p = feats.prefix
                out.extend(p + str(k) for k in idx.tolist())
            else:
                out.extend(feats[int(i)].id for i in idx)
        return out

    def _inside(self, unit: MapFeature, inset_deg: float) -> list[tuple[Sequence[MapFeature], np.ndarray]]:
        out = []
        for layer in reversed(list(self.stack)):
            if layer.kind != "base":
                out.append(self._layer_inside(layer, unit, inset_deg))
        return out

    def _unit_shapes(self, unit: MapFeature, inset_deg: float) -> tuple[Any, Any]:
        """The unit and the unit drawn in by ``inset_deg``, both prepared (made once)."""
        key = f"{unit.id}@{inset_deg}"
        got = self._insets.get(key)
        if got is None:
            whole = unit.geometry
            inner = whole.buffer(-inset_deg)
            if inner.is_empty:  # a unit smaller than the inset (an islet)
                inner = whole
            shapely.prepare(inner)
            shapely.prepare(whole)
            got = self._insets[key] = (whole, inner)
        return got

    def _layer_inside(self, layer: MapLayer, unit: MapFeature, inset_deg: float
                      ) -> tuple[Sequence[MapFeature], np.ndarray]:
        """What one layer holds in a unit, kept until that layer comes or goes."""
        key = (layer.id, unit.id, inset_deg)
        got = self._contents.get(key)
        if got is not None and got[0] is layer:
            return got[1], got[2]
        points = getattr(layer.features, "points", None)
        if points is not None:  # a point table: its coordinates tested, no tree of a million points
            whole = unit.geometry
            shapely.prepare(whole)
            near = points.in_box(*whole.bounds)
            xy = points.xy[near]
            feats, idx = layer.features, near[shapely.intersects_xy(whole, xy[:, 0], xy[:, 1])]
        else:
            whole, inner = self._unit_shapes(unit, inset_deg)
            tree, feats = self._tree(layer)
            if getattr(feats, "lazy", False):
                # a big table: each candidate tested once (a polygon against the
                # inset unit alone: meeting it means meeting the unit)
                idx = tree.query(whole)
                col = feats.column
                if getattr(col, "family", None) == "polygon":
                    idx = self._polygons_meeting(col, idx, inner)
                else:
                    g = col[idx]  # a column of flat coordinates makes only these
                    poly = np.isin(shapely.get_type_id(g), (3, 6))
                    keep = np.empty(len(idx), dtype=bool)
                    keep[poly] = shapely.intersects(inner, g[poly])
                    keep[~poly] = shapely.intersects(whole, g[~poly])
                    idx = idx[keep]
            else:
                idx = tree.query(whole, predicate="intersects")
                idx = np.array([i for i in idx if feats[int(i)].geometry.geom_type not in ("Polygon", "MultiPolygon")
                                or inner.intersects(feats[int(i)].geometry)], dtype=np.int64)
        self._contents[key] = (layer, feats, idx)
        return feats, idx

    @staticmethod
    def _polygons_meeting(col: Any, idx: np.ndarray, inner: Any) -> np.ndarray:
        """The rows of a column of polygons (zjmap.core.lazygeom) among ``idx``
        that meet ``inner``, prepared. A box clear of its boundary (no cell
        of :func:`_boundary_cells` under it) lies wholly inside or outside,
        which one corner tells: inside holds a polygon that meets it, outside
        one that does not. Only the boxes near the boundary are tested as
        boxes, and only those across it have their shapes made (a county of
        a million parcels: the few hundred along its border, not its
        hundred thousand candidates)."""
        if len(idx) == 0:
            return idx
        b = col.bounds()[idx]
        solid = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])  # not a box of no area (a sliver, an empty shape: NaN)
        keep = np.zeros(len(idx), dtype=bool)
        near = ~solid  # a box of no area: always tested as a shape
        if solid.any():
            near[solid] = _boundary_cells(inner, b[solid]).under(b[solid])
        clear = np.flatnonzero(~near)
        keep[clear] = shapely.contains_xy(inner, b[clear, 0], b[clear, 1])
        k = np.flatnonzero(near & solid)
        boxes = shapely.box(b[k, 0], b[k, 1], b[k, 2], b[k, 3])
        inside = shapely.contains_properly(inner, boxes)
        keep[k[inside]] = True
        edge = np.concatenate([k[~inside & shapely.intersects(inner, boxes)], np.flatnonzero(~solid)])
        if len(edge):
            keep[edge] = shapely.intersects(inner, col.rows(idx[edge]))
        return idx[keep]


class _Cells:
    """A grid over a shape's box with the cells its boundary passes through
    marked, as a summed-area table: how many marked cells a box covers is
    four lookups."""

    def __init__(self, x0: float, y0: float, cell: float, marked: np.ndarray):
        self.x0, self.y0, self.cell = x0, y0, cell
        self.ny, self.nx = marked.shape
        self.sat = np.zeros((self.ny + 1, self.nx + 1), dtype=np.int32)
        self.sat[1:, 1:] = marked.astype(np.int32).cumsum(0).cumsum(1)

    def under(self, b: np.ndarray) -> np.ndarray:
        """Whether each box (west, south, east, north) covers a marked cell."""
        i0 = np.clip(np.floor((b[:, 0] - self.x0) / self.cell).astype(np.int64), 0, self.nx - 1)
        i1 = np.clip(np.floor((b[:, 2] - self.x0) / self.cell).astype(np.int64), 0, self.nx - 1)
        j0 = np.clip(np.floor((b[:, 1] - self.y0) / self.cell).astype(np.int64), 0, self.ny - 1)
        j1 = np.clip(np.floor((b[:, 3] - self.y0) / self.cell).astype(np.int64), 0, self.ny - 1)
        s = self.sat
        return (s[j1 + 1, i1 + 1] - s[j0, i1 + 1] - s[j1 + 1, i0] + s[j0, i0]) > 0


#: cells at most in a boundary grid (the cells grow for a big shape)
MAX_CELLS = 2_000_000


def _boundary_cells(shape: Any, boxes: np.ndarray) -> _Cells:
    """The cells (about a box's size) a shape's boundary passes through.
    Hand-written: GEOS tests one box at a time. The boundary is sampled at
    under half a cell and each sample marks its cell and the eight around
    it, so every point of the boundary lies in a marked cell: a box that
    covers none is clear of the boundary (conservative: never the reverse)."""
    x0, y0, x1, y1 = shape.bounds
    size = float(np.median(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])))
    cell = max(size, np.sqrt(max((x1 - x0) * (y1 - y0), 1e-18) / MAX_CELLS), 1e-9)
    x0, y0 = x0 - cell, y0 - cell
    nx, ny = int((x1 + cell - x0) / cell) + 1, int((y1 + cell - y0) / cell) + 1
    pts = shapely.get_coordinates(shapely.segmentize(shapely.boundary(shape), cell / 2))
    marked = np.zeros((ny, nx), dtype=bool)
    i = np.clip(((pts[:, 0] - x0) / cell).astype(np.int64), 0, nx - 1)
    j = np.clip(((pts[:, 1] - y0) / cell).astype(np.int64), 0, ny - 1)
    for dj in (-1, 0, 1):
        for di in (-1, 0, 1):
            marked[np.clip(j + dj, 0, ny - 1), np.clip(i + di, 0, nx - 1)] = True
    return _Cells(x0, y0, cell, marked)
