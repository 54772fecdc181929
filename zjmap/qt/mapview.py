"""The map: a QWebEngineView showing the folium/Leaflet page, offline.

Python→JS goes through :meth:`MapView.call` (the commands of
:mod:`zjmap.page.protocol`); JS→Python through the Bridge (its events). Every request
the page makes passes the interceptor, which blocks anything not local, so
the app works (and is tested to work) with no network.
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtWebChannel import QWebChannel
from PySide6.QtWebEngineCore import (
    QWebEnginePage,
    QWebEngineProfile,
    QWebEngineSettings,
    QWebEngineUrlRequestInterceptor,
)
from PySide6.QtWebEngineWidgets import QWebEngineView

from zjmap.core import starttiles
from zjmap.core.mappage import build_page, layer_payload, save_layers_cache, shipped_layers_cache, shipped_layers_key
from zjmap.page.protocol import Raw, js_call
from zjmap.qt.bridge import Bridge

if TYPE_CHECKING:  # the view is made before the layer model is imported (zjmap/qt/startup.py)
    from zjmap.core.layers import LayerStack, MapLayer

LOCAL_SCHEMES = {"file", "qrc", "data", "blob", "about"}
STALE_READY_MS = 400  # a page that said ready at another size than the view's: taken after this


class LocalOnlyInterceptor(QWebEngineUrlRequestInterceptor):
    """Records every URL the page asks for and blocks the non-local ones."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.requested: list[str] = []
        self.blocked: list[str] = []

    def interceptRequest(self, info) -> None:  # noqa: N802 (Qt override)
        url = info.requestUrl()
        self.requested.append(url.toString())
        if url.scheme() not in LOCAL_SCHEMES:
            self.blocked.append(url.toString())
            info.block(True)


class _Page(QWebEnginePage):
    def javaScriptConsoleMessage(self, level, message, line, source):  # noqa: N802
        if level == QWebEnginePage.JavaScriptConsoleMessageLevel.ErrorMessageLevel:
            self.js_errors.append(f"{source}:{line}: {message}")


