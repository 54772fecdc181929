"""Workspace files (core): round trip, relative paths, atomic writes, bad files, missing layers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from zjmap.core import workspace as wsm
from zjmap.core.layers import LayerStack, MapLayer, make_features
from zjmap.core.selection import Selection
from zjmap.core.userfiles import read_layer
from zjmap.core.userlayers import style_categorical, user_layer, with_labels
from zjmap.core.workspace import (
    VERSION,
    Bookmark,
    ShippedDefaults,
    View,
    WorkspaceError,
    capture,
    load_workspace,
    restore,
    save_workspace,
)


# ---------------------------------------------------------------------------
# Building blocks: a small "shipped" stack and planners' files


def shipped() -> LayerStack:
    st = LayerStack()
    st.add(MapLayer("county", "县级", "Counties", "base", "polygon",
                    make_features("county", "polygon", [("county:1", {"name_zh": "西湖区"}, box(120.0, 30.1, 120.3, 30.4))]),
                    style={"kind": "single", "color": "#888888"}))
    st.add(MapLayer("zones", "片区", "Zones", "seed", "polygon",
                    make_features("zones", "polygon", [("zones:a", {"name_zh": "甲"}, box(120.1, 30.2, 120.2, 30.3))]),
                    style={"kind": "single", "color": "#ff0000"}, visible=False))
    st.add(MapLayer("hubs", "枢纽", "Hubs", "seed", "point",
                    make_features("hubs", "point", [("hubs:1", {"name_zh": "东站"}, Point(120.2, 30.29))]),
                    style={"kind": "single", "color": "#0000ff"}))
    return st


def write_parcels(path: Path) -> Path:
    gdf = gpd.GeoDataFrame(
        {"名称": ["一号地块", "二号地块", "三号地块"], "用地": ["居住", "工业", "居住"], "面积": [1.5, 2.5, 3.0]},
        geometry=[box(120.10, 30.20, 120.11, 30.21), box(120.12, 30.20, 120.13, 30.21), box(120.14, 30.20, 120.15, 30.21)],
        crs="EPSG:4326",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_file(path, driver="GeoJSON" if path.suffix == ".geojson" else "GPKG", layer="parcels" if path.suffix == ".gpkg" else None)
    return path


def write_stations(path: Path) -> Path:
    gdf = gpd.GeoDataFrame({"name": ["甲站", "乙站"]}, geometry=[Point(120.3, 30.3), Point(120.4, 30.35)], crs="EPSG:4326")
    path.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_file(path, driver="GeoJSON")
    return path


def add_user(stack: LayerStack, path: Path, layer_id: str, title: str, layer: str | None = None, crs: str | None = None) -> MapLayer:
    loaded = read_layer(path, layer=layer, crs=crs)
    lyr = user_layer(loaded, layer_id, title=title,
                     source={"path": str(path), "layer": loaded.name, "encoding_override": None, "crs_override": crs,
                             "layer_arg": layer})
    stack.add(lyr)
    return lyr


@pytest.fixture
def session(tmp_path):
    """A stack with two user layers, changes to every kind of state, and a selection."""
    data = tmp_path / "project" / "data"
    parcels = write_parcels(data / "parcels.gpkg")
    stations = write_stations(data / "stations.geojson")
    st = shipped()
    defaults = ShippedDefaults.from_stack(st)
    p = add_user(st, parcels, "user_1", "地块 Parcels", layer="parcels", crs="EPSG:4326")
    add_user(st, stations, "user_2", "站点")
    st.set_style("user_1", with_labels(style_categorical(p, "用地"), "名称", 12))
    st.set_opacity("user_1", 0.6)
    st.set_visible("user_2", False)
    st.move("user_2", 1)  # between the county base layer and the zones
    st.set_visible("zones", True)
    st.set_opacity("hubs", 0.5)
    st.set_style("hubs", {"kind": "single", "color": "#00aa00"})
    st.rename("user_2", "车站 Stations")
    sel = Selection()
    sel.select_place("county:1", ["user_1:0", "zones:a"], lonlat=(120.105, 30.205), focus="user_1:0")
    view = (120.0, 30.1, 120.5, 30.4, 11)
    marks = [Bookmark("西湖", View(120.05, 30.2, 120.2, 30.3, 13)), Bookmark("全省", View(118.0, 27.0, 123.2, 31.2, 7))]
    return {"tmp": tmp_path, "stack": st, "defaults": defaults, "selection": sel, "view": view, "bookmarks": marks,
            "parcels": parcels, "stations": stations}


def snapshot(st: LayerStack) -> list[tuple]:
    return [(lyr.id, lyr.kind, lyr.title, lyr.visible, round(lyr.opacity, 4), json.dumps(lyr.style, sort_keys=True, ensure_ascii=False))
            for lyr in st]


def save_session(s, path: Path) -> Path:
    ws = capture(s["stack"], selection=s["selection"].state, view=s["view"], bookmarks=s["bookmarks"], defaults=s["defaults"])
    return save_workspace(ws, path)


# ---------------------------------------------------------------------------
# Round trip


def test_save_then_restore_into_a_fresh_stack_gives_the_same_session(session):
    path = save_session(session, session["tmp"] / "project" / "plan.zjmap")
    fresh = shipped()
    sel = Selection()
    ws = load_workspace(path)
    report = restore(fresh, ws, selection=sel, defaults=ShippedDefaults.from_stack(fresh))
    assert report.problems == [] and sorted(report.restored) == ["user_1", "user_2"]
    assert snapshot(fresh) == snapshot(session["stack"])
    assert fresh.layer("user_1").style["label_field"] == "名称"
    assert fresh.layer("user_1").style["colors"] == session["stack"].layer("user_1").style["colors"]
    assert len(fresh.layer("user_1").features) == 3
    assert sel.state == session["selection"].state
    assert ws.view == View(120.0, 30.1, 120.5, 30.4, 11)
    assert ws.bookmarks == session["bookmarks"]
    # the restored user layer remembers how to be read again (the Qt reload menu uses these)
    src = fresh.layer("user_1").source
    assert src.crs_override == "EPSG:4326" and src.layer_arg == "parcels"


def test_the_file_is_the_documented_json(session):
    path = save_session(session, session["tmp"] / "project" / "plan.zjmap")
    d = json.loads(path.read_text(encoding="utf-8"))
    assert d["format"] == "zjmap-workspace" and d["version"] == VERSION
    assert [e["id"] for e in d["layers"]] == ["county", "user_2", "zones", "hubs", "user_1"]
    by_id = {e["id"]: e for e in d["layers"]}
    # user-layer paths relative to the workspace file, with / separators
    assert by_id["user_1"]["source"]["path"] == "data/parcels.gpkg"
    assert by_id["user_1"]["source"]["layer"] == "parcels"
    assert by_id["user_1"]["source"]["crs"] == "EPSG:4326"
    assert by_id["user_2"]["source"]["encoding"] is None
    assert by_id["user_2"]["title"] == "车站 Stations"
    # shipped layers: style only where the planner changed it
    assert "style" not in by_id["zones"] and by_id["zones"]["visible"] is True
    assert by_id["hubs"]["style"] == {"kind": "single", "color": "#00aa00"} and by_id["hubs"]["opacity"] == 0.5
    assert d["view"] == {"bbox": [120.0, 30.1, 120.5, 30.4], "zoom": 11}
    assert d["selection"]["focus"] == "user_1:0" and d["selection"]["place"] == "county:1"
    assert d["bookmarks"][0] == {"name": "西湖", "bbox": [120.05, 30.2, 120.2, 30.3], "zoom": 13}


def test_a_workspace_moved_with_its_data_still_opens(session):
    path = save_session(session, session["tmp"] / "project" / "plan.zjmap")
    moved = session["tmp"] / "elsewhere" / "copy"
    os.renames(session["tmp"] / "project", moved)
    ws = load_workspace(moved / "plan.zjmap")
    assert ws.entry("user_1").source.path == str(moved / "data" / "parcels.gpkg")
    report = restore(shipped(), ws)
    assert report.problems == []


def test_absolute_path_when_no_relative_one_exists(session, monkeypatch):
    def no_relpath(*a, **k):
        raise ValueError("path is on mount 'D:', start on mount 'C:'")

    monkeypatch.setattr(wsm.os.path, "relpath", no_relpath)
    path = save_session(session, session["tmp"] / "plan.zjmap")
    d = json.loads(path.read_text(encoding="utf-8"))
    src = next(e for e in d["layers"] if e["id"] == "user_1")["source"]
    assert src["path"] == str(session["parcels"].absolute())
    monkeypatch.undo()
    assert load_workspace(path).entry("user_1").source.path == str(session["parcels"].absolute())


def test_absolute_hint_finds_the_data_when_only_the_workspace_moved(session):
    path = save_session(session, session["tmp"] / "project" / "plan.zjmap")
    moved = session["tmp"] / "other" / "plan.zjmap"
    moved.parent.mkdir()
    os.replace(path, moved)
    ws = load_workspace(moved)
    assert ws.entry("user_2").source.path == str(session["stations"])
    assert ws.entry("user_2").source.stored == "data/stations.geojson"


def test_a_missing_layer_file_does_not_drop_the_others(session):
    path = save_session(session, session["tmp"] / "project" / "plan.zjmap")
    session["stations"].unlink()
    fresh = shipped()
    sel = Selection()
    report = restore(fresh, load_workspace(path), selection=sel)
    assert report.restored == ["user_1"]
    assert [(p.entry.id, p.missing) for p in report.problems] == [("user_2", True)]
    assert report.missing[0].path == str(session["stations"])
    assert "does not exist" in report.missing[0].reason
    assert "user_1" in fresh and "user_2" not in fresh
    assert sel.state.focus == "user_1:0"  # the selection keeps what still exists
    # saving again keeps the missing layer in place (pending), so nothing is lost
    ws2 = capture(fresh, defaults=ShippedDefaults.from_stack(shipped()), pending=[load_workspace(path).entry("user_2")],
                  previous_order=load_workspace(path).order)
    assert ws2.order == ["county", "user_2", "zones", "hubs", "user_1"]


def test_an_unreadable_layer_file_is_a_problem_not_a_failure(session):
    path = save_session(session, session["tmp"] / "project" / "plan.zjmap")
    session["stations"].write_text("{ not geojson", encoding="utf-8")
    report = restore(shipped(), load_workspace(path))
    assert report.restored == ["user_1"]
    (prob,) = report.problems
    assert prob.entry.id == "user_2" and not prob.missing and "stations.geojson" in prob.reason


def test_a_located_file_with_another_layer_name_is_read(session, tmp_path):
    path = save_session(session, session["tmp"] / "project" / "plan.zjmap")
    entry = load_workspace(path).entry("user_1")
    other = write_parcels(tmp_path / "renamed" / "parcels_v2.geojson")
    layer = wsm.read_user_layer(entry, path=other)
    assert layer.id == "user_1" and len(layer.features) == 3 and layer.opacity == 0.6
    assert layer.style["label_field"] == "名称"


def test_unknown_shipped_layers_are_ignored_and_new_ones_keep_their_place(session):
    path = save_session(session, session["tmp"] / "project" / "plan.zjmap")
    d = json.loads(path.read_text(encoding="utf-8"))
    d["layers"].insert(0, {"id": "gone_layer", "kind": "seed", "visible": True, "opacity": 1})
    path.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    fresh = shipped()
    fresh.add(MapLayer("new_seed", "新", "New", "seed", "point", [], visible=True), 2)  # in a newer catalogue
    report = restore(fresh, load_workspace(path))
    assert report.ignored == ["gone_layer"]
    # the new layer stays just above the layer it was above (zones)
    assert fresh.ids() == ["county", "user_2", "zones", "new_seed", "hubs", "user_1"]


def test_defaults_come_back_for_what_the_workspace_does_not_say(session, tmp_path):
    st = session["stack"]
    ws = wsm.Workspace(layers=[])
    apply_to = shipped()
    defaults = ShippedDefaults.from_stack(apply_to)
    apply_to.set_visible("zones", True)
    apply_to.set_style("hubs", {"kind": "single", "color": "#123456"})
    wsm.apply_workspace(apply_to, ws, {}, defaults=defaults)
    assert apply_to.layer("zones").visible is False
    assert apply_to.layer("hubs").style == {"kind": "single", "color": "#0000ff"}
    assert st  # the session fixture untouched


# ---------------------------------------------------------------------------
# Atomic writes


def test_atomic_write_fsyncs_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(wsm.os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    target = tmp_path / "a.zjmap"
    wsm.atomic_write_text(target, "one\n")
    wsm.atomic_write_text(target, "two\n")
    assert target.read_text() == "two\n"
    assert len(synced) >= 2
    assert [p.name for p in tmp_path.iterdir()] == ["a.zjmap"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.zjmap"
    target.write_text("old\n")

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wsm.os, "replace", boom)
    with pytest.raises(OSError):
        wsm.atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.zjmap"]
    with pytest.raises(WorkspaceError, match="could not be saved.*No space left"):
        save_workspace(wsm.Workspace(), target)
    assert target.read_text() == "old\n"


# ---------------------------------------------------------------------------
# Bad files: clear messages, never touched


def good_text(tmp_path) -> str:
    return wsm.dumps(wsm.Workspace(bookmarks=[Bookmark("甲", View(120, 30, 121, 31, 9))]), tmp_path)


BAD = {
    "truncated": lambda t: t[: len(t) // 2],
    "truncated-in-a-string": lambda t: t[: t.index("甲") + 1],
    "empty": lambda t: "",
    "corrupt": lambda t: t.replace('"layers"', "layers", 1),
    "not-text": lambda t: "\x00\xff\xfe garbage",
    "future": lambda t: t.replace(f'"version": {VERSION}', '"version": 99', 1),
    "not-a-workspace": lambda t: json.dumps({"type": "FeatureCollection", "features": []}),
    "bad-field": lambda t: t.replace('"zoom": 9', '"zoom": "near"', 1),
}
EXPECT = {
    "truncated": ("truncated", r"plan\.zjmap ends unexpectedly .* truncated"),
    "truncated-in-a-string": ("truncated", r"truncated"),
    "empty": ("truncated", r"plan\.zjmap is empty"),
    "corrupt": ("corrupt", r"plan\.zjmap is damaged: it is not valid JSON at line \d+, column \d+"),
    "not-text": ("corrupt", r"plan\.zjmap is damaged"),
    "future": ("newer", r"plan\.zjmap was saved by a newer version of zjmap \(workspace format version 99; this zjmap reads versions up to 1\)"),
    "not-a-workspace": ("not-workspace", r"plan\.zjmap is not a zjmap workspace"),
    "bad-field": ("invalid", r"plan\.zjmap is damaged: bookmarks\[0\]\.zoom must be a number"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_give_a_clear_message_and_stay_untouched(tmp_path, case):
    path = tmp_path / "plan.zjmap"
    text = BAD[case](good_text(tmp_path))
    raw = text.encode("utf-8") if case != "not-text" else b"\x00\xff\xfe garbage"
    path.write_bytes(raw)
    with pytest.raises(WorkspaceError, match=EXPECT[case][1]) as exc:
        load_workspace(path)
    assert exc.value.kind == EXPECT[case][0]
    assert "not changed" in str(exc.value) or "not change" in str(exc.value)
    assert path.read_bytes() == raw


def test_a_future_version_file_is_never_overwritten(tmp_path):
    path = tmp_path / "plan.zjmap"
    raw = BAD["future"](good_text(tmp_path)).encode("utf-8")
    path.write_bytes(raw)
    with pytest.raises(WorkspaceError, match="newer version of zjmap.*will not overwrite") as exc:
        save_workspace(wsm.Workspace(), path)
    assert exc.value.kind == "newer"
    assert path.read_bytes() == raw
    assert wsm.file_version(path) == 99


def test_missing_and_folder_paths(tmp_path):
    with pytest.raises(WorkspaceError, match="does not exist"):
        load_workspace(tmp_path / "nope.zjmap")
    with pytest.raises(WorkspaceError, match="is a folder"):
        load_workspace(tmp_path)


def test_view_center_is_the_mercator_middle():
    v = View(120.0, 28.0, 122.0, 32.0, 8)
    lon, lat = v.center
    assert lon == 121.0
    assert 30.0 < lat < 30.05  # Web Mercator stretches the north: the middle sits north of 30°
