"""The range relation as named constraints: satisfied witnesses pass, each failure is named.

Small cases (n = 8, m = 4) only; the first check pays the ~0.6 s galois import.
"""

from __future__ import annotations

import random

import pytest

from circuits.backends import GroupBackend
from circuits.constants import GROUP_ORDER
from circuits.constraints import (
    ConstraintKind,
    check_range_witness,
    first_unsatisfied_range_constraint,
    range_constraints,
)
from circuits.errors import ParameterError, WitnessError
from circuits.generators import PedersenGens
from circuits.relations import Opening, RangeStatement

N, M = 8, 4


def _openings(values: list[int], seed: int = 1) -> list[Opening]:
    rnd = random.Random(seed)  # test data only; protocol randomness never uses `random`
    return [Opening(v, rnd.randrange(1, GROUP_ORDER)) for v in values]


def _statement(openings: list[Opening], n: int = N, backend: GroupBackend | None = None) -> RangeStatement:
    pc_gens = PedersenGens.default(backend)
    return RangeStatement(tuple(pc_gens.commit(o.v % GROUP_ORDER, o.v_blinding) for o in openings), n)


@pytest.fixture(scope="module")
def honest(fast: GroupBackend) -> tuple[RangeStatement, list[Opening]]:
    openings = _openings([0, 1, 200, (1 << N) - 1])
    return _statement(openings, backend=fast), openings


def test_constraint_list_order_and_names() -> None:
    cs = range_constraints(N, M)
    assert len(cs) == 1 + M + M + N * M + M + 1
    assert [c.kind for c in (cs[0], cs[1], cs[M + 1], cs[2 * M + 1], cs[-2], cs[-1])] == [
        ConstraintKind.COUNT,
        ConstraintKind.CANONICAL,
        ConstraintKind.OPENING,
        ConstraintKind.BITS,
        ConstraintKind.RANGE,
        ConstraintKind.A_R,
    ]
    names = {c.name for c in cs}
    assert len(names) == len(cs), "every constraint has a distinct name"
    assert "opening[3]: V_3 == v_3*B + v_blinding_3*B_blinding" in names
    assert "bits[2][7]: a_L*(a_L - 1) == 0" in names
    assert "range[2]: v_2 == <a_L_2, 2^n>" in names
    assert "a_R == a_L - 1" in names


def test_unsupported_parameters_rejected() -> None:
    with pytest.raises(ParameterError):
        range_constraints(7, 4)
    with pytest.raises(ParameterError):
        range_constraints(8, 3)


def test_satisfied_witness(honest: tuple[RangeStatement, list[Opening]]) -> None:
    statement, openings = honest
    assert first_unsatisfied_range_constraint(statement, openings) is None
    check_range_witness(statement, openings)


def test_satisfied_on_every_backend(backend: GroupBackend) -> None:
    openings = _openings([5, 6])
    statement = _statement(openings, backend=backend)
    assert first_unsatisfied_range_constraint(statement, openings, PedersenGens.default(backend)) is None


def test_value_two_to_the_n_names_range(fast: GroupBackend) -> None:
    openings = _openings([3, 4, 1 << N, 5])
    statement = _statement(openings, backend=fast)  # the commitment is honest: only the range fails
    assert first_unsatisfied_range_constraint(statement, openings) == "range[2]: v_2 == <a_L_2, 2^n>"


def test_value_at_least_r_names_canonical(fast: GroupBackend) -> None:
    # v = r*2^n + 5 commits to 5 and its low bits are 5: only the canonical constraint catches it.
    openings = _openings([1, GROUP_ORDER * (1 << N) + 5, 2, 3])
    statement = _statement(openings, backend=fast)
    assert first_unsatisfied_range_constraint(statement, openings) == "canonical[1]: v_1 < r"


def test_wrong_blinding_names_opening(honest: tuple[RangeStatement, list[Opening]]) -> None:
    statement, openings = honest
    bad = list(openings)
    bad[3] = Opening(openings[3].v, (openings[3].v_blinding + 1) % GROUP_ORDER)
    expected = "opening[3]: V_3 == v_3*B + v_blinding_3*B_blinding"
    assert first_unsatisfied_range_constraint(statement, bad) == expected


