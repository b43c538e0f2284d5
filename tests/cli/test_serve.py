"""`cnn serve` end to end: the real program on a free loopback port, spoken to over real HTTP.

Every endpoint; the same JSON as `cnn predict` for the same files; hostile requests (too big, a pixel
bomb, garbage, empty, the wrong content type); the bound on requests in flight (503, and answering
again after); the timeout; SIGTERM and SIGINT with requests in flight (answered, then 143 and 130).
"""

from __future__ import annotations

import io
import signal
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from cnncli.core.data import load_split
from cnncli.core.errors import ExitCode
from cnncli.core.inference.images import MAX_PIXELS
from tests.support.photos import pixel_bomb_png
from tests.support.serving import ServeProcess

ERROR_KEYS = {"status", "message", "hint"}


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def slow_png() -> bytes:
    """A 3000 x 3000 page with one stroke: a few kB to send, tens of milliseconds to decode and prepare."""
    page = np.full((3000, 3000), 250, dtype=np.uint8)
    page[800:2200, 1400:1600] = 10
    return png(page)


@pytest.fixture(scope="module")
def digits(sample_model) -> dict[str, bytes]:
    """Twelve test digits of mnist-sample as PNG files' bytes, by file name."""
    split = load_split("mnist-sample", "test", sample_model.data_dir)
    return {f"digit-{i:02d}.png": png(split.images[i, 0].numpy()) for i in range(12)}


@pytest.fixture(scope="module")
def server(sample_model):
    with ServeProcess(sample_model.model, "--threads", "1") as running:
        yield running


def assert_error(reply: httpx.Response, status: int) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/json"
    error = reply.json()["error"]
    assert set(error) == ERROR_KEYS and error["status"] == status and error["message"]
    assert "Traceback" not in reply.text
    return error


def files_of(images: dict[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("image", (name, data, "image/png")) for name, data in images.items()]


# -- the endpoints ----------------------------------------------------------------------------------


def test_health_says_ok_and_how_busy(server):
    reply = httpx.get(server.url + "health")
    assert reply.status_code == 200
    health = reply.json()
    assert health["status"] == "ok" and health["in_flight"] == 0 and health["capacity"] == 8


def test_model_is_what_cnn_summary_json_says(server, sample_model, cnn):
    summary = cnn("summary", str(sample_model.model), "--json")
    assert summary.exit_code == 0, summary.stderr
    assert httpx.get(server.url + "model").json() == summary.json()


def test_multipart_images_get_exactly_cnn_predicts_json(server, sample_model, digits, cnn, tmp_path):
    images = {**digits, "notes.png": b"not an image at all\n"}
    for name, data in images.items():
        (tmp_path / name).write_bytes(data)
    run = cnn("predict", *images, "--model", str(sample_model.model), "--top-k", "3", "--json", cwd=tmp_path)
    assert run.exit_code == ExitCode.PARTIAL, run.stderr
    reply = httpx.post(server.url + "predict", params={"top_k": 3}, files=files_of(images))
    assert reply.status_code == 200, reply.text
    assert reply.json() == run.json()
    assert reply.json()[-1]["error"]  # the failed image in its place, as predict reports it


def test_a_raw_body_gets_exactly_what_cnn_predict_says_of_stdin(server, sample_model, digits, cnn):
    data = digits["digit-03.png"]
    run = cnn("predict", "-", "--model", str(sample_model.model), "--json", input=data)
    assert run.exit_code == 0, run.stderr
    reply = httpx.post(server.url + "predict", content=data, headers={"content-type": "image/png"})
    assert reply.status_code == 200 and reply.json() == run.json()
    assert reply.json()[0]["file"] == "-" and len(reply.json()[0]["top_k"]) == 1


def test_show_gives_the_picture_the_network_saw(server, digits):
    data = digits["digit-05.png"]
    numbers = httpx.post(server.url + "predict?show=1", content=data, headers={"content-type": "image/png"}).json()
    seen = np.array(numbers[0]["seen"], dtype=np.uint8)
    assert seen.shape == (1, 28, 28) and seen.max() > 200  # white ink on black, as MNIST
    url = httpx.post(server.url + "predict?show=png", content=data, headers={"content-type": "image/png"}).json()
    prefix = "data:image/png;base64,"
    assert url[0]["seen"].startswith(prefix)
    import base64

    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(url[0]["seen"].removeprefix(prefix)))))
    assert np.array_equal(picture, seen[0])


def test_top_k_past_the_classes_lists_them_all(server, digits):
    reply = httpx.post(server.url + "predict?top_k=50", files=files_of({"a.png": digits["digit-00.png"]}))
    top = reply.json()[0]["top_k"]
    assert len(top) == 10 and sorted((t["label"] for t in top), key=int) == [str(i) for i in range(10)]


