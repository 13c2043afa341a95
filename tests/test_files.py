"""Files: uploaded over HTTP or as binary socket frames, attached by id, served only to who may
see them now, sniffed and not believed, images thumbnailed safely; bad input refused cleanly."""

import io
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from PIL import Image

from chat import messages, moderation, rooms, tokens
from chat.errors import NotFound
from chat.models import Attachment, Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SENDFILE_ROOT = str(settings.MEDIA_ROOT)
    return settings.MEDIA_ROOT


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _png(size=(64, 32), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def _upload(client: Client, slug: str, name: str, data: bytes, **extra):
    return client.post(f"/api/rooms/{slug}/uploads/", {"file": _named(name, data)}, **extra)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _named(name: str, data: bytes) -> io.BytesIO:
    stream = io.BytesIO(data)
    stream.name = name
    return stream


def _attach(author, room, *ids, body=""):
    return messages.post(author=author, room=room, body=body, attachments=list(ids))[0]


# --- HTTP: upload, attach, download ----------------------------------------------------------


def test_an_uploaded_image_is_sniffed_thumbnailed_attached_and_served_to_members(
    alice, bob, members
):
    made = _upload(_client(bob), members.slug, "holiday.txt", _png((640, 320)))
    assert made.status_code == 201
    data = made.json()["attachment"]
    assert (data["name"], data["content_type"], data["width"], data["height"]) == (
        "holiday.txt",
        "image/png",  # the bytes say so, whatever the name
        640,
        320,
    )
    assert data["thumbnail_url"] and data["size"] == len(_png((640, 320)))
    message = _attach(bob, members, data["id"])
    assert message.body == ""  # files alone make a message
    page = _client(alice).get(f"/api/rooms/{members.slug}/messages/").json()
    [shown] = page["messages"][-1]["attachments"]
    assert shown == data
    served = _client(alice).get(shown["url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "private" in served["Cache-Control"]
    assert not served.get("Content-Disposition", "").startswith("attachment")
    assert _body(served) == _png((640, 320))
    thumbnail = _client(alice).get(shown["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"
    small = Image.open(io.BytesIO(_body(thumbnail)))
    assert max(small.size) <= 480


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        (
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            None,
        ),
        ("page.html", b"<html><script>alert(1)</script></html>", None),
        ("notes.png", b"just text, named as an image\n", "text/plain"),
        ("report.pdf", b"%PDF-1.4\n% a tiny pdf\n", "application/pdf"),
    ],
)
def test_everything_but_png_jpeg_gif_and_webp_is_a_download(
    alice, members, name, data, content_type
):
    made = _upload(_client(alice), members.slug, name, data).json()["attachment"]
    assert made["thumbnail_url"] is None and not made["content_type"].startswith("image/png")
    if content_type:
        assert made["content_type"] == content_type
    _attach(alice, members, made["id"])
    served = _client(alice).get(made["url"])
    assert served.status_code == 200
    assert served["Content-Disposition"].startswith("attachment")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"]


def test_a_file_is_served_only_to_who_may_open_its_room_now(alice, bob, carol, private_room, staff):
    rooms.add_member(actor=alice, room=private_room, username="bob")
    made = _upload(_client(bob), private_room.slug, "plan.txt", b"secret plan\n").json()[
        "attachment"
    ]
    assert _client(alice).get(made["url"]).status_code == 404  # not attached yet: bob's only
    assert _client(bob).get(made["url"]).status_code == 200
    message = _attach(bob, private_room, made["id"])
    assert _client(alice).get(made["url"]).status_code == 200
    assert _client(carol).get(made["url"]).status_code in (403, 404)  # not a member
    assert Client().get(made["url"]).status_code in (403, 404)  # logged out
    moderation.ban(actor=staff, room=private_room, user=alice)
    assert _client(alice).get(made["url"]).status_code in (403, 404)
    moderation.unban(actor=staff, room=private_room, user=alice)
    messages.delete(actor=bob, room=private_room, message_id=message.pk)
    assert _client(bob).get(made["url"]).status_code == 404  # a deleted message's files
    assert _client(alice).get(f"/files/{'x' * 24}/guess.txt").status_code == 404


def test_attaching_is_for_ones_own_unattached_uploads_in_that_room(
    alice, bob, members, private_room
):
    mine = _upload(_client(alice), members.slug, "a.txt", b"a\n").json()["attachment"]["id"]
    theirs = _upload(_client(bob), members.slug, "b.txt", b"b\n").json()["attachment"]["id"]
    elsewhere = _upload(_client(alice), private_room.slug, "c.txt", b"c\n").json()["attachment"][
        "id"
    ]
    for ids in ([theirs], [elsewhere], ["nonsense"]):
        with pytest.raises(NotFound):
            _attach(alice, members, *ids)
    _attach(alice, members, mine)
    with pytest.raises(NotFound):
        _attach(alice, members, mine)  # attached once
    assert Message.objects.count() == 1


def test_a_message_holds_at_most_ten_files(alice, members, settings):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "upload": (100, 1.0)}
    client = _client(alice)
    ids = [
        _upload(client, members.slug, f"{n}.txt", b"x\n").json()["attachment"]["id"]
        for n in range(11)
    ]
    response = client.post(
        f"/api/rooms/{members.slug}/messages/",
        {"body": "many", "attachments": ids},
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["error"] == "too_long"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.txt", "report.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("a\x00b\x07c.txt", "abc.txt"),
        ("   ", "file"),
        ("x" * 300 + ".txt", "x" * 196 + ".txt"),
    ],
)
def test_file_names_are_made_safe(alice, members, name, shown):
    made = _upload(_client(alice), members.slug, name, b"data\n")
    assert made.status_code == 201 and made.json()["attachment"]["name"] == shown


def test_oversize_empty_and_bomb_files_are_refused_and_nothing_is_kept(
    alice, members, settings, media_root
):
    settings.CHAT_UPLOAD_MAX_BYTES = 1000
    client = _client(alice)
    too_big = _upload(client, members.slug, "big.bin", b"x" * 1001)
    assert too_big.status_code == 413 and too_big.json()["error"] == "too_long"
    huge = _upload(client, members.slug, "huge.bin", b"x" * 200_000)  # refused by its length
    assert huge.status_code == 413
    empty = _upload(client, members.slug, "empty.txt", b"")
    assert empty.status_code == 400 and empty.json()["error"] == "invalid"
    settings.CHAT_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")  # 100 million pixels in a few KB
    refused = _upload(client, members.slug, "bomb.png", bomb.getvalue())
    assert refused.status_code == 400 and "pixels" in refused.json()["message"]
    assert not Attachment.objects.exists()
    stored = list(Path(media_root).rglob("*")) if Path(media_root).exists() else []
    assert [path for path in stored if path.is_file()] == []


def test_a_photo_is_turned_upright_and_its_thumbnail_keeps_no_metadata(alice, members):
    photo = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to show
    exif[0x010F] = "Camera maker"
    Image.new("RGB", (400, 200), (10, 120, 200)).save(photo, "JPEG", exif=exif)
    made = _upload(_client(alice), members.slug, "photo.jpg", photo.getvalue()).json()["attachment"]
    assert (made["content_type"], made["width"], made["height"]) == ("image/jpeg", 200, 400)
    _attach(alice, members, made["id"])
    thumbnail = _client(alice).get(made["thumbnail_url"])
    small = Image.open(io.BytesIO(_body(thumbnail)))
    assert small.size[1] > small.size[0]  # upright
    assert not small.getexif() and "exif" not in small.info


def test_uploads_follow_the_rules_of_posting(alice, bob, members, staff):
    moderation.mute(actor=staff, room=members, user=bob, until=timezone.now() + timedelta(hours=1))
    muted = _upload(_client(bob), members.slug, "x.txt", b"x\n")
    assert muted.status_code == 403 and muted.json()["error"] == "muted"
    read = Client(headers={"Authorization": f"Bearer {_token(alice, 'read')}"})
    refused = read.post(f"/api/rooms/{members.slug}/uploads/", {"file": _named("x.txt", b"x")})
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    write = Client(headers={"Authorization": f"Bearer {_token(alice, 'write')}"})
    made = write.post(f"/api/rooms/{members.slug}/uploads/", {"file": _named("x.txt", b"x")})
    assert made.status_code == 201
    assert Attachment.objects.count() == 1


def test_uploads_are_rate_limited(alice, members, settings):
    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "upload": (2, 60.0)}
    client = _client(alice)
    assert [_upload(client, members.slug, "x.txt", b"x").status_code for _ in range(3)] == [
        201,
        201,
        429,
    ]