def test_openings_fail_before_range(honest: tuple[RangeStatement, list[Opening]]) -> None:
    statement, openings = honest
    bad = list(openings)
    bad[0] = Opening(1 << N, openings[0].v_blinding)  # out of range AND not the committed value
    assert first_unsatisfied_range_constraint(statement, bad) == ("opening[0]: V_0 == v_0*B + v_blinding_0*B_blinding")


@pytest.mark.parametrize("count", [0, M - 1, M + 1])
def test_wrong_count(honest: tuple[RangeStatement, list[Opening]], count: int) -> None:
    statement, openings = honest
    given = (openings * 2)[:count]
    assert first_unsatisfied_range_constraint(statement, given) == "count: len(openings) == m"
    with pytest.raises(WitnessError, match=r"^unsatisfied constraint: count: len\(openings\) == m$"):
        check_range_witness(statement, given)


def test_negative_value_rejected_by_opening() -> None:
    with pytest.raises(WitnessError):
        Opening(-1, 1)


def test_non_opening_rejected(honest: tuple[RangeStatement, list[Opening]]) -> None:
    statement, openings = honest
    with pytest.raises(WitnessError, match=r"openings\[1\]"):
        first_unsatisfied_range_constraint(statement, [openings[0], (1, 2), *openings[2:]])  # type: ignore[list-item]


def test_non_bit_names_bits(honest: tuple[RangeStatement, list[Opening]]) -> None:
    statement, openings = honest
    a_L = [(o.v >> i) & 1 for o in openings for i in range(N)]
    a_L[2 * N + 5] = 2
    assert first_unsatisfied_range_constraint(statement, openings, a_L=a_L) == "bits[2][5]: a_L*(a_L - 1) == 0"


def test_wrong_a_R_names_a_R(honest: tuple[RangeStatement, list[Opening]]) -> None:
    statement, openings = honest
    a_L = [(o.v >> i) & 1 for o in openings for i in range(N)]
    a_R = [b - 1 for b in a_L]
    assert first_unsatisfied_range_constraint(statement, openings, a_L=a_L, a_R=a_R) is None
    a_R[9] += 1
    assert first_unsatisfied_range_constraint(statement, openings, a_L=a_L, a_R=a_R) == "a_R == a_L - 1"


def test_aux_vector_shape_checked(honest: tuple[RangeStatement, list[Opening]]) -> None:
    statement, openings = honest
    with pytest.raises(WitnessError, match="a_L must be"):
        first_unsatisfied_range_constraint(statement, openings, a_L=[0] * (N * M - 1))


def test_message_never_contains_secrets(fast: GroupBackend) -> None:
    secret = (1 << N) + 123  # 379: out of range
    openings = _openings([7, secret, 9, 11], seed=7)
    statement = _statement(openings, backend=fast)
    with pytest.raises(WitnessError) as info:
        check_range_witness(statement, openings)
    message = str(info.value)
    assert message == "unsatisfied constraint: range[1]: v_1 == <a_L_1, 2^n>"
    for o in openings:
        assert str(o.v) not in message
        assert str(o.v_blinding) not in message
        assert f"{o.v_blinding:x}" not in message


def test_agrees_with_prover(fast: GroupBackend) -> None:
    """The checker accepts exactly the witnesses the prover accepts (prover's own witness checks)."""
    from prover.range_proof import create_range_proof

    good = _openings([1, 2, 3, 4], seed=3)
    statement = _statement(good, backend=fast)
    out_of_range = [*good[:3], Opening(1 << N, good[3].v_blinding)]
    wrong_blinding = [*good[:3], Opening(4, (good[3].v_blinding + 1) % GROUP_ORDER)]
    for openings in (good, out_of_range, wrong_blinding, good[:2]):
        checker_ok = first_unsatisfied_range_constraint(statement, openings) is None
        try:
            create_range_proof(statement, openings, rng=lambda k: bytes(k))
            prover_ok = True
        except WitnessError:
            prover_ok = False
        assert checker_ok == prover_ok
