"""Load benchmark: a big planner's file from disk to map, then pan, zoom and click.

    python benchmarks/load.py                     # 100,000 irregular polygons, GBK .shp without .cpg
    python benchmarks/load.py --n 1000000 --gpkg  # 1,000,000 of them (25 M vertices) in a GeoPackage
    python benchmarks/load.py --points [--gpkg]   # 1,000,000 points, a lon/lat CSV (or a GeoPackage)
    python benchmarks/load.py --path FILE         # any file
    (--shape squares|hex: the old regular grids; --utf8: a UTF-8 .shp with .cpg;
     --eager: a shapely shape per row, the way before zjmap.core.lazygeom; --no-reopen: no cache reopen)

Generates the file (benchmarks/make_big_shapefile.py) into a temp dir if it
is missing, then prints, with the targets of issue 16 beside them:

* the reference: seconds for plain ``pyogrio.read_dataframe`` (in a separate
  process so it does not inflate this one's memory; best of ``--repeat`` at
  the start and of one more right before each load, as the machine's speed drifts);
* seconds from ``add_layer_from_path`` (what File → Add layer… and a drop
  call) until the page reports the layer drawn (the first picture): polled
  through ``runJavaScript("ZJ.bigStats(id)")``, no bridge involved; with the
  split read / prepare / add+draw;
* milliseconds per pan (``map.panBy`` 300×150 px) and per zoom step
  (``setZoom`` ±1) including the canvas redraw, measured in the page with
  ``performance.now()`` to the second animation frame after it;
* memory: what the layer adds to this process (resident after the load less
  before it, and the peak less before it) and the QtWebEngine helpers' total;
* click on a feature → side panel: once right after the layer is drawn (what
  identify builds in the background may still be under way), three times
  after the pans; the target holds for every click, the first included.

Targets (issue 16): 100,000 polygons add ≤ 300 MB, web engine ≤ 400 MB, on the
map within 1.5 s or 2 × plain read + 0.5 s, pans and zooms < 100 ms;
1,000,000 points: ≤ 3 s, ≤ 500 MB, pans/zooms < 150 ms, click < 100 ms;
1,000,000 polygons: ≤ 2 GB added, first picture ≤ 10 s, pans/zooms < 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from make_big_shapefile import default_path, make_big_shapefile, make_points, points_path  # noqa: E402

PLAIN_READ = """
import json, sys, time, resource, pyogrio
import geopandas, shapely  # imported inside read_dataframe otherwise: not reading time
best = 1e9
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    df = pyogrio.read_dataframe(sys.argv[1], encoding=sys.argv[3] or None, **json.loads(sys.argv[4]))
    best = min(best, time.perf_counter() - t)
    del df
print(best, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def plain_read(path: Path, repeat: int, encoding: str | None) -> tuple[float, float]:
    # a CSV's point columns named as GDAL's CSV driver wants them
    opts = {"X_POSSIBLE_NAMES": "lon,lng,经度", "Y_POSSIBLE_NAMES": "lat,纬度"} if path.suffix.lower() == ".csv" else {}
    out = subprocess.run(
        [sys.executable, "-c", PLAIN_READ, str(path), str(repeat), encoding or "", json.dumps(opts)],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    return float(out[0]), float(out[1]) / 1024


def rss_mb(pid: int, key: str = "VmHWM") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size: the helpers are forked from one zygote and share
    most of their pages, which a sum of resident sizes counts once per process."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def renderer_pids() -> list[int]:
    me = os.getpid()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = (d / "status").read_text()
        except OSError:
            continue
        ppid = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("PPid:")), 0)
        # renderers are forked from a zygote and keep its command line: take every helper of ours
        if "QtWebEngineProcess" in cmd and _descends(ppid, me):
            out.append(int(d.name))
    return out


def _descends(pid: int, ancestor: int) -> bool:
    for _ in range(10):
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
        pid = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("PPid:")), 0)
    return False


