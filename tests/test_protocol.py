"""The page protocol: what Python sends and what the page defines are the same list.

Reads the page scripts (zjmap/web/*.js) and every Python file that talks to
the page, and checks them against zjmap/page/protocol.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zjmap.page import protocol
from zjmap.page.protocol import COMMANDS, EVENTS, PAGE_HOOKS, Raw, js_call

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "zjmap" / "web"
DEFINED = re.compile(r"\bZJ\.(\w+)\s*=\s*function\s*\(([^)]*)\)")
# every way Python names a command: map.call("x", …), js_call("x", …), or JS text "ZJ.x("
CALLED = re.compile(r"""(?:\.call|js_call)\(\s*["'](\w+)["']|\bZJ\.(\w+)\(""")
SENT = re.compile(r"""\bsend\(\s*["'](\w+)["']""")


def _page() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(WEB.glob("*.js")))


def _python(*dirs: str) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for d in dirs for p in sorted((ROOT / d).rglob("*.py"))}


def _called(texts: dict[Path, str]) -> dict[str, set[Path]]:
    out: dict[str, set[Path]] = {}
    for path, text in texts.items():
        if path.name == "test_protocol.py":
            continue
        for m in CALLED.finditer(text):
            out.setdefault(m.group(1) or m.group(2), set()).add(path)
    return out


def _page_functions() -> dict[str, list[str]]:
    return {m.group(1): [a.strip() for a in m.group(2).split(",") if a.strip()] for m in DEFINED.finditer(_page())}


def test_the_page_defines_exactly_the_commands_of_the_protocol():
    defined = _page_functions()
    assert set(defined) == set(COMMANDS) | set(PAGE_HOOKS)
    # and takes the arguments the protocol names, in number
    wrong = {n: (defined[n], [a for a, _ in c.args]) for n, c in COMMANDS.items() if len(defined[n]) != len(c.args)}
    assert wrong == {}


def test_python_sends_only_commands_the_page_defines():
    texts = {p: t for p, t in _python("zjmap", "tests", "benchmarks").items() if p.name != "protocol.py"}
    called = _called(texts)
    unknown = {n: sorted(str(p.relative_to(ROOT)) for p in ps) for n, ps in called.items() if n not in COMMANDS}
    assert unknown == {}


def test_every_command_is_sent_by_someone():
    """A command nothing sends is dead code on the page (the old ZJ.restack
    call went the other way: sent, never defined). The app's commands are
    sent by zjmap/ itself; probes by the tests or benchmarks."""
    app = _called(_python("zjmap"))
    anyone = _called(_python("zjmap", "tests", "benchmarks"))
    unsent_app = [n for n, c in COMMANDS.items() if not c.probe and n not in app]
    unsent_probe = [n for n, c in COMMANDS.items() if c.probe and n not in anyone]
    assert unsent_app == [] and unsent_probe == []


def test_no_inline_page_code_outside_the_protocol():
    """Python reaches the page only through js_call (the boot line of the
    page skeleton is the one template that names ZJ.init itself)."""
    bad = []
    for path, text in _python("zjmap").items():
        if path.name in ("protocol.py", "mappage.py"):
            continue
        for m in re.finditer(r"\bZJ\.\w+\(", text):
            if not text[max(0, m.start() - 2):m.start()].endswith("``"):  # docstrings may name them
                bad.append(f"{path.relative_to(ROOT)}: {m.group(0)}")
    assert bad == []


def test_events_match_the_bridge_and_what_the_page_sends():
    from zjmap.qt.bridge import Bridge

    sent = set(SENT.findall(_page()))
    slots = {n for n in EVENTS if callable(getattr(Bridge, n, None))}
    assert sent == set(EVENTS) and slots == set(EVENTS)


def test_js_call_encodes_arguments_and_refuses_unknown_commands():
    assert js_call("setOpacity", "user_1", 0.5) == 'ZJ.setOpacity("user_1", 0.5)'
    assert js_call("hover", "西湖区 · 县级", 30.2, 120.1) == 'ZJ.hover("西湖区 · 县级", 30.2, 120.1)'
    assert js_call("addLayer", Raw('{"id":"a"}'), None) == 'ZJ.addLayer({"id":"a"}, null)'
    with pytest.raises(ValueError):
        js_call("restack")
    with pytest.raises(TypeError):
        js_call("removeLayer", "a", "b")
    assert protocol.parse_view('{"w": 1, "s": 2}') == {"w": 1, "s": 2}
    assert protocol.parse_view("not json") is None and protocol.parse_view('{"x": 1}') is None
