"""The bridge (`python -m chat.bridge`) against real Daphne workers, with the example bots of
`examples/`: a message in and an answer out, a program that floods (slowed, never killed, long
lines split, too long ones refused aloud), one that exits (restarted) or will not stop (killed
after the grace period), and refusals that end the bridge instead of looping."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from chat import bots, tokens
from chat.cli import Api, Config
from chat.models import Message

from .conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

# The flood test's room allows a burst of 4 messages, then one every half second.
SLOW = {"CHAT_RATE_MESSAGES": "4", "CHAT_RATE_PERIOD": "2"}


def _bot(owner, username: str, scope: str = "write"):
    bot = bots.create(owner=owner, username=username)
    return bot.user, tokens.create(actor=owner, user=bot.user, name="b", scope=scope)[1]


def _token(user) -> str:
    return tokens.create(actor=user, user=user, name="t", scope="write")[1]


def _env(home: Path, worker, token: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "CHAT_URL": worker.http,
        "CHAT_TOKEN": token,
    }


def _until(check: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Wait for a condition (never for a time): what the bridge did shows in the database."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout} s")
        time.sleep(0.1)


def _posted(user) -> list[str]:
    return list(Message.objects.filter(author=user).order_by("id").values_list("body", flat=True))


class Bridge:
    """A running `python -m chat.bridge`, its log (stderr) read as it comes."""

    def __init__(self, env: dict[str, str], *args: str, room: str = "general") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chat.bridge", "--room", room, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log = ""
        self.ended = False  # the whole log is read
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            with self.changed:
                self.log += line
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def expect(self, text: str, timeout: float = 60) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: text in self.log, timeout):
                raise AssertionError(f"{text!r} not logged; the log:\n{self.log[-3000:]}")

    def stop(self, number: int = signal.SIGTERM) -> int:
        self.process.send_signal(number)
        return self.wait()

    def wait(self) -> int:
        status = self.process.wait(60)
        with self.changed:
            self.changed.wait_for(lambda: self.ended, 10)
        return status

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


def test_the_example_bots_answer_in_the_room(daphne, alice, bob, members, tmp_path):
    worker = daphne()
    say = Api(Config(worker.http, _token(bob))).post_message
    echo, echo_token = _bot(alice, "echo")
    bridge = Bridge(_env(tmp_path, worker, echo_token), "--", "examples/echo-bot.sh")
    try:
        bridge.expect("echo bot ready")  # the program's stderr goes to the bridge's log
        say("general", "hello bot")
        _until(lambda: _posted(echo) == ["bob said: hello bot"], "the echo")
        # A clean stop: stdin closed, the shell's loop ends, no signal needed.
        assert bridge.stop() == 0
        assert "Closing the program's stdin" in bridge.log and "still running" not in bridge.log
    finally:
        bridge.close()

    dice, dice_token = _bot(alice, "dice")
    bridge = Bridge(
        _env(tmp_path, worker, dice_token), "--json", "--", sys.executable, "examples/dice_bot.py"
    )
    try:
        bridge.expect("dice bot ready")
        say("general", "!roll 2d6")
        say("general", "no command here")
        say("general", "!time")
        _until(lambda: len(_posted(dice)) == 2, "the dice bot's answers")
        roll, clock = _posted(dice)
        total = re.fullmatch(r"@bob rolled 2d6: (\d) \+ (\d) = (\d+)", roll)
        assert total and int(total[1]) + int(total[2]) == int(total[3])
        assert re.fullmatch(r"It is \d\d:\d\d:\d\d UTC\.", clock)
        assert bridge.stop(signal.SIGINT) == 0
    finally:
        bridge.close()
    assert _posted(echo) == ["bob said: hello bot"]  # a stopped bridge answers nothing more


FLOOD = """
import os
for name, value in sorted(os.environ.items()):
    print(f"{name}={value}")
print(" ".join(["word"] * 2000))  # 9,999 characters: three messages
print("y" * 20000)  # more than --max-parts messages: refused, and said so
for n in range(1, 13):
    print(f"line {n}")