def _token(user, scope: str) -> str:
    return tokens.create(actor=user, user=user, name="t", scope=scope)[1]


def test_unattached_uploads_are_deleted_after_a_day_with_their_files(alice, members):
    client = _client(alice)
    old = _upload(client, members.slug, "old.png", _png()).json()["attachment"]["id"]
    kept = _upload(client, members.slug, "kept.txt", b"kept").json()["attachment"]["id"]
    attached = _upload(client, members.slug, "attached.txt", b"a").json()["attachment"]["id"]
    _attach(alice, members, attached)
    Attachment.objects.filter(pk__in=[old, attached]).update(
        created=timezone.now() - timedelta(hours=25)
    )
    stale = Attachment.objects.get(pk=old)
    paths = [stale.file.name, stale.thumbnail.name]
    output = io.StringIO()
    call_command("delete_unattached_uploads", stdout=output)
    assert "Deleted 1" in output.getvalue()
    assert set(Attachment.objects.values_list("pk", flat=True)) == {kept, attached}
    assert not any(default_storage.exists(path) for path in paths)


# --- The socket: binary frames ---------------------------------------------------------------


async def _ws(worker, user, slug):
    return await worker.connect(user, slug)


async def _start(sock, name: str, size: int) -> tuple[str, int]:
    await sock.send("upload.start", name=name, size=size, ref="s")
    started = await sock.recv_type("upload.started")
    return started["upload"], started["chunk"]


