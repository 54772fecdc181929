"""One entry for layers that live on a server: PostGIS tables and web feature services.

:func:`zjmap.core.userfiles.read_layer` and ``open_source`` hand any
source string :func:`zjmap.core.pgsource.is_remote` recognises to here, so a
``postgresql://…`` or ``OAPIF:…`` source works wherever a file path does
(File → Add layer, workspaces, ``zjmap inspect``, ``zjmap export --add``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zjmap.core.pgsource import SourceError, is_pg
from zjmap.core.userfiles import LayerInfo, LoadedLayer, SourceInfo, UserFileError

__all__ = ["ViewResult", "inspect_source", "open_remote", "read_remote"]


@dataclass
class ViewResult:
    """What one view of a server layer brought back."""

    gdf: Any  # GeoDataFrame in EPSG:4326 (database layers: ``__fid``, the row's key)
    in_view: int  # features in the view (estimated when thinned)
    shown: int
    thinned: bool  # fewer shown than there are (a sample, or the first ones)
    seconds: float


def _err(exc: SourceError) -> UserFileError:
    return UserFileError(str(exc), kind="server")


def read_remote(text: str, progress: Any = None, cancel: Any = None,
                bbox: tuple[float, float, float, float] | None = None) -> LoadedLayer:
    try:
        if is_pg(text):
            from zjmap.core import postgis

            return postgis.read_layer(text, progress=progress, cancel=cancel, bbox=bbox)
        from zjmap.core import webfeatures

        return webfeatures.read_layer(text, progress=progress, cancel=cancel, bbox=bbox)
    except SourceError as exc:
        raise _err(exc) from None


def inspect_source(text: str) -> dict[str, Any]:
    try:
        if is_pg(text):
            from zjmap.core import postgis

            return postgis.inspect_source(text)
        from zjmap.core import webfeatures

        return webfeatures.inspect_source(text)
    except SourceError as exc:
        raise _err(exc) from None


def open_remote(text: str) -> SourceInfo:
    """What the add-layer dialog lists for a server source: the one layer it names."""
    info = inspect_source(text)
    lay = LayerInfo(info["layer"], info["features"], (info.get("geometry_types") or [None])[0], info.get("crs"))
    return SourceInfo(info["path"], info["driver"], None, (lay,), ())
