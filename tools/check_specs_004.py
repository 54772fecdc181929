#!/usr/bin/env python3
"""Checks the seed-004 layer specs (geodata/specs/demo_*.json).

Seed 004 is the 2023 industry plan of the YRD Ecological Green Integrated
Development Demonstration Zone (Qingpu, Wujiang, Jiashan). This script checks,
without the base boundaries:

* every quote is an exact substring of the seed, unique or with a valid
  ``occurrence``;
* every figure's value is written literally in its quote, or ``derived`` says how;
* ids are unique across every spec in geodata/specs/;
* categories are in the layer's colour table; place kinds and fields are valid;
* the expected counts (3 members + zone, 5 towns, 2 cores, 2 axes, 6 groups);
* points, circle centres and line vertices lie inside a coarse bounding box of
  their host county (the builder does the exact polygon test);
* the targets layer pairs each target with a baseline of the same label.

Usage: python tools/check_specs_004.py   (exit 1 on any problem)
"""
from __future__ import annotations

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = ROOT / "geodata" / "specs"
SEED = "004"

# Coarse bounding boxes (lon_min, lon_max, lat_min, lat_max) of the county-level
# units used as hosts. Generous by ~2 km; the builder does the real polygon test.
BBOX = {
    "青浦区": (120.85, 121.34, 30.98, 31.31),
    "吴江区": (120.34, 120.93, 30.74, 31.24),
    "嘉善县": (120.72, 121.04, 30.74, 31.04),
    "闵行区": (121.25, 121.59, 30.97, 31.24),
    "长宁区": (121.32, 121.45, 31.18, 31.24),
    "嘉定区": (121.10, 121.42, 31.23, 31.44),
}
EXPECTED_COUNTS = {
    "demo_members": 4, "demo_startup_towns": 5, "demo_cores": 2, "demo_axes": 2,
    "demo_groups": 6, "demo_targets": 1,
}
PLACE_KINDS = {"unit", "point", "circle", "line", "link"}
GEOM_FOR_KIND = {"unit": "polygon", "circle": "polygon", "point": "point", "line": "line", "link": "link"}


def literal_forms(value) -> list[str]:
    if isinstance(value, bool):
        return [str(value)]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, float):
        forms = [repr(value), "%g" % value]
        if value.is_integer():
            forms.append(str(int(value)))
        return forms
    return [str(value)]


