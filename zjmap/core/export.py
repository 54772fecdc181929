"""Static map export: PNG (georeferenced), SVG and PDF from the LayerStack.

Qt-free and browser-free: matplotlib draws the same layers with the same
styles (``layer.feature_style(f)``) the Leaflet page uses, so a planner's
report shows what the screen showed.

Projection
    Plain longitude/latitude ("equirectangular", EPSG:4326 coordinates) with
    the aspect corrected at the centre latitude φ0 of the map: one degree of
    longitude is drawn cos(φ0) times as wide as one degree of latitude. Over
    Zhejiang (27–31.5°N) this differs from the screen's Web Mercator by at
    most ~2 % in the north–south direction at the map edges. Because pixel
    columns are linear in longitude and rows linear in latitude, a PNG's
    world file (``.pgw``, EPSG:4326 degrees) is exact; a ``.prj`` with WGS-84
    is written beside it too. The scale bar is true at φ0 (and along every
    meridian).

Two layouts
    *view* (``width_px``/``height_px``, e.g. the app's current view): the map
    fills the whole image, ``scale`` 1/2/4 renders 1×/2×/4× the pixels with
    every symbol scaled too (sharp, never upscaled); title, legend, scale
    bar, north arrow and the source line sit on top of the map in boxes.
    *page* (``page="A4"|"A3"``, ``landscape``, ``dpi``): title above the map
    frame, legend beside (landscape) or below (portrait) it, the source line
    at the foot of the page.

The requested bbox is always fully shown; it is widened in one direction so
the map fills its frame without distortion.

Text
    Chinese text uses a CJK font (the first of look.json's fonts installed). PNG: drawn
    by Agg. PDF: the glyphs used are subset from the CJK font into a small
    TrueType font and embedded (``pdf.fonttype`` 42), so the text can be
    searched and copied. SVG: text is drawn as glyph outlines (paths: the
    file needs no font to look right); the title, legend entries and source
    line are also written as SVG metadata (dc:title, dc:subject,
    dc:description) and as ``<!-- comments -->`` beside each text's paths.

One job per module: :mod:`~zjmap.core.export_plan` (request checks and the
plan), :mod:`~zjmap.core.export_paths` (geometry → paths),
:mod:`~zjmap.core.export_fonts` (CJK font subsetting),
:mod:`~zjmap.core.export_text` (wrapping), :mod:`~zjmap.core.export_render`
(drawing); this module runs them and reads/writes world files.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from zjmap.core.layers import LayerStack
from zjmap.core.export_plan import BOUNDARY_SOURCE, CRS_TEXT, CancelFn, ExportCancelled, ExportError, ExportPlan, ExportResult, FORMATS, KM_PER_DEG, PAGE_SIZES_MM, PX, ProgressFn, SEA, WGS84_PRJ, check_out_path, plan_export  # noqa: F401 (re-exported)
from zjmap.core.export_paths import _layer_geoms, plan_geoms  # noqa: F401 (re-exported)
from zjmap.core.export_fonts import _cjk_entry, _embed_fonts_for_pdf  # noqa: F401 (re-exported)
from zjmap.core.export_render import _Renderer  # noqa: F401 (re-exported)

__all__ = [
    "BOUNDARY_SOURCE",
    "CRS_TEXT",
    "ExportCancelled",
    "ExportError",
    "ExportPlan",
    "ExportResult",
    "PAGE_SIZES_MM",
    "export_map",
    "pixel_to_lonlat",
    "lonlat_to_pixel",
    "plan_export",
    "read_world_file",
    "render_plan",
    "warm_up",
]


def render_plan(
    plan: ExportPlan,
    out_path: str | os.PathLike[str],
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> ExportResult:
    """Draw a plan and write the file (plus .pgw/.prj for PNG). Thread-safe: no pyplot."""
    t0 = time.perf_counter()
    path, fmt = check_out_path(out_path, plan.fmt)
    r = _Renderer(plan, progress, cancel)
    # Only what the backends read at save time; everything else is set per
    # artist (other threads may be drawing charts with the global rcParams).
    rc = {"pdf.fonttype": 42, "svg.fonttype": "path", "pdf.compression": 1}  # level 1: 2× faster, ~10 % bigger
    with _rc_keys(rc):
        r.report(0.0, "Preparing")
        plan.fill(r.check)
        r.check()
        r.setup()
        r.layout()
        r.make_axes()
        r.check()
        r.draw_layers()
        r.check()
        r.report(0.62, "Drawing legend")
        strings: list[str] = []
        if plan.furniture:
            strings += r.draw_furniture()
            strings += r.draw_legend()
        else:
            r._src_box_h = 0.0
        r.check()
        source = r.source_text()
        meta_title = plan.title or "zjmap map"
        with tempfile.TemporaryDirectory(prefix="zjmap-export-") as tmp:
            if fmt == "pdf":
                r.report(0.7, "Embedding fonts")
                _embed_fonts_for_pdf(r.fig, tmp)
                metadata = {"Title": meta_title, "Subject": source, "Creator": "zjmap",
                            "Keywords": "; ".join(s for s in strings if s)}
            elif fmt == "svg":
                metadata = {"Title": meta_title, "Description": source, "Creator": "zjmap",
                            "Keywords": [s for s in strings if s], "Coverage": ",".join(f"{v:.6f}" for v in r.extent)}
            else:
                metadata = {"Title": meta_title, "Description": source, "Software": "zjmap"}
            r.check()
            r.writing = f"Writing {path.name}"
            r.report(0.8, r.writing)
            tmp_out = path.with_name(f".{path.stem}.zjmap-tmp.{fmt}")
            try:
                extra = {"pil_kwargs": {"compress_level": 3}} if fmt == "png" else {}
                r.fig.savefig(tmp_out, format=fmt, dpi=r.dpi, facecolor="white", metadata=metadata, **extra)
                r.check()
                os.replace(tmp_out, path)
            except ExportCancelled:
                _unlink(tmp_out)
                raise
            except OSError as exc:
                _unlink(tmp_out)
                raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc
            finally:
                _unlink(tmp_out)
    result = ExportResult(
        path=path, format=fmt, layout=plan.layout, bbox=tuple(r.extent),  # type: ignore[arg-type]
        size_px=r.size_px if fmt == "png" else None, page_mm=r.page_mm,
        layers=[lp.id for lp in plan.layers], seeds=[k for k, _ in plan.seeds], legend=strings,
    )
    if fmt == "png":
        aff = r.affine()
        result.affine = aff
        pgw = path.with_suffix(".pgw")
        prj = path.with_suffix(".prj")
        try:
            pgw.write_text("\n".join(f"{v:.12f}" for v in aff) + "\n", encoding="ascii")  # type: ignore[union-attr]
            prj.write_text(WGS84_PRJ, encoding="ascii")
        except OSError as exc:
            raise ExportError(f"cannot write {pgw}: {exc.strerror or exc}") from exc
        result.world_file, result.prj_file = pgw, prj
    result.seconds = time.perf_counter() - t0
    r.report(1.0, f"Wrote {path.name}")
    return result


_RC_LOCK = threading.RLock()


class _rc_keys:
    """Set a few rcParams for the duration, restoring only those keys."""

    def __init__(self, values: Mapping[str, Any]):
        self.values = dict(values)

    def __enter__(self) -> None:
        import matplotlib

        _RC_LOCK.acquire()
        self.old = {k: matplotlib.rcParams[k] for k in self.values}
        matplotlib.rcParams.update(self.values)

    def __exit__(self, *exc: Any) -> None:
        import matplotlib

        try:
            matplotlib.rcParams.update(self.old)
        finally:
            _RC_LOCK.release()


def _unlink(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass


def export_map(
    stack: LayerStack,
    out_path: str | os.PathLike[str],
    bbox: Sequence[float] | None = None,
    layers: Iterable[str] | None = None,
    width_px: int | None = None,
    height_px: int | None = None,
    page: str | None = None,
    landscape: bool = False,
    dpi: float | None = None,
    title: str | None = None,
    selection_geojson: Mapping[str, Any] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
    scale: float = 1.0,
    fmt: str | None = None,
    catalogue: Any = None,
    furniture: bool = True,
) -> ExportResult:
    """Export the map to PNG (+ .pgw/.prj), SVG or PDF; see the module doc.

    ``layers``: ids to draw (default: the visible ones); visible base layers
    are added unless a base id is listed. ``width_px``/``height_px`` (+
    ``scale``): image of that screen size; otherwise ``page`` ("A4"/"A3",
    default A4) with ``landscape`` and ``dpi`` (PNG pixels per inch; default
    300). Raises ExportError (bad request) or ExportCancelled.
    """
    plan = plan_export(
        stack, out_path, bbox=bbox, layers=layers, width_px=width_px, height_px=height_px,
        page=page, landscape=landscape, dpi=dpi, title=title, selection_geojson=selection_geojson,
        scale=scale, fmt=fmt, catalogue=catalogue, furniture=furniture,
    )
    return render_plan(plan, out_path, progress=progress, cancel=cancel)


def warm_up(stack: Any = None) -> None:
    """Pay the one-off costs of a first export early (e.g. on a worker thread
    when the export dialog opens): matplotlib's Agg and PDF backends, the CJK
    font, and the path arrays of the visible layers (``stack``: anything
    with ``visible_layers()``)."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.backends.backend_pdf  # noqa: F401
    from matplotlib import font_manager

    for bold in (False, True):
        e = _cjk_entry(bold)
        if e is not None:
            font_manager.get_font(e.fname)
    if stack is not None:
        for layer in stack.visible_layers():
            plan_geoms(layer.features)


# ---------------------------------------------------------------------------
# World files


def read_world_file(path: str | os.PathLike[str]) -> tuple[float, float, float, float, float, float]:
    vals = [float(v) for v in Path(path).read_text(encoding="ascii").split()]
    if len(vals) != 6:
        raise ValueError(f"{path}: a world file has six numbers")
    return tuple(vals)  # type: ignore[return-value]


def pixel_to_lonlat(aff: Sequence[float], col: float, row: float) -> tuple[float, float]:
    """Centre of pixel (col, row) → (lon, lat) through world-file numbers."""
    a, d, b, e, c, f = aff
    return (a * col + b * row + c, d * col + e * row + f)


def lonlat_to_pixel(aff: Sequence[float], lon: float, lat: float) -> tuple[int, int]:
    """(lon, lat) → the (col, row) of the pixel containing it (no rotation terms)."""
    a, d, b, e, c, f = aff
    return (int(math.floor((lon - c) / a + 0.5)), int(math.floor((lat - f) / e + 0.5)))