def test_the_page_and_its_files_are_served_from_the_package(server):
    page = httpx.get(server.url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<canvas" in page.text and "default-src 'self'" in page.headers["content-security-policy"]
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        reply = httpx.get(server.url + name)
        assert reply.status_code == 200 and reply.headers["content-type"].startswith(kind)
    assert "http" not in page.text.replace(server.url, "")  # nothing from elsewhere: it works offline


def test_every_request_is_logged_in_one_line_on_stderr(server):
    httpx.get(server.url + "health?from=test")
    line = server.wait_for_line(lambda line: line.startswith("127.0.0.1 GET /health?from=test "))
    assert line is not None and line.startswith("127.0.0.1 GET /health?from=test 200 ") and line.endswith(" ms"), (
        server.stderr
    )


# -- what it refuses, and how -----------------------------------------------------------------------


def test_unknown_paths_and_methods_are_json_errors(server):
    assert_error(httpx.get(server.url + "nothing/here"), 404)
    assert_error(httpx.get(server.url + "predict"), 405)
    assert_error(httpx.delete(server.url + "model"), 405)


def test_a_body_over_the_cap_is_413_before_it_is_read(sample_model):
    with ServeProcess(sample_model.model, "--max-body", "0.01") as small:  # about 10 kB
        declared = httpx.post(small.url + "predict", content=b"\0" * 20_000, headers={"content-type": "image/png"})
        assert "10,485 bytes" in assert_error(declared, 413)["message"]

        def chunks():  # no Content-Length: the cap is found while reading
            for _ in range(40):
                yield b"\0" * 1000

        streamed = httpx.post(small.url + "predict", content=chunks(), headers={"content-type": "image/png"})
        assert_error(streamed, 413)
        assert httpx.get(small.url + "health").status_code == 200


def test_a_pixel_bomb_is_400_with_predicts_reason(server):
    bomb = pixel_bomb_png(30_000, 30_000)
    error = assert_error(httpx.post(server.url + "predict", content=bomb, headers={"content-type": "image/png"}), 400)
    assert f"{MAX_PIXELS:,}" in error["message"] or "pixels" in error["message"]
    results = httpx.post(server.url + "predict", files=files_of({"bomb.png": bomb})).json()["results"]
    assert results[0]["file"] == "bomb.png" and "pixels" in results[0]["error"]


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"this is not an image\n", "image/png", 400),  # garbage
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "application/octet-stream", 400),  # a truncated PNG
        (b"", "image/png", 400),  # empty
        (b'{"image": "digit.png"}', "application/json", 415),  # the wrong content type
        (b"image=digit.png", "application/x-www-form-urlencoded", 415),
        (b"--x\r\nnot a form", "multipart/form-data; boundary=x", 400),  # a broken form
        (b"whatever", "multipart/form-data", 400),  # a form without its boundary
    ],
)
def test_bad_requests_get_one_json_error_shape(server, content, content_type, status):
    assert_error(httpx.post(server.url + "predict", content=content, headers={"content-type": content_type}), status)


def test_bad_options_and_a_form_field_that_is_no_file_are_400(server, digits):
    image = {"content": digits["digit-00.png"], "headers": {"content-type": "image/png"}}
    assert "top_k" in assert_error(httpx.post(server.url + "predict?top_k=0", **image), 400)["message"]
    assert "top_k" in assert_error(httpx.post(server.url + "predict?top_k=x", **image), 400)["message"]
    assert "show" in assert_error(httpx.post(server.url + "predict?show=gif", **image), 400)["message"]
    field = httpx.post(server.url + "predict", data={"top_k": "3"}, files=files_of({"a.png": digits["digit-00.png"]}))
    assert "'top_k' is not a file" in assert_error(field, 400)["message"]


def test_too_many_images_in_one_request_is_400(server, digits):
    many = [("image", (f"{i}.png", digits["digit-00.png"], "image/png")) for i in range(129)]
    assert "129 images" in assert_error(httpx.post(server.url + "predict", files=many), 400)["message"]


# -- load, time and signals -------------------------------------------------------------------------


def post_in_thread(url: str, images: dict[str, bytes], replies: list) -> threading.Thread:
    def send() -> None:
        replies.append(httpx.post(url + "predict", files=files_of(images), timeout=120))

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_past_the_bound_it_answers_503_at_once_and_then_answers_again(sample_model, digits):
    heavy = {f"page-{i}.png": slow_png() for i in range(48)}
    with ServeProcess(sample_model.model, "--max-in-flight", "1", "--threads", "1") as server:
        replies: list[httpx.Response] = []
        busy = post_in_thread(server.url, heavy, replies)
        server.wait_in_flight(1)
        burst: list[httpx.Response] = []
        senders = [post_in_thread(server.url, {"a.png": digits["digit-00.png"]}, burst) for _ in range(8)]
        for sender in senders:
            sender.join()
        for reply in burst:
            assert_error(reply, 503)
            assert reply.headers["retry-after"] == "1"
        busy.join()
        assert replies[0].status_code == 200 and len(replies[0].json()) == 48
        after = httpx.post(server.url + "predict", files=files_of({"a.png": digits["digit-00.png"]}))
        assert after.status_code == 200 and after.json()[0]["label"]


