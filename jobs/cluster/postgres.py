"""PostgreSQL for the cluster: Debian's server binaries, a data folder of our own.

One server holds two databases, ``prefect`` (the Prefect server's) and ``jobs`` (the
application database: outbox, ledger, records). It listens on loopback (the server host's own
processes) and on the cluster address (the workers read and write the application database),
password-checked (scram-sha-256) on both; local socket connections are trusted, for setup.
Run as the ``postgres`` user when started by root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

DATABASES = ("prefect", "jobs")


def binaries() -> Path:
    """The newest installed PostgreSQL's bin folder."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=_version)
    if not found:
        raise FileNotFoundError(
            "PostgreSQL is not installed (Debian: apt-get install postgresql; `make cluster` "
            "installs it when run as root)"
        )
    return found[-1].parent


def _version(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.parent.parent.name.split(".") if part.isdigit())


class Postgres:
    """A private PostgreSQL server in ``folder`` on ``port``, listening on ``addresses``,
    taking password connections from loopback and the ``clients`` network."""

    def __init__(
        self, folder: Path, port: int, addresses: list[str], clients: str, password: str
    ) -> None:
        self.folder, self.port, self.addresses, self.password = folder, port, addresses, password
        self.clients = clients
        self.data = folder / "data"
        self.user = "postgres" if os.geteuid() == 0 else None

    def _owned(self, path: Path) -> None:
        if self.user:
            record = pwd.getpwnam(self.user)
            shutil.chown(path, record.pw_uid, record.pw_gid)

    def _as_owner(self, args: list[str]) -> None:
        subprocess.run(args, check=True, capture_output=True, user=self.user, cwd=self.folder)

    def init(self) -> None:
        """Create the data folder on first use (later runs keep their data)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._owned(self.folder)
        if self.user:  # the postgres user must reach the folder
            for parent in [self.folder, *self.folder.parents]:
                if not os.stat(parent).st_mode & 0o001:
                    raise PermissionError(
                        f"{parent} is not searchable by other users: the postgres user cannot "
                        f"reach {self.folder}; set JOBS_HOME under a folder it can reach"
                    )
        if (self.data / "PG_VERSION").exists():
            return
        secret = self.folder / "pwfile"
        secret.write_text(self.password)
        secret.chmod(0o600)
        self._owned(secret)
        try:
            self._as_owner(
                [str(binaries() / "initdb"), "-D", str(self.data), "-U", "postgres",
                 "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={secret}"]
            )  # fmt: skip
        finally:
            secret.unlink()
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {self.clients} scram-sha-256\n")

    def command(self) -> list[str]:
        """The command that runs the server in the foreground (SIGINT: fast shutdown)."""
        return [
            str(binaries() / "postgres"), "-D", str(self.data), "-p", str(self.port),
            "-k", str(self.folder), "-c", f"listen_addresses={','.join(self.addresses)}",
            "-c", "max_connections=300", "-c", "shared_buffers=256MB",
        ]  # fmt: skip

    def start(self, log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                user=self.user,
                cwd=self.folder,
                start_new_session=True,
            )

    def url(self, database: str, driver: str, host: str = "127.0.0.1") -> str:
        return f"postgresql+{driver}://postgres:{self.password}@{host}:{self.port}/{database}"

    def wait(self, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
        """Until the server takes connections; then create the databases that are missing."""
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited with {process.returncode}; see its log")
            try:
                with psycopg.connect(
                    host=str(self.folder), port=self.port, user="postgres", dbname="postgres",
                    autocommit=True, connect_timeout=2,
                ) as connection:  # fmt: skip
                    have = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
                    for name in DATABASES:
                        if name not in have:
                            connection.execute(f'CREATE DATABASE "{name}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