def steps(win, layer_id: str | None, n: int) -> tuple[list[dict], list[dict]]:
    """Time ``n`` pans and ``n`` zoom steps (plus a deep zoom and pan: the
    full-resolution band) from Zhejiang's full view."""
    from guitools import js, wait_until

    z0 = js(win.map, "ZJ.map.getZoom()")

    def step(what: str, arg) -> dict:
        win.map.page().runJavaScript(f"ZJ.benchStep({json.dumps(what)}, {json.dumps(arg)})")
        res: dict = {}

        def done() -> bool:
            box: dict = {}
            win.map.page().runJavaScript("ZJ.benchResult", 0, lambda r: box.setdefault("r", r))
            wait_until(lambda: "r" in box, 5000, 2)
            if box.get("r"):
                res.update(json.loads(box["r"]))
                return True
            return False

        assert wait_until(done, 10_000, 5)
        res["draw"] = js(win.map, f"JSON.parse(ZJ.bigStats({json.dumps(layer_id)})).lastMs") if layer_id else 0.0
        return res

    pans, zooms = [], []
    dirs = [[300, 150], [-300, -150], [-300, 150], [300, -150]]
    for i in range(n):
        pans.append(step("pan", dirs[i % 4]))
    zs = [z0 + 1, z0 + 2, z0 + 3, z0 + 2, z0 + 1, z0, z0 + 1, z0]
    for i in range(n):
        zooms.append(step("zoom", zs[i % len(zs)]))
    # deep zoom: the full-resolution band
    zooms += [step("zoom", z0 + 5), step("zoom", z0 + 6)]
    pans += [step("pan", [200, 100])]
    return pans, zooms


def bench_file(args: argparse.Namespace) -> tuple[Path, str | None]:
    """The file to load (generated if missing) and the encoding to give the plain read."""
    if args.path is not None:
        return args.path, None
    if args.points:
        n = args.n or 1_000_000
        path = points_path(n, ".gpkg" if args.gpkg else ".csv")
        if not path.exists():
            t = time.perf_counter()
            make_points(path, n)
            print(f"generated {path} in {time.perf_counter() - t:.1f} s")
        return path, None
    n = args.n or 100_000
    gbk = not args.utf8 and not args.gpkg
    path = default_path(n, args.shape, gbk, ".gpkg" if args.gpkg else ".shp")
    if not path.exists():
        t = time.perf_counter()
        make_big_shapefile(path, n, gbk=gbk, shape=args.shape)
        print(f"generated {path} in {time.perf_counter() - t:.1f} s")
    return path, "GBK" if gbk else None


