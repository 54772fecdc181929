"""Reopening a big file that has not changed: from a cache, not from GDAL.

A planner opens the same 100,000-parcel shapefile every morning. Reading it
(encoding sniff, GDAL, repair, reprojection) and preparing its display
arrays (simplified zoom bands) take seconds; what comes out is the same as
yesterday as long as the file is. So the result is kept in the cache folder,
in files that are mapped into memory rather than parsed:

* ``table.arrow`` — the attribute table (Arrow IPC, uncompressed, read
  memory-mapped); ``coords.npy`` + ``offsets<i>.npy`` — the cleaned WGS-84
  geometry as GeoArrow-style flat coordinates and offsets (files mixing
  points, lines and polygons: GeoParquet ``table.parquet`` with WKB);
* ``display.bin`` — the page's array file of every zoom band, byte for byte
  as :meth:`~zjmap.core.bigdisplay.BigDisplay.write` lays it out: the
  reopened display's arrays are views of it and the page reads it as it is;
  ``bbox<i>.npy`` the parts' boxes;
* ``meta.json`` — where each array lies in ``display.bin``, the bands, and
  what the planner is told about how the file was read (CRS, encoding, warnings).

Reopening builds no geometry: the layer is drawn from ``display.bin`` and
its shapely geometries are made from the flat coordinates on first need
(:class:`RaggedColumn`: a click, the attribute table, an export), or in the
background once the layer is shown (:meth:`RaggedColumn.prepare`). Making
100,000 polygons took two thirds of a reopen.

An entry is keyed by the file's path, how it was read (layer, encoding and
CRS overrides) and the modification time and size of the file and of its
shapefile sidecars: a changed file (or ``.dbf``, ``.prj``, ``.cpg``) is read
again, never served stale. Only layers of :data:`MIN_FEATURES` features or
more are kept, at most :data:`MAX_ENTRIES` of them (oldest removed first).
"""

from __future__ import annotations

import copy
import hashlib
import json
import mmap
import os
import shutil
import threading
import time
import weakref
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from zjmap.core.bigdisplay import BIG_FEATURES, BigDisplay, _big_dir, _Geom, _Part, _unlink
from zjmap.core.layermodel import LayerTable
from zjmap.core.lazygeom import PREPARE_CHUNK, RaggedColumn, map_npy  # noqa: F401  (PREPARE_CHUNK: tests)

__all__ = ["MAX_ENTRIES", "MIN_FEATURES", "DeferredTable", "RaggedColumn", "Reopened", "cache_key", "load",
           "reopen", "store"]

#: Bump when what is stored changes: old entries are then never read.
CACHE_VERSION = 4
MIN_FEATURES = BIG_FEATURES
MAX_ENTRIES = 6
#: Off: every opening reads the file (the load benchmark times the read this way).
enabled = True
_SIDECARS = (".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn")
#: Entries whose display.bin a layer of this process draws from (not pruned).
_open: "weakref.WeakValueDictionary[str, BigDisplay]" = weakref.WeakValueDictionary()


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
    """What :func:`store` keeps of a LoadedLayer besides its table (not
    ``dataclasses.asdict``: that deep-copies the table, a fifth of a second
    for 100,000 polygons, only to drop it)."""
    out = {f.name: copy.deepcopy(getattr(loaded, f.name)) for f in fields(loaded) if f.name != "gdf"}
    out["bounds_wgs84"] = list(out["bounds_wgs84"]) if out["bounds_wgs84"] is not None else None
    return out


# ---------------------------------------------------------------------------
# Geometry made on first need: zjmap.core.lazygeom.RaggedColumn


