"""The map view as a model: what the page shows (centre, zoom, bounds).

After napari's ``components/camera.py``: the page reports every pan and zoom
(the ``viewChanged`` event of :mod:`zjmap.page.protocol`) into
:meth:`Camera.update`; everything else — hover, the load's "zoom there if
out of view", export, workspaces — reads the camera instead of asking the
page. A second map pane gets its own camera.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

Bounds = tuple[float, float, float, float]  # west, south, east, north (degrees, WGS-84)


@dataclass
class Camera:
    bounds: Bounds | None = None  # None until the page first reports
    zoom: float | None = None
    _listeners: list[Callable[["Camera"], Any]] = field(default_factory=list, repr=False, compare=False)

    @property
    def known(self) -> bool:
        return self.bounds is not None

    @property
    def center(self) -> tuple[float, float] | None:
        """(lon, lat) of the middle of the view."""
        if self.bounds is None:
            return None
        w, s, e, n = self.bounds
        return (w + e) / 2, (s + n) / 2

    def as_tuple(self) -> tuple[float, float, float, float, float] | None:
        """(w, s, e, n, zoom), the shape the window used to keep."""
        if self.bounds is None or self.zoom is None:
            return None
        return (*self.bounds, self.zoom)

    def contains_any(self, bounds: Bounds) -> bool:
        """Whether ``bounds`` overlaps the view (False while the view is not known)."""
        if self.bounds is None:
            return False
        w, s, e, n = bounds
        vw, vs, ve, vn = self.bounds
        return w <= ve and e >= vw and s <= vn and n >= vs

    def update(self, w: float, s: float, e: float, n: float, zoom: float) -> None:
        """What the page reports after a pan or zoom."""
        self.bounds = (float(w), float(s), float(e), float(n))
        self.zoom = float(zoom)
        for fn in list(self._listeners):
            fn(self)

    def subscribe(self, fn: Callable[["Camera"], Any]) -> None:
        self._listeners.append(fn)
