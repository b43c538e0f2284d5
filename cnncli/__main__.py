"""`python -m cnncli` runs the same app as the `cnn` console script (torchrun uses this form)."""

from cnncli.cli.app import main

if __name__ == "__main__":
    main(prog_name="cnn")
