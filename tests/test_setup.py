"""Fresh machines: the Qt files zjmap loads find every library, and set-up
installs the packages that give them (tools/qt_libs.py, tools/setup.sh)."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import qt_libs  # noqa: E402


@pytest.fixture(scope="module")
def pyside():
    return qt_libs.pyside_dir(sys.executable)


def test_every_qt_file_resolves_all_its_libraries(pyside):
    _, unresolved = qt_libs.scan(pyside)
    assert unresolved == {}, f"ldd: not found {unresolved}; run make setup (tools/debian-qt-libs.txt)"


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="not a Debian system")
def test_the_package_list_covers_what_ldd_finds(pyside):
    """tools/debian-qt-libs.txt is the ldd derivation, not a guess: each library
    ldd resolves outside the venv comes from a listed package (t64 renames on
    Debian 13 / Ubuntu 24.04 count as the same package)."""
    listed = set(qt_libs.read_packages())
    system, _ = qt_libs.scan(pyside)
    assert "libxfixes3" in listed and "libglib2.0-0" in listed
    unlisted = {}
    for name, path in system.items():
        pkg = qt_libs.owner(path)
        assert pkg is not None, path
        if pkg not in listed and pkg.removesuffix("t64") not in listed:
            unlisted[name] = pkg
    assert unlisted == {}, f"rerun `python tools/qt_libs.py derive`: {unlisted}"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_non_root_with_a_missing_package_gets_one_sudo_line():
    """A missing package, not root: one message naming the exact apt-get line, exit 1, no venv."""
    tmp_path = Path(tempfile.mkdtemp(prefix="zjmap-setup-"))  # pytest's tmp is root-only
    work = tmp_path / "zjmap"
    (work / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "tools" / "setup.sh", work / "tools")
    lines = (ROOT / "tools" / "debian-qt-libs.txt").read_text()
    (work / "tools" / "debian-qt-libs.txt").write_text(lines + "zjmap-no-such-package\t(test)\n")
    os.chmod(tmp_path, 0o755)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "bash", str(work / "tools" / "setup.sh")],
                       capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert r.returncode == 1
    assert r.stdout == ""
    msg = r.stderr.strip().splitlines()
    assert len(msg) == 2 and msg[0].startswith("zjmap setup needs these Debian packages")
    assert msg[1].strip() == ("sudo apt-get update && sudo apt-get install -y --no-install-recommends"
                              " zjmap-no-such-package")
    assert not (work / ".venv").exists()
    shutil.rmtree(tmp_path)
