"""Workspaces: a planner's session as a file (``*.zjmap``, JSON) and back.

A workspace holds what the planner built on top of the shipped map: the
layers they added (where the file is, which layer of it, the encoding / CRS
they chose, the title), the order of the whole stack, every layer's
visibility, opacity and style (with its label field), the map view, the
selection and the named extents (bookmarks). The shipped data itself is not
copied: base and seed layers are named by id. The format is documented in
``docs/workspace-format.md``; :data:`VERSION` is the newest this code reads
and the one it writes.

Qt-free. The pieces:

``capture(stack, ...) -> Workspace``
    the session as a :class:`Workspace` value.
``save_workspace(ws, path)`` / ``load_workspace(path) -> Workspace``
    the file. Saving writes a temporary file beside the target, fsyncs it and
    renames it over the target (:func:`atomic_write_text`), so a crash leaves
    the old file or the new one, never half of one; it refuses to overwrite a
    workspace written by a newer zjmap. Loading never writes; every problem
    (truncated, damaged, not a workspace, newer version, bad field) is a
    :class:`WorkspaceError` whose text names the file and says what is wrong.
``read_user_layers(ws)`` + ``apply_workspace(stack, ws, layers, ...)``, or ``restore``
    the session back into a stack. A user layer whose file is missing or
    unreadable becomes a :class:`LayerProblem`; everything else loads.

Paths of user layers are written relative to the workspace file where
possible (a folder of data and its workspace can be moved or shared
together) and absolute otherwise (another drive); the absolute path is kept
as a fallback hint too.
"""

from __future__ import annotations

import copy
import json
import math
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from zjmap.core.layermodel import ReadSource, TableSource
from zjmap.core.layers import LayerStack, MapLayer
from zjmap.core.pgsource import is_remote, safe_text

__all__ = [
    "FORMAT",
    "SUFFIX",
    "VERSION",
    "Bookmark",
    "LayerDefaults",
    "LayerEntry",
    "LayerProblem",
    "LayerSource",
    "RestoreReport",
    "SelectionEntry",
    "ShippedDefaults",
    "View",
    "Workspace",
    "WorkspaceError",
    "apply_workspace",
    "atomic_write_text",
    "capture",
    "dumps",
    "file_version",
    "insert_position",
    "load_workspace",
    "loads",
    "read_user_layer",
    "read_user_layers",
    "restore",
    "save_workspace",
]

FORMAT = "zjmap-workspace"
#: The newest format version this code reads, and the version it writes.
VERSION = 1
SUFFIX = ".zjmap"
KINDS = ("base", "seed", "user")


class WorkspaceError(Exception):
    """A workspace file zjmap cannot use; ``str(exc)`` says which and why.

    ``kind``: "io" (cannot read/write), "truncated", "corrupt" (not JSON or
    not text), "not-workspace", "newer" (a newer format version), "invalid"
    (JSON of the right kind with a bad field)."""

    def __init__(self, message: str, kind: str = "invalid", path: str | os.PathLike[str] | None = None):
        super().__init__(message)
        self.kind = kind
        self.path = None if path is None else str(path)


# ---------------------------------------------------------------------------
# The values


@dataclass(frozen=True)
class View:
    """A map extent in lon/lat (WGS-84) and the zoom it was seen at."""

    west: float
    south: float
    east: float
    north: float
    zoom: float | None = None

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.west, self.south, self.east, self.north)

    @property
    def center(self) -> tuple[float, float]:
        """(lon, lat) of the middle of the extent as a Web-Mercator map shows it."""

        def y(lat: float) -> float:
            lat = max(-85.0, min(85.0, lat))
            return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

        mid = (y(self.south) + y(self.north)) / 2
        lat = math.degrees(2 * math.atan(math.exp(mid)) - math.pi / 2)
        return ((self.west + self.east) / 2, lat)

    @classmethod
    def of(cls, v: "View | Sequence[float] | None") -> "View | None":
        """From a View, (w, s, e, n) or (w, s, e, n, zoom) as the page reports it."""
        if v is None or isinstance(v, View):
            return v
        vals = [float(x) for x in v]
        return cls(*vals[:4], zoom=vals[4] if len(vals) > 4 else None)


@dataclass(frozen=True)
class Bookmark:
    name: str
    view: View


