"""Real HTTP(S) servers on 127.0.0.1 for the download tests: well-behaved and misbehaving.

The first path segment picks the behaviour, the rest is a file under the served folder:
`/ok/mnist/train-images-idx3-ubyte.gz`. Every request is logged with its Range header.

    ok        the file; honours Range (206 + Content-Range) and sends an ETag
    missing   404
    short     announces the whole length, sends half, closes
    flaky     like short on the first request for a path, like ok afterwards (resume)
    wrong     the right length, some bytes changed
    stall     half the file, then silence (longer than any client timeout in the tests)
    norange   ignores Range: always 200 and the whole file
    slowfirst the first request for a path trickles (for interrupting); later ones are ok
    redirect  302 to /ok/<same path> on this server
    tohttp    302 to http://127.0.0.1:<plain port>/ok/<same path> (for the TLS server)
    loop      302 to itself, for ever
    badurl    302 to a URL that cannot be parsed (http://[::1)
    huge      announces a Content-Length of 10^15 bytes, sends 1 KiB of them, closes
    endless   no Content-Length: zeros until the client hangs up
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import shutil
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Logged:
    path: str
    range: str | None


@dataclass
class ServerState:
    root: Path
    plain_port: int = 0  # where `tohttp` redirects to
    log: list[Logged] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_time(self, path: str) -> bool:
        with self.lock:
            first = path not in self.seen
            self.seen.add(path)
            return first


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "cnn-test"
    state: ServerState  # set on the subclass each server makes

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.state.log.append(Logged(self.path, self.headers.get("Range")))
        behaviour, _, rest = self.path.lstrip("/").partition("/")
        target = (self.state.root / rest).resolve()
        if behaviour == "redirect":
            return self._redirect(f"/ok/{rest}")
        if behaviour == "tohttp":
            return self._redirect(f"http://127.0.0.1:{self.state.plain_port}/ok/{rest}")
        if behaviour == "loop":
            return self._redirect(self.path)
        if behaviour == "badurl":
            return self._redirect("http://[::1/x")
        if behaviour in ("huge", "endless"):
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._flood(behaviour == "huge")
            return None
        if behaviour == "missing" or not target.is_file() or self.state.root.resolve() not in target.parents:
            return self._status(404)
        data = target.read_bytes()
        if behaviour in ("flaky", "slowfirst") and not self.state.first_time(self.path):
            behaviour = "ok"
        # the client may give up (a timeout, an interrupted download): what some tests want
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._serve(behaviour, data)

    def _serve(self, behaviour: str, data: bytes) -> None:
        start = self._range_start(len(data)) if behaviour in ("ok", "slowfirst") else None
        body = data[start:] if start is not None else data
        self.send_response(206 if start is not None else 200)
        if start is not None:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"' + hashlib.md5(data).hexdigest() + '"')
        self.end_headers()
        if behaviour in ("short", "flaky"):
            self.wfile.write(body[: len(body) // 2])
        elif behaviour == "wrong":
            middle = len(body) // 2
            self.wfile.write(body[:middle] + bytes(b ^ 0xFF for b in body[middle : middle + 16]) + body[middle + 16 :])
        elif behaviour == "stall":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.state.stop.wait(30)
        elif behaviour == "slowfirst":
            # 640 KB/s: MNIST's 9.9 MB train images take 15 s, time enough to interrupt even on a loaded machine
            for offset in range(0, len(body), 1 << 16):
                self.wfile.write(body[offset : offset + (1 << 16)])
                self.wfile.flush()
                if self.state.stop.wait(0.1):
                    return
        else:
            self.wfile.write(body)

    def _flood(self, announce: bool) -> None:
        self.send_response(200)
        if announce:
            self.send_header("Content-Length", str(10**15))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if announce:
            self.wfile.write(bytes(1024))
            return
        while not self.state.stop.is_set():
            self.wfile.write(bytes(1 << 16))

    def _range_start(self, size: int) -> int | None:
        header = self.headers.get("Range", "")
        if not header.startswith("bytes=") or not header.endswith("-"):
            return None
        start = int(header[len("bytes=") : -1])
        return start if 0 < start < size else None

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _status(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()


class DataServer:
    """A threaded server in this process; `url(behaviour, path)` gives a mirror base or file URL."""

    def __init__(self, root: Path, tls: tuple[Path, Path] | None = None, plain_port: int = 0) -> None:
        self.state = ServerState(Path(root), plain_port)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def log(self) -> list[Logged]:
        return self.state.log

    def url(self, behaviour: str, path: str = "") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{behaviour}/{path}"

    def close(self) -> None:
        self.state.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def self_signed_certificate(folder: Path) -> tuple[Path, Path] | None:
    """A certificate for 127.0.0.1 made with the openssl tool, or None where there is none."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    command += ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1"]
    done = subprocess.run(command, capture_output=True, timeout=60)
    return (cert, key) if done.returncode == 0 else None
