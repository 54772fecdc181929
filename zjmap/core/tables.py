"""Planners' statistics tables (CSV, XLSX, XLS) read as yearbooks lay them out.

Excel files go through python-calamine (one maintained reader for .xlsx and the
old binary .xls); CSV text is decoded as a planner's other text files are (BOM,
UTF-8, else GBK/GB18030: :func:`zjmap.core.csvpoints._decode_text`).

What is decided here, because no reader knows yearbooks: where the header is
(title rows above it are skipped; a header split over two or three rows or
merged across columns is joined into one name per column), which rows are notes
(注：, 数据来源：… below the data) and which columns hold numbers ("1,234",
"—" for no data). Total rows are recognised later, by the matcher, because
"杭州市" is a total in a county table and a unit in a city table.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
TABLE_SUFFIXES = (".csv", ".txt", ".tsv", *EXCEL_SUFFIXES)
NA_MARKS = {"", "-", "—", "——", "–", "…", "...", "/", "x", "X", "#", "NA", "N/A", "n/a", "nan", "null"}
MAX_HEADER_SCAN = 30
_NUM_RE = re.compile(r"^[+-]?(\d{1,3}([,，]\d{3})+|\d+)(\.\d+)?%?$|^[+-]?\.\d+%?$")


class TableError(Exception):
    """A file zjmap cannot read as a table; ``str(exc)`` is one plain sentence.

    ``kind`` says which failure it is, for callers that word it their own way:
    "no_rows" (an empty file or sheet, or a header with nothing below), else "unreadable".
    """

    def __init__(self, message: str, kind: str = "unreadable"):
        super().__init__(message)
        self.kind = kind


NO_ROWS_ZH = "表中没有数据行"
NO_ROWS_EN = "the table has no rows"


@dataclass
class RawSheet:
    """A sheet's cells as read, merged ranges filled; 0-based rows and columns."""

    name: str | None
    rows: list[list[Any]]


@dataclass
class Table:
    """One sheet of a table, header found, ready to match."""

    path: str
    sheet: str | None  # None for CSV
    sheets: list[str]
    header_row: int  # 1-based row of the (first) header line, as the planner counts
    header_lines: int
    header_guessed: bool
    columns: list[str]
    frame: pd.DataFrame  # one column per header name; numbers as float, text as str
    source_rows: list[int]  # 1-based row in the sheet of each frame row
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    numeric: list[str] = field(default_factory=list)

    @property
    def source_label(self) -> str:
        name = Path(self.path).name
        return f"{name} · {self.sheet}" if self.sheet else name


# ---------------------------------------------------------------------------
# raw cells


