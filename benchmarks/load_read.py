"""Load benchmark: plain pyogrio.read_dataframe vs zjmap's read_layer.

    python benchmarks/load_read.py [--n 100000] [--utf8]

Generates the 100,000-parcel Zhejiang shapefile (GBK without .cpg) (benchmarks/make_big_shapefile.py)
into a temp dir if it is missing, then prints seconds for each way of reading
it. read_layer also checks the files, detects the encoding, reads in chunks
(for progress/cancel), validates/repairs geometry and reprojects.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyogrio  # noqa: E402
from make_big_shapefile import default_path, make_big_shapefile  # noqa: E402

from zjmap.core.userfiles import read_layer  # noqa: E402


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--utf8", action="store_true", help="the UTF-8 variant with .cpg (default GBK without .cpg)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    path = default_path(args.n, gbk=not args.utf8)
    if not path.exists():
        t = time.perf_counter()
        make_big_shapefile(path, args.n, gbk=not args.utf8, shape="irregular")
        print(f"generated {path} in {time.perf_counter() - t:.1f} s")

    enc = None if args.utf8 else "GBK"
    plain = best_of(lambda: pyogrio.read_dataframe(path, encoding=enc), args.repeat)
    loaded = read_layer(path)
    ours = best_of(lambda: read_layer(path), args.repeat)
    one_chunk = best_of(lambda: read_layer(path, chunk_size=10**9), args.repeat)
    print(f"file: {path.name} ({len(loaded.gdf):,} features, encoding {loaded.encoding})")
    print(f"pyogrio.read_dataframe        {plain:6.2f} s  (the reference)")
    print(f"read_layer (chunked)          {ours:6.2f} s  ({ours / plain:.1f}x)")
    print(f"read_layer (one chunk)        {one_chunk:6.2f} s  ({one_chunk / plain:.1f}x)")


if __name__ == "__main__":
    main()