def test_a_request_past_the_timeout_is_504_and_frees_its_place(sample_model, digits):
    heavy = {f"page-{i}.png": slow_png() for i in range(48)}
    with ServeProcess(sample_model.model, "--timeout", "0.2", "--max-in-flight", "1", "--threads", "1") as server:
        error = assert_error(httpx.post(server.url + "predict", files=files_of(heavy), timeout=60), 504)
        assert "0.2 s" in error["message"]
        # the abandoned inference finishes in the background and gives its place back
        for _ in range(200):
            reply = httpx.post(server.url + "predict", files=files_of({"a.png": digits["digit-00.png"]}))
            if reply.status_code == 200:
                break
            assert_error(reply, 503)
        assert reply.status_code == 200


@pytest.mark.parametrize(
    ("sig", "code", "said"),
    [(signal.SIGTERM, 143, "stopped by SIGTERM"), (signal.SIGINT, 130, "interrupted")],
)
def test_a_signal_lets_the_requests_in_flight_finish_then_exits_as_cnn_train_does(sample_model, sig, code, said):
    heavy = {f"page-{i}.png": slow_png() for i in range(24)}
    with ServeProcess(sample_model.model, "--threads", "1") as server:
        replies: list[httpx.Response] = []
        senders = [post_in_thread(server.url, heavy, replies) for _ in range(3)]
        server.wait_in_flight(3)
        assert server.stop(sig) == code
        for sender in senders:
            sender.join()
    assert [reply.status_code for reply in replies] == [200, 200, 200]
    assert all(len(reply.json()) == 24 for reply in replies)
    assert f"error: {said}; the requests in flight were answered" in server.stderr
    assert "Traceback" not in server.stderr


def test_a_missing_model_or_a_taken_port_fails_before_serving(sample_model, cnn, tmp_path):
    missing = cnn("serve", str(tmp_path / "nothing.safetensors"), "--port", "0")
    assert missing.exit_code == ExitCode.NOT_FOUND and "error:" in missing.stderr
    with ServeProcess(sample_model.model) as server:
        port = server.url.rsplit(":", 1)[1].strip("/")
        taken = cnn("serve", str(sample_model.model), "--port", port)
    assert taken.exit_code == ExitCode.USAGE and f"cannot listen on 127.0.0.1:{port}" in taken.stderr


def test_it_binds_loopback_and_says_where(sample_model):
    with ServeProcess(sample_model.model) as server:
        assert server.url.startswith("http://127.0.0.1:")
        said = f"serving {sample_model.model} at {server.url}"
        assert server.wait_for_line(lambda line: said in line) is not None, server.stderr


def test_the_default_model_is_the_latest_run(sample_model):
    runs_parent = Path(sample_model.run).parent.parent  # cnn serve looks in ./runs by default
    with ServeProcess(None, cwd=runs_parent) as server:
        assert httpx.get(server.url + "health").json()["model"].endswith(".safetensors")


def test_with_no_run_it_serves_the_bundled_model_on_onnx_runtime_without_torch(tmp_path, cnn):
    """An empty folder: the bundled MNIST model, run on its shipped export (as `cnn predict` runs it), and
    the same answer as `cnn predict --json` for an example digit."""
    from cnncli.core.modelfile.pretrained import BUNDLED, DEFAULT
    from tests.conftest import REPO

    digit = REPO / "examples" / "digit-7.png"
    blocked = tmp_path / "blocked"  # `import torch` fails in the server: the ONNX path must not need it
    (blocked / "torch").mkdir(parents=True)
    (blocked / "torch" / "__init__.py").write_text("raise ImportError('torch is blocked in this test')\n")
    with ServeProcess(None, cwd=tmp_path, env={"PYTHONPATH": f"{blocked}:{REPO}"}) as server:
        assert httpx.get(server.url + "health").json()["model"] == str(BUNDLED[DEFAULT].path)
        reply = httpx.post(server.url + "predict", files=[("image", (digit.name, digit.read_bytes(), "image/png"))])
    assert reply.status_code == 200, reply.text
    expected = cnn("predict", str(digit), "--json", cwd=tmp_path)
    answer = reply.json()[0]
    assert answer["label"] == "7" and answer["confidence"] == expected.json()[0]["confidence"]
