"""A socket's uploads in progress: files sent as binary frames, in chunks, into temporary files.

The browser's WebSocket sends a `Blob` or an `ArrayBuffer` as binary frames and reports what is
still queued in `bufferedAmount`; with the server's acknowledgement of each chunk that drives a
progress bar. The exchange (docs/protocol.md):

    upload.start {name, size}          -> upload.started {upload, chunk}
    binary: upload id (16 bytes) + offset (8 bytes, big-endian) + at most `chunk` bytes
                                       -> upload.progress {upload, received}
    upload.finish {upload}             -> upload.done {attachment}
    upload.cancel {upload}             -> ok

Every chunk is written to the upload's temporary file at once, so what the server holds in
memory does not grow with the file. A chunk that does not continue its upload exactly (another
socket's id, a gap, an overlap, past the announced size) ends that upload, and its file with
it; so does the socket closing.
"""

import secrets
import tempfile
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings

from .errors import ChatError, Invalid, TooLarge, TooLong

CHUNK = 64 * 1024  # a frame's payload at most: well under Daphne's 256 KiB frame limit
HEADER = 16 + 8  # the upload's id and the chunk's offset
OPEN_AT_ONCE = 3  # uploads one socket may have in progress


class UploadError(ChatError):
    """Refuses a chunk, and names the upload it ended (`upload`), if any."""

    def __init__(self, error: ChatError, upload: str | None) -> None:
        super().__init__(error.message)
        self.code, self.http_status, self.upload = error.code, error.http_status, upload


@dataclass
class Upload:
    name: str
    size: int
    file: BinaryIO = field(
        default_factory=lambda: tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)
    )
    received: int = 0


class SocketUploads:
    def __init__(self) -> None:
        self.open: dict[bytes, Upload] = {}

    def start(self, *, name: str, size: int) -> str:
        """A new upload's id (hex), once its announced size is within the limit."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise Invalid("'size' must be a whole number of bytes.")
        if size > settings.CHAT_UPLOAD_MAX_BYTES:
            raise TooLarge(f"A file may be at most {settings.CHAT_UPLOAD_MAX_BYTES} bytes.")
        if size == 0:
            raise Invalid("The file is empty.")
        if len(self.open) >= OPEN_AT_ONCE:
            raise TooLong(f"At most {OPEN_AT_ONCE} uploads at once on a socket.")
        key = secrets.token_bytes(16)
        self.open[key] = Upload(name=name, size=size)
        return key.hex()

    def write(self, chunk: bytes) -> tuple[str, int]:
        """Write a binary frame's chunk: its upload's id and the bytes received so far."""
        if len(chunk) < HEADER or chunk[:16] not in self.open:
            raise UploadError(
                Invalid("A binary frame is a chunk of an upload of this socket."), None
            )
        key, offset = chunk[:16], int.from_bytes(chunk[16:HEADER], "big")
        upload, data = self.open[key], chunk[HEADER:]
        if offset != upload.received or not data or len(data) > CHUNK:
            self.abort(key)
            raise UploadError(
                Invalid(f"Expected the chunk at {upload.received}, of 1 to {CHUNK} bytes."),
                key.hex(),
            )
        if upload.received + len(data) > upload.size:
            self.abort(key)
            raise UploadError(TooLong("More bytes than the size announced."), key.hex())
        upload.file.write(data)
        upload.received += len(data)
        return key.hex(), upload.received

    def take(self, upload_id: str) -> Upload:
        """The upload, out of the socket's list, for finishing; its file is the caller's."""
        upload = self.open.pop(_key(upload_id), None)
        if upload is None:
            raise Invalid("No such upload on this socket.")
        upload.file.flush()
        return upload

    def abort(self, key: bytes) -> None:
        upload = self.open.pop(key, None)
        if upload is not None:
            upload.file.close()  # a TemporaryFile: closing it removes it

    def cancel(self, upload_id: str) -> None:
        self.abort(_key(upload_id))

    def close(self) -> None:
        for key in tuple(self.open):
            self.abort(key)


def _key(upload_id: str) -> bytes:
    try:
        return bytes.fromhex(upload_id)
    except ValueError:
        raise Invalid("'upload' must be an upload's id.") from None
