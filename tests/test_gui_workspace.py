"""Workspaces in the real window: save/reopen, bad files, missing layers, bookmarks,
settings kept in the test home, and crash recovery after SIGKILL of a real app process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pytest
from PySide6.QtCore import QLockFile
from shapely.geometry import Point, box

from guitools import close_window, open_window, spin, wait_until
from zjmap.core import workspace as wsc
from zjmap.core.userfiles import read_layer
from zjmap.core.userlayers import style_categorical, user_layer, with_labels
from zjmap.qt import workspace_actions as wa
from zjmap.qt.workspace_actions import Prompts

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------
# Helpers


def write_parcels(path: Path) -> Path:
    gdf = gpd.GeoDataFrame(
        {"名称": ["一号地块", "二号地块", "三号地块"], "用地": ["居住", "工业", "居住"]},
        geometry=[box(120.10, 30.20, 120.12, 30.22), box(120.13, 30.20, 120.15, 30.22), box(120.16, 30.20, 120.18, 30.22)],
        crs="EPSG:4326",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_file(path, driver="GPKG", layer="parcels")
    return path


def write_stations(path: Path) -> Path:
    gdf = gpd.GeoDataFrame({"name": ["甲站", "乙站"]}, geometry=[Point(120.3, 30.3), Point(120.4, 30.35)], crs="EPSG:4326")
    path.parent.mkdir(parents=True, exist_ok=True)
    gdf.to_file(path, driver="GeoJSON")
    return path


def add_user(win, path: Path, layer_id: str, title: str, layer: str | None = None):
    loaded = read_layer(path, layer=layer)
    lyr = user_layer(loaded, layer_id, title=title,
                     source={"path": str(path), "layer": loaded.name, "encoding_override": None,
                             "crs_override": None, "layer_arg": layer})
    win.stack.add(lyr)
    return lyr


def settled(win, timeout_ms: int = 20000) -> bool:
    ctl = win.workspace
    return wait_until(lambda: ctl._started and not ctl.busy, timeout_ms)


def clean_sessions() -> None:
    """Forget what earlier tests left: the last/recent workspaces, crashed
    sessions (locks of live windows stay: their process is running)."""
    s = wa.make_settings()
    s.remove("workspace")
    s.remove("folders")
    s.sync()
    sdir = wa.sessions_dir()
    if sdir.exists():
        live = set()
        for lock in sdir.glob("session-*.lock"):
            lf = QLockFile(str(lock))
            lf.setStaleLockTime(0)
            if lf.tryLock(0):
                lf.unlock()
            else:
                live.add(lock.name[: -len(".lock")])
        for auto in sdir.glob("session-*.zjmap"):
            if auto.name[: -len(".zjmap")] not in live:
                auto.unlink()
    for p in wa.recovered_dir().glob("*"):
        p.unlink()


@pytest.fixture(autouse=True)
def _clean(qapp):
    clean_sessions()
    yield
    clean_sessions()


class Answers:
    """Records every prompt; answers as the test says."""

    def __init__(self, monkeypatch):
        self.asked: list[str] = []
        self.errors: list[str] = []
        self.restore = False
        self.save_path: str | None = None
        self.locate: str | None = None
        self.bookmark: str | None = None
        me = self
        monkeypatch.setattr(Prompts, "ask_restore", lambda self, text: (me.asked.append(text), me.restore)[1])
        monkeypatch.setattr(Prompts, "error", lambda self, title, text: me.errors.append(text))
        monkeypatch.setattr(Prompts, "save_path", lambda self, d, s: me.save_path)
        monkeypatch.setattr(Prompts, "locate_file", lambda self, d, t: me.locate)
        monkeypatch.setattr(Prompts, "bookmark_name", lambda self, default: me.bookmark or default)
        monkeypatch.setattr(Prompts, "ask_save_changes", lambda self, text: "discard")


@pytest.fixture
def answers(monkeypatch):
    return Answers(monkeypatch)


@pytest.fixture(scope="module")
def win(qapp):
    clean_sessions()
    w = open_window()
    assert settled(w)
    yield w
    close_window(w)
    clean_sessions()


def layer_state(stack) -> list[tuple]:
    return [(lyr.id, lyr.title, lyr.visible, round(lyr.opacity, 3), json.dumps(lyr.style, sort_keys=True, ensure_ascii=False))
            for lyr in stack]


# ---------------------------------------------------------------------------
# Settings and session files stay in the tests' home


def test_settings_and_autosave_live_under_the_test_home(win):
    ctl = win.workspace
    config_home = os.path.realpath(os.environ["XDG_CONFIG_HOME"])
    data_home = os.path.realpath(os.environ["XDG_DATA_HOME"])
    assert os.path.realpath(ctl.settings.fileName()).startswith(config_home + os.sep), ctl.settings.fileName()
    assert str(os.path.realpath(ctl.autosave_path)).startswith(data_home + os.sep)
    assert ctl.lock_path.exists() and ctl.lock.isLocked()
    assert wait_until(lambda: ctl.autosave_path.exists(), 5000)
    assert wsc.load_workspace(ctl.autosave_path).extra["autosave"]["pid"] == os.getpid()


def test_menus_and_shortcuts(win):
    texts = {a.text(): a for a in win.file_menu.actions()}
    sc = {t: a.shortcut().toString() for t, a in texts.items()}
    assert sc["打开工作空间… Open workspace…"] == "Ctrl+Shift+O"
    assert sc["保存工作空间 Save workspace"] == "Ctrl+S"
    assert sc["工作空间另存为… Save workspace as…"] == "Ctrl+Shift+S"
    assert "最近的工作空间 Recent workspaces" in texts
    quit_i = [a.text() for a in win.file_menu.actions()].index(win.act_quit.text())
    assert [a.text() for a in win.file_menu.actions()].index("保存工作空间 Save workspace") < quit_i
    assert win.act_bookmark_add.shortcut().toString() == "Ctrl+B"
    bar = [a.text() for a in win.menuBar().actions()]
    assert bar.index("书签 &Bookmarks") == bar.index("帮助 &Help") - 1


# ---------------------------------------------------------------------------
# Save → reopen in a fresh window


def test_save_then_reopen_in_a_fresh_window(qapp, tmp_path, answers, win):
    data = tmp_path / "project" / "data"
    parcels = write_parcels(data / "parcels.gpkg")
    stations = write_stations(data / "stations.geojson")
    w1 = open_window()
    try:
        assert settled(w1)
        ctl = w1.workspace
        p = add_user(w1, parcels, "user_1", "地块 Parcels", layer="parcels")
        add_user(w1, stations, "user_2", "站点 Stations")
        st = w1.stack
        st.set_style("user_1", with_labels(style_categorical(p, "用地"), "名称"))
        st.set_opacity("user_1", 0.55)
        st.set_visible("user_2", False)
        st.move("user_2", 3)
        st.set_visible("demo_startup_towns", True)
        st.set_opacity("base_county", 0.7)
        w1.explorer.select("user_1:1")
        w1.map.fit_bounds(120.05, 30.15, 120.25, 30.3, 13)
        assert wait_until(lambda: ctl.view is not None and ctl.view.west > 119.9 and ctl.view.zoom >= 11)
        saved_view = ctl.view
        ctl.add_bookmark("西湖片区")
        ctl.add_bookmark("全省")
        assert ctl.modified and w1.isWindowModified()
        path = tmp_path / "project" / "plan.zjmap"
        assert ctl.save_to(path)
        assert not ctl.modified and ctl.path == path
        before = layer_state(st)
        marks = list(ctl.bookmarks)
        sel = w1.explorer.selection.state
        on_disk = json.loads(path.read_text(encoding="utf-8"))
        assert next(e for e in on_disk["layers"] if e["id"] == "user_1")["source"]["path"] == "data/parcels.gpkg"
    finally:
        close_window(w1)

    # a fresh window reopens the last workspace by itself
    w2 = open_window()
    try:
        assert settled(w2)
        ctl2 = w2.workspace
        assert ctl2.path == path and not ctl2.modified
        assert layer_state(w2.stack) == before
        assert w2.stack.layer("user_1").style["label_field"] == "名称"
        assert ctl2.bookmarks == marks
        assert w2.explorer.selection.state.focus == sel.focus == "user_1:1"
        assert wait_until(lambda: ctl2.view is not None and ctl2.view.zoom == saved_view.zoom
                          and abs(ctl2.view.center[0] - saved_view.center[0]) < 1e-3
                          and abs(ctl2.view.center[1] - saved_view.center[1]) < 1e-3), (ctl2.view, saved_view)
        assert str(path) == ctl2.recent()[0]
        assert "plan.zjmap" in w2.windowTitle()
        # New: back to the shipped map, no bookmarks, no file
        assert ctl2.new_workspace(ask=False)
        assert "user_1" not in w2.stack and ctl2.bookmarks == [] and ctl2.path is None
        assert w2.stack.layer("demo_startup_towns").visible is False
        assert w2.stack.layer("base_county").opacity == 1.0
    finally:
        close_window(w2)
    assert answers.errors == []


# ---------------------------------------------------------------------------
# Bad files


def _good(tmp_path: Path) -> str:
    return wsc.dumps(wsc.Workspace(bookmarks=[wsc.Bookmark("甲", wsc.View(120, 30, 121, 31, 9))]), tmp_path)


@pytest.mark.parametrize("case,text,expect", [
    ("truncated", lambda t: t[: len(t) // 2], "is truncated"),
    ("corrupt", lambda t: t.replace('"layers"', "layers", 1), "is damaged: it is not valid JSON at line"),
    ("future", lambda t: t.replace(f'"version": {wsc.VERSION}', '"version": 7', 1),
     "was saved by a newer version of zjmap (workspace format version 7"),
])
def test_bad_workspace_files_are_reported_and_never_touched(win, tmp_path, answers, case, text, expect):
    ctl = win.workspace
    path = tmp_path / f"{case}.zjmap"
    raw = text(_good(tmp_path)).encode("utf-8")
    path.write_bytes(raw)
    state = layer_state(win.stack)
    assert not ctl.open_path(path, ask=False)
    assert expect in answers.errors[-1] and path.name in answers.errors[-1]
    assert ctl.messages[-1] == answers.errors[-1]
    assert ctl.path != path and layer_state(win.stack) == state
    # whatever the app writes next does not go to that file
    ctl.autosave_now()
    answers.save_path = None
    ctl.save()
    assert path.read_bytes() == raw
    if case == "future":
        # even when the session points at it (say recovered from an autosave), saving refuses
        assert not ctl.save_to(path)
        assert "will not overwrite" in answers.errors[-1]
        ctl.path = path
        assert not ctl.save()
        ctl.path = None
        assert path.read_bytes() == raw
    assert not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------------------
# Missing layers


def test_a_missing_layer_file_is_listed_and_the_others_load(win, tmp_path, answers):
    ctl = win.workspace
    data = tmp_path / "data"
    parcels = write_parcels(data / "parcels.gpkg")
    stations = write_stations(data / "stations.geojson")
    add_user(win, parcels, "user_1", "地块")
    add_user(win, stations, "user_2", "站点")
    win.stack.move("user_2", 2)
    path = tmp_path / "two.zjmap"
    assert ctl.save_to(path)
    order = win.stack.ids()
    moved = tmp_path / "elsewhere" / "车站.geojson"
    moved.parent.mkdir()
    os.replace(stations, moved)

    assert ctl.new_workspace(ask=False) and "user_1" not in win.stack
    assert ctl.open_path(path, ask=False)
    assert settled(win)
    assert "user_1" in win.stack and "user_2" not in win.stack
    assert [p.entry.id for p in ctl.last_report.missing] == ["user_2"]
    dlg = ctl.missing_dialog
    assert dlg is not None and dlg.isVisible()
    assert dlg.paths() == [str(stations)]
    assert "File not found" in dlg.rows["user_2"]["status"].text()
    # saving now keeps the missing layer in the file
    assert ctl.save_to(path)
    assert "user_2" in [e["id"] for e in json.loads(path.read_text(encoding="utf-8"))["layers"]]
    # Locate… the file where it is now: it comes back at its place
    answers.locate = str(moved)
    job = dlg.locate(dlg.rows["user_2"]["problem"])
    assert job is not None and wait_until(lambda: job.done and "user_2" in win.stack, 15000)
    assert win.stack.ids() == order
    assert "Restored" in dlg.rows["user_2"]["status"].text()
    assert not dlg.rows["user_2"]["locate"].isEnabled()
    assert ctl.pending == [] and ctl.modified
    assert ctl.save_to(path)
    src = next(e for e in json.loads(path.read_text(encoding="utf-8"))["layers"] if e["id"] == "user_2")["source"]
    assert src["path"] == "elsewhere/车站.geojson"
    dlg.close()
    ctl.new_workspace(ask=False)


# ---------------------------------------------------------------------------
# Bookmarks


def test_bookmarks_add_jump_rename_delete(win, answers):
    ctl = win.workspace
    ctl.new_workspace(ask=False)
    win.map.fit_bounds(120.8, 30.7, 121.0, 30.9, 13)
    assert wait_until(lambda: ctl.view is not None and ctl.view.west > 120.5)
    answers.bookmark = "嘉善"
    win.act_bookmark_add.trigger()
    assert [b.name for b in ctl.bookmarks] == ["嘉善"] and ctl.modified
    target = ctl.bookmarks[0].view
    win.bookmarks_menu.aboutToShow.emit()
    jump = next(a for a in win.bookmarks_menu.actions() if a.text() == "嘉善")
    win.zoom_home()
    assert wait_until(lambda: ctl.view.zoom < 10)
    jump.trigger()
    assert wait_until(lambda: ctl.view.zoom == target.zoom and abs(ctl.view.center[0] - target.center[0]) < 1e-3)
    # the default name is the place at the centre of the view
    answers.bookmark = None
    ctl.add_bookmark()
    assert ctl.bookmarks[1].name == "嘉善县"
    win.act_bookmark_manage.trigger()
    dlg = ctl._bookmarks_dialog
    assert dlg.list.count() == 2
    dlg.list.item(1).setText("嘉善县城")
    assert ctl.bookmarks[1].name == "嘉善县城"
    dlg.list.setCurrentRow(0)
    dlg._delete()
    assert [b.name for b in ctl.bookmarks] == ["嘉善县城"] and dlg.list.count() == 1
    dlg.close()
    ctl.new_workspace(ask=False)
    assert ctl.bookmarks == []


# ---------------------------------------------------------------------------
# Crash recovery: SIGKILL a real app process, start again


HOLDER = (
    "import sys, time\n"
    "from PySide6.QtCore import QCoreApplication, QLockFile\n"
    "app = QCoreApplication([])\n"
    "lf = QLockFile(sys.argv[1]); lf.setStaleLockTime(0)\n"
    "print(lf.tryLock(0), flush=True); time.sleep(60)\n"
)


def test_a_running_instance_is_not_taken_for_a_crash(win, tmp_path):
    """Another zjmap still running holds its lock: its autosave is not offered.
    An autosave without a lock, and a temporary file of a cut-short write, are."""
    sdir = wa.sessions_dir()
    good = wsc.dumps(wsc.Workspace(), None)
    (sdir / "session-live-1.zjmap").write_text(good, encoding="utf-8")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(sdir / "session-live-1.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "True"
        (sdir / "session-orphan-2.zjmap").write_text(good, encoding="utf-8")
        (sdir / ".session-orphan-2.zjmap.abc123.tmp").write_text(good[:10], encoding="utf-8")
        cands = win.workspace._crashed_sessions()
        assert [c.autosave.name for c in cands] == ["session-orphan-2.zjmap"]
        assert not (sdir / ".session-orphan-2.zjmap.abc123.tmp").exists()
        assert (sdir / "session-live-1.lock").exists()
    finally:
        holder.kill()
        holder.wait(10)
    # once that process is gone, its session counts as crashed
    cands = win.workspace._crashed_sessions()
    assert sorted(c.autosave.name for c in cands) == ["session-live-1.zjmap", "session-orphan-2.zjmap"]
    for c in cands:
        if c.lock is not None:
            c.lock.unlock()
        c.autosave.unlink()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_sigkill_then_restart_offers_the_autosaved_work(qapp, tmp_path, answers, win):
    data = tmp_path / "data"
    parcels = write_parcels(data / "parcels.gpkg")
    stations = write_stations(data / "stations.geojson")
    ws = wsc.Workspace(
        layers=[
            wsc.LayerEntry("user_1", "user", True, 0.8, {"kind": "single", "color": "#123456"}, "地块",
                           wsc.LayerSource(str(parcels), "parcels")),
            wsc.LayerEntry("user_2", "user", True, 1.0, None, "站点", wsc.LayerSource(str(stations))),
        ],
        view=wsc.View(120.0, 30.1, 120.5, 30.4, 11),
        bookmarks=[wsc.Bookmark("甲", wsc.View(120.1, 30.2, 120.2, 30.3, 13)), wsc.Bookmark("乙", wsc.View(118, 27, 123, 31, 7))],
    )
    plan = tmp_path / "plan.zjmap"
    wsc.save_workspace(ws, plan)

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")  # the same (test) XDG homes
    log = open(tmp_path / "app.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "zjmap", "--workspace", str(plan)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    sdir = wa.sessions_dir()

    def autosaved():
        for p in sdir.glob(f"session-{proc.pid}-*.zjmap"):
            try:
                d = json.loads(p.read_text(encoding="utf-8"))
            except ValueError:
                return None
            ids = [e["id"] for e in d["layers"]]
            if ("user_1" in ids and "user_2" in ids and [b["name"] for b in d["bookmarks"]] == ["甲", "乙"]
                    and (d.get("view") or {}).get("zoom") == 11):
                return p
        return None

    try:
        deadline = time.monotonic() + 60
        while autosaved() is None and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if autosaved() is None:
            found = {p.name: p.read_text(encoding="utf-8", errors="replace")[-1500:] for p in sdir.glob("*.zjmap")}
            pytest.fail(f"no autosave with the workspace; running={proc.poll() is None}; sessions: {found}\n"
                        + (tmp_path / "app.log").read_text(errors="replace")[-3000:])
        lock = next(sdir.glob(f"session-{proc.pid}-*.lock"))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its QtWebEngine helpers too
        except ProcessLookupError:
            pass
        proc.wait(10)
        log.close()
    assert lock.exists()  # the "running" marker survived: the app did not exit cleanly

    # the saved workspace changes afterwards: recovery must give the autosave, not the file
    wsc.save_workspace(wsc.Workspace(layers=[ws.layers[0]]), plan)

    answers.restore = True
    w = open_window()
    try:
        assert settled(w)
        ctl = w.workspace
        assert len(answers.asked) == 1 and "did not shut down properly" in answers.asked[0]
        assert "plan.zjmap" in answers.asked[0]
        assert "user_1" in w.stack and "user_2" in w.stack
        assert w.stack.layer("user_1").opacity == 0.8
        assert w.stack.layer("user_1").style["color"] == "#123456"
        assert [b.name for b in ctl.bookmarks] == ["甲", "乙"]
        assert ctl.path == plan and ctl.modified
        assert wait_until(lambda: ctl.view is not None and ctl.view.zoom == 11)
        assert not lock.exists()
        assert list(wa.recovered_dir().glob("recovered-*.zjmap"))  # kept aside, not lost
    finally:
        close_window(w)
    # a clean exit leaves no marker: the next start asks nothing
    answers.asked.clear()
    w = open_window()
    try:
        assert settled(w)
        assert answers.asked == []
    finally:
        close_window(w)


def save_db_workspace(win, tmp_path, pg, monkeypatch) -> tuple[Path, str]:
    """A workspace of a password-protected PostGIS layer (``user_1``, the
    real server of conftest's ``pg``) and a file layer (``user_2``), saved;
    with the server's key (the password is kept in session memory only: no
    test password in a keyring)."""
    from pgserver import PASSWORD
    from zjmap.core import pgpasswords
    from zjmap.core.pgsource import parse_pg

    monkeypatch.setattr(pgpasswords, "_keyring", lambda: None)
    ctl = win.workspace
    assert ctl.new_workspace(ask=False)
    uri = pg.uri.replace("postgres@", f"postgres:{PASSWORD}@") + "?table=public.parcels"
    win.stack.add(user_layer(read_layer(uri), "user_1", title="地块 parcels", source={"path": uri}))
    add_user(win, write_stations(tmp_path / "stations.geojson"), "user_2", "站点")
    path = tmp_path / "db.zjmap"
    assert ctl.save_to(path)
    return path, parse_pg(pg.uri)[0].server_key


def typed_passwords(monkeypatch, asked: list[str]):
    """``typed(answer)``: the workspace's password prompt answers ``answer`` from now on; each question goes to ``asked``."""
    def typed(answer):
        monkeypatch.setattr(Prompts, "password", lambda self, message: (asked.append(message), answer)[1])
    return typed


