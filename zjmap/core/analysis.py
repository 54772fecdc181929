"""Questions asked of the map: select by location, summarise one layer by zones.

All inputs are GeoDataFrames in WGS-84 (what :mod:`zjmap.core.userfiles`
reads, what :func:`layer_frame` makes of a seed or base layer); all figures
are ellipsoidal (:mod:`zjmap.core.measure`: km, km²).

Why this is not ``geopandas.sjoin`` / ``overlay`` + ``groupby`` (the
benchmark measures both): for points, each zone is prepared once and tested
against only the points inside its bounding box (one sorted-x search, then
``intersects_xy``), and the statistics are ``bincount``\\s; for lines and
polygons, a feature a zone *covers* counts whole (its own length or area),
and only the few that cross a zone's edge are intersected -- with the zone
first clipped to the feature's box -- where ``overlay`` intersects every pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import STRtree

from zjmap.core import measure

ProgressFn = Callable[[float, str], Any]
CancelFn = Callable[[], bool]

STATS = ("count", "sum", "mean", "min", "max", "length", "area")
FIELD_STATS = ("sum", "mean", "min", "max")
PREDICATES = ("intersects", "within", "contains", "dwithin")
#: Polygons from two sources that share edges (a seed layer cut from the
#: county boundaries, rounded differently) overlap their neighbours by
#: slivers of a millionth of their area: "within" allows, and the polygon
#: count ignores, overlaps below this share of the feature's area.
SLIVER = 1e-3
#: Pairs handled between two progress reports / cancel checks.
BLOCK = 20_000


class AnalysisError(ValueError):
    """A question that cannot be answered as asked; the text says why."""


class AnalysisCancelled(Exception):
    """``cancel()`` returned True; nothing was produced."""


def _check(cancel: CancelFn | None) -> None:
    if cancel is not None and cancel():
        raise AnalysisCancelled("The analysis was cancelled.")


def _report(progress: ProgressFn | None, frac: float, msg: str) -> None:
    if progress is not None:
        progress(min(1.0, max(0.0, frac)), msg)


def geometry_family(geoms: np.ndarray) -> str:
    """'point', 'line' or 'polygon'; AnalysisError for a mix (say points and areas)."""
    ids = set(np.unique(shapely.get_type_id(geoms[~shapely.is_missing(geoms)])).tolist())
    fams = {{0: "point", 4: "point", 1: "line", 2: "line", 5: "line", 3: "polygon", 6: "polygon"}.get(i, "mixed") for i in ids}
    if len(fams) != 1 or "mixed" in fams:
        raise AnalysisError(f"the layer mixes geometry kinds ({', '.join(sorted(fams)) or 'none'}); "
                            "split it into points, lines and polygons first")
    return fams.pop()


def numeric_values(data: pd.DataFrame, field: str) -> np.ndarray:
    """``field`` as floats (NaN for empty); AnalysisError if it is not numeric."""
    if field not in data.columns:
        cols = [str(c) for c in data.columns if c != getattr(data, "geometry", pd.Series(name=None)).name]
        raise AnalysisError(f"no field named {field!r}; fields: {', '.join(cols[:15])}")
    s = data[field]
    if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        conv = pd.to_numeric(s, errors="coerce")
        if s.notna().sum() and conv.notna().sum() < 0.9 * s.notna().sum():
            raise AnalysisError(f"field {field!r} is not numeric (e.g. {s.dropna().iloc[0]!r}); choose a field of numbers")
        s = conv
    return s.to_numpy(dtype=float, na_value=np.nan)


# ---------------------------------------------------------------------------
# Select by location


def select_by_location(
    a: np.ndarray | gpd.GeoSeries,
    b: np.ndarray | gpd.GeoSeries,
    predicate: str = "intersects",
    distance_km: float | None = None,
) -> np.ndarray:
    """Boolean mask over ``a``: features that *predicate* any feature of ``b``.

    ``predicate``: ``intersects``, ``within`` (a inside b), ``contains`` (a
    contains b) or ``dwithin`` (within ``distance_km`` of b, measured on a
    metric plane centred on the data, see :mod:`zjmap.core.measure`).
    """
    ga = np.asarray(getattr(a, "values", a), dtype=object)
    gb = np.asarray(getattr(b, "values", b), dtype=object)
    gb = gb[~(shapely.is_missing(gb) | shapely.is_empty(gb))]
    if predicate not in PREDICATES:
        raise AnalysisError(f"unknown spatial relation {predicate!r}; choose one of {', '.join(PREDICATES)}")
    if distance_km is not None and predicate in ("intersects", "dwithin"):
        predicate = "dwithin"
    if not len(ga) or not len(gb):
        return np.zeros(len(ga), dtype=bool)
    if predicate == "dwithin":
        if distance_km is None or not np.isfinite(distance_km) or distance_km < 0:
            raise AnalysisError("give the distance as a positive number of km")
        crs = measure.metric_crs(shapely.total_bounds(np.concatenate([ga, gb])))
        ga, gb = measure.to_metric(ga, crs), measure.to_metric(gb, crs)
        hit_a, _ = STRtree(gb).query(ga, predicate="dwithin", distance=float(distance_km) * 1000.0)
    elif predicate in ("within", "contains") and _is_areal(ga) and _is_areal(gb):
        hit_a = _within_allowing_slivers(ga, gb, predicate)
    else:
        hit_a, _ = STRtree(gb).query(ga, predicate=predicate)
    mask = np.zeros(len(ga), dtype=bool)
    mask[hit_a] = True
    return mask


def _is_areal(g: np.ndarray) -> bool:
    t = shapely.get_type_id(g)
    return bool(len(t)) and bool(np.isin(t, (3, 6)).all())


def _within_allowing_slivers(ga: np.ndarray, gb: np.ndarray, predicate: str) -> np.ndarray:
    """Indices of ``ga`` within (or containing) some ``gb``, up to :data:`SLIVER` of area outside."""
    ia, ib = STRtree(gb).query(ga, predicate="intersects")
    inner, outer = (ga[ia], gb[ib]) if predicate == "within" else (gb[ib], ga[ia])
    exact = shapely.within(inner, outer)
    rest = np.flatnonzero(~exact)
    if len(rest):
        left = shapely.area(shapely.difference(inner[rest], outer[rest]))
        exact[rest] = left <= SLIVER * shapely.area(inner[rest])
    return ia[exact]


# ---------------------------------------------------------------------------
# Summarise by zone


@dataclass
class ZoneLayer:
    """Zones to summarise by: one id and one name per polygon."""

    ids: np.ndarray
    names: np.ndarray
    geoms: np.ndarray
    id_column: str = "id"  # "adcode" for base units

    def __post_init__(self) -> None:
        self.geoms = np.asarray(self.geoms, dtype=object)
        fam = geometry_family(self.geoms)
        if fam != "polygon":
            raise AnalysisError(f"zones must be polygons; this layer holds {fam}s")


def _stat_list(stats: Sequence[str] | None, field: str | None, family: str) -> list[str]:
    if stats is None:
        stats = ["count"] + (["sum", "mean"] if field else []) + ({"line": ["length"], "polygon": ["area"]}.get(family, []))
    out: list[str] = []
    for s in stats:
        s = s.strip().lower()
        if not s:
            continue
        if s not in STATS:
            raise AnalysisError(f"unknown statistic {s!r}; choose from {', '.join(STATS)}")
        if s in FIELD_STATS and not field:
            raise AnalysisError(f"the statistic {s!r} needs a numeric field (--field)")
        if s == "length" and family != "line":
            raise AnalysisError(f"'length' is for line layers; this data holds {family}s")
        if s == "area" and family != "polygon":
            raise AnalysisError(f"'area' is for polygon layers; this data holds {family}s")
        if s not in out:
            out.append(s)
    if not out:
        raise AnalysisError("no statistic asked for")
    return out


def column_name(stat: str, field: str | None) -> str:
    """The output column of a statistic: count, sum_F, mean_F, …, length_km, area_km2."""
    if stat in FIELD_STATS:
        return f"{stat}_{field}"
    return {"length": "length_km", "area": "area_km2"}.get(stat, stat)


def _point_pairs(zones: ZoneLayer, geoms: np.ndarray, progress, cancel) -> tuple[np.ndarray, np.ndarray]:
    """(zone index, feature index) of every point feature inside every zone."""
    pts, fidx = shapely.get_parts(geoms, return_index=True)
    xy = shapely.get_coordinates(pts)
    x, y = xy[:, 0], xy[:, 1]
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    zi_all, fi_all = [], []
    bounds = shapely.bounds(zones.geoms)
    shapely.prepare(zones.geoms)
    nz = len(zones.geoms)
    for j in range(nz):
        _check(cancel)
        bx0, by0, bx1, by1 = bounds[j]
        lo, hi = np.searchsorted(xs, bx0, "left"), np.searchsorted(xs, bx1, "right")
        if hi <= lo:
            continue
        yy = ys[lo:hi]
        box = (yy >= by0) & (yy <= by1)
        cand = order[lo:hi][box]
        if not len(cand):
            continue
        inside = shapely.intersects_xy(zones.geoms[j], x[cand], y[cand])
        feats = np.unique(fidx[cand[inside]])
        zi_all.append(np.full(len(feats), j))
        fi_all.append(feats)
        _report(progress, 0.05 + 0.9 * (j + 1) / nz, f"Zone {j + 1:,} of {nz:,}")
    if not zi_all:
        return np.zeros(0, int), np.zeros(0, int)
    return np.concatenate(zi_all), np.concatenate(fi_all)


def _piece_measures(zones: ZoneLayer, geoms: np.ndarray, family: str, progress, cancel):
    """Pairs (zone, feature) that overlap, with the measure (km or km²) of each piece.

    A feature the zone covers counts with its own measure; one crossing the
    zone's edge is cut (zone clipped to the feature's box first).
    """
    fn = measure.area_km2 if family == "polygon" else measure.length_km
    shapely.prepare(zones.geoms)
    tree = STRtree(geoms)
    zi, fi = tree.query(zones.geoms, predicate="intersects")
    _check(cancel)
    _report(progress, 0.1, f"{len(zi):,} zone–feature pairs")
    whole = np.full(len(geoms), np.nan)
    touched = np.unique(fi)
    piece = np.empty(len(zi))
    covered = np.zeros(len(zi), dtype=bool)
    for s in range(0, len(zi), BLOCK):
        e = min(len(zi), s + BLOCK)
        covered[s:e] = shapely.covers(zones.geoms[zi[s:e]], geoms[fi[s:e]])
        _check(cancel)
    # each feature's own measure, once (only those some zone touches)
    for s in range(0, len(touched), BLOCK):
        idx = touched[s:s + BLOCK]
        whole[idx] = fn(geoms[idx])
        _check(cancel)
        _report(progress, 0.1 + 0.4 * min(1.0, (s + BLOCK) / max(1, len(touched))), "Measuring features")
    piece[covered] = whole[fi[covered]]
    cross = np.flatnonzero(~covered)
    for s in range(0, len(cross), BLOCK):
        k = cross[s:s + BLOCK]
        g = geoms[fi[k]]
        cut = shapely.intersection(zones.geoms[zi[k]], g)
        piece[k] = fn(cut)
        _check(cancel)
        _report(progress, 0.5 + 0.45 * min(1.0, (s + BLOCK) / max(1, len(cross))), "Cutting features at zone edges")
    keep = piece > 0
    return zi[keep], fi[keep], piece[keep], whole


def _significant(piece: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """Pieces that are more than a sliver of their feature (see :data:`SLIVER`)."""
    return piece > SLIVER * whole


def summarize(
    zones: ZoneLayer,
    data: gpd.GeoDataFrame,
    field: str | None = None,
    stats: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> gpd.GeoDataFrame:
    """One row per zone: its id and name, then one column per statistic.

    Points: ``count`` and ``sum/mean/min/max`` of ``field`` over the points
    inside. Lines: ``count`` of lines crossing the zone, ``length_km``
    inside it; field statistics over those lines. Polygons: ``count`` of
    polygons overlapping the zone, ``area_km2`` inside it; ``sum_F`` is
    area-weighted (a polygon half inside adds half its value), ``mean_F`` the
    area-weighted mean, ``min/max`` over the overlapping polygons; polygons
    overlapping a zone by less than :data:`SLIVER` of their area are not counted.
    Empty values are left out of field statistics, as SQL does.
    """
    geoms = np.asarray(data.geometry.values, dtype=object)
    family = geometry_family(geoms) if len(geoms) else "point"
    stat_list = _stat_list(stats, field, family)
    values = numeric_values(data, field) if field else None
    nz = len(zones.geoms)
    _report(progress, 0.0, "Preparing zones")
    weight: np.ndarray | None = None
    piece = whole = None
    if not len(geoms):
        zi = fi = np.zeros(0, int)
    elif family == "point":
        zi, fi = _point_pairs(zones, geoms, progress, cancel)
    else:
        zi, fi, piece, whole = _piece_measures(zones, geoms, family, progress, cancel)
        if family == "polygon":
            w = whole[fi]
            weight = np.divide(piece, w, out=np.zeros_like(piece), where=w > 0)
    _check(cancel)
    out: dict[str, Any] = {zones.id_column: zones.ids, "name": zones.names}
    sig = _significant(piece, whole[fi]) if family == "polygon" and piece is not None else np.ones(len(zi), bool)
    count = np.bincount(zi[sig], minlength=nz)
    for st in stat_list:
        col = column_name(st, field)
        if st == "count":
            out[col] = count
        elif st in ("length", "area"):  # exact, slivers included
            out[col] = np.bincount(zi, weights=piece, minlength=nz) if piece is not None else np.zeros(nz)
        else:
            assert values is not None
            v = values[fi]
            ok = ~np.isnan(v)
            z, v = zi[ok], v[ok]
            if st == "sum":
                wts = v * weight[ok] if weight is not None else v
                out[col] = np.bincount(z, weights=wts, minlength=nz)
            elif st == "mean":
                if weight is not None:
                    num = np.bincount(z, weights=v * piece[ok], minlength=nz)
                    den = np.bincount(z, weights=piece[ok], minlength=nz)
                else:
                    num = np.bincount(z, weights=v, minlength=nz)
                    den = np.bincount(z, minlength=nz).astype(float)
                out[col] = np.divide(num, den, out=np.full(nz, np.nan), where=den > 0)
            else:
                z, v = zi[ok & sig], values[fi][ok & sig]
                acc = np.full(nz, np.inf if st == "min" else -np.inf)
                (np.minimum if st == "min" else np.maximum).at(acc, z, v)
                acc[~np.isfinite(acc)] = np.nan
                out[col] = acc
    _report(progress, 1.0, f"Summarised {len(geoms):,} features by {nz:,} zones")
    return gpd.GeoDataFrame(out, geometry=list(zones.geoms), crs="EPSG:4326")
