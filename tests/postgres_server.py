"""A throwaway PostgreSQL server for the tests and benchmarks of the SQL backend.

    with temporary_server() as base_url:          # postgresql+psycopg://crmbook@127.0.0.1:PORT/postgres
        url = create_database(base_url, "crm_1")  # the same server, database crm_1 (fresh, UTF-8)
        ...
        drop_database(base_url, "crm_1")

Where the server comes from:

- When the environment variable CRMBOOK_TEST_POSTGRES holds a URL (for example
  ``postgresql+psycopg://user:pw@127.0.0.1:5432/postgres``), that server is used and nothing is
  started. Its user must be allowed to create databases. A plain ``postgresql://`` URL is taken to
  mean psycopg 3.
- Otherwise a private server is made with the PostgreSQL binaries found on PATH or, newest version
  first, in Debian's /usr/lib/postgresql/*/bin (``make system-deps`` installs them as root): a new
  cluster in a temporary folder (trust authentication, superuser ``crmbook``, UTF-8), listening on
  127.0.0.1 at a free port and on a Unix socket in that folder only, with fsync, synchronous commit
  and full-page writes off because nothing in it needs to survive a crash. On leaving the block it
  is stopped (``pg_ctl stop -m immediate``) and the folder deleted, also after an error or Ctrl-C.

PostgreSQL refuses to run as root. As root the binaries run as the ``postgres`` system user (made
by Debian's postgresql package) through ``runuser`` (or ``su``), in a folder under /tmp owned by it.

When no server can be had, PostgresUnavailable says why; the pytest fixtures in conftest.py turn
that into a skip with the same reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ENV_VAR = "CRMBOOK_TEST_POSTGRES"
SUPERUSER = "crmbook"
DEBIAN_BINDIRS = "/usr/lib/postgresql/*/bin"  # a glob; the newest version wins
SYSTEM_USER = "postgres"  # who runs the server when we are root
START_TIMEOUT = 30  # seconds pg_ctl may take to start the server
INSTALL_HINT = "install Debian's postgresql package (make system-deps does it as root)"

# Settings for a server whose data is worthless after the test run.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "log_min_messages": "warning",
}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be used or started; the message says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- public API


@contextlib.contextmanager
def temporary_server() -> Iterator[str]:
    """Yield the SQLAlchemy URL of a PostgreSQL server's ``postgres`` database.

    The server is the one named by CRMBOOK_TEST_POSTGRES, or else a throwaway one started here
    and removed on exit. Raises PostgresUnavailable when neither is possible.
    """
    external = os.environ.get(ENV_VAR, "").strip()
    if external:
        url = _normalise_url(external)
        try:
            _check_connection(url, attempts=1)
        except PostgresUnavailable as error:
            raise PostgresUnavailable(f"{ENV_VAR}: {error.reason}") from None
        yield url
        return
    with _private_server() as url:
        yield url


def create_database(base_url: str, name: str) -> str:
    """Create the empty UTF-8 database `name` on base_url's server; return its URL.

    `name` is used as given (quoted, so case and punctuation are kept) and may be at most 63 bytes,
    PostgreSQL's limit. The database is copied from template0, so nothing left in template1 of a
    shared server leaks into it.
    """
    from psycopg import sql

    _check_name(name)
    with _admin_connection(base_url) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)
            )
        )
    return _with_database(base_url, name)


def drop_database(base_url: str, name: str) -> None:
    """Drop database `name` if it exists, disconnecting whoever is still using it."""
    from psycopg import sql

    _check_name(name)
    with _admin_connection(base_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# ---------------------------------------------------------------- URLs and connections


def _normalise_url(url: str) -> str:
    """The URL with psycopg 3 as driver when it names none (SQLAlchemy would pick psycopg2)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _libpq_url(url: str) -> str:
    """A SQLAlchemy URL as a libpq connection URI psycopg accepts."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin_connection(url: str):
    import psycopg

    return psycopg.connect(_libpq_url(url), autocommit=True, connect_timeout=10)


def _check_name(name: str) -> None:
    if not name or len(name.encode()) > 63 or "\0" in name:
        raise ValueError(f"not a usable PostgreSQL database name: {name!r} (1 to 63 bytes)")


def _check_connection(url: str, attempts: int, pause: float = 0.1) -> None:
    """Connect and run SELECT 1; PostgresUnavailable with the last error after `attempts` tries."""
    import psycopg

    for attempt in range(attempts):
        try:
            with _admin_connection(url) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.Error as error:
            last = " ".join(str(error).split())
            if attempt + 1 < attempts:
                time.sleep(pause)
    raise PostgresUnavailable(f"cannot connect to {_without_password(url)}: {last}")


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ---------------------------------------------------------------- the private server


def find_bindir() -> Path:
    """The folder holding initdb and pg_ctl: PATH first, then the newest Debian version."""
    initdb = shutil.which("initdb")
    if initdb and Path(initdb).with_name("pg_ctl").exists():
        return Path(initdb).resolve().parent
    candidates = [Path(p).parent for p in glob.glob(f"{DEBIAN_BINDIRS}/initdb")]
    candidates = [d for d in candidates if (d / "pg_ctl").exists()]
    if not candidates:
        raise PostgresUnavailable(f"initdb not found: {INSTALL_HINT}")
    return max(candidates, key=_version_key)


def _version_key(bindir: Path) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin, so that 15 sorts after 9.6."""
    return tuple(int(n) for n in re.findall(r"\d+", bindir.parent.name)) or (0,)