def test_a_database_layer_asks_for_its_password_once(win, tmp_path, pg, monkeypatch):
    """A workspace with a password-protected PostGIS layer (the real server of
    conftest's ``pg``): the password is asked once per server and session, never
    saved; cancelled or wrong, the layer is listed with a plain reason."""
    from pgserver import PASSWORD
    from zjmap.core import postgis

    ctl = win.workspace
    path, key = save_db_workspace(win, tmp_path, pg, monkeypatch)
    raw = path.read_text(encoding="utf-8")
    assert PASSWORD not in raw and "postgresql://postgres@127.0.0.1" in raw
    want = pg.sql("SELECT count(*) FROM parcels")[0][0]
    asked: list[str] = []
    typed = typed_passwords(monkeypatch, asked)

    # a new session remembers nothing: the planner types the password once
    postgis.forget_password(key)
    typed(PASSWORD)
    assert ctl.new_workspace(ask=False) and "user_1" not in win.stack
    assert ctl.open_path(path, ask=False) and settled(win)
    assert len(asked) == 1 and "needs a password" in asked[0]
    assert len(win.stack.layer("user_1").features) == want == 3000
    assert "user_2" in win.stack and ctl.last_report.problems == [] and ctl.missing_dialog is None
    assert PASSWORD not in path.read_text(encoding="utf-8")
    # opened again in the same session: not asked again
    assert ctl.open_path(path, ask=False) and settled(win)
    assert len(asked) == 1 and len(win.stack.layer("user_1").features) == want

    # cancelled: listed as a problem that says why, the other layer restored
    postgis.forget_password(key)
    typed(None)
    assert ctl.open_path(path, ask=False) and settled(win)
    assert len(asked) == 2 and "user_1" not in win.stack and "user_2" in win.stack
    [p] = ctl.last_report.problems
    assert p.entry.id == "user_1" and not p.missing and "needs a password" in p.reason
    assert "needs a password" in ctl.missing_dialog.rows["user_1"]["status"].text()

    # a wrong password: asked once, then listed in plain words
    typed("not-the-password")
    assert ctl.open_path(path, ask=False) and settled(win)
    assert len(asked) == 3 and "user_1" not in win.stack and "user_2" in win.stack
    [p] = ctl.last_report.problems
    assert "needs the right password" in p.reason
    ctl.missing_dialog.close()
    assert ctl.new_workspace(ask=False)


