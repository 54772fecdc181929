"""Filter expressions: results against pandas and SQLite, hostile input, positions."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from zjmap.core.expr import MAX_DEPTH, ExprError, evaluate, parse


@pytest.fixture(scope="module")
def firms() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 400
    names = np.array(["嘉善县", "青浦区", "吴江区", "杭州市", "Ningbo", "义乌市", "100%纯"], dtype=object)
    output = rng.normal(500, 300, n).round(1)
    output[rng.random(n) < 0.1] = np.nan
    county = names[rng.integers(0, len(names), n)]
    county[rng.random(n) < 0.08] = None
    return pd.DataFrame({
        "county": county,
        "产值": output,
        "staff": rng.integers(1, 2000, n),
        "listed": rng.random(n) < 0.3,
        "adcode": rng.choice(["330421", "310118", "320509"], n),
    })


# each expression beside the same selection written directly in pandas
CASES = [
    ("产值 > 500", lambda d: d["产值"] > 500),
    ("产值 >= 500 and staff < 1000", lambda d: (d["产值"] >= 500) & (d["staff"] < 1000)),
    ("county = '嘉善县' or county = '青浦区'", lambda d: d["county"].isin(["嘉善县", "青浦区"])),
    ("county in ('嘉善县', '吴江区')", lambda d: d["county"].isin(["嘉善县", "吴江区"])),
    ("county not in ('嘉善县', '吴江区')", lambda d: d["county"].notna() & ~d["county"].isin(["嘉善县", "吴江区"])),
    ("county like '%区'", lambda d: d["county"].fillna("").str.endswith("区")),
    ("county like '100\\%%'", lambda d: d["county"].fillna("").str.startswith("100%")),
    ("county like '__市'", lambda d: d["county"].fillna("").str.fullmatch(r"..市")),
    ("county ilike 'ningbo'", lambda d: d["county"].fillna("").str.lower() == "ningbo"),
    ("county is null", lambda d: d["county"].isna()),
    ("产值 is not null and not (staff > 100)", lambda d: d["产值"].notna() & ~(d["staff"] > 100)),
    # SQL nulls: "not (产值 > 500)" leaves out rows without 产值
    ("not 产值 > 500", lambda d: d["产值"].notna() & ~(d["产值"] > 500)),
    ("产值 != 500 or listed = true", lambda d: (d["产值"].notna() & (d["产值"] != 500)) | d["listed"]),
    ("1000 > staff", lambda d: d["staff"] < 1000),
    ('"adcode" <> \'330421\'', lambda d: d["adcode"] != "330421"),
    ("staff > 100 and (county = '义乌市' or 产值 < 0) and listed = false",
     lambda d: (d["staff"] > 100) & ((d["county"] == "义乌市") | (d["产值"] < 0)) & ~d["listed"]),
    ("staff = 5e2 or staff = 1", lambda d: d["staff"].isin([500, 1])),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0] for c in CASES])
def test_matches_pandas(firms, text, expected):
    got = evaluate(text, firms)
    want = expected(firms).fillna(False).to_numpy(dtype=bool)
    assert got.dtype == bool and len(got) == len(firms)
    assert (got == want).all()
    assert 0 < got.sum() < len(firms) or text.startswith("staff = 5e2")


@pytest.mark.parametrize("text", [c[0] for c in CASES if "ilike" not in c[0]])
def test_sql_rendering_selects_the_same_rows(firms, text):
    """to_sql() run by a real SQL engine (SQLite, ? placeholders) gives the same rows."""
    con = sqlite3.connect(":memory:")
    con.execute("PRAGMA case_sensitive_like = ON")
    d = firms.assign(rowid_=range(len(firms)), listed=firms["listed"].astype(int))
    d.to_sql("t", con, index=False)
    where, params = parse(text).to_sql()
    params = [int(p) if isinstance(p, bool) else p for p in params]
    rows = [r[0] for r in con.execute(f"select rowid_ from t where {where.replace('%s', '?')}", params)]
    assert sorted(rows) == list(np.flatnonzero(evaluate(text, firms)))


def test_sql_has_no_values_inline():
    where, params = parse("county = 'x'' or 1=1 --' and staff in (1, 2)").to_sql()
    assert "1=1" not in where and "'" not in where.replace("ESCAPE '\\'", "")
    assert params == ["x' or 1=1 --", 1, 2]


def test_pyarrow_table(firms):
    table = pa.Table.from_pandas(firms)
    assert (evaluate("产值 > 500 and county like '%县'", table) == evaluate("产值 > 500 and county like '%县'", firms)).all()


@pytest.mark.parametrize("text,pos,words", [
    ("__import__('os')", 0, "functions"),
    ("open('/etc/passwd')", 0, "functions"),
    ("staff > len(county)", 8, "functions"),
    ("county = '嘉善县", 9, "no closing '"),
    ('"county = 1', 0, "no closing \""),
    ("(staff > 1 and county = 'a'", 0, "not closed"),
    ("staff > 1)", 9, "no matching"),
    ("staff >", 7, "expected a value"),
    ("staff > 1 and", 13, "expected a field"),
    ("staff 5", 6, "expected a comparison"),
    ("stuff > 5", 0, "no field named 'stuff'"),
    ("Staff > 5", 0, "did you mean staff"),
    ("adcode = 330421", 9, "holds text"),
    ("staff = '5'", 8, "holds numbers"),
    ("staff like '5%'", 0, "works on text"),
    ("county = null", 9, "is null"),
    ("county in ['a']", 10, "round brackets"),
    ("staff is 3", 9, "after “is”"),
    ("1 = 1", 0, "at least one field"),
    ("x.__class__", 1, "unexpected character"),
    ("", 0, "empty"),
])
def test_errors_point_to_the_position(firms, text, pos, words):
    with pytest.raises(ExprError) as info:
        evaluate(text, firms)
    assert info.value.pos == pos, str(info.value)
    assert words in str(info.value)
    assert f"position {pos + 1}" in str(info.value)


def test_never_runs_code(firms, tmp_path, monkeypatch):
    import builtins

    called = []
    monkeypatch.setattr(builtins, "__import__", lambda *a, **k: called.append(a) or (_ for _ in ()).throw(AssertionError))
    for text in ["__import__('os').system('touch x')", "county = county.__class__", "eval('1')"]:
        with pytest.raises(ExprError):
            parse(text)
    monkeypatch.undo()
    assert called == []


def test_very_long_and_deep_input(firms):
    with pytest.raises(ExprError, match="at most 10,000"):
        parse("staff > 1 or " * 2000 + "staff > 1")
    # long but legal: 600 alternatives, flat, evaluated quickly
    text = " or ".join(f"staff = {i}" for i in range(600))
    t0 = time.perf_counter()
    got = evaluate(text, firms)
    assert time.perf_counter() - t0 < 5
    assert (got == (firms["staff"] < 600).to_numpy()).all()
    with pytest.raises(ExprError, match="nest deeper") as info:
        parse("(" * 200 + "staff > 1" + ")" * 200)
    assert info.value.pos == MAX_DEPTH
    with pytest.raises(ExprError, match="nest deeper"):
        parse("not " * 500 + "staff > 1")
    assert evaluate("not not staff > 1000", firms).sum() == (firms["staff"] > 1000).sum()


def test_fields_listed_with_positions():
    e = parse("a > 1 and (\"b c\" is null or 名称 like 'x%')")
    assert [(f.name, f.pos) for f in e.fields()] == [("a", 0), ("b c", 11), ("名称", 28)]