def _cell(v: Any) -> Any:
    """Calamine/CSV cell -> str, float or None (dates become ISO text)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            return None
        return float(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    s = str(v).replace("\u3000", " ").strip()
    return s or None


def sheet_names(path: str | Path) -> list[str]:
    """Sheets of an Excel file; [] for CSV."""
    p = Path(path)
    if p.suffix.lower() not in EXCEL_SUFFIXES:
        return []
    return list(_workbook(p).sheet_names)


def _workbook(p: Path):
    from python_calamine import CalamineWorkbook

    if not p.exists():
        raise TableError(f"{p.name} does not exist.")
    try:
        return CalamineWorkbook.from_path(str(p))
    except Exception as exc:  # calamine raises several types for broken files
        raise TableError(f"{p.name} is not an Excel workbook zjmap can read ({exc}).") from None


def _first_table_sheet(wb, names: list[str]) -> str:
    """The first sheet with at least two rows of two or more cells (a cover sheet is skipped)."""
    for name in names:
        rows = wb.get_sheet_by_name(name).to_python(nrows=60)
        if sum(1 for r in rows if sum(1 for v in r if v not in (None, "")) >= 2) >= 2:
            return name
    return names[0]


def read_raw(path: str | Path, sheet: str | int | None = None) -> tuple[RawSheet, list[str], str | None]:
    """(cells, sheet names, encoding) of one sheet; CSV is one unnamed sheet."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        wb = _workbook(p)
        names = list(wb.sheet_names)
        if not names:
            raise TableError(f"{p.name} has no sheets.")
        if sheet is None or sheet == "":
            name = _first_table_sheet(wb, names)
        elif isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit() and sheet not in names):
            i = int(sheet)
            if not 1 <= i <= len(names):
                raise TableError(f"{p.name} has no sheet {i}; it has {len(names)}: {', '.join(names)}.")
            name = names[i - 1]
        elif sheet in names:
            name = sheet
        else:
            raise TableError(f"{p.name} has no sheet called {sheet!r}; its sheets: {', '.join(names)}.")
        sh = wb.get_sheet_by_name(name)
        rows = [[_cell(v) for v in r] for r in sh.to_python(skip_empty_area=False)]
        for (r0, c0), (r1, c1) in sh.merged_cell_ranges or []:
            top = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else None
            for r in range(r0, min(r1, len(rows) - 1) + 1):
                row = rows[r]
                while len(row) <= c1:
                    row.append(None)
                for c in range(c0, c1 + 1):
                    if row[c] is None:
                        row[c] = top
        return RawSheet(name, rows), names, None
    if suffix not in (".csv", ".txt", ".tsv"):
        raise TableError(f"{p.name} is not a table zjmap reads (CSV, XLSX or XLS).")
    if not p.exists():
        raise TableError(f"{p.name} does not exist.")
    from zjmap.core.userfiles import UserFileError, _decode_text

    raw = p.read_bytes()
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TableError(f"{p.name} is not a text table (it holds binary data).")
    try:
        text, enc, _why = _decode_text(raw, None, p.name)
    except UserFileError as exc:
        raise TableError(str(exc)) from None
    sample = text[:20000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;|")
        delim = dialect.delimiter
    except csv.Error:
        delim = "\t" if sample.count("\t") > sample.count(",") else ","
    rows = [[_cell(v) for v in r] for r in csv.reader(io.StringIO(text), delimiter=delim)]
    return RawSheet(None, rows), [], enc


# ---------------------------------------------------------------------------
# layout


def _is_num(v: Any) -> bool:
    return isinstance(v, float) or (isinstance(v, str) and bool(_NUM_RE.match(v.replace(" ", ""))))


def to_number(v: Any) -> float:
    """A cell as a number; NaN for no data ("—", "…", empty) and for text."""
    if isinstance(v, float):
        return v
    if v is None:
        return math.nan
    s = str(v).replace(" ", "").replace(",", "").replace("，", "")
    if s in NA_MARKS:
        return math.nan
    pct = s.endswith("%")
    try:
        x = float(s[:-1] if pct else s)
    except ValueError:
        return math.nan
    return x


def _nonempty(row: list[Any]) -> int:
    return sum(1 for v in row if v is not None)


def _distinct(row: list[Any]) -> int:
    """Non-empty cells counted once per value: a merged title filled across is one cell."""
    return len({v for v in row if v is not None})


_NOTE_RE = re.compile(r"^[*＊ ]*(注|说明|备注|数据来源|资料来源|来源|source|note)s?\s*[0-9①②③④⑤]*\s*[：:]", re.I)


def _is_note(row: list[Any]) -> bool:
    first = next((v for v in row if v is not None), None)
    return isinstance(first, str) and bool(_NOTE_RE.match(first))


def guess_header(rows: list[list[Any]]) -> int:
    """0-based index of the first header line: the first wide, mostly-text row with numbers below."""
    width = max((_distinct(r) for r in rows[:200]), default=0)
    if width == 0:
        return 0
    need = max(2, math.ceil(0.5 * width)) if width > 1 else 1
    for i, r in enumerate(rows[:MAX_HEADER_SCAN]):
        n = _distinct(r)
        if n < need:
            continue
        text = sum(1 for v in r if isinstance(v, str) and not _is_num(v))
        if text < max(1, 0.6 * n):
            continue
        below = rows[i + 1:i + 12]
        if any(any(_is_num(v) for v in b) for b in below) or not below:
            return i
    return 0


def _header_lines(rows: list[list[Any]], h: int, key_col: int) -> int:
    """How many rows from ``h`` make the header: continuation rows have no numbers
    and nothing in the first column (where the unit names go)."""
    n = 1
    while h + n < len(rows) and n < 4:
        r = rows[h + n]
        if _nonempty(r) == 0 or any(_is_num(v) for v in r):
            break
        first = r[key_col] if key_col < len(r) else None
        if first is not None and first != rows[h][key_col]:
            break  # a unit's name: data starts here (merged "地区" repeats the header's value)
        n += 1
    return n


def _clean_header(s: Any) -> str:
    s = "" if s is None else (f"{s:g}" if isinstance(s, float) else str(s))
    return re.sub(r"\s+", "", s.replace("\r", "").replace("\n", ""))


def _join_header(parts: list[str]) -> str:
    out: list[str] = []
    for p in parts:
        if not p or (out and p == out[-1]):
            continue
        out.append(p)
    name = ""
    for p in out:
        name += p if (not name or p[:1] in "(（[【") else "_" + p
    return name


def read_table(path: str | Path, sheet: str | int | None = None, header_row: int | None = None) -> Table:
    """Read one sheet. ``header_row`` is 1-based (the planner's count); None guesses it."""
    raw, sheets, enc = read_raw(path, sheet)
    rows = raw.rows
    label = Path(path).name + (f" · {raw.name}" if raw.name else "")
    ncol = max((len(r) for r in rows), default=0)
    rows = [r + [None] * (ncol - len(r)) for r in rows]
    # drop columns empty everywhere
    keep = [c for c in range(ncol) if any(r[c] is not None for r in rows)]
    rows = [[r[c] for c in keep] for r in rows]
    if not rows or not keep:
        raise TableError(f"{label}：{NO_ROWS_ZH}（文件或工作表是空的）— {NO_ROWS_EN} ({label} is empty).",
                         kind="no_rows")
    guessed = header_row is None
    if guessed:
        h = guess_header(rows)
    else:
        if not 1 <= header_row <= len(rows):
            raise TableError(f"{label} has {len(rows)} rows; there is no header row {header_row}.")
        h = header_row - 1
    key_col = next((c for c, v in enumerate(rows[h]) if v is not None), 0)
    n = _header_lines(rows, h, key_col)
    head = rows[h:h + n]
    # a blank upper header cell over a sub-header inherits its left neighbour (merged across)
    for i in range(n - 1):
        for c in range(1, len(head[i])):
            if head[i][c] is None and head[i][c - 1] is not None and any(x[c] is not None for x in head[i + 1:]):
                head[i][c] = head[i][c - 1]
    names: list[str] = []
    for c in range(len(keep)):
        name = _join_header([_clean_header(x[c]) for x in head]) or f"列{c + 1}"
        base, k = name, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    data, src, notes = [], [], []
    in_notes = False
    for i in range(h + n, len(rows)):
        r = rows[i]
        if _nonempty(r) == 0:
            continue
        if _is_note(r) or (in_notes and _nonempty(r) == 1):
            in_notes = True
            notes.append(" ".join(_clean_header(v) if not isinstance(v, str) else v for v in r if v is not None))
            continue
        data.append(r)
        src.append(i + 1)
    if not data:
        cols = "、".join(names[:6]) + ("…" if len(names) > 6 else "")
        raise TableError(f"{label}：{NO_ROWS_ZH}，只有表头（第 {h + 1} 行：{cols}）— {NO_ROWS_EN}: "
                         f"only a header (row {h + 1}), nothing below it.", kind="no_rows")
    cols: dict[str, list[Any]] = {name: [r[c] for r in data] for c, name in enumerate(names)}
    frame = pd.DataFrame(index=range(len(data)))
    numeric = []
    for name, vals in cols.items():
        nonempty = [v for v in vals if v is not None and str(v).strip() not in NA_MARKS]
        nums = [v for v in nonempty if _is_num(v)]
        codes = all(isinstance(v, float) and v.is_integer() and len(f"{v:.0f}") in (6, 9, 12) for v in nonempty)
        if nonempty and len(nums) >= 0.8 * len(nonempty) and not codes and not _code_like(nonempty):
            frame[name] = [to_number(v) for v in vals]
            numeric.append(name)
        else:
            frame[name] = [_text(v) for v in vals]
    return Table(path=str(path), sheet=raw.name, sheets=sheets, header_row=h + 1, header_lines=n,
                 header_guessed=guessed, columns=names, frame=frame, source_rows=src, notes=notes,
                 encoding=enc, numeric=numeric)


def _code_like(values: list[Any]) -> bool:
    """Division codes stay text (330102, 330102000000) — never summed or classed."""
    return all(re.fullmatch(r"\d{6}(\d{3}){0,2}", _text(v) or "") for v in values)


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float):
        return f"{v:.0f}" if v.is_integer() else f"{v:g}"
    return str(v)
