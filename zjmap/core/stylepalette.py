"""A layer's distinct drawing styles and each feature's index into them.

The canvas renderer (:mod:`zjmap.core.bigdisplay`) and the static export
(:mod:`zjmap.core.export_plan`) both draw a big layer from this: a handful
of styles decided once (a choropleth's classes, a category's colours) and
one small integer per feature, instead of a style dict per feature. A big
table (:class:`zjmap.core.featurerows.FeatureRows`) answers per distinct
combination of the styled fields, so a million rows cost a few styles.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["style_palette"]


def style_palette(styler: Any, feats: Any, hidden_rows: Any = ()) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``(styles, index)``: ``styler.feature_style`` of each distinct look and
    each feature's position in ``styles`` (uint32). Rows in ``hidden_rows``
    (what the layer's filter leaves out) point at one extra, last style,
    :data:`zjmap.core.layerfilter.HIDDEN_STYLE`."""
    st = styler
    palette: dict[Any, int] = {}
    reps: list[Any] = []
    if st.looks_vary and hasattr(feats, "distinct_rows"):
        # a big table: one look per distinct combination of the styled fields, not per row
        fields = [f for f in dict.fromkeys((st.field, st.size_field)) if f]
        combo, rows = feats.distinct_rows(fields)
        looks = np.zeros(len(rows), dtype=np.uint32)
        for c, props in enumerate(rows):
            k = st.look_key(props)
            j = palette.get(k)
            if j is None:
                j = palette[k] = len(reps)
                reps.append(props)
            looks[c] = j
        index = looks[combo] if len(rows) else np.zeros(len(feats), dtype=np.uint32)
    else:
        index = np.zeros(len(feats), dtype=np.uint32)
        for i, f in enumerate(feats if st.looks_vary else feats[:1]):  # one look: one style
            k = st.look_key(f.props)
            j = palette.get(k)
            if j is None:
                j = palette[k] = len(reps)
                reps.append(f.props)
            index[i] = j
    styles = [st.feature_style(props) for props in reps]
    if len(hidden_rows):
        from zjmap.core.layerfilter import HIDDEN_STYLE

        index[np.asarray(hidden_rows, dtype=np.int64)] = len(styles)
        styles.append(dict(HIDDEN_STYLE))
    return styles, index
