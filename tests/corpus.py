"""Builds the test corpus of planners' files in a temporary directory.

Each builder takes a directory and returns the path to open. Files are made
the way real ones are: shapefiles with pyshp (which writes no .cpg and a
zero language-driver byte, like many Chinese tools), GeoPackage/FlatGeobuf
with pyogrio, KML and CSV by hand. Known places are given in lon/lat and
projected with pyproj, so tests can check where they land.
"""

from __future__ import annotations

import functools
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import shapefile  # pyshp
import shapely
from pyproj import CRS, Transformer

# Known places (lon, lat) in Zhejiang, WGS 84 = CGCS2000 to well under a metre.
PLACES = {
    "杭州市": (120.15, 30.28),
    "嘉善县": (120.92, 30.84),
    "温州市": (120.70, 28.00),
    "宁波市": (121.55, 29.87),
}


@functools.lru_cache(maxsize=None)
def _from_wgs84(epsg: int) -> Transformer:
    return Transformer.from_crs(4326, epsg, always_xy=True)


def project(epsg: int, lon: float, lat: float) -> tuple[float, float]:
    """(lon, lat) degrees → (x, y) in EPSG:epsg, with pyproj."""
    x, y = _from_wgs84(epsg).transform(lon, lat)
    return float(x), float(y)


def write_prj(shp: Path, epsg: int) -> None:
    shp.with_suffix(".prj").write_text(CRS.from_epsg(epsg).to_wkt("WKT1_ESRI"), encoding="ascii")


def _square(x: float, y: float, r: float) -> list[tuple[float, float]]:
    # clockwise outer ring, as the shapefile spec wants
    return [(x - r, y - r), (x - r, y + r), (x + r, y + r), (x + r, y - r), (x - r, y - r)]


def place_points(d: Path, name: str, epsg: int | None = 4326, encoding: str = "utf-8",
                 prj: bool = True, cpg: str | None = None) -> Path:
    """Points at PLACES, coordinates in ``epsg``; attribute 名称 holds the place."""
    shp = d / f"{name}.shp"
    w = shapefile.Writer(str(shp), shapeType=shapefile.POINT, encoding=encoding)
    w.field("名称", "C", 40)
    w.field("code", "N", 10)
    for i, (place, (lon, lat)) in enumerate(PLACES.items()):
        x, y = (lon, lat) if epsg in (None, 4326) else project(epsg, lon, lat)
        w.point(x, y)
        w.record(place, i + 1)
    w.close()
    for side in (".cpg", ".prj"):
        shp.with_suffix(side).unlink(missing_ok=True)
    if prj and epsg is not None:
        write_prj(shp, epsg)
    if cpg is not None:
        shp.with_suffix(".cpg").write_text(cpg, encoding="ascii")
    return shp


def gbk_shapefile_no_cpg(d: Path) -> Path:
    """County polygons, GBK attributes, no .cpg, language-driver byte 0."""
    shp = d / "county_gbk.shp"
    w = shapefile.Writer(str(shp), shapeType=shapefile.POLYGON, encoding="gbk")
    w.field("名称", "C", 40)
    w.field("地级市", "C", 20)
    w.field("面积", "N", 12, 2)
    w.poly([_square(120.92, 30.84, 0.1)])
    w.record("嘉善县", "嘉兴市", 506.58)
    w.poly([_square(120.15, 30.28, 0.1)])
    w.record("西湖区", "杭州市", 312.43)
    w.close()
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    write_prj(shp, 4490)
    return shp


def set_ldid(shp: Path, ldid: int) -> None:
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[29] = ldid
    dbf.write_bytes(bytes(data))


