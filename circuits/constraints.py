r"""The range relation stated once, as named constraints, with a checker that names the first failure.

Relation (``notes/30-range-proof.md``; eprint 2017/1066 §4.1 and §4.3), in
Camenisch-Stadler form::

    PK{ (v_j, v_blinding_j)_{j<m} :  V_j = v_j*B + v_blinding_j*B_blinding
                                     and 0 <= v_j < 2^n   for all j < m }

Arithmetised over the scalar field GF(r) with the auxiliary witness ``a_L, a_R``
(``n*m`` entries; party ``j`` owns indices ``j*n .. j*n + n - 1``, written
``a_L_j``), the relation is the conjunction of the constraints below, checked in
this order:

==============================  ==========================================================
name                            meaning
==============================  ==========================================================
``count``                       ``len(openings) == m``
``canonical[j]``                ``v_j < r``: the value is a field element (no aliasing mod r)
``opening[j]``                  ``V_j == v_j*B + v_blinding_j*B_blinding``
``bits[j][i]``                  ``a_L*(a_L - 1) == 0`` at index ``j*n + i``: a bit
``range[j]``                    ``v_j == <a_L_j, 2^n>``
``a_R``                         ``a_R == a_L - 1`` (entrywise)
==============================  ==========================================================

``bits`` and ``a_R`` together are the paper's ``a_L o a_R = 0`` and
``a_L - 1 - a_R = 0``. The honest auxiliary witness is the ``n``-bit
decomposition of ``v_j mod 2^n`` (and ``a_R = a_L - 1``), so with it only
``count``, ``canonical``, ``opening`` and ``range`` can fail; a value
``>= 2^n`` fails ``range[j]``.

This module is a readable statement of *what* is proved, for tests and for
diagnosing a rejected witness. It is off every hot path: the prover and verifier
never call it, and :mod:`galois` (0.6 s to import) is imported only when a check
runs.

>>> [str(c) for c in range_constraints(8, 1)][:3]
['count: len(openings) == m', 'canonical[0]: v_0 < r', 'opening[0]: V_0 == v_0*B + v_blinding_0*B_blinding']
>>> len(range_constraints(8, 4))  # 1 + 4 + 4 + 32 + 4 + 1
46
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Final

from circuits.constants import GROUP_ORDER
from circuits.errors import WitnessError
from circuits.generators import PedersenGens
from circuits.relations import Opening, RangeStatement, check_bitsize_and_aggregation

if TYPE_CHECKING:
    from galois import FieldArray

__all__ = [
    "ConstraintKind",
    "check_range_witness",
    "first_unsatisfied_range_constraint",
    "range_constraints",
]

#: A primitive element of GF(r), passed to galois so that it skips its 57 s search.
_PRIMITIVE_ELEMENT: Final[int] = 7


class ConstraintKind(StrEnum):
    """The families of constraints in the range relation (see the module docstring)."""

    COUNT = "count"
    CANONICAL = "canonical"
    OPENING = "opening"
    BITS = "bits"
    RANGE = "range"
    A_R = "a_R"


_TEMPLATES: Final[dict[ConstraintKind, str]] = {
    ConstraintKind.COUNT: "count: len(openings) == m",
    ConstraintKind.CANONICAL: "canonical[{j}]: v_{j} < r",
    ConstraintKind.OPENING: "opening[{j}]: V_{j} == v_{j}*B + v_blinding_{j}*B_blinding",
    ConstraintKind.BITS: "bits[{j}][{i}]: a_L*(a_L - 1) == 0",
    ConstraintKind.RANGE: "range[{j}]: v_{j} == <a_L_{j}, 2^n>",
    ConstraintKind.A_R: "a_R == a_L - 1",
}


@dataclass(frozen=True)
class Constraint:
    """One named constraint: its family, and the party ``j`` and bit ``i`` it is about (if any)."""

    kind: ConstraintKind
    j: int | None = None
    i: int | None = None

    @property
    def name(self) -> str:
        """The readable name, e.g. ``"range[2]: v_2 == <a_L_2, 2^n>"``; never contains witness values."""
        return _TEMPLATES[self.kind].format(j=self.j, i=self.i)

    def __str__(self) -> str:
        return self.name


def range_constraints(n: int, m: int) -> list[Constraint]:
    """Return the constraints of the range relation for ``m`` values of ``n`` bits, in checking order.

    Raises:
        ParameterError: ``n`` or ``m`` is not supported (see
            :func:`circuits.relations.check_bitsize_and_aggregation`).
    """
    check_bitsize_and_aggregation(n, m)
    K = ConstraintKind
    return [
        Constraint(K.COUNT),
        *(Constraint(K.CANONICAL, j) for j in range(m)),
        *(Constraint(K.OPENING, j) for j in range(m)),
        *(Constraint(K.BITS, j, i) for j in range(m) for i in range(n)),
        *(Constraint(K.RANGE, j) for j in range(m)),
        Constraint(K.A_R),
    ]


@cache
def _field() -> type[FieldArray]:
    """Return GF(r), built once (galois imported lazily; see the module docstring)."""
    import galois

    field: type[FieldArray] = galois.GF(GROUP_ORDER, primitive_element=_PRIMITIVE_ELEMENT, verify=False)
    return field


def _aux_vector(name: str, values: Sequence[int], nm: int) -> list[int]:
    if len(values) != nm or not all(isinstance(k, int) for k in values):
        raise WitnessError(f"{name} must be {nm} integers")
    return [k % GROUP_ORDER for k in values]


def first_unsatisfied_range_constraint(
    statement: RangeStatement,
    openings: Sequence[Opening],
    pc_gens: PedersenGens | None = None,
    *,
    a_L: Sequence[int] | None = None,
    a_R: Sequence[int] | None = None,
) -> str | None:
    """Return ``None`` if the witness satisfies the range relation, else the first failing constraint's name.

    Constraints are checked in the order of :func:`range_constraints`. The
    auxiliary witness defaults to the honest one (bits of ``v_j mod 2^n`` and
    ``a_R = a_L - 1``); ``a_L`` and ``a_R`` (``n*m`` integers each, read mod r)
    replace it, to exercise the ``bits`` and ``a_R`` constraints.

    Args:
        statement: the public commitments ``V_j``, bit size ``n``.
        openings: the secret ``(v_j, v_blinding_j)``, one per commitment.
        pc_gens: the Pedersen bases; defaults to the protocol's for the statement's backend.
        a_L: optional replacement for the bit vector.
        a_R: optional replacement for ``a_L - 1``.

    Raises:
        WitnessError: an opening is not an :class:`~circuits.relations.Opening`,
            or ``a_L``/``a_R`` has the wrong shape. Messages never contain values.
    """
    n, m = statement.n, statement.m
    constraints = range_constraints(n, m)
    if len(openings) != m:
        return constraints[0].name
    for j, o in enumerate(openings):
        if not isinstance(o, Opening):
            raise WitnessError(f"openings[{j}] is not an Opening")
    nm = n * m
    F = _field()
    values = [o.v for o in openings]
    if a_L is None:
        a_L_vec = F([(v >> i) & 1 for v in values for i in range(n)])
    else:
        a_L_vec = F(_aux_vector("a_L", a_L, nm))
    a_R_vec = a_L_vec - F(1) if a_R is None else F(_aux_vector("a_R", a_R, nm))
    two_n = F([1 << i for i in range(n)])
    bit_ok = a_L_vec * (a_L_vec - F(1)) == F(0)
    range_ok = F([v % GROUP_ORDER for v in values]) == a_L_vec.reshape(m, n) @ two_n
    a_R_ok = bool(((a_L_vec - a_R_vec) == F(1)).all())
    pc = pc_gens or PedersenGens.default(statement.commitments[0].backend)

    K = ConstraintKind
    for c in constraints:
        j, i = c.j or 0, c.i or 0
        match c.kind:
            case K.COUNT:
                ok = True  # checked above: nothing else is defined without it
            case K.CANONICAL:
                ok = values[j] < GROUP_ORDER
            case K.OPENING:
                ok = pc.commit(values[j], openings[j].v_blinding) == statement.commitments[j]
            case K.BITS:
                ok = bool(bit_ok[j * n + i])
            case K.RANGE:
                ok = bool(range_ok[j])
            case K.A_R:
                ok = a_R_ok
        if not ok:
            return c.name
    return None


def check_range_witness(
    statement: RangeStatement,
    openings: Sequence[Opening],
    pc_gens: PedersenGens | None = None,
) -> None:
    """Return ``None`` if the honest witness from ``openings`` satisfies the range relation, else raise.

    Raises:
        WitnessError: ``"unsatisfied constraint: <name>"`` for the first failing
            constraint (the name carries indices, never secret values).
    """
    name = first_unsatisfied_range_constraint(statement, openings, pc_gens)
    if name is not None:
        raise WitnessError(f"unsatisfied constraint: {name}")
