"""Errors of the Flux engine. All are the contract's 400 ``invalid`` unless noted."""

from __future__ import annotations

from app.emulator.errors import InvalidError


class FluxError(InvalidError):
    """Raised when a script cannot be parsed or evaluated (syntax, types, wrong arguments)."""


class UnsupportedError(FluxError):
    """Raised when a script uses a construct or function outside the emulator's Flux subset; the
    message names it."""


class MissingParamsError(FluxError):
    """Raised when the script uses ``params.X`` that the invoke request did not give."""

    def __init__(self, names: list[str]) -> None:
        super().__init__("invalid parameters provided")
        self.names = names
