"""Options shared by several commands, and the parsers of their values.

Importing this module loads neither :mod:`prover` nor :mod:`verifier`.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Final

import typer

from circuits.backends import BACKEND_ENV, get_backend
from circuits.errors import InputError

__all__ = [
    "BackendOpt",
    "DigestOpt",
    "JsonOpt",
    "QuietOpt",
    "backend_name",
    "parse_digest",
    "parse_ratio",
]

BackendOpt = Annotated[
    str | None, typer.Option("--backend", help=f"Curve backend fast|reference [default: ${BACKEND_ENV} or fast].")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a report.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]
DigestOpt = Annotated[
    str | None,
    typer.Option(
        "--digest",
        help="The bundle digest the exchange published (64 hex digits); fail unless the bundle has it.",
    ),
]

_DIGEST_RE: Final = re.compile(r"[0-9a-fA-F]{64}")
_RATIO_RE: Final = re.compile(r"[0-9]+(\.[0-9]+)?")


def parse_digest(text: str | None) -> bytes | None:
    """Parse ``--digest`` (64 hex digits) into 32 bytes; ``None`` stays ``None``.

    Raises:
        typer.BadParameter: not 64 hex digits (a usage error, exit 2).
    """
    if text is None:
        return None
    if not _DIGEST_RE.fullmatch(text):
        raise typer.BadParameter("expected the 64 hex digits of the published bundle digest")
    return bytes.fromhex(text)


def parse_ratio(text: str) -> tuple[int, int]:
    """Parse ``--min-ratio`` (a decimal such as ``1.05``) into ``(num, den)`` in lowest terms.

    Raises:
        InputError: not a plain decimal, below 1, or terms of 2^32 or more.
    """
    if not _RATIO_RE.fullmatch(text):
        raise InputError(f"--min-ratio {text!r} is not a plain decimal such as 1.05", section="--min-ratio")
    ratio = Fraction(text)
    if ratio < 1:
        raise InputError("--min-ratio must be at least 1 (reserves must cover liabilities)", section="--min-ratio")
    if ratio.numerator >= 1 << 32 or ratio.denominator >= 1 << 32:
        raise InputError("--min-ratio has too many digits", section="--min-ratio")
    return ratio.numerator, ratio.denominator


def backend_name(name: str | None) -> str:
    """Return the resolved backend name for ``--backend`` (``None``: the environment's or the default).

    Raises:
        ParameterError: unknown backend.
    """
    return get_backend(name).name
