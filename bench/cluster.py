"""The servers under test: redis-server, the database, Daphne workers and the raw peer.

Every process is started here on a free port and stopped here, so a run never touches a Redis,
a database or a port somebody else uses (except PostgreSQL itself, where it creates and drops
its own database). The CPU time and memory of the processes are read from /proc, the same way
for the product and its peers, so that their costs compare.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
WS_MAX_BYTES = "262144"  # as tests/conftest.py and the Makefile start Daphne
PG_DATABASE = "chat_bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until it is true; exceptions count as "not yet"."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except RuntimeError:
            raise
        except Exception as exc:  # a refused connection, a 503: not up yet
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f} s (last error: {last!r})")


# /proc readings.


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rsplit(")", 1)[1].split()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                ppid = int(_stat_fields(int(entry.name))[1])
                tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def cpu_seconds(pids: Iterable[int], *, with_children: bool = True) -> float:
    """User plus system CPU time of the processes, their live descendants and their reaped
    children (cutime, cstime). A process that has exited counts 0 from then on."""
    tree = _children() if with_children else {}
    total, seen = 0, set()
    stack = list(pids)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        with contextlib.suppress(OSError, IndexError):
            f = _stat_fields(pid)
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        stack.extend(tree.get(pid, []))
    return total / TICKS


def rss_kib(pids: Iterable[int]) -> int:
    """Resident memory (VmRSS) of the processes, in KiB."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on the machine: the postmaster's cutime holds its exited
    backends (Django closes its connection after each request, CONN_MAX_AGE 0)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{entry.name}/comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
    return pids


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from the first line of /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # without guest time, already counted in user
    return total - idle, total


@dataclass
class Sample:
    """CPU seconds per role at one instant, and the machine's busy/total jiffies."""

    at: float
    cpu: dict[str, float]
    machine: tuple[int, int]

    def delta(self, later: Sample) -> dict[str, float]:
        out = {role: later.cpu[role] - self.cpu.get(role, 0.0) for role in later.cpu}
        busy = later.machine[0] - self.machine[0]
        total = later.machine[1] - self.machine[1]
        out["machine_busy_pct"] = 100.0 * busy / total if total else 0.0
        out["seconds"] = later.at - self.at
        return out


# The services.


@dataclass
class RedisServer:
    """A private redis-server on a free port, without persistence, as tests/conftest.py has."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pids(self) -> list[int]:
        return [self.process.pid] if self.process else []

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server is not installed (make system-deps installs it)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
                *("--maxclients", "10000"),
            ],
            stdout=(self.directory / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: self.client().ping(), 10, "redis-server")

    def client(self):  # -> redis.Redis; imported late so the peers need no redis-py import
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def version(self) -> str:
        return str(self.client().info("server").get("redis_version", "?"))

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen | None, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


@dataclass
class Database:
    """The product's database: a fresh PostgreSQL database when one answers on 127.0.0.1:5432,
    else a SQLite file in the run's directory."""

    url: str
    kind: str  # "postgresql" or "sqlite"
    version: str = ""

    @classmethod
    def create(cls, choice: str, directory: Path, admin_url: str) -> Database:
        if choice in ("auto", "postgres") and port_answers("127.0.0.1", 5432):
            try:
                return cls._postgres(admin_url)
            except Exception as exc:
                if choice == "postgres":
                    raise
                print(f"PostgreSQL answers but cannot be used ({exc}); using SQLite", flush=True)
        elif choice == "postgres":
            raise RuntimeError("nothing answers on 127.0.0.1:5432")
        path = directory / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        import sqlite3

        return cls(f"sqlite:///{path}", "sqlite", f"SQLite {sqlite3.sqlite_version}")

    @classmethod
    def _postgres(cls, admin_url: str) -> Database:
        import psycopg

        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")
        base = admin_url.rsplit("/", 1)[0]
        return cls(f"{base}/{PG_DATABASE}", "postgresql", f"PostgreSQL {version}")


