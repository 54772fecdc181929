"""Joining a 3,000-row county table to the base, by name and by code, median of 5 runs.

Target (issue 13): under 0.5 s. The table is every county-level unit of China
in the MCA's current list (geodata/crosswalk/codes_current.csv) — the YRD's 305
match, the rest are "outside the map" — plus YRD rows under old names, with
suffixes dropped and full-width spaces, and total rows, written as a GBK CSV
the way a yearbook download comes. Reference, same run: a plain pandas merge
of the same rows on a 6-digit adcode column (what a script would do with
clean codes, and no report of what did not match).
"""

from __future__ import annotations

import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zjmap.core import tablejoin as J  # noqa: E402
from zjmap.core.tables import read_table  # noqa: E402

TARGET_S = 0.5
N = 3000


def build_table(path: Path) -> int:
    rows = [r for r in csv.DictReader(open(J.national_codes_path(), encoding="utf-8")) if r["level"] == "county"]
    changes = list(csv.DictReader(open(J.crosswalk_path(), encoding="utf-8")))
    out = [("地区", "所属地市", "代码", "常住人口（万人）", "地区生产总值（亿元）")]
    i = 0
    for r in rows:
        name = r["name"]
        if i % 3 == 1 and len(J.stem(name)) >= 2:
            name = J.stem(name)  # no suffix
        elif i % 5 == 2:
            name = name[:1] + "\u3000" + name[1:]  # a stray full-width space
        out.append((name, r["parent"], r["code"], f"{10 + i % 97:.1f}", f"{100 + (i * 37) % 5000}"))
        i += 1
    for c in changes:
        if len(out) >= N - 40:
            break
        out.append((c["old_name"], c["old_parent"], c["old_code"], "12.3", "456"))
    while len(out) < N + 1:
        out.append(("合计" if len(out) % 2 else "市辖区", "", "", "1000", "10000"))
    with open(path, "w", encoding="gbk", newline="") as f:
        csv.writer(f).writerows(out)
    return len(out) - 1


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "县域统计.csv"
        n = build_table(path)
        J.gazetteer()  # reference data read once, as the app does at first use
        times_name, times_code, times_ref = [], [], []
        for _ in range(5):
            t0 = time.perf_counter()
            table = read_table(path)
            r = J.match_table(table, "county", key="地区")
            J.joined_frame(table, r)
            times_name.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            table = read_table(path)
            rc = J.match_table(table, "county", key="代码")
            J.joined_frame(table, rc)
            times_code.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            import pandas as pd

            from zjmap.core.boundaries import load_boundaries

            df = pd.read_csv(path, encoding="gbk", dtype={"代码": str})
            units = load_boundaries("county")
            units.merge(df, left_on="adcode", right_on="代码", how="left")
            times_ref.append(time.perf_counter() - t0)
        s = r.summary()
        med = statistics.median
        print(f"join: {n:,}-row GBK county table: {s['matched']} matched ({len(s['changed'])} flagged as changed), "
              f"{len(s['outside'])} outside the map, {len(s['ambiguous'])} ambiguous, "
              f"{len(s['unmatched'])} unmatched, {len(s['totals_skipped'])} totals")
        print(f"join: by name  median {med(times_name):.3f} s (target < {TARGET_S} s)")
        print(f"join: by code  median {med(times_code):.3f} s (target < {TARGET_S} s)")
        print(f"join: reference, plain pandas read_csv + merge on adcode: median {med(times_ref):.3f} s")
        return 0 if max(med(times_name), med(times_code)) < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
