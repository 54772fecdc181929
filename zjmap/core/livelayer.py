"""Server layers drawn from what the view needs ("live" layers).

A PostGIS table of more than :data:`LIVE_ROWS` rows, and every OGC API
Features / WFS collection, is not copied into zjmap: the layer holds a handle
(:class:`~zjmap.core.postgis.PgLayer` or :class:`~zjmap.core.webfeatures.WebLayer`)
and, for each view the page reports, asks the server for that view only
(:meth:`view`: spatial index, server-side simplification and thinning). The
features of one view become an ordinary user :class:`MapLayer` (drawn by the
canvas renderer, identified, styled), rebuilt when the view moves.

Qt-free; :mod:`zjmap.qt.serverlayers` runs it on the worker thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from zjmap.core.layermodel import ReadSource
from zjmap.core.layers import MapLayer
from zjmap.core.pgsource import is_pg, safe_text, source_title

__all__ = ["LIVE_ROWS", "Live", "ServerSource", "live_layer", "live_of", "open_live", "read_live", "zoom_for"]

#: PostGIS tables with more rows than this (planner estimate) are live; smaller ones are read whole.
LIVE_ROWS = 50_000


@dataclass
class Live:
    """What a live layer's source holds: the server handle and the view last drawn."""

    handle: Any  # PgLayer | WebLayer
    text: str  # the source string (no password)
    bbox: tuple[float, float, float, float] | None = None
    zoom: float | None = None
    in_view: int = 0
    thinned: bool = False
    seconds: float = 0.0
    error: str | None = None  # set while the server is unavailable

    @property
    def available(self) -> bool:
        return self.error is None

    def note(self) -> str:
        """The layer tree's line about what is shown."""
        if self.error:
            return f"⚠ 不可用 unavailable: {self.error}"
        where = f"{self.handle.src.where}"
        if self.thinned:
            return (f"服务器图层 server layer ({where}): 本视图约 {self.in_view:,} 个要素，显示抽样 "
                    f"about {self.in_view:,} features in view, a sample shown — zoom in for all")
        return f"服务器图层 server layer ({where}): 本视图 {self.in_view:,} 个要素 features in view"


@dataclass
class ServerSource(ReadSource):
    """A live layer's source: read like any (``path`` is the source text, no
    password; saved in workspaces the same way), plus the server handle."""

    live: Live | None = None


def live_of(layer: MapLayer) -> Live | None:
    """The layer's :class:`Live` if it is a live server layer."""
    src = layer.source
    return src.live if isinstance(src, ServerSource) else None


def open_live(text: str, crs: str | None = None, cancel: Any = None) -> Any | None:
    """The server handle when ``text`` should be a live layer, else None (read it whole)."""
    if is_pg(text):
        from zjmap.core import postgis

        handle = postgis.open_layer(text, cancel=cancel)
        if (handle.rows_estimate or 0) < LIVE_ROWS or handle.src.sql is not None:
            handle.close()
            return None
        return handle
    from zjmap.core import webfeatures

    return webfeatures.open_web(text, crs=crs)


def read_live(text: str, layer_id: str, title: str | None, crs: str | None = None, cancel: Any = None) -> MapLayer | None:
    """A saved server layer read back live (its extent first), or None when it is read whole."""
    handle = open_live(text, crs=crs, cancel=cancel)
    return None if handle is None else live_layer(handle, text, layer_id, title=title, cancel=cancel)


def zoom_for(bbox: tuple[float, float, float, float], width_px: int = 1000) -> float:
    """The web-map zoom at which ``bbox`` is about ``width_px`` wide."""
    span = max(float(bbox[2]) - float(bbox[0]), 1e-9)
    return max(0.0, min(22.0, math.log2(360.0 * width_px / 256.0 / span)))


def _initial_view(handle: Any) -> tuple[tuple[float, float, float, float], float]:
    b = handle.bounds() if hasattr(handle, "bounds") else handle.extent
    if b is None:
        b = (118.0, 27.0, 123.0, 31.5)  # Zhejiang
    return tuple(float(v) for v in b), zoom_for(b)  # type: ignore[return-value]


def live_layer(handle: Any, text: str, layer_id: str, *, title: str | None = None, color: str | None = None,
               view: tuple[float, float, float, float, float] | None = None, cancel: Any = None,
               previous: MapLayer | None = None, where: str | None = None) -> MapLayer:
    """The features of one view as a user MapLayer (its :class:`ServerSource` keeps the handle).

    ``view``: (w, s, e, n, zoom); None: the extent of the table (of what its filter keeps). ``previous``:
    the layer this one replaces (its style, title, visibility and opacity are kept).
    A PostGIS handle is given the layer filter (``previous``'s ``style["filter"]``,
    else ``where``) so the server selects only what it keeps.
    """
    from zjmap.core.userfiles import LoadedLayer  # geopandas: not on the start-up path
    from zjmap.core.userlayers import user_layer

    wanted = ((previous.style or {}).get("filter") or None) if previous is not None else where
    if hasattr(handle, "set_filter") and wanted != handle.filter_text:
        handle.set_filter(wanted)  # PgFilterError: the handle keeps the filter it had
    if view is None:
        bbox, zoom = _initial_view(handle)  # the extent of what the filter keeps
    else:
        bbox, zoom = tuple(float(v) for v in view[:4]), float(view[4])  # type: ignore[assignment]
    got = handle.view(bbox, zoom, cancel=cancel)
    gdf = got.gdf
    if "__fid" in gdf.columns:
        gdf = gdf.drop(columns="__fid")
    loaded = LoadedLayer(
        name=handle.src.relation if is_pg(text) else handle.src.name, gdf=gdf,
        driver="PostgreSQL" if is_pg(text) else handle.src.kind,
        source_crs=(f"EPSG:{handle.srid}" if is_pg(text) else handle.request_crs), crs_guessed=False,
        crs_guess_reason=None, encoding="UTF-8", encoding_reason=None, repaired=0, skipped=0,
        geometry_types=sorted(set(gdf.geom_type.dropna().unique())) or ["Polygon"],
        fields={c: str(gdf[c].dtype) for c in gdf.columns if c != gdf.geometry.name},
        bounds_wgs84=tuple(float(v) for v in (gdf.total_bounds if len(gdf) else bbox)),  # type: ignore[arg-type]
        warnings=[],
    )
    clean = safe_text(text)
    live = Live(handle, clean, bbox, zoom, got.in_view, got.thinned, got.seconds)
    layer = user_layer(loaded, layer_id, title=title or (previous.title_zh if previous else source_title(clean)),
                       source=ServerSource(path=clean, layer=loaded.name, live=live), color=color, cancel=cancel,
                       defer_bands=True)
    layer.display.bands_pending = False  # each view is simplified by the server for its zoom
    layer.about.description_zh = live.note()
    if previous is not None:
        layer.style = previous.style
        layer.visible = previous.visible
        layer.opacity = previous.opacity
        layer.title_zh = previous.title_zh
    return layer
