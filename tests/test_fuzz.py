"""Property-based fuzzing of the chat consumer: over 10,000 generated frames per run.

What is generated (Hypothesis strategies, below): valid frames of every client type; near-valid
ones (one field wrong: wrong types, out-of-range ids and limits, bodies and client ids at and past
their limits, unicode edge cases, lone surrogates and NUL, huge and negative numbers, NaN and
Infinity, nesting; the type replaced; a hostile extra field); hostile ones (handler and method
names as types, random types and fields, non-object JSON); raw text that is not JSON (mutated
frames, nesting 30,000 deep, integers of 5,000 digits, byte order marks); binary frames; and now
and then a frame with a 65 KB to 1 MB string. Explicit examples (`EXPLICIT`) add 1 MB frames,
deep nesting and a few other extremes to every run.

Where they go: one logged-in socket (bob, a plain member) on the real ASGI application through
Channels' `WebsocketCommunicator`, with a second socket (alice, the room's owner) watching the
same room. After each frame the test sends a `ping` and reads up to its `pong`; for a frame the
server acts on, a second `ping`, since the consumer may dispatch a broadcast reply just after the
first. Every frame read must be a JSON object with a string `type`, of a shape the contract (or a
documented extension) gives; `error` codes must be the contract's (`unavailable`, a server
failure, is refused); the socket must never close.

Beyond well-formedness, each frame's replies are checked against a model of the rooms kept by
the test: a valid `message.send` answers one `message` by bob (never the author or room a frame
names) with the trimmed body and a new, higher id, a repeated `client_id` the original;
`message.edit`, `message.delete`, `message.report` and `read` of another room's or an unknown id
answer `not_found`, of someone else's message `forbidden`; `history` answers exactly the page
the model predicts; `dm.send` answers `notify`; unknown types answer `unknown_type`, malformed
frames `invalid`. Afterwards the server must have logged nothing at ERROR (nor a WARNING from
`chat`), the watcher must have heard every new message once and nothing else of bob's, and the
database must hold only valid data.

How Hypothesis drives an async socket: `@given` cannot wrap a coroutine that shares the test's
event loop and its function-scoped async fixtures. So this test is synchronous: it makes its own
event loop, opens the sockets on it, and runs an ordinary `@given` function whose every example
runs its frames on that loop (`loop.run_until_complete`). It is a real Hypothesis run: explicit
examples, generation, and shrinking of a failure to a minimal example (not `.example()`). Each
example is `FRAMES_PER_EXAMPLE` frames in a row, which halves Hypothesis' cost per frame. The run
is seeded (`CHAT_FUZZ_SEED`, fixed by default, so every run sends the same frames; set another
number to explore) and sized by `CHAT_FUZZ_FRAMES` (default 10,000).

The room is stateful, so after a failing example the test starts afresh (a new socket, bob's
messages and the reports deleted, the model read back from the database) to let Hypothesis
replay and shrink from a known state. A failure that needed what earlier examples stored can
still be reported as Flaky; the original error, with the frame that caused it, is in the report.
"""

import asyncio
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, Phase, example, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chat import broadcast, messages, rooms
from chat.models import Membership, Message, Report
from chatsite.asgi import application

from .conftest import ORIGIN, session_cookie
from .sockets import CommunicatorSocket

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ_SEED = int(os.environ.get("CHAT_FUZZ_SEED", "20261121"))
FUZZ_FRAMES = int(os.environ.get("CHAT_FUZZ_FRAMES", "10000"))
# Each example is a few frames in a row: Hypothesis spends less per frame, and a frame meets a
# socket and a room already shaped by the ones before it.
FRAMES_PER_EXAMPLE = 4

# The contract's error codes. `unavailable` (the project's extension) means the server failed.
CONTRACT_CODES = {
    "invalid",
    "unknown_type",
    "too_long",
    "rate_limited",
    "muted",
    "forbidden",
    "not_found",
}
REAL_TYPES = [
    "message.send",
    "message.edit",
    "message.delete",
    "message.report",
    "reaction.add",
    "reaction.remove",
    "dm.send",
    "typing",
    "history",
    "read",
    "ping",
]
# Frames answered `ok` (when they carry a `ref`): their effect is a change or a broadcast.
OK_TYPES = {
    "message.send",
    "message.edit",
    "message.delete",
    "reaction.add",
    "reaction.remove",
    "dm.send",
    "typing",
    "read",
}
REF_MAX = 64
EMOJI_MAX = 32
HOSTILE_TYPES = [
    "websocket.connect",
    "websocket.receive",
    "websocket.disconnect",
    "websocket.send",
    "websocket.close",
    "websocket.accept",
    "chat.close",
    "chat.frame",
    "chat.presence",
    "chat_close",
    "chat_frame",
    "chat_presence",
    "on_send",
    "on_ping",
    "on_edit",
    "receive",
    "connect",
    "disconnect",
    "open",
    "close",
    "send_json",
    "_leave",
    "_beat",
    "handlers",
    "__init__",
    "__class__",
    "__dict__",
    "dispatch",
    "MESSAGE.SEND",
    "Ping",
    " ping",
    "ping ",
    "message_send",
    "message.send.",
    "message",
    "pong",
    "ready",
    "error",
    "notify",
    "",
]
MAX_ID = 2**63 - 1
MAX_FRAME_CHARS = 64 * 1024
BODY_MAX = 4000
CLIENT_ID_MAX = 64
REASON_MAX = 500
USERNAME_MAX = 150
PING = '{"type":"ping"}'
AMBIENT = {"presence", "members", "conversation", "activity"}  # news on nobody's frame
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


# --- Frames ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recent:
    """Stands for one of bob's newest live messages, resolved when the frame is sent, so that
    edits, deletes and reports hit messages that exist."""

    back: int


@dataclass(frozen=True)
class Seeded:
    """Stands for an id counted from the first message the test seeded, resolved when the frame
    is sent: small offsets hit others' messages here, messages of rooms bob cannot see, and
    bob's own, whatever ids the tests before this one used up."""

    offset: int


@dataclass(frozen=True)
class Frame:
    kind: str  # "json": `value` encoded by the test; "text": sent as is; "bytes": binary
    value: Any
    ascii_only: bool = True
    category: str = "hostile"  # valid, near-valid or hostile, for the run's tally

    def _repr_pretty_(self, printer, cycle) -> None:  # how Hypothesis prints a failing example
        printer.text(repr(self))

    def __repr__(self) -> str:  # keeps a failure report readable when a value is 1 MB long
        text = repr(self.value)
        if len(text) > 300:
            text = f"{text[:150]}...<{len(text)} chars>...{text[-100:]}"
        return f"Frame({self.kind}, {text}, ascii_only={self.ascii_only})"


