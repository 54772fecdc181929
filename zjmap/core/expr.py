"""Filter expressions a planner types: ``产值 > 1000 and 县 in ('嘉善县', '青浦区')``.

Grammar (keywords case-insensitive)::

    expr       := term ("or" term)*
    term       := factor ("and" factor)*
    factor     := "not" factor | "(" expr ")" | predicate
    predicate  := operand op operand              op: = == != <> < <= > >=
                | field ["not"] "in" "(" literal ("," literal)* ")"
                | field ["not"] ("like" | "ilike") string
                | field "is" ["not"] "null"
    operand    := field | literal
    field      := name | "quoted name"             (Chinese names allowed)
    literal    := 'text' ('' inside is a quote) | number | true | false

Nothing typed is ever run as code: the text is tokenised and parsed into the
small dataclass tree below, and that tree is evaluated column by column with
pandas (vectorised) or rendered to a SQL ``WHERE`` with bound parameters
(:meth:`Expr.to_sql`, for PostGIS layers). Nulls follow SQL's three-valued
logic (a comparison with a null is unknown; unknown rows are not selected),
so both renderings select the same rows.

Why a hand-written recursive-descent parser and not pyparsing (installed with
matplotlib): pyparsing reports a failure at the start of the alternative that
failed -- ``name = 'abc`` and ``pop >`` both come back as "expected … at char
0" -- while a planner needs to be told *where* the expression went wrong
("position 8: the text '…' has no closing quote"). The grammar is five rules;
the parser is ~150 lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union

import numpy as np
import pandas as pd

__all__ = [
    "ExprError",
    "Expr",
    "Field",
    "Literal",
    "Compare",
    "InList",
    "Like",
    "IsNull",
    "And",
    "Or",
    "Not",
    "parse",
    "evaluate",
    "MAX_LENGTH",
]

#: Longer input is refused before tokenising (a filter is a line, not a file).
MAX_LENGTH = 10_000
#: Deeper nesting of parentheses / not is refused (no recursion blow-up).
MAX_DEPTH = 64

KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false"}
COMPARE_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class ExprError(ValueError):
    """A bad expression; ``pos`` is the 0-based character where it goes wrong."""

    def __init__(self, message: str, pos: int, text: str = "") -> None:
        self.pos = pos
        self.text = text
        self.reason = message
        where = f"position {pos + 1}"
        if text:
            snippet = text[max(0, pos - 12): pos + 12]
            where += f" (near “{snippet}”)" if snippet.strip() else ""
        super().__init__(f"bad filter at {where}: {message}")


# ---------------------------------------------------------------------------
# The tree


@dataclass(frozen=True)
class Field:
    name: str
    pos: int = 0


@dataclass(frozen=True)
class Literal:
    value: Any  # str | int | float | bool
    pos: int = 0


Operand = Union[Field, Literal]


@dataclass(frozen=True)
class Compare:
    left: Operand
    op: str  # one of = != < <= > >=
    right: Operand
    pos: int = 0


@dataclass(frozen=True)
class InList:
    field: Field
    values: tuple[Literal, ...]
    negate: bool = False


@dataclass(frozen=True)
class Like:
    field: Field
    pattern: Literal
    negate: bool = False
    case_insensitive: bool = False


@dataclass(frozen=True)
class IsNull:
    field: Field
    negate: bool = False


@dataclass(frozen=True)
class And:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Expr", ...]


@dataclass(frozen=True)
class Not:
    item: "Expr"


Node = Union[Compare, InList, Like, IsNull, And, Or, Not]


# ---------------------------------------------------------------------------
# Tokens

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<number>[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?(?![\w.]))
      | (?P<name>[^\W\d]\w*)
      | (?P<op><=|>=|<>|!=|==|=|<|>)
      | (?P<punct>[(),])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # number | name | keyword | qname | string | op | punct | end
    value: Any
    pos: int
    raw: str = ""


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            j, buf = i + 1, []
            while True:
                k = text.find(ch, j)
                if k < 0:
                    what = "text" if ch == "'" else "field name"
                    raise ExprError(f"the {what} starting here has no closing {ch}", i, text)
                buf.append(text[j:k])
                if k + 1 < n and text[k + 1] == ch:  # doubled quote = one quote
                    buf.append(ch)
                    j = k + 2
                    continue
                break
            out.append(_Tok("string" if ch == "'" else "qname", "".join(buf), i, text[i: k + 1]))
            i = k + 1
            continue
        m = _TOKEN.match(text, i)
        if m is None:
            hint = " (use = or !=)" if ch in "~^&|" else ""
            if ch in "[]{}":
                hint = " (lists go in round brackets: in ('a', 'b'))"
            raise ExprError(f"unexpected character {ch!r}{hint}", i, text)
        kind = m.lastgroup or ""
        raw = m.group()
        if kind == "number":
            val: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
            out.append(_Tok("number", val, i, raw))
        elif kind == "name":
            low = raw.lower()
            out.append(_Tok("keyword", low, i, raw) if low in KEYWORDS else _Tok("name", raw, i, raw))
        elif kind in ("op", "punct"):
            out.append(_Tok(kind, raw, i, raw))
        i = m.end()
    out.append(_Tok("end", None, n, ""))
    return out


# ---------------------------------------------------------------------------
# Parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, message: str, tok: _Tok | None = None) -> ExprError:
        t = tok or self.tok
        return ExprError(message, t.pos, self.text)

    def describe(self, t: _Tok) -> str:
        return "the end of the filter" if t.kind == "end" else f"“{t.raw}”"

    def is_kw(self, *words: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.value in words

    def take(self) -> _Tok:
        t = self.tok
        self.i += 1
        return t

    def expect_punct(self, p: str, context: str) -> _Tok:
        if self.tok.kind == "punct" and self.tok.value == p:
            return self.take()
        raise self.fail(f"expected “{p}” {context}, found {self.describe(self.tok)}")

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.fail("the filter is empty")
        node = self.expr()
        if self.tok.kind != "end":
            t = self.tok
            if t.kind == "punct" and t.value == ")":
                raise self.fail("this “)” has no matching “(”")
            raise self.fail(f"expected “and”, “or” or the end, found {self.describe(t)}")
        return node

    def _chain(self, word: str, sub, cls) -> Node:
        items = [sub()]
        while self.is_kw(word):
            self.take()
            items.append(sub())
        return items[0] if len(items) == 1 else cls(tuple(items))

    def expr(self) -> Node:
        return self._chain("or", self.term, Or)

    def term(self) -> Node:
        return self._chain("and", self.factor, And)

    def factor(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"brackets and “not” nest deeper than {MAX_DEPTH} levels")
        try:
            if self.is_kw("not"):
                self.take()
                return Not(self.factor())
            t = self.tok
            if t.kind == "punct" and t.value == "(":
                self.take()
                node = self.expr()
                if not (self.tok.kind == "punct" and self.tok.value == ")"):
                    raise ExprError(
                        f"this “(” is not closed (found {self.describe(self.tok)} where “)” should be)",
                        t.pos, self.text)
                self.take()
                return node
            return self.predicate()
        finally:
            self.depth -= 1

    def operand(self, what: str) -> Operand:
        t = self.tok
        if t.kind in ("name", "qname"):
            self.take()
            nxt = self.tok
            if t.kind == "name" and nxt.kind == "punct" and nxt.value == "(":
                raise self.fail(f"functions such as {t.raw}(…) are not allowed in a filter", t)
            return Field(t.value, t.pos)
        if t.kind == "keyword" and t.value == "null":
            raise self.fail("compare with null using “is null” or “is not null”")
        return self.literal(what)

    def literal(self, what: str) -> Literal:
        t = self.tok
        if t.kind in ("string", "number"):
            self.take()
            return Literal(t.value, t.pos)
        if t.kind == "keyword" and t.value in ("true", "false"):
            self.take()
            return Literal(t.value == "true", t.pos)
        if t.kind == "name":
            raise self.fail(f"expected {what}, found the name {t.raw}; put text in single quotes: '{t.raw}'")
        raise self.fail(f"expected {what}, found {self.describe(t)}")

    def predicate(self) -> Node:
        start = self.tok
        left = self.operand("a field name or a value")
        t = self.tok
        if isinstance(left, Field):
            negate = False
            if self.is_kw("is"):
                self.take()
                if self.is_kw("not"):
                    self.take()
                    negate = True
                if not self.is_kw("null"):
                    raise self.fail(f"expected “null” after “is”, found {self.describe(self.tok)}")
                self.take()
                return IsNull(left, negate)
            if self.is_kw("not") and self.toks[self.i + 1].kind == "keyword" and self.toks[self.i + 1].value in ("in", "like", "ilike"):
                self.take()
                negate = True
            if self.is_kw("in"):
                self.take()
                self.expect_punct("(", "after “in”")
                values = [self.literal("a value in the list")]
                while self.tok.kind == "punct" and self.tok.value == ",":
                    self.take()
                    values.append(self.literal("a value after “,”"))
                self.expect_punct(")", "to close the list")
                return InList(left, tuple(values), negate)
            if self.is_kw("like", "ilike"):
                ci = self.take().value == "ilike"
                p = self.tok
                if p.kind != "string":
                    raise self.fail(f"“like” needs a quoted pattern such as '杭州%', found {self.describe(p)}")
                self.take()
                return Like(left, Literal(p.value, p.pos), negate, ci)
        if t.kind != "op":
            if t.kind == "end":
                raise self.fail("the filter ends here: expected a comparison such as = 'value' or > 10")
            raise self.fail(f"expected a comparison (=, !=, <, <=, >, >=, in, like, is null), found {self.describe(t)}")
        op = COMPARE_OPS[self.take().value]
        right = self.operand(f"a value after “{t.raw}”")
        if isinstance(left, Literal) and isinstance(right, Literal):
            raise ExprError("a comparison needs at least one field name", start.pos, self.text)
        return Compare(left, op, right, t.pos)


# ---------------------------------------------------------------------------
# Public entry points


class Expr:
    """A parsed filter: evaluate it on a table, list its fields, render SQL."""

    def __init__(self, text: str, root: Node) -> None:
        self.text = text
        self.root = root

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def fields(self) -> list[Field]:
        out: list[Field] = []

        def walk(n: Any) -> None:
            if isinstance(n, Field):
                out.append(n)
            elif isinstance(n, Compare):
                walk(n.left)
                walk(n.right)
            elif isinstance(n, (InList, Like, IsNull)):
                walk(n.field)
            elif isinstance(n, (And, Or)):
                for c in n.items:
                    walk(c)
            elif isinstance(n, Not):
                walk(n.item)

        walk(self.root)
        return out

    def check_fields(self, columns: Sequence[str]) -> None:
        """Raise ExprError at the first field name that is not a column."""
        cols = [str(c) for c in columns]
        for f in self.fields():
            if f.name not in cols:
                near = [c for c in cols if c.lower() == f.name.lower()]
                hint = f" (did you mean {near[0]}?)" if near else ""
                shown = ", ".join(cols[:12]) + (", …" if len(cols) > 12 else "")
                raise ExprError(f"no field named {f.name!r}{hint}; fields: {shown}", f.pos, self.text)

    def evaluate(self, table: Any) -> np.ndarray:
        """Boolean mask (numpy) of the rows the filter selects."""
        return evaluate(self, table)

    def to_sql(self, quote_ident=None) -> tuple[str, list[Any]]:
        """``(where_sql, params)`` with ``%s`` placeholders (psycopg style).

        Field names are quoted identifiers; every value is a bound parameter.
        LIKE patterns use ``\\`` as escape, as :func:`evaluate` does.
        """
        q = quote_ident or (lambda name: '"' + name.replace('"', '""') + '"')
        params: list[Any] = []

        def operand(o: Operand) -> str:
            if isinstance(o, Field):
                return q(o.name)
            params.append(o.value)
            return "%s"

        def render(n: Any) -> str:
            if isinstance(n, Compare):
                op = "<>" if n.op == "!=" else n.op
                return f"{operand(n.left)} {op} {operand(n.right)}"
            if isinstance(n, InList):
                marks = ", ".join(operand(v) for v in n.values)
                return f"{q(n.field.name)} {'NOT IN' if n.negate else 'IN'} ({marks})"
            if isinstance(n, Like):
                word = "ILIKE" if n.case_insensitive else "LIKE"
                params.append(n.pattern.value)
                return f"{q(n.field.name)} {'NOT ' if n.negate else ''}{word} %s ESCAPE '\\'"
            if isinstance(n, IsNull):
                return f"{q(n.field.name)} IS {'NOT ' if n.negate else ''}NULL"
            if isinstance(n, And):
                return "(" + " AND ".join(render(c) for c in n.items) + ")"
            if isinstance(n, Or):
                return "(" + " OR ".join(render(c) for c in n.items) + ")"
            if isinstance(n, Not):
                return f"NOT ({render(n.item)})"
            raise TypeError(n)

        return render(self.root), params


def parse(text: str) -> Expr:
    """Parse ``text``; raises :class:`ExprError` with the position of the problem."""
    if not isinstance(text, str):
        raise ExprError("the filter must be text", 0)
    if len(text) > MAX_LENGTH:
        raise ExprError(f"the filter is {len(text):,} characters long; at most {MAX_LENGTH:,} are allowed", MAX_LENGTH)
    return Expr(text, _Parser(text).parse())


# ---------------------------------------------------------------------------
# Evaluation (pandas, vectorised, SQL null semantics via the nullable boolean)


def _column(table: Any, name: str) -> pd.Series:
    if hasattr(table, "column_names") and hasattr(table, "column"):  # pyarrow.Table
        return table.column(name).to_pandas()
    return table[name]


def _kind(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s.dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "date"
    non_null = s.dropna()
    if len(non_null) and non_null.map(lambda v: isinstance(v, bool)).all():
        return "bool"
    if len(non_null) and non_null.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)).all():
        return "number"
    return "text"


def _value_kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "text"


_KIND_WORDS = {"number": "numbers", "text": "text", "bool": "true/false", "date": "dates"}


class _Eval:
    def __init__(self, expr: Expr, table: Any) -> None:
        self.expr = expr
        self.table = table
        cols = list(table.column_names) if hasattr(table, "column_names") else [str(c) for c in table.columns]
        expr.check_fields(cols)
        self.n = table.num_rows if hasattr(table, "num_rows") else len(table)
        self.cache: dict[str, tuple[pd.Series, str]] = {}

    def col(self, f: Field) -> tuple[pd.Series, str]:
        if f.name not in self.cache:
            s = _column(self.table, f.name).reset_index(drop=True)
            kind = _kind(s)
            if kind == "number" and s.dtype == object:
                s = pd.to_numeric(s, errors="coerce")
            self.cache[f.name] = (s, kind)
        return self.cache[f.name]

    def check_value(self, f: Field, kind: str, lit: Literal) -> Any:
        vk = _value_kind(lit.value)
        if kind == vk or (kind == "date" and vk == "text"):
            return pd.Timestamp(lit.value) if kind == "date" else lit.value
        if kind == "text" and vk == "number":
            raise ExprError(f"field {f.name!r} holds text: put the value in quotes, e.g. '{lit.value}'", lit.pos, self.expr.text)
        raise ExprError(f"field {f.name!r} holds {_KIND_WORDS[kind]}, not {_KIND_WORDS[vk]}", lit.pos, self.expr.text)

    def bool_array(self, mask: Any, null: Any) -> pd.arrays.BooleanArray:
        vals = np.asarray(mask, dtype=bool)
        return pd.arrays.BooleanArray(vals & ~np.asarray(null, dtype=bool), np.asarray(null, dtype=bool))

    def run(self, n: Any) -> pd.arrays.BooleanArray:
        if isinstance(n, And):
            out = self.run(n.items[0])
            for c in n.items[1:]:
                out = out & self.run(c)
            return out
        if isinstance(n, Or):
            out = self.run(n.items[0])
            for c in n.items[1:]:
                out = out | self.run(c)
            return out
        if isinstance(n, Not):
            return ~self.run(n.item)
        if isinstance(n, IsNull):
            s, _ = self.col(n.field)
            null = s.isna().to_numpy()
            return pd.array(~null if n.negate else null, dtype="boolean")
        if isinstance(n, InList):
            s, kind = self.col(n.field)
            vals = [self.check_value(n.field, kind, v) for v in n.values]
            null = s.isna().to_numpy()
            hit = s.isin(vals).to_numpy()
            return self.bool_array(~hit if n.negate else hit, null)
        if isinstance(n, Like):
            s, kind = self.col(n.field)
            if kind != "text":
                raise ExprError(f"“like” works on text; field {n.field.name!r} holds {_KIND_WORDS[kind]}",
                                n.field.pos, self.expr.text)
            rx = like_regex(n.pattern.value)
            null = s.isna().to_numpy()
            hit = s.astype("string").str.fullmatch(rx, case=not n.case_insensitive).fillna(False).to_numpy(dtype=bool)
            return self.bool_array(~hit if n.negate else hit, null)
        if isinstance(n, Compare):
            return self.compare(n)
        raise TypeError(n)

    def compare(self, n: Compare) -> pd.arrays.BooleanArray:
        left, right = n.left, n.right
        flip = False
        if isinstance(left, Literal):  # 5 < pop  ->  pop > 5
            left, right, flip = right, left, True
        assert isinstance(left, Field)
        s, kind = self.col(left)
        op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(n.op, n.op) if flip else n.op
        if isinstance(right, Field):
            t, tkind = self.col(right)
            if tkind != kind:
                raise ExprError(f"fields {left.name!r} ({_KIND_WORDS[kind]}) and {right.name!r} "
                                f"({_KIND_WORDS[tkind]}) cannot be compared", n.pos, self.expr.text)
            null = (s.isna() | t.isna()).to_numpy()
            other: Any = t
        else:
            other = self.check_value(left, kind, right)
            null = s.isna().to_numpy()
        if kind in ("bool",) and op not in ("=", "!="):
            raise ExprError(f"true/false field {left.name!r} can only be compared with = or !=", n.pos, self.expr.text)
        a = _nullable(s, kind)
        b = _nullable(other, kind) if isinstance(other, pd.Series) else other
        res = {
            "=": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b,
            "<=": lambda: a <= b, ">": lambda: a > b, ">=": lambda: a >= b,
        }[op]()
        vals = np.asarray(pd.array(res, dtype="boolean").fillna(False), dtype=bool)
        return self.bool_array(vals, null)


def _nullable(s: pd.Series, kind: str) -> pd.Series:
    if kind == "number":
        return s.astype("Float64")
    if kind == "text":
        return s.astype("string")
    if kind == "bool":
        return s.astype("boolean")
    return s


def like_regex(pattern: str) -> str:
    """SQL LIKE (``%`` any run, ``_`` one character, ``\\`` escapes) as a regex."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return "(?s)" + "".join(out)


def evaluate(expr: Expr | str, table: Any) -> np.ndarray:
    """Rows of ``table`` (pandas/GeoPandas DataFrame or pyarrow Table) the filter selects."""
    e = parse(expr) if isinstance(expr, str) else expr
    ev = _Eval(e, table)
    res = ev.run(e.root)
    return res.fillna(False).to_numpy(dtype=bool) if ev.n else np.zeros(0, dtype=bool)


def evaluate_records(expr: Expr | str, records: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> np.ndarray:
    """The same on a list of property dicts (seed and base layers)."""
    cols = list(columns) if columns is not None else sorted({k for r in records for k in r})
    frame = pd.DataFrame.from_records(list(records), columns=cols) if records else pd.DataFrame(columns=cols)
    return evaluate(expr, frame)
