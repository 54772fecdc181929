"""Chinese never turns into boxes: a matplotlib font cache made before the
CJK font was installed still gets the CJK font (zjmap/core/cjkfonts.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zjmap.core import cjkfonts

ROOT = Path(__file__).resolve().parents[1]

STALE_CACHE = """
import matplotlib, matplotlib.font_manager as fm, os
fm.fontManager.ttflist = [e for e in fm.fontManager.ttflist
                          if not any(k in e.name for k in ("CJK", "WenQuanYi", "Han Sans", "Noto Sans SC"))]
fm.json_dump(fm.fontManager, os.path.join(matplotlib.get_cachedir(), f"fontlist-v{fm.FontManager.__version__}.json"))
"""

DRAW = """
import sys
import matplotlib.font_manager as fm
stale = not any("CJK" in e.name for e in fm.fontManager.ttflist)
from PySide6.QtWidgets import QApplication
app = QApplication(["t"])
from zjmap.qt.charts import ChartCanvas
from zjmap.core.describe import ChartSpec
c = ChartCanvas()
c.show_spec(ChartSpec("bars", "浙江省 出口额", "亿元", ["杭州市", "宁波市"], {"": {"杭州市": 3.0, "宁波市": 2.0}}))
c.figure.savefig(sys.argv[1])
from zjmap.core.export import export_map
from zjmap.core.shipped import shipped_stack
export_map(shipped_stack(), sys.argv[2], bbox=(119.9, 30.1, 120.4, 30.4), page="A4", title="杭州市 测试")
print("stale" if stale else "fresh")
"""


def pdf_fonts(path: Path) -> list[str]:
    from pypdf import PdfReader

    names = []
    for page in PdfReader(str(path)).pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            names.append(str(f.get("/BaseFont") or f.get("/Name")))
    return names


@pytest.mark.skipif(not cjkfonts.have_cjk_font(), reason="no CJK font on this machine (make setup installs one)")
def test_a_stale_font_cache_still_draws_chinese_in_a_cjk_font(tmp_path):
    env = dict(os.environ, MPLCONFIGDIR=str(tmp_path / "mpl"), QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, "-c", STALE_CACHE], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    chart, page = tmp_path / "chart.pdf", tmp_path / "map.pdf"
    r = subprocess.run([sys.executable, "-c", DRAW, str(chart), str(page)], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "stale"  # matplotlib's own cache knew no CJK family
    assert any("CJK" in n for n in pdf_fonts(chart)), pdf_fonts(chart)
    assert any("CJK" in n for n in pdf_fonts(page)), pdf_fonts(page)
    assert "Glyph" not in r.stderr  # matplotlib's "Glyph ... missing from font" warning


def test_font_files_are_found_without_matplotlib():
    code = ("import sys\nfrom zjmap.core import cjkfonts\nfiles = cjkfonts.cjk_font_files()\n"
            "print(len(files), 'matplotlib' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    n, mpl = r.stdout.split()
    assert mpl == "False" and (int(n) > 0) == cjkfonts.have_cjk_font()


def test_no_cjk_font_gives_one_warning_line_on_export(tmp_path, monkeypatch, capsys):
    from zjmap import cli

    monkeypatch.setattr(cjkfonts, "cjk_font_files", lambda: [])
    monkeypatch.setattr(cjkfonts, "_state", {})
    out = tmp_path / "m.png"
    assert cli.main(["export", str(out), "--width", "200", "--height", "150"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    warnings = [ln for ln in err if ln.startswith("warning:")]
    assert len(warnings) == 1 and "fonts-noto-cjk" in warnings[0] and "sudo apt-get install" in warnings[0]
    assert out.exists()
