"""A big point layer kept as coordinates, its shapely points made on first need.

A million points read from a lon/lat table or a GeoPackage are two columns
of numbers. Making a shapely point of each (GEOS objects, ~150 bytes and a
microsecond apiece) took a second and ~200 MB before anything was drawn,
although drawing, identifying a click and the side panel need only the
numbers: the display arrays are computed straight from them
(:meth:`zjmap.core.bigdisplay.BigDisplay.from_points`) and a click is a
distance test on them (:mod:`zjmap.core.identify`). What needs real
geometry (a filter by location, export, the attribute table's GeoDataFrame,
analysis) gets it exactly, made once on first use (:meth:`PointColumn.geoms`).

:class:`PointFrame` is the layer's table in that state (attributes plus a
``PointColumn``) and :class:`FrameSlot` the attribute that holds either it
or a GeoDataFrame and hands out a GeoDataFrame either way, so the code that
reads ``loaded.gdf`` / ``layer.table.gdf`` is unchanged.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

__all__ = ["FrameSlot", "LazyFrame", "PointColumn", "PointFrame", "frame_len", "wkb_points"]


class PointColumn:
    """lon/lat of n points (float64 (n, 2), C order); ``geoms()`` their shapely points."""

    def __init__(self, xy: np.ndarray):
        xy = np.ascontiguousarray(xy, dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"point coordinates must be (n, 2), not {xy.shape}")
        self.xy = xy
        self._geoms: np.ndarray | None = None
        self._lock = threading.Lock()
        #: the rows sorted by longitude and their longitudes (:meth:`build_index`)
        self._x_order: np.ndarray | None = None
        self._x_sorted: np.ndarray | None = None
        self._index_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.xy)

    @property
    def built(self) -> bool:
        return self._geoms is not None

    def geoms(self) -> np.ndarray:
        """Every point as a shapely Point (made once; safe from several threads)."""
        got = self._geoms
        if got is None:
            with self._lock:
                got = self._geoms
                if got is None:
                    import shapely

                    got = self._geoms = shapely.points(self.xy)
        return got

    def geometry(self, k: int) -> Any:
        """Row ``k``'s point, without making the others."""
        if self._geoms is not None:
            return self._geoms[k]
        import shapely

        return shapely.Point(float(self.xy[k, 0]), float(self.xy[k, 1]))

    def total_bounds(self) -> np.ndarray:
        xy = self.xy
        return np.array([xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()]) if len(xy) else np.full(4, np.nan)

    def take(self, rows: np.ndarray) -> "PointColumn":
        out = PointColumn(self.xy[rows])
        if self._geoms is not None:
            out._geoms = self._geoms[rows]
        return out

    # -- where the points are (identify) ---------------------------------------
    @property
    def indexed(self) -> bool:
        return self._x_order is not None

    def build_index(self) -> None:
        """Sort the rows by longitude once (~0.1 s for a million points, made
        in the background right after the layer is shown): a click then looks
        at the thin band of rows near its longitude instead of every row."""
        if self._x_order is not None:
            return
        with self._index_lock:
            if self._x_order is None:
                order = np.argsort(self.xy[:, 0], kind="stable").astype(np.int64 if len(self) > 2**31 - 1 else np.int32)
                self._x_sorted = self.xy[order, 0]
                self._x_order = order  # last: a reader that sees it sees both

    def _x_band(self, west: float, east: float) -> np.ndarray | None:
        """Rows with ``west <= x <= east`` (in longitude order), from the index;
        None before it is built (then the caller scans every row)."""
        order, xs = self._x_order, self._x_sorted
        if order is None or xs is None:
            return None
        lo, hi = int(np.searchsorted(xs, west, side="left")), int(np.searchsorted(xs, east, side="right"))
        return order[lo:hi]

    def in_box(self, west: float, south: float, east: float, north: float) -> np.ndarray:
        """Rows inside the box (edges included), ascending."""
        band = self._x_band(west, east)
        x, y = self.xy[:, 0], self.xy[:, 1]
        if band is None:
            return np.flatnonzero((x >= west) & (x <= east) & (y >= south) & (y <= north))
        yb = y[band]
        return np.sort(band[(yb >= south) & (yb <= north)]).astype(np.int64, copy=False)

    def within(self, lon: float, lat: float, tol: float) -> np.ndarray:
        """Rows within ``tol`` degrees of (lon, lat), nearest first: a vectorized
        distance test on the coordinates, no geometry made."""
        near = self.in_box(lon - tol, lat - tol, lon + tol, lat + tol)
        d2 = (self.xy[near, 0] - lon) ** 2 + (self.xy[near, 1] - lat) ** 2
        keep = d2 <= tol * tol
        near, d2 = near[keep], d2[keep]
        return near[np.argsort(d2, kind="stable")]

    def __getstate__(self) -> dict[str, Any]:
        return {"xy": self.xy}  # the points are made again where they are needed

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["xy"])


