"""Any program as a bot: the room's messages on its stdin, its stdout posted to the room.

    python -m chat.bridge --room ROOM [--config FILE] [--url URL] [--json] [--once]
                          [--grace SECONDS] [--restart-delay SECONDS] [--max-parts N]
                          -- PROGRAM [ARG ...]

Each message that someone else posts in the room after the bridge started is one line on the
program's stdin (`author: body`, or the message object as JSON with `--json`); each line the
program writes to stdout is posted as the token's user (a bot, usually); its stderr goes to the
bridge's log (stderr). The bridge owns everything between: reconnecting and catching up (chat.
client), one message in flight at a time, waiting out `rate_limited` rather than flooding (the
program, unread, blocks on its next write: slowed, never killed), splitting lines over the
message limit, and restarting a program that exits, with backoff.

The program never sees the token: it is not in its environment (which gets `CHAT_ROOM` and
`CHAT_USERNAME` instead). It runs in a session of its own, so that Ctrl-C reaches the bridge
alone; SIGINT or SIGTERM to the bridge closes the program's stdin, then sends SIGTERM to its
process group, then SIGKILL, `--grace` seconds apart, and posts what it printed meanwhile.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from .cli import (
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    MESSAGE_MAX_LENGTH,
    Api,
    ApiError,
    Config,
    ConfigError,
    close_exit_status,
    close_reason,
    fail,
    load_config,
    plain_line,
)
from .client import ChatClient

PROGRAM = "chat.bridge"
INBOX_MAX = 1000  # messages kept for a program that does not read, or is being restarted
OUTBOX_MAX = 16  # lines read ahead of posting; then the program's writes block
STABLE_AFTER = 30.0  # seconds a program must run for its restart delay to start over
MAX_RESTART_DELAY = 60.0

log = logging.getLogger(PROGRAM)


def split_body(text: str, max_parts: int, limit: int = MESSAGE_MAX_LENGTH) -> list[str] | None:
    """A line as the messages to post: itself, or cut into pieces of at most `limit` characters
    (at a space where one is near); None when that takes more than `max_parts` messages."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind(" ", limit // 2, limit + 1)
        cut = cut if cut > 0 else limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts if len(parts) <= max_parts else None


