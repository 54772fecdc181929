"""Load benchmark: a 100,000-polygon shapefile from file to map, then pan and zoom.

    python benchmarks/load.py [--n 100000] [--hex] [--gbk] [--repeat 3]

Generates the Zhejiang cell shapefile (benchmarks/make_big_shapefile.py) into
a temp dir if it is missing, then prints, with the targets beside them:

* the floor: seconds for plain ``pyogrio.read_dataframe`` (in a separate
  process so it does not inflate this one's memory; best of ``--repeat`` at
  the start and of one more right before each load, as the machine's speed drifts);
* seconds from ``add_layer_from_path`` (what File → Add layer… and a drop
  call) until the page reports the layer drawn: polled through
  ``runJavaScript("ZJ.bigStats(id)")``, no bridge involved; with the split
  read / prepare / add+draw;
* milliseconds per pan (``map.panBy`` 300×150 px) and per zoom step
  (``setZoom`` ±1) including the canvas redraw, measured in the page with
  ``performance.now()`` both to the end of the synchronous redraw and to the
  second animation frame after it (the drawing reached the compositor);
* peak RSS of this process (Python + Qt) and of the QtWebEngine renderer.

Targets (issue "Load a planner's own layers"): on the map within
2 × plain read + 1 s; pan and zoom under 150 ms; memory under 1.5 GB.
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

from make_big_shapefile import default_path, make_big_shapefile  # noqa: E402

PLAIN_READ = """
import sys, time, resource, pyogrio
import geopandas, shapely  # imported inside read_dataframe otherwise: not reading time
best = 1e9
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    df = pyogrio.read_dataframe(sys.argv[1], encoding=sys.argv[3] or None)
    best = min(best, time.perf_counter() - t)
    del df
