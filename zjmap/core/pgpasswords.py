"""Database passwords: kept in this process for the session, and in the
system keyring (the ``keyring`` package) only when the planner asks for it.

Never in a workspace or settings file. A keyring backend that writes the
password to a plain file (keyrings.alt's file backends, installed for the
tests) is used only when the planner chose it (``PYTHON_KEYRING_BACKEND`` or
keyring's own config file), never because it happened to be installed; a
chained keyring keeps only its other backends. A stored password the server
refuses is taken out of the keyring, so the planner is asked again.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["KEYRING_SERVICE", "drop_stored", "forget_password", "keyring_available", "password_for",
           "remember_password"]

KEYRING_SERVICE = "zjmap-postgresql"

_PASSWORDS: dict[str, str] = {}
_lock = threading.Lock()


def _plain_file(backend: Any) -> bool:
    return type(backend).__module__.startswith("keyrings.alt")


def _chosen(backend: Any) -> bool:
    """The planner named this backend (environment variable or keyring's config file)."""
    from keyring import core

    return any(b is not None and type(b) is type(backend) for b in (core.load_env(), core.load_config()))


def _keyring() -> Any:
    """The keyring backend passwords may go to, else None (session memory only)."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null

        kr = keyring.get_keyring()
        if isinstance(kr, chainer.ChainerBackend):
            kr = next((b for b in kr.backends if not _plain_file(b)), None)
        elif _plain_file(kr) and not _chosen(kr):
            return None
        if kr is None or isinstance(kr, (fail.Keyring, null.Keyring)) or getattr(kr, "priority", 0) <= 0:
            return None
        return kr
    except Exception:  # no backend, locked, no D-Bus: session memory only
        return None


def keyring_available() -> bool:
    """Whether "remember in the keyring" can be offered."""
    return _keyring() is not None


def remember_password(key: str, password: str, keep: bool = False) -> None:
    """Keep ``password`` for this session, and in the keyring if ``keep`` (and there is one)."""
    with _lock:
        _PASSWORDS[key] = password
    kr = _keyring() if keep else None
    if kr is not None:
        try:
            kr.set_password(KEYRING_SERVICE, key, password)
        except Exception:
            pass


def forget_password(key: str) -> None:
    """Forget the session's password for server ``key`` (the keyring keeps its own)."""
    with _lock:
        _PASSWORDS.pop(key, None)


def password_for(key: str) -> tuple[str | None, bool]:
    """(the password for server ``key``, whether it came from the keyring)."""
    with _lock:
        if key in _PASSWORDS:
            return _PASSWORDS[key], False
    kr = _keyring()
    if kr is not None:
        try:
            pw = kr.get_password(KEYRING_SERVICE, key)
            return pw, pw is not None
        except Exception:
            return None, False
    return None, False


def drop_stored(key: str) -> None:
    """Take server ``key``'s password out of the keyring (the server refused it)."""
    kr = _keyring()
    if kr is not None:
        try:
            kr.delete_password(KEYRING_SERVICE, key)
        except Exception:
            pass