@dataclass
class LayerSource:
    """Where a user layer comes from. ``path`` is absolute (resolved against
    the workspace file when it was stored relative); ``stored`` is the text
    the file had, for messages; ``encoding`` / ``crs`` are the planner's
    overrides (None: detect, as when the file was first added)."""

    path: str
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None
    stored: str | None = None
    join: dict[str, Any] | None = None  # a joined table: JoinSpec.to_json() (path = the table's)


@dataclass
class LayerEntry:
    id: str
    kind: str  # "base" | "seed" | "user"
    visible: bool = True
    opacity: float = 1.0
    style: dict[str, Any] | None = None  # None: the layer's own (shipped) style
    title: str | None = None  # user layers (and renamed shipped layers)
    source: LayerSource | None = None  # user layers only


@dataclass(frozen=True)
class SelectionEntry:
    ids: tuple[str, ...] = ()
    place: str | None = None
    focus: str | None = None
    lonlat: tuple[float, float] | None = None


@dataclass
class Workspace:
    layers: list[LayerEntry] = field(default_factory=list)  # bottom first: the stack's order
    view: View | None = None
    selection: SelectionEntry | None = None
    bookmarks: list[Bookmark] = field(default_factory=list)
    saved_at: str | None = None
    path: Path | None = None  # the file it was read from
    extra: dict[str, Any] = field(default_factory=dict)  # top-level keys this version does not use

    @property
    def order(self) -> list[str]:
        return [e.id for e in self.layers]

    def user_layers(self) -> list[LayerEntry]:
        return [e for e in self.layers if e.kind == "user"]

    def entry(self, layer_id: str) -> LayerEntry:
        for e in self.layers:
            if e.id == layer_id:
                return e
        raise KeyError(layer_id)


# ---------------------------------------------------------------------------
# Shipped defaults: what "unchanged" means for base and seed layers


@dataclass(frozen=True)
class LayerDefaults:
    visible: bool
    opacity: float
    style: dict[str, Any]
    title: str


@dataclass(frozen=True)
class ShippedDefaults:
    """The shipped layers as the app started: their order, visibility,
    opacity, style and title. A workspace stores a shipped layer's style or
    title only when it differs from these, and opening a workspace (or New)
    puts back the defaults for whatever the workspace does not say."""

    order: tuple[str, ...]
    layers: Mapping[str, LayerDefaults]

    @classmethod
    def from_stack(cls, stack: LayerStack) -> "ShippedDefaults":
        shipped = [lyr for lyr in stack if lyr.kind in ("base", "seed")]
        return cls(
            tuple(lyr.id for lyr in shipped),
            {
                lyr.id: LayerDefaults(lyr.visible, lyr.opacity, copy.deepcopy(lyr.style), lyr.title_zh)
                for lyr in shipped
            },
        )


