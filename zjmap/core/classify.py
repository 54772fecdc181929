"""Choropleth classes and colours, Qt-free (the GUI, the CLI and analyses share it).

Classes come from mapclassify (PySAL): quantiles, equal interval, Fisher–Jenks
natural breaks, standard deviation around the mean, or breaks given by hand.
Colours are ColorBrewer ramps (palettable); which ramps are offered, which are
colour-blind safe and the defaults are data: ``geodata/styles/ramps.json``.

The style dict :func:`choropleth_style` returns is an ordinary ``graduated``
style of :mod:`zjmap.core.styling` (breaks + one colour per class, upper
bounds inclusive as mapclassify counts) plus what the legend needs: the count
per class and a separate no-data entry.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from zjmap.core.paths import geodata_dir

SCHEMES = {
    "quantiles": ("分位数", "Quantiles"),
    "equal_interval": ("等间距", "Equal interval"),
    "natural_breaks": ("自然断点 (Fisher–Jenks)", "Natural breaks (Fisher–Jenks)"),
    "std_mean": ("标准差", "Standard deviation"),
    "manual": ("手工断点", "Manual breaks"),
}
ALIASES = {"quantile": "quantiles", "equal": "equal_interval", "jenks": "natural_breaks",
           "fisher_jenks": "natural_breaks", "fisherjenks": "natural_breaks", "natural": "natural_breaks",
           "std": "std_mean", "stddev": "std_mean", "user": "manual", "user_defined": "manual"}
NO_DATA_COLOR = "#ffffff"  # white under a grey outline: unlike any class and the base fills
NO_DATA_LABEL = "无数据 no data"
MAX_K = 9


@dataclass(frozen=True)
class Classification:
    scheme: str
    bounds: list[float]  # k+1 numbers: the lowest value, then each class's upper bound
    counts: list[int]
    no_data: int

    @property
    def k(self) -> int:
        return len(self.counts)


@functools.lru_cache(maxsize=1)
def ramps() -> dict:
    with open(geodata_dir() / "styles" / "ramps.json", encoding="utf-8") as f:
        return json.load(f)


def ramp_names(kind: str | None = None) -> list[str]:
    return [r["name"] for r in ramps()["ramps"] if kind is None or r["kind"] == kind]


def scheme_name(s: str) -> str:
    key = s.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    if key not in SCHEMES:
        raise ValueError(f"unknown classification {s!r}; use one of: {', '.join(SCHEMES)}")
    return key


def _numbers(values: Iterable[Any]) -> tuple[np.ndarray, int]:
    out, missing = [], 0
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            missing += 1
            continue
        if math.isfinite(f):
            out.append(f)
        else:
            missing += 1
    return np.asarray(out, dtype=float), missing


def _std_multiples(k: int) -> list[float]:
    half = (k - 1) // 2
    m = [float(i) for i in range(1, half + 1)]
    return [-x for x in reversed(m)] + ([0.0] if k % 2 == 0 else []) + m


def classify(values: Iterable[Any], scheme: str = "quantiles", k: int = 5,
             breaks: list[float] | None = None) -> Classification:
    """Classes of the numbers in ``values`` (others count as no data)."""
    import warnings

    with warnings.catch_warnings():  # "Numba not installed": the pure-Python path is fast enough here
        warnings.simplefilter("ignore", UserWarning)
        return _classify(values, scheme, k, breaks)


def _classify(values, scheme, k, breaks) -> Classification:
    import mapclassify

    scheme = scheme_name(scheme)
    y, missing = _numbers(values)
    if y.size == 0:
        raise ValueError("there are no numbers to classify")
    k = max(1, min(int(k), MAX_K))
    distinct = np.unique(y)
    if scheme == "manual":
        if not breaks:
            raise ValueError("manual breaks need at least one break")
        bins = sorted(float(b) for b in breaks)
        c = mapclassify.UserDefined(y, bins)
    elif distinct.size <= k:
        # fewer distinct values than classes: one class per value
        c = mapclassify.UserDefined(y, list(distinct))
    elif scheme == "quantiles":
        c = mapclassify.Quantiles(y, k=k)
    elif scheme == "equal_interval":
        c = mapclassify.EqualInterval(y, k=k)
    elif scheme == "natural_breaks":
        c = mapclassify.FisherJenks(y, k=k)
    else:
        c = mapclassify.StdMean(y, multiples=_std_multiples(max(k, 2)))
    upper = [float(b) for b in c.bins]
    counts = [int(n) for n in c.counts]
    lo = float(y.min())
    # keep classes with their upper bound at or above the minimum (std-dev classes can lie below it)
    while len(upper) > 1 and upper[0] < lo and counts[0] == 0:
        upper.pop(0)
        counts.pop(0)
    return Classification(scheme, [min(lo, upper[0])] + upper, counts, missing)


def ramp_colors(name: str, k: int) -> list[str]:
    """``k`` ColorBrewer colours of ramp ``name``, light to dark (or one end to the other)."""
    from palettable.colorbrewer import get_map

    info = next((r for r in ramps()["ramps"] if r["name"].lower() == name.lower()), None)
    if info is None:
        raise ValueError(f"unknown colour ramp {name!r}; use one of: {', '.join(ramp_names())}")
    kind = "Sequential" if info["kind"] == "sequential" else "Diverging"
    if k >= 3:
        return [c.lower() for c in get_map(info["name"], kind, min(k, 9 if kind == "Sequential" else 11)).hex_colors]
    three = [c.lower() for c in get_map(info["name"], kind, 3).hex_colors]
    return [three[1]] if k == 1 else [three[0], three[2]]


def default_ramp(scheme: str) -> str:
    r = ramps()
    return r["default_diverging"] if scheme_name(scheme) == "std_mean" else r["default_sequential"]


def choropleth_style(values: Iterable[Any], field: str, scheme: str = "quantiles", k: int = 5,
                     ramp: str | None = None, breaks: list[float] | None = None) -> dict[str, Any]:
    """A ``graduated`` style for :mod:`zjmap.core.styling`, with counts and a no-data entry."""
    scheme = scheme_name(scheme)
    c = classify(values, scheme, k, breaks)
    ramp = ramp or default_ramp(scheme)
    colors = ramp_colors(ramp, c.k)
    return {
        "kind": "graduated", "field": field, "choropleth": True, "scheme": scheme, "k": c.k,
        "manual_breaks": list(breaks) if scheme == "manual" and breaks else None,
        "breaks": c.bounds, "ramp": colors, "ramp_name": ramp, "closed": "right",
        "counts": c.counts, "no_data_count": c.no_data,
        "no_data_color": NO_DATA_COLOR, "no_data_label": NO_DATA_LABEL,
        "legend_title": field,
    }


STYLE_ARG = "choropleth:FIELD[:SCHEME[:K[:RAMP]]]"


@dataclass(frozen=True)
class StyleArg:
    """One ``--style`` of ``zjmap export``: a choropleth of ``field``."""

    field: str
    scheme: str = "quantiles"
    k: int = 5
    ramp: str | None = None  # None: the scheme's colour-blind-safe default


def parse_style_arg(text: str) -> StyleArg:
    """'choropleth:FIELD[:SCHEME[:K[:RAMP]]]' -> StyleArg for the CLI."""
    parts = text.split(":")
    if len(parts) < 2 or parts[0] != "choropleth" or not parts[1] or len(parts) > 5:
        raise ValueError(f"bad --style {text!r}: give {STYLE_ARG} (or LAYER={STYLE_ARG})")
    scheme = scheme_name(parts[2]) if len(parts) > 2 and parts[2] else "quantiles"
    try:
        k = int(parts[3]) if len(parts) > 3 and parts[3] else 5
    except ValueError:
        raise ValueError(f"bad --style {text!r}: K must be a whole number of classes") from None
    if not 1 <= k <= MAX_K:
        raise ValueError(f"bad --style {text!r}: K must be 1 to {MAX_K}")
    ramp = None
    if len(parts) > 4 and parts[4]:
        ramp = next((n for n in ramp_names() if n.lower() == parts[4].lower()), None)
        if ramp is None:
            raise ValueError(f"bad --style {text!r}: unknown colour ramp {parts[4]!r}; use one of: "
                             f"{', '.join(ramp_names())}")
    return StyleArg(parts[1], scheme, k, ramp)


def styles_for_adds(items: list[tuple[str, str]]) -> list[tuple[str, StyleArg | None]]:
    """``zjmap export``'s ``--add``/``--style`` in command-line order -> (path, style) per --add.

    A ``--style`` styles the ``--add`` it follows; ``--style LAYER=SPEC`` names its
    layer (the --add's number from 1, its path, file name or name without suffix),
    wherever it stands. A ``--style`` before any --add styles the last one (the
    form before each layer could have its own). Raises ValueError, one sentence.
    """
    from pathlib import Path

    adds = [v for kind, v in items if kind == "add"]
    out: list[StyleArg | None] = [None] * len(adds)

    def put(i: int, spec: str, arg: str) -> None:
        if out[i] is not None:
            raise ValueError(f"two --style for the same layer {adds[i]!r} (the second: {arg!r})")
        out[i] = parse_style_arg(spec)

    seen = 0
    early: list[str] = []
    for kind, v in items:
        if kind == "add":
            seen += 1
            continue
        head, eq, rest = v.partition("=")
        if eq and not v.startswith("choropleth:"):
            hits = [i for i in range(len(adds)) if head in _layer_names(adds[i], i)]
            if not hits:
                listed = ", ".join(f"{i + 1}: {Path(a).name}" for i, a in enumerate(adds)) or "none"
                raise ValueError(f"--style {v!r} names layer {head!r}, but no --add is called that; the --add layers: {listed}")
            if len(hits) > 1:
                raise ValueError(f"--style {v!r}: {len(hits)} --add layers are called {head!r}; name it by number (1, 2, …)")
            put(hits[0], rest, v)
        elif seen == 0:
            early.append(v)
        else:
            put(seen - 1, v, v)
    if (early or any(kind == "style" for kind, _ in items)) and not adds:
        raise ValueError("--style styles an --add layer: give a layer with --add")
    for v in early:
        put(len(adds) - 1, v, v)
    return list(zip(adds, out))


def _layer_names(path: str, index: int) -> set[str]:
    from pathlib import Path

    p = Path(path)
    return {str(index + 1), path, p.name, p.stem}


def histogram(values: Iterable[Any], bins: int = 30) -> tuple[list[int], list[float]]:
    """(counts, edges) of the numbers, for the style dialog's histogram."""
    y, _ = _numbers(values)
    if y.size == 0:
        return [], []
    counts, edges = np.histogram(y, bins=bins)
    return [int(c) for c in counts], [float(e) for e in edges]


def layer_choropleth(layer, field: str, scheme: str = "quantiles", k: int = 5, ramp: str | None = None,
                     breaks: list[float] | None = None) -> dict[str, Any]:
    """The choropleth style for a MapLayer's numeric ``field`` (its label field kept)."""
    gdf = getattr(getattr(layer, "table", None), "gdf", None)
    if gdf is not None:
        if field not in gdf.columns:
            fields = [c for c in gdf.columns if c != gdf.geometry.name]
            raise ValueError(f"layer {layer.title!r} has no field {field!r}; its fields: {', '.join(map(str, fields))}")
        values = gdf[field].tolist()
    else:
        if not any(field in f.props for f in layer.features):
            fields = sorted({k for f in layer.features[:50] for k in f.props})
            raise ValueError(f"layer {layer.title!r} has no field {field!r}; its fields: {', '.join(fields)}")
        values = [f.props.get(field) for f in layer.features]
    if _numbers(values)[0].size == 0:
        raise ValueError(f"field {field!r} of layer {layer.title!r} has no numbers to classify")
    style = choropleth_style(values, field, scheme, k, ramp, breaks)
    for keep in ("label_field", "label_min_zoom"):
        if keep in (layer.style or {}):
            style[keep] = layer.style[keep]
    return style