def _chunk(upload: str, offset: int, data: bytes) -> bytes:
    return bytes.fromhex(upload) + offset.to_bytes(8, "big") + data


async def _send_bytes(sock, data: bytes) -> None:
    await sock.connection.send(data)


async def test_a_file_sent_as_binary_frames_reaches_the_room_on_another_worker(
    daphne, redis_layer, alice, bob, members, tmp_path
):
    media = str(tmp_path / "worker-media")
    one, two = daphne(DJANGO_MEDIA_ROOT=media), daphne(DJANGO_MEDIA_ROOT=media)
    sender = await _ws(one, alice, members.slug)
    reader = await _ws(two, bob, members.slug)
    data = _png((300, 200))
    upload, chunk = await _start(sender, "picture.png", len(data))
    received = 0
    for offset in range(0, len(data), 1000):
        await _send_bytes(sender, _chunk(upload, offset, data[offset : offset + 1000]))
        progress = await sender.recv_type("upload.progress")
        received = progress["received"]
        assert progress["upload"] == upload
    assert received == len(data) and chunk >= 1000
    await sender.send("upload.finish", upload=upload, ref="f")
    done = await sender.recv_type("upload.done")
    attachment = done["attachment"]
    assert (attachment["content_type"], attachment["width"]) == ("image/png", 300)
    await sender.send("message.send", body="look", attachments=[attachment["id"]])
    heard = (await reader.recv_type("message", timeout=3))["message"]
    assert heard["attachments"] == [attachment]


