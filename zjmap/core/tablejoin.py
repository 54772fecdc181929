"""Matching a table's rows to the base's provinces, cities and counties.

Keys are 6-digit division codes (9- and 12-digit statistical codes by their
first six) or names in whatever form a yearbook writes them: with or without
省/市/县/区, full-width, with stray spaces, 巿 for 市. Units renamed, merged or
split since 2000 are found through ``geodata/crosswalk/division_changes.csv``
(the MCA code lists and the approvals behind each change, see
geodata/README.md) and are *flagged*: the old row is offered for the unit most
of it went into, with the change named. A name two units share (鼓楼区) is
matched within its parent — a parent column, or the section row (杭州市, 江苏省)
the row sits under — and is otherwise listed as ambiguous. Totals (全省, 合计,
市辖区, a higher-level unit's own row) are skipped and counted.

Hand-written because no library matches Chinese division names: cpca and
similar parse addresses against a current list only, with no history or
parent-aware ambiguity.
"""

from __future__ import annotations

import csv
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from zjmap.core.paths import geodata_dir
from zjmap.core.tables import Table

LEVELS = ("province", "prefecture", "county")
HIGHER = {"county": ("prefecture", "province"), "prefecture": ("province",), "province": ()}
TOTAL_NAMES = {"全省", "全市", "全国", "全区", "全县", "合计", "总计", "小计", "共计", "总计数", "市辖区", "市区",
               "县(市)", "县市", "县(市、区)", "长三角", "长三角地区", "三省一市", "全部", "总体", "全域", "其中",
               "total", "合计(全省)"}
_TOTAL_RE = re.compile(r"全(省|市|区|县|国)(合计|总计)?|.{0,8}(合计|小计|总计|共计)")
# 上海市 is province-level; in the prefecture layer it carries its city code
SHANGHAI_PROVINCE, SHANGHAI_CITY = "310000", "310100"
STATUSES = ("matched", "changed", "fixed", "ambiguous", "unmatched", "outside", "total")


def crosswalk_path() -> Path:
    return geodata_dir() / "crosswalk" / "division_changes.csv"


def national_codes_path() -> Path:
    return geodata_dir() / "crosswalk" / "codes_current.csv"


def normalize(name: object) -> str:
    """A name as compared: NFKC (full-width -> half), no spaces or footnote marks, 巿 -> 市."""
    s = unicodedata.normalize("NFKC", str(name or ""))
    s = s.replace("巿", "市")
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"^(其中[:：]?|#+|\*+|[0-9]+[.、]|[一二三四五六七八九十]+、)", "", s)
    s = re.sub(r"[(\[（【][^)\]）】]*[)\]）】]$", "", s)  # "杭州市(含…)"
    s = re.sub(r"[*#※†‡①②③④⑤0-9]+$", "", s)
    return s


_SUFFIX_RE = re.compile(r"(特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|自治州|畲族自治县|自治县|新区|地区|省|市|区|县)$")


def stem(name: str) -> str:
    """The name without its level suffix (浦东新区 -> 浦东, 景宁畲族自治县 -> 景宁)."""
    s = _SUFFIX_RE.sub("", name)
    return s or name


@dataclass(frozen=True)
class Unit:
    adcode: str
    name_zh: str
    level: str
    parent: str
    province: str


@dataclass(frozen=True)
class Change:
    old_code: str
    old_name: str
    old_parent: str
    level: str
    year: int
    kind: str  # renamed | recoded | merged | split
    new_code: str
    new_name: str
    also: tuple[str, ...]  # other units part of it went into (names)
    source: str

    def describe(self) -> str:
        if self.kind == "abolished":  # no successor to offer: where its counties went, and "not matched"
            return (f"{self.old_name}（{self.old_code}）{self.year}年撤销，所辖县区分入{'、'.join(self.also)} — "
                    f"{self.old_name} (abolished {self.year}, split between {'/'.join(stem(a) for a in self.also)})"
                    f" — 未匹配 not matched（{self.source}）")
        what = {"renamed": "改名", "recoded": "改代码", "merged": "并入", "split": "拆分"}[self.kind]
        tail = f"；部分划入{'、'.join(self.also)}" if self.also else ""
        return f"{self.old_name}（{self.old_code}）{self.year}年{what}→{self.new_name}{tail}（{self.source}）"


