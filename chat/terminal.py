"""A terminal client of the chat: interactive, or as commands for scripts.

    python -m chat.terminal [--config FILE] [--url URL] [--last N] [ROOM]
    python -m chat.terminal send [--config FILE] ROOM [MESSAGE ...]
    python -m chat.terminal tail [--config FILE] [-n N] [--json] [--no-follow] ROOM
    python -m chat.terminal rooms [--config FILE] [--json]

The site and the token come from `~/.config/chat/chatrc` (or `--config`), or `CHAT_URL` and
`CHAT_TOKEN` (chat.cli). Interactive mode lists the rooms, follows one and sends what is typed,
with readline's editing and history; it is built on chat.client, so it reconnects by itself and
catches up without losing or repeating a message. `send` posts over HTTP and says by its exit
status whether everything was stored; `tail` prints a room's messages, one a line. A refused
token or room is reported and ends the program: retrying cannot help.
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .cli import (
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    Api,
    ApiError,
    Config,
    ConfigError,
    close_exit_status,
    close_reason,
    fail,
    load_config,
    local_time,
    one_line,
)
from .client import RETRIED_ERRORS, ChatClient, ChatClosed

PROGRAM = "chat"
COMMANDS = ("send", "tail", "rooms")
HELP = """\
  /join ROOM   open a room (its slug or its name)
  /dm USER     open the direct conversation with USER
  /rooms       list the rooms, with unread counts
  /help        this
  /quit        leave (Ctrl-D too)
Anything else is sent to the open room; start it with // to send a leading /."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv and argv[0] in COMMANDS else None
    args = _parser(command).parse_args(argv[1:] if command else argv)
    try:
        config = load_config(args.config, url=args.url)
    except ConfigError as exc:
        return fail(PROGRAM, str(exc), EXIT_USAGE)
    try:
        if command == "send":
            return send(config, args.room, args.message)
        if command == "tail":
            return tail(config, args.room, last=args.n, as_json=args.json, follow=args.follow)
        if command == "rooms":
            return rooms(config, as_json=args.json)
        return interactive(config, args.room, last=args.last)
    except KeyboardInterrupt:
        return 128 + signal.SIGINT


def _parser(command: str | None) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="default: ~/.config/chat/chatrc")
    common.add_argument("--url", help="the site, over the config's and CHAT_URL")
    if command is None:
        parser = argparse.ArgumentParser(
            prog="python -m chat.terminal",
            parents=[common],
            description="Chat in a terminal. Commands for scripts: send, tail, rooms "
            "(python -m chat.terminal COMMAND -h).",
        )
        parser.add_argument("room", nargs="?", help="the room to open at once")
        parser.add_argument("--last", type=int, default=20, help="messages shown on opening")
        return parser
    parser = argparse.ArgumentParser(prog=f"python -m chat.terminal {command}", parents=[common])
    if command == "send":
        parser.description = (
            "Post MESSAGE, or else each line of stdin, to ROOM. Exit status 0 when all "
            "were stored, 1 when some were not, 3 for a refused token, 4 for a refused room."
        )
        parser.add_argument("room")
        parser.add_argument("message", nargs="*")
    elif command == "tail":
        parser.description = "Print ROOM's last messages, then new ones as they come."
        parser.add_argument("room")
        parser.add_argument("-n", type=int, default=10, help="earlier messages first (max 50)")
        parser.add_argument("--json", action="store_true", help="JSON lines, bodies exact")
        parser.add_argument(
            "--no-follow", dest="follow", action="store_false", help="print and exit"
        )
    else:
        parser.add_argument("--json", action="store_true")
    return parser


# Commands for scripts.


def send(config: Config, room: str, words: list[str]) -> int:
    """Each message posted once (a `client_id` makes retries safe); a refused one is named on
    stderr and the others still go. A refused token or room ends it: nothing else would go."""
    api = Api(config)
    lines: Iterable[str] = [" ".join(words)] if words else sys.stdin
    refused = 0
    for number, line in enumerate(lines, 1):
        body = line.rstrip("\r\n")
        if not body.strip():
            continue
        try:
            api.post_message(room, body)
        except ApiError as exc:
            if exc.status in (0, 401, 404) or exc.exit_status == EXIT_AUTH:
                return fail(PROGRAM, str(exc), exc.exit_status)
            refused += 1
            print(f"{PROGRAM}: line {number} not stored: {exc}", file=sys.stderr, flush=True)
    return EXIT_FAILED if refused else EXIT_OK


