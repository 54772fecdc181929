"""One layer of an export drawn with matplotlib, from flat arrays.

A layer's features come as flat coordinates (:func:`~zjmap.core.export_paths.plan_geoms`)
and its looks as a palette with one index per feature
(:func:`~zjmap.core.stylepalette.style_palette`): no Python work per feature.

Small layers keep one path per feature, so overlapping features blend as
on the screen. Layers of :data:`MERGE_FEATURES` features or more (planners'
parcel, grid or point files) are drawn one style class at a time: one
compound path per class, filled, then (PNG) its outline on its own, whose
vertices Agg thins to :data:`STROKE_SIMPLIFY_PX` of the output pixels (the
outline of 100,000 parcels is what costs; a filled path is never thinned
by Agg, and filling is cheap; a PDF or SVG writes the path once); points of a class are one marker stamped at
every position. Each class's artists check for a cancel and move the
progress on before they draw, so Cancel also stops the writing of a big
file, and its progress bar moves while it is written.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from zjmap.core.export_paths import _Ragged, plan_geoms
from zjmap.core.export_plan import _LayerPlan
from zjmap.core.styling import DEFAULT_COLOR

MERGE_FEATURES = 2000  # layers this big draw one compound path per style class
#: How far (output pixels) Agg may move an outline's vertices when it thins
#: them: under a pixel, so the picture is the same. PNG only: a PDF or SVG
#: keeps matplotlib's default (1/9), as it may be zoomed into.
STROKE_SIMPLIFY_PX = 0.5


def rgba(color: Any, alpha: float) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    try:
        r, g, b, _ = to_rgba(color)
    except (ValueError, TypeError):
        r, g, b, _ = to_rgba(DEFAULT_COLOR)
    return (r, g, b, max(0.0, min(1.0, float(alpha))))


def dashes(dash: Any, lw_pt: float, unit: float) -> Any:
    """A Leaflet dashArray ("4 3", screen pixels) as a matplotlib dash pattern."""
    import matplotlib

    if not dash:
        return "solid"
    try:
        seq = [float(v) * unit for v in str(dash).replace(",", " ").split()]
    except ValueError:
        return "solid"
    if not seq or not all(v > 0 for v in seq):
        return "solid"
    if len(seq) % 2:
        seq = seq * 2
    if matplotlib.rcParams["lines.scale_dashes"] and lw_pt > 0:
        seq = [v / lw_pt for v in seq]  # matplotlib multiplies them back by the width
    return (0.0, tuple(seq))


def look_of(st: Mapping[str, Any], unit: float, op: float, dw: float, dr: float) -> dict[str, Any]:
    """A Leaflet style as matplotlib colours and widths (points)."""
    lw = float(st.get("weight", dw)) * unit
    fill_colour = st.get("fillColor") or st.get("color") or DEFAULT_COLOR
    return {
        "fc": rgba(fill_colour, float(st.get("fillOpacity", 0.3)) * op) if st.get("fill", True) else (0.0, 0.0, 0.0, 0.0),
        "ec": rgba(st.get("color") or DEFAULT_COLOR, float(st.get("opacity", 1.0)) * op)
        if st.get("stroke", True) else (0.0, 0.0, 0.0, 0.0),
        "hc": rgba(fill_colour, op),
        "lw": lw,
        "ls": dashes(st.get("dashArray"), lw, unit),
        "r": float(st.get("radius", dr)),
        "hatch": bool(st.get("hatch")),
    }


def visible_rows(lp: _LayerPlan, bounds: np.ndarray, extent: tuple[float, ...], pad: float) -> np.ndarray:
    """Features whose bounds reach the map (plus ``pad`` degrees) and that the filter keeps."""
    w, s, e, n = extent
    b = bounds
    near = ~((b[:, 2] < w - pad) | (b[:, 0] > e + pad) | (b[:, 3] < s - pad) | (b[:, 1] > n + pad))
    near &= ~np.isnan(b[:, 0])
    if lp.hidden_style >= 0:
        near &= lp.index != lp.hidden_style
    return np.flatnonzero(near)


def _checked(cls: type, r: Any) -> type:
    """``cls`` whose draw() first calls ``r.tick()`` (cancel? progress), counted in ``r.ticks``."""

    class Checked(cls):  # type: ignore[misc, valid-type]
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            r.ticks += 1

        def draw(self, renderer: Any) -> None:
            r.tick()
            super().draw(renderer)

    return Checked


def draw_layer(r: Any, lp: _LayerPlan, index: int) -> None:
    """Draw layer ``lp`` (the ``index``-th of the plan) on renderer ``r``'s map axes."""
    if not len(lp.index):
        return
    G = plan_geoms(lp.features)
    vis = visible_rows(lp, G.bounds, r.extent, 30 * r.deg_per_pt)
    if not len(vis):
        return
    u = r.unit
    looks = [look_of(st, u, lp.opacity, lp.defaults["weight"], lp.defaults["radius"]) for st in lp.styles]
    z = (1.0 if lp.kind == "base" else 2.0) + index * 0.001
    zp = 3.0 + index * 0.001  # points above every area and line (Leaflet's marker pane)
    if len(vis) < MERGE_FEATURES:
        _draw_each(r, G, vis, [looks[k] for k in lp.index[vis].tolist()], z, zp)
    else:
        _draw_classes(r, G, vis, lp.index[vis], looks, z, zp)


