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


def test_start_page_cache_keeps_its_arrays_and_drops_stale_versions(tmp_path, monkeypatch):
    """The cached start page carries the base map's array files, and a new
    version's cache replaces the old ones instead of piling up beside them."""
    import json

    from zjmap.core.layers import LayerStack
    from zjmap.core.mappage import build_page, save_layers_cache, shipped_layers_cache
    from zjmap.core.shipped import base_layer, base_layer_defs

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = tmp_path / "cache" / "zjmap"
    cache.mkdir(parents=True)
    (cache / "layers-0ld0ld0ld0ld0ld0").mkdir()
    (cache / "layers-0ld0ld0ld0ld0ld0" / "layers.js").write_text("old", encoding="utf-8")
    (cache / "layers-0ld1ld1ld1ld1ld1.js").write_text("older format", encoding="utf-8")
    (cache / "stack-0ld0ld0ld0ld0ld0.pickle").write_bytes(b"old")
    key = shipped_layers_key()
    (cache / f"stack-{key}.pickle").write_bytes(b"current")

    stack = LayerStack()
    stack.add(base_layer(base_layer_defs()[0]))
    page_dir = tmp_path / "page"
    build_page(page_dir, stack)
    assert shipped_layers_cache(key) is None
    save_layers_cache(page_dir, key)
    saved = shipped_layers_cache(key)
    assert saved is not None
    text = (saved / "layers.js").read_text(encoding="utf-8")
    url = json.loads(text[text.index("["):text.rindex("]") + 1])[0]["big"]["geometry"]["url"]
    assert (saved / url).read_bytes() == (page_dir / url).read_bytes()
    left = sorted(p.name for p in cache.iterdir() if not p.name.startswith("page-"))
    assert left == sorted([f"layers-{key}", f"stack-{key}.pickle"])
    # a page started from the cache has the arrays beside it
    again = tmp_path / "again"
    build_page(again, None, cached=saved)
    assert (again / url).is_file() and (again / "layers.js").read_text(encoding="utf-8") == text
    # linked, not copied; the same page rebuilt from the stack writes its own files, not through the links
    assert (again / url).is_symlink() and not (again / "layers.js").is_symlink()
    real = (saved / url).read_bytes()
    (saved / url).write_bytes(b"marked")  # were the cache written through the link, the mark would go
    stack.layer(stack.ids()[0]).display.arrays._encoded.clear()  # written again, as another page would
    build_page(again, stack)
    assert not (again / url).is_symlink() and (again / url).read_bytes() == real
    assert (saved / url).read_bytes() == b"marked"
