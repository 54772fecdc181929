"""Reopening a big file that has not changed: from a cache, not from GDAL.

A planner opens the same 100,000-parcel shapefile every morning. Reading it
(encoding sniff, GDAL, repair, reprojection) and preparing its display
arrays (simplified zoom bands) take seconds; what comes out is the same as
yesterday as long as the file is. So the result is kept in the cache folder:

* ``table.arrow`` — the attribute table (Arrow IPC, read memory-mapped) and,
  in ``display.npz``, the cleaned WGS-84 geometry as GeoArrow-style flat
  coordinates and offsets, rebuilt with one ``shapely.from_ragged_array``
  (files mixing points, lines and polygons: GeoParquet ``table.parquet``);
* ``display.npz`` + ``meta.json`` — the display arrays of every zoom band
  (:class:`~zjmap.core.bigdisplay.BigDisplay`) and what the planner is told
  about how the file was read (CRS, encoding, warnings).

An entry is keyed by the file's path, how it was read (layer, encoding and
CRS overrides) and the modification time and size of the file and of its
shapefile sidecars: a changed file (or ``.dbf``, ``.prj``, ``.cpg``) is read
again, never served stale. Only layers of :data:`MIN_FEATURES` features or
more are kept, at most :data:`MAX_ENTRIES` of them (oldest removed first).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from zjmap.core.bigdisplay import BIG_FEATURES, BigDisplay, _Geom, _Part

__all__ = ["MAX_ENTRIES", "MIN_FEATURES", "cache_key", "load", "store"]

#: Bump when what is stored changes: old entries are then never read.
CACHE_VERSION = 2
MIN_FEATURES = BIG_FEATURES
MAX_ENTRIES = 6
#: Off: every opening reads the file (the load benchmark times the read this way).
enabled = True
_SIDECARS = (".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn")


def cache_root() -> Path:
    from zjmap.core.mappage import cache_dir

    return cache_dir() / "layers-read"


def cache_key(path: str | os.PathLike[str], layer: Any = None, encoding: str | None = None,
              crs: str | None = None) -> str | None:
    """The entry name for reading ``path`` this way now, or None (no such file)."""
    if not enabled:
        return None
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError:
        return None
    stamps = [[p.name, st.st_mtime_ns, st.st_size]]
    if p.suffix.lower() == ".shp":
        for ext in _SIDECARS:
            for side in (p.with_suffix(ext), p.with_suffix(ext.upper())):
                try:
                    s = side.stat()
                except OSError:
                    continue
                stamps.append([side.name, s.st_mtime_ns, s.st_size])
    ident = json.dumps([CACHE_VERSION, str(p), layer, encoding, crs, stamps], ensure_ascii=False)
    return hashlib.sha1(ident.encode("utf-8")).hexdigest()


def meta_of(loaded: Any) -> dict[str, Any]:
    """What :func:`store` keeps of a LoadedLayer besides its table."""
    fields = asdict(loaded) if hasattr(loaded, "__dataclass_fields__") else dict(vars(loaded))
    fields.pop("gdf", None)
    fields["bounds_wgs84"] = list(fields["bounds_wgs84"])
    return fields


def store(key: str, meta: dict[str, Any], gdf: Any, display: BigDisplay) -> Path | None:
    """Keep a read layer (``meta`` from :func:`meta_of`, its table ``gdf``)
    and its ``display`` (with its zoom bands) under ``key``; None when the
    layer is not worth keeping. Safe on a worker thread."""
    import shapely

    if len(gdf) < MIN_FEATURES or len(display.bands) < 2:  # small, or its zoom bands still to come
        return None
    if (shapely.get_type_id(np.asarray(gdf.geometry.array, dtype=object)) == 7).any():
        return None  # collections are drawn member by member: not kept (rare in planners' files)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / key
    if target.is_dir():
        return target
    tmp = root / f".{key}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        arrays: dict[str, np.ndarray] = {"origin": display.origin}
        geoms = np.asarray(gdf.geometry.array, dtype=object)
        try:  # one geometry family (the usual case): its flat coordinates and offsets, rebuilt in one call
            gtype, coords, offsets = shapely.to_ragged_array(geoms, include_z=False)
        except ValueError:  # mixed families: GeoParquet with its WKB
            gtype = None
            gdf.to_parquet(tmp / "table.parquet", geometry_encoding="WKB", index=False)
        else:
            import pyarrow as pa
            import pyarrow.feather as feather

            arrays["coords"] = coords
            for i, off in enumerate(offsets):
                arrays[f"offsets{i}"] = off
            attrs = gdf.drop(columns=gdf.geometry.name)
            feather.write_feather(pa.Table.from_pandas(attrs, preserve_index=False), tmp / "table.arrow",
                                  compression="uncompressed")
        for i, p in enumerate(display.parts):
            arrays[f"feat{i}"], arrays[f"bbox{i}"] = p.feat, p.bbox
        for k, s in enumerate(display.geoms):
            for i, g in enumerate(s):
                arrays[f"xy{k}_{i}"], arrays[f"frings{k}_{i}"] = g.xy, g.frings
                if g.rings is not None:
                    arrays[f"rings{k}_{i}"] = g.rings
        np.savez(tmp / "display.npz", **arrays)
        meta = {
            "loaded": meta,
            "parts": [p.type for p in display.parts],
            "sets": [[g.rings is not None for g in s] for s in display.geoms],
            "bands": display.bands,
            "typical_px": display.typical_px,
            "lat": display._lat,
            "tolerance_px": display.tolerance_px,
            "min_drop": display.min_drop,
            "features": len(gdf),
            "geometry_type": None if gtype is None else int(gtype),
            "offsets": 0 if gtype is None else len(offsets),
            "geometry_name": str(gdf.geometry.name),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        return None
    except Exception:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(root)
    return target


def _prune(root: Path) -> None:
    entries = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        shutil.rmtree(old, ignore_errors=True)


def load(key: str) -> tuple[Any, BigDisplay] | None:
    """The LoadedLayer and BigDisplay kept under ``key``, or None (no entry,
    or one that cannot be read: it is removed and the file read again)."""
    d = cache_root() / key
    if not d.is_dir():
        return None
    try:
        import geopandas as gpd

        from zjmap.core.userfiles import LoadedLayer

        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        with np.load(d / "display.npz") as z:
            if meta["geometry_type"] is None:
                gdf = gpd.read_parquet(d / "table.parquet")
            else:
                import pyarrow.feather as feather
                import shapely

                geoms = shapely.from_ragged_array(shapely.GeometryType(meta["geometry_type"]), z["coords"],
                                                  tuple(z[f"offsets{i}"] for i in range(meta["offsets"])))
                attrs = feather.read_table(d / "table.arrow", memory_map=True).to_pandas()
                gdf = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(geoms, crs=4326, name=meta["geometry_name"]),
                                       crs=4326)
            parts = [_Part(t, z[f"feat{i}"], z[f"bbox{i}"]) for i, t in enumerate(meta["parts"])]
            sets = [[_Geom(z[f"xy{k}_{i}"], z[f"rings{k}_{i}"] if has_rings else None, z[f"frings{k}_{i}"])
                     for i, has_rings in enumerate(s)] for k, s in enumerate(meta["sets"])]
            origin = z["origin"]
        if len(gdf) != meta["features"]:
            raise ValueError("table and display disagree")
        disp = BigDisplay(origin, parts, sets, [tuple(b) for b in meta["bands"]], float(meta["typical_px"]),
                          tolerance_px=meta["tolerance_px"], min_drop=meta["min_drop"])
        geoms = np.asarray(gdf.geometry.array, dtype=object)
        disp._fam_geoms = [geoms[p.feat] for p in parts]
        disp._lat = float(meta["lat"])
        lm = dict(meta["loaded"])
        lm["bounds_wgs84"] = tuple(lm["bounds_wgs84"])
        loaded = LoadedLayer(gdf=gdf, **lm)
    except Exception:  # damaged, half-written by a crashed run, or from another version
        shutil.rmtree(d, ignore_errors=True)
        return None
    try:
        os.utime(d, (time.time(), time.time()))  # recently used: pruned last
    except OSError:
        pass
    return loaded, disp
