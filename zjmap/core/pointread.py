"""Reading a point layer as coordinates: lon/lat tables and 2D point files.

``read_layer`` (:mod:`zjmap.core.userfiles`) sends a CSV and any layer whose
file declares plain 2D points here. The same steps as its general path
(shapes left out where missing, the coordinate system decided from the
first batch's extent, reprojected to WGS-84, rows that cannot be converted
left out, the same warnings) done on two columns of numbers with numpy and
pyproj instead of a shapely point per row: the result is a
:class:`~zjmap.core.pointcolumn.PointFrame` whose points are made only when
something needs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from pyproj import CRS

from zjmap.core.crsguess import _CHINA, _CrsDecision, _decide_crs, _fmt_lonlat, _overlaps
from zjmap.core.pointcolumn import PointColumn, PointFrame
from zjmap.core.userfile_types import LoadedLayer, UserFileError, _Layer, _Run

__all__ = ["NotPlainPoints", "left_out_warnings", "read_points"]


class NotPlainPoints(Exception):
    """The file said points but holds other shapes: read it the general way."""


PointBatches = Iterator[tuple[pd.DataFrame, np.ndarray, np.ndarray]]


def read_points(lay: _Layer, reader: Any, batches: PointBatches, override: CRS | None, warnings: list[str],
                run: _Run) -> LoadedLayer:
    """``batches``: (attributes, lon/lat or source xy float64 (n, 2), has-a-point mask) per batch."""
    attrs_parts: list[pd.DataFrame] = []
    xy_parts: list[np.ndarray] = []
    decision: _CrsDecision | None = None
    done = skipped = outside = 0
    for attrs, xy, ok in batches:
        done += len(attrs)
        skipped += int((~ok).sum())
        if not ok.all():
            attrs, xy = attrs.loc[ok], xy[ok]
        if decision is None and (len(xy) or reader.bounds is not None):
            bounds = reader.bounds if reader.bounds is not None else (
                float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))
            decision = _decide_crs(override, reader.declared_crs, reader.crs_problem, bounds, lay)
            warnings.extend(decision.warnings)
        if decision is not None and decision.transformer is not None and len(xy):
            x, y = decision.transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)
            xy = np.column_stack([x, y])
            fine = np.isfinite(xy).all(axis=1)
            if not fine.all():
                outside += int((~fine).sum())
                attrs, xy = attrs.loc[fine], xy[fine]
        attrs_parts.append(attrs)
        xy_parts.append(xy)
        total = max(reader.total, done, 1)
        run.report(0.02 + 0.96 * done / total, f"Read {done:,} of {total:,} features")
        run.check_cancel()
    if done == 0:
        raise UserFileError(f"{lay.display} contains no features: there is nothing to show.", kind="empty")
    kept = sum(len(x) for x in xy_parts)
    if decision is None or kept == 0:
        raise UserFileError(
            f"{lay.display} has {done:,} features but none of them has a shape "
            "(all geometries are empty), so there is nothing to show.", kind="empty"
        )
    run.report(0.99, "Finishing")
    attrs = attrs_parts[0] if len(attrs_parts) == 1 else pd.concat(attrs_parts)
    attrs = attrs.reset_index(drop=True)
    xy = xy_parts[0] if len(xy_parts) == 1 else np.concatenate(xy_parts)
    bounds84 = (float(xy[:, 0].min()), float(xy[:, 1].min()), float(xy[:, 0].max()), float(xy[:, 1].max()))
    warnings.extend(left_out_warnings(skipped, outside, decision.label, bounds84))
    frame = PointFrame(attrs, PointColumn(xy))
    result = LoadedLayer(
        name=lay.name,
        gdf=frame,  # a GeoDataFrame when first read (zjmap.core.pointcolumn.FrameSlot)
        driver=lay.driver,
        source_crs=decision.label,
        crs_guessed=decision.guessed,
        crs_guess_reason=decision.reason,
        encoding=reader.encoding,
        encoding_reason=reader.encoding_reason,
        repaired=0,
        skipped=skipped + outside,
        geometry_types=["Point"],
        fields={str(c): str(attrs[c].dtype) for c in attrs.columns},
        bounds_wgs84=bounds84,
        warnings=warnings,
    )
    run.report(1.0, f"Loaded {kept:,} features from {lay.display}")
    return result


def left_out_warnings(skipped: int, outside: int, crs_label: str,
                      bounds84: tuple[float, float, float, float]) -> list[str]:
    """What the planner is told about rows left out and data off China (any read)."""
    out = []
    if skipped:
        out.append(f"{skipped:,} feature{'s' if skipped != 1 else ''} without a shape (empty or unreadable geometry) left out.")
    if outside:
        out.append(
            f"{outside:,} feature{'s' if outside != 1 else ''} could not be converted to longitude/latitude "
            f"with {crs_label} and {'were' if outside != 1 else 'was'} left out."
        )
    if not _overlaps(bounds84, _CHINA):
        out.append(
            f"The data lies outside China (around {_fmt_lonlat(bounds84)}); "
            "if it should be in Zhejiang, its coordinate system is probably wrong."
        )
    return out
