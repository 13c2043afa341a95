"""What the terminal client and the bridge share: where the site and the token come from, the
JSON API over HTTP, and how a message and a refusal read in a terminal.

Standard library only, and nothing from Django: these programs run wherever Python does, with
nothing of the site but its URL and a token. The token is read from a file only its owner may
read, or from `CHAT_TOKEN`; never from the command line (other users see it in `ps`), and never
put in a URL (proxies and servers log URLs).
"""

import configparser
import json
import os
import re
import stat
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

# Exit statuses, the same for every command.
EXIT_OK = 0
EXIT_FAILED = 1  # something was not done: a message refused, the site unreachable
EXIT_USAGE = 2  # bad arguments or configuration (argparse's status too)
EXIT_AUTH = 3  # the token was refused (HTTP 401, close 4401) or may not do this (its scope)
EXIT_ACCESS = 4  # the room: no access (403, 4403) or no such room (404, 4404)

MESSAGE_MAX_LENGTH = 4000  # the server's limit on a body, in characters, after trimming

CLOSE_REASONS = {
    4401: "the token was refused: unknown, revoked or expired, or its account is deactivated",
    4403: "no access to this room (not a member, or banned)",
    4404: "no such room",
}

SECTION = "chat"
TOKEN_LIKE = re.compile(r"chat_[A-Za-z0-9_-]{16,}")
TIMEOUT = 30.0  # seconds an HTTP request may take
RETRIES = 5  # tries of a request that failed on the way (network, 502-504) or was rate limited


class ConfigError(Exception):
    """The configuration is missing, unsafe or wrong: nothing was sent anywhere."""


@dataclass(frozen=True)
class Config:
    url: str  # the site, e.g. https://chat.example.com
    token: str

    def ws_url(self, slug: str) -> str:
        """The room's socket: `url` with http -> ws, https -> wss."""
        parts = urllib.parse.urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = parts.path.rstrip("/") + f"/ws/rooms/{urllib.parse.quote(slug, safe='')}/"
        return urllib.parse.urlunsplit((scheme, parts.netloc, path, "", ""))


