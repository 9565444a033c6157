"""The fake Bot API's uploads: sendPhoto and sendDocument, as multipart/form-data file parts."""

from __future__ import annotations

import itertools
import struct
import time
from typing import Any

JSON = dict[str, Any]


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def png_size(data: bytes) -> tuple[int, int]:
    """A PNG's width and height, from its header; ApiError if it is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


class FileMethods:
    """sendPhoto and sendDocument for FakeTelegram, which holds the state used here."""

    uploads: list[tuple[str, bytes]]  # (form field, bytes), every upload received
    messages: dict[tuple[int, int], JSON]
    bot_user: JSON
    _ids: itertools.count[int]

    def _chat(self, chat_id: int | str) -> JSON:
        raise NotImplementedError

    async def _api_sendPhoto(self, p: JSON) -> JSON:
        """A photo as Telegram keeps it: one PhotoSize the size of the upload (a PNG's header)."""
        width, height = png_size(self._upload(p["photo"]))
        photo = {"file_id": f"photo-{len(self.uploads)}", "file_unique_id": f"u{len(self.uploads)}"}
        return self._file_message(p, photo=[{**photo, "width": width, "height": height}])

    async def _api_sendDocument(self, p: JSON) -> JSON:
        size = len(self._upload(p["document"]))
        document = {"file_id": f"doc-{size}", "file_unique_id": f"d{size}", "file_size": size}
        return self._file_message(p, document=document)

    def _upload(self, value: str) -> bytes:
        name = value.removeprefix("attach://")
        found = [data for field_name, data in self.uploads if field_name == name]
        if not value.startswith("attach://") or not found:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return found[-1]

    def _file_message(self, p: JSON, **content: Any) -> JSON:
        message: JSON = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": self._chat(p["chat_id"]),
            "from": self.bot_user,
            **content,
        }
        self.messages[(message["chat"]["id"], message["message_id"])] = message
        return message