def _draw_each(r: Any, G: Any, vis: np.ndarray, S_of: list[dict], z: float, zp: float) -> None:
    """A small layer: a path per feature, in file order."""
    from matplotlib.collections import PathCollection

    def collect(rag: _Ragged, want: Callable[[dict], bool]) -> tuple[list[Any], list[dict]]:
        has = rag.counts()[vis] > 0
        ks = [(k, S) for k, S, h in zip(vis.tolist(), S_of, has.tolist()) if h and want(S)]
        return [rag.path(k) for k, _ in ks], [S for _, S in ks]

    def add(paths: list[Any], Ss: list[dict], **kw: Any) -> Any:
        coll = PathCollection(paths, edgecolors=[S["ec"] for S in Ss], linewidths=[S["lw"] for S in Ss],
                              linestyles=[S["ls"] for S in Ss], zorder=z, **kw)
        coll.set_transform(r.ax.transData)
        r.ax.add_collection(coll, autolim=False)
        return coll

    paths, Ss = collect(G.poly, lambda S: not S["hatch"])
    if paths:
        add(paths, Ss, facecolors=[S["fc"] for S in Ss], capstyle="round", joinstyle="round")
    paths, Ss = collect(G.poly, lambda S: S["hatch"])
    if paths:
        coll = add(paths, Ss, facecolors="none", hatch="/", hatchcolors=[S["hc"] for S in Ss])
        coll.set_hatch_linewidth(3 * r.unit)
    paths, Ss = collect(G.line, lambda S: True)
    if paths:
        add(paths, Ss, facecolors="none", capstyle="round", joinstyle="round")
    counts = G.pts.counts()[vis]
    if counts.any():
        sel = counts > 0
        ks = vis[sel]
        Sp = [S for S, h in zip(S_of, sel.tolist()) if h]
        reps = counts[sel]
        xy = np.concatenate([G.pts.points(k) for k in ks.tolist()])
        rad = np.repeat([S["r"] for S in Sp], reps)
        fc = np.repeat([S["fc"] for S in Sp], reps, axis=0)
        ec = np.repeat([S["ec"] for S in Sp], reps, axis=0)
        lw = np.repeat([S["lw"] for S in Sp], reps)
        r.ax.scatter(xy[:, 0], xy[:, 1], s=(2 * rad * r.unit) ** 2, c=fc, edgecolors=ec, linewidths=lw,
                     marker="o", zorder=zp, clip_on=True)


