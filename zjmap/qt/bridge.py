"""The JS→Python half of the page: slots the page calls through QWebChannel."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot


class Bridge(QObject):
    ready = Signal(int, int)  # the page's width, height (CSS pixels)
    clicked = Signal(float, float, float)  # lon, lat, zoom
    moved = Signal(float, float)  # lon, lat
    view_changed = Signal(float, float, float, float, float)  # w, s, e, n, zoom
    start_tiles = Signal(str, str)  # the start tiles' description (JSON), the PNG (base64)

    @Slot(int, int)
    def pageReady(self, width: int, height: int) -> None:  # noqa: N802 (called from JS)
        self.ready.emit(width, height)

    @Slot(float, float, float)
    def mapClicked(self, lon: float, lat: float, zoom: float) -> None:  # noqa: N802
        self.clicked.emit(lon, lat, zoom)

    @Slot(float, float)
    def mouseMoved(self, lon: float, lat: float) -> None:  # noqa: N802
        self.moved.emit(lon, lat)

    @Slot(float, float, float, float, float)
    def viewChanged(self, w: float, s: float, e: float, n: float, zoom: float) -> None:  # noqa: N802
        self.view_changed.emit(w, s, e, n, zoom)

    @Slot(str, str)
    def startTiles(self, meta: str, png: str) -> None:  # noqa: N802
        self.start_tiles.emit(meta, png)
