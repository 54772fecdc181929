"""What the panels say: quotes in context, figure rows, which chart fits."""

import pytest

from zjmap.core.describe import Describer
from zjmap.core.provenance import in_context, reflow
from zjmap.core.shipped import load_shipped


@pytest.fixture(scope="module")
def shipped():
    cat, stack = load_shipped(use_cache=False)
    seeds = {k: cat.seed_text(k) for k in cat.seeds}
    return cat, stack, Describer(stack, seeds, {k: v["title_zh"] for k, v in cat.seeds.items()})


def test_quote_in_context_is_the_seed_text_around_it(shipped):
    cat, stack, d = shipped
    f = stack.layer("cluster_zones").features[0]
    for sv in d.sources(f):
        text = cat.seed_text(sv.seed)
        c = sv.ctx
        assert c.quote == text[c.start : c.end]
        assert text[c.start - len(c.before) : c.end + len(c.after)] == c.before + c.quote + c.after
        assert c.line == text.count("\n", 0, c.start) + 1
    html = d.sources_html(f)
    assert reflow(f.props["sources"][0]["quote"]).replace("<", "&lt;") in html
    assert "seeds/000" in html and "doc:000:" in html


def test_context_stops_at_sentence_ends():
    text = "甲。乙丙丁戊。己"
    c = in_context("x", text, 3, 4)
    assert (c.before, c.quote, c.after) == ("乙", "丙", "丁戊。")


def test_targets_chart_pairs_baseline_and_target(shipped):
    _, stack, d = shipped
    f = stack.layer("demo_targets").features[0]
    spec = d.chart(f)
    assert spec.kind == "pairs"
    years = list(spec.series)
    assert len(years) >= 2 and years == sorted(years)
    for label in spec.categories:
        vals = [spec.series[y][label] for y in years if label in spec.series[y]]
        assert len(vals) >= 2
        rows = [r for r in d.figures(f) if r.label == label]
        assert sorted(vals) == sorted(float(r.value) for r in rows)


def test_block_clusters_chart_ranks_export_values_and_marks_the_clicked_one(shipped):
    _, stack, d = shipped
    layer = stack.layer("block_clusters")
    f = layer.features[0]
    spec = d.chart(f)
    assert spec.kind == "bars" and spec.highlight == f.name
    values = list(spec.series[""].values())
    assert values == sorted(values, reverse=True)
    assert len(values) == sum(1 for g in layer.features if g.props["attributes"].get("export_value") is not None)


def test_details_say_how_precisely_a_feature_is_placed(shipped):
    _, stack, d = shipped
    for layer in stack:
        if layer.kind != "seed":
            continue
        for f in layer.features:
            rows = dict(d.details_rows(f))
            assert rows.get("定位精度 Placement"), f.id
