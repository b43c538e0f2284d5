"""Names made from what users type: the slugs in run folder names and in `cnn eval --errors` file names."""

from __future__ import annotations

import re


def slug(text: str, fallback: str, keep: str = "._-", trim: str = "-.", limit: int | None = None) -> str:
    """Runs of anything but letters, digits and `keep` become one "-"; `trim` is cut off the ends (a run
    folder never starts hidden or ends in a dot); `fallback` when nothing is left."""
    made = re.sub(rf"[^A-Za-z0-9{re.escape(keep)}]+", "-", text).strip(trim)[:limit]
    return made or fallback
