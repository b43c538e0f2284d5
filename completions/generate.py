"""Regenerate the shell completion scripts in this folder from the app itself.

    python completions/generate.py          # writes cnn.bash, _cnn (zsh) and cnn.fish
    python completions/generate.py --check  # exits 1 when a committed script is stale

The scripts are what Typer prints for `_CNN_COMPLETE=source_<shell> cnn`; at every TAB they run
`cnn` again with `_CNN_COMPLETE=complete_<shell>`, which answers without importing torch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = {"bash": "cnn.bash", "zsh": "_cnn", "fish": "cnn.fish"}


def script(shell: str) -> str:
    env = {**os.environ, "_CNN_COMPLETE": f"source_{shell}"}
    done = subprocess.run([sys.executable, "-m", "cnncli"], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip() + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for shell, name in FILES.items():
        path = HERE / name
        text = script(shell)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale completion scripts: {', '.join(stale)}; run: python completions/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
