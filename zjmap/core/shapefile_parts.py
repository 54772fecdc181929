"""A shapefile's parts (loose on disk or inside a zip) and the checks run on
their bytes before GDAL sees them: sidecars present, sizes consistent,
signatures right, the ``.prj`` parsed with pyproj and the attribute encoding
chosen (see :mod:`zjmap.core.dbf`).

GDAL either fails with a cryptic message or (for a missing .dbf or a garbage
.prj) silently carries on, hence these checks; used by
:mod:`zjmap.core.userfiles`.
"""

from __future__ import annotations

import functools
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pyproj import CRS
from pyproj.exceptions import CRSError

from zjmap.core import dbf as _dbf
from zjmap.core.userfile_types import UserFileError, _vanished


class _ShpParts:
    """The files of one shapefile, on disk or inside a zip, by extension."""

    display: str  # "roads.shp" or "roads.shp in data.zip"
    stem: str

    def exists(self, ext: str) -> bool:
        raise NotImplementedError

    def size(self, ext: str) -> int:
        raise NotImplementedError

    def read(self, ext: str, n: int = -1) -> bytes:
        raise NotImplementedError

    def gone(self) -> bool:
        raise NotImplementedError

    def name(self, ext: str) -> str:
        return f"{self.stem}{ext}"


class _DiskShp(_ShpParts):
    def __init__(self, shp: Path):
        self.shp = shp
        self.stem = shp.stem
        self.display = shp.name
        self._had = [e for e in (".shp", ".shx", ".dbf") if self.exists(e)]

    def _find(self, ext: str) -> Path | None:
        # GDAL looks for the lower- and the upper-case extension.
        for e in (ext.lower(), ext.upper()):
            cand = self.shp.with_suffix(e)
            if cand.is_file():
                return cand
        return None

    def exists(self, ext: str) -> bool:
        return self._find(ext) is not None

    def size(self, ext: str) -> int:
        f = self._find(ext)
        if f is None:
            raise FileNotFoundError(self.name(ext))
        return f.stat().st_size

    def read(self, ext: str, n: int = -1) -> bytes:
        f = self._find(ext)
        if f is None:
            raise FileNotFoundError(self.name(ext))
        with open(f, "rb") as fp:
            return fp.read(n)

    def gone(self) -> bool:
        return not all(self.exists(e) for e in self._had or [".shp"])


class _ZipShp(_ShpParts):
    def __init__(self, zip_path: Path, member: str, shown: str):
        self.zip_path = zip_path
        self.member = member
        base = member[: -len(".shp")]
        self._base = base
        self.stem = PurePosixPath(shown).name[: -len(".shp")]
        self.display = f"{PurePosixPath(shown).name} in {zip_path.name}"

    def _info(self, ext: str) -> zipfile.ZipInfo | None:
        with zipfile.ZipFile(self.zip_path) as zf:
            names = set(zf.namelist())
            for e in (ext.lower(), ext.upper()):
                if self._base + e in names:
                    return zf.getinfo(self._base + e)
        return None

    def exists(self, ext: str) -> bool:
        return self._info(ext) is not None

    def size(self, ext: str) -> int:
        info = self._info(ext)
        if info is None:
            raise FileNotFoundError(self.name(ext))
        return info.file_size

    def read(self, ext: str, n: int = -1) -> bytes:
        info = self._info(ext)
        if info is None:
            raise FileNotFoundError(self.name(ext))
        with zipfile.ZipFile(self.zip_path) as zf, zf.open(info) as fp:
            return fp.read(n)

    def gone(self) -> bool:
        return not self.zip_path.is_file()


# ---------------------------------------------------------------------------
# Shapefile checks


@dataclass
class _ShpFacts:
    n: int
    geometry_type: str | None
    dbf: _dbf.DbfHeader | None  # None: geometry only (no .dbf)
    warnings: list[str]


_SHP_TYPES = {
    0: None, 1: "Point", 3: "LineString", 5: "Polygon", 8: "MultiPoint",
    11: "Point Z", 13: "LineString Z", 15: "Polygon Z", 18: "MultiPoint Z",
    21: "Point M", 23: "LineString M", 25: "Polygon M", 28: "MultiPoint M",
    31: "MultiPatch",
}  # fmt: skip