def _same_style(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    def norm(s: Mapping[str, Any] | None) -> str:
        return json.dumps(s or {}, sort_keys=True, ensure_ascii=False, default=_json_default)

    return norm(a) == norm(b)


# ---------------------------------------------------------------------------
# Capture


def capture(
    stack: LayerStack,
    *,
    selection: Any = None,
    view: "View | Sequence[float] | None" = None,
    bookmarks: Iterable[Bookmark] = (),
    defaults: ShippedDefaults | None = None,
    pending: Sequence[LayerEntry] = (),
    previous_order: Sequence[str] = (),
) -> Workspace:
    """The session as a Workspace.

    ``selection``: a :class:`~zjmap.core.selection.SelectionState` (or None).
    ``defaults``: the shipped layers as started; without it the style of
    every base/seed layer is written. ``pending``: user-layer entries not in
    the stack (their file is missing) to keep, placed after the layer that
    preceded them in ``previous_order``. User layers without a file path
    (nothing to reopen them from) are left out; layers of other kinds too.
    """
    entries: list[LayerEntry] = []
    for layer in stack:
        if layer.kind == "user":
            e = _user_entry(layer)
            if e is not None:
                entries.append(e)
        elif layer.kind in ("base", "seed"):
            d = defaults.layers.get(layer.id) if defaults is not None else None
            style = None if d is not None and _same_style(d.style, layer.style) else copy.deepcopy(layer.style)
            title = None if d is not None and d.title == layer.title_zh else (layer.title_zh if d is not None else None)
            entries.append(LayerEntry(layer.id, layer.kind, bool(layer.visible), float(layer.opacity), style, title))
    if pending:
        present = {e.id for e in entries}
        prev = list(previous_order)
        for p in pending:
            if p.id in present:
                continue
            entries.insert(_pending_index(entries, prev, p.id), p)
            present.add(p.id)
    sel = None
    if selection is not None and (selection.ids or selection.place):
        lonlat = tuple(float(x) for x in selection.lonlat) if selection.lonlat else None
        sel = SelectionEntry(tuple(selection.ids), selection.place, selection.focus, lonlat)  # type: ignore[arg-type]
    return Workspace(
        layers=entries,
        view=View.of(view),
        selection=sel,
        bookmarks=list(bookmarks),
        saved_at=None,
    )


def place_by_order(ids: Sequence[str], order: Sequence[str], layer_id: str) -> int:
    """Where ``layer_id`` goes among ``ids`` (bottom first) to honour
    ``order``: just above the nearest layer below it in ``order`` that
    ``ids`` has; at the bottom when none is; on top when ``order`` does not
    know it. The one rule for every "put it back where it was"."""
    order = list(order)
    ids = list(ids)
    if layer_id not in order:
        return len(ids)
    for below in reversed(order[: order.index(layer_id)]):
        if below in ids and below != layer_id:
            return ids.index(below) + 1
    return 0


def _pending_index(entries: list[LayerEntry], previous_order: list[str], layer_id: str) -> int:
    return place_by_order([e.id for e in entries], previous_order, layer_id)


def _user_entry(layer: MapLayer) -> LayerEntry | None:
    src = layer.source
    path = src.path if isinstance(src, ReadSource) else None
    if not path:
        return None
    layer_name = src.layer_arg if src.layer_arg is not None else src.layer
    return LayerEntry(
        id=layer.id,
        kind="user",
        visible=bool(layer.visible),
        opacity=float(layer.opacity),
        style=copy.deepcopy(layer.style),
        title=layer.title_zh or layer.title,
        source=LayerSource(
            path=safe_text(str(path)) if is_remote(path) else os.path.abspath(str(path)),
            layer=None if layer_name is None else str(layer_name),
            encoding=src.encoding_override,
            crs=None if src.crs_override is None else str(src.crs_override),
            join=copy.deepcopy(src.join) if isinstance(src, TableSource) and src.join else None,
        ),
    )


# ---------------------------------------------------------------------------
# To and from JSON


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"{type(o).__name__} cannot be written to a workspace")


def _store_path(path: str, base_dir: Path | None) -> str:
    """Relative to ``base_dir`` (with / separators) where possible, else absolute.
    A database or web source is kept as it is, less any password."""
    if is_remote(path):
        return safe_text(path)
    p = os.path.abspath(path)
    if base_dir is not None:
        try:
            rel = os.path.relpath(p, os.path.abspath(base_dir))
        except ValueError:  # another drive (Windows): no relative path exists
            rel = None
        if rel is not None:
            return PurePath(rel).as_posix()
    return p


def _resolve_path(stored: str, absolute_hint: str | None, base_dir: Path | None) -> str:
    if is_remote(stored):
        return safe_text(stored)
    if os.path.isabs(stored) or base_dir is None:
        p = os.path.abspath(stored)
    else:
        p = os.path.normpath(os.path.join(os.path.abspath(base_dir), *PurePath(stored.replace("\\", "/")).parts))
    if not os.path.exists(p) and absolute_hint and os.path.isabs(absolute_hint) and os.path.exists(absolute_hint):
        return absolute_hint
    return p


def _view_dict(v: View) -> dict[str, Any]:
    d: dict[str, Any] = {"bbox": [v.west, v.south, v.east, v.north]}
    if v.zoom is not None:
        d["zoom"] = v.zoom
    return d


