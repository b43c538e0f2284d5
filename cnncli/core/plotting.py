"""matplotlib, the optional plot extra, set up once for every figure cnn draws (curves.png, --plot files).

Imported on first use only: it costs about a second, and no command needs it to start.
"""

from __future__ import annotations

from typing import Any

from cnncli.core.errors import UsageError

INSTALL_HINT = "install the plot extra: pip install 'cnncli[plot]' (or pip install matplotlib)"


def pyplot() -> Any | None:
    """matplotlib.pyplot on the file-only Agg backend (no display needed), or None when not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def require_pyplot(option: str) -> Any:
    """pyplot for a figure the user asked for with `option`; a clear error when matplotlib is missing."""
    plt = pyplot()
    if plt is None:
        raise UsageError(f"{option} needs matplotlib, which is not installed", INSTALL_HINT)
    return plt
