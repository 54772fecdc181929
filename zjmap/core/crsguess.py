"""The coordinate system of a planner's layer: the one declared, the one the
planner chose, or one guessed from the coordinates (degrees, Gauss–Krüger
zone-prefixed metres, or Gauss–Krüger metres around 120°E; see
:func:`guess_crs`), and the transformer to WGS-84.

Part of :mod:`zjmap.core.userfiles` (re-exported there).
"""

from __future__ import annotations

import codecs
import functools
import math
from dataclasses import dataclass

import numpy as np
from pyproj import CRS, Transformer
from pyproj.enums import TransformDirection
from pyproj.exceptions import CRSError, ProjError

from zjmap.core import dbf as _dbf
from zjmap.core.userfile_types import UserFileError, WGS84, _Layer


# Where this app's data normally lies: used to choose between CRS candidates.
_YRD = (114.8, 27.0, 123.0, 35.2)  # Shanghai, Jiangsu, Zhejiang, Anhui
_CHINA = (73.0, 3.0, 136.0, 54.0)

# ---------------------------------------------------------------------------
# Coordinate systems


@dataclass
class _CrsDecision:
    crs: CRS
    label: str
    guessed: bool
    reason: str | None
    warnings: list[str]
    transformer: Transformer | None  # None: already EPSG:4326


def _crs_label(c: CRS) -> str:
    code = c.to_epsg()
    if code is not None:
        return f"EPSG:{code}"
    auth = c.to_authority()
    if auth is not None:
        return f"{auth[0]}:{auth[1]}"
    return c.name or "custom coordinate system"


def _parse_crs_arg(crs: str | int | CRS) -> CRS:
    if isinstance(crs, CRS):
        return crs
    text = str(crs).strip()
    try:
        if text.isdigit():
            return CRS.from_epsg(int(text))
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise UserFileError(
            f"{text[:60]!r} is not a coordinate system zjmap knows; give it as EPSG:number, e.g. EPSG:4549.", kind="crs"
        ) from exc


def _check_encoding_name(encoding: str) -> str:
    enc = _dbf.cpg_encoding(encoding) or encoding.strip()
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise UserFileError(
            f"{encoding!r} is not a text encoding zjmap knows; try GBK, GB18030 or UTF-8.", kind="encoding"
        ) from exc
    return enc


@functools.lru_cache(maxsize=64)
def _to_wgs84(c: CRS) -> Transformer:
    # Building a Transformer costs ~0.1 s (PROJ database look-ups); pyproj
    # Transformers are thread-safe since 3.1, so they are shared.
    return Transformer.from_crs(c, WGS84, always_xy=True)


def _transformer(c: CRS) -> Transformer | None:
    """None when converting to EPSG:4326 changes nothing (WGS 84 in another
    spelling, or CGCS2000 degrees, whose difference PROJ treats as nil)."""
    if c == WGS84:
        return None
    t = _to_wgs84(c)
    if t.definition.split(" ")[0] == "proj=noop":
        return None
    return t


def _fits(c: CRS, bounds: tuple[float, float, float, float]) -> bool:
    """Do the data's bounds make sense in ``c``? (convertible, on Earth, round-trips)"""
    minx, miny, maxx, maxy = bounds
    xs = np.array([minx, maxx, minx, maxx, (minx + maxx) / 2])
    ys = np.array([miny, miny, maxy, maxy, (miny + maxy) / 2])
    if c.is_geographic:
        return bool(np.all(np.abs(xs) <= 180.0 + 1e-9) and np.all(np.abs(ys) <= 90.0 + 1e-9))
    try:
        t = _to_wgs84(c)
        lon, lat = t.transform(xs, ys, errcheck=False)
        if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
            return False
        if np.any(np.abs(lon) > 180) or np.any(np.abs(lat) > 90):
            return False
        bx, by = t.transform(lon, lat, direction=TransformDirection.INVERSE, errcheck=False)
    except (ProjError, CRSError):
        return False
    err = np.hypot(np.asarray(bx) - xs, np.asarray(by) - ys)
    return bool(np.all(np.isfinite(err)) and np.all(err < 1.0))


