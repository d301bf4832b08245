"""Exit codes of the ``solvency`` command, one per class of :mod:`circuits.errors`.

=====  ====================================================================
code   meaning
=====  ====================================================================
0      success: everything the verdict states was checked in this run and holds
1      :class:`~circuits.errors.VerificationError`: the proof or statement is false
2      usage error (Click's own code for bad options and arguments)
3      :class:`~circuits.errors.FormatError`: input bytes do not parse
4      :class:`~circuits.errors.ParameterError`, :class:`~circuits.errors.WitnessError`,
       :class:`~circuits.errors.InputError`: unsupported parameters or invalid input
5      any other :class:`~circuits.errors.ProofError` (a library error with no class of its own)
6      partial: every check that ran passed, but the run did not check everything
       (``check`` without ``--bundle``, or ``check --own-chunk-only``)
=====  ====================================================================

Only :class:`~circuits.errors.ProofError` is caught. Anything else is a bug and keeps
its traceback; :class:`typer.Exit` and Click's usage errors pass through untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar

import typer

from circuits.errors import (
    FormatError,
    InputError,
    ParameterError,
    ProofError,
    VerificationError,
    WitnessError,
)
from cli.output import err, shown

__all__ = [
    "EXIT_FORMAT",
    "EXIT_INPUT",
    "EXIT_OK",
    "EXIT_OTHER",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "EXIT_VERIFICATION",
    "exit_code_for",
    "reports_errors",
]

EXIT_OK: Final[int] = 0
EXIT_VERIFICATION: Final[int] = 1
EXIT_USAGE: Final[int] = 2
EXIT_FORMAT: Final[int] = 3
EXIT_INPUT: Final[int] = 4
EXIT_OTHER: Final[int] = 5
EXIT_PARTIAL: Final[int] = 6

_EXIT_CODES: Final[dict[type[ProofError], int]] = {
    VerificationError: EXIT_VERIFICATION,
    FormatError: EXIT_FORMAT,
    ParameterError: EXIT_INPUT,
    WitnessError: EXIT_INPUT,
    InputError: EXIT_INPUT,
}

_P = ParamSpec("_P")
_R = TypeVar("_R")


def exit_code_for(error: ProofError) -> int:
    """Return the exit code of ``error``: that of its nearest mapped class (subclasses inherit)."""
    for cls in type(error).__mro__:
        if cls in _EXIT_CODES:
            return _EXIT_CODES[cls]
    return EXIT_OTHER


def _error_line(error: ProofError) -> str:
    """Return ``error: <message>`` for ``error``, escaped by :func:`cli.output.shown` (one line, no markup)."""
    return f"error: {shown(str(error) or type(error).__name__)}"


def reports_errors(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorate a command: a :class:`ProofError` becomes ``error: <message>`` on stderr and its exit code.

    Apply it below ``@app.command()``; ``functools.wraps`` keeps the signature typer reads.
    """

    @functools.wraps(command)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return command(*args, **kwargs)
        except ProofError as exc:
            err.print(_error_line(exc))
            raise typer.Exit(exit_code_for(exc)) from None

    return wrapper
