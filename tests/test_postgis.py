"""PostGIS layers against a real PostgreSQL + PostGIS started by the tests (conftest ``pg``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from zjmap.core import pgwrite, postgis
from zjmap.core.pgsource import is_remote, parse_pg, safe_text
from zjmap.core.userfiles import LoadCancelled

from pgserver import PASSWORD

BBOX = (120.0, 30.2, 120.15, 30.3)


@pytest.fixture()
def uri(pg):
    """The server's URI with the password in it, as a planner might paste it."""
    postgis.forget_password(parse_pg(pg.uri)[0].server_key)
    return pg.uri.replace("postgres@", f"postgres:{PASSWORD}@")


def test_source_strings_take_the_password_out(pg):
    for text in (f"postgresql://bob:s3cr%40t@db:5433/plan?table=public.parcels&sslmode=require",
                 "PG:\"dbname=plan host=db user=bob password='s3cr@t' tables=public.parcels(geom)\""):
        src, pw = parse_pg(text)
        assert pw == "s3cr@t"
        assert "s3cr" not in src.text and "s3cr" not in safe_text(text)
        assert (src.schema, src.table) == ("public", "parcels")
        assert src.conninfo["user"] == "bob" and src.conninfo["dbname"] == "plan"
        assert is_remote(text)
    assert parse_pg("postgresql://u@h/db?table=x&sslmode=verify-full")[0].conninfo["sslmode"] == "verify-full"
    assert not is_remote("/data/parcels.shp")


def test_browse_lists_geometry_tables_with_estimates(pg, uri):
    tables = {(t.schema, t.name): t for t in postgis.list_tables(uri)}
    assert {("public", "parcels"), ("gk", "roads"), ("public", "sites"), ("public", "big_parcels")} <= set(tables)
    p = tables["public", "parcels"]
    assert (p.kind, p.geom, p.srid, p.geometry_type) == ("table", "geom", 4490, "POLYGON")
    assert p.rows_estimate == 3000
    assert tables["public", "sites"].geography
    assert tables["public", "big_parcels"].kind == "view"
    assert "gk" in postgis.list_schemas(uri)


def test_count_in_bbox_equals_sql(pg, uri):
    layer = postgis.open_layer(uri + "&table=public.parcels" if "?" in uri else uri + "?table=public.parcels")
    try:
        want = pg.sql("SELECT count(*) FROM parcels WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490)", BBOX)[0][0]
        assert 50 < want < 3000
        assert layer.count(BBOX) == want
        got = layer.read(bbox=BBOX)
        assert len(got) == want
        assert set(got["__fid"].astype(int)) == {r[0] for r in pg.sql(
            "SELECT gid FROM parcels WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4490)", BBOX)}
        v = layer.view(BBOX, zoom=14)
        assert (v.shown, v.thinned) == (want, False)
        # the Chinese text arrives intact, and so do numbers and dates
        row = got.sort_values("__fid").iloc[0]
        gid = int(row["__fid"])
        name, use, area = pg.sql("SELECT name, 用地, area_ha FROM parcels WHERE gid = %s", (gid,))[0]
        assert (row["name"], row["用地"], row["area_ha"]) == (name, use, area)
    finally:
        layer.close()


def test_projected_table_and_geography_come_out_in_lonlat(pg, uri):
    roads = postgis.open_layer(uri + "?table=gk.roads")
    b = roads.bounds()
    assert 119.9 < b[0] < 120.1 and 30.0 < b[1] < 30.2  # EPSG:4549 metres → degrees
    one = roads.view((120.0, 30.0, 120.2, 30.3), zoom=12)
    assert 0 < one.shown <= 40
    roads.close()
    sites = postgis.open_layer(uri + "?table=sites")
    hits = sites.at(120.1826, 30.2440, 0.001)
    assert list(hits["name"]) == ["杭州站"]
    sites.close()


def test_view_thins_a_crowded_view_and_keeps_the_index_path(pg, uri):
    layer = postgis.open_layer(uri + "?table=public.parcels")
    whole = (119.8, 30.0, 120.5, 30.6)
    v = layer.view(whole, zoom=8, max_features=500)
    assert v.thinned and 0 < v.shown < 1500 and v.in_view > 2000
    street = layer.view(BBOX, zoom=15, max_features=500)
    assert not street.thinned
    layer.close()


