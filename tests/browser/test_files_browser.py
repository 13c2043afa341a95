"""Files in a real browser: picked with the attach button, pasted, dropped; uploaded over the
room socket in binary chunks with a progress bar; shown to the other user inline (an image's
thumbnail, full size in the viewer) or as a card with a working download link; a large upload
cancelled half way; a file over the limit refused before a byte is sent.

Run it in a process of its own: `pytest -m browser tests/browser/test_files_browser.py`.
"""

import base64
import io
import json
import os
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from .helpers import WAIT_MS, User, create_room, expect_connected, log_in

pytestmark = pytest.mark.browser

PASSWORDS = {"alice": "alice-files-pass-17", "bob": "bob-files-pass-17"}

NOTES = ("Trail notes\n" * 25_000).encode()  # 300 kB: a few chunks, so the bar has steps


def _png(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height))
    image.putdata(
        [(x * 255 // width, y * 255 // height, 128) for y in range(height) for x in range(width)]
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _open_room(server: str, alice: User, bob: User, name: str) -> str:
    url = create_room(alice, server, name)
    bob.page.goto(url)
    expect(bob.page.locator("#room-name")).to_have_text(name, timeout=WAIT_MS)
    expect_connected(bob)
    return url


def _record_tray(user: User) -> None:
    """Remember every state of the tray's progress bars and of the Send button, however brief."""
    user.page.evaluate(
        """() => {
            window.__tray = [];
            const send = document.getElementById("composer-send");
            new MutationObserver(() => {
                for (const bar of document.querySelectorAll("#attach-tray .upload-bar")) {
                    window.__tray.push({
                        name: bar.closest(".upload").querySelector(".upload-name").textContent,
                        shown: !bar.hidden && bar.checkVisibility(),
                        value: bar.value,
                        max: bar.max,
                        sendDisabled: send.disabled,
                    });
                }
            }).observe(document.getElementById("attach-tray"), {
                subtree: true, childList: true, attributes: true, characterData: true,
            });
        }"""
    )


def _tray_states(user: User, name: str) -> list[dict]:
    return [s for s in user.page.evaluate("window.__tray") if s["name"] == name]


def _paste(user: User, name: str, content: bytes, mime: str) -> None:
    """Paste a file into the composer, as a screenshot pasted from the clipboard would come."""
    user.page.evaluate(
        """([name, data, mime]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: mime}));
            const input = document.getElementById("composer-input");
            input.focus();
            input.dispatchEvent(new ClipboardEvent("paste", {
                clipboardData: transfer, bubbles: true, cancelable: true,
            }));
        }""",
        [name, base64.b64encode(content).decode(), mime],
    )


def _drop(user: User, target: str, name: str, size: int) -> None:
    """Drag a file of `size` zero bytes over `target` and drop it there."""
    user.page.evaluate(
        """([target, name, size]) => {
            const transfer = new DataTransfer();
            const mime = "application/octet-stream";
            transfer.items.add(new File([new Uint8Array(size)], name, {type: mime}));
            const node = document.querySelector(target);
            for (const type of ["dragenter", "dragover", "drop"]) {
                const init = {dataTransfer: transfer, bubbles: true, cancelable: true};
                node.dispatchEvent(new DragEvent(type, init));
            }
        }""",
        [target, name, size],
    )


def test_a_picked_file_and_a_pasted_image_reach_the_other_user(server, alice, bob):
    _open_room(server, alice, bob, "Trip photos")
    page = alice.page
    _record_tray(alice)

    # The attach button opens the file chooser.
    with page.expect_file_chooser() as chooser:
        page.locator("#composer-attach").click()
    chooser.value.set_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": NOTES}]
    )
    item = page.locator("#attach-tray .upload").filter(has_text="notes.txt")
    expect(item).to_have_attribute("data-state", "done", timeout=WAIT_MS)
    expect(item.locator(".upload-status")).to_have_text("Ready")
    expect(item.locator(".upload-bar")).to_be_hidden()
    states = _tray_states(alice, "notes.txt")
    shown = [s for s in states if s["shown"]]
    assert shown, f"the progress bar never showed: {states}"
    assert any(0 < s["value"] < s["max"] for s in shown), (
        f"no progress between 0 and done: {states}"
    )
    assert all(s["sendDisabled"] for s in shown), "Send waits for the upload"
    expect(page.locator("#composer-send")).to_be_enabled()

    composer = page.locator("#composer-input")
    composer.fill("Here are the notes for Saturday")
    composer.press("Enter")
    expect(page.locator("#attach-tray")).to_be_hidden()

    # Bob sees a card: icon, name, size, and a download link that works for him.
    message = bob.page.locator("#messages > li").filter(has_text="Here are the notes")
    expect(message).to_have_count(1, timeout=WAIT_MS)
    card = message.locator(".file-card")
    expect(card.locator(".file-card-name")).to_have_text("notes.txt")
    expect(card.locator(".file-card-size")).to_have_text("293 KB")
    href = card.locator(".file-card-download").get_attribute("href")
    response = bob.page.request.get(f"{server}{href}")
    assert response.status == 200
    assert response.body() == NOTES
    assert response.headers["content-disposition"].startswith("attachment")

    # A screenshot pasted into the composer: a preview in the tray, then a message of it alone.
    png = _png(640, 400)
    _paste(alice, "image.png", png, "image/png")
    item = page.locator("#attach-tray .upload").filter(has_text="image.png")
    expect(item.locator(".upload-preview")).to_have_attribute(
        "src", re.compile(r"^data:image/png;base64,")
    )
    expect(item).to_have_attribute("data-state", "done", timeout=WAIT_MS)
    composer.press("Enter")  # no text: files alone
    expect(page.locator("#attach-tray")).to_be_hidden()

    image = bob.page.locator("#messages .msg-image img")
    expect(image).to_have_count(1, timeout=WAIT_MS)
    # Its place is held at the thumbnail's proportions before it loads (640 x 400 in 360 x 270).
    assert image.get_attribute("width") == "360"
    assert image.get_attribute("height") == "225"
    bob.page.wait_for_function(
        """() => {
            const image = document.querySelector("#messages .msg-image img");
            return image && image.complete && image.naturalWidth > 0;
        }""",
        timeout=WAIT_MS,
    )
    natural = image.evaluate("(node) => [node.naturalWidth, node.naturalHeight]")
    assert natural == [480, 300], natural  # the server's thumbnail, not the file

    # A click opens it full size; Escape closes the viewer.
    image.click()
    viewer = bob.page.locator("#image-viewer")
    expect(viewer).to_be_visible()
    bob.page.wait_for_function(
        "() => document.querySelector('#image-viewer img').naturalWidth === 640", timeout=WAIT_MS
    )
    expect(viewer.locator(".image-viewer-name")).to_have_text("image.png")
    bob.page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

    # Alice's own messages are confirmed, with their files, as Bob sees them.
    expect(page.locator("#pending > li")).to_have_count(0, timeout=WAIT_MS)
    expect(page.locator("#messages .file-card")).to_have_count(1)
    expect(page.locator("#messages .msg-image img")).to_have_count(1)
    alice.assert_no_script_errors()
    bob.assert_no_script_errors()


def test_a_dropped_file_and_one_over_the_limit(server, alice, bob):
    page = alice.page
    expect_connected(alice)
    _drop(alice, "#log", "minutes.bin", 1000)
    item = page.locator("#attach-tray .upload").filter(has_text="minutes.bin")
    expect(item).to_have_attribute("data-state", "done", timeout=WAIT_MS)
    expect(page.locator(".drop-overlay")).to_be_hidden()

    # Removed before sending: nothing goes with the next message.
    item.get_by_role("button", name="Remove minutes.bin").click()
    expect(page.locator("#attach-tray")).to_be_hidden()

    # Over 10 MiB: refused on the spot with the limit, nothing uploaded.
    _drop(alice, "#composer", "huge.bin", 11 * 1024 * 1024)
    expect(page.locator(".toast").filter(has_text="huge.bin")).to_contain_text(
        "a file may be at most 10 MB", timeout=WAIT_MS
    )
    expect(page.locator("#attach-tray")).to_be_hidden()
    alice.assert_no_script_errors()


def test_a_large_upload_shows_its_progress_and_can_be_cancelled(server, site, browser, bob):
    """The server's acknowledgements are held back half way (a slow link), so that the bar
    stops part way and the cancel comes mid-upload."""
    carol = log_in(browser, server, "alice", PASSWORDS["alice"])
    page = carol.page
    released = {"acks": 4}
    held: list[str] = []
    from_page: list[str | bytes] = []
    routes = []

    def route(ws):
        routes.append(ws)
        upstream = ws.connect_to_server()

        def to_server(message):
            from_page.append(message)
            upstream.send(message)

        def to_page(message):
            if isinstance(message, str) and '"upload.progress"' in message:
                if released["acks"] <= 0:
                    held.append(message)
                    return
                released["acks"] -= 1
            ws.send(message)

        ws.on_message(to_server)
        upstream.on_message(to_page)

    try:
        page.route_web_socket(re.compile(r"/ws/rooms/"), route)
        url = create_room(carol, server, "Big files")
        _record_tray(carol)
        content = os.urandom(3 * 1024 * 1024)
        with page.expect_file_chooser() as chooser:
            page.locator("#composer-attach").click()
        chooser.value.set_files(
            files=[{"name": "big.bin", "mimeType": "application/octet-stream", "buffer": content}]
        )
        item = page.locator("#attach-tray .upload").filter(has_text="big.bin")
        bar = item.locator(".upload-bar")
        expect(bar).to_be_visible(timeout=WAIT_MS)
        expect(bar).to_have_attribute("value", str(4 * 65536), timeout=WAIT_MS)
        expect(item.locator(".upload-status")).to_have_text("256 KB of 3 MB")
        values = [s["value"] for s in _tray_states(carol, "big.bin") if s["shown"]]
        assert values == sorted(values) and values[-1] == 4 * 65536 and len(set(values)) >= 4, (
            values
        )
        expect(page.locator("#composer-send")).to_be_disabled()
        page.wait_for_timeout(300)  # the client holds its window: no more than 1 MiB unacknowledged
        chunks = [m for m in from_page if isinstance(m, bytes)]
        assert len(chunks) == 16 + 4, len(chunks)

        item.get_by_role("button", name="Cancel the upload of big.bin").click()
        expect(page.locator("#attach-tray")).to_be_hidden()
        page.wait_for_timeout(300)
        frames = [json.loads(m) for m in from_page if isinstance(m, str)]
        start = next(f for f in frames if f["type"] == "upload.start")
        assert start["size"] == len(content)
        cancels = [
            i for i, m in enumerate(from_page) if isinstance(m, str) and '"upload.cancel"' in m
        ]
        assert len(cancels) == 1, frames
        assert not [m for m in from_page[cancels[0] :] if isinstance(m, bytes)], "a chunk after"

        # The held acknowledgements arrive late: ignored; the socket stays good for messages.
        released["acks"] = 10**6
        for message in held:
            routes[-1].send(message)
        composer = page.locator("#composer-input")
        composer.fill("never mind the big file")
        composer.press("Enter")
        bob.page.goto(url)
        expect(bob.page.locator("#messages .msg-body").filter(has_text="never mind")).to_have_count(
            1, timeout=WAIT_MS
        )
        expect(bob.page.locator("#messages .file-card")).to_have_count(0)
        stored = site.query("SELECT count(*) FROM chat_attachment WHERE name = ?", "big.bin")
        assert stored == [(0,)], "the cancelled upload left nothing behind"
        carol.assert_no_script_errors()
    finally:
        page.context.close()