class DeferredTable(LayerTable):
    """A reopened layer's table: the attributes (``attrs``, no geometry
    column) at once, the GeoDataFrame (``gdf``) made on first use from them
    and the geometry ``column``."""

    def __init__(self, gdf: Any = None, name_field: str | None = None, *, attrs: Any = None,
                 column: Any = None, geometry_name: str = "geometry"):
        self._gdf = gdf
        self.name_field = name_field
        self.attrs = attrs
        self.column = column
        self.geometry_name = geometry_name
        self._lock = threading.Lock()

    @property  # type: ignore[override]
    def gdf(self) -> Any:
        got = self._gdf
        if got is None and self.attrs is not None:
            with self._lock:
                got = self._gdf
                if got is None:
                    import geopandas as gpd

                    col = self.column
                    geoms = col if isinstance(col, np.ndarray) else col.geoms()
                    geo = gpd.GeoSeries(geoms, index=self.attrs.index, crs=4326, name=self.geometry_name)
                    got = self._gdf = gpd.GeoDataFrame(self.attrs, geometry=geo, crs=4326)
        return got

    @gdf.setter
    def gdf(self, value: Any) -> None:
        self._gdf = value

    def named(self, name_field: str | None) -> "DeferredTable":
        self.name_field = name_field
        return self


@dataclass
class Reopened:
    """A cache hit: how the file was read (``loaded``, whose ``gdf`` is the
    attribute table only), its ``table`` (geometry on first need) and its
    ``display`` — what :func:`~zjmap.core.userlayers.user_layer` takes.
    ``first``: the display of its coarsest set alone (a file half the
    size or less), for a first picture sooner; the window sends ``display``
    once that is drawn (None: one set, send ``display`` at once)."""

    loaded: Any
    table: DeferredTable
    display: BigDisplay
    first: BigDisplay | None = None

    @property
    def features(self) -> int:
        return len(self.table.attrs)


# ---------------------------------------------------------------------------
# Keeping


