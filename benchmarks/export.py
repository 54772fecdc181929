"""Seconds to export the map (zjmap.core.export), headless, with same-run references.

Shipped layers:

1. a 2× PNG of a 1000×700 view of Zhejiang (the layers visible on start),
   with its world file — target under 1 s;
2. an A4 portrait PDF at 300 dpi with every seed layer visible — target
   under 3 s.

Big layers (issue 16; files from benchmarks/make_big_shapefile.py, made in
the temp folder when missing), each on the start-up base map, A4 portrait
at 300 dpi (2480×3508 px) over Zhejiang:

3. 100,000 irregular polygons of ~24 vertices (2.5 M vertices, GBK DBF
   without .cpg) in one colour, and as a 5-class quantile choropleth of
   ``area_km2`` — PNG target: under 5 s and within 2× the reference;
   the same as PDF (reported);
4. 1,000,000 points from a lon/lat CSV by ``类别`` (5 categories), drawn
   as the page draws so many (look.json's dense_points: discs of 1.5 CSS px,
   not their style's 6, which would cover the map many times over) —
   PNG target: under 5 s and within 2× the reference.

Reference, measured in the same run on the same file and page size: plain
matplotlib drawing the layer as the plain way does it — the coordinates
from ``shapely.to_ragged_array``, one PathCollection (polygons; fill and
outline of the same widths and colours) or one scatter of the points with
their colours, saved to a PNG of the same size and dpi — and, for the
polygons, ``GeoDataFrame.plot()`` of geopandas itself (``--geopandas``;
it takes tens of seconds). The reference draws only the big layer; the
export adds the base map, legend, title and scale bar.

Each export is timed ``--repeat`` times (default 2) in this process: the
first includes the one-off costs (matplotlib and fontTools imports, the CJK
font, the layer's path arrays, which are cached); "warm" is the median of
the others. Reading the files is not timed. Run:
``.venv/bin/python benchmarks/export.py [--geopandas] [--skip-points] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

A4_PX = (2480, 3508)
ZJ_BBOX = (118.0, 27.0, 123.0, 31.5)


def timed(fn, n: int = 3) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times[0], statistics.median(times[1:]) if n > 1 else times[0]


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w, h = A4_PX
    fig = Figure(figsize=((w + 1e-6) / 300, (h + 1e-6) / 300), dpi=300)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.05, 0.05, 0.9, 0.9))
    ax.set_xlim(ZJ_BBOX[0], ZJ_BBOX[2])
    ax.set_ylim(ZJ_BBOX[1], ZJ_BBOX[3])
    return fig, ax


def reference_polygons(geoms, out: Path, colours=None) -> float:
    """Plain matplotlib from shapely.to_ragged_array: one compound path per colour."""
    import numpy as np
    import shapely
    from matplotlib.collections import PathCollection
    from matplotlib.colors import to_rgba
    from matplotlib.path import Path as MPath

    t0 = time.perf_counter()
    fig, ax = _figure()
    groups = [(None, np.arange(len(geoms)))] if colours is None else \
        [(c, np.flatnonzero(colours == c)) for c in dict.fromkeys(colours.tolist())]  # hex colours
    for c, rows in groups:
        _, coords, (ring_off, *_rest) = shapely.to_ragged_array(shapely.get_parts(geoms[rows]))
        codes = np.full(len(coords), MPath.LINETO, dtype=MPath.code_type)
        codes[ring_off[:-1]] = MPath.MOVETO
        fc = (0.89, 0.10, 0.11, 0.35) if c is None else to_rgba(c, 0.85)
        ec = (0.89, 0.10, 0.11, 0.9) if c is None else to_rgba("#6e6e6e", 0.9)
        coll = PathCollection([MPath(coords, codes)], facecolors=[fc], edgecolors=[ec],
                              linewidths=[1.125 if c is None else 0.45], joinstyle="round", capstyle="round")
        coll.set_transform(ax.transData)
        ax.add_collection(coll, autolim=False)
    fig.savefig(out, dpi=300, pil_kwargs={"compress_level": 3})
    return time.perf_counter() - t0


def reference_geopandas(path: Path, out: Path) -> float:
    import geopandas as gpd
    import pyogrio

    gdf = gpd.GeoDataFrame(geometry=pyogrio.read_dataframe(path, columns=[], encoding="gbk").geometry)
    t0 = time.perf_counter()
    fig, ax = _figure()
    gdf.plot(ax=ax, facecolor=(0.89, 0.10, 0.11, 0.35), edgecolor=(0.89, 0.10, 0.11, 0.9), linewidth=1.125)
    ax.set_xlim(ZJ_BBOX[0], ZJ_BBOX[2])
    ax.set_ylim(ZJ_BBOX[1], ZJ_BBOX[3])
    fig.savefig(out, dpi=300, pil_kwargs={"compress_level": 3})
    return time.perf_counter() - t0


def reference_points(xy, colours, out: Path) -> tuple[float, float]:
    """Seconds, and the radius (CSS px) the points were drawn at: the one the
    page and the export draw so many points in this frame at (look.json's
    dense_points), at most their style's 6 px."""
    from zjmap.core.look import dense_point_radius

    w, h = A4_PX
    css = 0.9 * w / 300 * 96, 0.9 * h / 300 * 96  # the axes' frame in CSS px
    rad = min(6.0, dense_point_radius(len(xy), *css) or 6.0)
    t0 = time.perf_counter()
    fig, ax = _figure()
    ax.scatter(xy[:, 0], xy[:, 1], s=(2 * 0.75 * rad) ** 2, c=colours, edgecolors=colours,
               linewidths=1.125 * rad / 6.0, marker="o")
    ax.set_xlim(ZJ_BBOX[0], ZJ_BBOX[2])
    ax.set_ylim(ZJ_BBOX[1], ZJ_BBOX[3])
    fig.savefig(out, dpi=300, pil_kwargs={"compress_level": 3})
    return time.perf_counter() - t0, rad


