"""A planner's parcels made in PostGIS itself, for the PostGIS benchmarks
(postgis.py, pgsummary.py): irregular 24-vertex polygons in CGCS2000 across
Zhejiang, land-use classes in Chinese."""

#: one irregular parcel (24 vertices round x, y at radius r, wiggled by i)
WIGGLY_PARCEL = """ST_SetSRID(ST_MakePolygon(ST_MakeLine(ARRAY(
           SELECT ST_MakePoint(x + r * (0.65 + 0.35 * sin((k % 24) * 2.3 + i)) * cos(2 * pi() * (k % 24) / 24),
                               y + r * (0.65 + 0.35 * sin((k % 24) * 2.3 + i)) * sin(2 * pi() * (k % 24) / 24))
           FROM generate_series(0, 24) k))), 4490)"""

#: land-use classes, one per parcel in turn
LAND_USE = "(ARRAY['居住用地', '工业用地', '商业用地', '绿地', '耕地'])[1 + i % 5]"


def centres(n: int, r0: float, dr: float) -> str:
    """n random centres across Zhejiang with radii r0 … r0 + dr degrees (i, x, y, r)."""
    return (f"(SELECT i, 118.2 + random() * 4.5 AS x, 27.2 + random() * 3.8 AS y, {r0} + random() * {dr} AS r\n"
            f"      FROM generate_series(1, {int(n)}) i) p")
