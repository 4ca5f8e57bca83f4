"""Errors a user can hit: what happened plus the one-line fix.

Every failure that reaches a person is an ``SvdAppError``. The CLI prints it without a
traceback (exit code 2), the UI shows it as a message, the API returns it as text.
"""

from __future__ import annotations


class SvdAppError(Exception):
    """A failure with a message (what happened) and a hint (how to fix it)."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  Fix: {self.hint}" if self.hint else self.message


class InputError(SvdAppError):
    """The photo or a setting cannot be used."""


class HubError(SvdAppError):
    """The model could not be reached, authorised or downloaded."""


class GatedRepoAccessError(HubError):
    """401/403 on the gated model repository."""


class OutOfMemory(SvdAppError):
    """The OOM ladder ran out of steps."""


class OutputError(SvdAppError):
    """The result could not be written (disk full, folder not writable)."""


class Cancelled(SvdAppError):
    """The user cancelled the run; nothing was written."""

    def __init__(self) -> None:
        super().__init__("Generation cancelled.", "")