def shipped(out: Path) -> None:
    from zjmap.core.export import export_map
    from zjmap.core.mappage import ZHEJIANG_BOUNDS
    from zjmap.core.shipped import shipped_stack

    start = shipped_stack()
    everything = shipped_stack(all_visible=True)
    cold, warm = timed(lambda: export_map(start, out / "view.png", bbox=ZHEJIANG_BOUNDS,
                                           width_px=1000, height_px=700, scale=2, title="浙江省"))
    print(f"PNG 2x of a 1000x700 view (2000x1400 px + .pgw): first {cold:.2f} s, warm {warm:.2f} s  (target < 1 s)")
    n_seed = sum(1 for lyr in everything if lyr.kind == "seed")
    cold, warm = timed(lambda: export_map(everything, out / "all.pdf", bbox=ZHEJIANG_BOUNDS, page="A4",
                                           dpi=300, title="全部专题图层"))
    size = (out / "all.pdf").stat().st_size / 1e6
    print(f"PDF A4 300 dpi, all {n_seed} seed layers ({size:.1f} MB): first {cold:.2f} s, warm {warm:.2f} s  (target < 3 s)")


def _with_layer(path: Path):
    from zjmap.core.layermodel import ReadSource
    from zjmap.core.shipped import shipped_stack
    from zjmap.core.userfiles import read_layer
    from zjmap.core.userlayers import new_layer_id, user_layer

    stack = shipped_stack()
    lid = new_layer_id(stack)
    stack.add(user_layer(read_layer(path), lid, title=path.stem, source=ReadSource(str(path)), color="#e41a1c"))
    return stack, stack.layer(lid)


