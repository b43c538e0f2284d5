"""A request's body into image sources: read with a cap, then one raw image or multipart file fields.

    body = await read_capped(request, limit)        # TooLarge past `limit` bytes, before reading it all
    sources = images_in(content_type, body, max_images)   # RequestError with the reason otherwise

A raw body is one image named "-", as `cnn predict -` names standard input; a multipart field's image
is named by its filename (else its field name), as the command line names a file. The bytes go on to
predict's own reader, which judges whether they are an image (and refuses bombs) exactly as it does
for files.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from cnncli.core.inference.images import ImageSource

RAW_NAME = "-"  # a raw body's name: as `cnn predict -` calls standard input
RAW_TYPES = ("image/", "application/octet-stream")  # a content type that starts so: one raw image
FORM_TYPE = "multipart/form-data"


class RequestError(Exception):
    """A request we cannot take: an HTTP status, a one-line reason and a hint."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


class TooLarge(RequestError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit:,} bytes", "send fewer or smaller images")


async def read_capped(declared: str | None, chunks: AsyncIterable[bytes], limit: int) -> bytes:
    """The whole body, refused as soon as it passes `limit` (or says it will, in Content-Length)."""
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise TooLarge(limit)
    return bytes(body)


def images_in(content_type: str, body: bytes, max_images: int) -> list[ImageSource]:
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        raise RequestError(400, "the request has no body: no image to predict", _HOW)
    if kind.startswith(RAW_TYPES):
        return [ImageSource(RAW_NAME, data=body)]
    if kind == FORM_TYPE:
        return _form_images(content_type, body, max_images)
    shown = kind or "none"
    raise RequestError(415, f"a request body of type {shown} is not an image nor a multipart form", _HOW)


_HOW = (
    "send one image as the body (curl --data-binary @digit.png -H 'Content-Type: image/png') "
    "or images as form fields (curl -F image=@digit.png)"
)


def _form_images(content_type: str, body: bytes, max_images: int) -> list[ImageSource]:
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise RequestError(400, "a multipart body without a boundary in its Content-Type", _HOW)
    parts = _Parts()
    try:
        parser = MultipartParser(boundary, parts.callbacks())
        parser.write(body)
        parser.finalize()
    except FormParserError as error:
        raise RequestError(400, f"a malformed multipart body: {error}", _HOW) from None
    sources = []
    for name, filename, data in parts.done:
        if filename is None:
            raise RequestError(
                400, f"form field {name!r} is not a file", "send images as file fields; options go in the query"
            )
        sources.append(ImageSource(filename or name or RAW_NAME, data=data))
    if not sources:
        raise RequestError(400, "the form has no image in it", _HOW)
    if len(sources) > max_images:
        raise RequestError(400, f"{len(sources)} images in one request; the most is {max_images}", "split them up")
    return sources


class _Parts:
    """python-multipart's callbacks, collecting (field name, filename or None, bytes) per part."""

    def __init__(self) -> None:
        self.done: list[tuple[str, str | None, bytes]] = []
        self._header = [b"", b""]
        self._disposition = b""
        self._data = bytearray()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._begin,
            "on_part_data": lambda data, start, end: self._data.extend(data[start:end]),
            "on_header_field": lambda data, start, end: self._add(0, data[start:end]),
            "on_header_value": lambda data, start, end: self._add(1, data[start:end]),
            "on_header_end": self._header_end,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._disposition, self._data = b"", bytearray()

    def _add(self, which: int, data: bytes) -> None:
        self._header[which] += data

    def _header_end(self) -> None:
        if self._header[0].strip().lower() == b"content-disposition":
            self._disposition = self._header[1]
        self._header = [b"", b""]

    def _end(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self.done.append((name, None if filename is None else filename.decode("utf-8", "replace"), bytes(self._data)))