def test_locating_a_database_layer_asks_for_its_password(win, tmp_path, pg, monkeypatch, answers):
    """Missing layers → Locate… of a PostGIS layer whose password was not
    given (the real server of conftest's ``pg``): the saved connection is
    offered (no password in it), the server's password is asked through the
    app's one prompt, and the layer comes back at its saved place; a wrong
    password says so in its row and the layer stays missing."""
    from pgserver import PASSWORD
    from zjmap.core import postgis

    ctl = win.workspace
    path, key = save_db_workspace(win, tmp_path, pg, monkeypatch)
    order = win.stack.ids()
    asked: list[str] = []
    typed = typed_passwords(monkeypatch, asked)
    offered: list[str] = []
    monkeypatch.setattr(Prompts, "locate_source", lambda self, current, title: (offered.append(current), current)[1])
    postgis.forget_password(key)
    typed(None)  # cancelled at open: listed as missing
    assert ctl.open_path(path, ask=False) and settled(win)
    assert "user_1" not in win.stack and len(asked) == 1
    row = ctl.missing_dialog.rows["user_1"]

    # a wrong password typed at Locate…: the row says so, the layer stays out
    typed("not-the-password")
    row["locate"].click()
    assert settled(win)
    assert offered == [pg.uri + "?table=public.parcels"] and PASSWORD not in offered[0]
    assert len(asked) == 2 and "needs a password" in asked[1]
    assert "user_1" not in win.stack and row["status"].text().startswith("✗")
    assert "needs the right password" in row["status"].text() and row["locate"].isEnabled()

    # the right one: asked once more, read from the server, back at its place
    typed(PASSWORD)
    row["locate"].click()
    assert settled(win) and wait_until(lambda: "user_1" in win.stack)
    assert len(asked) == 3 and "needs a password" in asked[2]  # the wrong one was not kept
    assert len(win.stack.layer("user_1").features) == pg.sql("SELECT count(*) FROM parcels")[0][0]
    assert win.stack.ids() == order
    assert row["status"].text().startswith("✓") and PASSWORD not in row["status"].text()
    assert not row["locate"].isEnabled()
    assert ctl.pending == [] and ctl.modified
    assert ctl.save_to(path) and PASSWORD not in path.read_text(encoding="utf-8")
    ctl.missing_dialog.close()
    assert ctl.new_workspace(ask=False)


