"""The typed statements of circuits/statements.py: contexts byte-exact with the spec, V_s, keyword-only.

The spec contexts come from ``tests/bundle_factory.py``, written from docs/FORMAT.md §4
without the library, so these are independent known answers.
"""

from __future__ import annotations

import dataclasses

import pytest
from bundle_factory import spec_chunk_context, spec_solvency_context

from circuits.backends import get_backend
from circuits.constants import GROUP_ORDER
from circuits.errors import ParameterError
from circuits.generators import PedersenGens
from circuits.limits import RANGE_BITS, SOLVENCY_BITS
from circuits.statements import ChunkStatement, SolvencyStatement

ROOT = bytes(range(32))


def _chunk(**changes: object) -> ChunkStatement:
    fields: dict[str, object] = dict(
        exchange="Ex", round="2026-01", symbol="BTC", leaf_count=64, chunk_size=16, chunk=3, merkle_root=ROOT
    )
    fields.update(changes)
    return ChunkStatement(**fields)  # type: ignore[arg-type]


def _solvency(C_L, **changes: object) -> SolvencyStatement:
    fields: dict[str, object] = dict(
        exchange="Ex", round="2026-01", symbol="BTC", decimals=8, reserves=10**20, num=11, den=10,
        leaf_count=64, merkle_root=ROOT, C_L=C_L,
    )
    fields.update(changes)
    return SolvencyStatement(**fields)  # type: ignore[arg-type]


def test_chunk_context_is_the_spec_bytes():
    assert _chunk().context() == spec_chunk_context("Ex", "2026-01", "BTC", 64, 16, 3, ROOT)


def test_solvency_context_is_the_spec_bytes():
    pc = PedersenGens.default(get_backend())
    C_L = pc.commit(5, 7)
    expected = spec_solvency_context("Ex", "2026-01", "BTC", 8, 10**20, 11, 10, 64, ROOT, C_L.to_bytes())
    assert _solvency(C_L).context() == expected


def test_v_s_and_its_opening():
    pc = PedersenGens.default(get_backend())
    L, blinding = 1234, 99
    statement = _solvency(pc.commit(L, blinding), reserves=5000)
    assert statement.V_s(pc) == pc.B * (10 * 5000) - statement.C_L * 11
    opening = statement.opening(L, blinding)
    assert pc.commit(opening.v, opening.v_blinding) == statement.V_s(pc)
    range_statement = statement.range_statement(pc)
    assert range_statement.n == SOLVENCY_BITS and range_statement.context == statement.context()
    assert opening.v_blinding == (-11 * blinding) % GROUP_ORDER


def test_chunk_range_statement_takes_exactly_chunk_size_commitments():
    pc = PedersenGens.default(get_backend())
    statement = _chunk(chunk_size=2, leaf_count=4, chunk=1)
    commitments = [pc.commit(1, 2), pc.commit(3, 4)]
    range_statement = statement.range_statement(commitments)
    assert range_statement.n == RANGE_BITS and range_statement.context == statement.context()
    with pytest.raises(ParameterError):
        statement.range_statement(commitments[:1])


def test_statements_are_frozen_and_keyword_only():
    with pytest.raises(TypeError):
        ChunkStatement("Ex", "2026-01", "BTC", 64, 16, 3, ROOT)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        _chunk().chunk = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    "changes", [{"chunk": -1}, {"leaf_count": 1 << 64}, {"merkle_root": b"\x00" * 31}, {"chunk_size": "16"}]
)
def test_chunk_fields_the_context_cannot_encode_are_refused(changes):
    with pytest.raises(ParameterError):
        _chunk(**changes)


def test_solvency_reserves_outside_128_bits_are_refused():
    pc = PedersenGens.default(get_backend())
    with pytest.raises(ParameterError):
        _solvency(pc.commit(1, 1), reserves=1 << 128)
