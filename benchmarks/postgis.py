"""PostGIS benchmark: a 1,000,000-polygon table browsed in the real app.

    python benchmarks/postgis.py              # 1,000,000 irregular ~24-vertex parcels over Zhejiang
    python benchmarks/postgis.py --n 200000   # fewer

Starts its own PostgreSQL + PostGIS (tests/pgserver.py) in a temporary
folder, fills a table in CGCS2000 (EPSG:4490) with Chinese names, then opens
the app offscreen and adds ``postgresql://…?table=public.parcels`` the way
File → Add database layer does. It prints, beside the targets of issue 15:

* first view: seconds from adding the layer to the page reporting it drawn
  (province view, zoom ~8: a server-side sample of the table);
* median pan and zoom: milliseconds from ``setView`` to the new view's
  features drawn (the page reports the view, Python asks PostGIS, builds the
  arrays, the page draws them), over street and district zooms;
* peak resident memory of the app process (and of its web engine helpers);
* REFERENCE, measured in the same run: the bare bbox query (``geom && env``,
  WKB fetched with psycopg) for the same views, and the naive whole-province
  ``ST_AsMVT`` at z8 that the design avoids.

Targets (issue 15): first view < 1 s, median pan and zoom < 200 ms, peak RSS < 800 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from load import pss_mb, renderer_pids, rss_mb  # noqa: E402

from pgparcels import LAND_USE, WIGGLY_PARCEL, centres  # noqa: E402

FILL_SQL = """
SELECT setseed(0.42);
CREATE TABLE public.parcels (gid serial PRIMARY KEY, name text, 用地 text, area_ha double precision,
                             geom geometry(Polygon, 4490));
INSERT INTO public.parcels (name, 用地, area_ha, geom)
SELECT '地块' || i, {LAND_USE}, round((random() * 5)::numeric, 2),
       {WIGGLY_PARCEL}