print(best, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def plain_read(path: Path, repeat: int, encoding: str | None) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", PLAIN_READ, str(path), str(repeat), encoding or ""],
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--hex", action="store_true", help="hexagonal cells")
    ap.add_argument("--gbk", action="store_true", help="the GBK-without-.cpg variant")
    ap.add_argument("--repeat", type=int, default=3, help="plain reads (best of)")
    ap.add_argument("--path", type=Path, default=None, help="benchmark this file instead of the generated one")
    ap.add_argument("--steps", type=int, default=8, help="pans and zooms to time")
    ap.add_argument("--loads", type=int, default=3, help="load the file this many times, report the fastest")
    ap.add_argument("--verbose", action="store_true", help="every step: ms to frame / synchronous / canvas redraw")
    args = ap.parse_args()

    path = args.path or default_path(args.n)
    if args.path is None and (args.hex or args.gbk):
        path = path.with_name(path.stem + ("_hex" if args.hex else "") + ("_gbk" if args.gbk else "") + ".shp")
    if not path.exists() and args.path is None:
        t = time.perf_counter()
        make_big_shapefile(path, args.n, hexagons=args.hex, gbk=args.gbk)
        print(f"generated {path} in {time.perf_counter() - t:.1f} s")

    floor, plain_rss = plain_read(path, args.repeat, "GBK" if args.gbk else None)

    from zjmap.qt.app import make_application

    app = make_application(["zjmap-bench"])
    from PySide6.QtCore import QEventLoop, QTimer
    from guitools import close_window, js, open_window, spin, wait_until  # noqa: E402
    from zjmap.qt.userlayers import add_layer_from_path

    win = open_window()
    win.zoom_home()
    spin(300)
    rss_before = rss_mb(os.getpid(), "VmRSS")
    base_pans, base_zooms = steps(win, None, args.steps)
    win.zoom_home()
    spin(300)

    def load_once() -> tuple[float, Any, dict]:
        """Seconds from add_layer_from_path until the page reports the layer drawn."""
        t0 = time.perf_counter()
        task = add_layer_from_path(win, path)
        stats: dict = {}
        # wait for the read without waking Python every few ms (a polling
        # loop here would take the GIL from the loading thread again and again)
        if not task.done:
            loop = QEventLoop()
            task.finished.connect(loop.quit)
            QTimer.singleShot(120_000, loop.quit)
            loop.exec()

        def drawn() -> bool:
            if task.status != "loaded":  # failed or cancelled
                return task.done
            box: dict = {}
            win.map.page().runJavaScript(f"ZJ.bigStats && ZJ.bigStats({json.dumps(task.layer_id)})", 0,
                                         lambda r: box.setdefault("r", r))
            if not wait_until(lambda: "r" in box, 5000, 2):
                return False
            got = json.loads(box["r"]) if box["r"] else None
            if got and got.get("draws", 0) >= 1:
                stats.update(got)
                return True
            return False

        assert wait_until(drawn, 120_000, 5), f"layer never drawn: {task.status} {task.message} {win.map.js_errors}"
        on_map = time.perf_counter() - t0
        if task.status != "loaded":
            raise SystemExit(f"load failed: {task.status}: {task.message}")
        stats["t0"] = t0
        return on_map, task, stats

    # reference: zjmap's reader alone, on this (GUI) process's main thread, best of 2
    from zjmap.core.userfiles import read_layer

    direct = []
    for _ in range(2):
        t = time.perf_counter()
        read_layer(path)
        direct.append(time.perf_counter() - t)

    # the machine's load varies: load several times (each replacing the last), keep the fastest
    runs = []
    floors = [floor]
    for i in range(max(1, args.loads)):
        if runs:
            win.user_layers.remove(runs[-1][1].layer_id)
            import gc

            gc.collect()
            spin(300)
        # the floor again right before each load: this machine's speed drifts,
        # and the best load is compared with the best plain read of the same stretch
        f, _rss = plain_read(path, 1, "GBK" if args.gbk else None)
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
    # layers of millions of vertices get their zoom bands after they are shown
    bands_after = None
    if layer.info.get("bands_pending"):
        done: list[str] = []
        win.user_layers.bands_added.connect(done.append)
        tb = time.perf_counter()
        assert wait_until(lambda: task.layer_id in done, 120_000, 20), "zoom bands never arrived"
        key = layer.info["display"].key
        assert wait_until(lambda: js(win.map, f"JSON.parse(ZJ.bigStats({json.dumps(task.layer_id)})).key") == key, 30_000)
        bands_after = time.perf_counter() - tb
    disp = layer.info.get("display")

    # pans and zooms, each timed in the page (redraw is synchronous on moveend)
    win.zoom_home()
    spin(400)
    pans, zooms = steps(win, task.layer_id, args.steps)

    # identify on the big layer: click → side panel (first click builds its STRtree)
    clicks = []
    got: list[str] = []
    win.panel_updated.connect(got.append)
    for f in (layer.features[50_000 % len(layer.features)], layer.features[len(layer.features) // 3]):
        p = f.geometry.representative_point()
        n = len(got)
        t = time.perf_counter()
        win.map.page().runJavaScript(f"ZJ.map.fire('click', {{latlng: L.latLng({p.y}, {p.x})}})")
        assert wait_until(lambda: len(got) > n, 20_000, 1)
        clicks.append(((time.perf_counter() - t) * 1000, win.panel.current_id == f.id))

    py_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rend = renderer_pids()
    rend_peak = sum(rss_mb(p) for p in rend)
    rend_now = sum(rss_mb(p, "VmRSS") for p in rend)

    def med(xs, k):
        return statistics.median(x[k] for x in xs)

    def worst(xs, k):
        return max(x[k] for x in xs)

    target_load = 2 * floor + 1
    pan_ms, zoom_ms = worst(pans, "frame"), worst(zooms, "frame")
    print(f"file: {path.name}: {len(layer.features):,} features, {sum(disp.vertices()[-1:]):,} vertices drawn at full "
          f"resolution; zoom bands {disp.bands} (sets: {disp.vertices()} vertices)")
    print(f"{'measure':44s} {'measured':>12s}   {'target':>14s}")
    print(f"{'plain pyogrio.read_dataframe (floor)':44s} {floor:10.2f} s   (every read: {', '.join(f'{x:.2f}' for x in floors)})")
    print(f"{'on the map (add_layer_from_path → drawn)':44s} {on_map:10.2f} s   < {target_load:10.2f} s  "
          f"{'OK' if on_map < target_load else 'MISSED'}")
    print(f"{'  (read_layer alone, same process, no UI)':44s} {min(direct):10.2f} s")
    print(f"{'  every load (s)':44s} {', '.join(f'{x:.2f}' for x in all_loads)}")
    print(f"{'  of which read_layer':44s} {tm['read'] - tm['start']:10.2f} s")
    print(f"{'  of which prepare layer + display arrays':44s} {tm['built'] - tm['read']:10.2f} s")
    print(f"{'  of which stack.add (tree, payload, send)':44s} {tm['added'] - tm['built']:10.2f} s")
    print(f"{'  of which page: decode + first draw':44s} {t0 + on_map - tm['added']:10.2f} s  "
          f"(in page: add {stats.get('addMs', 0):.0f} ms, arrays read {stats.get('decodeMs', 0):.0f} ms after it, first draw {stats.get('lastMs', 0):.0f} ms)")
    if bands_after is not None:
        print(f"{'  zoom bands on the map (after the layer)':44s} {bands_after:10.2f} s later")
    print(f"{'pan, to next frame (median / worst)':44s} {med(pans, 'frame'):6.0f} / {pan_ms:3.0f} ms   < {150:10d} ms  "
          f"{'OK' if pan_ms < 150 else 'MISSED'}")
    print(f"{'  canvas redraw alone (median / worst)':44s} {med(pans, 'draw'):6.0f} / {worst(pans, 'draw'):3.0f} ms")
    print(f"{'  same pans without the layer (base map)':44s} {med(base_pans, 'frame'):6.0f} / {worst(base_pans, 'frame'):3.0f} ms")
    print(f"{'zoom step, to next frame (median / worst)':44s} {med(zooms, 'frame'):6.0f} / {zoom_ms:3.0f} ms   < {150:10d} ms  "
          f"{'OK' if zoom_ms < 150 else 'MISSED'}")
    print(f"{'  canvas redraw alone (median / worst)':44s} {med(zooms, 'draw'):6.0f} / {worst(zooms, 'draw'):3.0f} ms")
    print(f"{'  same zooms without the layer (base map)':44s} {med(base_zooms, 'frame'):6.0f} / {worst(base_zooms, 'frame'):3.0f} ms")
    print(f"{'  at zoom':44s} {', '.join(str(int(x['zoom'])) for x in zooms)}")
    ok_mem = py_peak < 1536 and rend_peak < 1536
    print(f"{'peak RSS, app process (Python + Qt)':44s} {py_peak:8.0f} MB   < {1536:10d} MB  {'OK' if py_peak < 1536 else 'MISSED'}")
    print(f"{'  before the load':44s} {rss_before:8.0f} MB")
    print(f"{'peak RSS, QtWebEngine helpers (sum)':44s} {rend_peak:8.0f} MB   < {1536:10d} MB  {'OK' if rend_peak < 1536 else 'MISSED'}"
          f"  (now {rend_now:.0f} MB)")
    print(f"{'  (plain read process peak, for scale)':44s} {plain_rss:8.0f} MB")
    print(f"{'click on a cell → panel (1st, 2nd click)':44s} {clicks[0][0]:6.0f}, {clicks[1][0]:.0f} ms  "
          f"(showed the clicked cell: {all(ok for _t, ok in clicks)})")
    if args.verbose:
        for name, xs in (("base pans", base_pans), ("base zooms", base_zooms), ("pans", pans), ("zooms", zooms)):
            print(f"  {name}: " + ", ".join(f"z{x['zoom']:g} {x['frame']:.0f}/{x['sync']:.0f}/{x['draw']:.0f}" for x in xs))
    print("all targets met" if on_map < target_load and pan_ms < 150 and zoom_ms < 150 and ok_mem else "some targets missed")
    close_window(win)
    app.quit()


if __name__ == "__main__":
    main()
