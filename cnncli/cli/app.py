"""The `cnn` app: one Typer app, one module per command.

Start-up must stay fast (`cnn --help` and tab completion run this on every keypress), so nothing here,
nor in the command modules, imports torch, torchvision, PIL or numpy at module level.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cnncli import __version__
from cnncli.cli import lean_params
from cnncli.cli.lazy import LazyCommand, lazy_group
from cnncli.core.errors import ExitCode

lean_params.install()

# The commands, in the order `cnn --help` lists them: name -> the function and its app.command options.
# Each module is imported only when its command runs (or is completed), never for the others.
COMMANDS = {
    "download": LazyCommand("cnncli.cli.download", "download", {"no_args_is_help": True}),
    "train": LazyCommand("cnncli.cli.train", "train"),
    "eval": LazyCommand("cnncli.cli.evaluate", "evaluate"),
    "predict": LazyCommand("cnncli.cli.predict", "predict", {"no_args_is_help": True}),
    "export": LazyCommand("cnncli.cli.export", "export"),
    "explain": LazyCommand("cnncli.cli.explain", "explain", {"no_args_is_help": True}),
    "summary": LazyCommand("cnncli.cli.summary", "summary", {"no_args_is_help": True}),
    "shapes": LazyCommand("cnncli.cli.shapes", "shapes", {"no_args_is_help": True}),
    "serve": LazyCommand("cnncli.cli.serve", "serve"),
}

app = typer.Typer(
    name="cnn",
    help="Train, evaluate, inspect and run convolutional neural networks for image classification.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.info.cls = lazy_group(COMMANDS, app)  # the root group: builds only the command a run asks for


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"cnn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Train, evaluate, inspect and run convolutional neural networks for image classification.

    Every command takes --json (the result on stdout), -q/--quiet, -v/--verbose and --no-color.
    """


def main(argv: list[str] | None = None, prog_name: str = "cnn") -> None:
    """Entry point of the console script: Click's usage errors in our one-line form, exit code 2."""
    # Typer vendors Click since 0.29; its exception classes are not re-exported at the top level.
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
    from typer.main import get_command

    command = get_command(app)
    try:
        code = command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except NoArgsIsHelpError as error:  # `cnn` or `cnn shapes` alone: the help, on stderr
        sys.stderr.write(error.format_message() + "\n")
        sys.exit(int(ExitCode.USAGE))
    except UsageError as error:
        context = error.ctx.command_path if error.ctx else prog_name
        sys.stderr.write(f"error: {error.format_message()}\nhint: see '{context} --help'\n")
        sys.exit(int(ExitCode.USAGE))
    except typer.Abort:
        sys.stderr.write("error: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))
    except ClickException as error:
        sys.stderr.write(f"error: {error.format_message()}\n")
        sys.exit(error.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
