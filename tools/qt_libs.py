"""The system libraries zjmap's Qt files load, found with ldd rather than guessed.

    python tools/qt_libs.py derive   # rewrite tools/debian-qt-libs.txt from this machine's .venv
    python tools/qt_libs.py check    # list unresolved libraries ("not found"); exit 1 if any

`derive` runs ldd over the PySide6 files zjmap loads (QT_FILES below: the Python
modules it imports and the Qt libraries behind them, the offscreen and xcb
platform plugins with their GL integrations, QtWebEngineProcess), keeps every
library resolved outside the venv and asks dpkg which package owns it. The
result, one package per line with the sonames it gives, is what tools/setup.sh
installs (names of Debian 12; setup.sh maps them to the t64 names of Debian 13
and Ubuntu 24.04 by asking apt-cache which one is a real package). Run it after
a PySide6 upgrade, on a machine where zjmap runs (Debian 12).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tools" / "debian-qt-libs.txt"

# Relative to site-packages/PySide6. The Python modules zjmap imports pull in
# libQt6Core/Gui/Widgets/WebEngine*/WebChannel/Network... through ldd itself.
QT_FILES = [
    "QtCore.abi3.so", "QtGui.abi3.so", "QtWidgets.abi3.so", "QtNetwork.abi3.so",
    "QtWebChannel.abi3.so", "QtWebEngineCore.abi3.so", "QtWebEngineWidgets.abi3.so",
    "QtPrintSupport.abi3.so", "QtSvg.abi3.so", "QtTest.abi3.so",
    "Qt/plugins/platforms/libqoffscreen.so", "Qt/plugins/platforms/libqxcb.so",
    "Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so",
    "Qt/plugins/xcbglintegrations/libqxcb-egl-integration.so",
    "Qt/libexec/QtWebEngineProcess",
]

# Loaded with dlopen (ldd cannot see them): Mesa's DRI3 path needs libxshmfence,
# Qt's OpenGL resolves libOpenGL at run time. Kept from the first hand-made list.
DLOPENED = ["libopengl0", "libxshmfence1"]


def pyside_dir(python: str | None = None) -> Path:
    """PySide6's folder in the venv (or in the given interpreter's site)."""
    py = python or str(ROOT / ".venv" / "bin" / "python")
    out = subprocess.run([py, "-c", "import importlib.util as u; "
                          "print(u.find_spec('PySide6').submodule_search_locations[0])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def ldd(path: Path) -> dict[str, str | None]:
    """soname -> resolved path, None where ldd says "not found"."""
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
    libs: dict[str, str | None] = {}
    for line in out.splitlines():
        parts = line.split()
        if "=>" not in parts:
            continue
        name, target = parts[0], parts[parts.index("=>") + 1]
        libs[name] = None if target == "not" else target
    return libs


def scan(pyside: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(system soname -> path, file -> unresolved sonames) over QT_FILES."""
    system: dict[str, str] = {}
    unresolved: dict[str, list[str]] = {}
    for rel in QT_FILES:
        f = pyside / rel
        if not f.exists():
            unresolved[rel] = ["(file missing)"]
            continue
        for name, target in ldd(f).items():
            if target is None:
                unresolved.setdefault(rel, []).append(name)
            elif not Path(target).resolve().is_relative_to(pyside.parent):
                system[name] = target
    return system, unresolved


def owner(path: str) -> str | None:
    """The Debian package that ships a library file (arch suffix dropped)."""
    for p in (path, str(Path(path).resolve())):
        for cand in {p, p.replace("/usr/lib/", "/lib/", 1), p.replace("/lib/", "/usr/lib/", 1)}:
            r = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
            if r.returncode == 0:
                return r.stdout.split(":")[0].strip()
    return None


def derive(pyside: Path) -> dict[str, list[str]]:
    system, unresolved = scan(pyside)
    if unresolved:
        raise SystemExit(f"unresolved libraries, install them first: {unresolved}")
    packages: dict[str, list[str]] = {}
    for name, target in sorted(system.items()):
        pkg = owner(target)
        if pkg is None:
            raise SystemExit(f"no Debian package owns {target} ({name})")
        packages.setdefault(pkg, []).append(name)
    return packages


def read_packages() -> list[str]:
    """Package names of the data file (what setup.sh installs)."""
    return [ln.split()[0] for ln in DATA.read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    pyside = pyside_dir(argv[1] if len(argv) > 1 else None)
    if cmd == "derive":
        packages = derive(pyside)
        # keep what a derivation on another release found (run it on each: Debian 13's
        # freetype/glib need libbz2/libatomic, Debian 12's do not)
        if DATA.exists():
            for ln in DATA.read_text().splitlines():
                if ln.strip() and not ln.startswith("#") and "(dlopen)" not in ln:
                    pkg, _, names = ln.partition("\t")
                    base = pkg.removesuffix("t64")
                    if base not in packages and pkg not in packages:
                        packages[base] = names.split()
        lines = ["# Debian packages whose libraries zjmap's Qt files load (Debian 12 names; the union of",
                 "# derivations on Debian 12 and 13). Written by",
                 "# `python tools/qt_libs.py derive` (ldd over tools/qt_libs.py's QT_FILES, dpkg -S on each",
                 "# library found outside the venv); the last lines are loaded with dlopen, which ldd",
                 "# cannot see. tools/setup.sh installs the first column. package<TAB>sonames"]
        lines += [f"{p}\t{' '.join(n)}" for p, n in sorted(packages.items())]
        lines += [f"{p}\t(dlopen)" for p in DLOPENED if p not in packages]
        DATA.write_text("\n".join(lines) + "\n")
        print(f"{DATA.relative_to(ROOT)}: {len(packages)} packages from ldd, {len(DLOPENED)} dlopened")
        return 0
    _, unresolved = scan(pyside)
    for rel, names in unresolved.items():
        print(f"{rel}: not found: {' '.join(names)}")
    return 1 if unresolved else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
