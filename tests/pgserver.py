"""A real PostgreSQL + PostGIS for the tests, started in a temporary folder.

Debian's packages (``postgresql-NN``, ``postgresql-NN-postgis-3``, installed
by tools/setup.sh) provide the binaries. initdb refuses to run as root, so as
root the cluster belongs to the ``postgres`` user (``runuser``). The server
listens on 127.0.0.1 only, on a port chosen at run time; local socket
connections are trusted (the tests' admin path), TCP ones need the password
(so the password handling of zjmap is exercised for real).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

PASSWORD = "zj-test-密码-1"
DBNAME = "zjmap"


def _bindir() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run tools/setup.sh as root (make test does)")
    return os.path.dirname(found[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    root: str
    port: int
    bindir: str
    user: str | None  # OS user the cluster runs as (None: this process's user)

    @property
    def datadir(self) -> str:
        return os.path.join(self.root, "data")

    @property
    def sockdir(self) -> str:
        return os.path.join(self.root, "sock")

    @property
    def uri(self) -> str:
        """How a planner would name the database: no password in it."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DBNAME}"

    @property
    def admin(self) -> str:
        """libpq conninfo through the trusted socket (test set-up only)."""
        return f"host={self.sockdir} port={self.port} user=postgres dbname={DBNAME}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    @classmethod
    def create(cls) -> "PgServer":
        bindir = _bindir()
        root = tempfile.mkdtemp(prefix="zjmap-pg-")
        user = "postgres" if os.geteuid() == 0 else None
        srv = cls(root, free_port(), bindir, user)
        os.makedirs(srv.sockdir)
        pwfile = os.path.join(root, "pw")
        with open(pwfile, "w", encoding="utf-8") as fh:
            fh.write(PASSWORD + "\n")
        if user:
            pw = pwd.getpwnam(user)
            for p in (root, srv.sockdir, pwfile):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        srv._run(f"{bindir}/initdb", "-D", srv.datadir, "-U", "postgres", "--pwfile", pwfile,
                 "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                 "--no-sync")
        srv.start()
        import psycopg

        with psycopg.connect(f"host={srv.sockdir} port={srv.port} user=postgres dbname=postgres",
                             autocommit=True) as c:
            c.execute(f"CREATE DATABASE {DBNAME}")
        with psycopg.connect(srv.admin, autocommit=True) as c:
            c.execute("CREATE EXTENSION postgis")
        return srv

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c full_page_writes=off -c synchronous_commit=off -c shared_buffers=64MB")
        self._run(f"{self.bindir}/pg_ctl", "-D", self.datadir, "-o", opts, "-l",
                  os.path.join(self.root, "log"), "-w", "-t", "30", "start")

    def kill(self) -> None:
        """The server goes away at once, as a crash or a pulled cable would look."""
        self._run(f"{self.bindir}/pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "stop", check=False)

    def running(self) -> bool:
        return self._run(f"{self.bindir}/pg_ctl", "-D", self.datadir, "status", check=False).returncode == 0

    def destroy(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def sql(self, statement: str, params: tuple | None = None) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as c:
            cur = c.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def wait_gone(self, timeout: float = 10) -> None:
        end = time.monotonic() + timeout
        while self.running() and time.monotonic() < end:
            time.sleep(0.05)
