"""A layer's filter expression (``style["filter"]``): which features it hides.

The filter lives in the layer's style so the workspace keeps it with the
rest of the look, and every view that draws or identifies features reads
``layer.hidden`` (feature ids the filter leaves out; ``layer.hidden_rows``
their positions). The expression is :mod:`zjmap.core.expr`: parsed, never
run as code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas and the parser load only once a layer has a filter
    import numpy as np
    import pandas as pd

#: What a feature the filter leaves out is drawn with (nothing).
HIDDEN_STYLE = {"opacity": 0.0, "fillOpacity": 0.0, "weight": 0, "radius": 0, "fill": False, "stroke": False}


def layer_table(layer: Any) -> "pd.DataFrame":
    """The attributes the filter sees: the user layer's own table, or the props."""
    import pandas as pd

    attrs = layer.table.attributes if layer.kind == "user" else None  # a point layer's: no geometry made
    if attrs is not None and len(attrs) == len(layer.features):
        return pd.DataFrame(attrs[layer.table.columns]).reset_index(drop=True)
    recs = [{k: v for k, v in f.props.items() if not isinstance(v, (dict, list))} for f in layer.features]
    return pd.DataFrame.from_records(recs) if recs else pd.DataFrame()


def filter_mask(layer: Any, text: str) -> "np.ndarray":
    """Features ``text`` keeps; raises ExprError (with the position) if it is bad."""
    from zjmap.core.expr import parse

    expr = parse(text)
    return expr.evaluate(layer_table(layer))


def hidden_rows(layer: Any) -> tuple[Any, frozenset[str], str | None]:
    """(positions and ids of the features the layer's filter hides, the filter's
    error if it cannot be applied: then nothing is hidden)."""
    text = (layer.style or {}).get("filter")
    if not text:
        return (), frozenset(), None
    import numpy as np

    from zjmap.core.expr import ExprError

    try:
        keep = filter_mask(layer, text)
    except ExprError as exc:
        return (), frozenset(), str(exc)
    rows = np.flatnonzero(~keep)
    feats = layer.features
    if hasattr(feats, "row_of"):  # a big table: answer from the mask, no set of a million ids
        return rows, HiddenRows(feats, ~keep), None
    return rows, frozenset(feats[i].id for i in rows.tolist()), None


class HiddenRows:
    """The ids of a big table's hidden rows, as a set answers them (``in``,
    ``len``, iteration) from one boolean mask (see zjmap.core.featurerows)."""

    def __init__(self, feats: Any, mask: "np.ndarray"):
        self.feats = feats
        self.mask = mask
        self.n = int(mask.sum())

    def __contains__(self, fid: object) -> bool:
        k = self.feats.row_of(fid) if isinstance(fid, str) else None
        return k is not None and bool(self.mask[k])

    def __len__(self) -> int:
        return self.n

    def __bool__(self) -> bool:
        return self.n > 0

    def __iter__(self):
        import numpy as np

        p = self.feats.prefix
        return (p + str(k) for k in np.flatnonzero(self.mask).tolist())

    def __eq__(self, other: object) -> bool:
        try:
            return len(self) == len(other) and all(i in self for i in other)  # type: ignore[arg-type]
        except TypeError:
            return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def with_filter(style: dict[str, Any], text: str | None) -> dict[str, Any]:
    out = dict(style)
    if text and text.strip():
        out["filter"] = text.strip()
    else:
        out.pop("filter", None)
    return out
