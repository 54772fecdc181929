"""Geometry as drawn: links become arcs, coordinates are rounded for the page.

Identify uses the same drawn geometry (a click on an arc must hit the arc), so
this is the one place that decides what a feature looks like on the map.
"""

from __future__ import annotations

import math

import numpy as np
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry


def arc(line: LineString, bend: float = 0.18, n: int = 24) -> LineString:
    """A quadratic Bézier arc between a link's two ends, bowed to its left."""
    (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
    dx, dy = x1 - x0, y1 - y0
    length = math.hypot(dx, dy)
    if length == 0:
        return line
    cx = (x0 + x1) / 2 - dy * bend
    cy = (y0 + y1) / 2 + dx * bend
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2 = np.array([x0, y0]), np.array([cx, cy]), np.array([x1, y1])
    pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    return LineString(pts)


def drawn_geometry(geometry: BaseGeometry, kind: str) -> BaseGeometry:
    if kind == "link" and isinstance(geometry, LineString) and len(geometry.coords) == 2:
        return arc(geometry)
    return geometry


def degrees_per_pixel(zoom: float) -> float:
    """Width of one screen pixel at a Web-Mercator zoom, in degrees of longitude."""
    return 360.0 / (256.0 * 2.0**zoom)