def as_list(x):
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def main() -> int:
    seeds = list((ROOT / "seeds").glob(f"{SEED}_*.txt"))
    if len(seeds) != 1:
        print(f"seed {SEED} not found", file=sys.stderr)
        return 1
    text = seeds[0].read_text(encoding="utf-8")
    errors: list[str] = []
    n_quotes = n_figures = 0

    def check_quote(where: str, q: dict) -> None:
        nonlocal n_quotes
        n_quotes += 1
        quote = q.get("quote")
        if not isinstance(quote, str) or not quote:
            errors.append(f"{where}: empty quote")
            return
        if q.get("seed", SEED) != SEED:
            errors.append(f"{where}: seed {q.get('seed')!r} is not {SEED}")
        count = text.count(quote)
        occ = q.get("occurrence")
        if count == 0:
            errors.append(f"{where}: quote not in seed: {quote!r}")
        elif count > 1 and not occ:
            errors.append(f"{where}: quote occurs {count}x, needs occurrence: {quote!r}")
        elif occ and not (1 <= occ <= count):
            errors.append(f"{where}: occurrence {occ} out of range 1..{count}")
        if len(quote) > 220:
            errors.append(f"{where}: quote longer than 220 chars")

    # ids across all specs (other engineers' too)
    all_ids: dict[str, str] = {}
    for p in sorted(SPECS.glob("*.json")):
        try:
            spec = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            if p.name.startswith("demo_"):
                errors.append(f"{p.name}: invalid JSON: {exc}")
            continue
        for f in spec.get("features", []):
            fid = f.get("id")
            if fid in all_ids:
                errors.append(f"feature id {fid!r} in {p.name} also in {all_ids[fid]}")
            all_ids[fid] = p.name

    mine = sorted(SPECS.glob("demo_*.json"))
    if not mine:
        errors.append("no demo_*.json specs")
    for p in mine:
        spec = json.loads(p.read_text(encoding="utf-8"))
        lid = spec.get("id")
        if lid != p.stem:
            errors.append(f"{p.name}: id {lid!r} does not match file name")
        for key in ("title_zh", "title_en", "group_zh", "group_en", "seed", "order", "geometry", "style",
                    "description_zh", "description_en", "features"):
            if key not in spec:
                errors.append(f"{lid}: missing {key}")
        style = spec.get("style", {})
        colors = style.get("colors", {})
        if style.get("kind") == "categorical" and not colors:
            errors.append(f"{lid}: categorical style without colors")
        feats = spec.get("features", [])
        if lid in EXPECTED_COUNTS and len(feats) != EXPECTED_COUNTS[lid]:
            errors.append(f"{lid}: {len(feats)} features, expected {EXPECTED_COUNTS[lid]}")
        for f in feats:
            fid = f.get("id", "?")
            where = f"{lid}/{fid}"
            for key in ("id", "name_zh", "name_en", "category", "host", "place", "sources", "figures"):
                if key not in f:
                    errors.append(f"{where}: missing {key}")
            if not fid.startswith("demo_"):
                errors.append(f"{where}: id should start with demo_")
            if style.get("kind") == "categorical" and f.get("category") not in colors:
                errors.append(f"{where}: category {f.get('category')!r} has no colour")
            if not f.get("sources"):
                errors.append(f"{where}: no sources")
            for i, s in enumerate(f.get("sources", [])):
                check_quote(f"{where} source {i}", s)
            for i, fg in enumerate(f.get("figures", [])):
                n_figures += 1
                w = f"{where} figure {i} ({fg.get('label')})"
                check_quote(w, fg)
                for key in ("label", "value", "unit", "year"):
                    if key not in fg:
                        errors.append(f"{w}: missing {key}")
                if not fg.get("derived"):
                    if not any(form in fg.get("quote", "") for form in literal_forms(fg.get("value"))):
                        errors.append(f"{w}: value {fg.get('value')!r} not literal in quote and no derived")
            place = f.get("place", {})
            kind = place.get("kind")
            if kind not in PLACE_KINDS:
                errors.append(f"{where}: bad place kind {kind!r}")
                continue
            if GEOM_FOR_KIND[kind] != spec.get("geometry"):
                errors.append(f"{where}: place kind {kind} does not make layer geometry {spec.get('geometry')}")
            hosts = as_list(f.get("host", {}).get("county"))
            if kind in ("point", "circle"):
                for key in ("lon", "lat", "precision_km") + (("radius_km",) if kind == "circle" else ()):
                    if not isinstance(place.get(key), (int, float)):
                        errors.append(f"{where}: place.{key} missing")
                lon, lat = place.get("lon"), place.get("lat")
                boxes = [BBOX[h] for h in hosts if h in BBOX]
                if hosts and not boxes:
                    errors.append(f"{where}: no bbox known for host {hosts}")
                elif not hosts:
                    pass  # e.g. the Hongqiao core: outside the base counties, no host county given
                elif not any(b[0] <= lon <= b[1] and b[2] <= lat <= b[3] for b in boxes):
                    errors.append(f"{where}: ({lon},{lat}) outside host bbox {hosts}")
                if not place.get("note"):
                    errors.append(f"{where}: approximate place without note")
            elif kind == "unit":
                if not place.get("names") or place.get("level") not in ("province", "prefecture", "county"):
                    errors.append(f"{where}: unit place needs level and names")
            elif kind == "line":
                through = place.get("through", [])
                if len(through) < 2:
                    errors.append(f"{where}: line needs >= 2 points")
                allbox = [BBOX[h] for h in hosts if h in BBOX]
                for v in through:
                    if "lon" in v:
                        if not any(b[0] <= v["lon"] <= b[1] and b[2] <= v["lat"] <= b[3] for b in allbox):
                            errors.append(f"{where}: vertex {v.get('name')} outside host bboxes")
                        if v.get("name") and v["name"] not in text.replace("\n", ""):
                            errors.append(f"{where}: vertex name {v['name']!r} not in seed")

        if lid == "demo_targets":
            for f in feats:
                by_label: dict[str, set] = {}
                for fg in f.get("figures", []):
                    by_label.setdefault(fg["label"], set()).add(fg["year"])
                paired = [lab for lab, yrs in by_label.items() if len(yrs) >= 2]
                if not paired:
                    errors.append("demo_targets: no baseline/target pair")

    # axes keep the document's order
    axes = SPECS / "demo_axes.json"
    if axes.exists():
        spec = json.loads(axes.read_text(encoding="utf-8"))
        for f in spec["features"]:
            names = [v["name"] for v in f["place"]["through"]]
            quote = next((s["quote"] for s in f["sources"] if "串联" in s["quote"] and "自" in s["quote"]), "")
            flat = quote.replace("\n", "")
            pos = [flat.find(n) for n in names]
            if -1 in pos or pos != sorted(pos):
                errors.append(f"demo_axes/{f['id']}: vertices not in the document's order {names}")

    for e in errors:
        print("ERROR", e)
    print(f"seed {SEED}: {len(mine)} specs, {n_quotes} quotes, {n_figures} figures checked, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
