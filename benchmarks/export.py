"""Seconds to export the map (zjmap.core.export), headless.

1. a 2× PNG of a 1000×700 view of Zhejiang (the layers visible on start),
   with its world file — target under 1 s;
2. an A4 portrait PDF at 300 dpi with every seed layer visible — target
   under 3 s.

Each is timed three times in this process: the first run includes the
one-off costs (matplotlib/fontTools imports, loading the CJK font, turning
the geometries into matplotlib paths, which are cached); "warm" is the
median of the next two. Run: ``.venv/bin/python benchmarks/export.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn, n: int = 3) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times[0], statistics.median(times[1:])


def main() -> None:
    from zjmap.core.export import export_map
    from zjmap.core.mappage import ZHEJIANG_BOUNDS
    from zjmap.core.shipped import shipped_stack

    start = shipped_stack()
    everything = shipped_stack(all_visible=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        cold, warm = timed(lambda: export_map(start, out / "view.png", bbox=ZHEJIANG_BOUNDS,
                                               width_px=1000, height_px=700, scale=2, title="浙江省"))
        print(f"PNG 2x of a 1000x700 view (2000x1400 px + .pgw): first {cold:.2f} s, warm {warm:.2f} s  (target < 1 s)")
        n_seed = sum(1 for lyr in everything if lyr.kind == "seed")
        cold, warm = timed(lambda: export_map(everything, out / "all.pdf", bbox=ZHEJIANG_BOUNDS, page="A4",
                                               dpi=300, title="全部专题图层"))
        size = (out / "all.pdf").stat().st_size / 1e6
        print(f"PDF A4 300 dpi, all {n_seed} seed layers ({size:.1f} MB): first {cold:.2f} s, warm {warm:.2f} s  (target < 3 s)")


if __name__ == "__main__":
    main()