def default_path() -> Path:
    """`$XDG_CONFIG_HOME/chat/chatrc`, by default `~/.config/chat/chatrc`."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "chat" / "chatrc"


def load_config(path: str | None = None, *, url: str | None = None) -> Config:
    """The site and token: from the file (`path`, else the default one if it exists), then
    `CHAT_URL` and `CHAT_TOKEN` over it, then `url` (a command line's) over both.

    A file that others may read is refused outright, as ssh refuses such a key: the token in
    it is as good as a password."""
    values: dict[str, str] = {}
    file = Path(path).expanduser() if path else default_path()
    if path or file.exists():
        values = _read_file(file)
    for key in ("url", "token"):
        if os.environ.get(f"CHAT_{key.upper()}"):
            values[key] = os.environ[f"CHAT_{key.upper()}"].strip()
    if url:
        values["url"] = url
    if not values.get("url"):
        raise ConfigError(f"No site: set url in {file} or CHAT_URL.")
    if not values.get("token"):
        raise ConfigError(f"No token: set token in {file} or CHAT_TOKEN.")
    return Config(url=check_url(values["url"]), token=values["token"])


def _read_file(file: Path) -> dict[str, str]:
    try:
        mode = file.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"Cannot read {file}: {exc.strerror}.") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{file} may be read by other users, and it holds a token: "
            f"run `chmod 600 {file}` first."
        )
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(file, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file} is not a valid config file: {exc}") from None
    if not parser.has_section(SECTION):
        raise ConfigError(f"{file} has no [{SECTION}] section.")
    return {key: value.strip() for key, value in parser.items(SECTION)}


def check_url(url: str) -> str:
    """The site's URL, refused when it is not http(s) or carries anything that could be a
    credential: a token in a URL ends up in logs, so this client never sends one."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"The site's URL must be http:// or https://, not {url!r}.")
    if TOKEN_LIKE.search(url) or parts.query or parts.username or parts.password:
        raise ConfigError(
            "The site's URL must not carry a token, a query or a password: "
            "put the token in the config file or CHAT_TOKEN."
        )
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


# HTTP.


class ApiError(Exception):
    """The site refused a request (`status` and its JSON `code`), or could not be reached
    (`status` 0)."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after

    @property
    def exit_status(self) -> int:
        """What a command exits with when this ends it."""
        if self.status == 401 or (self.status == 403 and "scope" in self.message):
            return EXIT_AUTH
        if self.status in (403, 404):
            return EXIT_ACCESS
        return EXIT_FAILED


class Api:
    """The site's JSON API, as the token's user. The token goes in an `Authorization` header
    that is not carried over a redirect (it could lead to another host)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def get(self, path: str, **query: Any) -> dict[str, Any]:
        if query:
            path += "?" + urllib.parse.urlencode(query)
        return self.request("GET", path)

    def post(self, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("POST", path, data)

    def request(
        self, method: str, path: str, data: dict[str, Any] | None = None, *, retries: int = 0
    ) -> dict[str, Any]:
        """The answer's JSON; `ApiError` for a refusal. Up to `retries` more tries after a
        network failure, a 502-504 or a 429 (after its `retry_after`): only for requests that
        are safe to repeat (a message with a `client_id` is stored once)."""
        for attempt in range(retries + 1):
            try:
                return self._once(method, path, data)
            except ApiError as exc:
                if attempt == retries or exc.status not in (0, 429, 502, 503, 504):
                    raise
                time.sleep(exc.retry_after or min(30.0, 0.5 * 2**attempt))
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, data: dict[str, Any] | None) -> dict[str, Any]:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(self.config.url + path, data=body, method=method)
        request.add_unredirected_header("Authorization", f"Bearer {self.config.token}")
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise _refusal(error) from None
        except (OSError, ValueError) as exc:  # URLError, a reset, a timeout, not JSON
            reason = getattr(exc, "reason", None) or exc
            raise ApiError(0, "unreachable", f"{self.config.url}: {reason}") from None

    def post_message(self, slug: str, body: str) -> dict[str, Any]:
        """Post one message, retried (with its `client_id`, so stored once) through network
        failures and rate limits: the stored message."""
        path = f"/api/rooms/{urllib.parse.quote(slug, safe='')}/messages/"
        data = {"body": body, "client_id": uuid.uuid4().hex}
        return self.request("POST", path, data, retries=RETRIES)["message"]


def _refusal(error: urllib.error.HTTPError) -> ApiError:
    try:
        data = json.loads(error.read())
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    retry_after = data.get("retry_after")
    return ApiError(
        error.code,
        str(data.get("error") or f"http_{error.code}"),
        str(data.get("message") or error.reason or ""),
        float(retry_after) if isinstance(retry_after, int | float) else None,
    )


# Showing messages and refusals.


def local_time(created: str, *, full: bool = False) -> str:
    """A message's `created` (ISO-8601 UTC) in the local time zone: `HH:MM` today, with the
    date on other days; `full` always gives `YYYY-MM-DD HH:MM:SS` (for `tail`)."""
    moment = datetime.fromisoformat(created.replace("Z", "+00:00")).astimezone()
    if full:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.date() == datetime.now().astimezone().date():
        return moment.strftime("%H:%M")
    return moment.strftime("%Y-%m-%d %H:%M")


def one_line(body: str) -> str:
    """A body on one line (line breaks become spaces), for line-oriented output; the JSON
    output keeps it exact."""
    return " ".join(body.splitlines())


def plain_line(message: dict[str, Any]) -> str:
    """`author: body`, one line: what a bridged program reads."""
    return f"{message['author']}: {one_line(message['body'])}"


def close_reason(code: int) -> str:
    return CLOSE_REASONS.get(code, f"closed with {code}")


def close_exit_status(code: int) -> int:
    return EXIT_AUTH if code == 4401 else EXIT_ACCESS if code in (4403, 4404) else EXIT_FAILED


def fail(program: str, text: str, status: int) -> int:
    """Say why on stderr and give the exit status to return."""
    print(f"{program}: {text}", file=sys.stderr, flush=True)
    return status