def to_dict(ws: Workspace, base_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The JSON object of ``ws``; user-layer paths relative to ``base_dir``
    (the folder of the workspace file) where possible."""
    bd = Path(base_dir) if base_dir is not None else None
    layers = []
    for e in ws.layers:
        d: dict[str, Any] = {"id": e.id, "kind": e.kind, "visible": bool(e.visible), "opacity": round(float(e.opacity), 4)}
        if e.title is not None:
            d["title"] = e.title
        if e.style is not None:
            d["style"] = e.style
        if e.kind == "user" and e.source is not None:
            s = e.source
            d["source"] = {
                "path": _store_path(s.path, bd),
                "absolute_path": _store_path(s.path, None),
                "layer": s.layer,
                "encoding": s.encoding,
                "crs": s.crs,
            }
            if s.join:
                d["source"]["join"] = {k: v for k, v in s.join.items() if k != "path"}
        layers.append(d)
    out: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": ws.saved_at or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "app": _app_version(),
        "layers": layers,
        "view": _view_dict(ws.view) if ws.view is not None else None,
        "selection": None,
        "bookmarks": [{"name": b.name, **_view_dict(b.view)} for b in ws.bookmarks],
    }
    if ws.selection is not None:
        s = ws.selection
        out["selection"] = {
            "ids": list(s.ids),
            "place": s.place,
            "focus": s.focus,
            "lonlat": list(s.lonlat) if s.lonlat else None,
        }
    return out


def _app_version() -> str:
    try:
        import importlib.metadata

        return "zjmap " + importlib.metadata.version("zjmap")
    except Exception:  # noqa: BLE001 - running from a checkout without metadata
        return "zjmap"


def dumps(ws: Workspace, base_dir: str | os.PathLike[str] | None = None, extra: Mapping[str, Any] | None = None) -> str:
    """The file's text: one top-level key per line and one layer / bookmark
    per line, so a workspace reads (and diffs) well in a text editor."""
    d = to_dict(ws, base_dir)
    if extra:
        for k, v in extra.items():
            d.setdefault(k, v)

    def one(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False, default=_json_default, allow_nan=False)

    lines = []
    for k, v in d.items():
        if isinstance(v, list) and v:
            body = ",\n".join(f"  {one(item)}" for item in v)
            lines.append(f" {one(k)}: [\n{body}\n ]")
        else:
            lines.append(f" {one(k)}: {one(v)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


class _Checker:
    """Field checks whose failures name the file and the field."""

    def __init__(self, name: str, path: str | None):
        self.name = name
        self.path = path

    def fail(self, where: str, what: str) -> WorkspaceError:
        return WorkspaceError(
            f"{self.name} is damaged: {where} {what}. The file was not changed.", "invalid", self.path
        )

    def obj(self, v: Any, where: str) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise self.fail(where, "must be an object")
        return v

    def lst(self, v: Any, where: str) -> list[Any]:
        if not isinstance(v, list):
            raise self.fail(where, "must be a list")
        return v

    def text(self, v: Any, where: str, optional: bool = False) -> str | None:
        if v is None and optional:
            return None
        if not isinstance(v, str) or (not optional and not v):
            raise self.fail(where, "must be text" + ("" if optional else " (not empty)"))
        return v

    def num(self, v: Any, where: str, lo: float | None = None, hi: float | None = None, optional: bool = False) -> float | None:
        if v is None and optional:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.fail(where, "must be a number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f"from {lo:g} to {hi:g}" if lo is not None and hi is not None else (f"at least {lo:g}" if lo is not None else f"at most {hi:g}")
            raise self.fail(where, f"must be a number {rng} (it is {v:g})")
        return float(v)

    def boolean(self, v: Any, where: str) -> bool:
        if not isinstance(v, bool):
            raise self.fail(where, "must be true or false")
        return v

    def view(self, v: Any, where: str) -> View:
        d = self.obj(v, where)
        bbox = self.lst(d.get("bbox"), f"{where}.bbox")
        if len(bbox) != 4:
            raise self.fail(f"{where}.bbox", "must be [west, south, east, north]")
        w, s, e, n = (self.num(x, f"{where}.bbox") for x in bbox)
        assert w is not None and s is not None and e is not None and n is not None
        if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90) or s > n:
            raise self.fail(f"{where}.bbox", "must be [west, south, east, north] in degrees")
        zoom = self.num(d.get("zoom"), f"{where}.zoom", 0, 30, optional=True)
        return View(w, s, e, n, zoom)


def from_dict(
    data: Any,
    base_dir: str | os.PathLike[str] | None = None,
    name: str = "the workspace",
    path: str | os.PathLike[str] | None = None,
) -> Workspace:
    """A Workspace from its JSON object; raises :class:`WorkspaceError`."""
    p = None if path is None else str(path)
    c = _Checker(name, p)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise WorkspaceError(
            f"{name} is not a zjmap workspace (it has no \"format\": \"{FORMAT}\"). The file was not changed.",
            "not-workspace", p,
        )
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise c.fail("\"version\"", "must be a whole number")
    if version > VERSION:
        raise WorkspaceError(
            f"{name} was saved by a newer version of zjmap (workspace format version {version}; "
            f"this zjmap reads versions up to {VERSION}). Open it with a newer zjmap. "
            "zjmap did not change it and will not overwrite it.",
            "newer", p,
        )
    if version < 1:
        raise c.fail("\"version\"", f"must be 1 or more (it is {version})")
    bd = Path(base_dir) if base_dir is not None else None

    layers: list[LayerEntry] = []
    seen: set[str] = set()
    for i, raw in enumerate(c.lst(data.get("layers", []), "\"layers\"")):
        where = f"layers[{i}]"
        d = c.obj(raw, where)
        lid = c.text(d.get("id"), f"{where}.id")
        assert lid is not None
        if lid in seen:
            raise c.fail(f"{where}.id", f"repeats the layer id {lid!r}")
        seen.add(lid)
        kind = d.get("kind")
        if kind not in KINDS:
            raise c.fail(f"{where}.kind", "must be \"base\", \"seed\" or \"user\"")
        visible = c.boolean(d.get("visible", True), f"{where}.visible")
        opacity = c.num(d.get("opacity", 1.0), f"{where}.opacity", 0, 1)
        style = d.get("style")
        if style is not None:
            style = c.obj(style, f"{where}.style")
        title = c.text(d.get("title"), f"{where}.title", optional=True)
        source = None
        if kind == "user":
            s = c.obj(d.get("source"), f"{where}.source")
            stored = c.text(s.get("path"), f"{where}.source.path")
            assert stored is not None
            hint = c.text(s.get("absolute_path"), f"{where}.source.absolute_path", optional=True)
            lay = s.get("layer")
            if lay is not None and not isinstance(lay, (str, int)):
                raise c.fail(f"{where}.source.layer", "must be text")
            source = LayerSource(
                path=_resolve_path(stored, hint, bd),
                layer=None if lay is None else str(lay),
                encoding=c.text(s.get("encoding"), f"{where}.source.encoding", optional=True),
                crs=c.text(None if s.get("crs") is None else str(s.get("crs")), f"{where}.source.crs", optional=True),
                stored=stored,
                join=c.obj(s["join"], f"{where}.source.join") if s.get("join") is not None else None,
            )
        layers.append(LayerEntry(lid, kind, visible, float(opacity or 0.0), style, title, source))

    view = None if data.get("view") is None else c.view(data.get("view"), "\"view\"")

    selection = None
    if data.get("selection") is not None:
        s = c.obj(data["selection"], "\"selection\"")
        ids = c.lst(s.get("ids", []), "selection.ids")
        for j, fid in enumerate(ids):
            c.text(fid, f"selection.ids[{j}]")
        lonlat = s.get("lonlat")
        if lonlat is not None:
            ll = c.lst(lonlat, "selection.lonlat")
            if len(ll) != 2:
                raise c.fail("selection.lonlat", "must be [lon, lat]")
            lonlat = (c.num(ll[0], "selection.lonlat", -180, 180), c.num(ll[1], "selection.lonlat", -90, 90))
        selection = SelectionEntry(
            tuple(ids),
            c.text(s.get("place"), "selection.place", optional=True),
            c.text(s.get("focus"), "selection.focus", optional=True),
            lonlat,  # type: ignore[arg-type]
        )

    bookmarks = []
    for i, raw in enumerate(c.lst(data.get("bookmarks", []), "\"bookmarks\"")):
        d = c.obj(raw, f"bookmarks[{i}]")
        bname = c.text(d.get("name"), f"bookmarks[{i}].name")
        assert bname is not None
        bookmarks.append(Bookmark(bname, c.view(d, f"bookmarks[{i}]")))

    known = {"format", "version", "saved_at", "app", "layers", "view", "selection", "bookmarks"}
    return Workspace(
        layers=layers,
        view=view,
        selection=selection,
        bookmarks=bookmarks,
        saved_at=data.get("saved_at") if isinstance(data.get("saved_at"), str) else None,
        path=Path(path) if path is not None else None,
        extra={k: v for k, v in data.items() if k not in known},
    )


def _parse(raw: bytes, name: str, path: str | None) -> Any:
    """JSON from bytes, telling a truncated file from a damaged one."""
    if not raw.strip():
        raise WorkspaceError(
            f"{name} is empty: the file is truncated (saving or copying it was probably interrupted). "
            "The file was not changed.", "truncated", path,
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end >= len(raw) - 1:
            raise WorkspaceError(
                f"{name} ends in the middle of a character: the file is truncated "
                "(saving or copying it was probably interrupted). The file was not changed.",
                "truncated", path,
            ) from None
        raise WorkspaceError(
            f"{name} is damaged: it is not UTF-8 text (bad byte at offset {exc.start}), "
            "so it is not a zjmap workspace. The file was not changed.", "corrupt", path,
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at_end = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        if at_end:
            raise WorkspaceError(
                f"{name} ends unexpectedly (line {exc.lineno}): the file is truncated "
                "(saving or copying it was probably interrupted). The file was not changed.",
                "truncated", path,
            ) from None
        raise WorkspaceError(
            f"{name} is damaged: it is not valid JSON at line {exc.lineno}, column {exc.colno} "
            f"({exc.msg}). The file was not changed.", "corrupt", path,
        ) from None


def loads(
    text: str | bytes,
    base_dir: str | os.PathLike[str] | None = None,
    name: str = "the workspace",
    path: str | os.PathLike[str] | None = None,
) -> Workspace:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    p = None if path is None else str(path)
    return from_dict(_parse(raw, name, p), base_dir=base_dir, name=name, path=path)


def load_workspace(path: str | os.PathLike[str]) -> Workspace:
    """Read a workspace file (never writes it); raises :class:`WorkspaceError`."""
    p = Path(path)
    name = p.name
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise WorkspaceError(f"{p} does not exist.", "io", p) from None
    except IsADirectoryError:
        raise WorkspaceError(f"{p} is a folder, not a workspace file.", "io", p) from None
    except OSError as exc:
        raise WorkspaceError(f"{name} cannot be read ({exc.strerror or exc}).", "io", p) from None
    return loads(raw, base_dir=p.parent, name=name, path=p.absolute())


def file_version(path: str | os.PathLike[str]) -> int | None:
    """The format version of an existing workspace file; None when the file
    does not exist or is not a readable zjmap workspace."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("format") == FORMAT:
        v = data.get("version")
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def save_workspace(
    ws: Workspace,
    path: str | os.PathLike[str],
    extra: Mapping[str, Any] | None = None,
    relative: bool = True,
) -> Path:
    """Write ``ws`` to ``path`` atomically; user-layer paths relative to the
    file's folder where possible (``relative=False``: all absolute, as the
    autosave writes them). Refuses (WorkspaceError "newer") to overwrite a
    workspace of a newer format version: that file holds things this zjmap
    would drop."""
    p = Path(path).absolute()
    v = file_version(p)
    if v is not None and v > VERSION:
        raise WorkspaceError(
            f"{p.name} was saved by a newer version of zjmap (workspace format version {v}); "
            "zjmap will not overwrite it, because that would lose what the newer version stored. "
            "Save under another name.",
            "newer", p,
        )
    text = dumps(ws, p.parent if relative else None, extra)
    try:
        atomic_write_text(p, text)
    except OSError as exc:
        raise WorkspaceError(f"{p.name} could not be saved ({exc.strerror or exc}).", "io", p) from None
    return p


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a file so that it is always either the old or the new content:
    a temporary file in the same folder, flushed and fsynced, renamed over
    the target (``os.replace`` is atomic on one file system), then the folder
    fsynced so the rename itself survives a power cut (POSIX)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        try:  # mkstemp makes 0600: keep the old file's mode, else an ordinary document's
            os.chmod(tmp, stat.S_IMODE(os.stat(p).st_mode) if p.exists() else 0o644)
        except OSError:
            pass
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if os.name == "posix":
        try:
            dfd = os.open(p.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)


# ---------------------------------------------------------------------------
# Restoring


@dataclass
class LayerProblem:
    """A user layer that could not be restored. ``missing``: its file is not
    there (else it is there but could not be read: ``reason`` says why)."""

    entry: LayerEntry
    reason: str
    missing: bool

    @property
    def path(self) -> str:
        return self.entry.source.path if self.entry.source else ""

    @property
    def title(self) -> str:
        return self.entry.title or self.entry.id


@dataclass
class RestoreReport:
    restored: list[str] = field(default_factory=list)  # user layer ids added
    problems: list[LayerProblem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # shipped layer ids this app does not have

    @property
    def missing(self) -> list[LayerProblem]:
        return [p for p in self.problems if p.missing]


ReadFn = Callable[..., MapLayer]


def read_user_layer(
    entry: LayerEntry,
    path: str | os.PathLike[str] | None = None,
    progress: Callable[[float, str], Any] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> MapLayer:
    """Read a user layer's file the way it was read when added (its layer,
    the planner's encoding / CRS overrides) as a MapLayer with the entry's id,
    title, style, visibility and opacity. ``path`` reads another file instead
    (the planner located a moved file). Raises UserFileError / LoadCancelled.
    Safe on a worker thread."""
    from zjmap.core.userfiles import UserFileError, open_source, read_layer
    from zjmap.core.userlayers import user_layer

    src = entry.source
    if src is None:
        raise ValueError(f"layer {entry.id} has no source file")
    p = str(path if path is not None else src.path)
    if src.join:
        return _read_joined(entry, p)
    want = src.layer
    try:
        loaded = read_layer(p, layer=want, encoding=src.encoding, crs=src.crs, progress=progress, cancel=cancel)
    except UserFileError:
        # a located file may name its one layer differently: take that one
        if want is None or is_remote(p):
            raise
        info = open_source(p)
        usable = [i for i in info.layers if i.problem is None]
        if want in info.layer_names or len(usable) != 1:
            raise
        want = None
        loaded = read_layer(p, encoding=src.encoding, crs=src.crs, progress=progress, cancel=cancel)
    source = ReadSource(p, layer=loaded.name, layer_arg=want, encoding_override=src.encoding, crs_override=src.crs)
    layer = user_layer(loaded, entry.id, title=entry.title, source=source, cancel=cancel)
    if entry.style is not None:
        layer.style = copy.deepcopy(entry.style)  # applied to the styler by the layer itself
    layer.visible = entry.visible
    layer.opacity = entry.opacity
    return layer


def _read_joined(entry: LayerEntry, path: str) -> MapLayer:
    """A joined table, matched again with the saved sheet, header row, key and manual picks."""
    from zjmap.core.joinlayer import rebuild
    from zjmap.core.tables import TableError
    from zjmap.core.userfiles import UserFileError

    assert entry.source is not None and entry.source.join is not None
    try:
        layer = rebuild(entry.source.join, entry.id, entry.title, copy.deepcopy(entry.style), path)
    except (TableError, KeyError, ValueError) as exc:
        raise UserFileError(str(exc.args[0] if exc.args else exc)) from exc
    layer.visible = entry.visible
    layer.opacity = entry.opacity
    return layer


def read_user_layers(
    ws: Workspace,
    read: ReadFn = read_user_layer,
    cancel: Callable[[], bool] | None = None,
    progress: Callable[[int, int, LayerEntry], Any] | None = None,
) -> tuple[dict[str, MapLayer], list[LayerProblem]]:
    """Every user layer of ``ws`` read; a missing or unreadable file is a
    problem and the others still load. LoadCancelled propagates."""
    from zjmap.core.userfiles import LoadCancelled, UserFileError

    layers: dict[str, MapLayer] = {}
    problems: list[LayerProblem] = []
    users = ws.user_layers()
    for i, entry in enumerate(users):
        if progress is not None:
            progress(i, len(users), entry)
        if cancel is not None and cancel():
            raise LoadCancelled("Opening the workspace was cancelled.")
        assert entry.source is not None
        if not is_remote(entry.source.path) and not os.path.exists(entry.source.path):
            problems.append(LayerProblem(entry, f"{entry.source.path} does not exist (moved, renamed or deleted?)", True))
            continue
        try:
            layers[entry.id] = read(entry, cancel=cancel)
        except LoadCancelled:
            raise
        except UserFileError as exc:
            problems.append(LayerProblem(entry, str(exc), False))
        except MemoryError:
            problems.append(LayerProblem(entry, f"{Path(entry.source.path).name} is too big to load: out of memory.", False))
        except Exception as exc:  # noqa: BLE001 - one odd file must not stop the rest
            problems.append(LayerProblem(entry, f"{Path(entry.source.path).name} could not be read ({type(exc).__name__}: {exc}).", False))
    if progress is not None:
        progress(len(users), len(users), None)  # type: ignore[arg-type]
    return layers, problems


def insert_position(stack: LayerStack, order: Sequence[str], layer_id: str) -> int:
    """Where ``layer_id`` goes in ``stack`` to honour ``order`` (bottom
    first): just above the nearest layer below it in ``order`` that the
    stack has; on top when ``order`` does not know it."""
    return place_by_order(stack.ids(), order, layer_id)


def _target_order(current: list[str], saved: list[str]) -> list[str]:
    """``saved`` order for the ids it knows; others keep their place above
    the layer that is below them now."""
    known = [i for i in saved if i in current]
    result = list(known)
    for lid in current:
        if lid not in known:
            result.insert(place_by_order(result, current, lid), lid)
    return result


def apply_workspace(
    stack: LayerStack,
    ws: Workspace,
    layers: Mapping[str, MapLayer],
    *,
    selection: Any = None,
    defaults: ShippedDefaults | None = None,
) -> list[str]:
    """Make ``stack`` show ``ws``: the current user layers go, ``layers``
    (read by :func:`read_user_layers`) come in at their places, base/seed
    layers take the saved visibility/opacity/style/title (the ``defaults``
    where the workspace says nothing), the saved order is applied, and
    ``selection`` (a :class:`~zjmap.core.selection.Selection`) is set to the
    saved one, less features that are gone. Returns shipped ids the workspace
    names but this stack lacks (ignored)."""
    from zjmap.core.selection import SelectionState

    for layer in list(stack):
        if layer.kind == "user":
            stack.remove(layer.id)
    ignored: list[str] = []
    saved = {e.id: e for e in ws.layers}
    if defaults is not None:
        for lid in defaults.order:
            if lid in stack and lid not in saved:
                d = defaults.layers[lid]
                _set_shipped(stack, lid, d.visible, d.opacity, d.style, d.title)
    for e in ws.layers:
        if e.kind == "user":
            continue
        if e.id not in stack:
            ignored.append(e.id)
            continue
        d = defaults.layers.get(e.id) if defaults is not None else None
        style = e.style if e.style is not None else (d.style if d is not None else None)
        title = e.title if e.title is not None else (d.title if d is not None else None)
        _set_shipped(stack, e.id, e.visible, e.opacity, style, title)
    # the saved order for shipped layers first, then each user layer at its place
    order = _target_order(stack.ids(), ws.order)
    _reorder(stack, order)
    for e in ws.layers:
        layer = layers.get(e.id)
        if layer is not None and e.id not in stack:
            stack.add(layer, insert_position(stack, ws.order, e.id))
    _reorder(stack, _target_order(stack.ids(), ws.order))
    if selection is not None:
        s = ws.selection
        if s is None:
            selection.clear()
        else:
            ids = tuple(i for i in s.ids if stack.has_feature(i))
            place = s.place if s.place and stack.has_feature(s.place) else None
            focus = s.focus if s.focus and stack.has_feature(s.focus) else None
            selection.set(SelectionState(ids, place, s.lonlat, focus))
    return ignored


def _set_shipped(stack: LayerStack, lid: str, visible: bool, opacity: float, style: Mapping[str, Any] | None,
                 title: str | None) -> None:
    layer = stack.layer(lid)
    if style is not None and not _same_style(style, layer.style):
        stack.set_style(lid, copy.deepcopy(dict(style)))
    if title is not None and title != layer.title_zh:
        stack.rename(lid, title)
    if abs(layer.opacity - opacity) > 1e-9:
        stack.set_opacity(lid, opacity)
    stack.set_visible(lid, visible)


def _reorder(stack: LayerStack, order: list[str]) -> None:
    for i, lid in enumerate(order):
        if stack.ids()[i] != lid:
            stack.move(lid, i)


def restore(
    stack: LayerStack,
    ws: Workspace,
    *,
    selection: Any = None,
    defaults: ShippedDefaults | None = None,
    read: ReadFn = read_user_layer,
) -> RestoreReport:
    """Read the user layers and apply ``ws`` to ``stack`` in one call (the
    view and bookmarks are the caller's: they live in the window)."""
    layers, problems = read_user_layers(ws, read=read)
    ignored = apply_workspace(stack, ws, layers, selection=selection, defaults=defaults)
    return RestoreReport(list(layers), problems, ignored)
