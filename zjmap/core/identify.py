"""What is at a map position: hit-testing in Python, not in the page.

Clicks arrive as lon/lat + zoom; an STRtree per layer answers them, so the
answer is the same for seed and user layers and stays fast for big layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
    feature: MapFeature
    distance: float  # degrees; 0 inside a polygon


class Identifier:
    """Spatial index over the stack, rebuilt per layer when layers change."""

    def __init__(self, stack: LayerStack):
        self.stack = stack
        self._trees: dict[str, tuple[STRtree, Sequence[MapFeature]]] = {}
        self._insets: dict[str, object] = {}
        stack.subscribe(self._on_change)

    def _on_change(self, event: str, layer_id: str) -> None:
        if event in ("added", "removed"):
            self._trees.pop(layer_id, None)

    def _tree(self, layer: MapLayer) -> tuple[STRtree, Sequence[MapFeature]]:
        got = self._trees.get(layer.id)
        if got is None:
            feats = layer.features
            col = getattr(feats, "column", None)
            if hasattr(col, "query"):  # flat coordinates (zjmap.core.lazygeom): boxes first, shapes made per hit
                got = (col, feats)
            elif getattr(feats, "lazy", False):  # a big table: its geometry array, features made per hit
                got = (STRtree(feats.geoms), feats)
            else:
                feats = list(feats)
                got = (STRtree([f.geometry for f in feats]), feats)
            self._trees[layer.id] = got
        return got

    def at(self, lon: float, lat: float, zoom: float, tolerance_px: float = 6.0) -> list[Hit]:
        """Thematic features (not base units) under the cursor, most specific first."""
        pt = Point(lon, lat)
        tol = degrees_per_pixel(zoom) * tolerance_px
        hits: list[Hit] = []
        for layer in reversed(self.stack.visible_layers()):
            if layer.kind == "base":
                continue
            points = getattr(layer.features, "points", None)
            if points is not None:  # a point table: a distance test on its coordinates, nearest first
                feats = layer.features
                for i in points.within(lon, lat, tol)[:MAX_HITS].tolist():
                    f = feats[i]
                    if f.id not in layer.hidden:
                        hits.append(Hit(f, float(f.geometry.distance(pt))))
                continue
            tree, feats = self._tree(layer)
            idx = tree.query(pt, predicate="dwithin", distance=tol)
            if getattr(feats, "lazy", False) and len(idx) > MAX_HITS:
                # a big table: rank the candidates on its geometry array and make
                # features only for the nearest (a click on a million points at a
                # provincial view is within 6 px of thousands)
                g = feats.column[idx]  # a column of flat coordinates makes only these
                rank = np.select([shapely.get_type_id(g) <= 0, shapely.get_type_id(g) == 4,
                                  np.isin(shapely.get_type_id(g), (1, 2, 5))], [0, 0, 1], 2)
                keep = np.lexsort((shapely.area(g), shapely.distance(g, pt), rank))[:MAX_HITS]
                idx = idx[keep]
            for i in idx:
                f = feats[int(i)]
                if f.id not in layer.hidden:  # left out by the layer's filter
                    hits.append(Hit(f, float(f.geometry.distance(pt))))
        order = {lid: n for n, lid in enumerate(reversed(self.stack.ids()))}
        hits.sort(
            key=lambda h: (
                _RANK.get(h.feature.geometry.geom_type, 2),
                h.distance,
                h.feature.geometry.area,
                order.get(h.feature.layer_id, 0),
            )
        )
        return hits

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
        inner = self._insets.get(unit.id)
        if inner is None:
            inner = unit.geometry.buffer(-inset_deg)
            if inner.is_empty:  # a unit smaller than the inset (an islet)
                inner = unit.geometry
            shapely.prepare(inner)
            self._insets[unit.id] = inner
        whole = unit.geometry
        shapely.prepare(whole)
        out = []
        for layer in reversed(list(self.stack)):
            if layer.kind == "base":
                continue
            points = getattr(layer.features, "points", None)
            if points is not None:  # a point table: its coordinates tested, no tree of a million points
                x, y = points.xy[:, 0], points.xy[:, 1]
                w, s, e, n = whole.bounds
                near = np.flatnonzero((x >= w) & (x <= e) & (y >= s) & (y <= n))
                out.append((layer.features, near[shapely.intersects_xy(whole, x[near], y[near])]))
                continue
            tree, feats = self._tree(layer)
            idx = tree.query(whole, predicate="intersects")
            if getattr(feats, "lazy", False):
                g = feats.column[idx]  # a column of flat coordinates makes only these
                poly = np.isin(shapely.get_type_id(g), (3, 6))
                keep = ~poly
                keep[poly] = shapely.intersects(inner, g[poly])
                idx = idx[keep]
            else:
                idx = np.array([i for i in idx if feats[int(i)].geometry.geom_type not in ("Polygon", "MultiPolygon")
                                or inner.intersects(feats[int(i)].geometry)], dtype=np.int64)
            out.append((feats, idx))
        return out