def big_polygons(out: Path, repeat: int, with_geopandas: bool) -> None:
    import numpy as np

    from make_big_shapefile import default_path, make_big_shapefile
    from zjmap.core.classify import layer_choropleth
    from zjmap.core.export import export_map
    from zjmap.core.layers import layer_geometries

    path = default_path(100_000, "irregular", True, ".shp")
    if not path.exists():
        make_big_shapefile(path, 100_000, gbk=True, shape="irregular")
    stack, layer = _with_layer(path)
    geoms = np.asarray(layer_geometries(layer))
    n_vert = int(sum(len(g.exterior.coords) for g in geoms[:1000]) * len(geoms) / 1000)
    print(f"\n100,000 polygons ({path.name}, ~{n_vert / 1e6:.1f} M vertices), A4 portrait 300 dpi "
          f"({A4_PX[0]}x{A4_PX[1]} px) on the base map:")
    ref = reference_polygons(geoms, out / "ref.png")
    for _ in range(repeat - 1):
        ref = min(ref, reference_polygons(geoms, out / "ref.png"))
    print(f"  reference: plain matplotlib, one PathCollection from shapely.to_ragged_array: {ref:.2f} s")
    if with_geopandas:
        print(f"  reference: geopandas GeoDataFrame.plot(): {reference_geopandas(path, out / 'gpd.png'):.2f} s")

    def run(name: str, fmt: str = "png") -> None:
        cold, warm = timed(lambda: export_map(stack, out / f"big.{fmt}", bbox=ZJ_BBOX, page="A4", dpi=300,
                                               title="十万地块 100,000 parcels"), repeat)
        if fmt == "png":
            ok = warm < 5.0 and warm <= 2 * ref
            print(f"  zjmap export PNG, {name}: first {cold:.2f} s, warm {warm:.2f} s = {warm / ref:.2f}x the reference "
                  f"(target < 5 s and <= 2x)  {verdict(ok)}")
        else:
            size = (out / f"big.{fmt}").stat().st_size / 1e6
            print(f"  zjmap export {fmt.upper()}, {name} ({size:.1f} MB): first {cold:.2f} s, warm {warm:.2f} s")

    run("one colour")
    layer.style = layer_choropleth(layer, "area_km2", "quantiles", 5)
    layer.restyle()
    st = layer.styler
    colours = np.array([st.color_of({"area_km2": v}) for v in layer.features.values_of("area_km2")], dtype=object)
    ref_c = reference_polygons(geoms, out / "ref_c.png", colours)
    print(f"  reference, 5 classes (a PathCollection per class): {ref_c:.2f} s")
    run("5-class choropleth")
    run("5-class choropleth", "pdf")


def big_points(out: Path, repeat: int) -> None:
    import numpy as np
    from matplotlib.colors import to_rgba

    from make_big_shapefile import make_points, points_path
    from zjmap.core.export import export_map

    path = points_path(1_000_000, ".csv")
    if not path.exists():
        make_points(path, 1_000_000)
    stack, layer = _with_layer(path)
    layer.style = {"kind": "categorical", "field": "类别"}
    xy = layer.features.points.xy
    colours = np.array([to_rgba(layer.styler.colors.get(str(v), "#3b6ea5"), 0.75)
                        for v in layer.features.values_of("类别")])
    print(f"\n1,000,000 points ({path.name}, 5 categories), A4 portrait 300 dpi on the base map:")
    ref, rad = reference_points(xy, colours, out / "ref_pts.png")
    print(f"  reference: plain matplotlib, one scatter with each point's colour, discs of {rad:.1f} CSS px "
          f"as the page draws so many (their style's 6 px would cover the map many times over): {ref:.2f} s")
    cold, warm = timed(lambda: export_map(stack, out / "pts.png", bbox=ZJ_BBOX, page="A4", dpi=300,
                                           title="百万兴趣点 1,000,000 points"), repeat)
    ok = warm < 5.0 and warm <= 2 * ref
    print(f"  zjmap export PNG: first {cold:.2f} s, warm {warm:.2f} s = {warm / ref:.2f}x the reference "
          f"(target < 5 s and <= 2x)  {verdict(ok)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--geopandas", action="store_true", help="also time GeoDataFrame.plot() (slow)")
    ap.add_argument("--skip-points", action="store_true")
    ap.add_argument("--skip-shipped", action="store_true")
    ap.add_argument("--keep", type=Path, help="folder to keep the pictures in")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        if not args.skip_shipped:
            shipped(out)
        big_polygons(out, max(1, args.repeat), args.geopandas)
        if not args.skip_points:
            big_points(out, max(1, args.repeat))


if __name__ == "__main__":
    main()
