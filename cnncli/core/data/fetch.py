"""Fetching one file over HTTP(S) from mirrors in turn: timeouts, retries, Range resume, verification.

The bytes go to `NAME.part` (with `NAME.part.json` recording the URL they came from, so only the same
URL resumes them) and become `NAME` only once they verify: an interrupted or damaged download never
leaves a file that looks complete. A mirror is left for the next one on any failure (an HTTP error, a
truncated body, a checksum mismatch, a refused redirect); transient failures (timeouts, lost
connections, 5xx) are first retried on the same mirror, resuming where the bytes stopped.

A failure to reach the host at all is never retried on that mirror: a host name that does not resolve, a
port that refuses, a network that is unreachable. A retry seconds later meets the same answer (offline, a
retry-per-mirror loop printed 58 lines and waited minutes for nothing), so each such attempt records its
`cause`, and acquire.py says "no network" once when every attempt failed the same way.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import re
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cnncli import __version__
from cnncli.core.atomic import atomic_write_text, publish, write_error
from cnncli.core.data.catalog import DataFile
from cnncli.core.data.content import verify
from cnncli.core.errors import IntegrityError
from cnncli.core.reporting import NULL_REPORTER, Reporter
from cnncli.core.safe_parse import loads_json

PART_SUFFIX = ".part"


@dataclass(frozen=True)
class FetchPolicy:
    timeout: float = 30.0  # seconds without a byte before an attempt is given up
    retries: int = 2  # further attempts on the same mirror after a transient failure
    backoff: float = 1.0  # seconds before the first retry, doubling after each
    max_backoff: float = 60.0  # and never longer than this
    chunk: int = 1 << 16


# Why a host could not be reached at all; the words acquire.py uses to say it once.
UNREACHABLE_CAUSES = {
    "name": "host names do not resolve",
    "refused": "connections are refused",
    "offline": "the network is unreachable",
}
_OFFLINE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN}


@dataclass(frozen=True)
class Attempt:
    url: str
    error: str | None  # None: this attempt brought the file
    cause: str | None = None  # a key of UNREACHABLE_CAUSES when the host could not be reached at all


@dataclass(frozen=True)
class Fetched:
    """The outcome of fetching one file: where it now is (None when every mirror failed) and each attempt."""

    path: Path | None
    url: str | None
    digest: str | None
    attempts: tuple[Attempt, ...]

    @property
    def error(self) -> str | None:
        if self.path is not None:
            return None
        return self.attempts[-1].error if self.attempts else "no mirror to try"


class _MirrorFailed(Exception):
    def __init__(self, reason: str, permanent: bool, cause: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent  # no point retrying this mirror
        self.cause = cause


def unreachable_cause(reason: object) -> str | None:
    """Which of UNREACHABLE_CAUSES a connection error is, or None (a timeout, a reset: worth a retry)."""
    if isinstance(reason, socket.gaierror):
        return "name"
    if isinstance(reason, ConnectionRefusedError):
        return "refused"
    if isinstance(reason, OSError) and reason.errno in _OFFLINE_ERRNOS:
        return "offline"
    return None


def redirect_allowed(old_url: str, new_url: str) -> bool:
    """Follow redirects within http(s), but never from https down to http (nor to any other scheme)."""
    old, new = urllib.parse.urlsplit(old_url).scheme.lower(), urllib.parse.urlsplit(new_url).scheme.lower()
    return new == "https" or (new == "http" and old == "http")


class _RedirectRefused(urllib.error.URLError):
    pass


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        newurl = urllib.parse.urljoin(req.full_url, newurl)
        if not redirect_allowed(req.full_url, newurl):
            raise _RedirectRefused(f"refused a redirect from {req.full_url} to {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # A fresh default context per fetch: it honours SSL_CERT_FILE/SSL_CERT_DIR like the rest of the system.
    https = urllib.request.HTTPSHandler(context=ssl.create_default_context())
    return urllib.request.build_opener(https, _SafeRedirects())


def _part_paths(folder: Path, pin: DataFile) -> tuple[Path, Path]:
    part = folder / (pin.name + PART_SUFFIX)
    return part, part.with_name(part.name + ".json")


def _resumable_offset(part: Path, note: Path, url: str) -> tuple[int, str | None]:
    """How many bytes of `part` came from this very URL (0 otherwise), and its validator for If-Range."""
    try:
        recorded = loads_json(note.read_text())
        size = part.stat().st_size
    except (OSError, ValueError):
        return 0, None
    if not isinstance(recorded, dict) or recorded.get("url") != url:
        return 0, None  # another mirror's bytes: its gzip framing may differ, so never mix them
    validator = recorded.get("validator")
    return size, validator if isinstance(validator, str) else None


def _content_range_start(header: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/(?:\d+|\*)", header or "")
    return int(match.group(1)) if match else None


class _Transfer:
    """One attempt at one URL, appending to the part file; progress through `on_bytes(completed, total)`."""

    def __init__(self, url: str, part: Path, note: Path, policy: FetchPolicy, limit: int) -> None:
        self.url, self.part, self.note, self.policy, self.limit = url, part, note, policy, limit

    def run(self, on_bytes: Callable[[int, int | None], None], say: Callable[[str], None]) -> None:
        offset, validator = _resumable_offset(self.part, self.note, self.url)
        request = urllib.request.Request(self.url, headers={"User-Agent": f"cnn/{__version__}"})
        request.add_header("Accept-Encoding", "identity")  # the bytes as stored: a gzip file stays one
        if offset:
            request.add_header("Range", f"bytes={offset}-")
            if validator:
                request.add_header("If-Range", validator)
        with self._open(request, offset) as response:
            offset = self._check_resume(response, offset, say)
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length and length.isdigit() else None
            if total is not None and total > self.limit:
                raise _MirrorFailed(f"the server offers {total:,} bytes, more than the file can be", True)
            validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
            atomic_write_text(self.note, json.dumps({"url": self.url, "validator": validator}))
            received = self._copy(response, offset, total, on_bytes)
        if total is not None and received < total:
            raise _MirrorFailed(f"the body stopped at {received:,} of {total:,} bytes", False)

    def _open(self, request: urllib.request.Request, offset: int):
        try:
            return _opener().open(request, timeout=self.policy.timeout)
        except urllib.error.HTTPError as exc:
            if "infinite loop" in str(exc.reason):  # urllib's words after 10 redirects, or 4 to one URL
                raise _MirrorFailed(
                    f"redirects in a loop (HTTP {exc.code} again and again from {exc.url})", True
                ) from exc
            if exc.code == 416 and offset:  # our partial bytes do not fit the file: start over
                self.part.unlink(missing_ok=True)
                raise _MirrorFailed("the server refused to resume (HTTP 416); starting over", False) from exc
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise _MirrorFailed(f"HTTP {exc.code} {exc.reason}", permanent) from exc
        except _RedirectRefused as exc:
            raise _MirrorFailed(str(exc.reason), True) from exc
        except ValueError as exc:  # a malformed URL, ours or a redirect's (http://[::1, a port past 65535)
            raise _MirrorFailed(f"a malformed URL: {exc}", True) from exc
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            cause = unreachable_cause(reason)
            # a certificate that does not verify will not verify on a retry either, nor a host that is not there
            permanent = cause is not None or isinstance(reason, ssl.SSLError)
            raise _MirrorFailed(f"cannot connect: {reason}", permanent, cause) from exc

    def _check_resume(self, response, offset: int, say: Callable[[str], None]) -> int:
        """The offset the body starts at: ours when the server honoured Range, else 0 (start over)."""
        if not offset:
            return 0
        if response.status == 206 and _content_range_start(response.headers.get("Content-Range")) == offset:
            say(f"{self.url}: resuming at {offset:,} bytes")
            return offset
        say(f"{self.url}: the server sent the whole file instead of the rest: starting over")
        return 0

    def _copy(self, response, offset: int, total: int | None, on_bytes: Callable[[int, int | None], None]) -> int:
        received = offset
        on_bytes(received, total)
        try:
            out = open(self.part, "ab" if offset else "wb")  # noqa: SIM115  (closed below, errors mapped)
        except OSError as exc:
            raise write_error(self.part, exc) from exc
        with out:
            while received <= self.limit and (chunk := self._read(response, received)):
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise write_error(self.part, exc) from exc
                received += len(chunk)
                on_bytes(received, total)
        if received > self.limit:
            self.part.unlink(missing_ok=True)
            raise _MirrorFailed(f"the body runs past {self.limit:,} bytes", True)
        return received

    def _read(self, response, received: int) -> bytes:
        try:
            return response.read(self.policy.chunk)
        except (OSError, http.client.HTTPException) as exc:  # a timeout, a reset, a chunked body cut short
            reason = str(exc) or type(exc).__name__
            raise _MirrorFailed(f"the connection failed after {received:,} bytes: {reason}", False) from exc


def _limit(pin: DataFile) -> int:
    """The most bytes a mirror may send for this file: a runaway body is cut off, not written to disk.

    A gzip stream is at most a little larger than its content (stored blocks cost 5 bytes per 64 KiB).
    """
    if pin.size is None:
        return 1 << 32
    return pin.size if pin.pin_of == "file" else pin.size + pin.size // 64 + 4096


def fetch(
    pin: DataFile,
    urls: Sequence[str],
    folder: Path,
    policy: FetchPolicy = FetchPolicy(),
    progress: Reporter = NULL_REPORTER,
    task: int = 0,
) -> Fetched:
    """Fetch `pin` from the first of `urls` that delivers verified bytes, else report every attempt."""
    part, note = _part_paths(folder, pin)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(folder, exc) from exc
    attempts: list[Attempt] = []

    def on_bytes(completed: int, total: int | None) -> None:
        progress.update(task, completed=completed, total=total)

    for url in urls:
        for attempt in range(policy.retries + 1):
            try:
                _Transfer(url, part, note, policy, _limit(pin)).run(on_bytes, lambda text: progress.message(text))
                digest = verify(part, pin)
            except _MirrorFailed as failure:
                attempts.append(Attempt(url, failure.reason, failure.cause))
                # a host not reached is said once, for all files, by the caller; the attempt only with -v
                progress.message(f"{url}: {failure.reason}", "detail" if failure.cause else "warning")
                if failure.permanent or attempt == policy.retries:
                    break
                time.sleep(min(policy.backoff * 2.0 ** min(attempt, 30), policy.max_backoff))
                continue
            except IntegrityError as exc:
                attempts.append(Attempt(url, exc.message))
                progress.message(f"{url}: {exc.message}", "warning")
                part.unlink(missing_ok=True)  # wrong bytes are never resumed
                break
            target = folder / pin.name
            publish(part, target)
            with contextlib.suppress(OSError):
                note.unlink()
            attempts.append(Attempt(url, None))
            return Fetched(target, url, digest, tuple(attempts))
    return Fetched(None, None, None, tuple(attempts))