def grid_shapefile(d: Path, n: int, name: str = "grid") -> Path:
    """n small squares near Hangzhou, in EPSG:4326 with .prj and .cpg (UTF-8)."""
    shp = d / f"{name}.shp"
    w = shapefile.Writer(str(shp), shapeType=shapefile.POLYGON, encoding="utf-8")
    w.field("id", "N", 10)
    w.field("名称", "C", 20)
    for i in range(n):
        w.poly([_square(120.0 + (i % 10) * 0.01, 30.0 + (i // 10) * 0.01, 0.004)])
        w.record(i, f"格网{i}")
    w.close()
    write_prj(shp, 4326)
    shp.with_suffix(".cpg").write_text("UTF-8", encoding="ascii")
    return shp


def bowtie_shapefile(d: Path) -> Path:
    """Two polygons: one bow-tie (self-intersecting), one fine square."""
    shp = d / "bowtie.shp"
    w = shapefile.Writer(str(shp), shapeType=shapefile.POLYGON, encoding="utf-8")
    w.field("名称", "C", 20)
    x, y = 120.5, 30.0
    w.poly([[(x, y), (x + 0.1, y + 0.1), (x + 0.1, y), (x, y + 0.1), (x, y)]])
    w.record("蝴蝶结")
    w.poly([_square(120.2, 30.2, 0.05)])
    w.record("正常")
    w.close()
    write_prj(shp, 4326)
    return shp


def z_shapefile(d: Path) -> Path:
    """PolygonZ and the matching points with heights."""
    shp = d / "with_z.shp"
    w = shapefile.Writer(str(shp), shapeType=shapefile.POLYGONZ, encoding="utf-8")
    w.field("名称", "C", 20)
    ring = [(x, y, 12.5) for x, y in _square(120.3, 30.1, 0.02)]
    w.polyz([ring])
    w.record("有高程")
    w.close()
    write_prj(shp, 4326)
    return shp


def null_shapes_shapefile(d: Path) -> Path:
    """Three records, one of them a null shape."""
    shp = d / "nulls.shp"
    w = shapefile.Writer(str(shp), shapeType=shapefile.POINT, encoding="utf-8")
    w.field("名称", "C", 20)
    w.point(120.1, 30.1)
    w.record("a")
    w.null()
    w.record("空")
    w.point(120.2, 30.2)
    w.record("b")
    w.close()
    write_prj(shp, 4326)
    return shp


def empty_geoms_geojson(d: Path) -> Path:
    """Mixed types plus a null geometry and an empty polygon."""
    p = d / "mixed.geojson"
    feats = [
        {"type": "Feature", "properties": {"名称": "点"}, "geometry": {"type": "Point", "coordinates": [120.1, 30.1]}},
        {"type": "Feature", "properties": {"名称": "线"},
         "geometry": {"type": "LineString", "coordinates": [[120.1, 30.1], [120.2, 30.2]]}},
        {"type": "Feature", "properties": {"名称": "空"}, "geometry": None},
        {"type": "Feature", "properties": {"名称": "空面"}, "geometry": {"type": "Polygon", "coordinates": []}},
    ]
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False), encoding="utf-8")
    return p


def multilayer_gpkg(d: Path) -> Path:
    p = d / "plan.gpkg"
    towns = gpd.GeoDataFrame(
        {"名称": list(PLACES)},
        geometry=[shapely.Point(*project(4549, *ll)) for ll in PLACES.values()],
        crs=4549,
    )
    towns.to_file(p, layer="城镇", driver="GPKG")
    zones = gpd.GeoDataFrame(
        {"类型": ["生态", "农业"]},
        geometry=[shapely.box(120.0, 30.0, 120.1, 30.1), shapely.box(120.2, 30.0, 120.3, 30.1)],
        crs=4326,
    )
    zones.to_file(p, layer="zones", driver="GPKG")
    return p


def zip_two_shapefiles(d: Path) -> Path:
    src = d / "zip_src"
    src.mkdir()
    a = place_points(src, "towns", 4549, prj=True, cpg="UTF-8")
    b = gbk_shapefile_no_cpg(src)
    z = d / "two.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for shp, folder in ((a, ""), (b, "data/")):
            for f in sorted(src.glob(shp.stem + ".*")):
                zf.write(f, folder + f.name)
        zf.writestr("__MACOSX/._towns.shp", b"junk")
    return z


def csv_lonlat(d: Path, encoding: str = "gbk") -> Path:
    p = d / "sites.csv"
    lines = ["站点,经度,纬度,人口"]
    for i, (place, (lon, lat)) in enumerate(PLACES.items()):
        lines.append(f"{place},{lon},{lat},{(i + 1) * 1000}")
    lines.append("坐标缺失,,,5")
    p.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return p


KML_TEXT = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>调研</name>
<Placemark><name>杭州东站</name><Point><coordinates>120.2129,30.2905,0</coordinates></Point></Placemark>
<Placemark><name>西湖</name><Polygon><outerBoundaryIs><LinearRing><coordinates>
120.13,30.23,0 120.16,30.23,0 120.16,30.26,0 120.13,30.26,0 120.13,30.23,0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Document></kml>
"""


def kml_file(d: Path) -> Path:
    p = d / "survey.kml"
    p.write_text(KML_TEXT, encoding="utf-8")
    return p


def fgb_file(d: Path) -> Path:
    p = d / "parcels.fgb"
    gdf = gpd.GeoDataFrame(
        {"地块": ["A-01", "A-02"]},
        geometry=[shapely.box(*project(4549, 120.15, 30.28), *project(4549, 120.16, 30.29)),
                  shapely.box(*project(4549, 120.17, 30.28), *project(4549, 120.18, 30.29))],
        crs=4549,
    )
    gdf.to_file(p, driver="FlatGeobuf")
    return p


# --- bad input -------------------------------------------------------------


def missing_sidecar(d: Path, ext: str) -> Path:
    shp = place_points(d, f"no{ext[1:]}", 4326)
    shp.with_suffix(ext).unlink()
    return shp


def zero_byte_shp(d: Path) -> Path:
    shp = place_points(d, "zero", 4326)
    shp.write_bytes(b"")
    return shp


def truncated_shp(d: Path) -> Path:
    shp = grid_shapefile(d, 20, "cut")
    data = shp.read_bytes()
    shp.write_bytes(data[: len(data) // 2])
    return shp


def text_shp(d: Path) -> Path:
    shp = d / "notes.shp"
    shp.write_text("这不是地图 — just some notes someone saved as .shp\n", encoding="utf-8")
    return shp


def empty_zip(d: Path) -> Path:
    z = d / "empty.zip"
    with zipfile.ZipFile(z, "w"):
        pass
    return z


def zip_without_shapefile(d: Path) -> Path:
    z = d / "docs.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hello")
        zf.writestr("规划说明.docx", b"PK fake")
    return z


def garbage_prj(d: Path) -> Path:
    shp = place_points(d, "badprj", 4326)
    shp.with_suffix(".prj").write_text("this is not a projection", encoding="ascii")
    return shp


def zero_features_shp(d: Path) -> Path:
    shp = d / "nothing.shp"
    w = shapefile.Writer(str(shp), shapeType=shapefile.POLYGON)
    w.field("name", "C", 10)
    w.close()
    write_prj(shp, 4326)
    return shp


# --- files GDAL opens although they are not whole -----------------------------


def geometry_only_shp(d: Path) -> Path:
    """Shapes with no .dbf at all (GDAL and QGIS open them)."""
    shp = place_points(d, "shapes_only", 4326)
    shp.with_suffix(".dbf").unlink()
    return shp


def dbf_without_fields(d: Path) -> Path:
    """A .dbf with records but no field descriptor (pyshp refuses to write
    one, some exporters do): made from the bytes of the dBASE header."""
    shp = place_points(d, "nofields", 4326)
    n = len(PLACES)
    header = bytearray(32)
    header[0] = 3
    header[1:4] = bytes([126, 12, 1])
    header[4:8] = n.to_bytes(4, "little")
    header[8:10] = (33).to_bytes(2, "little")  # header + terminator, no descriptors
    header[10:12] = (1).to_bytes(2, "little")  # each record: its deletion flag only
    shp.with_suffix(".dbf").write_bytes(bytes(header) + b"\x0d" + b" " * n + b"\x1a")
    return shp


def gpkg_with_unknown_z_layer(d: Path) -> Path:
    """A GeoPackage whose layer "zones" is declared GEOMETRY with Z, GDAL's
    "Unknown Z" (pyogrio's list_layers has no name for it and fails whole)."""
    import sqlite3

    p = multilayer_gpkg(d)
    con = sqlite3.connect(p)
    con.execute("UPDATE gpkg_geometry_columns SET geometry_type_name = 'GEOMETRY', z = 1 WHERE table_name = 'zones'")
    con.commit()
    con.close()
    return p


def gpkg_with_empty_layer(d: Path) -> Path:
    p = multilayer_gpkg(d)
    empty = gpd.GeoDataFrame({"名称": []}, geometry=gpd.GeoSeries([], crs=4549), crs=4549)
    empty.to_file(p, layer="空图层", driver="GPKG", geometry_type="Polygon")
    return p
