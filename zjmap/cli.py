"""Command line: `zjmap` opens the app; sub-commands work headless.

Each sub-command lives in the core module that owns its data; this file only
parses arguments and maps failures to one clear line and exit code 2.
"""

from __future__ import annotations

import argparse
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
        summary = inspect_file(args.path, layer=args.layer, encoding=args.encoding, crs=args.crs)
    except UserFileError as exc:
        raise UserError(str(exc)) from exc
    sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
    sys.stdout.write("\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zjmap", description=__doc__)
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
    i.set_defaults(func=_cmd_inspect)

    r = sub.add_parser("run", help="open the desktop app (the default)")
    r.set_defaults(func=None)
    return p


class UserError(Exception):
    """A problem the user caused and can fix: printed as one line, exit 2."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        from zjmap.qt.app import run_app

        return run_app()
    try:
        return func(args)
    except (UserError, KeyError, ValueError, OSError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        print(f"error: {msg}", file=sys.stderr)
        return 2