def targets(n: int, kind: str, floor: float) -> dict[str, float]:
    """Issue 16's targets for a layer of ``n`` features of ``kind``."""
    if kind == "point":
        return {"on_map": 3.0, "added_mb": 500, "web_mb": 400, "step_ms": 150, "click_ms": 100}
    if n >= 500_000:
        return {"on_map": 10.0, "added_mb": 2048, "web_mb": 1536, "step_ms": 200, "click_ms": 100}
    return {"on_map": max(1.5, 2 * floor + 0.5), "added_mb": 300, "web_mb": 400, "step_ms": 100, "click_ms": 100}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None, help="features (default 100,000 polygons / 1,000,000 points)")
    ap.add_argument("--shape", choices=("irregular", "squares", "hex"), default="irregular")
    ap.add_argument("--utf8", action="store_true", help="a UTF-8 shapefile with .cpg (default GBK without .cpg)")
    ap.add_argument("--gpkg", action="store_true", help="a GeoPackage instead of a shapefile / CSV")
    ap.add_argument("--points", action="store_true", help="points (a lon/lat CSV, or --gpkg)")
    ap.add_argument("--repeat", type=int, default=3, help="plain reads (best of)")
    ap.add_argument("--path", type=Path, default=None, help="benchmark this file instead of a generated one")
    ap.add_argument("--steps", type=int, default=8, help="pans and zooms to time")
    ap.add_argument("--loads", type=int, default=None,
                    help="load the file this many times, report the fastest (default 3; 1 for a million features)")
    ap.add_argument("--verbose", action="store_true", help="every step: ms to frame / synchronous / canvas redraw")
    ap.add_argument("--eager", action="store_true",
                    help="a shapely shape per row, as before the lazy geometry (zjmap.core.lazygeom): the old way to compare")
    ap.add_argument("--no-reopen", action="store_true", help="skip the reopening from the cache (a second read)")
    args = ap.parse_args()
    path, encoding = bench_file(args)
    big = (args.n or (1_000_000 if args.points else 100_000)) >= 500_000
    loads = args.loads or (1 if big else 3)
    repeat = 1 if big and args.repeat == 3 else args.repeat

    floor, plain_rss = plain_read(path, repeat, encoding)

    from zjmap.qt.app import make_application

    app = make_application(["zjmap-bench"])
    from PySide6.QtCore import QEventLoop, QTimer
    from guitools import close_window, js, open_window, spin, wait_until  # noqa: E402
    from zjmap.qt.userlayers import add_layer_from_path

    win = open_window()
    win.zoom_home()
    spin(300)
    base_pans, base_zooms = steps(win, None, args.steps)
    win.zoom_home()
    spin(300)
    import gc

    from zjmap.core.memory import release_free_memory

    # the file readers (GDAL, Arrow, geopandas) are imported once a session, when
    # the file dialog opens or a file is dragged in: not the layer's memory
    rss_bare = rss_mb(os.getpid(), "VmRSS")
    from zjmap.qt.userlayers import warm_up_reading

    warm_up_reading()
    import zjmap.core.userfiles  # noqa: F401  (waits for the warm-up's import)

    release_free_memory()
    rss_before = rss_mb(os.getpid(), "VmRSS")
    rend_before = sum(pss_mb(p) for p in renderer_pids())

    def load_once() -> tuple[float, Any, dict]:
        """Seconds from add_layer_from_path until the page reports the layer drawn."""
        t0 = time.perf_counter()
        task = add_layer_from_path(win.user_layers, path)
        stats: dict = {}
        # wait for the read without waking Python every few ms (a polling
        # loop here would take the GIL from the loading thread again and again)
        if not task.done:
            loop = QEventLoop()
            task.finished.connect(loop.quit)
            QTimer.singleShot(300_000, loop.quit)
            loop.exec()

        def drawn() -> bool:
            if task.status != "loaded":  # failed or cancelled
                return task.done
            box: dict = {}

            def answered(r) -> None:
                box["at"] = time.perf_counter()
                box.setdefault("r", r)

            win.map.page().runJavaScript(f"ZJ.bigStats && ZJ.bigStats({json.dumps(task.layer_id)})", 0, answered)
            if not wait_until(lambda: "r" in box, 5000, 2):
                return False
            got = json.loads(box["r"]) if box["r"] else None
            # its own arrays drawn (the chunks drawn while it was read came first: firstDrawAgo)
            if got and got.get("loaded") and got.get("draws", 0) >= 1:
                stats.update(got)
                if got.get("firstDrawAgo") is not None:
                    stats["first"] = box["at"] - got["firstDrawAgo"] / 1000 - t0
                return True
            return False

        assert wait_until(drawn, 300_000, 5), f"layer never drawn: {task.status} {task.message} {win.map.js_errors}"
        on_map = time.perf_counter() - t0
        if task.status != "loaded":
            raise SystemExit(f"load failed: {task.status}: {task.message}")
        stats["t0"] = t0
        return on_map, task, stats

    # the machine's load varies: load several times (each replacing the last), keep the fastest;
    # each one reads the file (the cache for reopening is timed on its own at the end)
    from zjmap.core import layercache, userfiles

    layercache.enabled = False
    if args.eager:
        userfiles.LAZY_MIN_FEATURES = None
    runs = []
    floors = [floor]
    for i in range(max(1, loads)):
        if runs:
            win.user_layers.remove(runs[-1][1].layer_id)
            gc.collect()
            spin(300)
        if loads > 1:
            # the floor again right before each load: this machine's speed drifts,
            # and the best load is compared with the best plain read of the same stretch
            f, _rss = plain_read(path, 1, encoding)
            floors.append(f)
        runs.append(load_once())
    all_loads = [r[0] for r in runs]
    floor = min(floors)
    on_map, task, stats = min(runs, key=lambda r: r[0])
    if task is not runs[-1][1]:  # keep the last one loaded for the pans and zooms
        task = runs[-1][1]
    t0 = stats["t0"]
    best = min(runs, key=lambda r: r[0])
    tm = best[1].timings
    layer = win.stack.layer(task.layer_id)
    got: list[str] = []
    click_core: list[float] = []  # ms of each click spent in Python (hit-test, selection, panel)
    win.panel_updated.connect(got.append)
    nfeat = len(layer.features)

    def clear_of_others(k: int) -> int:
        """``k``, or the next feature whose point no other layer's feature
        covers at this zoom: a click there shows the symbol drawn over the
        parcel (a cluster's disc at zoom 7 covers dozens of a million
        parcels), which is right, and not what is timed here."""
        from zjmap.core.display import degrees_per_pixel

        tol = degrees_per_pixel(js(win.map, "ZJ.map.getZoom()")) * 10
        others = [f.geometry for lyr in win.stack.visible_layers() if lyr.kind != "base" and lyr.id != layer.id
                  for f in lyr.features]
        for j in range(k, k + 200):
            p = layer.features[j % nfeat].geometry.representative_point()
            if not others or min(g.distance(p) for g in others) > tol:
                return j % nfeat
        return k

    def click_on(k: int) -> tuple[float, bool]:
        """ms from a click fired in the page on feature ``k`` (or the next one clear of other
        layers' symbols) to the side panel showing it."""
        k = clear_of_others(k)
        f = layer.features[k]
        p = f.geometry.representative_point()
        n = len(got)
        t = time.perf_counter()
        win.map.page().runJavaScript(f"ZJ.map.fire('click', {{latlng: L.latLng({p.y}, {p.x})}})")
        assert wait_until(lambda: len(got) > n, 20_000, 1)
        click_core.append(win.last_click_ms or 0.0)
        return (time.perf_counter() - t) * 1000, win.panel.current_id == f.id

    # the first click, as soon as the layer is drawn: whatever identify builds
    # in the background after a layer is shown may still be under way
    clicks = [click_on(nfeat // 5)]  # not one of the later three (a click on the selected feature changes nothing)
    # layers of millions of vertices get their zoom bands after they are shown
    bands_after = None
    if layer.display.bands_pending:
        done: list[str] = []
        win.user_layers.bands_added.connect(done.append)
        tb = time.perf_counter()
        assert wait_until(lambda: task.layer_id in done, 300_000, 20), "zoom bands never arrived"
        key = layer.display.arrays.key
        assert wait_until(lambda: js(win.map, f"JSON.parse(ZJ.bigStats({json.dumps(task.layer_id)})).key") == key, 60_000)
        bands_after = time.perf_counter() - tb
    disp = layer.display.arrays
    gc.collect()
    spin(300)
    rss_after = rss_mb(os.getpid(), "VmRSS")  # the app releases the load's free memory itself

    # pans and zooms, each timed in the page (redraw is synchronous on moveend)
    win.zoom_home()
    spin(400)
    pans, zooms = steps(win, task.layer_id, args.steps)

    # identify on the big layer, later: click → side panel
    clicks += [click_on(k) for k in (50_000 % nfeat, nfeat // 3, (nfeat * 2) // 3)]

    py_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # reopening the unchanged file from the cache (zjmap.core.layercache)
    reopen = None
    layercache.enabled = True
    key = layercache.cache_key(path)
    if key and nfeat >= layercache.MIN_FEATURES and not args.no_reopen:
        import shutil

        shutil.rmtree(layercache.cache_root() / key, ignore_errors=True)  # a run before left one
        win.user_layers.remove(task.layer_id)
        _t, task, _s = load_once()  # read once more: this one is kept in the cache once its bands exist
        if wait_until(lambda: (layercache.cache_root() / key).is_dir(), 300_000, 50):
            win.user_layers.remove(task.layer_id)
            gc.collect()
            spin(300)
            reopen, rtask, _rstats = load_once()
            if not rtask.from_cache:
                reopen = None
    rend = renderer_pids()
    rend_peak = sum(rss_mb(p) for p in rend)
    rend_rss = sum(rss_mb(p, "VmRSS") for p in rend)
    rend_now = sum(pss_mb(p) for p in rend)

    def med(xs, k):
        return statistics.median(x[k] for x in xs)

    def worst(xs, k):
        return max(x[k] for x in xs)

    tg = targets(nfeat, layer.geometry, floor)
    added = rss_after - rss_before
    pan_ms, zoom_ms = worst(pans, "frame"), worst(zooms, "frame")
    click_ms = max(c[0] for c in clicks)  # every click, the first included

    def verdict(ok: bool) -> str:
        return "OK" if ok else "MISSED"

    first = min(r[2].get("first", r[0]) for r in runs)  # the first picture (chunks drawn while reading)
    big_target = nfeat >= 500_000 and layer.geometry != "point"  # issue 16: the first picture of a million polygons
    oks = {
        "on_map": (first if big_target else on_map) <= tg["on_map"], "added": added <= tg["added_mb"], "web": rend_now <= tg["web_mb"],
        "pan": pan_ms < tg["step_ms"], "zoom": zoom_ms < tg["step_ms"], "click": click_ms < tg["click_ms"],
    }
    print(f"file: {path.name} ({path.stat().st_size / 1e6:.0f} MB): {nfeat:,} {layer.geometry} features, "
          f"{sum(disp.vertices()[-1:]):,} vertices drawn at full resolution; zoom bands {disp.bands} "
          f"(sets: {disp.vertices()} vertices)")
    print(f"{'measure':44s} {'measured':>12s}   {'target':>14s}")
    print(f"{'REFERENCE plain pyogrio.read_dataframe':44s} {floor:10.2f} s   (every read: {', '.join(f'{x:.2f}' for x in floors)})")
    print(f"{'first picture (chunks drawn while reading)':44s} {first:10.2f} s"
          + (f"   ≤ {tg['on_map']:10.2f} s  {verdict(oks['on_map'])}" if big_target else ""))
    print(f"{'on the map (add_layer_from_path → drawn)':44s} {on_map:10.2f} s"
          + ("" if big_target else f"   ≤ {tg['on_map']:10.2f} s  {verdict(oks['on_map'])}")
          + f"   ({on_map / floor:.1f}× the reference; the layer's own arrays drawn)")
    print(f"{'  every load (s)':44s} {', '.join(f'{x:.2f}' for x in all_loads)}")
    print(f"{'  of which read_layer':44s} {tm['read'] - tm['start']:10.2f} s")
    print(f"{'  of which prepare layer + display arrays':44s} {tm['built'] - tm['read']:10.2f} s")
    print(f"{'  of which stack.add (tree, payload, send)':44s} {tm['added'] - tm['built']:10.2f} s")
    print(f"{'  of which page: decode + first draw':44s} {t0 + on_map - tm['added']:10.2f} s  "
          f"(in page: add {stats.get('addMs', 0):.0f} ms, arrays read {stats.get('decodeMs', 0):.0f} ms after it, first draw {stats.get('lastMs', 0):.0f} ms)")
    if bands_after is not None:
        print(f"{'  zoom bands on the map (after the layer)':44s} {bands_after:10.2f} s later")
    print(f"{'pan, to next frame (median / worst)':44s} {med(pans, 'frame'):6.0f} / {pan_ms:3.0f} ms   < {tg['step_ms']:10.0f} ms  "
          f"{verdict(oks['pan'])}")
    print(f"{'  canvas redraw alone (median / worst)':44s} {med(pans, 'draw'):6.0f} / {worst(pans, 'draw'):3.0f} ms")
    print(f"{'  REFERENCE same pans without the layer':44s} {med(base_pans, 'frame'):6.0f} / {worst(base_pans, 'frame'):3.0f} ms")
    print(f"{'zoom step, to next frame (median / worst)':44s} {med(zooms, 'frame'):6.0f} / {zoom_ms:3.0f} ms   < {tg['step_ms']:10.0f} ms  "
          f"{verdict(oks['zoom'])}")
    print(f"{'  canvas redraw alone (median / worst)':44s} {med(zooms, 'draw'):6.0f} / {worst(zooms, 'draw'):3.0f} ms")
    print(f"{'  REFERENCE same zooms without the layer':44s} {med(base_zooms, 'frame'):6.0f} / {worst(base_zooms, 'frame'):3.0f} ms")
    print(f"{'  at zoom':44s} {', '.join(str(int(x['zoom'])) for x in zooms)}")
    print(f"{'memory the layer adds to the app (resident)':44s} {added:8.0f} MB   ≤ {tg['added_mb']:10.0f} MB  {verdict(oks['added'])}"
          f"   ({rss_before:.0f} MB before, {rss_after:.0f} after; the readers' import once a session "
          f"{rss_before - rss_bare:.0f} MB)")
    print(f"{'  peak while loading, above before':44s} {py_peak - rss_before:8.0f} MB   (peak {py_peak:.0f} MB)")
    print(f"{'web engine helpers (proportional set, sum)':44s} {rend_now:8.0f} MB   ≤ {tg['web_mb']:10.0f} MB  {verdict(oks['web'])}"
          f"   ({rend_before:.0f} MB before the load; resident sum {rend_rss:.0f} MB, peak {rend_peak:.0f} MB)")
    print(f"{'  REFERENCE plain read process peak':44s} {plain_rss:8.0f} MB")
    print(f"{'click on a feature → panel (worst of all)':44s} {click_ms:10.0f} ms   < {tg['click_ms']:10.0f} ms  "
          f"{verdict(oks['click'])}  (showed the clicked feature: {all(ok for _t, ok in clicks)})")
    print(f"{'  1st, right after the layer is drawn':44s} {clicks[0][0]:10.0f} ms   "
          f"(later, after the pans: {', '.join(f'{c[0]:.0f}' for c in clicks[1:])} ms)")
    print(f"{'  of which Python (hit-test, selection, panel)':44s} {', '.join(f'{c:.0f}' for c in click_core)} ms"
          "   (the rest: the page's round trip)")
    per = 0.3 * max(1.0, nfeat / 100_000)
    if reopen is None:
        print(f"{'reopened unchanged, from the cache':44s} {'not cached':>12s}")
    else:
        oks["reopen"] = reopen <= per
        print(f"{'reopened unchanged, from the cache':44s} {reopen:10.2f} s   ≤ {per:10.2f} s  {verdict(oks['reopen'])}"
              f"   (REFERENCE: {floor:.2f} s plain read)")
    if args.verbose:
        for name, xs in (("base pans", base_pans), ("base zooms", base_zooms), ("pans", pans), ("zooms", zooms)):
            print(f"  {name}: " + ", ".join(f"z{x['zoom']:g} {x['frame']:.0f}/{x['sync']:.0f}/{x['draw']:.0f}" for x in xs))
    missed = [k for k, ok in oks.items() if not ok]
    print("all targets met" if not missed else f"targets missed: {', '.join(missed)}")
    close_window(win)
    app.quit()


if __name__ == "__main__":
    main()
