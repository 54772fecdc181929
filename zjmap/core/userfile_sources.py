"""What is in a planner's file: the path resolved to a source (loose file,
zip, FileGDB folder) and its layers, each described without reading it.

Part of :mod:`zjmap.core.userfiles` (``open_source``).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path, PurePosixPath

import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError, GeometryError
from pyproj import CRS
from pyproj.exceptions import CRSError

from zjmap.core import formats as _formats
from zjmap.core import oddfiles as _odd
from zjmap.core.userfile_types import (
    CHUNK_FEATURES, LayerInfo, UserFileError, _Layer, _Source, _detail, _vanished,
)
from zjmap.core.shapefile_parts import (
    _DiskShp, _ZipShp, _check_shapefile, _prj_crs, _shp_signature_ok, _shx_rebuilt,
)
from zjmap.core.userfile_readers import _ogr_info
from zjmap.core.csvpoints import _CsvReader
from zjmap.core.crsguess import _crs_label


# ---------------------------------------------------------------------------
# What is in the file


_EXT_DRIVER = _formats.driver_by_suffix()
_SIDE_EXTS = set(_formats.SHAPEFILE_SIDECARS) | set(_formats.SHAPEFILE_EXTRA_PARTS)
_SUPPORTED = _formats.SUPPORTED_TEXT


def _resolve(path: str | os.PathLike[str]) -> _Source:
    p = Path(path)
    disp = p.name or str(p)
    if not p.exists():
        raise UserFileError(f"zjmap cannot find {disp} (looked for {p}).", kind="missing")
    if p.is_dir():
        fmt = _formats.by_suffix(p.suffix)
        if fmt is not None and fmt.folder:
            return _ogr_source(p, fmt.driver)
        raise UserFileError(
            f"{disp} is a folder; open one of the files in it ({_SUPPORTED}).", kind="not_map_data"
        )
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise UserFileError(f"zjmap cannot open {disp} ({exc.strerror or exc}).", kind="access") from exc
    if size == 0:
        raise UserFileError(
            f"{disp} is empty (0 bytes): the copy or download probably failed. "
            "Copy it again from the original.", kind="damaged"
        )
    ext = p.suffix.lower()
    if ext in _SIDE_EXTS:
        shp = _DiskShp(p.with_suffix(".shp"))
        if shp.exists(".shp"):
            p, ext = shp._find(".shp") or p, ".shp"  # the planner picked a sidecar
        else:
            raise UserFileError(
                f"{disp} is only one part of a shapefile, and {p.stem}.shp is not next to it; "
                "copy all files with that name (.shp, .shx, .dbf, .prj, .cpg) together.", kind="missing"
            )
    fmt = _formats.by_suffix(ext)
    if fmt is None:
        return _ogr_source(p, None)  # GDAL may still know it (its message says if not)
    opener = _formats.opener_for(fmt)
    return opener(p, disp) if opener is not None else _ogr_source(p, fmt.driver)


@_formats.opener("shapefile")
def _open_shapefile(p: Path, disp: str) -> _Source:
    if p.suffix.lower() == ".zip":
        return _zip_source(p)
    parts = _DiskShp(p)
    notes: list[str] = []
    read_from = p
    if not parts.exists(".shx") and _shp_signature_ok(parts):
        read_from = _odd.restored_shx_copy(p)
        parts = _DiskShp(read_from)
        notes.append(_shx_rebuilt(p.name, f"{p.stem}.shx"))
    lay = _Layer(p.stem, parts.display, "ESRI Shapefile", str(read_from), None, shp=parts, file=p, notes=notes)
    return _Source(p, p.name, "ESRI Shapefile", None, [lay])


@_formats.opener("gpkg")
def _open_gpkg(p: Path, disp: str) -> _Source:
    with open(p, "rb") as fp:
        magic = fp.read(16)
    if magic != b"SQLite format 3\x00":
        raise UserFileError(
            f"{disp} is not a GeoPackage: it does not have the SQLite signature "
            "(the file may be damaged, or another kind of file renamed to .gpkg).", kind="not_map_data"
        )
    return _ogr_source(p, "GPKG")


@_formats.opener("flatgeobuf")
def _open_fgb(p: Path, disp: str) -> _Source:
    with open(p, "rb") as fp:
        magic = fp.read(4)
    if magic[:3] != b"fgb":
        raise UserFileError(f"{disp} is not a FlatGeobuf file: it does not start with the FlatGeobuf signature.",
                            kind="not_map_data")
    return _ogr_source(p, "FlatGeobuf")


@_formats.opener("csv")
def _open_csv(p: Path, disp: str) -> _Source:
    lay = _Layer(p.stem, disp, "CSV", str(p), None, file=p)
    return _Source(p, disp, "CSV", None, [lay])


def _zip_source(p: Path) -> _Source:
    disp = p.name
    try:
        with zipfile.ZipFile(p) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserFileError(
            f"{disp} is not a readable zip archive: it is damaged or the download was cut short ({exc}).", kind="damaged"
        ) from exc
    real = [
        i for i in infos
        if not i.filename.startswith("__MACOSX/") and not PurePosixPath(i.filename).name.startswith("._")
    ]
    if not real:
        raise UserFileError(f"{disp} is an empty zip archive: it holds no files.", kind="empty")
    shps = [i for i in real if i.filename.lower().endswith(".shp")]
    if not shps:
        listed = ", ".join(_zip_display_name(i) for i in real[:5]) + (" …" if len(real) > 5 else "")
        raise UserFileError(
            f"{disp} holds no shapefile (it contains: {listed}). "
            "Unzip it and open the GIS file directly if it is another format.", kind="not_map_data"
        )
    shown = [_zip_display_name(i) for i in shps]
    stems = [PurePosixPath(s).name[:-4] for s in shown]
    layers = []
    for info, s, stem in zip(shps, shown, stems):
        name = stem if stems.count(stem) == 1 else s[:-4]
        parts = _ZipShp(p, info.filename, s)
        if not parts.exists(".shx") and _shp_signature_ok(parts):
            disk = _DiskShp(_odd.restored_shx_copy_from_zip(p, info.filename))
            disk.display = parts.display
            layers.append(_Layer(name, parts.display, "ESRI Shapefile", str(disk.shp), None, shp=disk, file=p,
                                 notes=[_shx_rebuilt(parts.display, parts.name(".shx"))]))
            continue
        gdal_path = f"/vsizip/{p.resolve().as_posix()}/{info.filename}"
        layers.append(_Layer(name, parts.display, "ESRI Shapefile", gdal_path, None, shp=parts, file=p))
    return _Source(p, disp, "ESRI Shapefile", "zip", layers)


def _zip_display_name(info: zipfile.ZipInfo) -> str:
    """Member name for people: zips made on Chinese Windows store GBK names
    without the UTF-8 flag, which Python (like GDAL) decodes as CP437."""
    name = info.filename
    if info.flag_bits & 0x800 or name.isascii():
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            pass
    return name


def _ogr_source(p: Path, driver: str | None, gdal_path: str | None = None) -> _Source:
    disp = p.name
    gpath = gdal_path or str(p)
    try:
        names = pyogrio.list_layers(gpath)
    except GeometryError as exc:
        # one layer's type has no name in pyogrio (GDAL's "Unknown Z"): the
        # whole listing fails, so list a GeoPackage's layers from its own table
        names = [(n, None) for n, t in _odd.gpkg_layer_names(p) if t == "features"] if driver == "GPKG" else None
        if not names:
            raise UserFileError(f"zjmap cannot read {disp}: a layer in it has a shape type zjmap cannot read{_detail(exc)}.", kind="not_map_data") from exc
    except (DataSourceError, DataLayerError, RuntimeError, OSError) as exc:
        if not p.exists():
            raise _vanished(disp) from exc
        if driver is None:
            raise UserFileError(
                f"zjmap cannot read {disp}: it is not a file type zjmap knows "
                f"(it reads {_SUPPORTED}).", kind="not_map_data"
            ) from exc
        kind = {"GPKG": "GeoPackage", "OpenFileGDB": "FileGDB"}.get(driver, driver)
        raise UserFileError(
            f"zjmap cannot read {disp}: it is damaged or not really a {kind} file{_detail(exc)}.", kind="damaged"
        ) from exc
    if driver is None:
        try:
            driver = str(pyogrio.read_info(gpath).get("driver") or "unknown")
        except Exception:  # noqa: BLE001 - any failure: just an unknown driver
            driver = "unknown"
    if len(names) == 0:
        raise UserFileError(f"{disp} holds no layers: there is nothing to show.", kind="empty")
    layers = []
    for name, _gtype in names:
        name = str(name)
        show = disp if len(names) == 1 else f"layer '{name}' of {disp}"
        layers.append(_Layer(name, show, driver, gpath, name, file=p))
    return _Source(p, disp, driver, None, layers)


def _layer_info(lay: _Layer) -> tuple[LayerInfo, list[str]]:
    """Count features etc. of one layer; a broken layer gets ``problem``."""
    notes: list[str] = []
    try:
        if lay.shp is not None:
            facts = _check_shapefile(lay.shp)
            crs_label = None
            try:
                c = _prj_crs(lay.shp)
                crs_label = _crs_label(c) if c is not None else None
            except UserFileError as exc:
                notes.append(str(exc))
            return LayerInfo(lay.name, facts.n, facts.geometry_type, crs_label, None), notes
        if lay.driver == "CSV":
            r = _CsvReader(None, lay, None, CHUNK_FEATURES)
            problem = None if r.total else f"{lay.display} contains no rows: there is nothing to show."
            return LayerInfo(lay.name, r.total, "Point", None, problem, problem and "empty"), notes
        info = _ogr_info(lay, None)
        n = info.get("features")
        n = None if n is None or n < 0 else int(n)
        gtype = info.get("geometry_type")
        c = info.get("crs")
        crs_label = None
        if c:
            try:
                crs_label = _crs_label(CRS.from_user_input(c))
            except CRSError:
                crs_label = str(c)
        problem = None
        if gtype is None:
            problem = f"{lay.display} is a plain table without shapes: there is nothing to show on a map."
        return LayerInfo(lay.name, n, gtype, crs_label, problem, problem and "not_map_data"), notes
    except UserFileError as exc:
        return LayerInfo(lay.name, None, None, None, str(exc), exc.kind), notes


def _pick_layer(src: _Source, layer: str | int | None) -> tuple[_Layer, list[str]]:
    names = [lay.name for lay in src.layers]
    if layer is None:
        if len(src.layers) == 1:
            return src.layers[0], []
        first_problem, first_kind = None, None
        usable = []
        for lay in src.layers:
            info, _ = _layer_info(lay)
            if info.problem is None:
                usable.append((info.features == 0, lay))  # an empty layer only if all are empty
            elif first_problem is None:
                first_problem, first_kind = info.problem, info.problem_kind
        if usable:
            lay = min(usable, key=lambda u: u[0])[1]
            others = [n for n in names if n != lay.name]
            return lay, [
                f"{src.display} holds {len(names)} layers; loaded '{lay.name}' "
                f"(the others: {', '.join(others)})."
            ]
        raise UserFileError(first_problem or f"{src.display} has nothing zjmap can load.",
                            kind=first_kind or "empty")
    if isinstance(layer, int) and not isinstance(layer, bool):
        if 0 <= layer < len(src.layers):
            return src.layers[layer], []
    else:
        for lay in src.layers:
            if lay.name == layer:
                return lay, []
        for lay in src.layers:
            if lay.name.casefold() == str(layer).casefold():
                return lay, []
        if str(layer).isdigit() and int(layer) < len(src.layers):
            return src.layers[int(layer)], []
    raise UserFileError(
        f"{src.display} has no layer {layer!r}; its layers are: {', '.join(names)}.", kind="no_layer"
    )
