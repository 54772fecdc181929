"""Turn a layer's style spec into per-feature drawing styles and legend rows.

The core decides colours once, so the Leaflet page, the static export and the
legend widget all draw the same thing from the same numbers.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Any, Mapping

DEFAULT_COLOR = "#3b6ea5"
# A qualitative palette for categories a spec leaves without a colour
# (ColorBrewer Set1/Dark2 mix, readable on the light base map).
FALLBACK_PALETTE = [
    "#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00",
    "#a65628", "#f781bf", "#1b9e77", "#d95f02", "#7570b3",
]


@dataclass(frozen=True)
class LegendRow:
    label: str
    color: str
    shape: str  # "polygon" | "point" | "line" | "link"


def category_colors(style: Mapping[str, Any], categories: list[str]) -> dict[str, str]:
    """Colours for every category present: the spec's, then the fallback palette
    (or, if the style gives ``other_color``, that one colour for all the rest)."""
    given = dict(style.get("colors") or {})
    out: dict[str, str] = {}
    other = style.get("other_color")
    if other:
        return {cat: given.get(cat, other) for cat in categories}
    spare = iter(c for c in FALLBACK_PALETTE if c not in given.values())
    for cat in categories:
        if cat in given:
            out[cat] = given[cat]
        else:
            out[cat] = next(spare, DEFAULT_COLOR)
    return out


def _numeric(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:,.4g}"


def _field_values(features_props: Any, field: str) -> list[Any]:
    """Each feature's value of ``field``; a big layer's table
    (:class:`zjmap.core.featurerows.FeatureRows`) answers for the whole column."""
    if hasattr(features_props, "values_of"):
        return features_props.values_of(field)
    return [_lookup(p, field) for p in features_props]


def _distinct(features_props: Any, field: str) -> list[str]:
    """Distinct values of a field as text, in order of first appearance."""
    vals = _field_values(features_props, field)
    try:
        vals = list(dict.fromkeys(vals))  # a million values, a few distinct: dedupe before str()
    except TypeError:  # a list somewhere
        pass
    seen: dict[str, None] = {}
    for c in vals:
        if c is not None:
            seen.setdefault(str(c), None)
    return list(seen)


def _lookup(props: Mapping[str, Any], field: str) -> Any:
    if field in props:
        return props[field]
    return (props.get("attributes") or {}).get(field)


class LayerStyler:
    """Styles the features of one layer: colour by category, size by value."""

    def __init__(self, style: Mapping[str, Any] | None, geometry: str, features_props: Any):
        """``features_props``: each feature's props, or a table with ``values_of(field)``."""
        self.style = dict(style or {})
        self.geometry = geometry
        self.kind = self.style.get("kind", "single")
        self.field = self.style.get("field", "category")
        # graduated colours: class bounds ("breaks", n+1 numbers) and one colour per class ("ramp")
        self.breaks = [float(b) for b in self.style.get("breaks") or []]
        self.ramp = list(self.style.get("ramp") or [])
        self.by_class = (
            self.kind == "graduated" and not self.style.get("colors")
            and len(self.breaks) >= 2 and len(self.ramp) == len(self.breaks) - 1
        )
        # graduated layers may still colour by category when the spec gives colours
        self.by_category = self.kind == "categorical" or bool(self.style.get("colors"))
        cats = _distinct(features_props, self.field) if self.by_category and not self.by_class else []
        self.categories = cats
        if self.kind == "graduated" and self.field == self.style.get("size_field"):
            self.field = "category"
            cats = _distinct(features_props, "category")
            self.categories = cats
        self.colors = category_colors(self.style, cats) if self.by_category else {}
        self.size_field = self.style.get("size_field")
        vals = [
            v for v in (_numeric(x) for x in _field_values(features_props, self.size_field)) if v is not None
        ] if self.size_field else []
        self.size_max = max(vals) if vals else None

    def color_of(self, props: Mapping[str, Any]) -> str:
        if self.by_class:
            v = _numeric(_lookup(props, self.field))
            if v is None:
                return self.style.get("no_data_color", "#d0d0d0")
            if self.style.get("closed") == "right":  # mapclassify's classes: (lower, upper]
                i = bisect.bisect_left(self.breaks, v) - 1
            else:
                i = bisect.bisect_right(self.breaks, v) - 1
            return self.ramp[max(0, min(i, len(self.ramp) - 1))]
        if self.by_category:
            return self.colors.get(str(_lookup(props, self.field)), DEFAULT_COLOR)
        return self.style.get("color", DEFAULT_COLOR)

    def radius_of(self, props: Mapping[str, Any]) -> float:
        """Circle radius in screen pixels; area proportional to value when graduated."""
        if self.size_field and self.size_max:
            v = _numeric(_lookup(props, self.size_field))
            if v is not None and v > 0:
                return 4.0 + 18.0 * math.sqrt(v / self.size_max)
        return 6.0

    @property
    def looks_vary(self) -> bool:
        """Whether features can be drawn differently (else one look serves all)."""
        if self.kind == "base":
            return bool(self.style.get("fill_by"))
        return self.by_category or self.by_class or self._sized

    @property
    def _sized(self) -> bool:
        return self.geometry in ("point", "mixed") and bool(self.size_field)

    def look_key(self, props: Mapping[str, Any]) -> Any:
        """What tells this feature's drawing from another's: the canvas
        renderer sends one style per distinct key, not one per feature."""
        if self.kind == "base":
            fill_by = self.style.get("fill_by") or {}
            return (fill_by.get("values") or {}).get(str(props.get(fill_by.get("field"))))
        if self._sized:
            return (self.color_of(props), round(self.radius_of(props), 1))
        return self.color_of(props)

    def base_style(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """Base boundaries: outline plus an optional fill picked by a field's value."""
        st = self.style
        fill = st.get("fill")
        fill_by = st.get("fill_by")
        if fill_by:
            fill = fill_by.get("values", {}).get(str(props.get(fill_by.get("field"))), fill)
        s: dict[str, Any] = {"color": st.get("color", "#999"), "weight": st.get("weight", 1), "opacity": 1.0}
        if st.get("dashArray"):
            s["dashArray"] = st["dashArray"]
        if fill:
            s.update(fill=True, fillColor=fill, fillOpacity=st.get("fillOpacity", 1.0))
        else:
            s.update(fill=False)
        return s

    def feature_style(self, props: Mapping[str, Any]) -> dict[str, Any]:
        if self.kind == "base":
            return self.base_style(props)
        color = self.color_of(props)
        s: dict[str, Any] = {"color": color, "fillColor": color}
        if self.geometry == "polygon" and self.style.get("choropleth"):
            # a choropleth is read by its fills: opaque, thin neutral outlines
            s.update(color=self.style.get("outline", "#6e6e6e"), weight=0.6, opacity=0.9,
                     fillOpacity=self.polygon_fill_opacity())
        elif self.geometry == "polygon":
            s.update(weight=1.5, fillOpacity=self.polygon_fill_opacity(), opacity=0.9)
            if self.style.get("hatch"):
                s.update(hatch=True, dashArray="4 3")
        elif self.geometry in ("line", "link"):
            s.update(weight=3 if self.geometry == "line" else 2.5, opacity=0.9)
            if self.geometry == "link":
                s.update(dashArray="6 4")
        else:
            s.update(radius=self.radius_of(props), weight=1.5, fillOpacity=0.75, opacity=1.0)
        return s

    def polygon_fill_opacity(self) -> float:
        """How opaque this layer's polygons are filled: the legend's swatches use it too,
        so a choropleth's legend shows the colours the map shows."""
        if self.style.get("choropleth"):
            return float(self.style.get("fill_opacity", 0.85))
        return 0.25 if self.style.get("hatch") else 0.35

    def legend(self) -> list[LegendRow]:
        if self.kind == "base":
            return []
        if self.by_class:
            b = self.breaks
            counts = self.style.get("counts")
            rows = [LegendRow(f"{_fmt(b[i])} – {_fmt(b[i + 1])}" + (f"（{counts[i]}）" if counts else ""),
                              c, self.geometry) for i, c in enumerate(self.ramp)]
            if counts is not None and self.style.get("no_data_count"):
                rows.append(LegendRow(f"{self.style.get('no_data_label', '无数据 no data')}"
                                      f"（{self.style['no_data_count']}）",
                                      self.style.get("no_data_color", "#d0d0d0"), self.geometry))
            return rows
        if self.by_category:
            other = self.style.get("other_color")
            if other:
                given = self.style.get("colors") or {}
                rows = [LegendRow(c, self.colors[c], self.geometry) for c in self.categories if c in given]
                if any(c not in given for c in self.categories):
                    rows.append(LegendRow("其他 other", other, self.geometry))
                return rows
            return [LegendRow(c, self.colors[c], self.geometry) for c in self.categories]
        return [LegendRow(self.style.get("legend_label", ""), self.style.get("color", DEFAULT_COLOR), self.geometry)]