def store(key: str, meta: dict[str, Any], gdf: Any, display: BigDisplay) -> Path | None:
    """Keep a read layer (``meta`` from :func:`meta_of`, its table ``gdf``: a
    GeoDataFrame or the layer's LayerTable, whose GeoDataFrame is made here if
    needed; a point layer's coordinates are kept as they are) and its ``display`` (with its zoom bands) under ``key``; None when the
    layer is not worth keeping. Safe on a worker thread."""
    import shapely

    from zjmap.core.pointcolumn import PointColumn

    column = getattr(gdf, "column", None)
    points = column if isinstance(column, PointColumn) else None  # coordinates: kept as they are
    ragged = column if isinstance(column, RaggedColumn) else None  # flat coordinates: kept as they are
    flat = points if points is not None else ragged
    if flat is None and isinstance(gdf, LayerTable):
        gdf = gdf.gdf  # made here, off the UI thread
        if gdf is None:
            return None
    if len(flat if flat is not None else gdf) < MIN_FEATURES or len(display.bands) < 2:
        return None  # small, or its zoom bands still to come
    if flat is None and (shapely.get_type_id(np.asarray(gdf.geometry.array, dtype=object)) == 7).any():
        return None  # collections are drawn member by member: not kept (rare in planners' files)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / key
    if target.is_dir():
        return target
    tmp = root / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        n_offsets = 0
        single = None
        try:  # one geometry family (the usual case): its flat coordinates and offsets
            if points is not None:
                gtype, coords, offsets = shapely.GeometryType.POINT, points.xy, ()
            elif ragged is not None:
                gtype, coords, offsets, single = ragged.gtype, ragged.coords, ragged.offsets, ragged.single
            else:
                gtype, coords, offsets = shapely.to_ragged_array(np.asarray(gdf.geometry.array, dtype=object),
                                                                 include_z=False)
        except ValueError:  # mixed families: GeoParquet with its WKB
            gtype = None
            gdf.to_parquet(tmp / "table.parquet", geometry_encoding="WKB", index=False)
        else:
            import pyarrow as pa
            import pyarrow.feather as feather

            if ragged is not None:
                ragged.save_coords(tmp / "coords.npy")
            else:
                np.save(tmp / "coords.npy", np.ascontiguousarray(coords, dtype=np.float64))
            for i, off in enumerate(offsets):
                np.save(tmp / f"offsets{i}.npy", np.asarray(off, dtype=np.int64))
            n_offsets = len(offsets)
            if single is not None:
                np.save(tmp / "single.npy", single)
            if ragged is not None and ragged._bounds is not None:  # the rows' boxes: what identify tests first
                np.save(tmp / "bounds.npy", ragged._bounds)
            attrs = gdf.attrs if flat is not None else gdf.drop(columns=gdf.geometry.name)
            feather.write_feather(pa.Table.from_pandas(attrs, preserve_index=False), tmp / "table.arrow",
                                  compression="uncompressed")
        page_file = display.write()  # the page's array file (written already when the layer was shown)
        shutil.copyfile(page_file, tmp / "display.bin")
        first = _first_bytes(display._where, len(display.geoms))
        if first:  # the coarsest set alone: the layer's first picture, from half the bytes or less
            with open(page_file, "rb") as src, open(tmp / "first.bin", "wb") as dst:
                dst.write(src.read(first))
        for i, p in enumerate(display.parts):
            np.save(tmp / f"bbox{i}.npy", np.asarray(p.bbox, dtype="<f4"))
        meta = {
            "loaded": meta,
            "parts": [p.type for p in display.parts],
            "sets": [[g.rings is not None for g in s] for s in display.geoms],
            "where": [[list(k), list(v)] for k, v in display._where.items()],
            "bin_bytes": (tmp / "display.bin").stat().st_size,
            "first_bytes": first,
            "origin": [float(v) for v in display.origin],
            "bands": display.bands,
            "typical_px": display.typical_px,
            "lat": display._lat,
            "tolerance_px": display.tolerance_px,
            "min_drop": display.min_drop,
            "features": len(attrs) if flat is not None else len(gdf),
            "geometry_type": None if gtype is None else int(gtype),
            "offsets": n_offsets,
            "geometry_name": gdf.geometry_name if flat is not None else str(gdf.geometry.name),
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
        if old.name not in _open:  # a layer on the map still reads its display.bin
            shutil.rmtree(old, ignore_errors=True)


def _first_bytes(where: dict[tuple, list[int]], n_sets: int) -> int:
    """Where the page file's coarsest set ends (its features' indices and that
    set come first: see BigDisplay._layout), when that is at most half of
    the file; else 0 (one set, or a first set about as big as the rest)."""
    if n_sets < 2:
        return 0
    ends = {k: off + 4 * n for k, (off, n) in where.items()}  # every array is 4-byte (u4 / f4)
    first = max(e for k, e in ends.items() if k[0] == "feat" or k[1] == 0)
    return first if 2 * first <= max(ends.values()) else 0


# ---------------------------------------------------------------------------
# Reopening


def _linked(disp: BigDisplay, target: Path, where: dict[tuple, list[int]]) -> None:
    """The page reads ``target`` for ``disp`` through a link of its own (gone with the display)."""
    link = _big_dir() / f"{disp.key}.bin"
    try:
        os.link(target, link)
    except OSError:  # another file system: a symbolic link, and the entry is not pruned while in use
        os.symlink(target, link)
    disp._path = link
    disp._where = where
    weakref.finalize(disp, _unlink, str(link))


def _coarse(full: BigDisplay, d: Path, where: dict[tuple, list[int]], size: int) -> BigDisplay | None:
    """The display of the coarsest set alone (every zoom band drawn with it),
    whose page file first.bin is the first ``size`` bytes of display.bin."""
    if not size or (d / "first.bin").stat().st_size != size:
        return None
    disp = BigDisplay(full.origin, full.parts, [full.geoms[0]], [(mz, 0) for mz, _i in full.bands], full.typical_px,
                      tolerance_px=full.tolerance_px, min_drop=full.min_drop)
    disp._lat = full._lat
    _linked(disp, d / "first.bin", {k: v for k, v in where.items() if k[0] == "feat" or k[1] == 0})
    return disp


def _display(d: Path, key: str, meta: dict[str, Any]) -> tuple[BigDisplay, BigDisplay | None]:
    """The display of entry ``d`` (views of its display.bin, which the page
    reads as it is) and the one of its coarsest set alone, if kept."""
    with open(d / "display.bin", "rb") as fh:
        buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    if len(buf) != meta["bin_bytes"]:
        raise ValueError("display.bin is incomplete")
    where = {tuple(k): v for k, v in meta["where"]}

    def view(k: tuple, dtype: str) -> np.ndarray:
        off, n = where[k]
        return np.frombuffer(buf, dtype=dtype, count=n, offset=off)

    parts = [_Part(t, view(("feat", i), "<u4"), np.load(d / f"bbox{i}.npy", mmap_mode="r"))
             for i, t in enumerate(meta["parts"])]
    sets = [[_Geom(view(("xy", k, i), "<f4"), view(("rings", k, i), "<u4") if has_rings else None,
                   view(("frings", k, i), "<u4"))
             for i, has_rings in enumerate(s)] for k, s in enumerate(meta["sets"])]
    disp = BigDisplay(np.asarray(meta["origin"], dtype=np.float64), parts, sets, [tuple(b) for b in meta["bands"]],
                      float(meta["typical_px"]), tolerance_px=meta["tolerance_px"], min_drop=meta["min_drop"])
    disp._lat = float(meta["lat"])
    _linked(disp, d / "display.bin", where)
    _open[key] = disp
    return disp, _coarse(disp, d, where, int(meta.get("first_bytes") or 0))


def load(key: str) -> Reopened | None:
    """The layer kept under ``key``, or None (no entry, or one that cannot
    be read: it is removed and the file read again). No geometry is made."""
    d = cache_root() / key
    if not d.is_dir():
        return None
    try:
        from zjmap.core.userfiles import LoadedLayer

        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
        if meta["geometry_type"] is None:
            import geopandas as gpd

            gdf = gpd.read_parquet(d / "table.parquet")
            attrs = gdf.drop(columns=gdf.geometry.name)
            column: Any = np.asarray(gdf.geometry.array, dtype=object)
        else:
            import pyarrow.feather as feather

            gdf = None
            attrs = feather.read_table(d / "table.arrow", memory_map=True).to_pandas()
            if meta["geometry_type"] == 0 and meta["offsets"] == 0:  # points: their coordinates (zjmap.core.pointcolumn)
                from zjmap.core.pointcolumn import PointColumn

                column = PointColumn(np.load(d / "coords.npy", mmap_mode="r"))
            else:
                coords, mapping = map_npy(d / "coords.npy")
                single = np.load(d / "single.npy") if (d / "single.npy").is_file() else None
                boxes = np.load(d / "bounds.npy", mmap_mode="r") if (d / "bounds.npy").is_file() else None
                column = RaggedColumn(meta["geometry_type"], coords,
                                      tuple(np.load(d / f"offsets{i}.npy", mmap_mode="r") for i in range(meta["offsets"])),
                                      single, boxes, mapping=mapping)
        if len(attrs) != meta["features"] or len(column) != meta["features"]:
            raise ValueError("table and display disagree")
        disp, first = _display(d, key, meta)
        lm = dict(meta["loaded"])
        lm["bounds_wgs84"] = tuple(lm["bounds_wgs84"]) if lm["bounds_wgs84"] is not None else None
        loaded = LoadedLayer(gdf=attrs, **lm)
        table = DeferredTable(gdf, attrs=attrs, column=column, geometry_name=meta["geometry_name"])
    except Exception:  # damaged, half-written by a crashed run, or from another version
        shutil.rmtree(d, ignore_errors=True)
        return None
    try:
        os.utime(d, (time.time(), time.time()))  # recently used: pruned last
    except OSError:
        pass
    return Reopened(loaded, table, disp, first)


def reopen(path: str | os.PathLike[str], layer: Any = None, encoding: str | None = None,
           crs: str | None = None) -> Reopened | None:
    """The cached read of ``path`` read this way, if it is unchanged. A
    workspace names the layer it read even where the planner asked for none
    (a shapefile's one layer): the entry of the file's only layer serves it
    when that is the layer named."""
    key = cache_key(path, layer, encoding, crs)
    hit = load(key) if key else None
    if hit is None and layer is not None:
        key = cache_key(path, None, encoding, crs)
        hit = load(key) if key else None
        if hit is not None and hit.loaded.name != layer:
            return None
    return hit
