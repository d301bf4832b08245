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

from typing import Any, ClassVar, Literal, Protocol

__all__ = [
    "FailureKind",
    "FormatError",
    "InputError",
    "ParameterError",
    "PartialReport",
    "ProofError",
    "VerificationError",
    "WitnessError",
]


#: How a failure is classified in reports and JSON: ``"malformed"`` (:class:`FormatError`),
#: ``"false"`` (:class:`VerificationError`) or ``"input"`` (:class:`ParameterError`,
#: :class:`WitnessError`, :class:`InputError`).
FailureKind = Literal["malformed", "false", "input"]


class PartialReport(Protocol):
    """What a failed operation had established before it failed (``verifier.report``'s reports).

    Declared here, as a protocol, so that :class:`ProofError` can carry a typed
    report without :mod:`circuits` importing the layers above it.
    """

    ok: bool

    def to_json(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        ...


class ProofError(Exception):
    """Raised when any zk-solvency operation fails; the base of every library error.

    Where the failure is, in fields set when raising (never parsed back out of the
    message), each ``None`` when unknown:

    * ``section``: the part of a bundle, package or input that failed, as reports
      show it (``"BTC.rangeproofs.bin chunk 3"``, ``"manifest.assets[0].reserves"``,
      ``"ledger.csv:17:amount"``);
    * ``file``: the name of the file that failed (``"BTC.rangeproofs.bin"``,
      ``"manifest.json"``, ``"package"`` for the customer package, ``"ledger.csv"``);
    * ``field``: the field or record within that file (``"chunk 3"``, ``"record 17"``,
      ``"entries[0].merkle_path"``, ``"amount"``).

    ``report`` is the partial report of the operation that failed (a bundle
    verification or a customer check), attached by the verifier before it re-raises.
    """

    #: The class's :data:`FailureKind` (``None`` for a plain :class:`ProofError`).
    kind: ClassVar[FailureKind | None] = None
    report: PartialReport | None = None

    def __init__(
        self,
        message: str = "",
        *,
        section: str | None = None,
        file: str | None = None,
        field: str | None = None,
    ) -> None:
        """Create the error with its message and where it failed (section, file, field)."""
        super().__init__(message)
        self.section = section
        self.file = file
        self.field = field
        self.report = None


class FormatError(ProofError):
    """Raised when bytes do not parse.

    Examples: a wrong length, a scalar that is not canonical (>= r), a point that
    is not on the curve or not in the prime-order subgroup, an unknown version
    byte, or trailing bytes.
    """

    kind: ClassVar[FailureKind | None] = "malformed"


class VerificationError(ProofError):
    """Raised when well-formed input fails a check: the proof or the statement is false.

    Identity points where a non-identity point is required and zero Fiat-Shamir
    challenges are reported with this class as well.
    """

    kind: ClassVar[FailureKind | None] = "false"


class ParameterError(ProofError):
    """Raised when public parameters are unsupported or inconsistent.

    Examples: a bit size outside :data:`circuits.constants.ALLOWED_BITSIZES`, an
    aggregation size that is not a power of two, or too few generators.
    """

    kind: ClassVar[FailureKind | None] = "input"


class WitnessError(ProofError):
    """Raised when the prover's secret input does not satisfy the relation.

    Examples: a value outside ``[0, 2^n)``, a blinding that is not a canonical
    scalar, or an opening that does not match its commitment. Messages never
    contain the secret values themselves.
    """

    kind: ClassVar[FailureKind | None] = "input"


class InputError(ProofError):
    """Raised when a user-supplied input file or field is invalid.

    The message names the file, the line and the field where that is known.
    """

    kind: ClassVar[FailureKind | None] = "input"
