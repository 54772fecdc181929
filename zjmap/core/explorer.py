"""What a planner's actions mean, decided once, without Qt.

A click, a search pick or a list pick goes through here and ends as a new
selection state; the Qt views only forward events and draw the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from shapely.geometry import mapping

from zjmap.core.identify import Identifier
from zjmap.core.layers import LayerStack, MapFeature
from zjmap.core.selection import Selection, SelectionState


@dataclass(frozen=True)
class SearchResult:
    feature_id: str
    label: str  # what the completer shows
    layer_title: str


class Explorer:
    def __init__(self, stack: LayerStack):
        self.stack = stack
        self.identifier = Identifier(stack)
        self.selection = Selection()
        self._name_index: dict[str, list[tuple[str, list[str]]]] = {}
        stack.subscribe(self._on_stack)

    def _on_stack(self, event: str, layer_id: str) -> None:
        if event in ("added", "removed", "renamed", "styled"):
            self._name_index.pop(layer_id, None)
        if event == "removed":
            gone = {fid for fid in self.selection.referenced_ids() if not self.stack.has_feature(fid)}
            if gone:
                self.selection.forget(gone)

    # -- clicks ------------------------------------------------------------
    def click(self, lon: float, lat: float, zoom: float) -> SelectionState:
        """The most specific visible feature under the cursor is described; the
        base unit there (county, else city) lists everything the layers hold in it."""
        hits = self.identifier.at(lon, lat, zoom)
        focus = hits[0].feature.id if hits else None
        unit = self.identifier.base_unit_at(lon, lat)
        if unit is None:
            if focus:
                self.selection.select(focus, lonlat=(lon, lat))
            else:
                self.selection.clear()
            return self.selection.state
        inside = self.identifier.ids_in(unit)
        if focus and focus not in inside:
            inside.insert(0, focus)
        self.selection.select_place(unit.id, inside, lonlat=(lon, lat), focus=focus)
        return self.selection.state

    def select(self, feature_id: str) -> None:
        self.stack.feature(feature_id)  # KeyError for an unknown id
        self.selection.focus_on(feature_id)

    # -- search ------------------------------------------------------------
    def _names(self, layer) -> list[tuple[str, list[str]]]:
        """(feature id, lower-cased names) per feature, built once per layer:
        each keystroke then scans strings, not feature properties."""
        got = self._name_index.get(layer.id)
        if got is None and hasattr(layer.features, "values_of"):  # a big table: column by column
            rows = layer.features
            cols = [rows.values_of(k) for k in ("name_zh", "name_en", "name")]
            aliases = rows.values_of("aliases")
            got = []
            for fid, zh, en, nm, al in zip(rows.ids(), *cols, aliases):
                names = [zh, en, nm, *(al if isinstance(al, list) else [al] if al else [])]
                got.append((fid, [str(n).lower() for n in names if n]))
            self._name_index[layer.id] = got
        if got is None:
            got = []
            for f in layer.features:
                p = f.props
                names = [p.get("name_zh"), p.get("name_en"), p.get("name"), *(p.get("aliases") or [])]
                got.append((f.id, [str(n).lower() for n in names if n]))
            self._name_index[layer.id] = got
        return got

    def search(self, text: str, limit: int = 50) -> list[SearchResult]:
        """Chinese name, alias or English name, any part; exact and prefix first."""
        q = text.strip().lower()
        if not q:
            return []
        scored: list[tuple[int, int, int, str]] = []
        for layer in self.stack:
            base_penalty = 1 if layer.kind == "base" else 0
            for fid, names in self._names(layer):
                best = None
                for nl in names:
                    if q in nl:
                        rank = 0 if nl == q else 1 if nl.startswith(q) else 2
                        best = rank if best is None else min(best, rank)
                if best is not None:
                    scored.append((best, base_penalty, len(names[0]) if names else 0, fid))
        scored.sort()
        out = []
        for _, _, _, fid in scored[:limit]:
            f = self.stack.feature(fid)
            label = f.name
            en = f.props.get("name_en")
            if en and en != label:
                label = f"{label} ({en})"
            out.append(SearchResult(fid, label, self.stack.layer(f.layer_id).title))
        return out

    # -- what the map highlights --------------------------------------------
    def highlight_geojson(self, state: SelectionState | None = None) -> dict:
        state = state or self.selection.state
        feats = []
        if state.place and self.stack.has_feature(state.place):
            unit = self.stack.feature(state.place)
            feats.append({"type": "Feature", "properties": {"role": "place"}, "geometry": mapping(unit.geometry)})
        if state.focus and self.stack.has_feature(state.focus):
            f = self.stack.feature(state.focus)
            feats.append({"type": "Feature", "properties": {"role": "selected"}, "geometry": mapping(f.geometry)})
            if f.geometry.geom_type == "LineString" and self.stack.layer(f.layer_id).geometry == "link":
                # both ends of a pairing
                for c in (f.geometry.coords[0], f.geometry.coords[-1]):
                    feats.append({"type": "Feature", "properties": {"role": "end"}, "geometry": {"type": "Point", "coordinates": list(c)}})
        return {"type": "FeatureCollection", "features": feats}

    def feature(self, feature_id: str) -> MapFeature:
        return self.stack.feature(feature_id)
