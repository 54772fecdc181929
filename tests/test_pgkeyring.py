"""Database passwords in a real keyring backend (keyrings.alt's file keyring in a temporary folder,
conftest ``file_keyring``) against the real server (conftest ``pg``): kept there only when asked,
read back by a new session, a wrong stored one taken out; a file keyring that is merely installed
is not used."""

from __future__ import annotations

import pytest

from zjmap.core import pgpasswords, postgis
from zjmap.core.pgsource import parse_pg

from pgserver import PASSWORD


def test_remembered_in_the_keyring_opens_in_a_new_session(pg, file_keyring):
    src = parse_pg(pg.uri + "?table=public.parcels")[0]
    key = src.server_key
    postgis.forget_password(key)
    assert pgpasswords.keyring_available()
    postgis.remember_password(key, "session-only")  # not asked to keep: nothing stored
    assert file_keyring.get_password(pgpasswords.KEYRING_SERVICE, key) is None
    postgis.remember_password(key, PASSWORD, keep=True)
    assert file_keyring.get_password(pgpasswords.KEYRING_SERVICE, key) == PASSWORD
    postgis.forget_password(key)  # a new session: nothing in memory, the keyring has it
    layer = postgis.open_layer(src)
    try:
        assert layer.count() == 3000
    finally:
        layer.close()
    # a stored password the server refuses: the planner is asked, and the keyring no longer holds it
    file_keyring.set_password(pgpasswords.KEYRING_SERVICE, key, "not-the-password")
    postgis.forget_password(key)
    with pytest.raises(postgis.PgPasswordNeeded, match="right password"):
        postgis.open_layer(src)
    assert file_keyring.get_password(pgpasswords.KEYRING_SERVICE, key) is None
    with pytest.raises(postgis.PgPasswordNeeded, match="needs a password"):
        postgis.open_layer(src)


def test_a_file_keyring_only_installed_is_not_used(pg, file_keyring, monkeypatch, tmp_path):
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))  # no keyringrc.cfg names it either
    assert not pgpasswords.keyring_available()
    key = parse_pg(pg.uri)[0].server_key
    postgis.remember_password(key, PASSWORD, keep=True)
    postgis.forget_password(key)
    assert file_keyring.get_password(pgpasswords.KEYRING_SERVICE, key) is None  # never written to its file
