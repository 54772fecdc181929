#!/usr/bin/env python
"""Build geodata/crosswalk/division_changes.csv: YRD division changes since 2000.

Source: the areacodes dataset (https://github.com/yescallop/areacodes, CC0 1.0),
which compiles the Ministry of Civil Affairs' yearly lists of county-level and
higher division codes (民政部《中华人民共和国县级以上行政区划代码》) and, per year,
a diff of old → new codes written from the State Council / provincial approvals
(each change preceded by the approval's title and 文号). Usage::

    python tools/build_crosswalk.py AREACODES_CHECKOUT   # a clone or a bare git dir

For every code of Shanghai, Jiangsu, Zhejiang or Anhui (prefecture or county
level) that a diff from 1999→2000 onwards removes, one row: the old code and
name, its prefecture at the time, the year, the unit(s) its area went into —
the first one listed in the diff is where most of it went (the approval's
"以原…的行政区域为…" unit), which the matcher offers, the others are named —
followed through later changes to today's codes, and the approval it rests on.
A prefecture abolished with its counties handed to other cities (巢湖市, 2011)
gets kind ``abolished``, no ``new_code``, and those cities as ``also_*``.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "geodata" / "crosswalk" / "division_changes.csv"
CODES_OUT = ROOT / "geodata" / "crosswalk" / "codes_current.csv"
YRD = {"31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省"}
FIRST_YEAR = 2000
SHANGHAI_CITY = "310100"  # 上海市's counties sit under 310100 in the prefecture layer
COLUMNS = ["old_code", "old_name", "old_parent", "province", "level", "year", "kind",
           "new_code", "new_name", "also_code", "also_name", "source"]


def _git_show(repo: Path, path: str) -> str:
    git_dir = repo / ".git" if (repo / ".git").exists() else repo
    return subprocess.run(["git", "--git-dir", str(git_dir), "show", f"HEAD:{path}"],
                          check=True, capture_output=True, text=True).stdout


def _table(repo: Path, year: int) -> dict[str, str]:
    out = {}
    for line in _git_show(repo, f"data/{year}.txt").splitlines():
        if line.strip():
            code, name = line.split(maxsplit=1)
            out[code] = name.strip()
    return out


def _level(code: str) -> str:
    return "province" if code.endswith("0000") else "prefecture" if code.endswith("00") else "county"


def _parent_name(table: dict[str, str], code: str) -> str:
    if _level(code) == "county" and code[:4] + "00" in table:
        return table[code[:4] + "00"]
    return table.get(code[:2] + "0000", "")


def _resolve(selector: str, old_code: str, old_name: str, target: dict[str, str]) -> str | None:
    """A diff selector (spec: diff-spec.md of areacodes) -> a code of the target year."""
    if selector.endswith("?"):
        return None
    selector = selector.rstrip("!")
    if selector == ".":
        return old_code if old_code in target else None
    if selector == "..":
        return old_code[:4] + "00" if old_code[:4] + "00" in target else None
    name = old_name if selector == "_" else selector
    hits = [c for c, n in target.items() if n == name and c[:2] == old_code[:2]]
    if len(hits) > 1:
        hits = [c for c in hits if c[:4] == old_code[:4]] or hits
    if len(hits) == 1:
        return hits[0]
    # "南京市鼓楼区": a parent's name as prefix
    for c, n in target.items():
        if c[:2] == old_code[:2] and _level(c) != "county" and name.startswith(n) and name != n:
            rest = name[len(n):]
            sub = [k for k, v in target.items() if v == rest and k[:4] == c[:4]]
            if len(sub) == 1:
                return sub[0]
    return None


def _removals(repo: Path, a: int, b: int):
    """(old_code, old_name, [selectors], source title) for every '-' line of a diff."""
    text = _git_show(repo, f"diff/{a}-{b}.diff")
    title, doc = "", ""
    for line in text.splitlines():
        if line.startswith("## "):
            title, doc = line[3:].strip(), ""
        elif line.startswith("# 文号："):
            doc = line[len("# 文号："):].strip()
        elif line.startswith("-"):
            m = re.match(r"-(\d{6}) ([^>]+)>?(.*)$", line)
            if m:
                sels = [s for s in m.group(3).split(",") if s]
                yield m.group(1), m.group(2).strip(), sels, (f"{title}（{doc}）" if doc else title)


def build(repo: Path) -> list[dict]:
    listing = subprocess.run(["git", "--git-dir", str(repo / ".git" if (repo / ".git").exists() else repo),
                              "ls-tree", "--name-only", "HEAD", "data/"],
                             check=True, capture_output=True, text=True).stdout.split()
    years = sorted(int(Path(p).stem) for p in listing if re.fullmatch(r"data/\d{4}\.txt", p))
    last = years[-1]
    tables = {y: _table(repo, y) for y in years if y >= FIRST_YEAR - 1}
    current = tables[last]
    changes: dict[str, dict] = {}
    for a in range(FIRST_YEAR - 1, last):
        b = a + 1
        for code, name, sels, source in _removals(repo, a, b):
            if code[:2] not in YRD or _level(code) == "province":
                continue
            succ = [c for c in (_resolve(s, code, name, tables[b]) for s in sels) if c]
            if not succ and code in tables[b] and tables[b][code] != name:
                succ = [code]  # renamed in place
            if not succ and _level(code) == "prefecture" and name.endswith("地区"):
                # a prefecture (地区) that became a city: its rows in the diff have no selector
                succ = [c for c, n in tables[b].items() if c[:2] == code[:2] and _level(c) == "prefecture"
                        and n == name[:-2] + "市"]
            changes[f"{code}:{b}"] = dict(old_code=code, old_name=name, old_parent=_parent_name(tables[a], code),
                                          province=YRD[code[:2]], level=_level(code), year=b, succ=succ,
                                          source=source)
    # follow each successor to today's codes (first successor first)
    later = {}
    for key, ch in changes.items():
        later.setdefault(ch["old_code"], []).append(ch)

    def today(code: str, year: int, seen=()) -> list[str]:
        if code in current and current[code] and not any(c["year"] > year for c in later.get(code, [])):
            return [code]
        nxt = [c for c in later.get(code, []) if c["year"] > year and code not in seen]
        if not nxt:
            return [code] if code in current else []
        ch = min(nxt, key=lambda c: c["year"])
        out = []
        for s in ch["succ"]:
            out += [x for x in today(s, ch["year"], seen + (code,)) if x not in out]
        return out

    rows = []
    for ch in sorted(changes.values(), key=lambda c: (c["old_code"], c["year"])):
        now = []
        for s in ch["succ"]:
            now += [x for x in today(s, ch["year"]) if x not in now]
        if not now and ch["level"] == "prefecture":
            # abolished, its counties handed to other cities (巢湖市, 2011): no unit to offer, but
            # the cities its counties went to (today's) are named, so a planner is told where it went
            cities = []
            for sub in changes.values():
                if sub["year"] == ch["year"] and sub["level"] == "county" and sub["old_code"][:4] == ch["old_code"][:4]:
                    for s in sub["succ"]:
                        for x in today(s, sub["year"]):
                            city = SHANGHAI_CITY if x[:2] == "31" else x[:4] + "00"
                            if city in current and city not in cities:
                                cities.append(city)
            if cities:
                rows.append(dict(old_code=ch["old_code"], old_name=ch["old_name"], old_parent=ch["old_parent"],
                                 province=ch["province"], level=ch["level"], year=ch["year"], kind="abolished",
                                 new_code="", new_name="", also_code=";".join(cities),
                                 also_name=";".join(current[c] for c in cities), source=ch["source"]))
                continue
        if not now:
            print(f"build_crosswalk: {ch['old_code']} {ch['old_name']} ({ch['year']}): no successor today",
                  file=sys.stderr)
            continue
        first = now[0]
        if len(now) > 1:
            kind = "split"
        elif current[first] == ch["old_name"]:
            kind = "recoded"  # same name, new code (e.g. moved to another prefecture)
        elif _stem(current[first]) == _stem(ch["old_name"]):
            kind = "renamed"
        else:
            kind = "merged"
        rows.append(dict(old_code=ch["old_code"], old_name=ch["old_name"], old_parent=ch["old_parent"],
                         province=ch["province"], level=ch["level"], year=ch["year"], kind=kind,
                         new_code=first, new_name=current[first], also_code=";".join(now[1:]),
                         also_name=";".join(current[c] for c in now[1:]), source=ch["source"]))
    return rows


def _stem(name: str) -> str:
    return re.sub(r"(自治县|新区|地区|区|县|市)$", "", name)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("Usage::")[1].split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    rows = build(Path(argv[0]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {OUT.relative_to(ROOT)}: {len(rows)} changes")
    # the whole country's current list: tells "outside the map" from "no such unit"
    repo = Path(argv[0])
    listing = subprocess.run(["git", "--git-dir", str(repo / ".git" if (repo / ".git").exists() else repo),
                              "ls-tree", "--name-only", "HEAD", "data/"],
                             check=True, capture_output=True, text=True).stdout.split()
    last = max(int(Path(p).stem) for p in listing if re.fullmatch(r"data/\d{4}\.txt", p))
    table = _table(repo, last)
    with open(CODES_OUT, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["code", "name", "level", "parent", "province", "year"])
        for code, name in table.items():
            w.writerow([code, name, _level(code), _parent_name(table, code) if _level(code) != "province" else "",
                        table.get(code[:2] + "0000", ""), last])
    print(f"wrote {CODES_OUT.relative_to(ROOT)}: {len(table)} codes of {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