class MapView(QWebEngineView):
    ready = Signal()  # the page is on screen and the window around it complete
    shown = Signal()  # the page is on screen at the view's size (the window may still be completing)

    def __init__(self, parent=None, animate: bool = True):
        super().__init__(parent)
        self.animate = animate
        self.is_ready = False
        self.is_shown = False
        self.shipped_early = False  # load_shipped_early started the shipped page
        self._page_gen = 0  # counts the pages loaded (a late check of an old one is dropped)
        self._held = False  # hold_ready: a drawn page waits for release_ready
        self._drawn: tuple[int, int] | None = None  # the size a held page said it was drawn at
        self.sent: set[str] = set()  # layers whose data the page has (others are stubs)
        self._tmp = tempfile.TemporaryDirectory(prefix="zjmap-page-")
        self.page_dir = Path(self._tmp.name)
        self.profile = QWebEngineProfile(self)  # off the record: no disk cache or cookies
        self.interceptor = LocalOnlyInterceptor(self)
        self.profile.setUrlRequestInterceptor(self.interceptor)
        page = _Page(self.profile, self)
        # the profile must outlive its page: as the page's child it is deleted
        # only after the page's own destructor has run
        self.profile.setParent(page)
        page.js_errors = []
        self.setPage(page)
        s = page.settings()
        s.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessFileUrls, True)
        s.setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessRemoteUrls, False)
        self.bridge = Bridge(self)
        self.channel = QWebChannel(self)
        self.channel.registerObject("bridge", self.bridge)
        page.setWebChannel(self.channel)
        self.bridge.ready.connect(self._on_ready)
        self.bridge.start_tiles.connect(self._keep_start_tiles)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        """The page gets the view's new size at once: the widget the web engine
        draws into is otherwise resized one event-loop turn later, and a page
        loaded before its window was shown (zjmap/qt/startup.py) would run its
        first frames at the hidden view's size."""
        super().resizeEvent(event)
        lay = self.layout()
        if lay is not None:
            lay.activate()

    def shutdown(self) -> None:
        """Delete our page (and with it its profile) while Qt is still running:
        a profile released after the app has begun to exit crashes QtWebEngine."""
        page = self.page()
        if isinstance(page, _Page):
            page.setWebChannel(None)
            self.setPage(QWebEnginePage(self))
            page.deleteLater()

    @property
    def js_errors(self) -> list[str]:
        return self.page().js_errors

    def _on_ready(self, width: int, height: int) -> None:
        """The page drew at width × height: ready when that is the view's size.
        A page started before the window was laid out may first report the
        hidden view's size; it fits the start view to the new size and says
        so again (zjmap.js refit). Should the two never agree (a zoom
        factor), the page is taken as it is a moment later."""
        if self.is_ready:
            return
        stale = abs(width - self.width()) > 1 or abs(height - self.height()) > 1
        if self._held:
            self._drawn = (width, height)
            if not stale:
                self._say_shown()
            return
        if stale:
            gen = self._page_gen
            QTimer.singleShot(STALE_READY_MS, lambda: self._take_page(gen))
            return
        self._take_page(self._page_gen)

    def _say_shown(self) -> None:
        if not self.is_shown:
            self.is_shown = True
            self.shown.emit()

    def hold_ready(self) -> None:
        """Not ready, even once the page is drawn, until :meth:`release_ready`
        (the window around the view is being completed)."""
        self._held = True

    def release_ready(self) -> None:
        self._held = False
        drawn, self._drawn = self._drawn, None
        if drawn is not None:
            self._on_ready(*drawn)

    def _take_page(self, gen: int) -> None:
        if self.is_ready or gen != self._page_gen:  # taken already, or another page loads since
            return
        self.call("started")
        self._say_shown()
        self.is_ready = True
        self.ready.emit()

    def load_stack(self, stack: LayerStack, shipped: bool = False) -> Path:
        """`shipped`: the stack is the shipped one as it starts (its page keeps its start tiles)."""
        self.sent = {layer.id for layer in stack if layer.visible}
        page = build_page(self.page_dir, stack, animate=self.animate, keep_start_tiles=shipped)
        self._load_page(page, shipped_early=False)
        return page

    def load_shipped_early(self) -> bool:
        """Start loading the shipped layers from the last run's cache, if it is
        still valid, so the page loads while Python reads the same data."""
        cached = shipped_layers_cache(shipped_layers_key())
        if cached is None:
            return False
        try:
            page = build_page(self.page_dir, None, animate=self.animate, cached=cached, keep_start_tiles=True)
        except OSError:
            return False
        self._load_page(page, shipped_early=True)
        return True

    def _load_page(self, page: Path, shipped_early: bool) -> None:
        """A new page: neither shown nor ready until it says it is drawn."""
        self.is_ready = self.is_shown = False
        self.shipped_early = shipped_early
        self._page_gen += 1
        self._drawn = None
        self.load(QUrl.fromLocalFile(str(page)))

    def load_shipped(self, stack: LayerStack) -> None:
        """Load the shipped stack and keep its layers for the next start."""
        self.load_stack(stack, shipped=True)
        save_layers_cache(self.page_dir, shipped_layers_key())

    def _keep_start_tiles(self, meta: str, png: str) -> None:
        """The shipped page's start tiles, for the next start (zjmap.core.starttiles)."""
        cache = shipped_layers_cache(shipped_layers_key())
        if cache is None:
            return
        try:
            starttiles.save(cache, json.loads(meta), base64.b64decode(png, validate=True))
        except (ValueError, binascii.Error):  # not what the page sends: nothing kept
            pass

    # -- Python → JS ----------------------------------------------------------
    def run_js(self, code: str, callback: Callable[[Any], None] | None = None) -> None:
        if callback is None:
            self.page().runJavaScript(code)
        else:
            self.page().runJavaScript(code, 0, callback)

    def call(self, command: str, *args: Any, callback: Callable[[Any], None] | None = None) -> None:
        """Send one page command (:data:`zjmap.page.protocol.COMMANDS`)."""
        self.run_js(js_call(command, *args), callback)

    def add_layer(self, layer: MapLayer, index: int | None = None) -> None:
        self.sent.add(layer.id)
        self.call("addLayer", Raw(layer_payload(layer)), index)

    def remove_layer(self, layer_id: str) -> None:
        self.call("removeLayer", layer_id)

    def set_visible(self, layer: MapLayer) -> None:
        """Show or hide; a layer first shown gets its data now (pages start with
        stubs for hidden layers, see mappage.layer_stub)."""
        if layer.visible and layer.id not in self.sent:
            self.add_layer_data(layer)
        else:
            self.call("setVisible", layer.id, layer.visible)

    def add_layer_data(self, layer: MapLayer) -> None:
        self.sent.add(layer.id)
        self.call("fillLayer", Raw(layer_payload(layer)))

    def set_opacity(self, layer_id: str, opacity: float) -> None:
        self.call("setOpacity", layer_id, opacity)

    def set_order(self, ids: list[str]) -> None:
        self.call("setOrder", ids)

    def highlight(self, geojson: dict, zoom_to: bool = False) -> None:
        self.call("select", geojson, zoom_to)

    def fit_bounds(self, w: float, s: float, e: float, n: float, max_zoom: int = 14) -> None:
        self.call("fitBounds", w, s, e, n, max_zoom)

    def set_view(self, lat: float, lon: float, zoom: float) -> None:
        self.call("setView", lat, lon, zoom)
