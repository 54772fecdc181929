"""Layers for analysis, named the way the CLI and the dialogs name them, and results out.

A layer is named by a base level (``county``, ``prefecture``, ``province``:
the analysis version of the shipped boundaries), a seed-layer id
(``ms_26_counties``) or a file path (anything :func:`read_layer` reads).
In the app, :func:`layer_frame` makes the same table from a loaded layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from zjmap.core.analysis import AnalysisError, ZoneLayer
from zjmap.core.layers import MapLayer

OUT_FORMATS = (".csv", ".gpkg", ".xlsx")


@dataclass
class NamedLayer:
    """A layer as a table plus how to name its features."""

    frame: gpd.GeoDataFrame
    id_column: str  # "adcode" for base units, else "id"
    name_column: str | None
    title: str


def layer_frame(layer: MapLayer) -> NamedLayer:
    """A loaded layer (base, seed or user) as a GeoDataFrame in WGS-84."""
    gdf = layer.table.gdf if layer.kind == "user" else None
    if gdf is not None:
        frame = gdf.reset_index(drop=True)
        if "id" not in frame.columns:
            feats = layer.features  # a big table names its rows without making features
            frame = frame.assign(id=list(feats.ids()) if hasattr(feats, "ids") else [f.id for f in feats])
        name_col = layer.table.name_field
        return NamedLayer(frame, "id", name_col, layer.title)
    recs = []
    for f in layer.features:
        rec = {k: v for k, v in f.props.items() if not isinstance(v, (dict, list))}
        rec.setdefault("id", f.id)
        recs.append(rec)
    frame = gpd.GeoDataFrame(pd.DataFrame.from_records(recs), geometry=[f.geometry for f in layer.features], crs="EPSG:4326")
    id_col = "adcode" if layer.kind == "base" and "adcode" in frame.columns else "id"
    name_col = "name_zh" if "name_zh" in frame.columns else ("name" if "name" in frame.columns else None)
    return NamedLayer(frame, id_col, name_col, layer.title)


def open_layer(spec: str) -> NamedLayer:
    """``county`` / ``prefecture`` / ``province``, a seed-layer id, or a path."""
    from zjmap.core.boundaries import LEVELS, load_boundaries

    if spec.startswith("base_") and spec[5:] in LEVELS:  # the base layers' ids in the app
        spec = spec[5:]
    if spec in LEVELS:
        gdf = load_boundaries(spec).reset_index(drop=True)
        return NamedLayer(gdf, "adcode", "name_zh", spec)
    from zjmap.core.pgsource import is_remote

    p = Path(spec)
    if p.exists() or is_remote(spec):  # a file, or a PostGIS / OGC API Features source
        from zjmap.core.userfiles import UserFileError, read_layer
        from zjmap.core.userlayers import guess_name_field

        try:
            loaded = read_layer(spec if is_remote(spec) else p)  # a Path would fold the URI's //
        except UserFileError as exc:
            raise AnalysisError(str(exc)) from exc
        gdf = loaded.gdf.reset_index(drop=True)
        cols = [c for c in gdf.columns if c != gdf.geometry.name]
        if "id" not in gdf.columns:
            gdf = gdf.assign(id=np.arange(1, len(gdf) + 1))
        name = "name" if "name" in cols else guess_name_field(cols, {c: gdf[c].head(50).tolist() for c in cols})
        return NamedLayer(gdf, "id", name, loaded.name if is_remote(spec) else p.stem)
    from zjmap.core.catalogue import load_catalogue

    cat = load_catalogue()
    known = [info.id for info in cat.layers]
    if spec not in known:
        looks_like_path = any(ch in spec for ch in "/\\.")
        if looks_like_path:
            raise AnalysisError(f"no such file: {spec}")
        raise AnalysisError(f"unknown layer {spec!r}; give county, prefecture, province, a file, or one of: {', '.join(known)}")
    from zjmap.core.shipped import seed_layers

    info = next(i for i in cat.layers if i.id == spec)
    layer = next(lyr for lyr in seed_layers(cat) if lyr.id == spec)
    named = layer_frame(layer)
    named.title = info.title_zh or spec
    return named


def zones_of(named: NamedLayer) -> ZoneLayer:
    f = named.frame
    ids = f[named.id_column].astype(str).to_numpy(dtype=object)
    names = (f[named.name_column].astype(str).to_numpy(dtype=object) if named.name_column
             else ids.copy())
    return ZoneLayer(ids, names, np.asarray(f.geometry.values, dtype=object), named.id_column)


def write_result(result: gpd.GeoDataFrame, out: str | Path, layer_name: str = "summary") -> Path:
    """CSV (UTF-8 with BOM, so Excel shows Chinese), XLSX (openpyxl) or GeoPackage."""
    p = Path(out)
    ext = p.suffix.lower()
    if ext not in OUT_FORMATS:
        raise AnalysisError(f"cannot write {p.name}: give a .csv, .xlsx or .gpkg file")
    if not p.parent.exists():
        raise AnalysisError(f"folder {p.parent} does not exist")
    table = pd.DataFrame(result.drop(columns=result.geometry.name)) if isinstance(result, gpd.GeoDataFrame) else result
    try:
        if ext == ".csv":
            table.to_csv(p, index=False, encoding="utf-8-sig")
        elif ext == ".xlsx":
            table.to_excel(p, index=False, sheet_name=layer_name[:31], engine="openpyxl")
        else:
            result.to_file(p, layer=layer_name, driver="GPKG", engine="pyogrio")
    except PermissionError as exc:
        raise AnalysisError(f"cannot write {p}: permission denied (is it open in another program?)") from exc
    return p


def result_columns(result: pd.DataFrame) -> list[str]:
    return [c for c in result.columns if c != getattr(result, "geometry", pd.Series(name="geometry")).name]


def describe(value: Any) -> str:
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)
