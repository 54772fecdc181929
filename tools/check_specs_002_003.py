"""Check the layer specs made from seeds 002 and 003 (block_*.json, bay_*.json).

Checks, without the builder:
  * every quote (sources and figures) is an exact substring of its seed, unique
    or with a valid "occurrence";
  * every figure value is written literally in its quote, unless "derived" says how;
  * feature ids are unique across all specs in geodata/specs/;
  * categories are covered by style.colors (categorical layers);
  * points lie in a rough box around Zhejiang (and, when geodata/base holds
    county boundaries with name_zh, inside their host county ±500 m).

Usage: .venv/bin/python tools/check_specs_002_003.py   (exit 1 on any problem)
"""

from __future__ import annotations

import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = os.path.join(ROOT, "geodata", "specs")
MINE = ("block_", "bay_")


def seed_text(seed: str) -> str:
    paths = glob.glob(os.path.join(ROOT, "seeds", f"{seed}_*.txt"))
    if len(paths) != 1:
        raise SystemExit(f"seed {seed}: expected one file, got {paths}")
    with open(paths[0], encoding="utf-8") as fh:
        return fh.read()


def literal_forms(value) -> list[str]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, float):
        forms = [repr(value)]
        if value.is_integer():
            forms.append(str(int(value)))
        return forms
    return [str(value)]


def check_quote(errors, where, texts, seed, quote, occurrence):
    text = texts.setdefault(seed, seed_text(seed))
    n = text.count(quote)
    if n == 0:
        errors.append(f"{where}: quote not found in seed {seed}: {quote!r}")
    elif n > 1 and not occurrence:
        errors.append(f"{where}: quote occurs {n}x in seed {seed}, give occurrence: {quote!r}")
    elif occurrence and not (1 <= occurrence <= n):
        errors.append(f"{where}: occurrence {occurrence} but quote occurs {n}x")
    if len(quote) > 220:
        errors.append(f"{where}: quote longer than ~200 chars ({len(quote)})")


def load_base_counties():
    """name_zh -> shapely geometry for county-level base units, if available."""
    try:
        from shapely.geometry import shape
    except ImportError:
        return {}
    out = {}
    for path in glob.glob(os.path.join(ROOT, "geodata", "base", "*.geojson")):
        try:
            with open(path, encoding="utf-8") as fh:
                gj = json.load(fh)
        except (OSError, ValueError):
            continue
        for f in gj.get("features", []):
            p = f.get("properties") or {}
            name = p.get("name_zh")
            if name and f.get("geometry"):
                out.setdefault(name, []).append(shape(f["geometry"]))
    return out


def main() -> int:
    errors: list[str] = []
    texts: dict[str, str] = {}
    all_ids: dict[str, str] = {}
    counties = load_base_counties()
    mine = []
    for path in sorted(glob.glob(os.path.join(SPECS, "*.json"))):
        with open(path, encoding="utf-8") as fh:
            spec = json.load(fh)
        base = os.path.basename(path)
        for f in spec.get("features", []):
            fid = f.get("id")
            if fid in all_ids:
                errors.append(f"duplicate feature id {fid} in {base} and {all_ids[fid]}")
            all_ids[fid] = base
        if base.startswith(MINE):
            mine.append((base, spec))

    for base, spec in mine:
        for key in ("id", "title_zh", "title_en", "group_zh", "group_en", "seed", "order", "geometry", "style", "features"):
            if key not in spec:
                errors.append(f"{base}: missing {key}")
        if base != spec.get("id", "") + ".json":
            errors.append(f"{base}: file name does not match id {spec.get('id')}")
        style = spec.get("style", {})
        colors = style.get("colors") or {}
        for f in spec.get("features", []):
            where = f"{base}:{f.get('id')}"
            for key in ("id", "name_zh", "name_en", "category", "host", "place", "sources", "figures"):
                if key not in f:
                    errors.append(f"{where}: missing {key}")
            if style.get("kind") == "categorical" and f.get("category") not in colors:
                errors.append(f"{where}: category {f.get('category')!r} has no colour")
            if not f.get("sources"):
                errors.append(f"{where}: no sources")
            for s in f.get("sources", []):
                check_quote(errors, where, texts, s["seed"], s["quote"], s.get("occurrence"))
            for fig in f.get("figures", []):
                fw = f"{where}:figure {fig.get('label')}"
                seed = fig.get("seed", spec["seed"])
                check_quote(errors, fw, texts, seed, fig["quote"], fig.get("occurrence"))
                if not fig.get("derived"):
                    if not any(form in fig["quote"] for form in literal_forms(fig["value"])):
                        errors.append(f"{fw}: value {fig['value']} not literal in quote and no 'derived'")
                for key in ("label", "value", "unit"):
                    if fig.get(key) in (None, ""):
                        errors.append(f"{fw}: missing {key}")
            if style.get("kind") == "graduated":
                sf = style.get("size_field")
                v = (f.get("attributes") or {}).get(sf)
                if not isinstance(v, (int, float)):
                    errors.append(f"{where}: graduated size field {sf} missing or not a number")
            place = f.get("place", {})
            pts = []
            if place.get("kind") in ("point", "circle"):
                pts.append((place["lon"], place["lat"], (f.get("host") or {}).get("county")))
            for key in ("through",):
                for p in place.get(key, []) or []:
                    if "lon" in p:
                        pts.append((p["lon"], p["lat"], None))
            for lon, lat, county in pts:
                if not (114.0 <= lon <= 123.5 and 26.5 <= lat <= 35.5):
                    errors.append(f"{where}: point {lon},{lat} far outside the region")
                if county and isinstance(county, str) and county in counties:
                    from shapely.geometry import Point
                    pt = Point(lon, lat)
                    if not any(g.buffer(0.005).contains(pt) for g in counties[county]):
                        errors.append(f"{where}: point {lon},{lat} not inside host county {county}")
        nfig = sum(len(f.get("figures", [])) for f in spec.get("features", []))
        print(f"{base}: {len(spec.get('features', []))} features, {nfig} figures, geometry {spec.get('geometry')}")

    if not counties:
        print("(no base county boundaries found: point-in-county test skipped)")
    for e in errors:
        print("ERROR", e)
    print("OK" if not errors else f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