def _classes(looks_of_vis: np.ndarray, vis: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(look, its visible features in file order), looks in order of first appearance."""
    order = np.argsort(looks_of_vis, kind="stable")
    uniq, first, counts = np.unique(looks_of_vis, return_index=True, return_counts=True)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    groups = [(int(k), vis[order[a:a + c]]) for k, a, c in zip(uniq.tolist(), starts.tolist(), counts.tolist())]
    return [groups[i] for i in np.argsort(first, kind="stable").tolist()]


def _draw_classes(r: Any, G: Any, vis: np.ndarray, looks_of_vis: np.ndarray, looks: list[dict],
                  z: float, zp: float) -> None:
    """A big layer: per style class one filled compound path, its outline, its markers."""
    from matplotlib.collections import PathCollection
    from matplotlib.markers import MarkerStyle
    from matplotlib.patches import PathPatch

    ax = r.ax
    Patch = _checked(PathPatch, r)
    Coll = _checked(PathCollection, r)
    thin = STROKE_SIMPLIFY_PX if r.plan.fmt == "png" else None
    classes = _classes(looks_of_vis, vis)

    def patch(path: Any, S: dict, **kw: Any) -> None:
        p = Patch(path, transform=ax.transData, zorder=z, **kw)
        ax.add_artist(p)  # not add_patch: that would walk every vertex for the data limits

    def outline(path: Any, S: dict, cap: str = "round") -> None:
        if S["lw"] <= 0 or S["ec"][3] <= 0:
            return
        if thin is not None:
            path.simplify_threshold = thin
        patch(path, S, facecolor="none", edgecolor=S["ec"], linewidth=S["lw"], linestyle=S["ls"],
              capstyle=cap, joinstyle="round")

    for k, ks in classes:  # areas: fill, then outline, class by class
        S = looks[k]
        if S["hatch"]:
            continue
        path = G.poly.compound(ks)
        if path is None:
            continue
        if thin is None:  # a PDF or SVG: the path once, filled and stroked (half the file)
            patch(path, S, facecolor=S["fc"], edgecolor=S["ec"], linewidth=S["lw"], linestyle=S["ls"],
                  capstyle="round", joinstyle="round")
            continue
        if S["fc"][3] > 0:
            patch(path, S, facecolor=S["fc"], edgecolor="none", linewidth=0)
        outline(path, S)  # the same path: Agg never thins a filled one
    for k, ks in classes:  # hatched areas
        S = looks[k]
        path = G.poly.compound(ks) if S["hatch"] else None
        if path is None:
            continue
        coll = Coll([path], facecolors="none", edgecolors=[S["ec"]], linewidths=[S["lw"]], linestyles=[S["ls"]],
                    hatch="/", hatchcolors=[S["hc"]], zorder=z)
        coll.set_hatch_linewidth(3 * r.unit)
        coll.set_transform(ax.transData)
        ax.add_collection(coll, autolim=False)
    for k, ks in classes:  # lines
        path = G.line.compound(ks)
        if path is not None:
            outline(path, looks[k])
    marker = MarkerStyle("o")
    circle = marker.get_path().transformed(marker.get_transform())
    points = []
    for k, ks in classes:
        ks = ks[G.pts.counts()[ks] > 0]
        if len(ks):
            points.append((k, G.pts.compound(ks).vertices))
    fit = _dense_radius(r, points)
    for k, xy in points:  # points: one marker per class, stamped at each position
        S = looks[k]
        rad = S["r"] if fit is None else min(S["r"], fit)
        lw = S["lw"] * rad / S["r"] if S["r"] else S["lw"]
        coll = Coll([circle], sizes=[(2 * rad * r.unit) ** 2], offsets=xy, offset_transform=ax.transData,
                    facecolors=[S["fc"]], edgecolors=[S["ec"]], linewidths=[lw], zorder=zp)
        coll.set_transform(_identity())
        coll.set_snap(False)  # at the point itself, as a scatter of many colours is (Agg would round it to a pixel)
        ax.add_collection(coll, autolim=False)


def _dense_radius(r: Any, points: list[tuple[int, np.ndarray]]) -> float | None:
    """The radius (CSS px) the screen draws this many points in the map's
    frame at (look.dense_point_radius: discs that would cover the frame many
    times over get smaller, as on the page), or None."""
    from zjmap.core.look import dense_point_radius

    if not points:
        return None
    (x0, x1), (y0, y1) = r.ax.get_xlim(), r.ax.get_ylim()
    n = 0
    for _k, xy in points:
        n += int(np.count_nonzero((xy[:, 0] >= min(x0, x1)) & (xy[:, 0] <= max(x0, x1))
                                  & (xy[:, 1] >= min(y0, y1)) & (xy[:, 1] <= max(y0, y1))))
    _x, _y, w_pt, h_pt = r.map_box
    return dense_point_radius(n, w_pt / r.unit, h_pt / r.unit)


def _identity() -> Any:
    from matplotlib.transforms import IdentityTransform

    return IdentityTransform()