"""


def test_a_flooding_program_is_slowed_not_killed_and_never_sees_the_token(
    daphne, alice, members, tmp_path
):
    worker = daphne(**SLOW)
    bot, token = _bot(alice, "flood")
    program = ["--", sys.executable, "-c", FLOOD]
    bridge = Bridge(_env(tmp_path, worker, token), "--once", "--max-parts", "3", *program)
    try:
        assert bridge.wait() == 0  # --once: the program's exit status, once all is posted
    finally:
        bridge.close()
    assert "Rate limited" in bridge.log  # it was slowed down...
    assert "Refused a line of 20000 characters" in bridge.log  # ...and nothing went silently
    posted = _posted(bot)
    environment = [body for body in posted if "=" in body]
    assert "CHAT_ROOM=general" in environment and "CHAT_USERNAME=flood" in environment
    assert not any(token in body or "CHAT_TOKEN" in body for body in posted)
    parts = [body for body in posted if body.startswith("word")]
    assert len(parts) == 3 and all(len(part) <= 4000 for part in parts)
    assert " ".join(parts) == " ".join(["word"] * 2000)
    assert posted[-12:] == [f"line {n}" for n in range(1, 13)]
    assert len(posted) == len(environment) + 3 + 12  # each once


def test_a_program_that_exits_is_restarted_and_one_that_will_not_stop_is_killed(
    daphne, alice, bob, members, tmp_path
):
    worker = daphne()
    say = Api(Config(worker.http, _token(bob))).post_message
    bot, token = _bot(alice, "once-each")
    answer_once = 'read -r line; echo "got $line"; exit 3'
    bridge = Bridge(
        _env(tmp_path, worker, token), "--restart-delay", "0.2", "--", "sh", "-c", answer_once
    )
    try:
        bridge.expect("Started")
        say("general", "first")
        _until(lambda: _posted(bot) == ["got bob: first"], "the first answer")
        bridge.expect("exited with 3; restarting")
        say("general", "second")  # to the next run, even if it is not started yet
        _until(lambda: _posted(bot) == ["got bob: first", "got bob: second"], "the restart")
        assert bridge.stop() == 0
    finally:
        bridge.close()

    pid_file = tmp_path / "stubborn.pid"
    stubborn = f"trap '' TERM; echo $$ > {pid_file}; while :; do sleep 0.1; done"
    bridge = Bridge(_env(tmp_path, worker, token), "--grace", "1", "--", "sh", "-c", stubborn)
    try:
        bridge.expect("Started")
        _until(lambda: pid_file.exists() and pid_file.read_text().strip(), "the program's pid")
        pid = int(pid_file.read_text())
        assert bridge.stop() == 0
        assert "still running: SIGTERM" in bridge.log and "still running: SIGKILL" in bridge.log
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    finally:
        bridge.close()


def test_refusals_end_the_bridge_and_say_why(
    redis_layer, daphne, alice, bob, members, private_room, tmp_path
):
    worker = daphne()
    started = tmp_path / "started"
    mark_started = ["--", "sh", "-c", f"touch {started}; cat >/dev/null"]

    def refused(token: str, *args: str, room: str = "general") -> Bridge:
        bridge = Bridge(_env(tmp_path, worker, token), *args, room=room)
        bridge.wait()
        bridge.close()
        return bridge

    bad = refused("chat_" + "x" * 43, *mark_started)
    assert bad.process.returncode == 3 and "Unknown or revoked" in bad.log
    _, token = _bot(alice, "outsider")
    private = refused(token, *mark_started, room=private_room.slug)
    assert private.process.returncode == 4
    assert not started.exists()  # no program is started for a refused token or room

    reader, read_token = _bot(alice, "reader", scope="read")
    read_only = refused(read_token, "--", "sh", "-c", "echo hi; sleep 60")
    assert read_only.process.returncode == 3 and "write scope" in read_only.log
    assert _posted(reader) == []

    # Deactivated while running: the socket closes with 4401, and the bridge stops for good.
    bridge = Bridge(_env(tmp_path, worker, token), "--", "examples/echo-bot.sh")
    try:
        bridge.expect("echo bot ready")
        bots.set_active(owner=alice, username="outsider", active=False)
        assert bridge.wait() == 3
        assert "4401" in bridge.log and "Closing the program's stdin" in bridge.log
    finally:
        bridge.close()


def test_a_bot_written_against_the_python_client_answers(daphne, alice, bob, members, tmp_path):
    worker = daphne()
    bot, token = _bot(alice, "pinger")
    program = subprocess.Popen(
        [sys.executable, "examples/ping_bot.py", "general"],
        cwd=ROOT,
        env=_env(tmp_path, worker, token),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "ping bot ready" in program.stderr.readline()
        say = Api(Config(worker.http, _token(bob))).post_message
        say("general", "!ping")
        say("general", "not for the bot")
        _until(lambda: _posted(bot) == ["pong, @bob"], "the pong")
    finally:
        program.kill()
        program.wait(10)