UNICODE_EDGES = [
    "\x00",
    "\x01",
    "\x1b",
    "\x7f",
    "\x85",
    "\xa0",
    "\u200b",
    "\u200d",
    "\u200e",
    "\u202e",
    "\u2028",
    "\u2029",
    "\u3000",
    "\ufeff",
    "\ufffd",
    "\uffff",
    "\U0010ffff",
    "\U0001f600",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "e\u0301",
    "\u0301",
    "\ud800",
    "\udfff",
    "\ud83d",
    "\ude00",
    "\t",
    "\r\n",
    " ",
    "\\",
    '"',
    "</script>",
    "<b>",
    "@alice",
    "@bob",
    "NaN",
]

surrogates = st.characters(categories=["Cs"])
edge_text = st.lists(
    st.one_of(st.sampled_from(UNICODE_EDGES), st.text(max_size=4), surrogates), max_size=8
).map("".join)
any_text = st.one_of(
    st.text(max_size=30),
    edge_text,
    st.text(st.characters(exclude_categories=[]), max_size=10),  # surrogates included
)
# 65 KB to 1 MB: built, not drawn character by character, and rare (see `frames`).
big_text = st.builds(
    lambda unit, size: unit * (size // len(unit)),
    st.sampled_from(["x", " ", "\xe9", "\x00", "a\ud800"]),
    st.sampled_from([65_600, 100_000, 262_144, 1_000_000]),
)
BIG_INTS = [
    0,
    -1,
    2**31,
    2**53 + 1,
    MAX_ID,
    MAX_ID + 1,
    2**64,
    -(2**63),
    10**30,
    -(10**30),
    10**300,
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(BIG_INTS),
    st.floats(),  # NaN and the infinities encode as NaN / Infinity / -Infinity
    any_text,
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4)
    ),
    max_leaves=10,
)


def _nest(depth: int, leaf: Any, as_object: bool) -> Any:
    for _ in range(depth):
        leaf = {"k": leaf} if as_object else [leaf]
    return leaf


nested = st.builds(_nest, st.integers(1, 12), scalars, st.booleans())
hostile_values = st.one_of(json_values, nested, st.sampled_from(BIG_INTS))

# Valid values, and near misses: the right field with a value just past a limit or of a wrong type.
clean_chars = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
CLEAN_EDGES = [
    e for e in UNICODE_EDGES if "\x00" not in e and not any("\ud800" <= c <= "\udfff" for c in e)
]
clean_text = st.one_of(
    st.text(clean_chars, max_size=30),
    st.lists(st.sampled_from(CLEAN_EDGES) | st.text(clean_chars, max_size=4), max_size=6).map(
        "".join
    ),
)
valid_ids = st.one_of(st.builds(Seeded, st.integers(0, 29)), st.builds(Recent, st.integers(0, 4)))
near_ids = st.sampled_from(
    [0, -1, MAX_ID, MAX_ID + 1, 2**64, 10**30, True, False, 1.0, 1.5, "1", None, [1], {"id": 1}]
)
CLIENT_IDS = [f"c{n}" for n in range(12)] + ["", "x" * CLIENT_ID_MAX]
valid_client_ids = st.one_of(
    st.none(), st.sampled_from(CLIENT_IDS), st.text(clean_chars, max_size=CLIENT_ID_MAX)
)
near_client_ids = st.one_of(
    st.sampled_from(["y" * (CLIENT_ID_MAX + 1), 3, True, ["c1"], "c\x00", "\ud800"]),
    st.text(max_size=CLIENT_ID_MAX + 3),
)
valid_bodies = st.one_of(
    clean_text.map(lambda text: text if text.strip() else text + "x"),
    st.builds(
        lambda pad, n, tail: pad + "b" * n + tail,
        st.sampled_from(["", " ", "\n\t", "\u3000"]),
        st.sampled_from([1, 3999, 4000]),
        st.sampled_from(["", " ", "\u2028"]),
    ),
    st.sampled_from(["@alice hi", "@bob", "@carol.", "<script>alert(1)</script>", "\u200b"]),
)
near_bodies = st.one_of(
    st.sampled_from(["", " ", "   \n\t ", "\u3000\u2028", "b" * 4001, " " + "b" * 4001]),
    st.sampled_from([0, 5, True, None, ["hi"], {"body": "hi"}, 1.5]),
    edge_text,  # NUL and lone surrogates, mostly
)
valid_refs = st.one_of(st.none(), st.text(clean_chars, max_size=REF_MAX))
near_refs = st.sampled_from(["r" * (REF_MAX + 1), 7, True, ["r1"], {"ref": "r"}, 1.5])
valid_emoji = st.sampled_from(["👍", "🎉", "👍🏽", "🇨🇳", "❤️"])
near_emoji = st.sampled_from(["a", "👍👍", "", " 👍", "x" * (EMOJI_MAX + 1), 5, None, ["👍"]])
valid_names = st.sampled_from(["alice", "carol", " alice ", "carol\n"])
near_names = st.one_of(
    st.sampled_from(["bob", " bob", "ALICE", "nobody", "", "a" * 151, None, 5, ["alice"]]),
    any_text,
)
valid_limits = st.integers(1, 100)
near_limits = st.sampled_from([0, 101, -1, 10**30, True, 1.0, 50.5, "5", None, [5]])
valid_reasons = st.one_of(st.none(), clean_text, st.just("r" * REASON_MAX))
near_reasons = st.sampled_from(["r" * (REASON_MAX + 1), 5, ["spam"], "\x00", "\udfff"])

# Per client type: each field's (valid values, near misses, may it be left out?).
FIELDS: dict[str, dict[str, tuple[st.SearchStrategy, st.SearchStrategy, bool]]] = {
    "message.send": {
        "body": (valid_bodies, near_bodies, False),
        "client_id": (valid_client_ids, near_client_ids, True),
    },
    "message.edit": {
        "id": (valid_ids, near_ids, False),
        "body": (valid_bodies, near_bodies, False),
    },
    "message.delete": {"id": (valid_ids, near_ids, False)},
    "message.report": {
        "id": (valid_ids, near_ids, False),
        "reason": (valid_reasons, near_reasons, True),
    },
    "dm.send": {
        "to": (valid_names, near_names, False),
        "body": (valid_bodies, near_bodies, False),
        "client_id": (valid_client_ids, near_client_ids, True),
    },
    "typing": {},
    "history": {
        "before": (valid_ids, near_ids, True),
        "after": (valid_ids, near_ids, True),
        "limit": (valid_limits, near_limits, True),
    },
    "read": {"id": (valid_ids, near_ids, False)},
    "ping": {},
    "reaction.add": {"id": (valid_ids, near_ids, False), "emoji": (valid_emoji, near_emoji, False)},
    "reaction.remove": {
        "id": (valid_ids, near_ids, False),
        "emoji": (valid_emoji, near_emoji, False),
    },
}
for fields_ in FIELDS.values():  # every frame may carry a `ref` (contract v2)
    fields_["ref"] = (valid_refs, near_refs, True)