def test_sql_query_as_layer_and_read_only(pg, uri):
    text = uri + "?sql=" + "SELECT gid, name, geom FROM parcels WHERE plots = 3"
    loaded = postgis.read_layer(text)
    assert loaded.features == pg.sql("SELECT count(*) FROM parcels WHERE plots = 3")[0][0]
    assert loaded.source_crs == "EPSG:4490"
    with pytest.raises(postgis.PgError, match="only read"):
        postgis.read_layer(uri + "?sql=" + "SELECT geom, nextval('parcels_gid_seq') FROM parcels")
    with pytest.raises(postgis.PgError, match="has an error"):
        postgis.read_layer(uri + "?sql=SELECT geom FROM parcels; DROP TABLE parcels")
    assert pg.sql("SELECT count(*) FROM parcels")[0][0] == 3000


@pytest.mark.parametrize("name", ['parcels";drop table parcels;--', "parcels; DROP TABLE parcels", "x' OR '1'='1"])
def test_injection_is_just_a_missing_table(pg, uri, name):
    from urllib.parse import quote

    with pytest.raises(postgis.PgError, match="does not exist"):
        postgis.open_layer(uri + "?table=" + quote(name))
    with pytest.raises(postgis.PgError, match="no geometry column"):
        postgis.open_layer(uri + "?table=parcels&geom=" + quote('geom"; DROP TABLE parcels;--'))
    assert pg.sql("SELECT count(*) FROM parcels")[0][0] == 3000


def test_password_asked_for_and_wrong_password(pg):
    src = parse_pg(pg.uri + "?table=parcels")[0]
    postgis.forget_password(src.server_key)
    with pytest.raises(postgis.PgPasswordNeeded) as e:
        postgis.open_layer(src)
    assert e.value.key == src.server_key
    with pytest.raises(postgis.PgPasswordNeeded, match="right password"):
        postgis.connect(src, password="wrong")
    postgis.connect(src, password=PASSWORD).close()  # remembered for the session …
    postgis.open_layer(src).close()  # … so the next open needs none


def test_server_down_on_open_is_a_plain_message():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(postgis.PgUnavailable, match=f"Cannot reach the PostgreSQL server at 127.0.0.1:{port}"):
        postgis.open_layer(f"postgresql://u@127.0.0.1:{port}/db?table=t")


def test_sslmode_goes_to_libpq(pg, uri):
    # the test server has no TLS: "require" must fail in words that name it, "disable" must work
    with pytest.raises(postgis.PgUnavailable, match="sslmode=require"):
        postgis.open_layer(uri + "?table=parcels&sslmode=require")
    postgis.open_layer(uri + "?table=parcels&sslmode=disable").close()


def test_statement_timeout_and_cancel(pg, uri):
    slow = uri + "?sql=" + "SELECT geom FROM parcels, pg_sleep(3) LIMIT 1"
    layer = postgis.open_layer(uri + "?table=parcels", statement_timeout_s=0.3)
    with pytest.raises(postgis.PgError, match="statement_timeout"):
        layer._run(postgis.sql.SQL("SELECT pg_sleep(2)"))
    assert layer.count() == 3000  # the connection is still good
    layer.close()
    import time

    t0 = time.monotonic()
    with pytest.raises(LoadCancelled):
        postgis.read_layer(slow, cancel=lambda: time.monotonic() - t0 > 0.3)
    assert time.monotonic() - t0 < 2.5