class LazyFrame:
    """A layer's attribute table (pandas, no geometry column) and its geometry
    column, whose shapes are made on first need (a :class:`PointColumn`, or a
    :class:`~zjmap.core.lazygeom.RaggedColumn` of lines or polygons);
    :meth:`frame` is the GeoDataFrame of both."""

    def __init__(self, attrs: Any, column: Any, geometry_name: str = "geometry"):
        if len(attrs) != len(column):
            raise ValueError(f"{len(attrs)} rows but {len(column)} geometries")
        self.attrs = attrs
        self.column = column
        self.geometry_name = geometry_name
        self._frame: Any = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.column)

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.attrs.columns]

    @property
    def total_bounds(self) -> np.ndarray:
        return self.column.total_bounds()

    def frame(self) -> Any:
        """The GeoDataFrame (EPSG:4326), made once."""
        got = self._frame
        if got is None:
            with self._lock:
                got = self._frame
                if got is None:
                    import geopandas as gpd

                    geo = gpd.GeoSeries(self.column.geoms(), index=self.attrs.index, crs=4326, name=self.geometry_name)
                    got = self._frame = gpd.GeoDataFrame(self.attrs, geometry=geo, crs=4326)
        return got


class PointFrame(LazyFrame):
    """A point layer's :class:`LazyFrame`: its column is a :class:`PointColumn`."""

    def __init__(self, attrs: Any, points: PointColumn, geometry_name: str = "geometry"):
        if len(attrs) != len(points):
            raise ValueError(f"{len(attrs)} rows but {len(points)} points")
        super().__init__(attrs, points, geometry_name)

    @property
    def points(self) -> PointColumn:
        return self.column


def frame_len(v: Any) -> int:
    return len(v) if v is not None else 0


_MISSING = object()


class FrameSlot:
    """A dataclass field holding a GeoDataFrame or a :class:`LazyFrame`; reading
    it always gives a GeoDataFrame (a LazyFrame's is made on that first read).
    ``raw(obj)`` gives what is held without making anything."""

    def __init__(self, default: Any = _MISSING):
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = "_" + name + "_held"

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:  # the dataclass asks for the default
            if self.default is _MISSING:
                raise AttributeError("no default")
            return self.default
        v = obj.__dict__.get(self.attr)
        return v.frame() if isinstance(v, LazyFrame) else v

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.attr] = value

    def raw(self, obj: Any) -> Any:
        return obj.__dict__.get(self.attr)


def wkb_points(wkb: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The coordinates of an Arrow binary column of 2D WKB points, read
    straight from its buffers (no geometry object per row): ``(xy, ok)``
    with ``xy`` float64 (n, 2) and ``ok`` the rows that hold a point (NULL
    and empty points left out: NaN). None when some row is not a plain
    little-endian 2D point (a Z point, a multipoint…): then use shapely.

    Hand-written because neither shapely nor pyarrow reads WKB into
    coordinates without an object per row; a 2D WKB point is 21 fixed bytes.
    """
    import pyarrow as pa

    arr = getattr(wkb, "storage", wkb)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = getattr(arr, "storage", arr)
    if not pa.types.is_binary(arr.type) and not pa.types.is_large_binary(arr.type):
        return None
    n = len(arr)
    if n == 0:
        return np.empty((0, 2)), np.empty(0, bool)
    bufs = arr.buffers()
    off_dtype = np.int64 if pa.types.is_large_binary(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=off_dtype, count=n + 1, offset=arr.offset * np.dtype(off_dtype).itemsize)
    lengths = np.diff(offsets)
    valid = np.ones(n, bool) if arr.null_count == 0 else arr.is_valid().to_numpy(zero_copy_only=False)
    if not np.all(lengths[valid] == 21):
        return None
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.empty(0, np.uint8)
    m = int(valid.sum())
    if int(offsets[-1] - offsets[0]) != 21 * m:  # NULL rows with bytes: not the layout GDAL writes
        return None
    rows = data[int(offsets[0]):int(offsets[0]) + 21 * m].reshape(m, 21)  # the valid rows, back to back
    if not (np.all(rows[:, 0] == 1) and np.all(rows[:, 1:5].copy().view("<u4").ravel() == 1)):
        return None  # big-endian, or not a 2D point
    xy = np.full((n, 2), np.nan)
    xy[valid] = rows[:, 5:21].copy().view("<f8")
    ok = valid & np.isfinite(xy).all(axis=1)
    return xy, ok
