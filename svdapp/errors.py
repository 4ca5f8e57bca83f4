"""Errors a user can hit: what happened plus the one-line fix.

Every failure that reaches a person is an ``SvdAppError``. The CLI prints it without a
traceback (exit code 2), the UI shows it as a message, the API returns it as text.

A fix that is "change this setting" is a ``Suggestion`` (setting + value), not words: each
shell names it its own way, the CLI as a flag (``--memory cpu``), the page as a control
(``Advanced → Memory plan = cpu``), the API as a parameter (``memory="cpu"``). The hint
says where the suggestions go with ``{fix}``; ``hint`` renders them as command-line flags,
the words of the CLI, batch manifests and logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

FIX = "{fix}"


@dataclass(frozen=True)
class Suggestion:
    """A setting and the value that fixes an error."""

    setting: str  # a GenerationRequest or GenerationParams field: memory, engine, frames, ...
    value: object = None  # None: the setting itself is the advice ("a smaller --width")


Words = Callable[[Sequence[Suggestion]], str]


def as_flags(suggestions: Sequence[Suggestion]) -> str:
    """``--memory cpu --engine svd``: the command line's words for suggestions."""
    return " ".join(f"--{s.setting.replace('_', '-')}" + ("" if s.value is None else f" {s.value}")
                    for s in suggestions)


class SvdAppError(Exception):
    """A failure with a message (what happened) and a hint (how to fix it)."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "", *suggestions: Suggestion) -> None:
        super().__init__(message)
        self.message = message
        self.template = hint
        self.suggestions = suggestions

    def fix(self, words: Words = as_flags) -> str:
        """The hint with its suggestions in a shell's ``words``."""
        return self.template.replace(FIX, words(self.suggestions)) if self.suggestions else self.template

    @property
    def hint(self) -> str:
        return self.fix()

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


def describe_error(exc: BaseException) -> SvdAppError:
    """Any exception → the SvdAppError a user sees (unknown ones keep their first line)."""
    if isinstance(exc, SvdAppError):
        return exc
    return SvdAppError(f"Unexpected error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                       "Run `svdapp check`; if it passes, report this message with the command you ran.")
