"""``zjmap summarize`` and ``zjmap select``: the analysis core run headless.

Every failure a planner can fix (bad field, bad filter with its position,
unknown layer, unwritable output) is raised as the CLI's one-line error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from zjmap.core.analysis import AnalysisError, select_by_location, summarize
from zjmap.core.analysis_io import NamedLayer, open_layer, write_result, zones_of
from zjmap.core.expr import ExprError, parse
from zjmap.core.pgsource import is_pg


def _open(spec: str, what: str, error: type[Exception]) -> NamedLayer:
    try:
        return open_layer(spec)
    except AnalysisError as exc:
        raise error(f"{what}: {exc}") from None


def filtered(named: NamedLayer, where: str | None, error: type[Exception]) -> np.ndarray:
    """Mask of the rows ``where`` keeps (all rows without a filter)."""
    if not where:
        return np.ones(len(named.frame), dtype=bool)
    try:
        expr = parse(where)
        cols = [c for c in named.frame.columns if c != named.frame.geometry.name]
        expr.check_fields(cols)
        return expr.evaluate(named.frame[cols])
    except ExprError as exc:
        raise error(str(exc)) from None


def _check_out(out: str | None, allowed: tuple[str, ...], error: type[Exception]) -> None:
    if out is None:
        return
    p = Path(out)
    if p.suffix.lower() not in allowed:
        raise error(f"cannot write {p.name}: give a {', '.join(allowed)} file")
    if not p.parent.exists():
        raise error(f"folder {p.parent} does not exist")


def _on_server(args: Any, stats: list[str] | None, error: type[Exception]):
    """A PostGIS layer summarised by the server (core/pgsummary.py): (result, features), or None."""
    from zjmap.core.pgsummary import summarize_source

    zones_named = _open(args.by, "--by", error)
    try:
        pushed = summarize_source(args.data, zones_of(zones_named), args.field, stats, args.where)
    except AnalysisError as exc:
        raise error(str(exc)) from None
    if pushed is not None:
        sys.stderr.write("summarised by the server (PostGIS) 由数据库汇总\n")
    return pushed


def summarize_command(args: Any, error: type[Exception]) -> int:
    _check_out(args.out, (".csv", ".xlsx", ".gpkg"), error)
    stats = [s for s in args.stat.split(",")] if args.stat else None
    pushed = _on_server(args, stats, error) if is_pg(args.data) else None
    if pushed is None:
        data = _open(args.data, "data", error)
        zones_named = _open(args.by, "--by", error)
        keep = filtered(data, args.where, error)
    try:
        if pushed is None:
            result = summarize(zones_of(zones_named), data.frame[keep], args.field, stats)
            n = int(keep.sum())
        else:
            result, n = pushed
        if args.out:
            path = write_result(result, args.out)
            sys.stderr.write(f"wrote {path} ({len(result):,} zones, {n:,} features)\n")
        else:
            result.drop(columns=result.geometry.name).to_csv(sys.stdout, index=False)
    except AnalysisError as exc:
        raise error(str(exc)) from None
    return 0


def select_command(args: Any, error: type[Exception]) -> int:
    _check_out(args.out, (".gpkg", ".csv", ".xlsx"), error)
    if args.distance is not None and args.within is None:
        raise error("--distance needs --within LAYER_OR_PATH (near what?)")
    if args.distance is not None and args.distance < 0:
        raise error("--distance must be a positive number of km")
    if args.how is not None and args.within is None:
        raise error("--how needs --within LAYER_OR_PATH")
    if args.how is not None and args.distance is not None:
        raise error("give either --how or --distance, not both")
    data = _open(args.data, "data", error)
    keep = filtered(data, args.where, error)
    try:
        if args.within is not None:
            other = _open(args.within, "--within", error)
            how = "dwithin" if args.distance is not None else (args.how or "within")
            keep &= select_by_location(data.frame.geometry, other.frame.geometry, how, args.distance)
        chosen = data.frame[keep]
        path = write_result(chosen, args.out, layer_name="selection")
    except AnalysisError as exc:
        raise error(str(exc)) from None
    sys.stderr.write(f"wrote {path} ({len(chosen):,} of {len(data.frame):,} features)\n")
    return 0
