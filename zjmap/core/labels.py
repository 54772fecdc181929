"""Where labels go and what they say: the one label placer.

The page's name labels (``mappage``), the canvas renderer's field labels
(``bigdisplay``) and the exporter (``export_plan``) all take their anchors
and texts from here, so a label sits in the same place on screen and on
paper. A polygon's label goes on a point inside it (GEOS point-on-surface,
the same as shapely's ``representative_point``); a base unit's at the
``label_lon``/``label_lat`` geodata/ gives it. Which labels are shown when
they would overlap is each renderer's business (by priority on the page).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely


def label_text(v: Any) -> str:
    """A value as label text: "" for none, 12 rather than 12.0."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def anchors(geoms: Sequence[Any] | np.ndarray) -> np.ndarray:
    """(n, 2) lon/lat of each geometry's label point; NaN for an empty one."""
    pts = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    xy = np.full((len(pts), 2), np.nan)
    ok = ~shapely.is_empty(pts) & ~shapely.is_missing(pts)
    if ok.any():
        xy[ok] = shapely.get_coordinates(pts[ok])
    return xy


def name_labels(features: Iterable[Any], kind: str, skip: frozenset[str] = frozenset()) -> list[tuple[str, float, float]]:
    """(name, lon, lat) of the name labels of a base or seed layer's features."""
    if kind == "base":
        return [(f.name, float(f.props["label_lon"]), float(f.props["label_lat"]))
                for f in features if "label_lon" in f.props and f.name not in skip]
    feats = list(features)
    xy = anchors([f.geometry for f in feats])
    return [(f.name, float(x), float(y)) for f, (x, y) in zip(feats, xy) if x == x]


def field_labels(features: Iterable[Any], fld: str) -> list[tuple[str, float, float]]:
    """(text, lon, lat) of features labelled by a field (those with a value and a shape)."""
    feats = [f for f in features if f.props.get(fld) is not None]
    xy = anchors([f.geometry for f in feats])
    return [(label_text(f.props.get(fld)), float(x), float(y)) for f, (x, y) in zip(feats, xy) if x == x]
