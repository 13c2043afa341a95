"""Requests and answers (contract v2): every frame with a `ref` gets exactly one answer with it,
its result frame, `error` or `ok`; broadcasts carry no `ref`."""

import pytest
from channels.db import database_sync_to_async as sync_to_async

from chat import messages

pytestmark = pytest.mark.django_db(transaction=True)


async def _answer(sock, ref: str) -> dict:
    """The frame answering `ref`, stepping over broadcasts (which carry none)."""
    while True:
        frame = await sock.recv()
        if "ref" in frame:
            assert frame["ref"] == ref, frame
            return frame


async def test_every_frame_with_a_ref_gets_one_answer_with_it(open_socket, alice, bob, members):
    theirs, _ = await sync_to_async(messages.post)(author=alice, room=members, body="hello")
    b = await open_socket(bob, members.slug)
    await b.send("message.send", body="mine", client_id="c1", ref="r-send")
    answers, broadcast = [], None
    while len(answers) < 1 or broadcast is None:
        frame = await b.recv()
        if frame["type"] == "message":
            assert "ref" not in frame  # broadcasts never carry a ref
            broadcast = frame["message"]
        elif frame.get("ref"):
            answers.append(frame)
    assert answers == [{"type": "ok", "ref": "r-send", "id": broadcast["id"]}]
    mine, t = broadcast["id"], theirs.pk
    cases = [
        ({"type": "ping"}, {"type": "pong"}),
        ({"type": "message.edit", "id": mine, "body": "edited"}, {"type": "ok", "id": mine}),
        ({"type": "read", "id": mine}, {"type": "ok"}),
        ({"type": "typing"}, {"type": "ok"}),
        ({"type": "reaction.add", "id": t, "emoji": "👍"}, {"type": "ok", "id": t}),
        ({"type": "reaction.remove", "id": t, "emoji": "👍"}, {"type": "ok", "id": t}),
        ({"type": "message.delete", "id": mine}, {"type": "ok", "id": mine}),
        ({"type": "message.edit", "id": t, "body": "x"}, {"type": "error", "code": "forbidden"}),
        ({"type": "nonsense"}, {"type": "error", "code": "unknown_type"}),
    ]  # fmt: skip
    for n, (request, expected) in enumerate(cases):
        ref = f"r{n}"
        await b.send(**request, ref=ref)
        answer = await _answer(b, ref)
        assert {key: answer[key] for key in expected} == expected, (request, answer)
    await b.send("message.report", id=theirs.pk, ref="r-report")
    assert (await _answer(b, "r-report"))["type"] == "report.ack"
    await b.send("history", limit=1, ref="r-history")
    page = await _answer(b, "r-history")
    assert page["type"] == "history" and [m["id"] for m in page["messages"]] == [theirs.pk]


async def test_answers_are_matched_by_ref_not_by_order(open_socket, alice, members):
    a = await open_socket(alice, members.slug)
    await a.send("history", limit=1, ref="first")
    await a.send("ping", ref="second")
    answers = {}
    while len(answers) < 2:
        frame = await a.recv()
        answers[frame["ref"]] = frame["type"]
    assert answers == {"first": "history", "second": "pong"}


async def test_frames_without_a_ref_get_no_ok(open_socket, alice, members):
    """What a v1 client sends is answered as before: no `ok` to read past."""
    a = await open_socket(alice, members.slug)
    await a.send("message.send", body="plain")
    await a.expect("message")
    await a.send("typing")
    await a.expect_silence(0.3)


@pytest.mark.parametrize("ref", [5, "x" * 65, ["a"], {"a": 1}])
async def test_a_ref_that_is_not_a_short_string_is_invalid(open_socket, alice, members, ref):
    a = await open_socket(alice, members.slug)
    await a.send("ping", ref=ref)
    error = await a.expect("error")
    assert error["code"] == "invalid" and "ref" not in error


async def test_a_repeated_client_id_answers_ok_with_the_original_id(open_socket, alice, members):
    a = await open_socket(alice, members.slug)
    await a.send("message.send", body="once", client_id="same", ref="one")
    first = await _answer(a, "one")
    await a.send("message.send", body="once", client_id="same", ref="two")
    assert (await _answer(a, "two"))["id"] == first["id"]
    assert await sync_to_async(messages.Message.objects.count)() == 1
