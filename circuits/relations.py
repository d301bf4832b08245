r"""The statements zk-solvency proves, with their public parameter checks.

Range relation (``notes/30-range-proof.md``), in Camenisch-Stadler form::

    PK{ (v_j, v_blinding_j)_{j<m} :  V_j = v_j*B + v_blinding_j*B_blinding
                                     and 0 <= v_j < 2^n   for all j < m }

with ``n`` in :data:`~circuits.constants.ALLOWED_BITSIZES`, ``m`` a power of two
and ``n*m <= GENS_CAPACITY``. ``context`` is application data (round, asset,
chunk, ...) bound into the transcript before any challenge; a proof made under
one context never verifies under another.

The readable constraint form of the relation, and a checker naming the first
unsatisfied constraint, is :mod:`circuits.constraints`.
"""

from __future__ import annotations

from dataclasses import dataclass

from circuits.constants import (
    ALLOWED_BITSIZES,
    GENS_CAPACITY,
    GROUP_ORDER,
    MAX_AGGREGATION,
)
from circuits.errors import ParameterError, WitnessError
from circuits.group import Point

__all__ = ["Opening", "RangeStatement", "check_bitsize_and_aggregation"]

#: Upper bound on the application context bound into a range transcript.
MAX_CONTEXT_BYTES = 1 << 16


def check_bitsize_and_aggregation(n: int, m: int) -> None:
    """Validate the public parameters ``(n, m)`` of a range statement.

    Raises:
        ParameterError: ``n`` not allowed, ``m`` not a power of two in
            ``[1, MAX_AGGREGATION]``, or ``n*m`` above the generator capacity.
    """
    if n not in ALLOWED_BITSIZES:
        raise ParameterError(f"bit size n={n} is not one of {ALLOWED_BITSIZES}")
    if m < 1 or m & (m - 1) or m > MAX_AGGREGATION:
        raise ParameterError(f"aggregation size m={m} is not a power of two in [1, {MAX_AGGREGATION}]")
    if n * m > GENS_CAPACITY:
        raise ParameterError(f"n*m={n * m} exceeds the generator capacity {GENS_CAPACITY}")


@dataclass(frozen=True, eq=False)
class RangeStatement:
    """Public input of an aggregated range proof: ``V_0..V_{m-1}`` each open to a value in ``[0, 2^n)``."""

    commitments: tuple[Point, ...]
    n: int
    context: bytes = b""

    def __post_init__(self) -> None:
        """Check the parameters before any curve work."""
        object.__setattr__(self, "commitments", tuple(self.commitments))
        check_bitsize_and_aggregation(self.n, len(self.commitments))
        if not isinstance(self.context, bytes) or len(self.context) > MAX_CONTEXT_BYTES:
            raise ParameterError(f"context must be bytes of at most {MAX_CONTEXT_BYTES} bytes")
        backends = {id(V.backend) for V in self.commitments}
        if len(backends) != 1:
            raise ParameterError("all commitments must come from one backend")

    @property
    def m(self) -> int:
        """The aggregation size: the number of committed values."""
        return len(self.commitments)


@dataclass(frozen=True)
class Opening:
    """A secret opening ``(v, v_blinding)`` of a commitment ``v*B + v_blinding*B_blinding``.

    ``repr`` hides both fields so that openings never leak into logs.
    """

    v: int
    v_blinding: int

    def __post_init__(self) -> None:
        """Reject non-integer or non-canonical fields (values are checked by the relation)."""
        if not isinstance(self.v, int) or not isinstance(self.v_blinding, int):
            raise WitnessError("opening fields must be integers")
        if self.v < 0:
            raise WitnessError("opening value is negative")
        if not 0 <= self.v_blinding < GROUP_ORDER:
            raise WitnessError("opening blinding is not a canonical scalar in [0, r)")

    def __repr__(self) -> str:
        return "Opening(<secret>)"
