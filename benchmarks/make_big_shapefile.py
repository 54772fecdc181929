"""Generate a big polygon shapefile covering Zhejiang, for load benchmarks.

    python benchmarks/make_big_shapefile.py [OUT.shp] [--n 100000] [--hex] [--gbk]

N small square (or hexagonal) cells tile Zhejiang's bounding box
(118–123°E, 27–31.5°N) row by row, in EPSG:4326, with attributes ``id``
(int), ``名称`` (Chinese text, e.g. "浙江格网000123"), ``area_km2`` (float)
and ``类别`` (one of a few Chinese class names). By default the text is UTF-8
with a .cpg; ``--gbk`` writes GBK and removes the .cpg, the hard case for
encoding detection. Not run by the tests.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

BBOX = (118.0, 27.0, 123.0, 31.5)
CLASSES = np.array(["城镇", "农业", "生态", "水域", "工业"], dtype=object)


def default_path(n: int = 100_000) -> Path:
    return Path(tempfile.gettempdir()) / "zjmap_bench" / f"zhejiang_cells_{n}.shp"


def make_cells(n: int, hexagons: bool = False) -> np.ndarray:
    """n polygons tiling BBOX row by row (the last row may be partial)."""
    minx, miny, maxx, maxy = BBOX
    w, h = maxx - minx, maxy - miny
    nx = math.ceil(math.sqrt(n * w / h))
    ny = math.ceil(n / nx)
    dx, dy = w / nx, h / ny
    i = np.arange(n)
    cx = minx + (i % nx + 0.5) * dx
    cy = miny + (i // nx + 0.5) * dy
    if hexagons:
        ang = np.deg2rad(np.arange(0, 360, 60) + 30)  # pointy-top hexagon
        rx, ry = dx / 2 * np.cos(ang) / np.cos(np.deg2rad(30)), dy / 2 * np.sin(ang) / 0.75
        ring_x = np.concatenate([rx, rx[:1]])
        ring_y = np.concatenate([ry, ry[:1]])
    else:
        ring_x = np.array([-0.5, -0.5, 0.5, 0.5, -0.5]) * dx  # clockwise, as shapefiles want
        ring_y = np.array([-0.5, 0.5, 0.5, -0.5, -0.5]) * dy
    coords = np.stack([cx[:, None] + ring_x, cy[:, None] + ring_y], axis=-1)
    return shapely.polygons(coords)


def make_big_shapefile(path: Path, n: int = 100_000, hexagons: bool = False, gbk: bool = False) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    geoms = make_cells(n, hexagons)
    ids = np.arange(n)
    lat = shapely.get_coordinates(shapely.centroid(geoms))[:, 1]
    cell_km2 = shapely.area(geoms) * 111.32**2 * np.cos(np.deg2rad(lat))
    gdf = gpd.GeoDataFrame(
        {
            "id": ids,
            "名称": [f"浙江格网{i:06d}" for i in ids],
            "area_km2": np.round(cell_km2, 4),
            "类别": CLASSES[ids % len(CLASSES)],
        },
        geometry=geoms,
        crs=4326,
    )
    gdf.to_file(path, driver="ESRI Shapefile", engine="pyogrio", encoding="GBK" if gbk else "UTF-8")
    if gbk:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=None)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--hex", action="store_true", help="hexagonal cells instead of squares")
    ap.add_argument("--gbk", action="store_true", help="GBK text without .cpg")
    args = ap.parse_args()
    out = args.out or default_path(args.n)
    t = time.perf_counter()
    make_big_shapefile(out, args.n, args.hex, args.gbk)
    print(f"wrote {args.n:,} cells to {out} in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