async def test_bad_uploads_over_the_socket_are_refused_and_leave_nothing(
    daphne, alice, bob, members, tmp_path
):
    media = tmp_path / "worker-media"
    worker = daphne(DJANGO_MEDIA_ROOT=str(media), CHAT_UPLOAD_MAX_BYTES="5000")
    sock = await _ws(worker, alice, members.slug)
    other = await _ws(worker, bob, members.slug)

    async def error() -> dict:
        return await sock.recv_type("error")

    await _send_bytes(sock, b"\x00" * 40)  # no upload at all
    assert (await error())["code"] == "invalid"
    await sock.send("upload.start", name="big.bin", size=5001)
    assert (await error())["code"] == "too_long"
    await sock.send("upload.start", name="empty.bin", size=0)
    assert (await error())["code"] == "invalid"
    upload, _ = await _start(sock, "a.bin", 100)
    await _send_bytes(sock, _chunk(upload, 10, b"x" * 10))  # out of order
    assert (await error())["code"] == "invalid"
    upload, _ = await _start(sock, "b.bin", 100)
    await _send_bytes(sock, _chunk(upload, 0, b"x" * 101))  # past the size announced
    assert (await error())["code"] == "too_long"
    upload, _ = await _start(sock, "c.bin", 100)
    await _send_bytes(sock, _chunk(upload, 0, b"x" * 50))
    await sock.recv_type("upload.progress")
    await sock.send("upload.finish", upload=upload)  # half of it
    assert (await error())["code"] == "invalid"
    mine, _ = await _start(sock, "d.bin", 100)
    await other.connection.send(_chunk(mine, 0, b"x" * 10))  # another socket's upload
    assert (await other.recv_type("error"))["code"] == "invalid"
    await sock.send("upload.finish", upload="not-hex")
    assert (await error())["code"] == "invalid"
    await sock.send("upload.cancel", upload=mine, ref="c")
    assert (await sock.recv_type("ok"))["ref"] == "c"
    # Mid-upload, the socket goes: its temporary file goes with it.
    upload, _ = await _start(sock, "e.bin", 1000)
    await _send_bytes(sock, _chunk(upload, 0, b"y" * 500))
    await sock.recv_type("upload.progress")
    await sock.close()
    await other.roundtrip()
    assert await sync_to_async(Attachment.objects.count)() == 0
    stored = [path for path in media.rglob("*") if path.is_file()] if media.exists() else []
    assert stored == []
    assert _open_temporary_files(worker.process.pid) == []


def _open_temporary_files(pid: int) -> list[str]:
    """Files the worker holds open that were removed from the directory: temporary files."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("/tmp") and target.endswith("(deleted)"):
            found.append(target)
    return found


async def test_a_binary_frame_on_the_lobby_socket_is_invalid(open_socket, alice):
    lobby = await open_socket(alice, path="/ws/lobby/", expect_ready=False)
    await lobby.expect("ready")
    await lobby.send_bytes(b"\x01\x02")
    assert (await lobby.expect("error"))["code"] == "invalid"
    await lobby.roundtrip()


async def test_an_upload_frame_needs_the_rules_of_posting(open_socket, staff, bob, members):
    await sync_to_async(moderation.mute)(
        actor=staff, room=members, user=bob, until=timezone.now() + timedelta(hours=1)
    )
    sock = await open_socket(bob, members.slug)
    await sock.send("upload.start", name="x.txt", size=10)
    assert (await sock.expect("error"))["code"] == "muted"


def test_attachments_reach_history_in_json(alice, members):
    made = _upload(_client(alice), members.slug, "a.txt", b"a\n").json()["attachment"]
    _attach(alice, members, made["id"], body="with a file")
    [message] = _client(alice).get(f"/api/rooms/{members.slug}/messages/").json()["messages"]
    assert json.dumps(message["attachments"]) == json.dumps([made])


async def test_a_socket_message_may_be_files_alone(open_socket, alice, members):
    made = await sync_to_async(
        lambda: _upload(_client(alice), members.slug, "a.txt", b"a\n").json()["attachment"]
    )()
    sock = await open_socket(alice, members.slug)
    await sock.send("message.send", body="  ", attachments=[made["id"]])
    message = (await sock.expect("message"))["message"]
    assert message["body"] == "" and message["attachments"][0]["id"] == made["id"]
    await sock.send("message.send", body="  ")
    assert (await sock.expect("error"))["code"] == "invalid"
