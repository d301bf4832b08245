"""Determinism, distinctness, capacity and known answers of :mod:`circuits.generators`.

The generator set is part of protocol v1: its identifier and the first
generators are pinned below as known answers, and must never change (a new
derivation is a new ``GENS_VERSION`` and a new DST).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuits.backends import GroupBackend, get_backend
from circuits.constants import GENS_CAPACITY, GENS_DST, GROUP_ORDER
from circuits.errors import ParameterError
from circuits.generators import GENS_VERSION, BulletproofGens, PedersenGens, generator_set_id
from circuits.group import Point

R = GROUP_ORDER

#: Frozen v1 known answers (compressed encodings, hex).
GENERATOR_SET_ID_HEX = "36b4aad5dcdd25924e61e6bbd52350afd687ec8cfedd980fe104388d2ace5266"
B_HEX = "a16e4f3fb81fed2779d38369698d3110fa1e6dfd4bf5dd424504f2b357fae9ec450cd45f80805ec1cccca5afcf9c320e"
B_BLINDING_HEX = "a3cc41e58f06e44b2c5b2a25ecfbb79e0f2a011c30266506bd888f6dc96a8f04e4581dfea4a7169fe4c20c5126bf9564"
G0_HEX = "b6ff96461c4221540185cedb4cd1f59418b03009e0547320b4897d21a2d89803198b20403c7f8bfdecfea4295fad684e"
H0_HEX = "9397fddf39d8ed574feeb010df7bda86c20523b28543238f507525676ff981a2df284a7edcd88aeb32759f996980b898"

EXAMPLES = {"fast": 60, "reference": 6}
scalars = st.one_of(st.sampled_from([0, 1, R - 1]), st.integers(min_value=0, max_value=R - 1))


def budget(backend: GroupBackend) -> settings:
    return settings(max_examples=EXAMPLES[backend.name], deadline=None, database=None)


def assert_parameter_error(fn: Callable[..., object], *args: object) -> None:
    with pytest.raises(ParameterError) as info:
        fn(*args)
    assert type(info.value) is ParameterError


# ---------------------------------------------------------------------------
# Pedersen generators
# ---------------------------------------------------------------------------


def test_pedersen_default_is_memoized(backend: GroupBackend) -> None:
    assert PedersenGens.default(backend) is PedersenGens.default(backend)
    assert PedersenGens.default() is PedersenGens.default(get_backend())


def test_pedersen_bases_are_distinct_and_nontrivial(backend: GroupBackend) -> None:
    gens = PedersenGens.default(backend)
    G = Point.generator(backend)
    identity = Point.identity(backend)
    assert gens.B != gens.B_blinding
    assert gens.B != G and gens.B_blinding != G
    assert gens.B != -gens.B_blinding
    assert not gens.B.is_identity() and not gens.B_blinding.is_identity()
    assert gens.B != identity and gens.B_blinding != identity


def test_pedersen_bases_follow_the_documented_derivation(backend: GroupBackend) -> None:
    gens = PedersenGens.default(backend)
    assert gens.B == Point.hash_to_curve(b"B", GENS_DST, backend)
    assert gens.B_blinding == Point.hash_to_curve(b"B_blinding", GENS_DST, backend)


def test_pedersen_bases_are_pinned(backend: GroupBackend) -> None:
    gens = PedersenGens.default(backend)
    assert gens.B.to_bytes().hex() == B_HEX
    assert gens.B_blinding.to_bytes().hex() == B_BLINDING_HEX


def test_commit_matches_definition(backend: GroupBackend) -> None:
    gens = PedersenGens.default(backend)

    @budget(backend)
    @given(scalars, scalars)
    def check(v: int, v_blinding: int) -> None:
        assert gens.commit(v, v_blinding) == gens.B * v + gens.B_blinding * v_blinding

    check()


def test_commit_is_homomorphic(backend: GroupBackend) -> None:
    gens = PedersenGens.default(backend)

    @budget(backend)
    @given(scalars, scalars, scalars, scalars)
    def check(a: int, x: int, b: int, y: int) -> None:
        assert gens.commit(a, x) + gens.commit(b, y) == gens.commit((a + b) % R, (x + y) % R)
        assert gens.commit(a, x) - gens.commit(b, y) == gens.commit((a - b) % R, (x - y) % R)

    check()


def test_commit_edge_cases(backend: GroupBackend) -> None:
    gens = PedersenGens.default(backend)
    assert gens.commit(0, 0).is_identity()
    assert gens.commit(1, 0) == gens.B
    assert gens.commit(0, 1) == gens.B_blinding
    # Values are taken mod r (a 2^64-ish balance is far below r, but reduction is the rule).
    assert gens.commit(R + 5, 7) == gens.commit(5, 7)
    assert gens.commit(2**64 - 1, 0) == gens.B * (2**64 - 1)


# ---------------------------------------------------------------------------
# Bulletproof generators
# ---------------------------------------------------------------------------


def test_bulletproof_default_is_memoized(backend: GroupBackend) -> None:
    assert BulletproofGens.default(backend) is BulletproofGens.default(backend)
    assert BulletproofGens.default(backend).capacity == GENS_CAPACITY
    assert BulletproofGens.default() is BulletproofGens.default(get_backend())


def test_first_generators_are_distinct(backend: GroupBackend) -> None:
    k = 16
    gens = BulletproofGens.default(backend)
    pedersen = PedersenGens.default(backend)
    encodings = [P.to_bytes() for P in gens.G(k) + gens.H(k) + [pedersen.B, pedersen.B_blinding]]
    assert len(set(encodings)) == 2 * k + 2
    assert Point.generator(backend).to_bytes() not in encodings
    assert Point.identity(backend).to_bytes() not in encodings


def test_generators_follow_the_documented_derivation(backend: GroupBackend) -> None:
    gens = BulletproofGens.default(backend)
    for i, (G_i, H_i) in enumerate(zip(gens.G(4), gens.H(4), strict=True)):
        assert G_i == Point.hash_to_curve(b"G" + struct.pack("<I", i), GENS_DST, backend)
        assert H_i == Point.hash_to_curve(b"H" + struct.pack("<I", i), GENS_DST, backend)


def test_generators_are_deterministic_across_instances(backend: GroupBackend) -> None:
    fresh = BulletproofGens(backend)
    shared = BulletproofGens.default(backend)
    assert [P.to_bytes() for P in fresh.G(8)] == [P.to_bytes() for P in shared.G(8)]
    assert [P.to_bytes() for P in fresh.H(8)] == [P.to_bytes() for P in shared.H(8)]


def test_generators_are_prefix_stable(backend: GroupBackend) -> None:
    # Growing after a small request, and a small request after a large one.
    small_first = BulletproofGens(backend)
    four = [backend.compress(P) for P in small_first.G_raw(4)]
    eight = [backend.compress(P) for P in small_first.G_raw(8)]
    assert eight[:4] == four

    large_first = BulletproofGens(backend)
    eight_again = [backend.compress(P) for P in large_first.H_raw(8)]
    four_again = [backend.compress(P) for P in large_first.H_raw(4)]
    assert eight_again[:4] == four_again
    assert eight == [backend.compress(P) for P in large_first.G_raw(8)]


def test_generator_counts(backend: GroupBackend) -> None:
    gens = BulletproofGens(backend)
    assert gens.G_raw(0) == [] and gens.H(0) == []
    assert len(gens.G(3)) == 3 and len(gens.H_raw(5)) == 5


def test_first_generators_are_pinned(backend: GroupBackend) -> None:
    gens = BulletproofGens.default(backend)
    assert gens.G(1)[0].to_bytes().hex() == G0_HEX
    assert gens.H(1)[0].to_bytes().hex() == H0_HEX


@pytest.mark.parametrize("method", ["G", "H", "G_raw", "H_raw"])
@pytest.mark.parametrize("k", [GENS_CAPACITY + 1, 2 * GENS_CAPACITY, 1 << 40])
def test_capacity_exceeded(backend: GroupBackend, method: str, k: int) -> None:
    gens = BulletproofGens(backend)  # fresh: the check runs before any derivation
    assert_parameter_error(getattr(gens, method), k)
    assert gens.G_raw(1)  # still usable afterwards


def test_negative_count_is_rejected() -> None:
    gens = BulletproofGens(get_backend("fast"))
    gens.G_raw(4)
    assert_parameter_error(gens.G_raw, -1)


# ---------------------------------------------------------------------------
# Generator-set identifier
# ---------------------------------------------------------------------------


def test_generator_set_id_is_32_bytes_and_stable() -> None:
    gid = generator_set_id()
    assert isinstance(gid, bytes) and len(gid) == 32
    assert generator_set_id() == gid


def test_generator_set_id_known_answer() -> None:
    assert generator_set_id().hex() == GENERATOR_SET_ID_HEX


def test_generator_set_id_follows_the_documented_formula() -> None:
    expected = hashlib.sha256(
        b"zk-solvency generators"
        + struct.pack("<I", len(GENS_DST))
        + GENS_DST
        + struct.pack("<I", GENS_VERSION)
        + struct.pack("<Q", GENS_CAPACITY)
    ).digest()
    assert generator_set_id() == expected
    assert GENS_VERSION == 1


# ---------------------------------------------------------------------------
# The shipped generator table (circuits/data/generators_v1.bin)
# ---------------------------------------------------------------------------


def test_generator_table_is_exactly_the_hash_to_curve_outputs():
    from circuits.generators import TABLE_SHA256, _table_data, table_bytes

    shipped = _table_data()  # the installed table must be found and authentic
    assert shipped is not None
    assert hashlib.sha256(shipped).hexdigest() == TABLE_SHA256
    assert table_bytes(get_backend("fast")) == shipped  # every point re-derived (about 1.5 s)


def test_generator_table_spot_checked_on_reference_backend():
    from circuits.generators import table_bytes

    ref = table_bytes(get_backend("reference"), pairs=2)
    fast = table_bytes(get_backend("fast"), pairs=2)
    assert ref == fast


def test_table_found_from_another_directory(tmp_path):
    import subprocess
    import sys

    code = "import circuits.generators as g; assert g._table_data() is not None"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)


def test_corrupt_table_is_ignored(monkeypatch, tmp_path):
    import circuits.generators as gens

    monkeypatch.setattr(gens, "TABLE_SHA256", "0" * 64)
    gens._table_data.cache_clear()
    try:
        assert gens._table_data() is None
    finally:
        monkeypatch.undo()
        gens._table_data.cache_clear()
    assert gens._table_data() is not None