@dataclass
class DaphneWorker:
    """One Daphne process, started as tests/conftest.py starts one."""

    application: str
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port)),
                *("--websocket-max-message-size", WS_MAX_BYTES),
                self.application,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, path: str = "/healthz") -> None:
        def healthy() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited:\n{self.log.read_text()[-3000:]}")
            with urllib.request.urlopen(f"{self.http}{path}", timeout=2) as response:
                return response.status == 200

        wait_until(healthy, 60, f"daphne on port {self.port}")

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class Target:
    """What a scenario talks to: socket URLs, the server processes to measure, and Redis."""

    name: str
    ports: list[int]
    server_pids: list[int]
    redis: RedisServer | None
    processes: list[subprocess.Popen]
    logs: list[Path]
    notes: list[str] = field(default_factory=list)
    stopped: bool = False
    media: Path | None = None  # the product's DJANGO_MEDIA_ROOT, where uploads land

    def ws_url(self, index: int, room: str) -> str:
        """Sockets are spread round-robin over the workers."""
        port = self.ports[index % len(self.ports)]
        if self.name == "product":
            return f"ws://127.0.0.1:{port}/ws/rooms/{room}/"
        return f"ws://127.0.0.1:{port}/ws/bench/{room}/"

    def origin(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index % len(self.ports)]}"

    def dead(self) -> list[str]:
        """Log tails of server processes that exited, for the report."""
        return [
            f"{log.name} exited with {p.returncode}:\n{log.read_text()[-2000:]}"
            for p, log in zip(self.processes, self.logs, strict=True)
            if p.poll() is not None
        ]

    def stop(self) -> None:
        self.stopped = True
        for process in self.processes:
            stop_process(process)
        if self.redis:
            self.redis.stop()


def product_env(database: Database, secret_key: str, redis_url: str | None) -> dict[str, str]:
    """The product's environment. The per-user rate limit (10 messages per 10 s) would refuse
    the benchmark's senders, so it is lifted; everything else is production's default."""
    env = {
        "DJANGO_SETTINGS_MODULE": "chatsite.settings",
        "DATABASE_URL": database.url,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_SECRET_KEY": secret_key,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CHAT_RATE_MESSAGES": "1000000",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def migrate(env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )


def collectstatic(env: dict[str, str], static_root: Path, log: Path) -> None:
    """Static files with their manifest, as tests/conftest.py collects them: without DEBUG the
    pages (the login form) need the manifest."""
    with log.open("ab") as out:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env={**os.environ, **env, "DJANGO_STATIC_ROOT": str(static_root)},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
        )


def start_daphne_cluster(
    name: str,
    application: str,
    env: dict[str, str],
    workers: int,
    run_dir: Path,
    health_path: str,
) -> Target:
    """redis-server, then `workers` Daphne processes on it, each answering `health_path`."""
    redis = RedisServer(run_dir / f"redis-{name}")
    redis.start()
    started: list[DaphneWorker] = []
    try:
        for i in range(workers):
            worker = DaphneWorker(
                application,
                {**os.environ, **env, "REDIS_URL": redis.url},
                run_dir / f"{name}-daphne-{i}.log",
            )
            worker.start()
            started.append(worker)
        for worker in started:
            worker.wait_healthy(health_path)
    except BaseException:
        for worker in started:
            worker.stop()
        redis.stop()
        raise
    return Target(
        name=name,
        ports=[w.port for w in started],
        server_pids=[w.process.pid for w in started],
        redis=redis,
        processes=[w.process for w in started],
        logs=[w.log for w in started],
    )


def start_product(
    database: Database, secret_key: str, workers: int, run_dir: Path, static_root: Path
) -> Target:
    env = product_env(database, secret_key, None)
    env["DJANGO_STATIC_ROOT"] = str(static_root)
    # Uploads (scenario G) go to the run's directory, never to the checkout's media/.
    media = run_dir / "media"
    env["DJANGO_MEDIA_ROOT"] = str(media)
    target = start_daphne_cluster(
        "product", "chatsite.asgi:application", env, workers, run_dir, "/healthz"
    )
    target.media = media
    return target


def start_tutorial(workers: int, run_dir: Path, layer: str = "core") -> Target:
    env = {"DJANGO_SETTINGS_MODULE": "bench.peers.tutorial_settings", "BENCH_LAYER": layer}
    return start_daphne_cluster(
        "tutorial", "bench.peers.tutorial_asgi:application", env, workers, run_dir, "/healthz"
    )


def start_raw(run_dir: Path) -> Target:
    port = free_port()
    log = run_dir / "raw.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.peers.raw", "--port", str(port)],
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the raw server exited:\n{log.read_text()[-3000:]}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200

    try:
        wait_until(healthy, 30, "the raw server")
    except BaseException:
        stop_process(process)
        raise
    return Target("raw", [port], [process.pid], None, [process], [log])
