"""The selection as a model with browser-like history.

Map, layer tree and panels are views that follow it; only this class changes
what is selected, so all views always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class SelectionState:
    """`focus` is the feature the panels describe. `place` is the base unit
    clicked (county, else city), and `ids` everything the layers have there;
    without a place, `ids` are simply the selected features."""

    ids: tuple[str, ...] = ()
    place: str | None = None  # feature id of the base unit clicked
    lonlat: tuple[float, float] | None = None
    focus: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def primary(self) -> str | None:
        return self.focus or self.place or (self.ids[0] if self.ids else None)

    def __bool__(self) -> bool:
        return bool(self.ids or self.place)


class Selection:
    def __init__(self) -> None:
        self._history: list[SelectionState] = [SelectionState()]
        self._pos = 0
        self._listeners: list[Callable[[SelectionState], None]] = []

    @property
    def state(self) -> SelectionState:
        return self._history[self._pos]

    def subscribe(self, fn: Callable[[SelectionState], None]) -> None:
        self._listeners.append(fn)

    def _emit(self) -> None:
        for fn in list(self._listeners):
            fn(self.state)

    def set(self, state: SelectionState) -> None:
        if state == self.state:
            return
        del self._history[self._pos + 1 :]
        self._history.append(state)
        self._pos += 1
        self._emit()

    def select(self, *ids: str, lonlat: tuple[float, float] | None = None) -> None:
        self.set(SelectionState(ids=tuple(ids), lonlat=lonlat, focus=ids[0] if ids else None))

    def select_place(
        self, unit_id: str, ids: list[str], lonlat: tuple[float, float] | None = None, focus: str | None = None
    ) -> None:
        self.set(SelectionState(ids=tuple(ids), place=unit_id, lonlat=lonlat, focus=focus))

    def focus_on(self, feature_id: str) -> None:
        """Describe another feature of the current place, keeping the place list."""
        s = self.state
        if s.place and feature_id in s.ids:
            self.set(SelectionState(s.ids, s.place, s.lonlat, feature_id))
        else:
            self.select(feature_id)

    def clear(self) -> None:
        self.set(SelectionState())

    def can_go_back(self) -> bool:
        return self._pos > 0

    def can_go_forward(self) -> bool:
        return self._pos < len(self._history) - 1

    def back(self) -> bool:
        if not self.can_go_back():
            return False
        self._pos -= 1
        self._emit()
        return True

    def forward(self) -> bool:
        if not self.can_go_forward():
            return False
        self._pos += 1
        self._emit()
        return True

    def referenced_ids(self) -> set[str]:
        """Every feature id anywhere in the history."""
        out: set[str] = set()
        for s in self._history:
            out.update(s.ids)
            out.update(x for x in (s.place, s.focus) if x)
        return out

    def forget(self, feature_ids: set[str]) -> None:
        """Drop removed features from history so back/forward never shows ghosts."""
        cleaned = []
        for s in self._history:
            ids = tuple(i for i in s.ids if i not in feature_ids)
            place = None if s.place in feature_ids else s.place
            focus = None if s.focus in feature_ids else s.focus
            cleaned.append(SelectionState(ids, place, s.lonlat, focus, s.extra))
        current_changed = cleaned[self._pos] != self.state
        self._history = cleaned
        if current_changed:
            self._emit()
