"""Figures as a chart, drawn with matplotlib inside the panel, CJK labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("QtAgg")
from matplotlib import rcParams  # noqa: E402
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from zjmap.core.cjkfonts import ensure_cjk_font  # noqa: E402
from zjmap.core.describe import ChartSpec  # noqa: E402


def use_cjk_font() -> str | None:
    """Chinese labels in a CJK font, even where matplotlib's font cache
    predates the font (see zjmap.core.cjkfonts)."""
    name = ensure_cjk_font()
    if name is not None and rcParams["font.sans-serif"][:1] != [name]:
        rcParams["font.sans-serif"] = [name, *rcParams["font.sans-serif"]]
        rcParams["font.family"] = "sans-serif"
        rcParams["axes.unicode_minus"] = False
    return name


class ChartCanvas(FigureCanvasQTAgg):
    def __init__(self, parent=None):
        use_cjk_font()
        self.figure = Figure(figsize=(4, 3), dpi=100, layout="constrained")
        super().__init__(self.figure)
        self.setParent(parent)
        self.spec: ChartSpec | None = None

    def show_spec(self, spec: ChartSpec | None) -> None:
        self.spec = spec
        self.figure.clear()
        if spec is None:
            self.draw_idle()
            return
        if spec.kind == "pairs":
            self._pairs(spec)
        else:
            self._bars(spec)
        self.draw_idle()

    def _pairs(self, spec: ChartSpec) -> None:
        """Baseline vs target (or before/after): one small panel per indicator,
        each on its own scale, since indicators mix %, counts and money."""
        cats = spec.categories[:8]
        years = list(spec.series)
        palette = ["#9ecae1", "#3182bd", "#fd8d3c", "#31a354", "#756bb1"]
        axes = self.figure.subplots(len(cats), 1, squeeze=False)[:, 0]
        for ax, cat in zip(axes, cats):
            ys = [(y, spec.series[y][cat]) for y in years if cat in spec.series[y]]
            ax.barh(range(len(ys)), [v for _, v in ys], color=[palette[years.index(y) % len(palette)] for y, _ in ys])
            ax.set_yticks(range(len(ys)))
            ax.set_yticklabels([y for y, _ in ys], fontsize=7)
            ax.invert_yaxis()
            for i, (_, v) in enumerate(ys):
                ax.text(v, i, f" {v:g}", va="center", fontsize=7)
            ax.set_title(cat if len(cat) <= 24 else cat[:23] + "…", fontsize=8, loc="left")
            ax.tick_params(axis="x", labelsize=7)
            ax.margins(x=0.25)
        self.figure.suptitle(spec.title, fontsize=9)

    def _bars(self, spec: ChartSpec) -> None:
        ax = self.figure.add_subplot(111)
        cats = spec.categories
        values = next(iter(spec.series.values()))
        ys = [values.get(c, 0.0) for c in cats]
        colors = ["#d62728" if spec.highlight and c == spec.highlight else "#3182bd" for c in cats]
        ax.barh(range(len(cats)), ys, color=colors)
        ax.set_yticks(range(len(cats)))
        ax.set_yticklabels([c if len(c) <= 16 else c[:15] + "…" for c in cats], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(spec.unit, fontsize=8)
        ax.set_title(spec.title, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