class _Runner:
    """Runs PostgreSQL's programs as ourselves, or as the postgres system user when we are root."""

    def __init__(self) -> None:
        self.as_root = os.geteuid() == 0
        self.user: pwd.struct_passwd | None = None
        if self.as_root:
            try:
                self.user = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"PostgreSQL refuses to run as root and there is no '{SYSTEM_USER}' system "
                    f"user to run it as: {INSTALL_HINT}, or run the tests as an ordinary user"
                ) from None
            self.runuser = shutil.which("runuser")
            self.su = shutil.which("su")
            if not (self.runuser or self.su):
                raise PostgresUnavailable(
                    f"PostgreSQL refuses to run as root and neither runuser nor su is there to "
                    f"run it as '{SYSTEM_USER}'"
                )

    def make_dir(self) -> Path:
        """A new temporary folder the server's user owns (under /tmp, which it can traverse)."""
        parent = "/tmp" if os.path.isdir("/tmp") else None  # short, for the Unix socket's path
        path = Path(tempfile.mkdtemp(prefix="crmbook-pg-", dir=parent))
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
            path.chmod(0o755)
        return path

    def command(self, argv: list[str]) -> list[str]:
        if self.user is None:
            return argv
        if self.runuser:
            return [self.runuser, "-u", SYSTEM_USER, "--", *argv]
        return [self.su, SYSTEM_USER, "-s", "/bin/sh", "-c", shlex.join(argv)]

    def run(self, argv: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
        # Our own PG* variables (PGDATA, PGPORT, ...) must not steer the private server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        return subprocess.run(
            self.command(argv),
            cwd=cwd,  # the server's user may not be able to enter ours
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _initdb(runner: _Runner, bindir: Path, data: Path, cwd: Path) -> None:
    base = [
        str(bindir / "initdb"),
        "--pgdata",
        str(data),
        "--auth=trust",
        f"--username={SUPERUSER}",
        "--encoding=UTF8",
        "--no-sync",  # nothing here needs to survive a crash
    ]
    errors = []
    for locale in (["--locale=C.UTF-8"], ["--no-locale"]):
        done = runner.run(base + locale, cwd=cwd, timeout=120)
        if done.returncode == 0:
            return
        errors.append(f"initdb {locale[0]} failed:\n{_tail(done.stderr or done.stdout)}")
        shutil.rmtree(data, ignore_errors=True)  # initdb removes it itself, normally
    raise PostgresUnavailable("\n".join(errors))


def _configure(data: Path, socket_dir: Path) -> None:
    settings = {**SETTINGS, "unix_socket_directories": f"'{socket_dir}'"}
    with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:  # the last setting wins
        conf.write("\n# crmbook tests: a throwaway server\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())


def _start(runner: _Runner, bindir: Path, data: Path, log: Path, cwd: Path) -> int:
    """Start the server on a free port (retrying when another process takes it first)."""
    for _ in range(3):
        port = _free_port()
        done = runner.run(
            [
                str(bindir / "pg_ctl"),
                "start",
                "--pgdata",
                str(data),
                "--log",
                str(log),
                "--options",
                f"-p {port}",
                "--wait",
                "--timeout",
                str(START_TIMEOUT),
            ],
            cwd=cwd,
            timeout=START_TIMEOUT + 15,
        )
        if done.returncode == 0:
            return port
        server_log = log.read_text(errors="replace") if log.exists() else ""
        if "could not bind" in server_log or "already in use" in server_log:
            log.unlink(missing_ok=True)
            continue
        break
    raise PostgresUnavailable(
        "pg_ctl start failed:\n" + _tail(f"{done.stderr}\n{done.stdout}\n{server_log}")
    )


def _stop(runner: _Runner, bindir: Path, data: Path, cwd: Path) -> None:
    """Stop the server at once; kill the postmaster if pg_ctl cannot."""
    pidfile = data / "postmaster.pid"
    if not pidfile.exists():
        return
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        runner.run(
            [str(bindir / "pg_ctl"), "stop", "--pgdata", str(data), "-m", "immediate", "--wait"],
            cwd=cwd,
            timeout=30,
        )
    if pidfile.exists():  # still there: pg_ctl failed or timed out
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)


@contextlib.contextmanager
def _private_server() -> Iterator[str]:
    bindir = find_bindir()
    runner = _Runner()
    root = runner.make_dir()
    data, log = root / "data", root / "server.log"
    try:
        try:
            _initdb(runner, bindir, data, cwd=root)
            _configure(data, socket_dir=root)
            port = _start(runner, bindir, data, log, cwd=root)
            url = f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres"
            _check_connection(url, attempts=50)
        except subprocess.TimeoutExpired as error:
            raise PostgresUnavailable(f"timed out: {shlex.join(map(str, error.cmd))}") from None
        yield url
    finally:
        _stop(runner, bindir, data, cwd=root)  # nothing to do unless a server was started
        shutil.rmtree(root, ignore_errors=True)
