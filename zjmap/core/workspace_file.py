"""The ``.zjmap`` file: the workspace values (:class:`Workspace`, its layer
entries, view, bookmarks, the shipped defaults) and their JSON, read and
written safely. :mod:`zjmap.core.workspace` captures a session into these
values and restores it; ``docs/workspace-format.md`` is the format."""

from __future__ import annotations

import copy
import json
import math
import os
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from zjmap.core.layers import LayerStack
from zjmap.core.pgsource import is_remote, safe_text

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
