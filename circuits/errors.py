"""The single error hierarchy of zk-solvency.

Every failure the library reports is a :class:`ProofError`. The subclasses say
*why*, so that callers (and the CLI's exit codes) never confuse malformed input
with a false statement:

=====================  ===========================================================
class                  raised when
=====================  ===========================================================
``FormatError``        bytes do not parse into a validated type
``VerificationError``  input is well formed, but the proof or statement is false
``ParameterError``     public parameters are unsupported or inconsistent
``WitnessError``       the prover's secret input does not satisfy the relation
``InputError``         a user-supplied file or field is invalid (ledger, reserves)
=====================  ===========================================================
"""

from __future__ import annotations

__all__ = [
    "FormatError",
    "InputError",
    "ParameterError",
    "ProofError",
    "VerificationError",
    "WitnessError",
]


class ProofError(Exception):
    """Raised when any zk-solvency operation fails; the base of every library error.

    ``section`` optionally names the part of a bundle, package or input file that
    failed (for example ``"BTC.rangeproofs.bin"`` or ``"ledger.csv:17:amount"``), so
    reports can point at it.
    """

    def __init__(self, message: str = "", *, section: str | None = None) -> None:
        """Create the error with its message and optional failing section."""
        super().__init__(message)
        self.section = section


class FormatError(ProofError):
    """Raised when bytes do not parse.

    Examples: a wrong length, a scalar that is not canonical (>= r), a point that
    is not on the curve or not in the prime-order subgroup, an unknown version
    byte, or trailing bytes.
    """


class VerificationError(ProofError):
    """Raised when well-formed input fails a check: the proof or the statement is false.

    Identity points where a non-identity point is required and zero Fiat-Shamir
    challenges are reported with this class as well.
    """


class ParameterError(ProofError):
    """Raised when public parameters are unsupported or inconsistent.

    Examples: a bit size outside :data:`circuits.constants.ALLOWED_BITSIZES`, an
    aggregation size that is not a power of two, or too few generators.
    """


class WitnessError(ProofError):
    """Raised when the prover's secret input does not satisfy the relation.

    Examples: a value outside ``[0, 2^n)``, a blinding that is not a canonical
    scalar, or an opening that does not match its commitment. Messages never
    contain the secret values themselves.
    """


class InputError(ProofError):
    """Raised when a user-supplied input file or field is invalid.

    The message names the file, the line and the field where that is known.
    """