# Fields that would name another room, author or time; they must be ignored.
IGNORED_FIELDS = {
    "room": st.sampled_from(["secret-plans", "general", "dm-1-2", 2]),
    "author": st.sampled_from(["alice", "carol", 1]),
    "user": st.sampled_from(["alice", "carol", {"username": "alice"}]),
    "created": st.sampled_from(["2001-01-01T00:00:00Z", 0]),
    "edited": st.sampled_from(["2001-01-01T00:00:00Z", None]),
    "slug": st.just("secret-plans"),
    "id": valid_ids,  # in frames that have no id field
    "deleted": st.booleans(),
}


TYPES = st.sampled_from(REAL_TYPES)
IGNORED_NAMES = st.lists(st.sampled_from(sorted(IGNORED_FIELDS)), max_size=3, unique=True)
HISTORY_WAY = st.sampled_from(["before", "after"])
NEAR_TARGETS = {
    type_: st.sampled_from([*fields, "type", "extra"]) for type_, fields in FIELDS.items()
}
NEAR_TARGETS["history"] = st.sampled_from([*FIELDS["history"], "type", "extra", "both"])
NEAR_VALUES = {
    (type_, name): st.one_of(near, hostile_values)
    for type_, fields in FIELDS.items()
    for name, (_, near, _) in fields.items()
}
WRONG_TYPES = st.one_of(st.sampled_from(HOSTILE_TYPES), any_text, scalars)


@st.composite
def typed_frames(draw, near: bool) -> Frame:
    """A frame of a real type with valid fields; `near`: one field holds a near miss (or a
    hostile value), or the type is wrong, or a hostile extra field rides along."""
    type_ = draw(TYPES)
    frame: dict[str, Any] = {"type": type_}
    for name, (valid, _, optional) in FIELDS[type_].items():
        if not optional or draw(st.booleans()):
            frame[name] = draw(valid)
    if "before" in frame and "after" in frame:
        del frame[draw(HISTORY_WAY)]
    for name in draw(IGNORED_NAMES):
        if name not in FIELDS[type_]:
            frame[name] = draw(IGNORED_FIELDS[name])
    if near:
        target = draw(NEAR_TARGETS[type_])
        if target in FIELDS[type_]:
            frame[target] = draw(NEAR_VALUES[type_, target])
        elif target == "type":
            frame["type"] = draw(WRONG_TYPES)
        elif target == "both":
            frame["before"], frame["after"] = draw(valid_ids), draw(valid_ids)
        else:
            frame[draw(any_text)] = draw(hostile_values)
    return Frame("json", frame, draw(st.booleans()), "near-valid" if near else "valid")


HOSTILE_FRAME_TYPES = st.one_of(st.sampled_from(HOSTILE_TYPES), TYPES, any_text, scalars)
HOSTILE_FIELDS = st.dictionaries(any_text, hostile_values, max_size=3)


@st.composite
def hostile_json_frames(draw) -> Frame:
    if draw(st.integers(0, 4)) == 0:
        return Frame("json", draw(json_values), draw(st.booleans()))  # maybe not an object
    type_ = draw(HOSTILE_FRAME_TYPES)
    fields = draw(HOSTILE_FIELDS)
    frame = {**fields, "type": type_} if draw(st.booleans()) else {"type": type_, **fields}
    if draw(st.integers(0, 5)) == 0:
        del frame["type"]
    return Frame("json", frame, draw(st.booleans()))


VALID_FRAMES = typed_frames(near=False)
NEAR_FRAMES = typed_frames(near=True)
HOSTILE_JSON_FRAMES = hostile_json_frames()

RAW_TEXTS = [
    "",
    " ",
    "\n\t",
    "null",
    "true",
    "0",
    '"ping"',
    "[]",
    '[{"type": "ping"}]',
    "{",
    "}",
    '{"type": "ping"',
    '{"type": "ping"}}',
    '{"type": "ping"} x',
    "{'type': 'ping'}",
    '{type: "ping"}',
    '{"type": "ping",}',
    "\ufeff" + PING,
    '{"type": "ping", "type": "launch"}',
    '{"type": "launch", "type": "ping"}',
    '{"type": NaN}',
    '{"type": "history", "limit": Infinity}',
    '{"type": "read", "id": -Infinity}',
    '{"type": "read", "id": 1e999}',
    '{"type": "read", "id": 1.0e0}',
    '{"type": "read", "id": ' + "9" * 5000 + "}",
    '{"type": "message.send", "body": "\\ud800"}',
    '{"type": "message.send", "body": "\\udfff\\ud800"}',
    '{"type": "message.send", "body": "ok\\u0000"}',
    '{"type": "message.send", "body": "\\u0000"}',
    '{"type": "message.send\\u0000"}',
    '{"type": "ping", "\\ud800": 1}',
    '{"\\u0000": 1, "type": "ping"}',
    '{"type": "ping", "x": ' + "[" * 5 + "]" * 5 + "}",
    '{"type": "ping", "x": ' + "[" * 1000 + "]" * 1000 + "}",
    '{"type": "ping", "x": ' + "[" * 30_000 + "]" * 30_000 + "}",
    '{"type": "ping", "x": ' + '{"a":' * 3000 + "1" + "}" * 3000 + "}",
    "[" * 100_000,
]


MUTATIONS = st.sampled_from(["cut", "insert", "drop"])
INSERTIONS = st.sampled_from([*'{}[]",:\\0\x00 ', "\ud800"])


@st.composite
def mutated_frames(draw) -> Frame:
    """A valid frame's text, cut short or with a character inserted or dropped."""
    source = draw(VALID_FRAMES)
    text = json.dumps(_resolve(source.value, [], 1))
    at = draw(st.integers(0, len(text)))
    how = draw(MUTATIONS)
    if how == "cut":
        text = text[:at]
    elif how == "insert":
        text = text[:at] + draw(INSERTIONS) + text[at:]
    else:
        text = text[:at] + text[at + 1 :]
    return Frame("text", text)