def _lonlat_box(c: CRS, bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    if not _fits(c, bounds):
        return None
    t = _transformer(c)
    if t is None:
        return bounds
    b = t.transform_bounds(*bounds, errcheck=False)
    return b if all(math.isfinite(v) for v in b) else None


def _inside(box: tuple[float, ...], region: tuple[float, ...], slack: float = 0.0) -> bool:
    return (
        box[0] >= region[0] - slack
        and box[2] <= region[2] + slack
        and box[1] >= region[1] - slack
        and box[3] <= region[3] + slack
    )


def _overlaps(box: tuple[float, ...], region: tuple[float, ...]) -> bool:
    return box[0] <= region[2] and box[2] >= region[0] and box[1] <= region[3] and box[3] >= region[1]


def _fmt_range(lo: float, hi: float) -> str:
    return f"{lo:,.0f}–{hi:,.0f}"


def _fmt_lonlat(b: tuple[float, ...]) -> str:
    lon = (b[0] + b[2]) / 2
    lat = (b[1] + b[3]) / 2
    return f"{abs(lon):.2f}°{'E' if lon >= 0 else 'W'} {abs(lat):.2f}°{'N' if lat >= 0 else 'S'}"


def guess_crs(bounds: tuple[float, float, float, float], what: str = "the file") -> tuple[CRS, str]:
    """Guess the CRS of coordinates with these bounds (minx, miny, maxx, maxy).

    Returns (crs, reason); raises :class:`UserFileError` if nothing fits.

    * inside ±180/±90: longitude/latitude degrees, EPSG:4326;
    * x ≥ 10,000,000: Gauss–Krüger metres with the zone number prefixed to
      the easting: 25–45 → CGCS2000 3-degree zone (EPSG:4513 + zone − 25,
      e.g. 40 → EPSG:4528, CM 120°E), 13–23 → 6-degree zone (EPSG:4491 +
      zone − 13); Web Mercator (EPSG:3857) when that puts the data in the
      Yangtze River Delta and the zone does not;
    * 200,000 < x < 800,000 and 2,000,000 < y < 6,000,000: CGCS2000 3-degree
      Gauss–Krüger without zone prefix; CM 120°E (EPSG:4549, most of
      Zhejiang), CM 123°E (EPSG:4550) or CM 117°E (EPSG:4548), the first
      that lands the data in/near the Yangtze River Delta.
    """
    minx, miny, maxx, maxy = bounds
    if not all(math.isfinite(v) for v in bounds):
        raise UserFileError(f"zjmap cannot tell the coordinate system of {what}: its coordinates are not numbers.", kind="crs")
    where = f"x {_fmt_range(minx, maxx)}, y {_fmt_range(miny, maxy)}"
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        return WGS84, (
            f"{what} does not say which coordinate system it uses; its coordinates are "
            "within ±180/±90, so they were read as longitude/latitude degrees (WGS 84, EPSG:4326; "
            "CGCS2000 degrees differ by less than a metre)."
        )
    cands: list[tuple[CRS, str]] = []
    if minx >= 1e7 and maxx < 1e8:
        zmin, zmax = int(minx // 1e6), int(maxx // 1e6)
        if zmin == zmax:
            zone = zmin
            if 25 <= zone <= 45:
                code = 4513 + zone - 25
                cands.append((CRS.from_epsg(code), (
                    f"the x coordinates start with {zone}, the zone number of the CGCS2000 3-degree "
                    f"Gauss–Krüger zone {zone} (central meridian {3 * zone}°E), EPSG:{code}"
                )))
            elif 13 <= zone <= 23:
                code = 4491 + zone - 13
                cands.append((CRS.from_epsg(code), (
                    f"the x coordinates start with {zone}, the zone number of the CGCS2000 6-degree "
                    f"Gauss–Krüger zone {zone} (central meridian {6 * zone - 3}°E), EPSG:{code}"
                )))
        if maxx <= 2.0037e7 and -2.0e7 < miny and maxy < 2.0e7:
            cands.append((CRS.from_epsg(3857), (
                "the coordinates look like Web Mercator metres (EPSG:3857, used by web maps)"
            )))
    elif 2e5 < minx and maxx < 8e5 and 2e6 < miny and maxy < 6e6:
        for code, cm in ((4549, 120), (4550, 123), (4548, 117)):
            cands.append((CRS.from_epsg(code), (
                f"the coordinates are metres that fit the CGCS2000 3-degree Gauss–Krüger projection "
                f"with central meridian {cm}°E (EPSG:{code})"
            )))
    boxes: dict[int, tuple[float, float, float, float] | None] = {}
    for region, place in ((_YRD, "the Yangtze River Delta"), (_CHINA, "China")):
        for i, (c, why) in enumerate(cands):
            if i not in boxes:
                boxes[i] = _lonlat_box(c, bounds)
            box = boxes[i]
            if box is not None and _inside(box, region, slack=1.0):
                return c, (
                    f"{what} does not say which coordinate system it uses; {why}, which puts the data "
                    f"in {place} ({where}). If it is in Xi'an 1980 or Beijing 1954 instead, choose "
                    "that coordinate system by hand."
                )
    raise UserFileError(
        f"zjmap cannot tell the coordinate system of {what}: it does not say, and its coordinates "
        f"({where}) are neither longitude/latitude nor Gauss–Krüger metres of China. "
        "Choose the coordinate system by hand.", kind="crs"
    )


def _decide_crs(
    override: CRS | None,
    declared: CRS | None,
    problem: str | None,
    bounds: tuple[float, float, float, float],
    lay: _Layer,
) -> _CrsDecision:
    if override is not None:
        label = _crs_label(override)
        if not _fits(override, bounds):
            raise UserFileError(
                f"The coordinates of {lay.display} do not fit {label} (they would land off the map); "
                "that is not their coordinate system.", kind="crs"
            )
        return _CrsDecision(override, label, False, None, [], _transformer(override))
    if declared is not None:
        label = _crs_label(declared)
        if _fits(declared, bounds):
            return _CrsDecision(declared, label, False, None, [], _transformer(declared))
        try:
            guess, why = guess_crs(bounds, lay.display)
        except UserFileError:
            raise UserFileError(
                f"The coordinates of {lay.display} do not fit the coordinate system it declares ({label}): "
                "they would land off the map. Choose the coordinate system by hand.", kind="crs"
            ) from None
        glabel = _crs_label(guess)
        why = why.replace(f"{lay.display} does not say which coordinate system it uses", f"{lay.display} says {label}, but its coordinates do not fit that")
        return _CrsDecision(
            guess, glabel, True, why,
            [f"{lay.display} declares {label}, but its coordinates do not fit it; read as {glabel} instead."],
            _transformer(guess),
        )
    if problem is not None:
        raise UserFileError(problem, kind="crs")  # the .prj could not be understood
    guess, why = guess_crs(bounds, lay.display)
    return _CrsDecision(guess, _crs_label(guess), True, why, [], _transformer(guess))
