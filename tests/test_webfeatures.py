"""OGC API Features layers against a real pygeoapi started by the tests (conftest ``oapif``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from zjmap.core import webfeatures as wf
from zjmap.core.userfiles import read_layer

BBOX = (120.0, 30.2, 120.15, 30.3)


def test_collection_in_a_bbox_matches_sql(oapif, pg):
    layer = wf.open_web("OAPIF:" + oapif.collection("parcels_pg"))
    assert layer.title == "地块 PostGIS"
    assert {"OGC:CRS84", "EPSG:4326", "EPSG:4490"} <= set(layer.crs_offered)
    want = pg.sql("SELECT gid FROM parcels84 WHERE ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))", BBOX)
    assert len(want) > 100  # more than one page of 100 (the server's default): paging is followed
    got = layer.view(BBOX, zoom=14)
    assert not got.thinned and sorted(got.gdf["id"]) == sorted(r[0] for r in want)
    # the shapes are the table's, in lon/lat
    gid = int(got.gdf["id"].iloc[0])
    x, y = pg.sql("SELECT ST_X(ST_StartPoint(ST_ExteriorRing(geom))), ST_Y(ST_StartPoint(ST_ExteriorRing(geom))) "
                  "FROM parcels84 WHERE gid = %s", (gid,))[0]
    assert got.gdf.geometry.iloc[0].exterior.coords[0] == pytest.approx((x, y), abs=1e-7)
    few = layer.view(BBOX, zoom=14, max_features=50)
    assert few.thinned and few.shown == 50


def test_a_read_goes_a_page_at_a_time_and_cancel_stops_it_before_the_next(oapif, monkeypatch):
    """The service's pages come as they are read (progress hears each);
    a cancel stops the reading before the next page is asked for, and a
    view wanting few features asks for no more pages than it needs."""
    from zjmap.core.userfiles import LoadCancelled

    monkeypatch.setattr(wf, "PAGE_SIZE", 100)
    layer = wf.open_web("OAPIF:" + oapif.collection("parcels_gpkg"))
    seen: list[int] = []
    whole = layer.read(progress=seen.append)
    assert len(whole) == 800 and seen == list(range(100, 801, 100))  # 8 pages, one at a time
    seen.clear()
    with pytest.raises(LoadCancelled):
        layer.read(cancel=lambda: len(seen) >= 2, progress=seen.append)
    assert seen == [100, 200]  # stopped before the third page
    seen.clear()
    few = layer.read(max_features=150, progress=seen.append)
    assert len(few) == 150 and seen == [100, 200]
    assert list(few["id"]) == list(whole["id"].iloc[:150])
    # the whole path a planner's load takes: cancelled there too, with its progress text
    said: list[str] = []
    with pytest.raises(LoadCancelled):
        wf.read_layer("OAPIF:" + oapif.collection("parcels_gpkg"), progress=lambda f, t: said.append(t),
                      cancel=lambda: any("200 features" in t for t in said))
    assert said[-1].endswith("200 features"), said


@pytest.mark.parametrize("crs", ["CRS84", "EPSG:4326", "EPSG:4490"])
def test_crs_negotiation_lands_in_the_same_place(oapif, crs):
    layer = wf.open_web("OAPIF:" + oapif.collection("parcels_pg") + f"?crs={crs}")
    assert layer.request_crs == ("OGC:CRS84" if crs == "CRS84" else crs)
    gdf = layer.view(BBOX, zoom=14).gdf.sort_values("id")
    x, y = gdf.geometry.iloc[0].exterior.coords[0]
    assert 120.0 - 0.01 < x < 120.15 + 0.01 and 30.2 - 0.01 < y < 30.3 + 0.01  # axes not swapped


def test_crs_not_offered_and_server_errors_are_plain(oapif):
    with pytest.raises(wf.WebError, match="does not offer EPSG:3857; it offers OGC:CRS84"):
        wf.open_web("OAPIF:" + oapif.collection("parcels_gpkg"), crs="EPSG:3857")
    with pytest.raises(wf.WebError, match="404.*Collection not found"):
        wf.open_web("OAPIF:" + oapif.collection("nope"))
    with pytest.raises(wf.WebError, match="Cannot reach the web feature service at 127.0.0.1:9"):
        wf.open_web("OAPIF:http://127.0.0.1:9/collections/x")


def test_geopackage_collection_reads_like_a_file(oapif, pg):
    loaded = read_layer("OAPIF:" + oapif.collection("parcels_gpkg"))  # the path every file takes
    assert loaded.features == 800 and loaded.driver == "OAPIF"
    assert set(loaded.gdf["用地"]) == {"居住用地", "工业用地", "商业用地", "绿地"}


def test_cli_inspect_a_collection(oapif):
    out = subprocess.run([sys.executable, "-m", "zjmap", "inspect", oapif.collection("parcels_pg")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["features"] == 3000 and info["driver"] == "OAPIF" and info["crs"] == "OGC:CRS84"


def test_wfs_feature_type_in_a_bbox_matches_sql(wfs, pg):
    layer = wf.open_web(f"WFS:{wfs.url}?typeNames=ms:parcels")
    assert layer.title == "地块 parcels" and layer.src.kind == "WFS"
    assert {"EPSG:4490", "EPSG:4326"} <= set(layer.crs_offered) and layer.request_crs == "EPSG:4490"
    want = pg.sql("SELECT gid, name FROM parcels WHERE ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4490))", BBOX)
    got = layer.view(BBOX, zoom=14).gdf
    assert sorted(zip(got["gid"], got["name"])) == sorted(want)
    x, y = got.geometry.iloc[0].exterior.coords[0]
    assert 119.99 < x < 120.16 and 30.19 < y < 30.31


def test_wfs_crs_and_errors_are_plain(wfs):
    plain = f"{wfs.url}?service=WFS&typeNames=parcels"  # a bare URL, the name without its prefix
    layer = wf.open_web(plain, crs="EPSG:4326")
    assert layer.src.name == "ms:parcels" and layer.request_crs == "EPSG:4326"
    gdf = layer.view(BBOX, zoom=14).gdf
    x, y = gdf.geometry.iloc[0].exterior.coords[0]
    assert 119.99 < x < 120.16 and 30.19 < y < 30.31  # axes not swapped
    with pytest.raises(wf.WebError, match="does not offer EPSG:3857; it offers EPSG:4490, EPSG:4326"):
        wf.open_web(plain, crs="EPSG:3857")
    with pytest.raises(wf.WebError, match=r"no feature type nope \(it has: ms:parcels\)"):
        wf.open_web(f"WFS:{wfs.url}?typeNames=nope")
