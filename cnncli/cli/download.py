"""`cnn download`: fetch and verify datasets, import files you already have, or list what is there.

Light at import (completion runs it): the fetching code is imported inside the command body.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cnncli.cli.common import command
from cnncli.cli.env import Env
from cnncli.cli.render import table
from cnncli.core.data.catalog import CATALOG, DataDir, folder_path, resolve_data_dir
from cnncli.core.errors import NotFound, UsageError
from cnncli.core.units import byte_size, format_dims

if TYPE_CHECKING:
    from cnncli.core.data.acquire import DatasetOutcome, FileOutcome
    from cnncli.core.data.store import DatasetStatus, FileState


def _complete_name(incomplete: str) -> list[str]:
    return [name for name in CATALOG if name.startswith(incomplete)]


@command
def download(
    env: Env,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Datasets to fetch: mnist, fashion-mnist, kmnist, cifar10 (mnist-sample ships with cnn).",
            metavar="NAME",
            show_default=False,
            autocompletion=_complete_name,
        ),
    ] = None,
    list_datasets: Annotated[
        bool, typer.Option("--list", "-l", help="Every dataset: its size, where it lives, whether it is verified.")
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where datasets live (default: $CNN_DATA_DIR, else the user cache folder).",
            metavar="DIR",
            show_default=False,
        ),
    ] = None,
    mirrors: Annotated[
        list[str] | None,
        typer.Option(
            "--mirror",
            help="A base URL to fetch from instead of the built-in mirrors; repeat for more ($CNN_MIRRORS too). "
            "{dataset} in it stands for the dataset's name.",
            metavar="URL",
            show_default=False,
        ),
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Import files you already have from DIR (gzipped or raw IDX, or the CIFAR tarball); no download.",
            metavar="DIR",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.1, max=86400, metavar="SECONDS", help="Give up an attempt after this silence."),
    ] = 30.0,
    retries: Annotated[
        int,
        typer.Option(
            "--retries", min=0, max=100, metavar="N", help="Retries per mirror after a timeout or a lost link."
        ),
    ] = 2,
) -> None:
    """Download datasets from their mirrors and verify them; or import them (--from), or list them.

    \b
    cnn download mnist
    cnn download mnist fashion-mnist --mirror http://localhost:8000/{dataset}/
    cnn download mnist --from ~/Downloads
    cnn download --list
    """
    where = resolve_data_dir(data_dir)
    if list_datasets:
        if names:
            raise UsageError("--list shows every dataset; it takes no names", "drop the names, or --list")
        _list(env, where)
        return
    if not names:
        raise UsageError("name the datasets to download, or ask for --list", "e.g. cnn download mnist")
    for name in names:
        if folder_path(name) is not None:
            raise UsageError(f"{name} is a folder of your own images: there is nothing to download")
    if source is not None and mirrors:
        raise UsageError("--from imports the files you have; --mirror downloads them: give one of the two")
    if source is not None and not source.is_dir():
        raise NotFound(f"no folder {source}", "--from takes the folder that holds the files")
    _download(env, where, names, tuple(mirrors or ()), source, timeout, retries)


def _download(env: Env, where: DataDir, names, mirrors, source, timeout: float, retries: int) -> None:
    from cnncli.cli.progress import reporter_for
    from cnncli.core.data.acquire import AcquireRequest, acquire_all, failure
    from cnncli.core.data.fetch import FetchPolicy

    request = AcquireRequest(where.path, mirrors or None, source, FetchPolicy(timeout=timeout, retries=retries))
    with reporter_for(env) as progress:
        outcomes = acquire_all(names, request, progress)
    if env.json:
        env.emit_json(
            {
                "data_dir": str(where.path),
                "data_dir_source": where.source,
                "ok": all(o.ok for o in outcomes),
                "datasets": [_outcome_document(o) for o in outcomes],
            }
        )
    error = failure(outcomes, request, where.describe())
    if error is not None:
        raise error
    env.say(f"{', '.join(o.name for o in outcomes)}: ready in {where.describe()}")


def _list(env: Env, where: DataDir) -> None:
    from cnncli.core.data.store import FileStatus, survey

    statuses = survey(where.path)
    if env.json:
        env.emit_json(
            {
                "data_dir": str(where.path),
                "data_dir_source": where.source,
                "datasets": [_status_document(s) for s in statuses],
            }
        )
        return
    rows = [
        (
            s.spec.name,
            f"{s.spec.counts[0]:,} + {s.spec.counts[1]:,}",
            format_dims((s.spec.channels, s.spec.height, s.spec.width)),
            byte_size(s.spec.download_bytes) if s.spec.download_bytes else "-",
            s.status,
            s.folder,
        )
        for s in statuses
    ]
    env.render(table(env, ("dataset", "images", "shape", "download", "status", "location"), rows, right=(1, 3)))
    for s in statuses:
        for f in s.files:
            if f.state == FileStatus.CORRUPT:
                env.say(f"warning: {f.path} does not verify (expected {f.pin.digest}, found {f.found})")
    env.say(f"data directory: {where.describe()}")


def _status_document(status: DatasetStatus) -> dict[str, Any]:
    spec = status.spec
    return {
        "name": spec.name,
        "title": spec.title,
        "status": status.status,
        "present": all(f.path is not None for f in status.files),
        "verified": status.verified,
        "path": str(status.folder),
        "classes": list(spec.classes),
        "channels": spec.channels,
        "height": spec.height,
        "width": spec.width,
        "train": spec.counts[0],
        "test": spec.counts[1],
        "download_bytes": spec.download_bytes,
        "prepared": list(status.prepared),
        "files": [_file_state_document(f) for f in status.files],
    }


def _outcome_document(outcome: DatasetOutcome) -> dict[str, Any]:
    return {
        "name": outcome.name,
        "path": str(outcome.folder),
        "ok": outcome.ok,
        "files": [_file_outcome_document(f) for f in outcome.files],
    }


def _file_outcome_document(outcome: FileOutcome) -> dict[str, Any]:
    return {
        "name": outcome.name,
        "action": outcome.action,
        "ok": outcome.ok,
        "path": str(outcome.path) if outcome.path else None,
        "digest": outcome.digest,
        "origin": outcome.origin,
        "attempts": [{"url": a.url, "error": a.error} for a in outcome.attempts],
        "error": outcome.error,
    }


def _file_state_document(state: FileState) -> dict[str, Any]:
    return {
        "name": state.pin.name,
        "path": str(state.path) if state.path else None,
        "state": state.state,
        "expected": state.pin.digest,
        "found": state.found,
    }