def test_write_back_reads_back_the_same(pg, uri):
    import geopandas as gpd
    import shapely

    src = postgis.read_layer(uri + "?table=parcels")
    gdf = src.gdf.iloc[:500].copy()
    target = uri + "?table=public.zj_saved"
    assert pgwrite.write_layer(gdf, target, mode="create") == 500
    with pytest.raises(postgis.PgError, match="already exists"):
        pgwrite.write_layer(gdf, target, mode="create")
    back = postgis.read_layer(target).gdf.sort_values("gid").reset_index(drop=True)
    want = gdf.sort_values("gid").reset_index(drop=True)
    for c in ("gid", "name", "用地", "area_ha", "plots"):
        assert list(back[c]) == list(want[c]), c
    assert [str(v)[:10] for v in back["approved"]] == [str(v)[:10] for v in want["approved"]]
    assert shapely.equals_exact(back.geometry.values, want.geometry.values, 1e-9).all()
    pgwrite.write_layer(gdf.iloc[:10], target, mode="append")
    assert pg.sql("SELECT count(*) FROM zj_saved")[0][0] == 510
    pgwrite.write_layer(gdf.iloc[:7], target, mode="replace")
    assert pg.sql("SELECT count(*) FROM zj_saved")[0][0] == 7
    assert isinstance(back, gpd.GeoDataFrame)


def test_server_killed_mid_session_then_reconnect(pg, uri):
    layer = postgis.open_layer(uri + "?table=parcels")
    assert layer.count(BBOX) > 0
    pg.kill()
    try:
        with pytest.raises(postgis.PgUnavailable, match="lost|Cannot reach"):
            layer.view(BBOX, zoom=14)
        assert not layer.available
        with pytest.raises(postgis.PgUnavailable):
            layer.reconnect()
    finally:
        pg.start()
    layer.reconnect()
    assert layer.available and layer.count(BBOX) > 0
    layer.close()


def test_cli_inspect_a_table(pg, uri):
    env = {"PGPASSWORD": PASSWORD, "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    out = subprocess.run([sys.executable, "-m", "zjmap", "inspect", pg.uri + "?table=public.parcels"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["features"] == 3000 and info["crs"] == "EPSG:4490" and "用地" in info["fields"]
    w, s, e, n = info["bounds_wgs84"]
    assert 119.8 < w < 120 and 30.4 < n < 30.6
    bad = subprocess.run([sys.executable, "-m", "zjmap", "inspect", pg.uri + "?table=nope"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1
    assert "nope does not exist" in bad.stderr


def test_password_never_reaches_the_saved_workspace(pg, uri, tmp_path):
    from zjmap.core import workspace as wsm
    from zjmap.core.layers import LayerStack
    from zjmap.core.userfiles import read_layer
    from zjmap.core.userlayers import user_layer

    text = uri + "?table=public.parcels&sslmode=disable"
    loaded = read_layer(text)  # the path every file takes
    layer = user_layer(loaded, "user_1", title="地块 parcels", source={"path": text})
    stack = LayerStack()
    stack.add(layer)
    path = tmp_path / "plan.zjmap"
    wsm.save_workspace(wsm.capture(stack), path)
    raw = path.read_bytes().decode("utf-8")
    assert PASSWORD not in raw and "zj-test" not in raw
    assert "postgresql://postgres@127.0.0.1" in raw and "sslmode=disable" in raw
    ws = wsm.load_workspace(path)
    assert ws.entry("user_1").source.path == safe_text(text)
    layers, problems = wsm.read_user_layers(ws)  # the password this session remembered
    assert problems == [] and len(layers["user_1"].features) == 3000
    # a new session without it: the layer is a problem that says so, the workspace loads
    postgis.forget_password(parse_pg(text)[0].server_key)
    layers, problems = wsm.read_user_layers(ws)
    assert layers == {} and "password" in problems[0].reason and not problems[0].missing


def test_cli_export_adds_a_table(pg, uri, tmp_path):
    env = {"PGPASSWORD": PASSWORD, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    out = tmp_path / "parcels.png"
    r = subprocess.run([sys.executable, "-m", "zjmap", "export", str(out), "--add", pg.uri + "?table=parcels",
                        "--bbox", "119.8,30.0,120.5,30.6", "--width", "400", "--height", "300"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    import numpy as np
    from PIL import Image

    px = np.asarray(Image.open(out).convert("RGB")).astype(int)
    # the added layer's orange (first user colour #e6550d) is drawn
    orange = (abs(px[..., 0] - 0xE6) < 30) & (abs(px[..., 1] - 0x55) < 40) & (px[..., 2] < 80)
    assert orange.sum() > 500
