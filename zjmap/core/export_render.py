"""The exporter's renderer: matplotlib draws the plan's layers, selection, labels and the furniture (legend, scale bar, north arrow)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from zjmap.core.look import label_look, load_look
from zjmap.core.export_plan import BOUNDARY_SOURCE, CRS_TEXT, CancelFn, ExportCancelled, ExportPlan, KM_PER_DEG, PAGE_SIZES_MM, PX, ProgressFn, SEA, _LayerPlan, _extent_for
from zjmap.core.export_paths import _to_geoms
from zjmap.core.export_draw import dashes as _dashes, draw_layer, rgba as _rgba
from zjmap.core.export_fonts import _font_family
from zjmap.core.export_text import _text_width_pt, _wrap


@dataclass
class _Drawn:
    poly: Any
    line: Any
    points: np.ndarray | None


class _Renderer:
    def __init__(self, plan: ExportPlan, progress: ProgressFn | None, cancel: CancelFn | None):
        self.plan = plan
        self.progress = progress
        self.cancel = cancel

    def report(self, frac: float, msg: str) -> None:
        if self.progress is not None:
            self.progress(max(0.0, min(1.0, frac)), msg)

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise ExportCancelled("export cancelled")

    #: progress while the file is written: big layers' classes drawn of those made
    ticks = 0
    ticks_done = 0
    writing = ""

    def tick(self) -> None:
        """A big layer's class is about to be drawn (inside savefig): a chance
        to cancel, and the progress bar moves on while a big file is written."""
        self.check()
        self.ticks_done += 1
        if self.ticks:
            self.report(0.8 + 0.15 * min(1.0, self.ticks_done / self.ticks), self.writing)

    # -- figure and layout ----------------------------------------------------
    def setup(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        p = self.plan
        if p.layout == "view":
            self.unit = PX  # points per screen pixel
            self.dpi = 96.0 * p.scale
            wpx, hpx = p.width_px * p.scale, p.height_px * p.scale  # type: ignore[operator]
            self.size_px = (int(round(wpx)), int(round(hpx)))
            # a hair over the pixel count: Agg truncates the figure size to whole pixels
            self.fig_in = ((self.size_px[0] + 1e-6) / self.dpi, (self.size_px[1] + 1e-6) / self.dpi)
            if p.fmt != "png":
                self.fig_in = (p.width_px / 96.0, p.height_px / 96.0)  # type: ignore[operator]
                self.dpi = 96.0
            self.page_mm = None
        else:
            self.unit = PX
            pw, ph = PAGE_SIZES_MM[p.page or "A4"]
            if p.landscape:
                pw, ph = ph, pw
            self.page_mm = (pw, ph)
            self.dpi = p.dpi
            if p.fmt == "png":
                self.size_px = (int(round(pw / 25.4 * p.dpi)), int(round(ph / 25.4 * p.dpi)))
                self.fig_in = ((self.size_px[0] + 1e-6) / self.dpi, (self.size_px[1] + 1e-6) / self.dpi)
            else:
                self.size_px = None
                self.fig_in = (pw / 25.4, ph / 25.4)
        self.fig = Figure(figsize=self.fig_in, dpi=self.dpi)
        self.fig.patch.set_facecolor("white")
        FigureCanvasAgg(self.fig)
        self.family = _font_family()

    def _fig_frac(self, x_pt: float, y_pt: float) -> tuple[float, float]:
        return x_pt / (self.fig_in[0] * 72.0), y_pt / (self.fig_in[1] * 72.0)

    def layout(self) -> None:
        """Place the map frame (in points from the figure's bottom-left)."""
        p = self.plan
        W, H = self.fig_in[0] * 72.0, self.fig_in[1] * 72.0
        self.W, self.H = W, H
        self.legend_sections = self._legend_sections()
        if p.layout == "view":
            self.map_box = (0.0, 0.0, W, H)
            return
        m = 10 / 25.4 * 72  # 10 mm margins
        top = H - m
        if p.title:
            self.title_size = 16.0 if W < 700 else 20.0
            self.title_y = top - self.title_size
            top = self.title_y - 0.6 * self.title_size
        self.src_size = 6.0 if W < 700 else 7.0
        self.src_lines = self._source_lines(W - 2 * m, self.src_size)
        bottom = m + len(self.src_lines) * self.src_size * 1.35 + 4
        has_legend = bool(self.legend_sections)
        if p.landscape:
            legend_w = (W - 2 * m) * 0.26 if has_legend else 0.0
            map_w = W - 2 * m - (legend_w + 8 if has_legend else 0)
            self.map_box = (m, bottom, map_w, top - bottom)
            self.legend_box = (m + map_w + 8, bottom, legend_w, top - bottom)
        else:
            legend_h = 0.0
            if has_legend:
                legend_h = self._legend_height_needed(W - 2 * m, (top - bottom) * 0.36)
            map_h = top - bottom - (legend_h + 8 if has_legend else 0)
            self.map_box = (m, bottom + (legend_h + 8 if has_legend else 0), W - 2 * m, map_h)
            self.legend_box = (m, bottom, W - 2 * m, legend_h)

    # -- map ------------------------------------------------------------------------
    def make_axes(self) -> None:
        x, y, w, h = self.map_box
        fx, fy = self._fig_frac(x, y)
        fw, fh = self._fig_frac(w, h)
        ax = self.fig.add_axes((fx, fy, fw, fh))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor(SEA)
        ax.patch.set_visible(True)
        for sp in ax.spines.values():
            sp.set_visible(self.plan.layout == "page")
            sp.set_linewidth(0.8)
            sp.set_color("#444444")
            sp.set_zorder(50)
        ext = _extent_for(self.plan.bbox, h / w)
        self.extent = ext
        ax.set_xlim(ext[0], ext[2])
        ax.set_ylim(ext[1], ext[3])
        ax.set_aspect("auto")
        ax.set_autoscale_on(False)
        self.ax = ax
        # screen pixels across the frame → the Leaflet zoom this map corresponds to
        css_px = w / PX if self.plan.layout == "page" else float(self.plan.width_px)  # type: ignore[arg-type]
        deg_per_px = (ext[2] - ext[0]) / css_px
        self.zoom = math.log2(360.0 / (256.0 * deg_per_px))
        self.deg_per_pt = (ext[2] - ext[0]) / w

    def draw_layers(self) -> None:
        layers = self.plan.layers
        n = max(1, len(layers))
        for i, lp in enumerate(layers):
            self.check()
            self.report(0.05 + 0.55 * i / n, f"Drawing {lp.title}")
            self._draw_layer(lp, i)
        self._draw_selection()
        self._draw_labels()

    def _draw_layer(self, lp: _LayerPlan, index: int) -> None:
        draw_layer(self, lp, index)

    def _draw_selection(self) -> None:
        from matplotlib.collections import PathCollection

        u = self.unit
        for role, geom in self.plan.selection:
            g = _to_geoms(np.array([geom], dtype=object))
            d = _Drawn(g.poly.path(0), g.line.path(0), g.pts.points(0) if g.pts.counts()[0] else None)
            place = role == "place"
            look = load_look()["selection"]
            color = look["place"]["color"] if place else look["color"]
            lw = float(look["place"]["weight"] if place else look["weight"]) * u
            dash = _dashes(look["place"]["dashArray"], lw, u) if place else "solid"
            if d.poly is not None:
                coll = PathCollection(
                    [d.poly], facecolors=["none" if place else _rgba(look["color"], look["fillOpacity"])],
                    edgecolors=[color], linewidths=[lw], linestyles=[dash], zorder=4.0,
                )
                coll.set_transform(self.ax.transData)
                self.ax.add_collection(coll, autolim=False)
            if d.line is not None:
                coll = PathCollection([d.line], facecolors="none", edgecolors=[color], linewidths=[lw],
                                      linestyles=[dash], zorder=4.0, capstyle="round")
                coll.set_transform(self.ax.transData)
                self.ax.add_collection(coll, autolim=False)
            if d.points is not None:
                self.ax.scatter(d.points[:, 0], d.points[:, 1], s=(2 * look["point"]["radius"] * u) ** 2,
                                facecolors="none", edgecolors=look["color"], linewidths=look["point"]["weight"] * u,
                                zorder=4.1)

    def _draw_labels(self) -> None:
        from matplotlib import patheffects

        u = self.unit
        w, s, e, n = self.extent
        mx = (e - w) * 0.01
        my = (n - s) * 0.01
        # the halo is a separate text drawn as an outline (path effects turn text
        # into paths); the label itself stays real text, searchable in the PDF
        halo = [patheffects.Stroke(linewidth=3 * u, foreground="white")]
        for lp in self.plan.layers:
            # Leaflet snaps to whole zooms: the map shows labels from the zoom it would snap to
            if lp.label_min_zoom is None or math.floor(self.zoom + 0.05) < lp.label_min_zoom or not lp.labels:
                continue
            # the page's label look (geodata/look.json): base labels by layer id, seed labels by kind
            look = label_look(lp.id if lp.kind == "base" else "seed")
            size, colour, bold = float(look["size"]) * u, look["color"], bool(look["bold"])
            dx = float(look.get("dx", 0)) * u * self.deg_per_pt
            ha = "left" if dx else "center"
            for text, lon, lat in lp.labels:
                if not (w + mx <= lon <= e - mx and s + my <= lat <= n - my):
                    continue
                kw = dict(fontsize=size, ha=ha, va="center", fontweight="bold" if bold else "normal",
                          family=self.family, clip_on=True)
                self.ax.text(lon + dx, lat, text, color="white", zorder=4.9, path_effects=halo, **kw)
                self.ax.text(lon + dx, lat, text, color=colour, zorder=5.0, **kw)

    # -- furniture --------------------------------------------------------------------
    def _legend_sections(self) -> list[dict]:
        out = []
        for lp in self.plan.layers:
            if lp.kind == "base" or not lp.legend:
                continue
            rows = [(lab, col, shp) for lab, col, shp in lp.legend]
            out.append({"title": lp.title, "rows": rows, "hatch": lp.hatch, "note": lp.note,
                        "opacity": lp.opacity, "geometry": lp.geometry, "fill_opacity": lp.fill_opacity})
        return out

    def _source_lines(self, width_pt: float, size: float) -> list[str]:
        return _wrap(self.source_text(), size, width_pt, max_lines=4)

    def source_text(self) -> str:
        p = self.plan
        parts = []
        if p.seeds:
            parts.append("资料来源：" + "；".join(f"《{t}》（seeds/{k}）" for k, t in p.seeds))
        if p.user_sources:
            parts.append("用户数据：" + "、".join(p.user_sources))
        parts.append(BOUNDARY_SOURCE)
        lat0 = (self.plan.bbox[1] + self.plan.bbox[3]) / 2
        parts.append(f"坐标系：{CRS_TEXT}，等距圆柱投影（经度按 cos {lat0:.1f}° 缩放）")
        return "。".join(parts) + "。"

    def _legend_rows(self, size: float, col_w: float) -> list[tuple[str, Any, list[str]]]:
        """Flattened legend: ("head"|"row"|"note", section/row data, wrapped lines)."""
        sw = 2.2 * size
        out: list[tuple[str, Any, list[str]]] = []
        for sec in self.legend_sections:
            single = len(sec["rows"]) == 1 and not sec["rows"][0][0]
            if single:
                out.append(("head1", (sec, sec["rows"][0]), _wrap(sec["title"], size, col_w - sw - 4, 2)))
                continue
            out.append(("head", sec, _wrap(sec["title"], size, col_w - 2, 2)))
            for row in sec["rows"]:
                out.append(("row", (sec, row), _wrap(row[0], size * 0.95, col_w - sw - 4, 2)))
            if sec["note"]:
                out.append(("note", sec, _wrap(sec["note"], size * 0.85, col_w - 4, 2)))
        return out

    @staticmethod
    def _row_h(kind: str, lines: list[str], size: float) -> float:
        line_h = size * 1.25
        gap = size * 0.45 if kind in ("head", "head1") else size * 0.3
        return max(1, len(lines)) * line_h + gap

    def _fit_legend(self, width: float, height: float, max_size: float, min_size: float = 4.5):
        """Font size and columns so the legend fits width×height (points)."""
        size = max_size
        while True:
            for ncol in range(1, 6):
                col_w = width / ncol
                if col_w < 14 * size:
                    break
                rows = self._legend_rows(size, col_w - 6)
                cols = self._split_cols(rows, size, height - 2.2 * size, ncol)
                if cols is not None:
                    return size, col_w, cols
            if size <= min_size:
                rows = self._legend_rows(size, width / 3 - 6)
                cols = self._split_cols(rows, size, height - 2.2 * size, 3, force=True)
                return size, width / 3, cols
            size = max(min_size, size - 0.5)

    def _split_cols(self, rows, size, height, ncol, force=False):
        cols: list[list] = [[]]
        used = 0.0
        for r in rows:
            h = self._row_h(r[0], r[2], size)
            if used + h > height and cols[-1]:
                if len(cols) == ncol:
                    if force:
                        cols[-1].append(("more", None, [f"…（另有 {len(rows) - sum(map(len, cols))} 项）"]))
                        return cols
                    return None
                # a layer title never ends a column (it moves on with its rows),
                # a note never starts one (its row moves with it)
                carry = []
                if cols[-1][-1][0] == "head" and len(cols[-1]) > 1:
                    carry = [cols[-1].pop()]
                elif r[0] == "note" and len(cols[-1]) > 1:
                    carry = [cols[-1].pop()]
                    if cols[-1][-1][0] == "head" and len(cols[-1]) > 1:
                        carry.insert(0, cols[-1].pop())
                cols.append(carry)
                used = sum(self._row_h(c[0], c[2], size) for c in carry)
            cols[-1].append(r)
            used += h
        return cols

    def _legend_height_needed(self, width: float, max_h: float) -> float:
        """Height of a legend band across the page: the most columns that still read well."""
        for s in (8.0, 7.5, 7.0, 6.5, 6.0, 5.5, 5.0):
            best = None
            for ncol in range(1, 6):
                col_w = width / ncol
                if col_w < 16 * s:
                    break
                rows = self._legend_rows(s, col_w - 6)
                total = sum(self._row_h(r[0], r[2], s) for r in rows)
                # balanced columns: start at the average height and grow until it splits
                h = total / ncol
                while h <= max_h:
                    cols = self._split_cols(rows, s, h, ncol)
                    if cols is not None:
                        need = max(sum(self._row_h(r[0], r[2], s) for r in c) for c in cols) + 2.2 * s + 8
                        if need <= max_h and (best is None or need < best[0]):
                            best = (need, s, col_w, cols)
                        break
                    h += s
            if best is not None:
                self._band = best
                return best[0]
        self._band = None
        return max_h

    def draw_legend(self) -> list[str]:
        from matplotlib.patches import Rectangle

        if not self.legend_sections:
            return []
        p = self.plan
        if p.layout == "view":
            W, H = self.W, self.H
            max_w, max_h = min(W * 0.42, 330.0), H * 0.62 - 30
            size, col_w, cols = self._fit_legend(max_w - 12, max_h - 8, 7.5, 5.0)
            used_w = sum(self._cols_width(cols, size, col_w))
            used_h = max(sum(self._row_h(r[0], r[2], size) for r in c) for c in cols) + 2.2 * size
            x0 = W - used_w - 12 - 8
            y0 = 26.0 + self._src_box_h
            box = (x0, y0, used_w + 12, used_h + 8)
        else:
            x, y, w, h = self.legend_box
            if not p.landscape and getattr(self, "_band", None):
                _, size, col_w, cols = self._band
            else:
                size, col_w, cols = self._fit_legend(w, h, 9.0, 4.5)
            used_h = max(sum(self._row_h(r[0], r[2], size) for r in c) for c in cols) + 2.2 * size
            box = (x, y + h - used_h - 8, sum(self._cols_width(cols, size, col_w)) + 12, used_h + 8)
        bx, by, bw, bh = box
        fx, fy = self._fig_frac(bx, by)
        fw, fh = self._fig_frac(bw, bh)
        self.fig.patches.append(Rectangle((fx, fy), fw, fh, transform=self.fig.transFigure,
                                          facecolor=(1, 1, 1, 0.88), edgecolor="#999999", linewidth=0.6, zorder=20))
        strings: list[str] = []
        top = by + bh - 5
        self._text(bx + 6, top - 0.9 * size, "图例 Legend", size, bold=True, va="baseline")
        cx = bx + 6
        for col, cw in zip(cols, self._cols_width(cols, size, col_w)):
            y = top - 2.2 * size
            for kind, data, lines in col:
                y = self._legend_entry(kind, data, lines, cx, y, size, strings)
            cx += cw
        return strings

    def _cols_width(self, cols, size, col_w) -> list[float]:
        widths = []
        for col in cols:
            w = 0.0
            for kind, _, lines in col:
                s = size if kind in ("head", "head1", "more") else size * (0.95 if kind == "row" else 0.85)
                indent = 2.2 * size + 4 if kind in ("row", "head1") else 0
                w = max(w, indent + max(_text_width_pt(ln, s) for ln in lines))
            widths.append(min(w + 8, col_w))
        return widths

    def _legend_entry(self, kind, data, lines, x, y, size, strings) -> float:
        """Draw one legend entry; ``strings`` gets its full (unwrapped) text."""
        line_h = size * 1.25
        if kind == "head":
            strings.append(data["title"])
            for i, ln in enumerate(lines):
                self._text(x, y - (i + 0.85) * line_h + 0.1 * size, ln, size, bold=True, va="baseline")
        elif kind == "more":
            self._text(x, y - 0.85 * line_h, lines[0], size * 0.9, va="baseline", colour="#555555")
        elif kind == "note":
            strings.append(data["note"])
            for i, ln in enumerate(lines):
                self._text(x, y - (i + 0.85) * line_h, ln, size * 0.85, va="baseline", colour="#555555")
        else:
            sec, row = data
            strings.append(sec["title"] if kind == "head1" else row[0])
            s = size * (0.95 if kind == "row" else 1.0)
            self._swatch(sec, row, x, y - line_h * 0.5 - 0.5, size)
            for i, ln in enumerate(lines):
                self._text(x + 2.2 * size + 4, y - (i + 0.85) * line_h, ln, s, va="baseline", bold=kind == "head1")
        return y - self._row_h(kind, lines, size)

    def _swatch(self, sec: dict, row: tuple, x: float, yc: float, size: float) -> None:
        from matplotlib.lines import Line2D
        from matplotlib.patches import Circle, Rectangle

        _, colour, shp = row
        op = sec["opacity"]
        w, h = 2.2 * size, 1.1 * size
        tf = self.fig.dpi_scale_trans
        k = 1 / 72.0
        if shp in ("line", "link"):
            lw = (3 if shp == "line" else 2.5) * PX * 0.9
            ln = Line2D([x * k, (x + w) * k], [yc * k, yc * k], transform=tf, color=_rgba(colour, 0.9 * op),
                        linewidth=lw, zorder=21,
                        linestyle=_dashes("6 4", lw, PX * 0.6) if shp == "link" else "solid")
            self.fig.lines.append(ln)
        elif shp == "polygon":
            hatch = sec["hatch"]
            r = Rectangle(((x) * k, (yc - h / 2) * k), w * k, h * k, transform=tf, zorder=21,
                          facecolor="none" if hatch else _rgba(colour, sec["fill_opacity"] * op),
                          edgecolor=_rgba(colour, 0.9 * op), linewidth=1.2 * PX,
                          hatch="/" if hatch else None,
                          linestyle=_dashes("3 2", 1.2 * PX, PX) if hatch else "solid")
            if hatch:
                r.set_hatchcolor(_rgba(colour, op))
                r.set_hatch_linewidth(1.6 * PX)
            self.fig.patches.append(r)
        else:
            rad = min(h * 0.55, 0.5 * size)
            c = Circle(((x + w / 2) * k, yc * k), rad * k, transform=tf, zorder=21,
                       facecolor=_rgba(colour, 0.75 * op), edgecolor=_rgba(colour, op), linewidth=1.0 * PX)
            self.fig.patches.append(c)

    def _text(self, x, y, s, size, bold=False, va="baseline", ha="left", strings=None, colour="#222222", z=22, **kw):
        t = self.fig.text(x / 72.0, y / 72.0, s, transform=self.fig.dpi_scale_trans, fontsize=size,
                          fontweight="bold" if bold else "normal", va=va, ha=ha, color=colour,
                          family=self.family, zorder=z, **kw)
        if strings is not None:
            strings.append(s)
        return t

    def draw_furniture(self) -> list[str]:
        from matplotlib.patches import Polygon, Rectangle

        p = self.plan
        x, y, w, h = self.map_box
        view = p.layout == "view"
        # source line
        self._src_box_h = 0.0
        if view:
            size = 6.5
            lines = _wrap(self.source_text(), size, self.W - 16, max_lines=3)
            hbox = len(lines) * size * 1.3 + 5
            self._src_box_h = hbox
            fx, fy = self._fig_frac(0, 0)
            fw, fh = self._fig_frac(self.W, hbox)
            self.fig.patches.append(Rectangle((0, 0), fw, fh, transform=self.fig.transFigure,
                                              facecolor=(1, 1, 1, 0.8), edgecolor="none", zorder=20))
            for i, ln in enumerate(lines):
                self._text(6, hbox - 3 - (i + 0.85) * size * 1.3, ln, size, colour="#333333")
        else:
            m = 10 / 25.4 * 72
            n_src = len(self.src_lines)
            for i, ln in enumerate(self.src_lines):
                self._text(m, m + (n_src - 1 - i) * self.src_size * 1.35, ln, self.src_size, colour="#333333")
        # title
        if p.title:
            if view:
                size = 13.0
                lines = _wrap(p.title, size, self.W * 0.6, 2)
                tw = max(_text_width_pt(ln, size) for ln in lines) + 14
                th = len(lines) * size * 1.3 + 8
                fx, fy = self._fig_frac(8, self.H - 8 - th)
                fw, fh = self._fig_frac(tw, th)
                self.fig.patches.append(Rectangle((fx, fy), fw, fh, transform=self.fig.transFigure,
                                                  facecolor=(1, 1, 1, 0.88), edgecolor="#999999", linewidth=0.6, zorder=20))
                for i, ln in enumerate(lines):
                    self._text(15, self.H - 8 - 4 - (i + 0.85) * size * 1.3, ln, size, bold=True)
            else:
                self._text(self.W / 2, self.title_y, p.title, self.title_size, bold=True, ha="center")
        # north arrow (top right of the map)
        s = 1.0 if not view else 0.9
        ax_, ay_ = x + w - 22 * s, y + h - 12 * s
        arrow_h, arrow_w = 26 * s, 10 * s
        k = 1 / 72.0
        tf = self.fig.dpi_scale_trans
        left = Polygon([(ax_ * k, (ay_ - arrow_h) * k), (ax_ * k, ay_ * k), ((ax_ - arrow_w / 2) * k, (ay_ - arrow_h - 4 * s) * k)],
                       closed=True, transform=tf, facecolor="white", edgecolor="#222222", linewidth=0.8, zorder=21)
        right = Polygon([(ax_ * k, (ay_ - arrow_h) * k), (ax_ * k, ay_ * k), ((ax_ + arrow_w / 2) * k, (ay_ - arrow_h - 4 * s) * k)],
                        closed=True, transform=tf, facecolor="#222222", edgecolor="#222222", linewidth=0.8, zorder=21)
        self.fig.patches.extend([left, right])
        self._text(ax_, ay_ - arrow_h - 6 * s - 9 * s, "N", 9 * s, bold=True, ha="center", colour="white",
                   path_effects=self._halo(), z=21.5)
        self._text(ax_, ay_ - arrow_h - 6 * s - 9 * s, "N", 9 * s, bold=True, ha="center")
        # scale bar (bottom left of the map), true at the centre latitude
        lat0 = (self.extent[1] + self.extent[3]) / 2
        km_per_pt = self.deg_per_pt * KM_PER_DEG * math.cos(math.radians(lat0))
        target = w * 0.22 * km_per_pt
        nice = [1, 2, 2.5, 5]
        mag = 10 ** math.floor(math.log10(target)) if target > 0 else 1
        length = max(v * mag for v in nice + [10] if v * mag <= target) if target > 0 else 1
        bar = length / km_per_pt
        bx = x + 12
        by = y + 12 + (self._src_box_h if view else 0)
        bh = 4.0
        fx, fy = self._fig_frac(bx - 6, by - 4)
        fw, fh = self._fig_frac(bar + 30, 26)
        self.fig.patches.append(Rectangle((fx, fy), fw, fh, transform=self.fig.transFigure,
                                          facecolor=(1, 1, 1, 0.8), edgecolor="none", zorder=20))
        for i in range(4):
            seg = Rectangle(((bx + i * bar / 4) * k, by * k), bar / 4 * k, bh * k, transform=tf,
                            facecolor="#222222" if i % 2 == 0 else "white", edgecolor="#222222",
                            linewidth=0.6, zorder=21)
            self.fig.patches.append(seg)
        def fmt(v: float) -> str:
            return f"{v:g}"
        self._text(bx, by + bh + 3, "0", 6.5, ha="center")
        self._text(bx + bar / 2, by + bh + 3, fmt(length / 2), 6.5, ha="center")
        self._text(bx + bar, by + bh + 3, f"{fmt(length)} km", 6.5, ha="left")
        return [p.title] if p.title else []

    def _halo(self):
        from matplotlib import patheffects

        return [patheffects.Stroke(linewidth=2.0, foreground="white")]

    # -- output --------------------------------------------------------------
    def affine(self) -> tuple[float, float, float, float, float, float] | None:
        """World-file numbers (A, D, B, E, C, F) for the PNG's pixels, from the axes transform."""
        if self.size_px is None:
            return None
        H = self.size_px[1]
        inv = self.ax.transData.inverted()
        (x0, y0), (x1, _), (_, y1) = inv.transform([(0.5, H - 0.5), (1.5, H - 0.5), (0.5, H - 1.5)])
        return (float(x1 - x0), 0.0, 0.0, float(y1 - y0), float(x0), float(y0))