class Bridge:
    def __init__(
        self,
        config: Config,
        room: str,
        argv: list[str],
        *,
        as_json: bool = False,
        once: bool = False,
        grace: float = 5.0,
        restart_delay: float = 1.0,
        max_parts: int = 5,
    ) -> None:
        self.config, self.room, self.argv = config, room, argv
        self.as_json, self.once, self.grace = as_json, once, grace
        self.restart_delay, self.max_parts = restart_delay, max_parts
        self.client = ChatClient(
            [config.ws_url(room)], token=config.token, on_frame=self._frame, on_state=self._state
        )
        self.inbox: deque[str] = deque()  # lines for the program's stdin
        self.inbox_changed = asyncio.Event()
        self.outbox: asyncio.Queue[str] = asyncio.Queue(OUTBOX_MAX)  # bodies to post
        self.unanswered = 0  # bodies read from the program that the site has not answered yet
        self.reader_waits = False  # the program's output waits for posting to catch up
        self.stopping = asyncio.Event()
        self.status: int | None = None  # set by a final refusal
        self.program_status = EXIT_OK
        self.me = ""
        self.down = False  # the connection is lost and not back yet

    # The whole run.

    async def run(self) -> int:
        """Connect, run the program (again and again unless `once`) until stopped, post what it
        printed, and say how it went as an exit status."""
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, self.stop, signal.Signals(number).name)
        if (refused := await self._check()) is not None:
            return refused
        starting = asyncio.create_task(self.client.start())
        stopped = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done() or starting.exception() is not None:
            starting.cancel()
            await self.client.stop()
            return self.status if self.status is not None else EXIT_OK
        stopped.cancel()
        poster = asyncio.create_task(self._post_all())
        await self._supervise()
        unposted = await self._drain()
        poster.cancel()
        await self.client.stop()
        if self.status is not None:
            return self.status
        if unposted:
            return EXIT_FAILED
        return self.program_status if self.once else EXIT_OK

    async def _check(self) -> int | None:
        """Refusals read clearer over HTTP (with the server's words) than as a close code."""
        try:
            path = f"/api/rooms/{urllib.parse.quote(self.room, safe='')}/messages/"
            await asyncio.to_thread(Api(self.config).get, path, limit=1)
        except ApiError as exc:
            if exc.status != 0:  # unreachable: the socket keeps trying
                return fail(PROGRAM, str(exc), exc.exit_status)
            log.warning("%s; trying on", exc)
        return None

    def stop(self, why: str) -> None:
        if not self.stopping.is_set():
            log.info("Stopping (%s)", why)
            self.stopping.set()
            self.inbox_changed.set()

    # The room's side.

    def _frame(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "ready" and self.client.connections == 1:
            self.me = self.client.me.get("username", "")
            self.client.skip()  # what was said before the bridge came is not for the program
        elif frame.get("type") == "error" and frame.get("code") == "rate_limited":
            log.info("Rate limited: posting again in %s s", frame.get("retry_after"))
        for message in self.client.take_new():
            if message["author"] != self.me and not self.stopping.is_set():
                self._deliver(message)

    def _deliver(self, message: dict[str, Any]) -> None:
        if len(self.inbox) >= INBOX_MAX:
            dropped = self.inbox.popleft()
            log.warning("The program reads too slowly; dropped for it: %s", dropped[:80])
        self.inbox.append(
            json.dumps(message, ensure_ascii=False) if self.as_json else plain_line(message)
        )
        self.inbox_changed.set()

    def _state(self, state: str, detail: str) -> None:
        if state == "connected":
            self.down = False
            log.info("Connected to %s", detail)
        elif state == "disconnected" and not self.down:
            self.down = True  # said once an outage, not at every try
            log.warning("Connection lost (%s); reconnecting", detail)
        elif state == "closed":
            code = int(detail)
            log.error("Refused by the site: %s (%s)", close_reason(code), code)
            self.status = close_exit_status(code)
            self.stop(f"closed with {code}")

    async def _post_all(self) -> None:
        """One message in flight at a time: a rate-limited one is sent again after its
        `retry_after` (chat.client), and meanwhile nothing else goes."""
        while True:
            body = await self.outbox.get()
            try:
                await self._post(body)
            finally:
                self.outbox.task_done()

    async def _post(self, body: str) -> None:
        client = self.client
        client_id = await client.send(body)
        await client.wait_for(lambda c: client_id not in c.pending or c.closed is not None)
        if client_id in client.pending:
            return  # refused for good: unanswered, counted by `_drain`
        self.unanswered -= 1
        error = client.failed.pop(client_id, None)
        if error is None:
            return
        log.error("Not posted (%s: %s): %s", error["code"], error.get("message"), body[:80])
        if error["code"] == "forbidden" and "scope" in error.get("message", ""):
            self.status = EXIT_AUTH
            self.stop("the token may not write")

    async def _drain(self) -> int:
        """Post what the program printed; when stopping, for `grace` seconds at most. The
        number of lines left unposted, which are logged, never dropped silently."""
        posted = asyncio.create_task(self.outbox.join())
        if not self.stopping.is_set():
            stopped = asyncio.create_task(self.stopping.wait())
            await asyncio.wait({posted, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(posted), self.grace)
        posted.cancel()
        if self.unanswered:
            log.error("%d message(s) of the program's output not posted", self.unanswered)
        return self.unanswered

    # The program's side.

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.restart_delay
        while not self.stopping.is_set():
            started = loop.time()
            status = await self._run_program()
            if self.stopping.is_set() or self.once:
                self.program_status = status
                return
            if loop.time() - started > STABLE_AFTER:
                delay = self.restart_delay
            log.warning("The program exited with %s; restarting in %.1f s", status, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            delay = min(delay * 2, MAX_RESTART_DELAY)

    def _environment(self) -> dict[str, str]:
        """The bridge's environment without the token, under any name."""
        token = self.config.token
        env = {k: v for k, v in os.environ.items() if k != "CHAT_TOKEN" and token not in v}
        return {**env, "CHAT_ROOM": self.room, "CHAT_USERNAME": self.me}

    async def _run_program(self) -> int:
        """Run the program once, until it exits or the bridge stops; its exit status (128 +
        the signal for one killed by a signal, as a shell says)."""
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._environment(),
                start_new_session=True,
                limit=(self.max_parts + 1) * MESSAGE_MAX_LENGTH * 4,
            )
        except OSError as exc:
            log.error("Cannot run %s: %s", self.argv[0], exc)
            return 127
        log.info("Started %s (pid %d)", " ".join(self.argv), process.pid)
        feeding = asyncio.create_task(self._feed(process))
        reading = asyncio.gather(self._read_stdout(process), self._read_stderr(process))
        exited = asyncio.create_task(process.wait())
        stopped = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not exited.done():
            await self._terminate(process, exited)
        feeding.cancel()
        await self._finish_reading(reading)
        code = process.returncode or 0
        status = 128 - code if code < 0 else code
        log.info("The program (pid %d) exited with %d", process.pid, status)
        return status

    async def _finish_reading(self, reading: asyncio.Future) -> None:
        """Read what the program printed before it ended, however long posting it takes; but
        give up on output that stays open after it, idle (a child of its own holds it), or
        after `grace` once stopping."""
        while True:
            try:
                await asyncio.wait_for(asyncio.shield(reading), self.grace)
                return
            except TimeoutError:
                if self.stopping.is_set() or not self.reader_waits:
                    break
        reading.cancel()
        log.warning("The program's output did not end with it; reading no more")

    async def _terminate(self, process: asyncio.subprocess.Process, exited: asyncio.Task) -> None:
        """Its stdin closed, then SIGTERM, then SIGKILL, each after `grace` seconds."""
        log.info("Closing the program's stdin")
        if process.stdin is not None:
            process.stdin.close()
        for number in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(exited), self.grace)
            if exited.done():
                return
            log.warning("The program is still running: %s", number.name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, number)
        await exited

    async def _feed(self, process: asyncio.subprocess.Process) -> None:
        """The inbox to the program's stdin, a line at a time; a line it never got (it exited)
        goes to the next run."""
        stdin = process.stdin
        assert stdin is not None
        try:
            while not self.stopping.is_set():
                if not self.inbox:
                    self.inbox_changed.clear()
                    await self.inbox_changed.wait()
                    continue
                stdin.write(self.inbox[0].encode() + b"\n")
                await stdin.drain()
                self.inbox.popleft()
        except OSError:  # it exited, or its stdin was closed to stop it
            pass

    async def _read_stdout(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in _lines(process.stdout):
            parts = split_body(line, self.max_parts)
            if parts is None:
                log.error(
                    "Refused a line of %d characters: over %d messages of %d",
                    len(line),
                    self.max_parts,
                    MESSAGE_MAX_LENGTH,
                )
                continue
            for part in parts:
                self.unanswered += 1
                self.reader_waits = True
                await self.outbox.put(part)  # blocks while posting lags: the program waits
                self.reader_waits = False

    async def _read_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for line in _lines(process.stderr):
            log.info("program[%d]: %s", process.pid, line)


async def _lines(stream: asyncio.StreamReader) -> AsyncIterator[str]:
    """Lines of a stream as text (a NUL, which no message may hold, shown as U+FFFD); a line
    longer than the stream's limit is skipped with a word in the log."""
    while True:
        try:
            raw = await stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as end:
            if end.partial:
                yield _text(end.partial)
            return
        except asyncio.LimitOverrunError as over:
            skipped = len(await stream.read(over.consumed))
            while True:
                try:
                    skipped += len(await stream.readuntil(b"\n"))
                    break
                except asyncio.LimitOverrunError as more:
                    skipped += len(await stream.read(more.consumed))
                except asyncio.IncompleteReadError as end:
                    skipped += len(end.partial)
                    break
            log.error("Refused a line of %d bytes: too long to post", skipped)
            continue
        yield _text(raw)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r\n").replace("\x00", "\ufffd")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own, program = (
        (argv[: argv.index("--")], argv[argv.index("--") + 1 :])
        if "--" in argv
        else (
            argv,
            [],
        )
    )
    parser = argparse.ArgumentParser(
        prog="python -m chat.bridge",
        usage="%(prog)s --room ROOM [options] -- PROGRAM [ARG ...]",
        description="Run PROGRAM as a bot in ROOM: the room's messages on its stdin, "
        "its stdout posted.",
    )
    parser.add_argument("--room", required=True)
    parser.add_argument("--config", metavar="FILE", help="default: ~/.config/chat/chatrc")
    parser.add_argument("--url", help="the site, over the config's and CHAT_URL")
    parser.add_argument("--json", action="store_true", help="messages as JSON objects on stdin")
    parser.add_argument("--once", action="store_true", help="do not restart a program that ends")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds between stop steps")
    parser.add_argument("--restart-delay", type=float, default=1.0, help="first restart delay")
    parser.add_argument("--max-parts", type=int, default=5, help="messages a long line may make")
    args = parser.parse_args(own)
    if not program:
        parser.error("give the program to run after --")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        config = load_config(args.config, url=args.url)
    except ConfigError as exc:
        return fail(PROGRAM, str(exc), EXIT_USAGE)
    bridge = Bridge(
        config,
        args.room,
        program,
        as_json=args.json,
        once=args.once,
        grace=args.grace,
        restart_delay=args.restart_delay,
        max_parts=max(1, args.max_parts),
    )
    return asyncio.run(bridge.run())


if __name__ == "__main__":
    sys.exit(main())