def test_a_password_remembered_in_the_keyring(win, tmp_path, pg, monkeypatch, file_keyring):
    """The one prompt's "remember in the system keyring" (a real keyring backend:
    keyrings.alt's file keyring, conftest ``file_keyring``) with the real server of
    conftest's ``pg``: ticked, the password goes to the keyring and not to the
    workspace; a new session opens the layer without asking; a stored password
    the server refuses brings the one prompt back, once."""
    from PySide6.QtWidgets import QDialog

    from pgserver import PASSWORD
    from zjmap.core import pgpasswords, postgis
    from zjmap.qt import prompts

    real_keyring = pgpasswords._keyring
    ctl = win.workspace
    path, key = save_db_workspace(win, tmp_path, pg, monkeypatch)
    monkeypatch.setattr(pgpasswords, "_keyring", real_keyring)  # the file keyring from here on
    want = pg.sql("SELECT count(*) FROM parcels")[0][0]
    asked: list[str] = []

    def typing(answer: str | None, remember: bool) -> None:
        """The real PasswordDialog, typed into and ticked; only its modal loop is skipped."""
        def exec_(dlg):
            asked.append(dlg.findChild(prompts.QLabel).text())
            assert dlg.remember.isEnabled()  # a keyring is there: remembering is offered
            if answer is None:
                dlg.reject()
                return dlg.result()
            dlg.field.setText(answer)
            if remember:
                dlg.remember.click()
            dlg.buttons.button(dlg.buttons.StandardButton.Ok).click()
            return dlg.result()
        monkeypatch.setattr(prompts.PasswordDialog, "exec", exec_)

    monkeypatch.setattr(prompts, "headless", lambda: False)  # the prompt is shown (its loop is exec_)
    stored = lambda: file_keyring.get_password(pgpasswords.KEYRING_SERVICE, key)  # noqa: E731
    postgis.forget_password(key)
    assert stored() is None
    typing(PASSWORD, remember=True)
    assert ctl.new_workspace(ask=False) and ctl.open_path(path, ask=False) and settled(win)
    assert len(asked) == 1 and "needs a password" in asked[0]
    assert len(win.stack.layer("user_1").features) == want and ctl.last_report.problems == []
    assert stored() == PASSWORD
    assert ctl.save_to(path) and PASSWORD not in path.read_text(encoding="utf-8")

    # a new session: nothing in memory, the keyring has it; not asked
    postgis.forget_password(key)
    typing(None, remember=False)
    assert ctl.new_workspace(ask=False) and ctl.open_path(path, ask=False) and settled(win)
    assert len(asked) == 1 and len(win.stack.layer("user_1").features) == want
    assert ctl.last_report.problems == []

    # the stored password is wrong now (changed on the server): the one prompt asks again, once
    file_keyring.set_password(pgpasswords.KEYRING_SERVICE, key, "not-the-password")
    postgis.forget_password(key)
    typing(PASSWORD, remember=True)
    assert ctl.new_workspace(ask=False) and ctl.open_path(path, ask=False) and settled(win)
    assert len(asked) == 2 and "needs the right password" in asked[1]
    assert len(win.stack.layer("user_1").features) == want and ctl.last_report.problems == []
    assert stored() == PASSWORD  # the right one replaced it
    raw = path.read_text(encoding="utf-8")
    assert PASSWORD not in raw and "not-the-password" not in raw
    assert ctl.new_workspace(ask=False)
