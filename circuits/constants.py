"""Protocol constants: group order, sizes, versions and domain-separation tags.

Every constant that the prover and verifier must agree on lives here, so that a
change to any of them is a visible, reviewable protocol change (see
``circuits/notes/50-transcript.md`` and ``circuits/notes/60-wire-format.md``).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALLOWED_BITSIZES",
    "FIELD_MODULUS",
    "GENS_CAPACITY",
    "GENS_DST",
    "GROUP_ORDER",
    "POINT_SIZE",
    "PROTOCOL_LABEL",
    "RANGEPROOF_FORMAT_VERSION",
    "SCALAR_SIZE",
]

#: r, the order of the prime-order subgroup of BLS12-381 G1 (and of the scalar field).
GROUP_ORDER: Final[int] = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001

#: p, the modulus of the base field F_p of BLS12-381.
FIELD_MODULUS: Final[int] = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab",
    16,
)

#: Bytes of a compressed G1 point (ZCash/IETF serialization, big-endian x).
POINT_SIZE: Final[int] = 48
#: Bytes of a canonical scalar (little-endian, value < r).
SCALAR_SIZE: Final[int] = 32

#: Bit sizes the range proof supports. 128 is used for reserve surplus proofs.
ALLOWED_BITSIZES: Final[tuple[int, ...]] = (8, 16, 32, 64, 128)

#: Total number of G (and of H) generators of the generator set, n*m <= capacity.
#: It is a protocol constant, not a run-time choice, so that the generator-set
#: identifier (which binds it) is the same for every prover and verifier.
#: Generators are derived lazily, so a large capacity costs nothing until used.
GENS_CAPACITY: Final[int] = 1 << 17

#: Largest aggregation size m accepted anywhere (also bounded by n*m <= capacity).
MAX_AGGREGATION: Final[int] = 1 << 14

#: RFC 9380 domain-separation tag for every generator (BLS12-381 G1, random oracle suite).
GENS_DST: Final[bytes] = b"ZK-SOLVENCY-V1-GENERATORS_BLS12381G1_XMD:SHA-256_SSWU_RO_"

#: Protocol label absorbed first by every transcript (the protocol version).
PROTOCOL_LABEL: Final[bytes] = b"zk-solvency transcript v1 (SHAKE256)"

#: Leading byte of a serialized :class:`circuits.proofs.RangeProof` (wire-format version).
RANGEPROOF_FORMAT_VERSION: Final[int] = 1
