"""The one exception type for errors a user can cause.

Anything a user can get wrong (a bad config, an unsupported op, a model too large for the board,
a serial timeout) raises :class:`EdgeDeployError` with a message that names the problem and, in
``hint``, the fix. The CLI prints both without a traceback and exits non-zero.
"""

from __future__ import annotations


class EdgeDeployError(Exception):
    """A user-facing error: ``message`` says what is wrong, ``hint`` what to do about it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\nhint: {self.hint}"
        return self.message