RAW_TEXT_FRAMES = st.one_of(
    st.sampled_from(RAW_TEXTS).map(lambda t: Frame("text", t)),
    any_text.map(lambda t: Frame("text", t)),
    mutated_frames(),
)
BINARY_FRAMES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([PING.encode(), b'{"type": "message.send", "body": "hi"}', b"\xff\xfe", b""]),
).map(lambda data: Frame("bytes", data))


BIG_FIELDS = st.sampled_from(["body", "client_id", "to", "reason", "pad"])


@st.composite
def big_frames(draw) -> Frame:
    """A frame of a real type with one field 65 KB to 1 MB long."""
    frame = draw(VALID_FRAMES).value
    frame[draw(BIG_FIELDS)] = draw(big_text)
    return Frame("json", frame, draw(st.booleans()), "near-valid")


BIG_FRAMES = big_frames()


# The kinds, in a pattern found by trial: Hypothesis does not draw indices uniformly, and this
# one gives about 15 % valid, 40 % near-valid, 20 % hostile JSON, 18 % raw text and 7 % binary
# frames, one in a few hundred with a big string. Valid frames are the slow ones (they reach
# the database); the hostile are cheap.
KIND_PATTERN = ["near", "hostile", "raw", "valid", "near", "binary", "raw", "hostile", "valid"]
KIND_PATTERN += ["near", "raw", "hostile", "near", "valid", "binary", "near", "hostile", "raw"]
KIND_PATTERN += ["valid", "near"]
KINDS = KIND_PATTERN * 10
KINDS[97] = KINDS[163] = "big"
FRAMES_OF_KIND = {
    "valid": VALID_FRAMES,
    "near": NEAR_FRAMES,
    "hostile": HOSTILE_JSON_FRAMES,
    "raw": RAW_TEXT_FRAMES,
    "binary": BINARY_FRAMES,
    "big": BIG_FRAMES,
}
frames = st.sampled_from(KINDS).flatmap(FRAMES_OF_KIND.__getitem__)


# Always part of the run, ahead of the generated frames.
EXPLICIT = [
    Frame("json", {"type": "message.send", "body": "y" * 1_000_000}),
    Frame("json", {"type": "message.send", "body": "\U0001f600" * 1_000_000}),
    Frame("json", {"type": "ping", "pad": "\x00" * 300_000}),
    Frame("json", {"type": "message.send", "body": "z" * 60_000}),
    Frame("text", '{"type": "ping", "x": ' + "[" * 30_000 + "]" * 30_000 + "}"),
    Frame("bytes", b"\x00" * 100_000),
    Frame("json", {"type": "message.send", "body": "\ud800"}, ascii_only=False),
    Frame(
        "json", {"type": "message.send", "body": "hi", "author": "alice", "room": "secret-plans"}
    ),
    Frame("json", {"type": "message.edit", "id": 2, "body": "not mine"}),  # another room's
    Frame("json", {"type": "read", "id": MAX_ID}),
    Frame("json", {"type": "history", "after": 0}),
    Frame("json", {"type": "chat.close", "code": 1000, "session": None}),
    Frame("json", {"type": "websocket.disconnect", "code": 1000}),
]


# --- The room as the test knows it -------------------------------------------------------------