def _check_shapefile(parts: _ShpParts) -> _ShpFacts:
    """Sidecars present, sizes consistent, signatures right: else a clear error."""
    shp = parts.display
    try:
        if not parts.exists(".shp"):
            raise _vanished(shp)
        size = parts.size(".shp")
        if size == 0:
            raise UserFileError(
                f"{shp} is empty (0 bytes): the copy or download probably failed. "
                "Copy it again from the original.", kind="damaged"
            )
        head = parts.read(".shp", 100)
        if int.from_bytes(head[:4], "big") != 9994:
            if _looks_like_text(head):
                snippet = head[:40].decode("utf-8", "replace").splitlines()[0] if head.strip() else ""
                raise UserFileError(
                    f"{shp} is not a shapefile: it is a text file (it starts with {snippet!r}). "
                    "It may have been renamed, or saved by a program that wrote text instead.", kind="not_map_data"
                )
            raise UserFileError(
                f"{shp} is not a shapefile: it does not start with the shapefile signature "
                "(it may be another kind of file renamed to .shp, or damaged).", kind="not_map_data"
            )
        if size < 100:
            raise UserFileError(
                f"{shp} is incomplete: it has only {size} bytes, less than a shapefile header; "
                "the copy or download was probably cut short.", kind="damaged"
            )
        declared = int.from_bytes(head[24:28], "big") * 2
        if size < declared:
            raise UserFileError(
                f"{shp} is incomplete: its header says {declared:,} bytes but the file has only "
                f"{size:,}; the copy or download was probably cut short.", kind="damaged"
            )
        shape_type = int.from_bytes(head[32:36], "little")

        shx = parts.name(".shx")
        if not parts.exists(".shx"):
            raise UserFileError(
                f"{shp} cannot be opened: its index file {shx} is missing. A shapefile is several "
                "files with the same name (.shp, .shx, .dbf, usually .prj and .cpg); copy all of them together.", kind="missing"
            )
        shx_size = parts.size(".shx")
        shx_head = parts.read(".shx", 100)
        if shx_size < 100 or int.from_bytes(shx_head[:4], "big") != 9994:
            raise UserFileError(f"{shp} cannot be opened: its index file {shx} is damaged or empty.", kind="damaged")
        shx_declared = int.from_bytes(shx_head[24:28], "big") * 2
        if shx_size < shx_declared:
            raise UserFileError(
                f"{shp} cannot be opened: its index file {shx} is incomplete "
                f"({shx_size:,} of {shx_declared:,} bytes).", kind="damaged"
            )
        n = (min(shx_size, shx_declared) - 100) // 8

        dbf = parts.name(".dbf")
        if not parts.exists(".dbf"):  # GDAL opens the shapes alone, and so does zjmap
            return _ShpFacts(n, _SHP_TYPES.get(shape_type, f"type {shape_type}"), None, [
                f"{shp} has no attribute table ({dbf} is missing): only the shapes were loaded. "
                "If it should have attributes, copy the .dbf along with the other files."
            ])
        dbf_size = parts.size(".dbf")
        if dbf_size == 0:
            raise UserFileError(f"{shp} cannot be opened: its attribute table {dbf} is empty (0 bytes).", kind="damaged")
        try:
            header = _dbf.parse_header(parts.read(".dbf", 65536))
        except _dbf.DbfError as exc:
            raise UserFileError(f"{shp} cannot be opened: its attribute table {dbf} is damaged ({exc}).", kind="damaged") from exc
        if dbf_size < header.data_len:
            raise UserFileError(
                f"{shp} cannot be opened: its attribute table {dbf} is incomplete "
                f"({dbf_size:,} of {header.data_len:,} bytes); the copy was probably cut short.", kind="damaged"
            )
    except FileNotFoundError as exc:
        raise _vanished(shp) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        if parts.gone():
            raise _vanished(shp) from exc
        raise UserFileError(f"zjmap cannot read {shp} ({exc}).", kind="access") from exc
    warnings: list[str] = []
    if header.n_records != n:
        warnings.append(
            f"{dbf} has {header.n_records:,} rows but {shp} has {n:,} shapes; "
            "the file was probably edited by a program that did not keep them together."
        )
    return _ShpFacts(n, _SHP_TYPES.get(shape_type, f"type {shape_type}"), header, warnings)


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # cut mid-character by the 100-byte read
    

