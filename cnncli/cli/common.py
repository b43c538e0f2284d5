"""What every command shares: the options it accepts after its name, and how errors become exit codes.

`@command` adds --json, -q/--quiet, -v/--verbose and --no-color to a command function, builds its Env
from them and calls the function with `env=`. A CnnError becomes `error: ...` and `hint: ...` on stderr
and its exit code; anything else is a bug: one line, and the traceback only with --verbose.
"""

from __future__ import annotations

import functools
import inspect
import sys
import traceback
from collections.abc import Callable
from typing import Annotated, Any

import typer

from cnncli.cli.env import Env
from cnncli.core.errors import CnnError, ExitCode

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout, and nothing else there.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on stderr but errors.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="More detail; tracebacks on errors.")]
NoColorOption = Annotated[bool, typer.Option("--no-color", help="No colour (also: the NO_COLOR variable).")]

# options that several commands declare alike
InputSizeOption = Annotated[
    str | None,
    typer.Option(
        "--input",
        "-i",
        help="Input size: W, HxW or CxHxW (default: the architecture's own, else 1x28x28).",
        metavar="SIZE",
        show_default=False,
    ),
]

MODEL_HELP = (
    "A model file, run folder, folder of runs, runs/latest or pretrained:NAME "
    "(default: the latest run's model, else pretrained:mnist)."
)
ModelOption = Annotated[str | None, typer.Option("--model", "-m", metavar="MODEL", show_default=False, help=MODEL_HELP)]
ModelArgument = Annotated[str | None, typer.Argument(metavar="MODEL", show_default=False, help=MODEL_HELP)]

_COMMON: dict[str, Any] = {
    "json": JsonOption,
    "quiet": QuietOption,
    "verbose": VerboseOption,
    "no_color": NoColorOption,
}


def report_error(env: Env, error: CnnError) -> None:
    """`error: message`, any detail lines, and `hint: ...`, on stderr; shown even with --quiet."""
    write = env.stderr.write
    write(f"error: {error.message}\n")
    for line in error.details:
        write(f"  {line}\n")
    if error.hint:
        write(f"hint: {error.hint}\n")
    env.stderr.flush()


def run_guarded(env: Env, body: Callable[[], Any]) -> Any:
    """Run a command body, turning every way it can fail into a message and an exit code."""
    try:
        return body()
    except CnnError as error:
        if env.verbose:
            traceback.print_exc(file=env.stderr)
        report_error(env, error)
        raise typer.Exit(int(error.exit_code)) from None
    except KeyboardInterrupt:
        report_error(env, CnnError("interrupted"))
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except BrokenPipeError:
        # the reader of stdout went away (`cnn ... --json | head`): not an error of ours
        _silence_stdout()
        raise typer.Exit(int(ExitCode.OK)) from None
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except Exception as exc:  # a bug: say so in one line, show the traceback on request
        if env.verbose:
            traceback.print_exc(file=env.stderr)
        report_error(
            env,
            CnnError(
                f"internal error: {type(exc).__name__}: {exc}",
                None if env.verbose else "run again with --verbose for the traceback, and please report it",
            ),
        )
        raise typer.Exit(int(ExitCode.INTERNAL)) from None


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command function the shared options and the error handling; it receives `env`."""
    signature = inspect.signature(func)
    annotations = {k: v for k, v in inspect.get_annotations(func, eval_str=True).items() if k != "env"}
    own = [
        p.replace(annotation=annotations.get(p.name, p.annotation))
        for p in signature.parameters.values()
        if p.name != "env"
    ]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=False, annotation=annotation)
        for name, annotation in _COMMON.items()
    ]

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        options = {name: kwargs.pop(name) for name in _COMMON}
        env = Env.from_system(**options)
        return run_guarded(env, lambda: func(env=env, **kwargs))

    wrapper.__signature__ = signature.replace(parameters=own + shared)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**annotations, **_COMMON}
    del wrapper.__wrapped__  # type: ignore[attr-defined]  # Typer must read our signature, not func's
    return wrapper
