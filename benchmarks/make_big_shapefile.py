"""Generate big planners' files covering Zhejiang, for the load benchmarks.

    python benchmarks/make_big_shapefile.py [OUT] [--n 100000] [--shape irregular|squares|hex] [--utf8]
    python benchmarks/make_big_shapefile.py OUT.csv --points --n 1000000   (or OUT.gpkg)

Polygons (default): N cells covering Zhejiang's bounding box (118–123°E,
27–31.5°N) in EPSG:4326, with attributes ``id`` (int), ``名称`` (Chinese
text, e.g. "浙江地块000123"), ``用地代码`` (a land-use code), ``area_km2``
(float) and ``类别`` (a Chinese class name). ``irregular`` (the default) are
what a parcel or planning-unit file looks like: Voronoi cells of jittered
seeds, their edges cut into about 24 vertices a polygon and bent by one
smooth displacement field (so neighbours still share their edges, as in a
real coverage); ``squares``/``hex`` are the old regular grids.
A ``.shp`` is written in GBK without a ``.cpg`` (the hard case for encoding
detection, and what Chinese desktop GIS writes) unless ``--utf8``;
``.gpkg`` is UTF-8 as the format says.

Points (``--points``): N points scattered over the same box, denser around
the cities, as a CSV with ``lon``/``lat`` columns (UTF-8) or a GeoPackage,
with ``id``, ``名称``, ``类别`` and ``value``. Not run by the tests.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

BBOX = (118.0, 27.0, 123.0, 31.5)
CLASSES = np.array(["城镇", "农业", "生态", "水域", "工业"], dtype=object)
CODES = np.array(["R1", "R2", "M1", "G1", "E1", "A3", "B1", "S3"], dtype=object)
#: Zhejiang's cities (lon, lat): points cluster around them.
CITIES = np.array([(120.16, 30.27), (121.55, 29.87), (120.70, 28.00), (120.76, 30.75), (120.09, 30.89),
                   (120.58, 30.00), (119.65, 29.08), (118.87, 28.94), (122.21, 29.99), (121.42, 28.66),
                   (119.92, 28.45)])


def default_path(n: int = 100_000, shape: str = "irregular", gbk: bool = True, suffix: str = ".shp") -> Path:
    name = f"zhejiang_{'parcels' if shape == 'irregular' else 'cells'}_{n}"
    if shape == "hex":
        name += "_hex"
    if gbk and suffix == ".shp":
        name += "_gbk"
    return Path(tempfile.gettempdir()) / "zjmap_bench" / (name + suffix)


def points_path(n: int = 1_000_000, suffix: str = ".csv") -> Path:
    return Path(tempfile.gettempdir()) / "zjmap_bench" / f"zhejiang_points_{n}{suffix}"


def _grid(n: int) -> tuple[int, int, float, float]:
    minx, miny, maxx, maxy = BBOX
    w, h = maxx - minx, maxy - miny
    nx = math.ceil(math.sqrt(n * w / h))
    ny = math.ceil(n / nx)
    return nx, ny, w / nx, h / ny


def make_cells(n: int, hexagons: bool = False) -> np.ndarray:
    """n squares (or hexagons) tiling BBOX row by row (the last row may be partial)."""
    minx, miny, _maxx, _maxy = BBOX
    nx, _ny, dx, dy = _grid(n)
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


def make_irregular(n: int, vertices: int = 24, seed: int = 0) -> np.ndarray:
    """n irregular polygons of about ``vertices`` vertices covering BBOX, row by row.

    Voronoi cells of seeds jittered around a grid, each edge cut into short
    segments, then every vertex moved by one smooth displacement field
    (wavelength 0.4 cell, amplitude 4 % of a cell: it bends no edge across
    another), so shared edges stay shared and the outlines wiggle as
    digitised boundaries do.
    """
    rng = np.random.default_rng(seed)
    minx, miny, _maxx, _maxy = BBOX
    nx, _ny, dx, dy = _grid(n)
    i = np.arange(n)
    cx = minx + (i % nx + 0.5 + rng.uniform(-0.35, 0.35, n)) * dx
    cy = miny + (i // nx + 0.5 + rng.uniform(-0.35, 0.35, n)) * dy
    box = shapely.box(*BBOX)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(np.column_stack([cx, cy])), extend_to=box))
    cells = shapely.intersection(cells, box)
    seeds, cell = shapely.STRtree(cells).query(shapely.points(cx, cy), predicate="intersects")
    order = np.empty(n, dtype=np.int64)
    order[seeds] = cell  # back to the seeds' (row by row) order
    cells = cells[order]
    size = math.sqrt(dx * dy)
    cells = shapely.segmentize(cells, 0.155 * size * 29 / (vertices + 1))
    k = 2 * math.pi / (0.4 * size)
    amp = 0.04 * size / 1.5

    def wiggle(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        ddx = amp * (np.sin(k * y + 1.3) * np.cos(0.7 * k * x) + 0.5 * np.sin(1.9 * k * (x + y)))
        ddy = amp * (np.sin(k * x + 0.4) * np.cos(0.8 * k * y) + 0.5 * np.cos(1.7 * k * (x - y)))
        return np.column_stack([x + ddx, y + ddy])

    return shapely.transform(cells, wiggle)


def make_big_shapefile(path: Path, n: int = 100_000, hexagons: bool = False, gbk: bool = False,
                       shape: str | None = None) -> Path:
    """Polygons into ``path`` (.shp or .gpkg); ``shape``: "irregular", "squares" or "hex"."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = shape or ("hex" if hexagons else "squares")
    geoms = make_irregular(n) if shape == "irregular" else make_cells(n, shape == "hex")
    ids = np.arange(n)
    lat = shapely.get_coordinates(shapely.centroid(geoms))[:, 1] if n <= 200_000 else \
        (shapely.bounds(geoms)[:, 1] + shapely.bounds(geoms)[:, 3]) / 2
    cell_km2 = shapely.area(geoms) * 111.32**2 * np.cos(np.deg2rad(lat))
    word = "地块" if shape == "irregular" else "格网"
    gdf = gpd.GeoDataFrame(
        {
            "id": ids,
            "名称": [f"浙江{word}{i:06d}" for i in ids],
            "用地代码": CODES[(ids * 7) % len(CODES)],
            "area_km2": np.round(cell_km2, 4),
            "类别": CLASSES[ids % len(CLASSES)],
        },
        geometry=geoms,
        crs=4326,
    )
    if path.suffix.lower() == ".gpkg":
        path.unlink(missing_ok=True)
        gdf.to_file(path, driver="GPKG", engine="pyogrio", layer=path.stem)
        return path
    gdf.to_file(path, driver="ESRI Shapefile", engine="pyogrio", encoding="GBK" if gbk else "UTF-8")
    if gbk:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def make_points(path: Path, n: int = 1_000_000, seed: int = 1) -> Path:
    """n points into ``path``: a .csv with lon/lat columns or a .gpkg."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = BBOX
    near = rng.random(n) < 0.7  # most points around a city, the rest anywhere
    city = CITIES[rng.integers(0, len(CITIES), n)]
    lon = np.where(near, city[:, 0] + rng.normal(0, 0.15, n), rng.uniform(minx, maxx, n))
    lat = np.where(near, city[:, 1] + rng.normal(0, 0.12, n), rng.uniform(miny, maxy, n))
    lon, lat = np.clip(lon, minx, maxx).round(6), np.clip(lat, miny, maxy).round(6)
    ids = np.arange(n)
    table = {
        "id": ids,
        "名称": [f"兴趣点{i:07d}" for i in ids],
        "类别": CLASSES[ids % len(CLASSES)],
        "value": np.round(rng.gamma(2.0, 50.0, n), 2),
    }
    if path.suffix.lower() == ".gpkg":
        path.unlink(missing_ok=True)
        gpd.GeoDataFrame(table, geometry=shapely.points(lon, lat), crs=4326).to_file(
            path, driver="GPKG", engine="pyogrio", layer=path.stem)
    else:
        pd.DataFrame({"id": ids, "lon": lon, "lat": lat, **{k: v for k, v in table.items() if k != "id"}}).to_csv(
            path, index=False, encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=None)
    ap.add_argument("--n", type=int, default=None, help="features (default 100,000 polygons, 1,000,000 points)")
    ap.add_argument("--shape", choices=("irregular", "squares", "hex"), default="irregular")
    ap.add_argument("--utf8", action="store_true", help="a UTF-8 shapefile with .cpg (default: GBK without .cpg)")
    ap.add_argument("--points", action="store_true", help="points (CSV with lon/lat, or .gpkg) instead of polygons")
    args = ap.parse_args()
    t = time.perf_counter()
    if args.points:
        n = args.n or 1_000_000
        out = make_points(args.out or points_path(n), n)
    else:
        n = args.n or 100_000
        out = args.out or default_path(n, args.shape, not args.utf8)
        make_big_shapefile(out, n, gbk=not args.utf8, shape=args.shape)
    print(f"wrote {n:,} {'points' if args.points else args.shape + ' polygons'} to {out} in {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
