"""Check the seed-001 specs (geodata/specs/ms_*.json) against the seed text and base boundaries.

    .venv/bin/python tools/check_specs_001.py

Checks: every quote is an exact substring of seeds/001_*.txt (unique, or its
`occurrence` exists), every figure value is written literally in its quote
unless `derived` says how it was obtained, feature ids are unique, categories
have colours, unit names exist in geodata/base, points lie inside their host
county. Exits 1 on any problem.
"""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(glob.glob(str(ROOT / "geodata/specs/ms_*.json")))


def seed_text(seed: str) -> str:
    (path,) = glob.glob(str(ROOT / f"seeds/{seed}_*.txt"))
    return Path(path).read_text(encoding="utf-8")


def literal(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def base_units():
    units, shapes = {}, {}
    try:
        from shapely.geometry import shape
    except ImportError:  # pragma: no cover
        return None, None
    for level in ("province", "prefecture", "county"):
        p = ROOT / f"geodata/base/display_{level}.geojson"
        if not p.exists():
            return None, None
        for f in json.loads(p.read_text(encoding="utf-8"))["features"]:
            pr = f["properties"]
            units.setdefault((level, pr["name_zh"]), []).append(pr.get("parent"))
            shapes[(level, pr["name_zh"], pr.get("parent"))] = shape(f["geometry"])
    return units, shapes


def main() -> int:
    errors: list[str] = []
    units, shapes = base_units()
    ids: set[str] = set()
    n_quotes = n_figs = 0

    def check_quote(where: str, seed: str, d: dict) -> str | None:
        nonlocal n_quotes
        n_quotes += 1
        text = seed_text(seed)
        q = d["quote"]
        c = text.count(q)
        occ = d.get("occurrence")
        if c == 0:
            errors.append(f"{where}: quote not in seed {seed}: {q!r}")
            return None
        if c > 1 and not occ:
            errors.append(f"{where}: quote occurs {c}x, needs occurrence: {q!r}")
        if occ and occ > c:
            errors.append(f"{where}: occurrence {occ} > {c}: {q!r}")
        if len(q) > 220:
            errors.append(f"{where}: quote too long ({len(q)} chars)")
        return q

    def check_unit(where: str, level: str, name: str, parent: str | None):
        if units is None:
            return
        parents = units.get((level, name))
        if not parents:
            errors.append(f"{where}: no base {level} unit '{name}'")
        elif parent and parent not in parents:
            errors.append(f"{where}: base {level} unit '{name}' has parent {parents}, not '{parent}'")

    for path in SPECS:
        layer = json.loads(Path(path).read_text(encoding="utf-8"))
        lid = layer["id"]
        if Path(path).stem != lid:
            errors.append(f"{path}: file name does not match id {lid}")
        for key in ("title_zh", "title_en", "group_zh", "group_en", "seed", "geometry", "style", "features"):
            if key not in layer:
                errors.append(f"{lid}: missing {key}")
        style = layer["style"]
        colors = style.get("colors", {})
        for f in layer["features"]:
            fid = f["id"]
            where = f"{lid}/{fid}"
            if fid in ids:
                errors.append(f"{where}: duplicate feature id")
            ids.add(fid)
            for key in ("name_zh", "name_en", "category", "host", "place", "sources", "figures"):
                if key not in f:
                    errors.append(f"{where}: missing {key}")
            if style.get("kind") == "categorical" and f["category"] not in colors:
                errors.append(f"{where}: category '{f['category']}' has no colour")
            if not f["sources"]:
                errors.append(f"{where}: no sources")
            for s in f["sources"]:
                check_quote(where, s.get("seed", layer["seed"]), s)
            for g in f["figures"]:
                n_figs += 1
                q = check_quote(f"{where} figure '{g['label']}'", g.get("seed", layer["seed"]), g)
                if q is not None and not g.get("derived") and literal(g["value"]) not in q:
                    errors.append(f"{where}: figure '{g['label']}' value {g['value']} not literal in {q!r}")
            place = f["place"]
            kind = place["kind"]
            if kind == "unit":
                for name in place["names"]:
                    check_unit(where, place["level"], name, place.get("parent"))
            elif kind == "link":
                for end in ("from", "to"):
                    e = place[end]
                    if "unit" in e:
                        check_unit(where, e["level"], e["unit"], e.get("parent"))
            elif kind in ("point", "circle"):
                county = f["host"].get("county")
                pref = f["host"].get("prefecture")
                if shapes is not None and isinstance(county, str):
                    from shapely.geometry import Point

                    g = shapes.get(("county", county, pref))
                    pt = Point(place["lon"], place["lat"])
                    if g is None:
                        errors.append(f"{where}: host county {county} ({pref}) not in base")
                    elif not g.buffer(0.005).contains(pt):
                        errors.append(f"{where}: point {pt.x},{pt.y} outside host county {county}")
            if layer["geometry"] == "link" and kind != "link":
                errors.append(f"{where}: link layer with place kind {kind}")

    for e in errors:
        print("ERROR", e)
    print(f"{len(SPECS)} specs, {len(ids)} features, {n_quotes} quotes, {n_figs} figures, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