def rooms(config: Config, *, as_json: bool = False) -> int:
    try:
        listing = Api(config).get("/api/rooms/")["rooms"]
    except ApiError as exc:
        return fail(PROGRAM, str(exc), exc.exit_status)
    if as_json:
        for room in listing:
            print(json.dumps(room, ensure_ascii=False))
    else:
        print(_room_table(listing))
    return EXIT_OK


def tail(config: Config, room: str, *, last: int, as_json: bool, follow: bool) -> int:
    """The last `last` messages, then (`follow`) each new one as it comes, until SIGINT or
    SIGTERM; each message once, in order, across reconnects."""
    write = _json_line if as_json else _plain_line
    try:  # refusals come back clearer over HTTP than as a close code
        page = Api(config).get(_messages_path(room), limit=max(1, min(last, 100)))
    except ApiError as exc:
        return fail(PROGRAM, str(exc), exc.exit_status)
    try:
        if not follow:
            for message in page["messages"][-last:] if last > 0 else []:
                write(message)
            return EXIT_OK
        return asyncio.run(_follow(config, room, min(last, 50), write))
    except BrokenPipeError:
        # The reader went away (`| head`): done. Python would complain flushing at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


async def _follow(config: Config, room: str, last: int, write: Callable[[dict], None]) -> int:
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, done.set)
    broken: list[BaseException] = []

    def frame(frame: dict[str, Any]) -> None:
        if frame["type"] == "ready" and client.connections == 1:
            client.skip(keep=last)
        try:
            for message in client.take_new():
                write(message)
        except BrokenPipeError as exc:
            broken.append(exc)
            done.set()

    down = False

    def state(state: str, detail: str) -> None:
        nonlocal down
        if state == "disconnected" and not down:
            print(f"{PROGRAM}: connection lost ({detail}); reconnecting", file=sys.stderr)
        elif state == "closed":
            done.set()
        down = state == "disconnected" or (down and state == "connecting")

    client = ChatClient([config.ws_url(room)], token=config.token, on_frame=frame, on_state=state)
    starting = asyncio.create_task(_start(client))
    await done.wait()
    starting.cancel()
    await client.stop()
    if broken:
        raise broken[0]
    if client.closed is not None:
        code = client.closed.code
        return fail(PROGRAM, f"{close_reason(code)} ({code})", close_exit_status(code))
    return EXIT_OK


async def _start(client: ChatClient) -> None:
    """Start without waiting on it: a refusal is reported through `on_state`."""
    try:
        await client.start()
    except ChatClosed:
        pass


def _plain_line(message: dict[str, Any]) -> None:
    created = local_time(message["created"], full=True)
    print(f"{created} {message['author']}: {one_line(message['body'])}", flush=True)


def _json_line(message: dict[str, Any]) -> None:
    print(json.dumps(message, ensure_ascii=False), flush=True)


def _messages_path(slug: str) -> str:
    from urllib.parse import quote

    return f"/api/rooms/{quote(slug, safe='')}/messages/"


def _room_table(listing: list[dict[str, Any]]) -> str:
    if not listing:
        return "No rooms yet."
    lines = []
    for room in listing:
        name = room.get("title") or room["name"]
        if room["kind"] == "direct":
            name = f"@{name}"
        counts = []
        if room.get("unread"):
            counts.append(f"{room['unread']} unread")
        if room.get("mentions"):
            counts.append(f"{room['mentions']} for you")
        if not room.get("joined", True):
            counts.append("not joined")
        lines.append(f"  {room['slug']:<24} {name:<24} {', '.join(counts)}".rstrip())
    return "\n".join(lines)


# Interactive.


