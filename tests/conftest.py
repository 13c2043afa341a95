"""Users, rooms, logged-in sockets, and the real services the multi-worker tests need."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import websockets
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client

from chat import ephemeral, rooms
from chatsite.asgi import application

from .sockets import CommunicatorSocket, NetworkSocket

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a-long-test-password-17"
ORIGIN = b"http://localhost"


@pytest.fixture(autouse=True)
def in_process_settings(settings) -> None:
    """Tests keep production's security settings, except the redirect (the test client speaks
    plain HTTP) and the static manifest (built by collectstatic, which the browser test runs)."""
    settings.SECURE_SSL_REDIRECT = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
async def fresh_ephemeral_state(monkeypatch) -> AsyncIterator[None]:
    """Each test starts with an empty in-memory layer and store."""
    monkeypatch.setattr(ephemeral, "_store", None)
    layer = get_channel_layer()
    if hasattr(layer, "flush"):
        await layer.flush()
    yield


@pytest.fixture
def make_user(transactional_db) -> Callable:
    def make(username: str, **fields):
        return get_user_model().objects.create_user(username, password=PASSWORD, **fields)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def carol(make_user):
    return make_user("carol")


@pytest.fixture
def staff(make_user):
    """Staff with the chat app's admin permissions, as a site gives its moderators."""
    user = make_user("staff", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="chat"))
    return user


@pytest.fixture
def public_room(alice):
    return rooms.create_room(creator=alice, name="General", kind="public")


@pytest.fixture
def members(alice, bob, public_room):
    """The public room, owned by alice, with bob a member."""
    rooms.open_room(user=bob, slug=public_room.slug)
    return public_room


@pytest.fixture
def private_room(alice):
    return rooms.create_room(creator=alice, name="Secret plans", kind="private")


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
async def open_socket() -> AsyncIterator[Callable]:
    """`await open_socket(user, slug)`: a socket that has received its `ready` frame."""
    opened: list[CommunicatorSocket] = []

    async def open_(
        user=None,
        slug: str = "general",
        path: str | None = None,
        *,
        origin: bytes | None = ORIGIN,
        cookie=None,
        expect_ready: bool = True,
    ) -> CommunicatorSocket:
        from channels.db import database_sync_to_async as sync_to_async

        headers = [(b"host", b"localhost")]
        if origin is not None:
            headers.append((b"origin", origin))
        if cookie is None and user is not None:
            cookie = await sync_to_async(session_cookie)(user)
        if cookie:
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        communicator = WebsocketCommunicator(
            application, path or f"/ws/rooms/{slug}/", headers=headers
        )
        sock = CommunicatorSocket(communicator)
        sock.accepted, sock.handshake = await communicator.connect(timeout=5)
        opened.append(sock)
        if expect_ready:
            assert sock.accepted, f"handshake refused: {sock.handshake}"
            sock.ready = await sock.expect("ready")
        return sock

    yield open_
    for sock in opened:
        await sock.close()


# Real services: a redis-server and Daphne processes, for the multi-worker tests.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout} s")


@dataclass
class RedisServer:
    port: int
    directory: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (make test installs it)"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

        def pong() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")

        wait_until(pong, 10, "redis-server")

    def command(self, *words: str) -> bytes:
        line = " ".join(words).encode() + b"\r\n"
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(line)
            return s.recv(65536)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """A private redis-server on a free port, so tests never touch a shared Redis."""
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


def database_url() -> str:
    """The test database, as a URL the Daphne processes can open too."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    return (
        f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or 'localhost'}:"
        f"{s['PORT'] or 5432}/{s['NAME']}"
    )


@dataclass
class DaphneWorker:
    port: int
    env: dict[str, str]
    log: Path
    args: tuple[str, ...] = ()
    process: subprocess.Popen | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "--websocket-max-message-size",
                "262144",
                *self.args,
                "chatsite.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

        def healthy() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited:\n{self.log.read_text()[-3000:]}")
            with urllib.request.urlopen(f"{self.http}/healthz", timeout=2) as response:
                return response.status == 200

        wait_until(healthy, 30, f"daphne on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: the worker vanishes without running any disconnect handler."""
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    async def connect(
        self,
        user,
        slug: str | None = None,
        *,
        path: str | None = None,
        origin: str | None = None,
        cookie: str | None = None,
        expect_ready: bool = True,
    ) -> NetworkSocket:
        """A socket of `user` on room `slug` (or on `path`, e.g. the lobby's)."""
        from channels.db import database_sync_to_async as sync_to_async

        cookie = cookie or await sync_to_async(session_cookie)(user)
        connection_ = await websockets.connect(
            f"ws://127.0.0.1:{self.port}{path or f'/ws/rooms/{slug}/'}",
            additional_headers={"Cookie": f"sessionid={cookie}"},
            origin=origin or f"http://127.0.0.1:{self.port}",
            open_timeout=10,
        )
        sock = NetworkSocket(connection_)
        if expect_ready:
            sock.ready = await sock.expect("ready", timeout=10)
        return sock


@pytest.fixture(scope="session")
def static_root(tmp_path_factory) -> Path:
    """Collected static files with their manifest, as a production deployment has them."""
    root = tmp_path_factory.mktemp("static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_STATIC_ROOT": str(root)},
        check=True,
    )
    return root


@pytest.fixture
def daphne(
    redis_server, static_root, transactional_db, tmp_path
) -> Iterator[Callable[..., DaphneWorker]]:
    """`daphne(**env)` starts a Daphne process on the shared Redis and the test database."""
    workers: list[DaphneWorker] = []
    redis_server.command("FLUSHALL")

    def start(*args: str, **extra_env: str) -> DaphneWorker:
        """`args` are extra Daphne flags; `extra_env` overrides the environment."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "chatsite.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_server.url,
            "DJANGO_SECURE": "false",
            "DJANGO_DEBUG": "false",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DJANGO_STATIC_ROOT": str(static_root),
            **extra_env,
        }
        worker = DaphneWorker(free_port(), env, tmp_path / f"daphne-{len(workers)}.log", args)
        workers.append(worker)
        worker.start()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def redis_layer(redis_server, settings, monkeypatch) -> Iterator[None]:
    """Puts this test process on the Daphne workers' Redis, so that what a request served here
    (an admin action, say) broadcasts reaches their sockets."""
    from channels.layers import channel_layers

    settings.REDIS_URL = redis_server.url
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": redis_server.url, "socket_timeout": None}]},
        }
    }
    channel_layers.backends.clear()
    monkeypatch.setattr(ephemeral, "_store", None)
    yield
    channel_layers.backends.clear()
