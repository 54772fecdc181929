"""Command line: `zjmap` opens the app; sub-commands work headless.

Each sub-command lives in the core module that owns its data; this file only
parses arguments and maps failures to one clear line and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys


def _cmd_boundaries(args: argparse.Namespace) -> int:
    from zjmap.core.boundaries import boundaries_geojson

    sys.stdout.write(boundaries_geojson(args.level))
    sys.stdout.write("\n")
    return 0


def _cmd_catalog(args: argparse.Namespace) -> int:
    from zjmap.core.catalogue import catalogue_geojson

    sys.stdout.write(catalogue_geojson(args.layer))
    sys.stdout.write("\n")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    import json

    from zjmap.core.userfiles import UserFileError, inspect_file

    try:
        summary = inspect_file(args.path, layer=args.layer, encoding=args.encoding, crs=args.crs,
                               sample=args.sample)
    except UserFileError as exc:
        raise UserError(str(exc)) from exc
    sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
    sys.stdout.write("\n")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    """Headless export: no Qt. Added files become user layers drawn on top."""
    from zjmap.core.export import ExportError, check_out_path, export_map
    from zjmap.core.shipped import shipped_stack

    out, _fmt = check_out_path(args.out)  # a bad path fails before any work
    bbox = None
    if args.bbox is not None:
        parts = [p for p in args.bbox.replace(" ", "").split(",") if p != ""]
        try:
            bbox = [float(p) for p in parts]
        except ValueError:
            raise UserError(f"bad --bbox {args.bbox!r}: give four numbers W,S,E,N in degrees") from None
        if len(bbox) != 4:
            raise UserError(f"bad --bbox {args.bbox!r}: give four numbers W,S,E,N in degrees")
    if (args.width is None) != (args.height is None):
        raise UserError("give both --width and --height (pixels), or neither")
    if args.width is not None and args.page is not None:
        raise UserError("give either --width/--height or --page, not both")
    stack = shipped_stack()
    layer_ids = [i.strip() for i in args.layers.split(",") if i.strip()] if args.layers else None
    if layer_ids is not None:
        known = set(stack.ids())
        bad = [i for i in layer_ids if i not in known]
        if bad:
            raise UserError(f"unknown layer id {bad[0]!r}; known: {', '.join(stack.ids())}")
    from zjmap.core.classify import layer_choropleth, styles_for_adds

    added = []  # (layer id, StyleArg | None)
    if args.add:
        from zjmap.core.pgsource import is_remote, source_title
        from zjmap.core.remote import read_remote
        from zjmap.core.userfiles import UserFileError, read_layer
        from zjmap.core.layermodel import ReadSource
        from zjmap.core.userlayers import USER_COLORS, new_layer_id, user_layer

        for n, (path, style) in enumerate(styles_for_adds(args.add)):
            try:
                # a server layer: only what the exported extent needs
                loaded = read_remote(path, bbox=tuple(bbox)) if bbox is not None and is_remote(path) else read_layer(path)
            except UserFileError as exc:
                raise UserError(str(exc)) from exc
            lid = new_layer_id(stack)
            layer = user_layer(loaded, lid, title=source_title(path), source=ReadSource(str(path)),
                               color=USER_COLORS[n % len(USER_COLORS)])
            stack.add(layer)
            added.append((lid, style))
    for lid, style in added:
        if style is not None:
            layer = stack.layer(lid)
            layer.style = layer_choropleth(layer, style.field, style.scheme, style.k, style.ramp)
            layer.title_zh = f"{layer.title} · {style.field}"
            layer.restyle()
    if layer_ids is not None:
        layer_ids += [lid for lid, _ in added]
    from zjmap.core.cjkfonts import MISSING_MESSAGE, have_cjk_font

    if not have_cjk_font():
        sys.stderr.write(f"warning: {MISSING_MESSAGE}\n")
    try:
        result = export_map(
            stack, out, bbox=bbox, layers=layer_ids, width_px=args.width, height_px=args.height,
            page=args.page if args.width is None else None, landscape=args.landscape, dpi=args.dpi,
            title=args.title, scale=args.scale,
        )
    except ExportError as exc:
        raise UserError(str(exc)) from exc
    size = f"{result.size_px[0]}×{result.size_px[1]} px" if result.size_px else f"{result.page_mm[0]:g}×{result.page_mm[1]:g} mm"
    extra = f" + {result.world_file.name}, {result.prj_file.name}" if result.world_file else ""
    w, s, e, n = result.bbox
    sys.stderr.write(f"wrote {result.path} ({size}; {w:.4f},{s:.4f},{e:.4f},{n:.4f}){extra}\n")
    return 0


def _cmd_summarize(args: argparse.Namespace) -> int:
    from zjmap.core.analysis_cmd import summarize_command

    return summarize_command(args, UserError)


def _cmd_select(args: argparse.Namespace) -> int:
    from zjmap.core.analysis_cmd import select_command

    return select_command(args, UserError)


def _cmd_join(args: argparse.Namespace) -> int:
    """Join a statistics table to the base's units; print the match summary as JSON."""
    import json

    from zjmap.core.tablejoin import JoinSpec, run_join, write_joined
    from zjmap.core.tables import TableError

    spec = JoinSpec(args.table, args.sheet, args.header_row, args.key, args.level, args.parent)
    try:
        joined = run_join(spec)
    except TableError as exc:
        raise UserError(str(exc)) from exc
    summary = {"table": args.table, "sheet": joined.table.sheet, "header_row": joined.table.header_row,
               "header_guessed": joined.table.header_guessed, **joined.result.summary()}
    if args.out:
        out = write_joined(joined.gdf, args.out)
        summary["out"] = str(out)
        summary["features"] = len(joined.gdf)
    sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
    sys.stdout.write("\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zjmap", description=__doc__)
    p.add_argument("--workspace", metavar="PATH", default=None, help="open this workspace (.zjmap) instead of the last one")
    sub = p.add_subparsers(dest="command")

    b = sub.add_parser("boundaries", help="print base boundaries as GeoJSON (WGS-84)")
    b.add_argument("--level", choices=["province", "prefecture", "county"], default="county")
    b.set_defaults(func=_cmd_boundaries)

    c = sub.add_parser("catalog", help="print seed-layer features as GeoJSON")
    c.add_argument("--layer", default=None, help="layer id (default: all layers)")
    c.set_defaults(func=_cmd_catalog)

    i = sub.add_parser("inspect", help="read a GIS file as the app would; print a JSON summary")
    i.add_argument("path", help="shapefile (.shp/.zip), GeoPackage, GeoJSON, KML, FlatGeobuf or CSV")
    i.add_argument("--layer", default=None, help="layer name (GeoPackage, zip, KML)")
    i.add_argument("--encoding", default=None, help="attribute text encoding, e.g. GBK or UTF-8")
    i.add_argument("--crs", default=None, help="the data's coordinate system, e.g. EPSG:4549")
    i.add_argument("--sample", type=int, default=0, metavar="N",
                   help="also print the first N records' attribute values, decoded as the app decodes them")
    i.set_defaults(func=_cmd_inspect)

    x = sub.add_parser("export", help="export the map to PNG (+ world file), SVG or PDF, without the app")
    x.add_argument("out", help="output file: .png, .svg or .pdf")
    x.add_argument("--layers", default=None, help="comma-separated layer ids (default: the layers visible on start)")
    x.add_argument("--add", action=_InOrder, dest="add", metavar="PATH", help="add a GIS file as a layer (repeatable)")
    x.add_argument("--style", action=_InOrder, dest="add", metavar="[LAYER=]choropleth:FIELD[:SCHEME[:K[:RAMP]]]",
                   help="draw the --add layer this follows (or LAYER: its number, file name or name) as a choropleth "
                        "of FIELD (SCHEME: quantiles, equal_interval, natural_breaks, std_mean; K classes, default 5; "
                        "RAMP: a ColorBrewer name, e.g. Blues); repeatable, one per layer")
    x.add_argument("--bbox", default=None, help="extent W,S,E,N in degrees (default: Zhejiang)")
    x.add_argument("--width", type=int, default=None, help="image width in screen pixels (with --height: map fills the image)")
    x.add_argument("--height", type=int, default=None, help="image height in screen pixels")
    x.add_argument("--scale", type=int, choices=[1, 2, 4], default=1, help="with --width/--height: render 1×/2×/4× the pixels")
    x.add_argument("--dpi", type=float, default=None, help="page PNG resolution (default 300)")
    x.add_argument("--title", default=None, help="map title")
    x.add_argument("--page", type=str.upper, choices=["A4", "A3"], default=None, help="page size (default A4)")
    x.add_argument("--landscape", action="store_true", help="landscape page")
    x.set_defaults(func=_cmd_export)

    sm = sub.add_parser("summarize", help="summarise a layer by zones (counties, prefectures, a layer); one row per zone")
    sm.add_argument("data", help="the layer to summarise: a file, a seed-layer id, or county/prefecture/province")
    sm.add_argument("--by", required=True, help="zones: county, prefecture, province, a seed-layer id or a polygon file")
    sm.add_argument("--field", default=None, help="numeric field for sum/mean/min/max")
    sm.add_argument("--stat", default=None, help="comma-separated: count,sum,mean,min,max,length,area (default: count, sum and mean with --field, length or area)")
    sm.add_argument("--where", default=None, help="filter the data first, e.g. \"产值 > 1000 and 类别 in ('工业', '城镇')\"")
    sm.add_argument("--out", default=None, help="write .csv, .xlsx or .gpkg (default: CSV on standard output)")
    sm.set_defaults(func=_cmd_summarize)

    se = sub.add_parser("select", help="select features by a filter and/or by location; write them to a GeoPackage")
    se.add_argument("data", help="a file, a seed-layer id, or county/prefecture/province")
    se.add_argument("--where", default=None, help="filter expression")
    se.add_argument("--within", default=None, metavar="LAYER_OR_PATH", help="keep features inside (or with --distance, near) this layer")
    se.add_argument("--distance", type=float, default=None, metavar="KM", help="with --within: keep features within this many km")
    se.add_argument("--how", choices=["within", "intersects", "contains"], default=None, help="spatial relation to --within (default: within; with --distance: within that distance)")
    se.add_argument("--out", required=True, help="output .gpkg (or .csv/.xlsx for the attributes only)")
    se.set_defaults(func=_cmd_select)

    j = sub.add_parser("join", help="join a statistics table (CSV/XLSX/XLS) to provinces, cities or counties")
    j.add_argument("table", help="CSV, XLSX or XLS table, one row per unit")
    j.add_argument("--sheet", default=None, help="sheet name or number (default: the first)")
    j.add_argument("--header-row", type=int, default=None, help="row of the header, counting from 1 (default: guessed)")
    j.add_argument("--key", default=None, help="column with the units' codes or names (default: guessed)")
    j.add_argument("--parent", default=None, help="column naming each row's city or province (default: guessed)")
    j.add_argument("--level", choices=["province", "prefecture", "county"], default=None,
                   help="what the rows are (default: the level most rows match)")
    j.add_argument("--out", default=None, help="write the joined layer: .gpkg, .geojson or .csv")
    j.set_defaults(func=_cmd_join)

    r = sub.add_parser("run", help="open the desktop app (the default)")
    r.add_argument("--workspace", metavar="PATH", default=argparse.SUPPRESS, help="open this workspace (.zjmap)")
    r.set_defaults(func=None)
    return p


class _InOrder(argparse.Action):
    """--add and --style kept in one list in command-line order, so a --style knows its --add."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        items.append(("add" if option_string == "--add" else "style", values))
        setattr(namespace, self.dest, items)


class UserError(Exception):
    """A problem the user caused and can fix: printed as one line, exit 2."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        if args.workspace:
            from zjmap.qt import workspace_actions

            workspace_actions.STARTUP_WORKSPACE = os.path.abspath(args.workspace)
        from zjmap.qt.app import run_app

        return run_app()
    try:
        return func(args)
    except (UserError, KeyError, ValueError, OSError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        print(f"error: {msg}", file=sys.stderr)
        return 2