def _prj_crs(parts: _ShpParts) -> CRS | None:
    """The CRS of the .prj, None if there is no .prj; UserFileError if unparseable."""
    if not parts.exists(".prj"):
        return None
    prj = parts.name(".prj")
    raw = parts.read(".prj")
    text = raw.decode("utf-8", "replace").strip().lstrip("\ufeff")
    if not text:
        return None
    try:
        return _parse_prj_text(text)
    except CRSError as exc:
        raise UserFileError(
            f"The coordinate system file {prj} of {parts.display} cannot be understood "
            f"(it starts {text[:30]!r}); choose the coordinate system by hand.", kind="crs"
        ) from exc


@functools.lru_cache(maxsize=32)
def _parse_prj_text(text: str) -> CRS:
    """WKT (ESRI or OGC) as .prj files hold it; a PROJ string or "EPSG:n" also
    pass. Anything else fails at once (pyproj's free-text lookup is slow)."""
    head = text.lstrip()[:12].upper()
    if re.match(r"^[A-Z_0-9]+\[", head):
        return CRS.from_wkt(text)
    if head.startswith("+PROJ") or head.startswith("+INIT"):
        return CRS.from_proj4(text)
    if re.fullmatch(r"(EPSG|ESRI):\d+", text.strip().upper()):
        return CRS.from_user_input(text.strip())
    raise CRSError("not WKT")


def _shapefile_encoding(
    parts: _ShpParts, facts: _ShpFacts, override: str | None
) -> tuple[str | None, str, list[str]]:
    """(encoding, reason, warnings) for a shapefile's attributes."""
    header = facts.dbf
    if header is None:
        return None, "no attribute table (.dbf)", []
    want = min(header.data_len, header.header_len + 32 * 1024 * 1024)
    try:
        data = parts.read(".dbf", want)
    except (zipfile.BadZipFile, OSError) as exc:
        if parts.gone() or isinstance(exc, FileNotFoundError):
            raise _vanished(parts.display) from exc
        raise UserFileError(f"zjmap cannot read {parts.name('.dbf')} ({exc}).", kind="access") from exc
    samples = _dbf.text_samples(header, data[header.header_len :])
    dbf = parts.name(".dbf")
    if override is not None:
        bad = _dbf.first_undecodable(samples, override)
        if bad is not None:
            raise UserFileError(
                f"The attribute text of {dbf} is not valid {override} (e.g. the bytes {bad[:12].hex(' ')}); "
                "choose another encoding (Chinese files are usually GBK or UTF-8).", kind="encoding"
            )
        return override, "chosen by hand", []
    cpg_text = None
    if parts.exists(".cpg"):
        try:
            cpg_text = parts.read(".cpg", 200).decode("ascii", "replace")
        except OSError:
            cpg_text = None
    choice = _dbf.choose_encoding(cpg_text, header.ldid, samples)
    if choice.encoding is None:
        raise UserFileError(
            f"The attribute text of {dbf} cannot be decoded: it is neither UTF-8 nor GBK/GB18030 "
            f"({choice.reason}); choose the encoding by hand.", kind="encoding"
        )
    return choice.encoding, choice.reason, choice.warnings


def _shp_signature_ok(parts: _ShpParts) -> bool:
    try:
        return parts.size(".shp") >= 100 and int.from_bytes(parts.read(".shp", 4), "big") == 9994
    except OSError:
        return False


def _shx_rebuilt(shp: str, shx: str) -> str:
    return (f"{shp} had no index file ({shx}): zjmap rebuilt it in a temporary copy "
            "(your files are unchanged). Copy the .shx along with the other files next time.")
