"""Getting a dataset's files into the data directory: already there, imported (--from) or downloaded.

Every file ends with a verdict (FileOutcome): present, imported, downloaded, or failed with the reason
and every URL tried. A file that is there but does not verify is removed and fetched again: nothing
unverified is ever used.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cnncli.core.atomic import atomic_write_with
from cnncli.core.data.catalog import DataFile, DatasetSpec, dataset_spec, resolve_mirrors
from cnncli.core.data.content import digest_of, mismatch_detail
from cnncli.core.data.fetch import UNREACHABLE_CAUSES, Attempt, FetchPolicy, fetch
from cnncli.core.data.store import FileStatus, dataset_folder, file_state, locate, record_verified
from cnncli.core.errors import CnnError, DownloadError, IntegrityError, NotFound
from cnncli.core.reporting import NULL_REPORTER, Reporter


@dataclass(frozen=True)
class AcquireRequest:
    data_dir: Path
    mirrors: tuple[str, ...] | None = None  # base URLs that replace the datasets' own (--mirror)
    source: Path | None = None  # a folder of files the user already has (--from): import, never download
    policy: FetchPolicy = field(default_factory=FetchPolicy)


@dataclass(frozen=True)
class FileOutcome:
    name: str
    action: str  # "present", "imported", "downloaded" or "failed"
    path: Path | None = None
    digest: str | None = None
    origin: str | None = None  # the URL or the file it came from
    attempts: tuple[Attempt, ...] = ()
    error: str | None = None
    integrity: bool = False  # failed because bytes did not match the pin (not for want of bytes)

    @property
    def ok(self) -> bool:
        return self.action != "failed"


@dataclass(frozen=True)
class DatasetOutcome:
    name: str
    folder: Path
    files: tuple[FileOutcome, ...]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)


def _find_in(source: Path, spec: DatasetSpec, pin: DataFile) -> Path | None:
    """The user's copy of a file: in the folder itself or in a sub-folder named after the dataset."""
    for folder in (source, source / spec.name):
        found = locate(folder, pin)
        if found is not None:
            return found
    return None


def _import(spec: DatasetSpec, pin: DataFile, source: Path, folder: Path) -> FileOutcome:
    found = _find_in(source, spec, pin)
    if found is None:
        names = f"{pin.name} or {pin.raw_name}" if pin.pin_of == "content" else pin.name
        return FileOutcome(pin.name, "failed", error=f"not in {source} (as {names})")
    try:
        digest, size = digest_of(found, pin)
    except IntegrityError as exc:  # not even a valid gzip stream
        return FileOutcome(pin.name, "failed", origin=str(found), error=exc.message, integrity=True)
    if not pin.matches(digest, size):
        error = f"{found} does not verify: {mismatch_detail(pin, digest, size)}"
        return FileOutcome(pin.name, "failed", origin=str(found), error=error, integrity=True)
    target = folder / found.name
    atomic_write_with(target, lambda temp: shutil.copyfile(found, temp))
    for twin in {pin.name, pin.raw_name} - {found.name}:  # the other form of the same data, now stale
        (folder / twin).unlink(missing_ok=True)
    record_verified(folder, target, digest)
    return FileOutcome(pin.name, "imported", target, digest, str(found))


def _download(pin: DataFile, urls: Sequence[str], folder: Path, request: AcquireRequest, progress, task) -> FileOutcome:
    fetched = fetch(pin, urls, folder, request.policy, progress, task)
    if fetched.path is None:
        causes = unreached(fetched.attempts)
        if causes:
            error = f"no mirror reached: {_words(causes)}"
        else:
            error = f"every mirror failed (the last: {fetched.error})" if urls else "no mirror to try"
        return FileOutcome(pin.name, "failed", attempts=fetched.attempts, error=error)
    for twin in {pin.raw_name} - {pin.name}:
        (folder / twin).unlink(missing_ok=True)
    record_verified(folder, fetched.path, fetched.digest)
    return FileOutcome(pin.name, "downloaded", fetched.path, fetched.digest, fetched.url, fetched.attempts)


def unreached(attempts: Sequence[Attempt]) -> tuple[str, ...]:
    """Why the hosts could not be reached (keys of UNREACHABLE_CAUSES) when no attempt reached one, else ()."""
    causes = [attempt.cause for attempt in attempts]
    if not causes or None in causes:
        return ()
    return tuple(key for key in UNREACHABLE_CAUSES if key in causes)


def _words(causes: Sequence[str]) -> str:
    return ", ".join(UNREACHABLE_CAUSES[cause] for cause in causes)


