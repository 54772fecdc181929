"""The measure tool: click points on the map; distance, path length or area,
ellipsoidal (pyproj's Geod via :mod:`zjmap.core.measure`), shown live as
the mouse moves. While it is on, clicks measure instead of selecting.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QToolBar, QWidget

from zjmap.core.measure import path_km, ring_km2


def _fmt_km(km: float) -> str:
    return f"{km * 1000:,.0f} m" if km < 1 else f"{km:,.2f} km"


class MeasureTool:
    """``bar`` is for the window to add (``addToolBar``); while the tool is on,
    the ``map_view``'s clicks measure instead of going to ``on_map_click``;
    off, the ``explorer``'s highlight comes back. ``parent`` owns the action
    and the bar."""

    def __init__(self, parent, map_view, explorer, on_map_click):
        self.map = map_view
        self.explorer = explorer
        self.on_map_click = on_map_click
        self.points: list[tuple[float, float]] = []
        self.cursor: tuple[float, float] | None = None
        self.action = QAction("测量 Measure", parent)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence("Ctrl+M"))
        self.action.toggled.connect(self.set_active)
        self.bar = QToolBar("测量 Measure", parent)
        self.bar.setObjectName("measure_toolbar")
        box = QWidget(self.bar)
        row = QHBoxLayout(box)
        row.setContentsMargins(4, 0, 4, 0)
        self.mode = QComboBox(box)
        self.mode.addItem("距离 / 路径 Distance / path", "path")
        self.mode.addItem("面积 Area", "area")
        self.mode.currentIndexChanged.connect(lambda *_: self.refresh())
        self.label = QLabel("在地图上点击 Click on the map", box)
        self.label.setMinimumWidth(360)
        clear = QPushButton("清除 Clear", box)
        clear.clicked.connect(self.clear)
        done = QPushButton("完成 Done", box)
        done.clicked.connect(lambda: self.action.setChecked(False))
        for w in (QLabel("测量 Measure:", box), self.mode, self.label, clear, done):
            row.addWidget(w)
        self.bar.addWidget(box)
        self.bar.hide()

    @property
    def active(self) -> bool:
        return self.action.isChecked()

    def set_active(self, on: bool) -> None:
        bridge = self.map.bridge
        if on:
            try:
                bridge.clicked.disconnect(self.on_map_click)
            except (RuntimeError, TypeError):
                pass
            bridge.clicked.connect(self.add_point)
            bridge.moved.connect(self.move_to)
            self.bar.show()
            self.clear()
        else:
            for sig, slot in ((bridge.clicked, self.add_point), (bridge.moved, self.move_to)):
                try:
                    sig.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
            bridge.clicked.connect(self.on_map_click)
            self.bar.hide()
            self.points.clear()
            self.map.highlight(self.explorer.highlight_geojson())

    def clear(self) -> None:
        self.points.clear()
        self.cursor = None
        self.refresh()

    def add_point(self, lon: float, lat: float, _zoom: float = 0.0) -> None:
        self.points.append((float(lon), float(lat)))
        self.refresh()

    def move_to(self, lon: float, lat: float) -> None:
        self.cursor = (float(lon), float(lat))
        if self.points:
            self.label.setText(self.figures(with_cursor=True))

    def figures(self, with_cursor: bool = False) -> str:
        pts = list(self.points) + ([self.cursor] if with_cursor and self.cursor and self.points else [])
        if len(pts) < 2:
            return "在地图上点击 Click on the map"
        cum = path_km(pts)
        if self.mode.currentData() == "area":
            if len(pts) < 3:
                return f"周长 perimeter {_fmt_km(cum[-1])} — 再点一点 one more point for an area"
            ring = pts + [pts[0]]
            per = path_km(ring)[-1]
            return f"面积 area {ring_km2(ring):,.3f} km² · 周长 perimeter {_fmt_km(per)}"
        seg = cum[-1] - cum[-2]
        return f"总长 total {_fmt_km(cum[-1])} · 末段 last segment {_fmt_km(seg)} · {len(pts) - 1} 段 segments"

    def geojson(self) -> dict:
        feats = [{"type": "Feature", "properties": {"role": "end"}, "geometry": {"type": "Point", "coordinates": list(p)}}
                 for p in self.points]
        if len(self.points) >= 2:
            coords = [list(p) for p in self.points]
            if self.mode.currentData() == "area" and len(coords) >= 3:
                geom = {"type": "Polygon", "coordinates": [coords + [coords[0]]]}
            else:
                geom = {"type": "LineString", "coordinates": coords}
            feats.insert(0, {"type": "Feature", "properties": {"role": "selected"}, "geometry": geom})
        return {"type": "FeatureCollection", "features": feats}

    def refresh(self) -> None:
        self.label.setText(self.figures())
        if self.active:
            self.map.highlight(self.geojson())