@dataclass
class RowMatch:
    row: int  # index into the table's frame
    source_row: int  # 1-based row in the sheet
    key: str
    status: str
    adcode: str | None = None
    name: str | None = None
    note: str = ""
    candidates: list[Unit] = field(default_factory=list)
    change: Change | None = None  # the crosswalk row the key was found under

    @property
    def abolished(self) -> bool:
        """An abolished unit's row (巢湖市): left unmatched, the note says where it went."""
        return self.status == "unmatched" and self.change is not None and self.change.kind == "abolished"


@dataclass
class MatchResult:
    level: str
    key: str
    parent_column: str | None
    rows: list[RowMatch]

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    def summary(self) -> dict:
        joined = [r for r in self.rows if r.adcode]
        return {
            "level": self.level, "key": self.key, "parent_column": self.parent_column,
            "rows": len(self.rows),
            "matched": len(joined),
            "changed": [{"row": r.source_row, "key": r.key, "unit": r.name, "adcode": r.adcode, "note": r.note}
                        for r in self.rows if r.status == "changed"],
            "fixed": self.count("fixed"),
            "unmatched": [{"row": r.source_row, "key": r.key, "note": r.note}
                          for r in self.rows if r.status == "unmatched"],
            "ambiguous": [{"row": r.source_row, "key": r.key, "note": r.note,
                           "candidates": [f"{u.parent}{u.name_zh}（{u.adcode}）" for u in r.candidates]}
                          for r in self.rows if r.status == "ambiguous"],
            "abolished": [{"row": r.source_row, "key": r.key, "year": r.change.year, "note": r.note,
                           "went_to": list(r.change.also)} for r in self.rows if r.abolished],
            "outside": [{"row": r.source_row, "key": r.key, "note": r.note}
                        for r in self.rows if r.status == "outside"],
            "totals_skipped": [{"row": r.source_row, "key": r.key} for r in self.rows if r.status == "total"],
            "matched_shared_names": [{"row": r.source_row, "key": r.key, "unit": r.name, "note": r.note}
                                     for r in self.rows if r.status == "matched" and r.note.startswith("底图外")],
        }


# ---------------------------------------------------------------------------
# reference data


@dataclass
class Gazetteer:
    """The base's units at every level and the name/code indexes the matcher uses."""

    units: dict[str, list[Unit]]  # level -> units
    changes: list[Change]
    national: dict[str, tuple[str, str, str]]  # code -> (name, level, province) of the whole country

    def __post_init__(self):
        self.by_code = {lv: {u.adcode: u for u in us} for lv, us in self.units.items()}
        self.by_name: dict[str, dict[str, list[Unit]]] = {}
        self.by_stem: dict[str, dict[str, list[Unit]]] = {}
        for lv, us in self.units.items():
            n, s = {}, {}
            for u in us:
                n.setdefault(normalize(u.name_zh), []).append(u)
                s.setdefault(stem(normalize(u.name_zh)), []).append(u)
            self.by_name[lv], self.by_stem[lv] = n, s
        self.change_by_code: dict[str, list[Change]] = {}
        self.change_by_name: dict[str, list[Change]] = {}
        self.change_by_stem: dict[str, list[Change]] = {}
        for c in self.changes:
            self.change_by_code.setdefault(c.old_code, []).append(c)
            self.change_by_name.setdefault(normalize(c.old_name), []).append(c)
            self.change_by_stem.setdefault(stem(normalize(c.old_name)), []).append(c)
        self.national_names: dict[str, list[tuple[str, str, str]]] = {}
        self.national_stems: dict[str, list[tuple[str, str, str]]] = {}
        for code, (name, lv, prov) in self.national.items():
            if code[:2] not in ("31", "32", "33", "34"):
                self.national_names.setdefault(normalize(name), []).append((code, lv, prov))
                self.national_stems.setdefault(stem(normalize(name)), []).append((code, lv, prov))