def _hosts(attempts: Sequence[Attempt]) -> list[str]:
    import urllib.parse

    return list(dict.fromkeys(urllib.parse.urlsplit(a.url).netloc or a.url for a in attempts))


def _verdict(outcome: FileOutcome) -> str:
    if outcome.action == "present":
        return "already here, verified"
    if outcome.action == "failed":
        return f"failed: {outcome.error}"
    return f"{outcome.action} from {outcome.origin}, verified ({outcome.digest[:23]}…)"


def acquire_dataset(spec: DatasetSpec, request: AcquireRequest, progress: Reporter = NULL_REPORTER) -> DatasetOutcome:
    """Make every file of `spec` present and verified in the data directory, as far as can be done."""
    folder = dataset_folder(spec, request.data_dir)
    urls_for = None if request.source or spec.packaged else resolve_mirrors(spec, request.mirrors)
    outcomes = []
    for pin in spec.files:
        task = progress.start(f"{spec.name}/{pin.name}", total=None, unit="B")
        state = file_state(folder, pin, remember=not spec.packaged)
        if state.state == FileStatus.VERIFIED:
            outcome = FileOutcome(pin.name, "present", state.path, state.found)
        elif spec.packaged:  # a damaged installation: nothing to fetch it from
            outcome = FileOutcome(pin.name, "failed", state.path, error="the copy inside cnn does not verify")
        else:
            if state.state == FileStatus.CORRUPT and state.path is not None:
                progress.message(f"{state.path} does not verify (found {state.found}): replacing it", "warning")
                state.path.unlink()
            if request.source is not None:
                outcome = _import(spec, pin, request.source, folder)
            else:
                outcome = _download(pin, [base + pin.name for base in urls_for or ()], folder, request, progress, task)
        progress.finish(task, _verdict(outcome), outcome.ok)
        outcomes.append(outcome)
    return DatasetOutcome(spec.name, folder, tuple(outcomes))


def acquire_all(names: Sequence[str], request: AcquireRequest, progress: Reporter = NULL_REPORTER):
    """`cnn download NAME...`: every named dataset, each file with its verdict."""
    specs = [dataset_spec(name) for name in names]  # every name and mirror checked before any byte moves
    if request.source is None:
        for spec in specs:
            resolve_mirrors(spec, request.mirrors)
    return tuple(acquire_dataset(spec, request, progress) for spec in specs)


def failure(outcomes: Sequence[DatasetOutcome], request: AcquireRequest, where: str) -> CnnError | None:
    """The error that sums up the failed files (None when all is well): each file, each URL tried."""
    failed = [(d.name, f) for d in outcomes for f in d.files if not f.ok]
    if not failed:
        return None
    name, first = failed[0]
    attempts = [a for _, f in failed for a in f.attempts]
    causes = unreached(attempts) if all(f.attempts for _, f in failed) else ()
    if request.source is None and causes:
        return _no_network(causes, attempts, failed, where)
    details = []
    for dataset, outcome in failed:
        details.append(f"{dataset}/{outcome.name}: {outcome.error}")
        details += [f"  tried {a.url}: {a.error}" for a in outcome.attempts if a.error]
    names = " ".join(sorted({dataset for dataset, _ in failed}))
    message = f"{name}/{first.name}: {first.error}" + (
        f" (and {len(failed) - 1} more files)" if len(failed) > 1 else ""
    )
    if request.source is not None:
        hint = f"{request.source} must hold the published files (gzipped or raw IDX, or the CIFAR tarball)"
        error_type = IntegrityError if all(f.integrity for _, f in failed) else NotFound
    else:
        hint = (
            f"fetch the files yourself and run 'cnn download {names} --from DIR', or point --mirror "
            f"(or CNN_MIRRORS) at a copy; nothing unverified was kept in {where}"
        )
        error_type = DownloadError
    return error_type(message, hint, tuple(details))


def _no_network(causes: Sequence[str], attempts: Sequence[Attempt], failed: list, where: str) -> DownloadError:
    """Every mirror of every file failed the same way before a byte moved: one diagnosis, not one line per try."""
    names = " ".join(sorted({dataset for dataset, _ in failed}))
    hosts = _hosts(attempts)
    shown = ", ".join(hosts[:3]) + (f" and {len(hosts) - 3} more" if len(hosts) > 3 else "")
    return DownloadError(
        f"no network: {_words(causes)} ({shown}); {len(failed)} file(s) of {names} not downloaded",
        f"copy the files here with 'cnn download {names} --from DIR', or point --mirror (or CNN_MIRRORS) at a "
        f"reachable copy; -v shows every attempt; nothing was kept in {where}",
    )
