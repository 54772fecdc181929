"""Hover: the name of the feature under the cursor, as a tooltip on the map.

The page reports the cursor (throttled); Python hit-tests it with the same
identify as clicks, so a tooltip always names what a click would select.
"""

from __future__ import annotations


class HoverTips:
    def __init__(self, window):
        self.window = window
        self.current: str | None = None
        window.map.bridge.moved.connect(self.moved)

    def moved(self, lon: float, lat: float) -> None:
        w = self.window
        zoom = w.camera.zoom if w.camera.zoom is not None else 7
        hits = w.explorer.identifier.at(lon, lat, zoom, tolerance_px=5)
        fid = hits[0].feature.id if hits else None
        if fid == self.current:
            return
        self.current = fid
        if fid is None:
            w.map.call("hover", None)
            return
        f = hits[0].feature
        layer = w.stack.layer(f.layer_id)
        w.map.call("hover", f"{f.name} · {layer.title}", lat, lon)


def install_hover(window) -> HoverTips:
    window.hover = HoverTips(window)
    return window.hover