@dataclass
class Model:
    me: str
    room: str
    directs: dict[str, str]  # username: the slug of bob's direct room with them
    live: dict[int, tuple[str, str]] = field(default_factory=dict)  # id: (author, body)
    deleted: set[int] = field(default_factory=set)
    elsewhere: set[int] = field(default_factory=set)  # ids of other rooms' messages
    first_id: int = 1  # the first seeded message's id (see Seeded)
    client_ids: dict[tuple[str, str], int] = field(default_factory=dict)  # (room, cid): id
    created_here: list[int] = field(default_factory=list)  # new messages bob made in the room
    repeated_here: list[int] = field(default_factory=list)  # originals re-sent for a repeat
    direct_sent: dict[str, list[int]] = field(default_factory=dict)  # to whom: ids
    deletions: list[int] = field(default_factory=list)
    tally: dict[str, int] = field(default_factory=dict)
    replies: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        """After a failed example: drop what bob made, and read the rooms from the database."""
        Report.objects.all().delete()
        Message.objects.filter(author__username=self.me).delete()
        self.live, self.deleted, self.elsewhere, self.client_ids = {}, set(), set(), {}
        for message in Message.objects.select_related("room", "author"):
            if message.room.slug != self.room:
                self.elsewhere.add(message.pk)
            elif message.deleted is None:
                self.live[message.pk] = (message.author.username, message.body)
            else:
                self.deleted.add(message.pk)
            if message.author.username == self.me and message.client_id is not None:
                self.client_ids[(message.room.slug, message.client_id)] = message.pk

    def mine(self) -> list[int]:
        return sorted(i for i, (author, _) in self.live.items() if author == self.me)

    def count(self, table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1


def _resolve(value: Any, mine: list[int], first: int) -> Any:
    if isinstance(value, Recent):
        return mine[-1 - value.back] if len(mine) > value.back else first
    if isinstance(value, Seeded):
        return first + value.offset
    if isinstance(value, dict):
        return {k: _resolve(v, mine, first) for k, v in value.items()}
    return value


def _strict_loads(text: str) -> Any:
    """JSON as the contract reads it: NaN and the infinities are not JSON."""

    def refuse(name: str) -> None:
        raise ValueError(name)

    return json.loads(text, parse_constant=refuse)


def _defects(value: Any, depth: int = 0) -> set[str]:
    """What makes a parsed frame `invalid` whatever its type: NUL or a lone surrogate in any
    string, NaN or an infinity, nesting deeper than 4 levels."""
    found: set[str] = set()
    if depth > 4:
        found.add("deep")
    if isinstance(value, str):
        if "\x00" in value:
            found.add("nul")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            found.add("surrogate")
    elif isinstance(value, float) and not math.isfinite(value):
        found.add("nan")
    elif isinstance(value, dict):
        for key, item in value.items():
            found |= _defects(key, depth + 1) | _defects(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            found |= _defects(item, depth + 1)
    return found


def _is_id(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_ID


def _body_errors(value: Any) -> set[str]:
    if not isinstance(value, str) or not value.strip():
        return {"invalid"}
    return {"too_long"} if len(value.strip()) > BODY_MAX else set()


def _text_errors(frame: dict, name: str, max_length: int, optional: bool = True) -> set[str]:
    value = frame.get(name)
    if value is None and optional:
        return set()
    if not isinstance(value, str):
        return {"invalid"}
    return {"too_long"} if len(value) > max_length else set()


def _field_errors(frame: dict) -> set[str]:
    """The codes a frame of a real type earns for its fields alone (empty: the fields are fine)."""
    type_ = frame["type"]
    errors: set[str] = set()
    if not _ref_ok(frame):
        return {"invalid"}  # the frame is refused before anything else of it is read
    if type_ in ("message.edit", "message.delete", "message.report", "read", *REACTIONS):
        if not _is_id(frame.get("id")):
            errors.add("invalid")
    if type_ in REACTIONS:
        value = frame.get("emoji")
        if not isinstance(value, str):
            errors.add("invalid")
        elif len(value) > EMOJI_MAX:
            errors.add("too_long")
        elif value not in EMOJI_VALID:
            errors.add("invalid")
    if type_ in ("message.send", "message.edit", "dm.send"):
        errors |= _body_errors(frame.get("body"))
    if type_ in ("message.send", "dm.send"):
        errors |= _text_errors(frame, "client_id", CLIENT_ID_MAX)
    if type_ == "message.report":
        errors |= _text_errors(frame, "reason", REASON_MAX)
    if type_ == "dm.send":
        to_errors = _text_errors(frame, "to", USERNAME_MAX, optional=False)
        errors |= {"too_long", "not_found"} if "too_long" in to_errors else to_errors
    if type_ == "history":
        if frame.get("before") is not None and not _is_id(frame["before"]):
            errors.add("invalid")
        after = frame.get("after")
        if after is not None and not (_is_id(after) or (type(after) is int and after == 0)):
            errors.add("invalid")  # after=0 is allowed: from the room's first message
        if frame.get("before") is not None and frame.get("after") is not None:
            errors.add("invalid")
        limit = frame.get("limit", 50)
        if limit is not None and not (type(limit) is int and 1 <= limit <= 100):
            errors.add("invalid")
    return errors


# --- Checking what the server sends ----------------------------------------------------------


REACTIONS = ("reaction.add", "reaction.remove")
EMOJI_VALID = {"👍", "🎉", "👍🏽", "🇨🇳", "❤️"}


def check_message(message: Any, room: str | None = None) -> None:
    assert isinstance(message, dict), message
    assert isinstance(message["html"], str) and isinstance(message["attachments"], list), message
    assert message["reply_to"] is None or _is_id(message["reply_to"]["id"]), message
    for reaction in message["reactions"]:
        assert isinstance(reaction["emoji"], str) and reaction["users"], message
    assert {"id", "room", "author", "body", "created", "edited", "client_id"} <= set(message)
    assert _is_id(message["id"]), message
    assert isinstance(message["room"], str) and isinstance(message["author"], str), message
    body = message["body"]
    assert isinstance(body, str) and 1 <= len(body) <= BODY_MAX and body == body.strip(), message
    assert not _defects(body), message
    assert ISO_UTC.match(message["created"]), message
    assert message["edited"] is None or ISO_UTC.match(message["edited"]), message
    assert message["client_id"] is None or (
        isinstance(message["client_id"], str) and len(message["client_id"]) <= CLIENT_ID_MAX
    ), message
    datetime.fromisoformat(message["created"].replace("Z", "+00:00"))
    if room is not None:
        assert message["room"] == room, message


def check_frame(frame: Any) -> None:
    """Any frame the server may send: a JSON object with a string `type`, shaped per the
    contract (or the documented extensions)."""
    assert isinstance(frame, dict) and isinstance(frame.get("type"), str), frame
    type_ = frame["type"]
    if type_ == "error":
        assert frame["code"] in CONTRACT_CODES, f"not a contract error code: {frame}"
        assert isinstance(frame["message"], str) and frame["message"], frame
        if frame["code"] == "rate_limited":
            assert isinstance(frame["retry_after"], int | float), frame
        if "client_id" in frame:  # extension: the refused frame's client_id
            assert isinstance(frame["client_id"], str), frame
            assert len(frame["client_id"]) <= CLIENT_ID_MAX, frame
    elif type_ in ("message", "message.edited"):
        check_message(frame["message"])
    elif type_ == "notify":
        assert isinstance(frame["room"], str), frame
        check_message(frame["message"], frame["room"])
    elif type_ == "message.deleted":
        assert _is_id(frame["id"]), frame
    elif type_ == "history":
        assert isinstance(frame["has_more"], bool), frame
        for message in frame["messages"]:
            check_message(message)
    elif type_ == "report.ack":
        assert _is_id(frame["id"]), frame
    elif type_ == "ok":  # answers a frame with a `ref`
        assert isinstance(frame["ref"], str) and ("id" not in frame or _is_id(frame["id"])), frame
    elif type_ == "message.reactions":
        assert _is_id(frame["id"]) and isinstance(frame["reactions"], list), frame
    elif type_ == "activity":  # news of another room
        assert isinstance(frame["room"], str) and _is_id(frame["id"]), frame
    elif type_ in ("conversation", "conversation.removed"):
        assert frame["room"], frame
    elif type_ == "presence":
        assert all(isinstance(name, str) for name in frame["online"]), frame
    elif type_ == "members":  # extension
        assert all(isinstance(name, str) for name in frame["members"]), frame
    elif type_ == "read":  # extension, direct rooms only
        assert isinstance(frame["user"], str) and _is_id(frame["id"]), frame
    elif type_ == "room":  # extension
        assert isinstance(frame["room"], dict) and isinstance(frame["room"]["slug"], str), frame
    elif type_ == "typing":
        assert isinstance(frame["user"], str), frame
    elif type_ == "unread":
        assert isinstance(frame["room"], str) and type(frame["unread"]) is int, frame
        assert frame["unread"] >= 0, frame
    else:
        assert type_ == "pong", f"a frame of an unknown type: {frame}"


async def read_frames(sock, pongs: int, what: Any, check: bool = True) -> list[dict]:
    """Frames up to and including the `pongs`-th `pong`; fails on a close or a crash."""
    frames: list[dict] = []
    while pongs:
        try:
            output = await sock.output(timeout=10)
        except TimeoutError:
            raise AssertionError(f"no pong within 10 s after {what!r}; got {frames}") from None
        assert output["type"] != "websocket.close", f"closed {output} by {what!r}"
        assert output["type"] == "websocket.send", output
        assert output.get("text") is not None, f"a binary frame from the server: {output}"
        frame = json.loads(output["text"])
        try:
            if check:
                check_frame(frame)
        except AssertionError as exc:
            exc.add_note(f"after the frame {what!r}")
            raise
        frames.append(frame)
        pongs -= frame["type"] == "pong"
    return frames


def _only(replies: list[dict], type_: str, what: Any) -> dict:
    assert [r["type"] for r in replies] == [type_], f"{what!r} answered {replies}"
    return replies[0]


def _error(replies: list[dict], codes: set[str], what: Any) -> None:
    reply = _only(replies, "error", what)
    assert reply["code"] in codes, f"{what!r} answered {reply}, expected one of {codes}"


class Fuzzer:
    def __init__(self, model: Model, open_bob, alice_sock) -> None:
        self.model = model
        self.open_bob = open_bob
        self.sock = None
        self.alice = alice_sock
        self.alice_frames: list[dict] = []
        self.sent = 0

    async def exchange(self, frame: Frame) -> None:
        """Send one frame, read what it earns, check it against the model."""
        if self.sock is None or self.sock.communicator.future.done():
            self.sock = await self.open_bob()
        try:
            await self._exchange(frame)
        except BaseException:
            # After a failure the next example starts afresh: a new socket, bob's messages and
            # the reports gone, the model read from the database. So Hypothesis replays (and
            # shrinks) a failing example from a known state, not after what broke it last time.
            # The old socket is closed first: Hypothesis seeds `random` for every example, and
            # the in-memory channel layer names channels with it, so a socket opened in an
            # example may get the same channel name as the one before it.
            broken, self.sock = self.sock, None
            await broken.close()
            await sync_to_async(self.model.reset)()
            raise

    async def _exchange(self, frame: Frame) -> None:
        model = self.model
        value = _resolve(frame.value, model.mine(), model.first_id)
        if frame.kind == "bytes":
            await self.sock.send_bytes(value)
            text = None
        else:
            text = value if frame.kind == "text" else _dump(value, frame.ascii_only)
            await self.sock.send_text(text)
        self.sent += 1
        model.count(model.tally, frame.category)
        clean = _clean_frame(text)
        expect_pong = clean is not None and clean["type"] == "ping" and _ref_ok(clean)
        # A frame the server acts on may be answered through the channel layer too, which the
        # consumer can dispatch just after the first ping: once the broadcasts its transaction
        # scheduled have gone to the layer, a second ping waits for that.
        pings = 2 if clean is not None and clean["type"] in REAL_TYPES else 1
        await self.sock.send_text(PING)
        got = await read_frames(self.sock, 1 + expect_pong, frame)
        if pings == 2:
            sending = broadcast._tails.get(asyncio.get_running_loop())
            if sending is not None:
                await sending
            await self.sock.send_text(PING)
            got += await read_frames(self.sock, 1, frame)
        for _ in range(pings):  # drop our pings' pongs
            del got[max(i for i, f in enumerate(got) if f["type"] == "pong")]
        replies = [f for f in got if f["type"] not in AMBIENT]
        replies = self.answered(clean, replies, frame)
        for reply in replies:
            model.count(model.replies, reply["type"] + ":" + reply.get("code", ""))
            if reply["type"] == "error" and "client_id" in reply:  # it names this frame's
                assert clean is not None and clean.get("client_id") == reply["client_id"], (
                    f"{frame!r} answered {reply}"
                )
        self.verify(frame, value, text, replies)

    def answered(self, clean: dict | None, replies: list[dict], what: Any) -> list[dict]:
        """Requests and answers: a frame with a valid `ref` has exactly one reply carrying it
        (its result, `error` or `ok`), no other reply has one, and only such a frame gets an
        `ok`. The replies but `ok`, for the model."""
        ref = clean.get("ref") if clean is not None and _ref_ok(clean) else None
        carrying = [reply for reply in replies if "ref" in reply]
        if ref is None:
            assert carrying == [], f"{what!r} answered {replies}"
        else:
            assert [reply["ref"] for reply in carrying] == [ref], f"{what!r} answered {replies}"
            if carrying[0]["type"] == "ok":
                assert clean["type"] in OK_TYPES, f"{what!r} answered {replies}"
        return [reply for reply in replies if reply["type"] != "ok"]

    def verify(self, frame: Frame, value: Any, text: str | None, replies: list[dict]) -> None:
        what = frame
        if text is None:
            _error(replies, {"invalid"}, what)
            return
        if len(text) > MAX_FRAME_CHARS:
            _error(replies, {"too_long", "invalid"}, what)
            return
        try:
            parsed = _strict_loads(text)
        except (ValueError, RecursionError):
            _error(replies, {"invalid"}, what)
            return
        if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
            _error(replies, {"invalid"}, what)
            return
        defects = _defects(parsed)
        if not defects and not _ref_ok(parsed):
            _error(replies, {"invalid"}, what)  # read before the type
            return
        if parsed["type"] not in REAL_TYPES:
            # Both rules hold for an unknown type with a NUL in it: either answer will do.
            _error(replies, {"unknown_type", "invalid"} if defects else {"unknown_type"}, what)
            return
        if defects:
            _error(replies, {"invalid"}, what)
            return
        errors = _field_errors(parsed)
        if errors:
            _error(replies, errors, what)
            return
        getattr(self, "on_" + parsed["type"].replace(".", "_"))(parsed, replies, what)

    # What each valid frame must answer, given the model.

    def on_ping(self, frame: dict, replies: list[dict], what: Any) -> None:
        _only(replies, "pong", what)

    def on_typing(self, frame: dict, replies: list[dict], what: Any) -> None:
        assert replies == [], f"{what!r} answered {replies}"

    def _posted(
        self, room: str, frame: dict, reply: dict, what: Any, to: str | None = None
    ) -> None:
        """A `message` (or `notify`) answering a valid send in `room`."""
        model = self.model
        message = reply["message"]
        check_message(message, room)
        client_id = frame.get("client_id")
        original = model.client_ids.get((room, client_id)) if client_id is not None else None
        if original is not None:
            assert message["id"] == original, f"{what!r}: a repeat gave {message}"
            if room == model.room:
                assert message["body"] == model.live[original][1], f"{what!r}: {message}"
                model.repeated_here.append(original)  # the whole room hears it again
            return
        assert message["author"] == model.me, f"{what!r}: author from the frame? {message}"
        assert message["body"] == frame["body"].strip(), f"{what!r}: {message}"
        assert message["client_id"] == client_id, f"{what!r}: {message}"
        known = set(model.live) | model.deleted | model.elsewhere
        assert message["id"] not in known, f"{what!r}: an old id {message}"
        if room == model.room:
            assert message["id"] > max([*model.live, *model.deleted]), message
            model.live[message["id"]] = (model.me, message["body"])
            model.created_here.append(message["id"])
        else:
            model.elsewhere.add(message["id"])
            model.direct_sent.setdefault(to, []).append(message["id"])
        if client_id is not None:
            model.client_ids[(room, client_id)] = message["id"]

    def on_message_send(self, frame: dict, replies: list[dict], what: Any) -> None:
        model = self.model
        client_id = frame.get("client_id")
        original = model.client_ids.get((model.room, client_id))
        if client_id is not None and original in model.deleted:
            _error(replies, {"not_found"}, what)
            return
        self._posted(model.room, frame, _only(replies, "message", what), what)

    def on_dm_send(self, frame: dict, replies: list[dict], what: Any) -> None:
        to = frame["to"]
        name = to.strip()
        if name in self.model.directs:
            if to != name and replies[:1] and replies[0]["type"] == "error":
                _error(replies, {"not_found"}, what)  # not trimming `to` is fine too
                return
            reply = _only(replies, "notify", what)
            self._posted(self.model.directs[name], frame, reply, what, to=name)
        elif name == "bob":
            _error(
                replies, {"invalid", "forbidden"} | ({"not_found"} if to != name else set()), what
            )
        else:
            _error(replies, {"not_found"}, what)

    def _target(self, frame: dict) -> str:
        """Where the frame's id points: mine, theirs (another author, this room), gone or
        nowhere (another room's or no message)."""
        mid = frame["id"]
        if mid in self.model.live:
            return "mine" if self.model.live[mid][0] == self.model.me else "theirs"
        return "gone" if mid in self.model.deleted else "nowhere"

    def on_message_edit(self, frame: dict, replies: list[dict], what: Any) -> None:
        target = self._target(frame)
        if target == "theirs":
            _error(replies, {"forbidden"}, what)
        elif target == "mine":
            message = _only(replies, "message.edited", what)["message"]
            check_message(message, self.model.room)
            assert message["id"] == frame["id"] and message["edited"] is not None, message
            assert message["body"] == frame["body"].strip(), f"{what!r}: {message}"
            self.model.live[frame["id"]] = (self.model.me, message["body"])
        else:
            _error(replies, {"not_found"}, what)

    def on_message_delete(self, frame: dict, replies: list[dict], what: Any) -> None:
        target = self._target(frame)
        if target == "theirs":
            _error(replies, {"forbidden"}, what)
        elif target == "mine":
            assert _only(replies, "message.deleted", what)["id"] == frame["id"]
            del self.model.live[frame["id"]]
            self.model.deleted.add(frame["id"])
            self.model.deletions.append(frame["id"])
        else:
            _error(replies, {"not_found"}, what)

    def on_message_report(self, frame: dict, replies: list[dict], what: Any) -> None:
        if self._target(frame) in ("mine", "theirs"):
            _only(replies, "report.ack", what)
        else:
            _error(replies, {"not_found"}, what)

    def on_reaction_add(self, frame: dict, replies: list[dict], what: Any) -> None:
        if self._target(frame) in ("mine", "theirs"):
            reply = _only(replies, "message.reactions", what)
            assert reply["id"] == frame["id"], f"{what!r} answered {reply}"
        else:
            _error(replies, {"not_found"}, what)

    on_reaction_remove = on_reaction_add

    def on_read(self, frame: dict, replies: list[dict], what: Any) -> None:
        target = self._target(frame)
        if target == "nowhere":
            _error(replies, {"not_found"}, what)
            return
        if target == "gone" and replies and replies[0]["type"] == "error":
            _error(replies, {"not_found"}, what)
            return
        assert [r["type"] for r in replies] in ([], ["unread"]), f"{what!r} answered {replies}"
        for reply in replies:
            assert reply["room"] == self.model.room, reply

    def on_history(self, frame: dict, replies: list[dict], what: Any) -> None:
        if (
            "limit" in frame
            and frame["limit"] is None
            and replies[:1]
            and (replies[0]["type"] == "error")
        ):
            _error(replies, {"invalid"}, what)  # a null limit: the default, or ill-typed
            return
        page = _only(replies, "history", what)
        live = sorted(self.model.live)
        limit = frame.get("limit")
        limit = 50 if limit is None else limit
        before, after = frame.get("before"), frame.get("after")
        if after is not None:
            newer = [i for i in live if i > after]
            expected, more = newer[:limit], len(newer) > limit
        else:
            older = [i for i in live if before is None or i < before]
            expected, more = older[-limit:], len(older) > limit
        got = [m["id"] for m in page["messages"]]
        assert got == expected and page["has_more"] == more, (
            f"{what!r}: history {got} has_more={page['has_more']}, expected {expected} {more}"
        )
        for message in page["messages"]:
            check_message(message, self.model.room)
            assert message["body"] == self.model.live[message["id"]][1], message

    async def drain_alice(self) -> None:
        """What alice heard: she sends nothing but this ping; each frame is checked later."""
        await self.alice.send_text(PING)
        got = await read_frames(self.alice, 1, "alice's ping", check=False)
        self.alice_frames += got[:-1]


def _dump(value: Any, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


def _clean_frame(text: str | None) -> dict | None:
    """The frame, if it is a well-formed JSON object with a string type that a correct server
    must read (its fields aside); else None."""
    if text is None or len(text) > MAX_FRAME_CHARS:
        return None
    try:
        parsed = _strict_loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
        return None
    return None if _defects(parsed) else parsed


def _ref_ok(frame: dict) -> bool:
    """A frame whose `ref` is not a short string is refused before its type is read."""
    ref = frame.get("ref")
    return ref is None or (isinstance(ref, str) and len(ref) <= REF_MAX)


# --- The test ----------------------------------------------------------------------------------


def _seed_rooms(alice, bob, carol, room) -> dict[str, Any]:
    """Messages in the fuzzed room by others, and in rooms bob cannot see, with interleaved ids
    so that small ids drawn by the fuzzer hit all three kinds."""
    secret = rooms.create_room(creator=alice, name="Secret plans", kind="private")
    rooms.open_room(user=carol, slug=room.slug)
    elsewhere_direct = rooms.direct_room(user=alice, other=carol)
    here, elsewhere = [], []
    for n in range(4):
        here.append(messages.post(author=alice, room=room, body=f"alice {n}")[0].pk)
        elsewhere.append(messages.post(author=alice, room=secret, body=f"secret {n}")[0].pk)
        here.append(messages.post(author=carol, room=room, body=f"carol {n}")[0].pk)
        elsewhere.append(
            messages.post(author=carol, room=elsewhere_direct, body=f"direct {n}")[0].pk
        )
    return {
        "directs": {"alice": rooms.direct_slug(alice, bob), "carol": rooms.direct_slug(carol, bob)},
        "elsewhere": elsewhere,
        "secret": secret,
        "first": here[0],
    }


def _database_problems(bob_id: int, secret_id: int) -> list[str]:
    problems = []
    for message in Message.objects.all():
        body = message.body
        if not 1 <= len(body) <= BODY_MAX or body != body.strip() or _defects(body):
            problems.append(f"bad body in message {message.pk}: {body[:80]!r}")
        if message.client_id is not None and len(message.client_id) > CLIENT_ID_MAX:
            problems.append(f"long client_id in message {message.pk}")
        if message.client_id is not None and _defects(message.client_id):
            problems.append(f"bad client_id in message {message.pk}")
    for report in Report.objects.all():
        if len(report.reason) > REASON_MAX or _defects(report.reason):
            problems.append(f"bad report reason {report.pk}")
    if Message.objects.filter(room_id=secret_id, author_id=bob_id).exists():
        problems.append("bob posted into a private room he is not in")
    if Membership.objects.filter(room_id=secret_id, user_id=bob_id).exists():
        problems.append("bob became a member of a private room")
    return problems


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """MD5 for the users made here: hashing is not under test, and PBKDF2 costs a second."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


async def _open(user, slug: str) -> CommunicatorSocket:
    """A socket of `user` on `slug` through the real ASGI application, past its `ready`."""
    headers = [(b"host", b"localhost"), (b"origin", ORIGIN)]
    cookie = await sync_to_async(session_cookie)(user)
    headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/rooms/{slug}/", headers=headers)
    sock = CommunicatorSocket(communicator)
    sock.accepted, _ = await communicator.connect(timeout=5)
    assert sock.accepted
    sock.ready = await sock.expect("ready")
    return sock


def test_fuzzed_frames_get_well_formed_replies_and_never_break_the_socket(
    alice, bob, carol, public_room, settings, caplog
):
    # Valid frames must not trip a rate limit.
    settings.CHAT_RATE_LIMITS = {kind: (10**6, 1.0) for kind in settings.CHAT_RATE_LIMITS}
    settings.CHAT_HEARTBEAT_INTERVAL = 3600  # no presence traffic during the run
    caplog.set_level(logging.WARNING)
    seeded = _seed_rooms(alice, bob, carol, public_room)
    model = Model(me="bob", room=public_room.slug, directs=seeded["directs"])
    model.elsewhere.update(seeded["elsewhere"])
    model.first_id = seeded["first"]

    # Hypothesis runs in this thread and each example drives the sockets on this loop.
    loop = asyncio.new_event_loop()
    opened: list[CommunicatorSocket] = []

    async def open_(user) -> CommunicatorSocket:
        opened.append(await _open(user, public_room.slug))
        return opened[-1]

    def run(batch: list[Frame]) -> None:
        for frame in batch:
            loop.run_until_complete(asyncio.wait_for(fuzzer.exchange(frame), 60))

    for explicit in reversed(EXPLICIT):
        run = example([explicit])(run)
    batches = st.lists(frames, min_size=FRAMES_PER_EXAMPLE, max_size=FRAMES_PER_EXAMPLE)
    fuzz = seed(FUZZ_SEED)(
        hypothesis_settings(
            max_examples=-(-FUZZ_FRAMES // FRAMES_PER_EXAMPLE),
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )(given(batches)(run))
    )
    try:
        alice_sock = loop.run_until_complete(open_(alice))
        fuzzer = Fuzzer(model, lambda: open_(bob), alice_sock)
        loop.run_until_complete(fuzzer.exchange(Frame("json", {"type": "ping"}, True, "valid")))
        for message in fuzzer.sock.ready["messages"]:
            model.live[message["id"]] = (message["author"], message["body"])
        assert len(model.live) == 8
        for message in fuzzer.sock.ready["messages"]:
            check_message(message, public_room.slug)
        fuzz()
        loop.run_until_complete(fuzzer.drain_alice())
    finally:
        for sock in opened:
            loop.run_until_complete(sock.close())
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.wait(leftovers))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    # Enough frames of every kind went in, and the replies covered the contract.
    assert fuzzer.sent >= FUZZ_FRAMES, fuzzer.sent
    tally, seen = model.tally, model.replies
    assert tally.get("valid", 0) >= FUZZ_FRAMES // 10, tally
    assert tally.get("near-valid", 0) >= FUZZ_FRAMES // 10, tally
    assert tally.get("hostile", 0) >= FUZZ_FRAMES // 10, tally
    for reply in (
        "message:",
        "message.edited:",
        "message.deleted:",
        "report.ack:",
        "history:",
        "notify:",
        "pong:",
        "error:invalid",
        "error:unknown_type",
        "error:too_long",
        "error:forbidden",
        "error:not_found",
    ):
        assert seen.get(reply, 0) >= 5, f"{reply} seen {seen.get(reply, 0)} times: {seen}"

    # The watcher heard each new message once (and the original again for each repeated
    # client_id), every deletion, and nothing else of bob's.
    for frame in fuzzer.alice_frames:
        check_frame(frame)
    heard = [f for f in fuzzer.alice_frames if f["type"] not in {*AMBIENT, "typing"}]
    new = [f["message"]["id"] for f in heard if f["type"] == "message"]
    assert sorted(new) == sorted(model.created_here + model.repeated_here)
    deleted = [f["id"] for f in heard if f["type"] == "message.deleted"]
    assert sorted(deleted) == sorted(model.deletions)
    notified = [f["message"]["id"] for f in heard if f["type"] == "notify"]
    assert sorted(notified) == sorted(model.direct_sent.get("alice", []))
    assert {f["type"] for f in heard} <= {
        "message",
        "message.edited",
        "message.deleted",
        "message.reactions",
        "notify",
    }
    assert all(f.get("user") == "bob" for f in fuzzer.alice_frames if f["type"] == "typing")

    # Nothing was logged as a failure, and the database holds only valid data.
    failures = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR
        or (r.levelno >= logging.WARNING and r.name.startswith("chat"))
    ]
    assert not failures, [f"{r.name}: {r.getMessage()}" for r in failures]
    problems = _database_problems(bob.pk, seeded["secret"].pk)
    assert not problems, problems
    count = Message.objects.filter(author=bob).count()
    assert count == len(model.created_here) + sum(map(len, model.direct_sent.values()))
