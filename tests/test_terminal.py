"""The terminal client (`python -m chat.terminal`) against real Daphne workers, as a person or a
script runs it: `send` and `tail` as subprocesses, the interactive mode through a
pseudo-terminal (join, send, receive, a worker killed and restarted under it), and every kind of
bad credential reported once, clearly, with a non-zero exit status."""

import json
import os
import pty
import queue
import re
import signal
import subprocess
import sys
import threading
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from django.utils import timezone as django_timezone

from chat import bots, messages, tokens
from chat.cli import Api, Config
from chat.models import ApiToken, Message

from .conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

# The programs run in a time zone three hours east of UTC, so that local times are tested.
TZ, OFFSET = "XYZ-3", timezone(timedelta(hours=3))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def _token(user, scope: str = "write", **fields) -> str:
    return tokens.create(actor=user, user=user, name="t", scope=scope, **fields)[1]


def _env(home: Path, worker=None, token: str | None = None, **extra: str) -> dict[str, str]:
    """A small, known environment: no CHAT_* of the developer's, a private HOME."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TZ": TZ,
        "TERM": "dumb",
    }
    if worker is not None:
        env["CHAT_URL"] = worker.http
    if token is not None:
        env["CHAT_TOKEN"] = token
    return {**env, **extra}


def _chat(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chat.terminal", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _bodies(room, author=None) -> list[str]:
    found = Message.objects.filter(room=room).order_by("id")
    if author is not None:
        found = found.filter(author=author)
    return list(found.values_list("body", flat=True))


def _local(message: Message, pattern: str) -> str:
    return message.created.astimezone(OFFSET).strftime(pattern)


class Lines:
    """A subprocess's stdout, line by line, with a timeout on each wait."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))

    def next(self, timeout: float = 30) -> str:
        return self.queue.get(timeout=timeout)


