"""Small helpers shared by the readers."""

from __future__ import annotations


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message as a single line (first non-empty line, truncated), for error messages."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "") or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
