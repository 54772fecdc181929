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

The values and the file itself (JSON, safe writing) are in
:mod:`zjmap.core.workspace_file`; this module captures and restores.

Paths of user layers are written relative to the workspace file where
possible (a folder of data and its workspace can be moved or shared
together) and absolute otherwise (another drive); the absolute path is kept
as a fallback hint too.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zjmap.core.layermodel import ReadSource, TableSource
from zjmap.core.layers import LayerStack, MapLayer
from zjmap.core.pgsource import is_remote, safe_text
from zjmap.core.workspace_file import (  # noqa: F401 (the values and the file are part of this module's API)
    Bookmark,
    FORMAT,
    KINDS,
    LayerDefaults,
    LayerEntry,
    LayerSource,
    SUFFIX,
    SelectionEntry,
    ShippedDefaults,
    VERSION,
    View,
    Workspace,
    WorkspaceError,
    _Checker,
    _app_version,
    _json_default,
    _parse,
    _resolve_path,
    _same_style,
    _store_path,
    _view_dict,
    atomic_write_text,
    dumps,
    file_version,
    from_dict,
    load_workspace,
    loads,
    save_workspace,
    to_dict,
)

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
# Restoring


@dataclass
class LayerProblem:
    """A user layer that could not be restored. ``missing``: its file is not
    there (else it is there but could not be read: ``reason`` says why)."""

    entry: LayerEntry
    reason: str
    missing: bool
    password_key: str | None = None  # a database server that wants a password: ask for it, then read again

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
    keep: Callable[[MapLayer, str, dict[str, Any]], Any] | None = None,
) -> MapLayer:
    """Read a user layer's file the way it was read when added (its layer,
    the planner's encoding / CRS overrides) as a MapLayer with the entry's id,
    title, style, visibility and opacity. ``path`` reads another file instead
    (the planner located a moved file). An unchanged big file comes from the
    cache (:mod:`zjmap.core.layercache`); one read from the file is handed to
    ``keep(layer, key, meta)``, which may keep it there (the window does, once
    its zoom bands exist). Raises UserFileError / LoadCancelled.
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
    if is_remote(p):  # a big table or a web collection comes back live (what the view needs)
        from zjmap.core.livelayer import live_layer, open_live

        handle = open_live(p, crs=src.crs, cancel=cancel)
        if handle is not None:
            from zjmap.core.postgis import PgFilterError

            saved = (entry.style or {}).get("filter")
            try:  # the saved filter goes to the server with the first view
                layer = live_layer(handle, p, entry.id, title=entry.title, cancel=cancel, where=saved)
            except PgFilterError:  # no longer fits the table: drawn unfiltered, the layer says why
                layer = live_layer(handle, p, entry.id, title=entry.title, cancel=cancel)
            return _as_saved(layer, entry)
    from zjmap.core import layercache

    # an unchanged big file read before: its table and display arrays from the cache
    hit = layercache.reopen(p, want, src.encoding, src.crs)
    if hit is not None:
        source = ReadSource(p, layer=hit.loaded.name, layer_arg=want, encoding_override=src.encoding,
                            crs_override=src.crs)
        return _as_saved(user_layer(hit.loaded, entry.id, title=entry.title, source=source, cancel=cancel,
                                    display=hit.display, table=hit.table), entry)
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
    layer = _as_saved(user_layer(loaded, entry.id, title=entry.title, source=source, cancel=cancel), entry)
    key = layercache.cache_key(p, want, src.encoding, src.crs) if keep is not None else None
    if key and loaded.features >= layercache.MIN_FEATURES:
        keep(layer, key, layercache.meta_of(loaded))
    return layer


def _as_saved(layer: MapLayer, entry: LayerEntry) -> MapLayer:
    """The entry's look on a freshly read layer."""
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
    from zjmap.core.postgis import PgPasswordNeeded
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
        except PgPasswordNeeded as exc:
            problems.append(LayerProblem(entry, str(exc), False, password_key=exc.key))
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
