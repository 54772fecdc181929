"""Files GDAL opens although they are not quite whole: what zjmap does so it opens them too.

Hand-written because pyogrio has no call for these cases: it refuses to list
any layer of a GeoPackage when one layer's geometry type has no pyogrio name,
and GDAL rebuilds a missing ``.shx`` only beside the ``.shp`` (a planner's
folder, maybe read-only or shared, is never written to: a private copy is).
"""

from __future__ import annotations

import atexit
import re
import shutil
import sqlite3
import tempfile
import threading
import zipfile
from pathlib import Path, PurePosixPath

import pyogrio

# the shapefile's own parts; index files of other tools are left behind
_SHP_PARTS = {".shp", ".dbf", ".prj", ".cpg"}
_copies: dict[tuple[str, int, int], Path] = {}  # (file!member, size, mtime) -> copy
_lock = threading.Lock()
_tmp_root: list[Path] = []


def _tmp() -> Path:
    if not _tmp_root:
        d = Path(tempfile.mkdtemp(prefix="zjmap-shx-"))
        _tmp_root.append(d)
        atexit.register(shutil.rmtree, d, True)
    return _tmp_root[0]


def restored_shx_copy(shp: Path) -> Path:
    """A temporary copy of ``shp`` (with its .dbf/.prj/.cpg) whose .shx GDAL
    rebuilt (SHAPE_RESTORE_SHX); one copy per file version per run."""

    def copy_parts(d: Path) -> Path:
        for f in shp.parent.iterdir():
            if f.stem == shp.stem and f.suffix.lower() in _SHP_PARTS and f.is_file():
                shutil.copy2(f, d / f.name)
        return d / shp.name

    return _restored(shp, "", copy_parts)


def restored_shx_copy_from_zip(zip_path: Path, member: str) -> Path:
    """The same for the shapefile ``member`` of a zip: its parts are extracted
    to a temporary folder (the zip is only read)."""
    base = member[: -len(".shp")]

    def extract_parts(d: Path) -> Path:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                n = info.filename
                if n[: len(base)] == base and n[len(base):].lower() in _SHP_PARTS:
                    (d / PurePosixPath(n).name).write_bytes(zf.read(info))
        return d / PurePosixPath(member).name

    return _restored(zip_path, member, extract_parts)


def _restored(path: Path, member: str, put_parts) -> Path:
    st = path.stat()
    key = (f"{path.resolve()}!{member}", st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _copies and _copies[key].exists():
            return _copies[key]
        copy = put_parts(Path(tempfile.mkdtemp(dir=_tmp())))
        pyogrio.set_gdal_config_options({"SHAPE_RESTORE_SHX": True})
        try:
            pyogrio.read_info(str(copy))  # opening it writes the .shx
        finally:
            pyogrio.set_gdal_config_options({"SHAPE_RESTORE_SHX": None})
        _copies[key] = copy
        return copy


def gpkg_layer_names(path: Path) -> list[tuple[str, str]]:
    """(name, data type) of a GeoPackage's layers, from its gpkg_contents table."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT table_name, data_type FROM gpkg_contents ORDER BY rowid").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []
    return [(str(n), str(t)) for n, t in rows]


_BASE_TYPES = {0: "Unknown", 1: "Point", 2: "LineString", 3: "Polygon", 4: "MultiPoint",
               5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}


def geometry_type_name(exc: BaseException) -> str:
    """pyogrio says "Geometry type is not supported: 2147483648"; a planner
    (and GDAL, and QGIS) calls that "Unknown Z"."""
    m = re.search(r"(\d+)\s*$", str(exc))
    if not m:
        return "unknown"
    code = int(m.group(1))
    z = " Z" if code & 0x80000000 or 1000 <= code % 4000 < 2000 or code % 4000 >= 3000 else ""
    base = (code & 0x7FFFFFFF) % 1000
    return f"{_BASE_TYPES.get(base, f'type {base}')}{z}"
