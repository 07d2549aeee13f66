"""A throwaway PostgreSQL cluster for the tests (issue 13): Debian's server binaries, a data
folder in the system's temporary directory, a free port on 127.0.0.1, no fsync, trust
authentication for local connections; stopped and deleted at the end.

`initdb` refuses to run as root (a cluster's files must not belong to the superuser), so when
the tests run as root the cluster is created and run as the unprivileged `nobody`, in a folder it
owns. Each test gets a database of its own (`fresh_database`), so tests never see each other's
rows and need no cleaning.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

UNPRIVILEGED = "nobody"


class NoPostgres(RuntimeError):
    """The machine has no PostgreSQL server binaries."""


def server_bin() -> Path:
    """The folder of the newest installed server's programs (initdb, pg_ctl)."""

    def major(initdb: str) -> int:
        name = Path(initdb).parent.parent.name
        return int(name) if name.isdigit() else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise NoPostgres("no PostgreSQL server here (Debian: apt install postgresql)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    folder: Path
    port: int
    bin: Path
    user: str | None  # the system user it runs as (None: this process's)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            check=check,
            capture_output=True,
            text=True,
            user=self.user,
            cwd=self.folder,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )

    def stop(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.folder / "data"),
            "-m",
            "immediate",
            "stop",
            check=False,
        )


def start_cluster() -> Cluster:
    """A new cluster, started; `stop()` and delete its folder when done."""
    binaries = server_bin()
    user = UNPRIVILEGED if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="citebot-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(folder, _free_port(), binaries, user)
    data = folder / "data"
    cluster._run(
        str(binaries / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    )
    options = (
        f"-p {cluster.port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    started = cluster._run(
        str(binaries / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(folder / "log"),
        "-w",
        "-t",
        "60",
        "start",
        check=False,
    )
    if started.returncode != 0:
        log = (folder / "log").read_text(errors="replace") if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr}{log[-2000:]}")
    return cluster


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.folder, ignore_errors=True)


async def fresh_database(cluster: Cluster) -> str:
    """A new, empty database in `cluster`; its address."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(cluster.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    return cluster.dsn(name)