def test_send_and_tail_against_a_live_site(daphne, alice, bob, members, tmp_path):
    worker = daphne()
    env = _env(tmp_path, worker, _token(alice))
    sent = _chat("send", "general", "hello", "from", "arguments", env=env)
    assert sent.returncode == 0, sent.stderr
    piped = _chat("send", "general", env=env, stdin="one\n\n  \ntwo: with a colon\n")
    assert piped.returncode == 0, piped.stderr
    assert _bodies(members) == ["hello from arguments", "one", "two: with a colon"]
    # A refused line is named, the others still go, and the exit status says not all were.
    partly = _chat("send", "general", env=env, stdin=f"{'z' * 4001}\nthree\n")
    assert partly.returncode == 1 and "line 1 not stored: too_long" in partly.stderr
    assert _bodies(members)[-1] == "three"

    # tail prints the last messages, one a line, in local time; --json keeps them exact.
    printed = _chat("tail", "--no-follow", "-n", "2", "general", env=env)
    assert printed.returncode == 0, printed.stderr
    two, three = Message.objects.filter(body__in=["two: with a colon", "three"]).order_by("id")
    assert printed.stdout.splitlines() == [
        f"{_local(two, '%Y-%m-%d %H:%M:%S')} alice: two: with a colon",
        f"{_local(three, '%Y-%m-%d %H:%M:%S')} alice: three",
    ]
    listed = _chat("rooms", "--json", env=env)
    assert json.loads(listed.stdout.splitlines()[0])["slug"] == "general"

    # tail follows: the last message, then live ones, until SIGTERM.
    follower = subprocess.Popen(
        [sys.executable, "-m", "chat.terminal", "tail", "--json", "-n", "1", "general"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = Lines(follower)
        assert json.loads(lines.next())["body"] == "three"
        Api(Config(worker.http, _token(bob))).post_message("general", "live\nfrom bob")
        live = json.loads(lines.next())
        assert (live["author"], live["body"]) == ("bob", "live\nfrom bob")
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(30) == 0
    finally:
        follower.kill()
        follower.wait()


def test_bad_credentials_are_reported_once_and_end_the_program(
    redis_layer, daphne, alice, bob, members, private_room, tmp_path
):
    worker = daphne()

    def refused(token: str, *args: str, status: int = 3) -> str:
        done = _chat(*args, env=_env(tmp_path, worker, token))
        assert done.returncode == status, (done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1  # one clear line, no traceback, no retry loop
        return done.stderr

    assert "not an API token" in refused("not-a-token", "send", "general", "x")
    assert "Unknown or revoked" in refused("chat_" + "x" * 43, "send", "general", "x")
    expired = _token(alice)
    ApiToken.objects.filter(user=alice).update(expires=django_timezone.now() - timedelta(1))
    assert "expired" in refused(expired, "send", "general", "x")
    revoked = _token(bob)
    tokens.revoke(actor=bob, token_id=ApiToken.objects.get(user=bob).pk)
    assert "Unknown or revoked" in refused(revoked, "tail", "general")
    bot = bots.create(owner=alice, username="helper")
    bot_token = tokens.create(actor=alice, user=bot.user, name="b", scope="write")[1]
    bots.set_active(owner=alice, username="helper", active=False)
    assert "deactivated" in refused(bot_token, "rooms")
    assert "deactivated" in refused(bot_token)  # interactive mode: refused before it starts
    assert "write scope" in refused(_token(bob, "read"), "send", "general", "x")
    assert not Message.objects.exists()

    # A room refused is final for that room: exit status 4.
    writer = _token(bob)
    refused(writer, "tail", private_room.slug, status=4)
    assert "not_found" in refused(writer, "send", "no-such-room", "x", status=4)

    # A token in the site's URL is never sent: refused before anything goes out.
    in_url = _chat(
        "rooms", env=_env(tmp_path, token=writer, CHAT_URL=f"{worker.http}/?token={writer}")
    )
    assert in_url.returncode == 2 and "must not carry a token" in in_url.stderr

    # A config file others may read is refused; once private, it is used.
    config = tmp_path / "chatrc"
    config.write_text(f"[chat]\nurl = {worker.http}\ntoken = {writer}\n")
    config.chmod(0o644)
    loose = _chat("rooms", "--config", str(config), env=_env(tmp_path))
    assert loose.returncode == 2 and "chmod 600" in loose.stderr
    config.chmod(0o600)
    assert _chat("rooms", "--config", str(config), env=_env(tmp_path)).returncode == 0

    # A token revoked while tail follows: the socket closes with 4401, which is final.
    follower = subprocess.Popen(
        [sys.executable, "-m", "chat.terminal", "tail", "general"],
        cwd=ROOT,
        env=_env(tmp_path, worker, writer),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        Api(Config(worker.http, _token(alice))).post_message("general", "are you there")
        assert Lines(follower).next().endswith("alice: are you there")
        tokens.revoke(actor=bob, token_id=ApiToken.objects.get(user=bob, scope="write").pk)
        assert follower.wait(30) == 3
        assert "4401" in follower.stderr.read()
    finally:
        follower.kill()
        follower.wait()


class Terminal:
    """`python -m chat.terminal` on a pseudo-terminal: what a person types, what they see."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chat.terminal", *args],
            cwd=ROOT,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.raw = ""
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: the program has ended
                data = b""
            with self.changed:
                if not data:
                    self.raw += "\0"  # the end
                    self.changed.notify_all()
                    return
                self.raw += data.decode("utf-8", "replace")
                self.changed.notify_all()

    @property
    def screen(self) -> str:
        return ANSI.sub("", self.raw)

    def expect(self, text: str, timeout: float = 60) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: text in self.screen, timeout):
                raise AssertionError(f"{text!r} not shown; the screen:\n{self.screen[-3000:]}")

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        os.close(self.master)


def test_the_interactive_client_through_a_pseudo_terminal(daphne, alice, bob, members, tmp_path):
    worker = daphne()
    bob_api = Api(Config(worker.http, _token(bob)))
    bob_api.post_message("general", "before you came")
    terminal = Terminal([], _env(tmp_path, worker, _token(alice)))
    try:
        # The rooms, with their unread counts; then joining one shows its last messages.
        terminal.expect("general")
        terminal.expect("1 unread")
        terminal.type("/join general")
        before = Message.objects.get(body="before you came")
        terminal.expect(f"{_local(before, '%H:%M')} bob: before you came")
        terminal.type("hello from the terminal")
        terminal.expect("alice: hello from the terminal")
        assert _bodies(members, alice) == ["hello from the terminal"]
        bob_api.post_message("general", "hi alice")
        terminal.expect("bob: hi alice")

        # The worker dies: the state is shown, a line typed meanwhile waits, a message stored
        # meanwhile is caught up on, and nothing is lost or shown twice.
        worker.kill()
        terminal.expect("Connection lost")
        terminal.type("sent while down")
        messages.post(author=bob, room=members, body="missed while away")
        worker.start()
        terminal.expect("Connected again")
        terminal.expect("bob: missed while away")
        terminal.expect("alice: sent while down")
        bob_api.post_message("general", "after the restart")
        terminal.expect("bob: after the restart")
        screen = terminal.screen
        for line in ("bob: hi alice", "bob: missed while away", "alice: sent while down"):
            assert screen.count(line) == 1, screen[-3000:]
        assert _bodies(members, alice) == ["hello from the terminal", "sent while down"]

        # A direct conversation, the room list, the help, and leaving.
        terminal.type("/dm bob")
        terminal.expect("(direct)")
        terminal.type("psst")
        terminal.expect("alice: psst")
        terminal.type("/rooms")
        terminal.expect("@bob")
        terminal.type("/help")
        terminal.expect("/dm USER")
        terminal.type("/quit")
        assert terminal.process.wait(30) == 0
    finally:
        terminal.close()
    assert Message.objects.filter(room__kind="direct", body="psst", author=alice).exists()
    assert (tmp_path / ".local" / "state" / "chat" / "history").read_text().count("psst") == 1
