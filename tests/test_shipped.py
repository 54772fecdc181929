"""The shipped stack: what the app opens with, and its start-up cache."""

from zjmap.core import mappage
from zjmap.core.mappage import layer_payload, layer_stub, shipped_layers_key
from zjmap.core.shipped import load_shipped, view_settings


def test_cache_gives_the_same_stack(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cat1, s1 = load_shipped()
    pickles = list((tmp_path / "zjmap").glob("stack-*.pickle"))
    assert len(pickles) == 1
    cat2, s2 = load_shipped()
    assert s2 is not s1
    assert s1.ids() == s2.ids()
    for a, b in zip(s1, s2):
        assert [f.id for f in a.features] == [f.id for f in b.features]
        assert all(fa.geometry.equals(fb.geometry) for fa, fb in zip(a.features, b.features))
        assert a.visible == b.visible
    assert set(cat1.features) == set(cat2.features)


def test_cache_key_follows_the_data(tmp_path, monkeypatch):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(mappage.web_dir().parents[1] / "geodata", root / "geodata")
    monkeypatch.setenv("ZJMAP_ROOT", str(root))
    k1 = shipped_layers_key()
    view = root / "geodata" / "view.json"
    view.write_text(view.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert shipped_layers_key() != k1


def test_start_view_and_draw_order():
    _, stack = load_shipped(use_cache=False)
    view = view_settings()
    visible = {layer.id for layer in stack if layer.kind == "seed" and layer.visible}
    assert visible == set(view["visible_on_start"])
    kinds = [layer.geometry for layer in stack if layer.kind == "seed"]
    order = view["draw_order"]
    assert [order.index(k) for k in kinds] == sorted(order.index(k) for k in kinds)
    # hidden layers start as stubs with no data
    hidden = next(layer for layer in stack if not layer.visible)
    assert '"data":null' in layer_stub(hidden)
    assert hidden.features[0].id in layer_payload(hidden)