FROM {CENTRES};
CREATE INDEX parcels_geom ON public.parcels USING gist (geom);
ANALYZE public.parcels;
"""

PROVINCE = (118.0, 27.0, 123.0, 31.2)
# (lat, lon, zoom): street and district views around Hangzhou, Ningbo and Wenzhou, pans and zooms
VIEWS = [(30.25, 120.16, 14), (30.25, 120.20, 14), (30.28, 120.20, 14), (30.28, 120.16, 14),
         (30.25, 120.16, 13), (30.25, 120.16, 12), (30.25, 120.16, 13), (30.25, 120.16, 15),
         (29.87, 121.55, 14), (29.87, 121.60, 14), (29.90, 121.60, 13), (28.00, 120.67, 14),
         (28.00, 120.72, 14), (28.00, 120.72, 15), (28.03, 120.72, 15), (28.03, 120.67, 12)]


def bare_queries(admin: str, views: list[tuple[float, float, float, float]]) -> list[float]:
    import psycopg

    out = []
    with psycopg.connect(admin) as c:
        for w, s, e, n in views:
            t = time.perf_counter()
            c.execute("SELECT ST_AsBinary(geom) FROM parcels WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490)",
                      (w, s, e, n)).fetchall()
            out.append((time.perf_counter() - t) * 1000)
    return out


def naive_mvt(admin: str) -> float:
    """Seconds for the z8 tiles over the province, each ``ST_AsMVT`` of all it holds."""
    import psycopg

    with psycopg.connect(admin) as c:
        t = time.perf_counter()
        for x in range(211, 216):
            for y in range(105, 111):
                c.execute("""SELECT ST_AsMVT(q, 'p') FROM (SELECT gid, ST_AsMVTGeom(ST_Transform(geom, 3857),
                               ST_TileEnvelope(8, %s, %s)) AS geom FROM parcels
                               WHERE geom && ST_Transform(ST_TileEnvelope(8, %s, %s), 4490)) q""", (x, y, x, y)).fetchone()
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--no-mvt", action="store_true", help="skip the naive ST_AsMVT reference (seconds)")
    args = ap.parse_args()

    from pgserver import PASSWORD, PgServer

    srv = PgServer.create()
    try:
        t = time.perf_counter()
        srv.sql(FILL_SQL.format(LAND_USE=LAND_USE, WIGGLY_PARCEL=WIGGLY_PARCEL, CENTRES=centres(args.n, 0.0008, 0.0015)))
        print(f"table: {args.n:,} polygons (~24 vertices, EPSG:4490) made in {time.perf_counter() - t:.0f} s")
        run(srv, PASSWORD, args)
    finally:
        srv.destroy()


def run(srv, password: str, args) -> None:
    from guitools import close_window, open_window, wait_until
    from PySide6.QtCore import QEventLoop, QTimer

    from zjmap.core import postgis
    from zjmap.core.pgsource import parse_pg
    from zjmap.qt.userlayers import add_layer_from_path

    from zjmap.qt.app import make_application

    app = make_application(["zjmap-bench"])  # noqa: F841 (kept alive)
    postgis.remember_password(parse_pg(srv.uri)[0].server_key, password, keep=False)
    win = open_window()
    rss_start = rss_mb(os.getpid(), "VmRSS")
    ctl = win.server_layers
    win.map.fit_bounds(*PROVINCE, 14)
    assert wait_until(lambda: win.view is not None and win.view[0] < 118.5, 10000)

    def drawn(lid: str, key: str) -> bool:
        box: dict = {}
        win.map.page().runJavaScript(f"ZJ.bigStats({json.dumps(lid)})", 0, lambda r: box.setdefault("r", r))
        if not wait_until(lambda: "r" in box, 5000, 2):
            return False
        got = json.loads(box["r"]) if box["r"] else None
        return bool(got and got.get("key") == key and got.get("draws", 0) >= 1)

    # as the add dialog does while the planner types: the readers and psycopg imported
    dlg = ctl.add_dialog()
    import zjmap.core.livelayer_deps  # noqa: F401  (waits for the warm-up's import)
    import zjmap.core.userfiles  # noqa: F401
    dlg.close()

    t0 = time.perf_counter()
    task = add_layer_from_path(win.user_layers, srv.uri + "?table=public.parcels")
    loop = QEventLoop()
    task.finished.connect(loop.quit)
    QTimer.singleShot(120_000, loop.quit)
    if not task.done:
        loop.exec()
    if task.status != "loaded":
        raise SystemExit(f"load failed: {task.status}: {task.message}")
    t_task = time.perf_counter() - t0
    lid = task.layer_id
    layer = win.stack.layer(lid)
    assert wait_until(lambda: drawn(lid, win.stack.layer(lid).display.arrays.key), 60_000, 5)
    first = time.perf_counter() - t0
    live = layer.source.live
    print(f"first view: {live.in_view:,} in view, {len(layer.features):,} drawn (thinned: {live.thinned}); "
          f"server query {live.seconds:.2f} s, layer ready {t_task:.2f} s, drawn {first:.2f} s")
    wait_until(lambda: not ctl.busy(), 10_000)

    times = []
    queries = []
    swapped = []
    shown = []
    boxes = []
    for lat, lon, z in VIEWS:
        before = win.stack.layer(lid)
        t = time.perf_counter()
        win.map.set_view(lat, lon, z)
        assert wait_until(lambda: win.stack.layer(lid) is not before and not ctl.busy(), 30_000, 2), "no refresh"
        swapped.append((time.perf_counter() - t) * 1000)
        new = win.stack.layer(lid)
        queries.append(new.source.live.seconds * 1000)
        assert wait_until(lambda: drawn(lid, new.display.arrays.key), 30_000, 2)
        times.append((time.perf_counter() - t) * 1000)
        shown.append(len(new.features))
        boxes.append(tuple(win.view[:4]))
    py_peak = rss_mb(os.getpid())
    rend = renderer_pids()
    rend_pss = sum(pss_mb(p) for p in rend)
    close_window(win)

    bare = bare_queries(srv.admin, boxes)
    mvt = None if args.no_mvt else naive_mvt(srv.admin)

    med = statistics.median(times)

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print()
    print(f"{'':44s} {'figure':>10s}   target")
    print(f"{'first view (add → drawn), province z~8':44s} {first:9.2f} s   < 1 s  {verdict(first < 1.0)}")
    print(f"{'median pan/zoom (setView → drawn)':44s} {med:8.0f} ms   < 200 ms  {verdict(med < 200)}"
          f"   (worst {max(times):.0f} ms; {min(shown):,}–{max(shown):,} features per view)")
    print(f"{'  of which: server query (median)':44s} {statistics.median(queries):8.0f} ms; "
          f"layer in the stack {statistics.median(swapped):.0f} ms")
    print(f"{'peak RSS of the app process':44s} {py_peak:8.0f} MB   < 800 MB  {verdict(py_peak < 800)}"
          f"   ({rss_start:.0f} MB with the map open, before the layer)")
    print(f"{'  web engine helpers (proportional set)':44s} {rend_pss:8.0f} MB")
    print(f"{'REFERENCE bare bbox query, same views':44s} {statistics.median(bare):8.0f} ms   (median; worst {max(bare):.0f} ms)")
    if mvt is not None:
        print(f"{'REFERENCE naive ST_AsMVT, z8 tiles of the province':44s} {mvt:9.2f} s")


if __name__ == "__main__":
    main()