@functools.lru_cache(maxsize=4)
def _gazetteer(path: str) -> Gazetteer:
    from zjmap.core.boundaries import load_boundaries

    units = {}
    for lv in LEVELS:
        gdf = load_boundaries(lv, path)
        units[lv] = [Unit(str(a), n, lv, p, pr) for a, n, p, pr in
                     zip(gdf["adcode"], gdf["name_zh"], gdf["parent"], gdf["province"])]
    changes = []
    with open(crosswalk_path(), encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            changes.append(Change(r["old_code"], r["old_name"], r["old_parent"], r["level"], int(r["year"]),
                                  r["kind"], r["new_code"], r["new_name"],
                                  tuple(x for x in r["also_name"].split(";") if x), r["source"]))
    national = {}
    with open(national_codes_path(), encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            national[r["code"]] = (r["name"], r["level"], r["province"])
    return Gazetteer(units, changes, national)


def gazetteer(path: Path | str | None = None) -> Gazetteer:
    from zjmap.core.boundaries import boundaries_path

    return _gazetteer(str(Path(path or boundaries_path()).resolve()))


# ---------------------------------------------------------------------------
# matching


def _code_of(key: object) -> str | None:
    if not isinstance(key, str):
        return None
    k = unicodedata.normalize("NFKC", key).strip()
    if k.endswith(".0"):
        k = k[:-2]
    return k[:6] if re.fullmatch(r"\d{6}(\d{3}){0,2}", k) else None


def _code_at(code: str, level: str) -> str:
    if level == "province":
        return code[:2] + "0000"
    if level == "prefecture":
        return SHANGHAI_CITY if code[:2] == "31" else code[:4] + "00"
    return code


def _within(units: list[Unit], parent: str | None) -> list[Unit]:
    if not parent:
        return units
    p = normalize(parent)
    ps = stem(p)
    return [u for u in units if p in (normalize(u.parent), normalize(u.province))
            or ps in (stem(normalize(u.parent)), stem(normalize(u.province)))]


def _higher_unit(g: Gazetteer, level: str, name: str) -> Unit | None:
    """A section row: the exact name of a unit at a higher level than the join's."""
    for lv in HIGHER[level]:
        hits = g.by_name[lv].get(name, [])
        if len(hits) == 1:
            return hits[0]
    return None


def match_key(g: Gazetteer, level: str, key: object, parent: str | None = None,
              section: Unit | None = None) -> RowMatch:
    """One key -> a RowMatch (row numbers left 0). ``parent`` from a column, ``section`` from above."""
    raw = "" if key is None or (isinstance(key, float) and key != key) else str(key)
    out = RowMatch(0, 0, raw.strip(), "unmatched")
    code = _code_of(raw)
    if code is not None:
        return _match_code(g, level, code, out)
    name = normalize(raw)
    if not name:
        out.note = "没有键值 (empty key)"
        return out
    if name in TOTAL_NAMES or name.lower() in TOTAL_NAMES or _TOTAL_RE.fullmatch(name):
        out.status = "total"
        return out
    ctx = parent or (section.name_zh if section else None)
    shared: list[Unit] = []
    # exact names first (today's, then old ones), then the same without suffixes:
    # 临安市 is an old name of 临安区, not a loose spelling of it
    steps = ((g.by_name[level].get(name), None), (None, g.change_by_name.get(name)),
             (g.by_stem[level].get(stem(name)), None), (None, g.change_by_stem.get(stem(name))))
    for i, (finder, changes) in enumerate(steps):
        if finder:
            hits = _within(finder, ctx) if len(finder) > 1 or parent else finder
            if not hits and ctx:
                shared = finder  # none of that name under this parent: maybe outside the map
                continue
            if len(hits) == 1:
                u = hits[0]
                out.status, out.adcode, out.name = "matched", u.adcode, u.name_zh
                if len(finder) > 1:
                    out.note = f"同名单位按上级“{ctx}”区分 (shared name told apart by its parent)"
                elif not ctx:
                    # the name is also a unit's outside the map (西湖区: 杭州 and 南昌): matched, but said
                    twins = [o for o in (g.national_names.get(normalize(u.name_zh)) or []) if o[1] == level]
                    if twins:
                        out.note = ("底图外也有同名单位，未给上级 (a unit outside the map has this name too, and "
                                    "no parent was given): " + "、".join(f"{o[2]}（{o[0]}）" for o in twins[:3]))
                return out
            if len(finder) > 1:
                out.status, out.candidates = "ambiguous", list(hits or finder)
                out.note = "多个单位同名，请指定上级 (several units have this name; give the parent)"
                return out
        if i == 1 and _higher_unit(g, level, name):
            out.status = "total"
            return out
        changes = [c for c in (changes or []) if c.level == level]
        if not changes:
            continue
        if ctx and len({c.new_code for c in changes}) > 1:
            p = normalize(ctx)
            sel = [c for c in changes if p == normalize(c.old_parent)
                   or stem(p) == stem(normalize(c.old_parent))
                   or (c.new_code in g.by_code[level] and _within([g.by_code[level][c.new_code]], ctx))]
            changes = sel or changes
        targets = {c.new_code for c in changes}
        if len(targets) == 1:
            return _changed(g, level, out, max(changes, key=lambda c: c.year))
        out.status = "ambiguous"
        out.candidates = [g.by_code[level][t] for t in sorted(targets) if t in g.by_code[level]]
        out.note = "旧名对应多个现单位 (an old name of several units): " + "；".join(c.describe() for c in changes)
        return out
    outside = g.national_names.get(name) or g.national_stems.get(stem(name)) or []
    outside = [o for o in outside if o[1] == level]
    if outside:
        out.status = "outside"
        out.note = "不在底图范围内 (outside the map): " + "、".join(f"{o[2]}（{o[0]}）" for o in outside[:3])
        return out
    if shared:
        out.candidates = list(shared)
        out.note = f"“{ctx}”下没有此名称的单位 (no unit of this name under {ctx}); 同名: " + "、".join(
            f"{u.parent}{u.name_zh}" for u in shared)
        return out
    out.note = "底图中没有此名称 (no unit of this name in the base)"
    return out


def _changed(g: Gazetteer, level: str, out: RowMatch, c: Change) -> RowMatch:
    u = g.by_code[level].get(c.new_code)
    out.change = c
    if u is None:
        out.note = c.describe()
        # the units it went into come first in the planner's pick list
        out.candidates = [g.by_name[level][normalize(a)][0] for a in c.also if g.by_name[level].get(normalize(a))]
        return out
    out.status, out.adcode, out.name, out.note = "changed", u.adcode, u.name_zh, c.describe()
    return out


def _match_code(g: Gazetteer, level: str, code: str, out: RowMatch) -> RowMatch:
    at = _code_at(code, level)
    if level == "county" and (code.endswith("00")) and at not in g.by_code[level]:
        out.status = "total"  # a city's or province's own row in a county table
        return out
    if level == "prefecture" and code.endswith("0000") and code != SHANGHAI_PROVINCE:
        out.status = "total"
        return out
    u = g.by_code[level].get(at)
    if u is not None:
        out.status, out.adcode, out.name = "matched", u.adcode, u.name_zh
        return out
    changes = [c for c in g.change_by_code.get(at, []) if c.level == level]
    if changes:
        return _changed(g, level, out, max(changes, key=lambda c: c.year))
    if code[:2] not in ("31", "32", "33", "34"):
        nat = g.national.get(code)
        out.status = "outside"
        out.note = f"不在底图范围内 (outside the map){': ' + nat[2] + nat[0] if nat else ''}"
        return out
    out.note = "底图中没有此代码 (no unit with this code in the base)"
    return out


def read_and_match(path: str | Path, progress: Progress | None = None,
                   boundaries: Path | str | None = None) -> tuple[Table, MatchResult]:
    """A table as File → Add table… first shows it: its first table sheet, the guessed
    header and key, matched at the level most rows match (parent column guessed)."""
    from zjmap.core.tables import read_table

    if progress is not None:
        progress(0.0, f"读取 reading {Path(path).name}")
    table = read_table(path)
    if progress is not None:
        progress(0.1, f"匹配 matching {len(table.frame):,} rows")
    key = guess_key(table)
    result = match_table(table, None, key, None, {}, boundaries,
                         None if progress is None else (lambda f, m: progress(0.1 + 0.9 * f, m)))
    return table, result


def guess_key(table: Table) -> str:
    """The column holding codes, else the one named like 地区/名称, else the first text column."""
    text_cols = [c for c in table.columns if c not in table.numeric]
    for c in text_cols:
        vals = [v for v in table.frame[c] if isinstance(v, str) and v]
        if vals and sum(1 for v in vals if _code_of(v)) >= 0.8 * len(vals):
            return c
    for pat in ("地区", "区划名称", "行政区", "名称", "地名", "县", "市", "单位", "区域", "name"):
        for c in text_cols:
            if pat in c.lower():
                return c
    return text_cols[0] if text_cols else table.columns[0]


def guess_parent(table: Table, key: str, level: str, g: Gazetteer) -> str | None:
    """A text column (not the key) whose values are mostly higher-level units' names."""
    if not HIGHER[level]:
        return None
    names = set()
    for lv in HIGHER[level]:
        names |= set(g.by_name[lv]) | set(g.by_stem[lv])
    national = {normalize(n) for n, lv, _ in g.national.values() if lv in HIGHER[level]}
    best = None
    for c in table.columns:
        if c == key or c in table.numeric:
            continue
        vals = [normalize(v) for v in table.frame[c] if isinstance(v, str) and v]
        if not vals:
            continue
        known = sum(1 for v in vals if v in names or stem(v) in names or v in national)
        if known >= 0.8 * len(vals):
            return c
        hinted = any(h in c for h in ("所属", "上级", "地市", "省份", "城市", "地级"))
        if hinted and known >= 0.3 * len(vals):
            best = best or c
    return best


Progress = Callable[[float, str], None]
PROGRESS_EVERY = 200  # rows between progress reports (each may stop the work by raising)


def match_table(table: Table, level: str | None = None, key: str | None = None,
                parent_column: str | None = None, fixes: dict[int, str | None] | None = None,
                boundaries: Path | str | None = None, progress: Progress | None = None) -> MatchResult:
    """Match every row. ``fixes``: {sheet row (1-based): adcode, or None to leave the row out}.

    ``progress(fraction, message)`` is called as the rows go by; whatever it raises
    (a worker's cancel) stops the match there.
    """
    g = gazetteer(boundaries)
    key = key or guess_key(table)
    if key not in table.columns:
        raise KeyError(f"the table has no column {key!r}; its columns: {', '.join(table.columns)}")
    if parent_column and parent_column not in table.columns:
        raise KeyError(f"the table has no column {parent_column!r}; its columns: {', '.join(table.columns)}")
    if level is None:
        def part(i: int) -> Progress | None:
            return None if progress is None else (lambda f, m: progress((i + f) / len(LEVELS), m))
        results = [match_table(table, lv, key, parent_column, fixes, boundaries, part(i))
                   for i, lv in enumerate(LEVELS)]
        return max(results, key=lambda r: (sum(1 for x in r.rows if x.adcode), LEVELS.index(r.level)))
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; use province, prefecture or county")
    # parent_column: None guesses one, "" means none
    pcol = (parent_column or None) if parent_column is not None else guess_parent(table, key, level, g)
    keys = table.frame[key].tolist()
    parents = table.frame[pcol].tolist() if pcol else [None] * len(keys)
    rows: list[RowMatch] = []
    section: Unit | None = None
    fixes = fixes or {}
    what = {"province": "省级 provinces", "prefecture": "地级市 prefectures", "county": "县级 counties"}[level]
    for i, (k, p) in enumerate(zip(keys, parents)):
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress(i / max(1, len(keys)), f"匹配{what} matching rows to {what.split(' ')[1]}: {i:,} / {len(keys):,}")
        m = match_key(g, level, k, p if isinstance(p, str) else None, section)
        m.row, m.source_row = i, table.source_rows[i]
        if m.status == "total":
            hu = _higher_unit(g, level, normalize(k))
            code = _code_of(str(k or ""))
            if code:
                for lv in HIGHER[level]:
                    hu = g.by_code[lv].get(_code_at(code, lv)) or hu
                    if hu:
                        break
            if hu is not None:
                section = hu
        if m.source_row in fixes:
            fx = fixes[m.source_row]
            if fx is None:
                m.status, m.adcode, m.name, m.note = "unmatched", None, None, "按手工选择不用 (left out by hand)"
            elif fx in g.by_code[level]:
                u = g.by_code[level][fx]
                m.status, m.adcode, m.name = "fixed", u.adcode, u.name_zh
                m.note = "手工指定 (picked by hand)"
        rows.append(m)
    _flag_duplicates(rows)
    return MatchResult(level, key, pcol, rows)


def _flag_duplicates(rows: list[RowMatch]) -> None:
    """One row per unit: exact and hand-picked matches win over flagged (changed) ones."""
    rank = {"fixed": 0, "matched": 1, "changed": 2}
    best: dict[str, RowMatch] = {}
    for r in rows:
        if not r.adcode:
            continue
        b = best.get(r.adcode)
        if b is None or rank[r.status] < rank[b.status]:
            best[r.adcode] = r
    for r in rows:
        if r.adcode and best[r.adcode] is not r:
            w = best[r.adcode]
            r.note = f"{r.name} 已由第 {w.source_row} 行匹配 (already matched by row {w.source_row}); " + r.note
            r.status, r.candidates, r.adcode, r.name = "ambiguous", [], None, None


def joined_frame(table: Table, result: MatchResult, boundaries: Path | str | None = None):
    """The joined layer: the level's units (adcode, name_zh, level, geometry) with the
    table's columns; units of the provinces the table touches, no-data ones included."""
    import geopandas as gpd

    from zjmap.core.boundaries import load_boundaries

    units = load_boundaries(result.level, boundaries)
    matched = [r for r in result.rows if r.adcode]
    if result.level != "province":
        provs = set(units.loc[units["adcode"].isin([r.adcode for r in matched]), "province"])
        units = units[units["province"].isin(provs)]
    reserved = {"adcode", "name_zh", "level", "geometry", "table_row"}
    rename = {c: (f"{c}_表" if c in reserved else c) for c in table.columns}
    rec = table.frame.iloc[[r.row for r in matched]].rename(columns=rename).copy()
    rec.insert(0, "adcode", [r.adcode for r in matched])
    rec["table_row"] = [r.source_row for r in matched]
    base = units[["adcode", "name_zh", "level", "geometry"]].reset_index(drop=True)
    out = base.merge(rec, on="adcode", how="left")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=units.crs)


def table_columns_out(table: Table) -> list[str]:
    return [f"{c}_表" if c in {"adcode", "name_zh", "level", "geometry", "table_row"} else c for c in table.columns]


@dataclass
class JoinSpec:
    """What a joined layer is made from — saved in workspaces, so the join can be redone."""

    path: str
    sheet: str | None = None
    header_row: int | None = None  # 1-based; None: guessed
    key: str | None = None
    level: str | None = None
    parent_column: str | None = None
    fixes: dict[int, str | None] = field(default_factory=dict)  # sheet row -> adcode (None: left out)
    # join to a planner's layer instead of the base: {"path", "layer", "encoding", "crs", "field"}
    target: dict | None = None

    def to_json(self) -> dict:
        d = {"path": self.path, "sheet": self.sheet, "header_row": self.header_row, "key": self.key,
             "level": self.level, "parent_column": self.parent_column,
             "fixes": {str(k): v for k, v in self.fixes.items()}}
        if self.target:
            d["target"] = dict(self.target)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "JoinSpec":
        return cls(path=d["path"], sheet=d.get("sheet"), header_row=d.get("header_row"), key=d.get("key"),
                   level=d.get("level"), parent_column=d.get("parent_column"),
                   fixes={int(k): v for k, v in (d.get("fixes") or {}).items()},
                   target=dict(d["target"]) if d.get("target") else None)


@dataclass
class Joined:
    spec: JoinSpec
    table: Table
    result: MatchResult
    gdf: object  # GeoDataFrame of the joined layer


def run_join(spec: JoinSpec, boundaries: Path | str | None = None) -> Joined:
    """Read, match and join as ``spec`` says; the spec comes back with what was guessed filled in.

    Raises TableError (the file) or KeyError/ValueError (a column, a level) with a plain sentence.
    """
    from zjmap.core.tables import read_table

    table = read_table(spec.path, spec.sheet, spec.header_row)
    if spec.target:
        from zjmap.core.layerjoin import run_layer_join

        return run_layer_join(spec, table)
    result = match_table(table, spec.level, spec.key, spec.parent_column, spec.fixes, boundaries)
    return join_matched(spec, table, result, boundaries)


def join_matched(spec: JoinSpec, table: Table, result: MatchResult, boundaries: Path | str | None = None) -> Joined:
    """The join of a table already read and matched (the app's preview): nothing is read again."""
    gdf = joined_frame(table, result, boundaries)
    done = JoinSpec(spec.path, table.sheet, table.header_row, result.key, result.level,
                    result.parent_column if spec.parent_column is not None else spec.parent_column,
                    dict(spec.fixes))
    return Joined(done, table, result, gdf)


def write_joined(gdf, out: str | Path) -> Path:
    """The joined layer as .gpkg, .geojson or .csv (geometry as WKT)."""
    p = Path(out)
    suffix = p.suffix.lower()
    if suffix not in (".gpkg", ".geojson", ".json", ".csv"):
        raise ValueError(f"cannot write {p.name}: give an output ending in .gpkg, .geojson or .csv")
    if not p.parent.exists():
        raise ValueError(f"cannot write {p}: the folder {p.parent} does not exist")
    if suffix == ".csv":
        df = gdf.drop(columns=gdf.geometry.name).copy()
        df["wkt"] = gdf.geometry.to_wkt(rounding_precision=6)
        df.to_csv(p, index=False, encoding="utf-8-sig")
        return p
    if p.exists():
        p.unlink()
    gdf.to_file(p, driver="GPKG" if suffix == ".gpkg" else "GeoJSON", engine="pyogrio",
                **({"layer": "joined"} if suffix == ".gpkg" else {}))
    return p
