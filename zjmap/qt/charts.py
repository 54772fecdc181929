"""Figures as a chart, drawn with matplotlib inside the panel, CJK labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("QtAgg")
from matplotlib import font_manager, rcParams  # noqa: E402
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from zjmap.core.describe import ChartSpec  # noqa: E402

CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Source Han Sans SC", "SimHei"]


def use_cjk_font() -> str | None:
    have = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in have:
            rcParams["font.sans-serif"] = [name, *rcParams["font.sans-serif"]]
            rcParams["font.family"] = "sans-serif"
            rcParams["axes.unicode_minus"] = False
            return name
    return None


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
        ax = self.figure.add_subplot(111)
        cats = spec.categories
        n = max(1, len(spec.series))
        width = 0.8 / n
        palette = ["#9ecae1", "#3182bd", "#fd8d3c", "#31a354", "#756bb1"]
        for k, (name, values) in enumerate(spec.series.items()):
            xs = [i + (k - (n - 1) / 2) * width for i in range(len(cats))]
            ys = [values.get(c, 0.0) for c in cats]
            colors = [
                ("#d62728" if spec.highlight and c == spec.highlight else palette[k % len(palette)]) for c in cats
            ]
            ax.barh(xs, ys, height=width, label=name or None, color=colors)
        ax.set_yticks(range(len(cats)))
        ax.set_yticklabels([c if len(c) <= 16 else c[:15] + "…" for c in cats], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(spec.unit, fontsize=8)
        ax.set_title(spec.title, fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        if any(spec.series.keys()):
            ax.legend(fontsize=8)
        self.draw_idle()
