"""Planners' tables: reading yearbook layouts, matching to the base's units, joining (core + CLI)."""

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from zjmap.core import tablejoin as J
from zjmap.core.tables import TableError, read_table, sheet_names

ROOT = Path(__file__).resolve().parents[1]
T = ROOT / "tests" / "fixtures" / "tables"


def by_key(result):
    return {(r.key, r.source_row): r for r in result.rows}


def one(result, key):
    hits = [r for r in result.rows if r.key == key]
    assert len(hits) == 1, [(r.key, r.source_row) for r in hits]
    return hits[0]


# -- reading -------------------------------------------------------------------


def test_yearbook_xlsx_layout():
    t = read_table(T / "yearbook.xlsx")
    # the cover sheet "说明" is skipped; title and unit rows above the header too
    assert t.sheet == "2-5 各县（市、区）" and t.sheets == ["说明", "2-5 各县（市、区）", "空表"]
    assert t.header_guessed and t.header_row == 3 and t.header_lines == 2
    # merged cells over two header rows become one name per column; the wrapped cell is one line
    assert t.columns == ["地区", "地区生产总值_总量", "地区生产总值_增速（%）", "常住人口（万人）", "一般公共预算收入"]
    assert t.numeric == t.columns[1:]
    assert t.notes[0].startswith("注：1") and t.notes[1].startswith("数据来源")
    assert t.frame["地区"].tolist()[:3] == ["全省", "鼓楼区", "杭州市"]
    growth = dict(zip(t.frame["地区"], t.frame["地区生产总值_增速（%）"]))
    assert math.isnan(growth["桐庐县"]) and growth["上城区"] == 2.1  # "—" is no data
    assert t.source_rows[0] == 5


