"""Hover: the name of the feature under the cursor, as a tooltip on the map.

The page reports the cursor (throttled); Python hit-tests it with the same
identify as clicks, so a tooltip always names what a click would select.
"""

from __future__ import annotations


class HoverTips:
    def __init__(self, map_view, camera, identifier, stack):
        self.map = map_view
        self.camera = camera
        self.identifier = identifier
        self.stack = stack
        self.current: str | None = None
        map_view.bridge.moved.connect(self.moved)

    def moved(self, lon: float, lat: float) -> None:
        zoom = self.camera.zoom if self.camera.zoom is not None else 7
        hits = self.identifier.at(lon, lat, zoom, tolerance_px=5)
        fid = hits[0].feature.id if hits else None
        if fid == self.current:
            return
        self.current = fid
        if fid is None:
            self.map.call("hover", None)
            return
        f = hits[0].feature
        layer = self.stack.layer(f.layer_id)
        self.map.call("hover", f"{f.name} · {layer.title}", lat, lon)
