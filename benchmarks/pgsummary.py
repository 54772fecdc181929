"""PostGIS summary benchmark: polygons by county summarised on the server, per column kind, and Cancel.

    python benchmarks/pgsummary.py            # 100,000 irregular ~24-vertex parcels over Zhejiang
    python benchmarks/pgsummary.py --n 20000

Starts its own PostgreSQL + PostGIS (tests/pgserver.py), fills one table of
parcels in three column kinds: ``geometry(Polygon, 4490)``, ``geography(Polygon)``
and an untyped ``geometry`` (polygons and multipolygons), Chinese land-use
names. For each it prints the summary by the 305 YRD counties (count, area
km², area-weighted sum) computed by the server (zjmap.core.pgsummary), and
the REFERENCE measured in the same run: the Python path that geography and
untyped columns took before (read the whole table with psycopg, then
zjmap.core.analysis.summarize with pyproj Geod areas). The results must
agree within 1e-6. Last, Cancel: seconds from pressing Cancel during a
server summary to the server's statement gone (pg_stat_activity).

Targets: the two paths agree within 1e-6; Cancel under 2 s. The times are
printed side by side: the server's path sends one row per zone back where the
Python path brings every row of the table here (on this machine the server
is local, so the reference pays no network).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from pgparcels import LAND_USE, WIGGLY_PARCEL, centres  # noqa: E402

FILL_SQL = """
SELECT setseed(0.42);
CREATE TABLE public.parcels (gid serial PRIMARY KEY, 用地 text, area_ha double precision, geom geometry(Polygon, 4490));
INSERT INTO public.parcels (用地, area_ha, geom)
SELECT {LAND_USE}, round((random() * 5)::numeric, 2),
       {WIGGLY_PARCEL}
FROM {CENTRES};
CREATE INDEX parcels_geom ON public.parcels USING gist (geom);
CREATE TABLE public.parcels_geog AS SELECT gid, 用地, area_ha, ST_SetSRID(geom, 4326)::geography(Polygon, 4326) AS geog
    FROM public.parcels;
ALTER TABLE public.parcels_geog ADD PRIMARY KEY (gid);
CREATE INDEX parcels_geog_idx ON public.parcels_geog USING gist (geog);
CREATE TABLE public.parcels_any AS SELECT gid, 用地, area_ha,
    (CASE WHEN gid % 2 = 0 THEN ST_Multi(geom) ELSE geom END)::geometry AS geom FROM public.parcels;
ALTER TABLE public.parcels_any ADD PRIMARY KEY (gid);
CREATE INDEX parcels_any_idx ON public.parcels_any USING gist (geom);
ANALYZE;
"""
STATS = ["count", "area", "sum"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    args = ap.parse_args()
    import numpy as np

    from pgserver import PASSWORD, PgServer
    from zjmap.core import pgsummary, postgis
    from zjmap.core.analysis import summarize
    from zjmap.core.analysis_io import open_layer, zones_of
    from zjmap.core.userfile_types import LoadCancelled

    zones = zones_of(open_layer("county"))
    srv = PgServer.create()
    try:
        t0 = time.perf_counter()
        srv.sql(FILL_SQL.format(LAND_USE=LAND_USE, WIGGLY_PARCEL=WIGGLY_PARCEL, CENTRES=centres(args.n, 0.002, 0.01)))
        print(f"{args.n:,} parcels in three column kinds, filled in {time.perf_counter() - t0:.1f} s; "
              f"{len(zones.geoms)} counties")
        base = srv.uri.replace("postgres@", f"postgres:{PASSWORD}@") + "?table="
        print(f"{'column':32} {'server':>9} {'Python path (REFERENCE)':>24}  agree")
        worst = 0.0
        for table, label in (("parcels", "geometry(Polygon, 4490)"), ("parcels_geog", "geography(Polygon)"),
                             ("parcels_any", "geometry (untyped)")):
            layer = postgis.open_layer(base + "public." + table)
            try:
                t0 = time.perf_counter()
                pushed = pgsummary.summarize_on_server(layer, zones, "area_ha", STATS)
                t_server = time.perf_counter() - t0
                t0 = time.perf_counter()
                here = summarize(zones, layer.read(), "area_ha", STATS)
                t_python = time.perf_counter() - t0
            finally:
                layer.close()
            same = bool((pushed["count"].to_numpy() == here["count"].to_numpy()).all())
            for col in ("area_km2", "sum_area_ha"):
                a, b = pushed[col].to_numpy(float), here[col].to_numpy(float)
                rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-9)
                worst = max(worst, float(np.nanmax(rel)))
            print(f"{label:32} {t_server:8.2f}s {t_python:23.2f}s  {'yes' if same and worst <= 1e-6 else 'NO'}")
        print(f"largest relative difference of area and area-weighted sum: {worst:.1e} (target <= 1e-6)")

        class Press:  # the task state's cancel as zjmap.qt.worker.TaskState gives it
            def __init__(self):
                self.flag, self.hooks = threading.Event(), []

            def __call__(self):
                return self.flag.is_set()

            def on_cancel(self, fn):
                self.hooks.append(fn)
                return lambda: self.hooks.remove(fn)

        def active() -> int:
            return srv.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'zjmap' "
                           "AND state = 'active' AND position('zjmap_zone84' in query) > 0")[0][0]

        press = Press()
        layer = postgis.open_layer(base + "public.parcels_geog")
        box: dict = {}

        def run():
            try:
                pgsummary.summarize_on_server(layer, zones, "area_ha", STATS, cancel=press)
                box["end"] = "finished"
            except LoadCancelled:
                box["end"] = "cancelled"

        th = threading.Thread(target=run)
        th.start()
        while not active() and th.is_alive():
            time.sleep(0.02)
        time.sleep(0.3)
        t0 = time.perf_counter()
        press.flag.set()
        for fn in list(press.hooks):
            fn()
        while active():
            time.sleep(0.01)
        t_gone = time.perf_counter() - t0
        th.join()
        layer.close()
        print(f"Cancel during the geography summary: statement gone after {t_gone:.2f} s, "
              f"task {box.get('end')} (target < 2 s)")
    finally:
        srv.destroy()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
