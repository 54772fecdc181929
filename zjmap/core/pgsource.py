"""Source strings that name a database table or a web service instead of a file.

Cheap to import (no psycopg, no GDAL): the workspace, the CLI and the file
dialogs only need to know whether a text is such a source and what it looks
like without its password.

Forms understood (see :func:`parse_pg`):

* ``postgresql://user@host:port/db?table=schema.name`` (also ``&sql=…``,
  ``&geom=column``; every other query parameter, e.g. ``sslmode`` or
  ``service``, goes to libpq as it is);
* GDAL's ``PG:"dbname=… host=… tables=schema.name(geom)"``;
* ``OAPIF:http://host/…/collections/NAME`` and WFS URLs (``…?service=WFS…``
  or ``WFS:http…``): see :mod:`zjmap.core.webfeatures`.

Passwords found in a source string are taken out of it (the returned source's
``text`` never holds one) and handed to the caller, which keeps them for the
session only (:mod:`zjmap.core.postgis`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = ["PgSource", "SourceError", "is_pg", "is_remote", "is_web", "parse_pg", "safe_text", "source_title"]

_OUR_KEYS = ("table", "tables", "sql", "geom", "schema")


class SourceError(ValueError):
    """A source string zjmap cannot understand; the message says why."""


@dataclass(frozen=True)
class PgSource:
    """A PostgreSQL layer source, password removed.

    ``params``: libpq keywords (host, port, dbname, user, sslmode, service, …);
    ``schema``/``table``: the relation (schema None: the search path decides);
    ``sql``: a query instead of a table; ``geom``: the geometry column (None:
    the first one). ``text``: the source string as stored and shown.
    """

    params: tuple[tuple[str, str], ...]
    schema: str | None = None
    table: str | None = None
    sql: str | None = None
    geom: str | None = None
    text: str = ""

    @property
    def conninfo(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def server_key(self) -> str:
        """Which login a remembered password belongs to."""
        p = self.conninfo
        if "service" in p and "host" not in p:
            return f"service={p['service']}"
        return f"{p.get('user', '')}@{p.get('host', '')}:{p.get('port', '5432')}/{p.get('dbname', '')}"

    @property
    def relation(self) -> str:
        """The table as a planner would write it (for messages)."""
        if self.sql is not None:
            return "SQL query"
        return f"{self.schema}.{self.table}" if self.schema else str(self.table)

    @property
    def where(self) -> str:
        """The server in words (for messages)."""
        p = self.conninfo
        if "service" in p and "host" not in p:
            return f"service {p['service']}"
        host = p.get("host", "localhost")
        return f"{host}:{p.get('port', '5432')}/{p.get('dbname', '')}"

    def with_relation(self, schema: str | None, table: str, geom: str | None = None) -> "PgSource":
        """The same server with another table (browse → add)."""
        q = [(k, v) for k, v in self.params if k not in ("host", "port", "user", "dbname")]
        q.append(("table", f"{schema}.{table}" if schema else table))
        if geom:
            q.append(("geom", geom))
        text = f"{_uri_base(self.conninfo)}?{urlencode(q, quote_via=quote, safe='.:/')}"
        return PgSource(self.params, schema, table, None, geom, text)


def is_pg(text: object) -> bool:
    s = str(text).strip()
    return s.startswith(("postgresql://", "postgres://", "PG:", "pg:"))


def is_web(text: object) -> bool:
    s = str(text).strip()
    low = s.lower()
    return low.startswith(("oapif:", "wfs:")) or (
        low.startswith(("http://", "https://")) and ("/collections/" in low or "service=wfs" in low)
    )


def is_remote(text: object) -> bool:
    """True for a database or web-service source (not a file path)."""
    return is_pg(text) or is_web(text)


def safe_text(text: str) -> str:
    """``text`` with any password taken out (what may be written to disk)."""
    if is_pg(text):
        return parse_pg(text)[0].text
    if is_web(text):
        u = urlsplit(re.sub(r"^(?i:oapif|wfs):", "", text.strip()))
        if u.password:
            prefix = text.strip()[: len(text.strip()) - len(urlunsplit(u))]
            host = u.hostname or ""
            netloc = f"{u.username}@{host}" + (f":{u.port}" if u.port else "")
            return prefix + urlunsplit(u._replace(netloc=netloc))
    return text


def _split_relation(name: str) -> tuple[str | None, str]:
    """``schema.table`` → (schema, table); double quotes keep dots in a name."""
    parts: list[str] = []
    buf = ""
    quoted = False
    i = 0
    while i < len(name):
        ch = name[i]
        if ch == '"' and (quoted or buf == ""):
            if quoted and i + 1 < len(name) and name[i + 1] == '"':
                buf += '"'
                i += 2
                continue
            quoted = not quoted
        elif ch == "." and not quoted and len(parts) == 0:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
        i += 1
    parts.append(buf)
    if len(parts) == 1:
        return None, parts[0]
    return parts[0] or None, parts[1]


def _uri_base(p: dict[str, str]) -> str:
    host = p.get("host", "")
    netloc = (quote(p["user"], safe="") + "@" if p.get("user") else "") + host + (f":{p['port']}" if p.get("port") else "")
    return f"postgresql://{netloc}/{quote(p.get('dbname', ''), safe='')}"


_PG_TOKEN = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def parse_pg(text: str) -> tuple[PgSource, str | None]:
    """(source without password, the password if the text had one)."""
    s = str(text).strip()
    if s.startswith(("postgresql://", "postgres://")):
        return _parse_uri(s)
    if s[:3].upper() == "PG:":
        return _parse_gdal(s[3:])
    raise SourceError(f"{s!r} is not a PostgreSQL source (postgresql://… or PG:…)")


def _parse_uri(s: str) -> tuple[PgSource, str | None]:
    u = urlsplit(s)
    ours: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for k, v in parse_qsl(u.query, keep_blank_values=True):
        (ours.__setitem__(k, v) if k in _OUR_KEYS else rest.append((k, v)))
    password = None
    try:
        if u.password is not None:
            from urllib.parse import unquote

            password = unquote(u.password)
        host, port = u.hostname, u.port
    except ValueError as exc:
        raise SourceError(f"the database address {s!r} is malformed ({exc})") from None
    from urllib.parse import unquote

    params: dict[str, str] = {}
    if u.username:
        params["user"] = unquote(u.username)
    if host:
        params["host"] = host
    if port:
        params["port"] = str(port)
    db = unquote(u.path.lstrip("/"))
    if db:
        params["dbname"] = db
    for k, v in rest:
        if k == "password":
            password = v
            continue
        params[k] = v
    netloc = (quote(params["user"], safe="") + "@" if "user" in params else "") + (u.hostname or "") + (f":{port}" if port else "")
    clean_q = [(k, v) for k, v in parse_qsl(u.query, keep_blank_values=True) if k != "password"]
    query = urlencode(clean_q, quote_via=quote, safe=".:/,()*")
    clean = f"{u.scheme}://{netloc}{u.path}" + (f"?{query}" if query else "")
    return _finish(params, ours, clean), password


def _parse_gdal(body: str) -> tuple[PgSource, str | None]:
    body = body.strip()
    if len(body) >= 2 and body[0] == body[-1] == '"':
        body = body[1:-1]
    params: dict[str, str] = {}
    ours: dict[str, str] = {}
    password = None
    kept: list[str] = []
    pos = 0
    for m in _PG_TOKEN.finditer(body):
        if body[pos:m.start()].strip():
            raise SourceError(f"cannot read {body[pos:m.start()].strip()!r} in the PG: connection string")
        pos = m.end()
        k, v = m.group(1).lower(), m.group(2)
        if v.startswith("'"):
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        if k == "password":
            password = v
            continue
        kept.append(m.group(0).strip())
        (ours.__setitem__(k, v) if k in _OUR_KEYS else params.__setitem__(k, v))
    if body[pos:].strip():
        raise SourceError(f"cannot read {body[pos:].strip()!r} in the PG: connection string")
    return _finish(params, ours, "PG:" + " ".join(kept)), password


def _finish(params: dict[str, str], ours: dict[str, str], text: str) -> PgSource:
    table = ours.get("table") or ours.get("tables")
    geom = ours.get("geom") or None
    schema = None
    name = None
    if table:
        table = table.split(",")[0].strip()
        m = re.match(r"^(.*)\(([^()]*)\)$", table)  # GDAL: tables=schema.name(geom)
        if m and not geom:
            table, geom = m.group(1), m.group(2)
        schema, name = _split_relation(table)
        schema = schema or ours.get("schema") or None
    sql = ours.get("sql") or None
    return PgSource(tuple(sorted(params.items())), schema, name, sql, geom, text)


def source_title(text: str) -> str:
    """A layer's default title: the table or collection name, or the file's stem."""
    s = str(text).strip()
    if is_pg(s):
        src = parse_pg(s)[0]
        return src.table or "SQL"
    if is_web(s):
        u = urlsplit(re.sub(r"^(?i:oapif|wfs):", "", s))
        if "/collections/" in u.path:
            return u.path.rstrip("/").split("/collections/")[-1].split("/")[0]
        for k, v in parse_qsl(u.query):
            if k.lower() in ("typename", "typenames"):
                return v.split(":")[-1]
        return u.hostname or s
    from pathlib import Path

    return Path(s).stem
