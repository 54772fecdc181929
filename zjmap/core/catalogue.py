"""The seed-layer catalogue: geodata/catalogue.json + geodata/layers/*.geojson.

Built by ``tools/build_geodata.py`` from geodata/specs/*.json. Read here with
the json module and shapely (not geopandas) so nested properties -- sources,
figures, attributes -- survive as Python lists and dicts. Qt-free.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape

from zjmap.core.paths import project_root


@dataclass(frozen=True)
class Feature:
    """One seed-layer feature: properties as built, geometry in WGS-84."""

    id: str
    layer: str
    props: dict = field(hash=False, compare=False)
    geometry: Any = field(hash=False, compare=False)  # shapely geometry

    @property
    def name_zh(self) -> str:
        return self.props.get("name_zh", "")

    @property
    def name_en(self) -> str:
        return self.props.get("name_en", "")

    @property
    def aliases(self) -> list[str]:
        return list(self.props.get("aliases") or [])

    @property
    def sources(self) -> list[dict]:
        """[{seed, start, end, quote}], start/end are str offsets into the seed text."""
        return list(self.props.get("sources") or [])

    @property
    def figures(self) -> list[dict]:
        """[{label, value, unit, year, seed, start, end, quote, derived}]."""
        return list(self.props.get("figures") or [])

    def to_geojson(self) -> dict:
        return {
            "type": "Feature",
            "id": self.id,
            "properties": self.props,
            "geometry": shapely.geometry.mapping(self.geometry),
        }


@dataclass
class LayerInfo:
    """One entry of catalogue.json's ``layers``."""

    id: str
    title_zh: str
    title_en: str
    group_zh: str = ""
    group_en: str = ""
    seed: str = ""
    order: int = 0
    geometry: str = ""
    style: dict = field(default_factory=dict)
    description_zh: str = ""
    description_en: str = ""
    note: str = ""
    count: int = 0
    file: str = ""

    @classmethod
    def from_dict(cls, d: dict) -> "LayerInfo":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


class Catalogue:
    """All seed layers, their features and the seed texts they quote."""

    def __init__(self, root: Path, data: dict):
        self.root = Path(root)
        self.seeds: dict[str, dict] = dict(data.get("seeds") or {})
        self.layers: list[LayerInfo] = sorted(
            (LayerInfo.from_dict(d) for d in data.get("layers") or []),
            key=lambda li: (li.order, li.id),
        )
        self._by_layer: dict[str, list[Feature]] = {}
        self.features: dict[str, Feature] = {}
        for info in self.layers:
            feats = []
            text = (self.root / info.file).read_text(encoding="utf-8")
            fc = json.loads(text)
            # GEOS parses the whole collection at once: far faster than shape()
            # on multipolygons with hundreds of islands
            geoms = shapely.from_geojson(text).geoms if fc.get("features") else []
            for raw, geom in zip(fc.get("features", []), geoms):
                props = raw.get("properties") or {}
                fid = props.get("id") or raw.get("id")
                feat = Feature(id=fid, layer=info.id, props=props, geometry=geom)
                if fid in self.features:
                    raise ValueError(f"duplicate feature id {fid!r} in layers "
                                     f"{self.features[fid].layer!r} and {info.id!r}")
                self.features[fid] = feat
                feats.append(feat)
            self._by_layer[info.id] = feats
        self._seed_text: dict[str, str] = {}

    def layer(self, layer_id: str) -> LayerInfo:
        for info in self.layers:
            if info.id == layer_id:
                return info
        known = ", ".join(li.id for li in self.layers) or "(none)"
        raise KeyError(f"unknown layer {layer_id!r}; known: {known}")

    def layer_features(self, layer_id: str) -> list[Feature]:
        self.layer(layer_id)  # KeyError with the known ids
        return list(self._by_layer[layer_id])

    def seed_text(self, seed: str) -> str:
        """Full text of seed ``seed`` (source/figure offsets index into it)."""
        if seed not in self._seed_text:
            if seed not in self.seeds:
                raise KeyError(f"unknown seed {seed!r}; known: {', '.join(sorted(self.seeds))}")
            path = self.root / self.seeds[seed]["file"]
            self._seed_text[seed] = path.read_text(encoding="utf-8")
        return self._seed_text[seed]

    def search(self, text: str) -> list[Feature]:
        """Features whose name_zh, name_en (case-insensitive) or an alias contains ``text``.

        Exact matches first, then prefix matches, then other substrings; ties
        keep layer order.
        """
        q = text.strip().casefold()
        if not q:
            return []
        order = {li.id: i for i, li in enumerate(self.layers)}
        hits = []
        for pos, feat in enumerate(self.features.values()):
            names = [feat.name_zh, feat.name_en, *feat.aliases]
            names = [n.casefold() for n in names if n]
            if any(n == q for n in names):
                rank = 0
            elif any(n.startswith(q) for n in names):
                rank = 1
            elif any(q in n for n in names):
                rank = 2
            else:
                continue
            hits.append((rank, order.get(feat.layer, 0), pos, feat))
        hits.sort(key=lambda h: h[:3])
        return [h[3] for h in hits]


@functools.lru_cache(maxsize=8)
def _load(root: str) -> Catalogue:
    path = Path(root) / "geodata" / "catalogue.json"
    if not path.exists():
        raise FileNotFoundError(f"catalogue not found: {path} (run `make geodata`)")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return Catalogue(Path(root), data)


def load_catalogue(root: Path | None = None) -> Catalogue:
    """The catalogue under ``root`` (default: the project root), cached per root."""
    r = Path(root) if root is not None else project_root()
    return _load(str(r.resolve()))


def catalogue_geojson(layer_id: str | None = None, root: Path | None = None) -> str:
    """Features of one layer (or all layers) as a GeoJSON FeatureCollection."""
    cat = load_catalogue(root)
    if layer_id is None:
        feats = [f for li in cat.layers for f in cat.layer_features(li.id)]
    else:
        feats = cat.layer_features(layer_id)
    fc = {"type": "FeatureCollection", "features": [f.to_geojson() for f in feats]}
    return json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