def test_gbk_csv_sniffed_with_title_row():
    raw = (T / "county_names_gbk.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    t = read_table(T / "county_names_gbk.csv")
    assert t.encoding == "GB18030" and t.header_row == 2
    assert t.columns == ["地区", "所属地市", "常住人口（万人）", "地区生产总值（亿元）"]
    assert "萧 山" in t.frame["地区"].tolist() and len(t.notes) == 2


def test_old_xls_read_by_calamine():
    assert (T / "old_2010.xls").read_bytes()[:8] == bytes.fromhex("d0cf11e0a1b11ae1")  # OLE2: a real .xls
    t = read_table(T / "old_2010.xls")
    assert sheet_names(T / "old_2010.xls") == ["2010年"]
    assert t.columns == ["地区", "年末常住人口_合计（万人）", "年末常住人口_城镇（万人）"]
    assert dict(zip(t.frame["地区"], t.frame["年末常住人口_合计（万人）"]))["杭州市"] == 870


def test_sheet_and_header_row_by_hand():
    t = read_table(T / "yearbook.xlsx", sheet=2, header_row=4)
    assert not t.header_guessed and t.header_row == 4 and t.columns[1] == "总量"
    with pytest.raises(TableError, match="no sheet called '附表'"):
        read_table(T / "yearbook.xlsx", sheet="附表")
    with pytest.raises(TableError, match="空表 is empty"):
        read_table(T / "yearbook.xlsx", sheet="空表")
    with pytest.raises(TableError, match="not a table"):
        read_table(ROOT / "geodata" / "base" / "boundaries.gpkg")
    with pytest.raises(TableError, match="no header row 99"):
        read_table(T / "county_codes.csv", header_row=99)


def test_normalize_name_forms():
    assert J.normalize("嘉善县\u3000") == "嘉善县"
    assert J.normalize(" 萧 山 ") == "萧山"
    assert J.normalize("义乌巿") == "义乌市"
    assert J.normalize("ＡＢ（含开发区）") == "AB"
    assert J.stem("景宁畲族自治县") == "景宁" and J.stem("浦东新区") == "浦东" and J.stem("和县") == "和"


# -- matching ------------------------------------------------------------------


def test_codes_9_12_digits_and_old_codes():
    t = read_table(T / "county_codes.csv")
    r = J.match_table(t)
    assert r.level == "county" and r.key == "统计用区划代码"
    assert one(r, "330102000000").adcode == "330102"
    assert one(r, "310118").adcode == "310118"
    assert one(r, "３３０４２１").adcode == "330421"  # full-width digits
    kq = one(r, "330621000000")  # 绍兴县's old code
    assert kq.status == "changed" and kq.adcode == "330603" and "绍兴县" in kq.note and "2013" in kq.note
    wj = one(r, "320584000000")
    assert wj.status == "changed" and wj.name == "吴江区" and "2012" in wj.note
    assert {one(r, k).status for k in ("330000000000", "330100000000")} == {"total"}
    assert one(r, "339999000000").status == "unmatched"
    assert one(r, "360121000000").status == "outside"
    s = r.summary()
    assert (s["rows"], s["matched"], len(s["totals_skipped"])) == (10, 6, 2)


def test_names_suffixes_spaces_lookalikes_old_and_parent_column():
    r = J.match_table(read_table(T / "county_names_gbk.csv"), "county")
    assert r.parent_column == "所属地市"  # guessed
    want = {"上城区": "330102", "西湖": "330106", "萧 山": "330109", "嘉善县": "330421", "义乌巿": "330782",
            "景宁县": "331127", "普陀区": "330903"}
    for k, code in want.items():
        m = one(r, k)
        assert (m.status, m.adcode) == ("matched", code), (k, m)
    gulou = [m for m in r.rows if m.key == "鼓楼区"]
    assert [m.adcode for m in gulou] == ["320106", "320302"]  # 南京 / 徐州 by the parent column
    sx = one(r, "绍兴县")
    assert sx.status == "changed" and sx.name == "柯桥区" and "越城区" in sx.note  # part went to 越城区: said
    # 江干区 went mostly into 上城区, which the table has already: not matched twice
    jg = one(r, "江干区")
    assert jg.status == "ambiguous" and jg.adcode is None and "上城区" in jg.note
    assert {one(r, k).status for k in ("全省", "市辖区", "合计")} == {"total"}
    assert one(r, "南昌县").status == "outside" and one(r, "某某县").status == "unmatched"
    s = r.summary()
    assert s["rows"] == 16 and s["matched"] == 10
    assert [u["key"] for u in s["unmatched"]] == ["某某县"]


def test_sections_tell_shared_names_apart():
    r = J.match_table(read_table(T / "yearbook.xlsx"), "county")
    assert r.parent_column is None
    putuo = [m for m in r.rows if m.key == "普陀区"]
    assert [(m.status, m.adcode) for m in putuo] == [("matched", "330903"), ("matched", "310107")]
    gl = one(r, "鼓楼区")  # before any section and no parent column: listed, not guessed
    assert gl.status == "ambiguous" and {u.adcode for u in gl.candidates} == {"320106", "320302"}
    la = one(r, "临安市")
    assert la.status == "changed" and la.adcode == "330112" and "2017" in la.note
    assert [m.key for m in r.rows if m.status == "total"] == ["全省", "杭州市", "市辖区", "舟山市", "上海市"]


def test_crosswalk_is_data_with_sources():
    rows = list(csv.DictReader(open(J.crosswalk_path(), encoding="utf-8")))
    by = {r["old_name"]: r for r in rows if r["province"] == "浙江省"}
    assert by["绍兴县"]["new_name"] == "柯桥区" and by["绍兴县"]["year"] == "2013"
    assert by["临安市"]["new_name"] == "临安区" and by["临安市"]["year"] == "2017"
    assert by["下城区"]["new_name"] == "拱墅区" and by["江干区"]["new_name"] == "上城区"
    assert "国函〔2013〕112号" in by["绍兴县"]["source"]
    wj = next(r for r in rows if r["old_name"] == "吴江市")
    assert (wj["new_code"], wj["year"]) == ("320509", "2012")
    g = J.gazetteer()
    for r in rows:  # every change leads to a unit of today's base (an abolished one to the units it went to)
        assert r["new_code"] in g.by_code[r["level"]] if r["kind"] != "abolished" else not r["new_code"], r
        assert all(c in g.by_code[r["level"]] for c in r["also_code"].split(";") if c), r
        assert int(r["year"]) >= 2000
    ab = [r for r in rows if r["kind"] == "abolished"]
    assert [(r["old_code"], r["old_name"], r["year"], r["also_name"]) for r in ab] == [
        ("341400", "巢湖市", "2011", "合肥市;芜湖市;马鞍山市")]
    assert "国函〔2011〕84号" in ab[0]["source"]


def test_old_prefecture_table_and_manual_fix():
    t = read_table(T / "old_2010.xls")
    r = J.match_table(t)
    assert r.level == "prefecture"
    ch = one(r, "巢湖市")
    assert ch.status == "unmatched" and ch.abolished
    # said plainly, from the crosswalk: abolished in 2011, where its counties went, not matched
    assert ch.note.startswith("巢湖市（341400）2011年撤销，所辖县区分入合肥市、芜湖市、马鞍山市")
    assert "(abolished 2011, split between 合肥/芜湖/马鞍山) — 未匹配 not matched" in ch.note
    assert [u.adcode for u in ch.candidates] == ["340100", "340200", "340500"]  # first in the pick list
    s = r.summary()
    assert s["abolished"] == [{"row": ch.source_row, "key": "巢湖市", "year": 2011, "note": ch.note,
                               "went_to": ["合肥市", "芜湖市", "马鞍山市"]}]
    assert [u["key"] for u in s["unmatched"]] == ["巢湖市"]
    # by code too; and a row that merely names a unit that still exists is not called abolished
    g = J.gazetteer()
    assert J.match_key(g, "prefecture", "341400").note == ch.note
    assert not any(m.abolished for m in J.match_table(read_table(T / "yearbook.xlsx"), "county").rows)
    assert one(r, "上海市").adcode == "310100"  # 上海 in the 41-city layer
    fixed = J.match_table(t, "prefecture", fixes={ch.source_row: "340100"})
    m = one(fixed, "巢湖市")
    # 合肥市 is matched by its own row, so the hand-pick wins and 合肥市's row is listed
    assert (m.status, m.adcode) == ("fixed", "340100")
    assert one(fixed, "合肥市").status == "ambiguous"


def test_real_census_tables():
    r = J.match_table(read_table(T / "census2020_zhejiang_cities.csv"))
    assert r.level == "prefecture" and r.summary()["matched"] == 11
    j = J.run_join(J.JoinSpec(str(T / "census2020_zhejiang_cities.csv")))
    pop = dict(zip(j.gdf["name_zh"], j.gdf["常住人口（人）"]))
    assert pop["杭州市"] == 11936010 and len(j.gdf) == 11  # only Zhejiang's cities: the table's province
    assert sum(pop.values()) == 64567588  # = the bulletin's 全省 row, skipped as a total
    p = J.match_table(read_table(T / "census2020_yrd_provinces.csv"))
    assert p.level == "province" and [m.adcode for m in p.rows] == ["310000", "320000", "330000", "340000"]


# -- CLI -----------------------------------------------------------------------


def zjmap(*args):
    return subprocess.run([sys.executable, "-m", "zjmap", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_join_summary_and_outputs(tmp_path):
    import geopandas as gpd

    out = zjmap("join", str(T / "yearbook.xlsx"), "--level", "county", "--out", str(tmp_path / "j.gpkg"))
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert s["sheet"] == "2-5 各县（市、区）" and s["rows"] == 11 and s["matched"] == 5
    assert [a["key"] for a in s["ambiguous"]] == ["鼓楼区"]
    assert [t["key"] for t in s["totals_skipped"]][:2] == ["全省", "杭州市"]
    g = gpd.read_file(tmp_path / "j.gpkg")
    assert {"adcode", "name_zh", "level", "地区", "常住人口（万人）"} <= set(g.columns)
    row = g[g["adcode"] == "330112"].iloc[0]
    assert row["地区"] == "临安市" and row["常住人口（万人）"] == 64.5
    assert g["常住人口（万人）"].isna().sum() == len(g) - 5  # no-data units kept for the map
    for ext in ("geojson", "csv"):
        o = zjmap("join", str(T / "county_codes.csv"), "--out", str(tmp_path / f"j.{ext}"))
        assert o.returncode == 0, o.stderr
    assert "wkt" in (tmp_path / "j.csv").read_text(encoding="utf-8-sig").splitlines()[0]


@pytest.mark.parametrize("args, msg", [
    (["yearbook.xlsx", "--key", "区县"], "no column '区县'"),
    (["yearbook.xlsx", "--sheet", "附表"], "no sheet called '附表'"),
    (["yearbook.xlsx", "--sheet", "空表"], "is empty"),
    (["README.md"], "not a table"),
])
def test_cli_join_bad_input(args, msg):
    out = zjmap("join", *[str(T / a) if i == 0 else a for i, a in enumerate(args)])
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and msg in lines[0], out.stderr


def test_empty_and_header_only_tables_say_the_table_has_no_rows(tmp_path):
    empty = tmp_path / "空.csv"
    empty.write_bytes(b"")
    head = tmp_path / "只有表头.csv"
    head.write_bytes("\ufeff地区,常住人口\r\n\r\n".encode("utf-8"))
    for path, detail in ((empty, "文件或工作表是空的"), (head, "只有表头（第 1 行：地区、常住人口）")):
        with pytest.raises(TableError) as exc:
            read_table(path)
        assert exc.value.kind == "no_rows"
        assert str(exc.value).startswith(f"{path.name}：表中没有数据行") and detail in str(exc.value)
        assert "the table has no rows" in str(exc.value)
        out = zjmap("join", str(path))
        assert out.returncode == 2 and out.stdout == ""
        lines = out.stderr.strip().splitlines()
        assert lines == [f"error: {exc.value}"], out.stderr
    with pytest.raises(TableError) as exc:
        read_table(T / "yearbook.xlsx", "空表")
    assert exc.value.kind == "no_rows"


def test_cli_join_says_an_abolished_prefecture_plainly():
    out = zjmap("join", str(T / "old_2010.xls"))
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert [a["key"] for a in s["abolished"]] == ["巢湖市"] and s["abolished"][0]["went_to"] == ["合肥市", "芜湖市", "马鞍山市"]
    assert "2011年撤销" in s["unmatched"][0]["note"] and "not matched" in s["unmatched"][0]["note"]


def test_join_to_a_planners_layer_by_a_field(tmp_path):
    import geopandas as gpd
    import shapely

    from zjmap.core.layerjoin import run_layer_join

    pts = gpd.GeoDataFrame({"城市": ["杭州", "宁 波", "温州市", "温州市", "绍兴"], "id": [1, 2, 3, 4, 5]},
                           geometry=[shapely.Point(120 + i * 0.1, 30) for i in range(5)], crs="EPSG:4326")
    path = tmp_path / "cities.geojson"
    pts.to_file(path, driver="GeoJSON")
    table = read_table(T / "census2020_zhejiang_cities.csv")
    spec = J.JoinSpec(str(T / "census2020_zhejiang_cities.csv"), target={"path": str(path), "field": "城市"})
    j = run_layer_join(spec, table)  # reads the layer's file, as a workspace does
    st = {m.key: (m.status, m.adcode) for m in j.result.rows}
    assert st["杭州市"] == ("matched", "0") and st["宁波市"] == ("matched", "1")  # 宁 波 / 杭州: same name
    assert st["温州市"][0] == "ambiguous"  # two features share the value: listed, not guessed
    assert st["全省"][0] == "total" and st["丽水市"][0] == "unmatched"
    pop = dict(zip(j.gdf["id"], j.gdf["常住人口（人）"]))
    assert pop[1] == 11936010 and pop[5] == 5270977 and math.isnan(pop[3])
    assert j.spec.target["field"] == "城市" and j.result.level == "layer"


def test_a_name_also_used_outside_the_map_is_matched_but_said(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("地区,人口\n西湖区,100\n嘉善县,60\n", encoding="utf-8")
    r = J.match_table(read_table(p), "county")
    xh = one(r, "西湖区")
    assert xh.adcode == "330106" and "江西省（360103）" in xh.note  # 南昌 西湖区 (360103) is named
    assert one(r, "嘉善县").note == ""
    assert [m["key"] for m in r.summary()["matched_shared_names"]] == ["西湖区"]
    with_parent = tmp_path / "p.csv"
    with_parent.write_text("地区,所属市,人口\n西湖区,南昌市,100\n西湖区,杭州市,90\n", encoding="utf-8")
    r2 = J.match_table(read_table(with_parent), "county")
    assert [(m.status, m.adcode) for m in r2.rows] == [("outside", None), ("matched", "330106")]
