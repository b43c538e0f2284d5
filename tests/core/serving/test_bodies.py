"""A request body into image sources: multipart bodies as httpx (a reference encoder) writes them,
raw bodies, the cap, and what is refused."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnncli.core.serving.bodies import RequestError, TooLarge, images_in, read_capped

# file names as httpx sends them unescaped (it percent-encodes control characters and quotes)
names = st.text(st.characters(exclude_categories=("Cc", "Cs"), exclude_characters='"\\%'), min_size=1, max_size=30)


def encoded(files: list[tuple[str, tuple[str, bytes, str]]], data: dict | None = None) -> tuple[str, bytes]:
    request = httpx.Request("POST", "http://127.0.0.1/predict", files=files, data=data)
    return request.headers["content-type"], request.read()


@given(st.lists(st.tuples(names, st.binary(min_size=1, max_size=300)), min_size=1, max_size=6))
def test_multipart_file_fields_come_back_as_httpx_sent_them(images):
    content_type, body = encoded([("image", (name, data, "image/png")) for name, data in images])
    sources = images_in(content_type, body, max_images=10)
    assert [(s.name, s.data) for s in sources] == images


def test_a_raw_body_is_one_image_named_as_stdin():
    for kind in ("image/png", "image/jpeg; q=1", "application/octet-stream"):
        [source] = images_in(kind, b"\x89PNG...", max_images=1)
        assert (source.name, source.data) == ("-", b"\x89PNG...")


@pytest.mark.parametrize(
    ("content_type", "body", "status", "words"),
    [
        ("image/png", b"", 400, "no body"),
        ("application/json", b"{}", 415, "application/json"),
        ("", b"data", 415, "type none"),
        ("multipart/form-data", b"data", 400, "boundary"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n", 400, "no image"),
        ("multipart/form-data; boundary=x", b"--x--\r\n", 400, "no image"),
    ],
)
def test_what_is_refused_and_why(content_type, body, status, words):
    with pytest.raises(RequestError) as refused:
        images_in(content_type, body, max_images=4)
    assert refused.value.status == status and words in refused.value.message


def test_a_text_field_and_too_many_files_are_refused():
    content_type, body = encoded([("image", ("a.png", b"x", "image/png"))], data={"top_k": "3"})
    with pytest.raises(RequestError, match="'top_k' is not a file"):
        images_in(content_type, body, max_images=4)
    content_type, body = encoded([("image", (f"{i}.png", b"x", "image/png")) for i in range(5)])
    with pytest.raises(RequestError, match="5 images in one request; the most is 4"):
        images_in(content_type, body, max_images=4)


async def chunks(sizes: list[int]):
    for size in sizes:
        yield b"\0" * size


def test_the_cap_refuses_a_declared_length_and_a_stream_that_runs_past_it():
    assert asyncio.run(read_capped("10", chunks([4, 6]), limit=10)) == b"\0" * 10
    with pytest.raises(TooLarge):
        asyncio.run(read_capped("11", chunks([]), limit=10))
    with pytest.raises(TooLarge):
        asyncio.run(read_capped(None, chunks([6, 6]), limit=10))
    with pytest.raises(TooLarge):  # a Content-Length that lies low does not get past the count
        asyncio.run(read_capped("2", chunks([6, 6]), limit=10))
