"""OGC API Features collections and WFS 2.0 feature types as layers.

Read through GDAL's OAPIF and WFS drivers (via pyogrio): they page through
the service (following ``next`` links / ``startIndex``) and send the view's
bbox, so a layer asks only for what the view needs (:meth:`WebLayer.view`).
The collection's description (its CRS list, storage CRS, title) is read
with ``requests`` first: that is where a wrong address, a missing collection
or a server error is caught and put in plain words, with the server's own
``description`` text, instead of GDAL's "HTTP error code : 404".

CRS negotiation: the planner's CRS if the service offers it (otherwise an
error listing what it offers), else the collection's storage CRS when offered
(no reprojection on the server: exact coordinates), else CRS84. Whatever
comes back is reprojected to EPSG:4326 here.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import shapely

from zjmap.core.pgsource import SourceError, is_web
from zjmap.core.remote import ViewResult
from zjmap.core.userfiles import LoadCancelled, LoadedLayer, UserFileError

__all__ = ["WebError", "WebLayer", "open_web", "parse_web", "read_layer", "inspect_source"]

#: Seconds before an unanswered request is given up.
TIMEOUT = 20
#: Features per page asked of the service.
PAGE_SIZE = 1000
#: Most features one view brings.
VIEW_FEATURES = 20_000

_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


class WebError(UserFileError):
    """A web feature service problem in plain words."""


@dataclass(frozen=True)
class WebSource:
    kind: str  # "OAPIF" | "WFS"
    url: str  # OAPIF: the collection's URL; WFS: the service URL
    name: str  # collection id / feature type name
    crs: str | None  # the CRS the planner asked for (``crs=`` in the source), if any
    text: str

    @property
    def where(self) -> str:
        u = urlsplit(self.url)
        return u.netloc or self.url

    @property
    def gdal(self) -> str:
        return f"{self.kind}:{self.url}"

    def gdal_with(self, crs: str | None) -> str:
        """GDAL's WFS takes the CRS to ask for as SRSNAME in the URL, in its URN
        form (with ``EPSG:4326`` GDAL and MapServer disagree on the bbox's axis order)."""
        if self.kind != "WFS" or not crs:
            return self.gdal
        auth, _, code = crs.partition(":")
        sep = "&" if "?" in self.url else "?"
        return f"WFS:{self.url}{sep}SRSNAME=urn:ogc:def:crs:{auth}::{code}"


def parse_web(text: str) -> WebSource:
    s = str(text).strip()
    if not is_web(s):
        raise SourceError(f"{s!r} is not a web feature service (OAPIF:http…/collections/NAME or a WFS URL)")
    low = s.lower()
    kind = "WFS" if low.startswith("wfs:") or "service=wfs" in low else "OAPIF"
    url = re.sub(r"^(?i:oapif|wfs):", "", s)
    u = urlsplit(url)
    q = parse_qsl(u.query, keep_blank_values=True)
    crs = next((v for k, v in q if k.lower() == "crs"), None)
    q = [(k, v) for k, v in q if k.lower() not in ("crs",)]
    if kind == "OAPIF":
        if "/collections/" not in u.path:
            raise SourceError(f"{s!r}: name a collection, e.g. OAPIF:http://host/…/collections/NAME")
        path = u.path.rstrip("/")
        if path.endswith("/items"):
            path = path[: -len("/items")]
        name = path.split("/collections/")[-1].split("/")[0]
        clean = urlunsplit((u.scheme, u.netloc, path, urlencode(q), ""))
    else:
        name = next((v for k, v in q if k.lower() in ("typename", "typenames")), "")
        if not name:
            raise SourceError(f"{s!r}: name the feature type, e.g. …?service=WFS&typeNames=ns:parcels")
        keep = [(k, v) for k, v in q if k.lower() not in ("typename", "typenames", "request", "version", "service")]
        clean = urlunsplit((u.scheme, u.netloc, u.path, urlencode(keep), ""))
    return WebSource(kind, clean, name, crs, s)


def _epsg_of(uri: str) -> str:
    """``http://www.opengis.net/def/crs/EPSG/0/4490`` → ``EPSG:4490``; CRS84 → ``OGC:CRS84``."""
    m = re.search(r"/crs/(\w+)/[^/]+/([\w.]+)$", uri)
    if m:
        return f"{m.group(1)}:{m.group(2)}"
    m = re.search(r"(EPSG|OGC)::?([\w.]+)$", uri, re.I)
    return f"{m.group(1).upper()}:{m.group(2)}" if m else uri


def _http_error(resp: Any, what: str) -> WebError:
    desc = ""
    try:
        j = resp.json()
        desc = j.get("description") or j.get("detail") or j.get("title") or ""
    except Exception:
        desc = (resp.text or "").strip().splitlines()[0][:200] if resp.text else ""
    if resp.status_code == 404:
        return WebError(f"没有该图层 {what}: the service answered 404 (not found){': ' + desc if desc else ''}.")
    return WebError(f"服务出错 {what}: the service answered {resp.status_code}{': ' + desc if desc else ''}.")


@dataclass
class WebLayer:
    src: WebSource
    title: str
    crs_offered: list[str]
    storage_crs: str | None
    request_crs: str  # what is asked of the server ("EPSG:4490", "OGC:CRS84")
    extent: tuple[float, float, float, float] | None
    available: bool = True
    _fields: list[str] = field(default_factory=list)

    def _open_options(self) -> dict[str, str]:
        if self.src.kind == "OAPIF":
            opts = {"PAGE_SIZE": str(PAGE_SIZE)}
            if self.request_crs != "OGC:CRS84":
                opts["CRS"] = self.request_crs
            return opts
        return {}  # GDAL's WFS pages by itself where the server offers it (its config OGR_WFS_PAGE_SIZE)

    def _read(self, bbox: tuple[float, float, float, float] | None, max_features: int | None,
              cancel: Any = None, progress: Any = None):
        """The features, read as GDAL pages through the service: a batch at a
        time (pyogrio's Arrow stream), so ``cancel`` stops the reading before
        the next page and ``progress(n)`` hears of each one."""
        import geopandas as gpd
        import pyarrow as pa
        import pyogrio
        from pyogrio.errors import DataLayerError, DataSourceError

        kw: dict[str, Any] = {}
        if bbox is not None:
            kw["bbox"] = self._bbox_in_layer_crs(bbox)
        layer = self.src.name if self.src.kind == "WFS" else None
        try:
            asked = None if self.request_crs == self.storage_crs else self.request_crs  # the default needs no asking
            with pyogrio.open_arrow(self.src.gdal_with(asked), layer=layer, return_fids=True, use_pyarrow=True,
                                    batch_size=PAGE_SIZE, **kw, **self._open_options()) as (meta, reader):
                batches, n = [], 0
                for batch in reader:
                    if cancel is not None and cancel():
                        raise LoadCancelled("Reading was cancelled.")
                    batches.append(batch)
                    n += batch.num_rows
                    if progress is not None:
                        progress(n)
                    if max_features is not None and n >= max_features:  # enough: no page more is asked for
                        break
                table = pa.Table.from_batches(batches, schema=reader.schema)
                if max_features is not None:
                    table = table.slice(0, int(max_features))
        except (DataSourceError, DataLayerError, RuntimeError, OSError, pa.ArrowException) as exc:
            self.available = False
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WebError(f"无法读取 The web feature service at {self.src.where} did not deliver "
                           f"{self.src.name}: {detail}") from None
        gdf = gpd.GeoDataFrame.from_arrow(table)
        if meta.get("crs"):
            gdf = gdf.set_crs(meta["crs"], allow_override=True)
        fid = meta.get("fid_column") or "OGC_FID"
        if fid in gdf.columns:
            gdf = gdf.set_index(fid)
            gdf.index.name = None
        self.available = True
        if "gml_id" in gdf.columns:  # GDAL's WFS: the feature's gml:id (the index is GDAL's row number)
            gdf = gdf.reset_index(drop=True)
            gdf = gdf.rename(columns={"gml_id": "id"}) if "id" not in gdf.columns else gdf
        else:  # OGC API: the feature's ``id`` is GDAL's FID
            key = "id" if "id" not in gdf.columns else "fid"
            gdf = gdf.rename_axis(key).reset_index() if key not in gdf.columns else gdf.reset_index(drop=True)
        if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
            gdf = gdf.to_crs(4326)
        elif gdf.crs is None:
            gdf = gdf.set_crs(4326)
        return gdf

    def _bbox_in_layer_crs(self, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        code = self.request_crs
        if code in ("OGC:CRS84", "EPSG:4326", "EPSG:4490"):
            return tuple(float(v) for v in bbox)  # type: ignore[return-value]
        from pyproj import Transformer

        t = Transformer.from_crs(4326, code, always_xy=True)
        return tuple(float(v) for v in t.transform_bounds(*bbox))  # type: ignore[return-value]

    def close(self) -> None:
        """Nothing held open between requests (for the same calls as a database layer)."""

    def reconnect(self) -> None:
        self.available = True

    def read(self, bbox: tuple[float, float, float, float] | None = None, max_features: int | None = None,
             cancel: Any = None, progress: Any = None):
        return self._read(bbox, max_features, cancel, progress)

    def view(self, bbox: tuple[float, float, float, float], zoom: float, max_features: int = VIEW_FEATURES,
             cancel: Any = None):
        """What a view needs: the service is asked for the bbox only, up to
        ``max_features``; a view panned away from stops at the next page."""
        t0 = time.perf_counter()
        gdf = self._read(bbox, max_features + 1, cancel)
        more = len(gdf) > max_features
        if more:
            gdf = gdf.iloc[:max_features]
        return ViewResult(gdf, len(gdf) + (1 if more else 0), len(gdf), more, time.perf_counter() - t0)


def open_web(text: str, crs: str | None = None) -> WebLayer:
    """Describe the collection and settle the CRS to ask for; raises :class:`WebError`."""
    try:
        src = parse_web(text)
    except SourceError as exc:
        raise WebError(str(exc)) from None
    wanted = crs or src.crs
    if src.kind == "WFS":
        return _open_wfs(src, wanted)
    import requests

    what = f"collection {src.name} at {src.where}"
    try:
        resp = requests.get(src.url, params={"f": "json"}, timeout=TIMEOUT, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise WebError(f"无法连接服务 Cannot reach the web feature service at {src.where}: is the address right "
                       f"and the server running? ({type(exc).__name__})") from None
    if resp.status_code != 200:
        raise _http_error(resp, what)
    try:
        meta = resp.json()
    except ValueError:
        raise WebError(f"{what} did not answer with JSON: is this an OGC API Features address?") from None
    offered = [_epsg_of(c) for c in (meta.get("crs") or [_CRS84])]
    storage = _epsg_of(meta["storageCrs"]) if meta.get("storageCrs") else None
    if wanted:
        w = wanted.upper().replace("CRS84", "OGC:CRS84").replace("OGC:OGC:", "OGC:")
        if w not in offered:
            raise WebError(f"坐标系不支持 {what} does not offer {wanted}; it offers {', '.join(offered)}.")
        request = w
    elif storage and storage in offered:
        request = storage
    else:
        request = "OGC:CRS84"
    ext = None
    try:
        b = meta["extent"]["spatial"]["bbox"][0]
        ext = (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
    except (KeyError, IndexError, TypeError, ValueError):
        pass
    return WebLayer(src, str(meta.get("title") or src.name), offered, storage, request, ext)


def _wfs_error(text: str) -> str | None:
    """The words of an OWS ExceptionReport, if ``text`` is one."""
    m = re.search(r"<(?:\w+:)?ExceptionText>(.*?)</(?:\w+:)?ExceptionText>", text, re.S)
    return " ".join(m.group(1).split()) if m else None


def _open_wfs(src: WebSource, wanted: str | None) -> WebLayer:
    """GetCapabilities (with ``requests``): the feature type's title, CRS list and extent."""
    import xml.etree.ElementTree as ET

    import requests

    what = f"feature type {src.name} at {src.where}"
    try:
        resp = requests.get(src.url, params={"SERVICE": "WFS", "REQUEST": "GetCapabilities", "VERSION": "2.0.0"},
                            timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise WebError(f"无法连接服务 Cannot reach the web feature service at {src.where}: is the address right "
                       f"and the server running? ({type(exc).__name__})") from None
    words = _wfs_error(resp.text or "")
    if resp.status_code != 200 or words:
        raise WebError(f"服务出错 {what}: the service answered {resp.status_code}"
                       + (f": {words}" if words else "") + ".")
    try:
        root = ET.fromstring(resp.content)
    except ET.ParseError:
        raise WebError(f"{src.where} did not answer with WFS capabilities: is this a WFS address?") from None

    def local(el) -> str:
        return el.tag.rsplit("}", 1)[-1]

    types = [el for el in root.iter() if local(el) == "FeatureType"]
    found = None
    names = []
    for ft in types:
        name = next((c.text or "" for c in ft if local(c) == "Name"), "")
        names.append(name)
        if name == src.name or name.split(":")[-1] == src.name:
            found = (name, ft)
    if found is None:
        raise WebError(f"没有该图层 The WFS at {src.where} has no feature type {src.name} "
                       f"(it has: {', '.join(names) or 'none'}).")
    name, ft = found
    title = next((c.text or name for c in ft if local(c) == "Title"), name)
    offered = [_epsg_of((c.text or "").strip()) for c in ft if local(c) in ("DefaultCRS", "OtherCRS", "DefaultSRS", "OtherSRS")]
    offered = [o for o in offered if o]
    if wanted:
        w = wanted.upper()
        if w not in offered:
            raise WebError(f"坐标系不支持 {what} does not offer {wanted}; it offers {', '.join(offered)}.")
        request = w
    else:
        request = offered[0] if offered else "EPSG:4326"
    ext = None
    box = next((c for c in ft if local(c) == "WGS84BoundingBox"), None)
    if box is not None:
        try:
            lo = [float(v) for v in next(c for c in box if local(c) == "LowerCorner").text.split()]
            hi = [float(v) for v in next(c for c in box if local(c) == "UpperCorner").text.split()]
            ext = (lo[0], lo[1], hi[0], hi[1])
        except (StopIteration, ValueError, AttributeError, IndexError):
            pass
    src = WebSource(src.kind, src.url, name, src.crs, src.text)
    return WebLayer(src, title, offered, offered[0] if offered else None, request, ext)


def read_layer(text: str, progress: Any = None, cancel: Any = None,
               bbox: tuple[float, float, float, float] | None = None, crs: str | None = None) -> LoadedLayer:
    layer = open_web(text, crs=crs)
    what = f"Reading {layer.src.name} from {layer.src.where}"
    if progress is not None:
        progress(0.05, what)
    if cancel is not None and cancel():
        raise LoadCancelled()
    step = None if progress is None else (lambda n: progress(0.05 + 0.85 * n / (n + 5 * PAGE_SIZE), f"{what}: {n:,} features"))
    gdf = layer.read(bbox, cancel=cancel, progress=step)
    if len(gdf) == 0:
        raise WebError(f"{layer.src.name} at {layer.src.where} has no features" + (" in that area." if bbox else "."))
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    gdf = gdf.loc[keep].reset_index(drop=True)
    return LoadedLayer(
        name=layer.src.name, gdf=gdf, driver=layer.src.kind, source_crs=layer.request_crs, crs_guessed=False,
        crs_guess_reason=None, encoding="UTF-8", encoding_reason="the service's JSON", repaired=0,
        skipped=int((~keep).sum()), geometry_types=sorted(set(gdf.geom_type.dropna().unique())),
        fields={c: str(gdf[c].dtype) for c in gdf.columns if c != gdf.geometry.name},
        bounds_wgs84=tuple(float(v) for v in gdf.total_bounds), warnings=[])  # type: ignore[arg-type]


def inspect_source(text: str) -> dict[str, Any]:
    loaded = read_layer(text)
    layer = open_web(text)
    return {
        "path": layer.src.text,
        "driver": layer.src.kind,
        "container": None,
        "layer": layer.src.name,
        "title": layer.title,
        "features": loaded.features,
        "geometry_types": loaded.geometry_types,
        "crs": layer.request_crs,
        "crs_offered": layer.crs_offered,
        "bounds_wgs84": list(loaded.bounds_wgs84),
        "fields": loaded.fields,
        "warnings": [],
    }