class Screen:
    """Lines printed above the one being typed, from any thread: the typed line and prompt
    are cleared, the line printed, then both drawn again as they were."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tty = sys.stdin.isatty() and sys.stdout.isatty()
        self.prompt = ""  # the prompt on screen, while a line is being read
        self.readline: Any = None

    def show(self, text: str) -> None:
        with self.lock:
            if self.tty and self.prompt and self.readline is not None:
                typed = self.readline.get_line_buffer()
                sys.stdout.write(f"\r\x1b[2K{text}\n{self.prompt}{typed}")
            else:
                sys.stdout.write(text + "\n")
            sys.stdout.flush()


class Conversation:
    """The open room: a `ChatClient` on a thread of its own, whose frames become lines on the
    screen, while the main thread reads what is typed."""

    def __init__(self, config: Config, screen: Screen, last: int) -> None:
        self.config, self.screen, self.last = config, screen, last
        self.api = Api(config)
        self.client: ChatClient | None = None
        self.slug = ""
        self.fatal: int | None = None  # the exit status, once the token was refused
        self.down = False  # the connection was lost and is not back yet
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Any, timeout: float = 15) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        try:
            self.call(self._leave(), timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    # Main thread.

    def join(self, slug: str) -> None:
        self.call(self._join(slug))

    def say(self, body: str) -> None:
        if self.client is None:
            self.screen.show("! Open a room first: /join ROOM (/rooms lists them).")
        elif self.client.closed is not None:
            self.screen.show(f"! {self.slug} is closed to you: /join another room.")
        else:
            self.call(self.client.send(body))

    # The event loop's thread.

    async def _leave(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.stop()

    async def _join(self, slug: str) -> None:
        await self._leave()
        self.slug, self.down = slug, False
        self.screen.show(f"* Opening {slug}...")
        client = ChatClient([self.config.ws_url(slug)], token=self.config.token)
        client.on_frame = lambda frame: self._frame(client, frame)
        client.on_state = lambda state, detail: self._state(client, state, detail)
        self.client = client
        self.loop.create_task(_start(client))

    def _frame(self, client: ChatClient, frame: dict[str, Any]) -> None:
        if client is not self.client:
            return  # a room left meanwhile
        kind = frame.get("type")
        if kind == "ready" and client.connections == 1:
            room, online = frame["room"], ", ".join(frame.get("online", []))
            topic = f": {room['topic']}" if room.get("topic") else ""
            self.screen.show(f"* {room['name']} ({room['kind']}){topic}. Online: {online}")
            client.skip(keep=self.last)
        elif kind == "error":
            self._error(client, frame)
        elif kind == "notify":
            message = frame["message"]
            where = frame.get("room_name") or frame["room"]
            self.screen.show(
                f"* {message['author']} in {where}: {one_line(message['body'])[:200]}"
                f"  (/join {frame['room']})"
            )
        elif kind == "message.edited" and frame["message"]["id"] in client.messages:
            self._show(frame["message"], edited=True)
        shown = client.take_new()
        for message in shown:
            self._show(message)
        if shown:  # seen: my unread count here follows
            self.loop.create_task(client.mark_read(shown[-1]["id"]))

    def _show(self, message: dict[str, Any], *, edited: bool = False) -> None:
        first, *rest = message["body"].splitlines() or [""]
        mark = " (edited)" if edited else ""
        head = f"{local_time(message['created'])} {message['author']}{mark}: "
        self.screen.show(head + first + "".join("\n" + " " * len(head) + line for line in rest))

    def _error(self, client: ChatClient, error: dict[str, Any]) -> None:
        if str(error.get("ref", "")).startswith(("history:", "read:")):
            return  # the client's own bookkeeping: it asks again by itself
        text = error.get("message") or error.get("code")
        if error.get("code") in RETRIED_ERRORS and error.get("client_id") in client.pending:
            self.screen.show(f"* {text} Sending again in {error.get('retry_after') or 1:.0f} s.")
        else:
            self.screen.show(f"! Not sent: {text}")

    def _state(self, client: ChatClient, state: str, detail: str) -> None:
        if client is not self.client:
            return
        if state == "disconnected" and not self.down:
            self.down = True
            self.screen.show(f"* Connection lost ({detail}); reconnecting...")
        elif state == "connected" and self.down:
            self.down = False
            self.screen.show("* Connected again.")
        elif state == "closed":
            code = int(detail)
            self.screen.show(f"! {self.slug}: {close_reason(code)} ({code}).")
            if code == 4401:
                self.fatal = EXIT_AUTH
                # Out of `input()`, which only a signal to the main thread interrupts.
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)


def interactive(config: Config, room: str | None, *, last: int = 20) -> int:
    api = Api(config)
    try:
        listing = api.get("/api/rooms/")["rooms"]
    except ApiError as exc:
        return fail(PROGRAM, str(exc), exc.exit_status)
    screen = Screen()
    history = _start_readline(screen)
    saved = _terminal_state()
    conversation = Conversation(config, screen, last)
    screen.show(f"Rooms at {config.url}:\n{_room_table(listing)}")
    try:
        if room:
            conversation.join(_resolve(room, listing))
        else:
            screen.show("Open one with /join ROOM; /help lists the commands.")
        while conversation.fatal is None:
            screen.prompt = f"{conversation.slug or PROGRAM}> "
            try:
                line = input(screen.prompt)
            except EOFError:
                break
            finally:
                screen.prompt = ""
            if not _command(line, conversation, api):
                break
    except KeyboardInterrupt:
        pass
    finally:
        conversation.close()
        _save_history(screen, history)
        _restore_terminal(saved)
        print()
    return conversation.fatal if conversation.fatal is not None else EXIT_OK


def _command(line: str, conversation: Conversation, api: Api) -> bool:
    """Do what a typed line says; False to leave."""
    text = line.strip()
    if not text:
        return True
    if not text.startswith("/") or text.startswith("//"):
        conversation.say(line[1:] if text.startswith("//") else line)
        return True
    name, _, argument = text.partition(" ")
    argument = argument.strip()
    show = conversation.screen.show
    try:
        if name in ("/quit", "/exit"):
            return False
        if name == "/help":
            show(HELP)
        elif name == "/rooms":
            show(_room_table(api.get("/api/rooms/")["rooms"]))
        elif name == "/join" and argument:
            conversation.join(_resolve(argument, api.get("/api/rooms/")["rooms"]))
        elif name == "/dm" and argument:
            room = api.post(f"/api/direct/{argument.lstrip('@')}/")["room"]
            conversation.join(room["slug"])
        else:
            show(f"! Unknown command {text!r}; /help lists them.")
    except ApiError as exc:
        show(f"! {exc}")
        if exc.exit_status == EXIT_AUTH and exc.status == 401:
            conversation.fatal = EXIT_AUTH
    return True


def _resolve(room: str, listing: list[dict[str, Any]]) -> str:
    """A room's slug from what was typed: its slug, or its name or title in any case."""
    for entry in listing:
        if room == entry["slug"]:
            return room
    wanted = room.casefold()
    for entry in listing:
        if wanted in (entry["name"].casefold(), str(entry.get("title") or "").casefold()):
            return entry["slug"]
    return room


def _history_file() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "chat" / "history"


def _start_readline(screen: Screen) -> Path | None:
    """Line editing and a history kept between runs (only the owner may read it: it holds
    what was typed)."""
    if not screen.tty:
        return None
    try:
        import readline
    except ImportError:
        return None
    screen.readline = readline
    path = _history_file()
    readline.set_history_length(1000)
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    return path


def _save_history(screen: Screen, path: Path | None) -> None:
    if path is None or screen.readline is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600)
        screen.readline.write_history_file(path)
    except OSError:
        pass


def _terminal_state() -> Any:
    """The terminal's modes, to put back however the program ends."""
    try:
        import termios

        return termios.tcgetattr(sys.stdin.fileno())
    except Exception:  # no termios, or stdin is no terminal
        return None


def _restore_terminal(saved: Any) -> None:
    if saved is not None:
        import termios

        try:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
        except termios.error:
            pass


if __name__ == "__main__":
    sys.exit(main())
