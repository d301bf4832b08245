r"""The solvency relation of one asset (``notes/40-solvency.md``, ``docs/FORMAT.md`` §3.2-§4): its two statements.

For an asset ``S`` of exchange ``E`` in round ``T``, with leaves
``V_0..V_{N-1}`` under the Merkle root ``root``, ``C_L = sum_i V_i``, reserves
``R`` and a minimum ratio ``num/den``, the bundle proves::

    ChunkStatement, for every chunk k < N/m (m = chunk_size):
        PK{ (v_i, v_blinding_i)_{i in chunk k} :  V_i = v_i*B + v_blinding_i*B_blinding  and  0 <= v_i < 2^64 }

    SolvencyStatement, with V_s = (den*R)*B - num*C_L:
        PK{ (s, s_blinding) :  V_s = s*B + s_blinding*B_blinding  and  0 <= s < 2^128 }

so that ``den*R - num*L = s >= 0`` with ``L = sum_i v_i`` (no wrap-around:
``N * 2^64 * num`` and ``den * R`` stay far below the group order, §3.3).

Each statement is a frozen dataclass built with keywords only, whose
:meth:`context` is the exact byte string bound into its range proof (§4), so a
proof made for one chunk, asset, round, exchange or tree verifies for no other.
The prover, the bundle verifier, the customer check and the tests all build
their range statements here.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from circuits.constants import GROUP_ORDER
from circuits.encoding import frame
from circuits.errors import ParameterError
from circuits.generators import PedersenGens
from circuits.group import Point, msm_raw
from circuits.limits import NODE_BITS, RANGE_BITS, SOLVENCY_BITS
from circuits.relations import Opening, RangeStatement

__all__ = ["ChunkStatement", "NodeStatement", "SolvencyStatement"]

_CHUNK_TAG: Final[bytes] = b"zk-solvency chunk v1"
_NODE_TAG: Final[bytes] = b"zk-solvency node v3"
_SOLVENCY_TAG: Final[bytes] = b"zk-solvency solvency v1"
#: Format version 2 (reserves from a wallet list): the context also binds the wallet list's SHA-256.
_SOLVENCY_TAG_V2: Final[bytes] = b"zk-solvency solvency v2"
_U64: Final[int] = 1 << 64


def _check_u64(name: str, value: int) -> None:
    if type(value) is not int or not 0 <= value < _U64:
        raise ParameterError(f"{name} must be an integer in [0, 2^64), got {value!r}")


def _check_root(merkle_root: bytes) -> None:
    if not isinstance(merkle_root, bytes) or len(merkle_root) != 32:
        raise ParameterError("merkle_root must be 32 bytes")


@dataclass(frozen=True, kw_only=True)
class ChunkStatement:
    """Chunk ``chunk`` of an asset: leaves ``chunk*m .. chunk*m + m - 1`` each commit to a value in ``[0, 2^64)``.

    ``m`` is ``chunk_size``; the statement binds the exchange, round, asset, tree
    size and Merkle root, so the proof covers these leaves of this tree only.
    """

    exchange: str
    round: str
    symbol: str
    leaf_count: int
    chunk_size: int
    chunk: int
    merkle_root: bytes

    def __post_init__(self) -> None:
        """Check what the context encodes (sizes and ranges); not the proof."""
        for name in ("leaf_count", "chunk_size", "chunk"):
            _check_u64(name, getattr(self, name))
        _check_root(self.merkle_root)

    def context(self) -> bytes:
        """Return the context bound into the chunk's range proof (layout: ``docs/FORMAT.md`` §4)."""
        return (
            _CHUNK_TAG
            + frame(self.exchange.encode())
            + frame(self.round.encode())
            + frame(self.symbol.encode())
            + struct.pack("<QQQ", self.leaf_count, self.chunk_size, self.chunk)
            + self.merkle_root
        )

    def range_statement(self, commitments: Sequence[Point]) -> RangeStatement:
        """Return the range statement of the chunk's commitments (``n = 64``, this context).

        Raises:
            ParameterError: not ``chunk_size`` commitments.
        """
        if len(commitments) != self.chunk_size:
            raise ParameterError(f"chunk of {len(commitments)} commitments, expected {self.chunk_size}")
        return RangeStatement(tuple(commitments), RANGE_BITS, self.context())


@dataclass(frozen=True, kw_only=True)
class NodeStatement:
    """Sum node ``split`` of an asset's tree (format version 3): both children commit to values in ``[0, 2^128)``.

    The node is the one whose right subtree starts at chunk ``split`` (``circuits.sumtree``);
    its two children's commitments are the statement's commitments, left first. The context
    binds the exchange, round, asset, tree size, chunk size, split and root.
    """

    exchange: str
    round: str
    symbol: str
    leaf_count: int
    chunk_size: int
    split: int
    merkle_root: bytes

    def __post_init__(self) -> None:
        """Check what the context encodes (sizes and ranges); not the proof."""
        for name in ("leaf_count", "chunk_size", "split"):
            _check_u64(name, getattr(self, name))
        _check_root(self.merkle_root)

    def context(self) -> bytes:
        """Return the context bound into the node's range proof (layout: ``docs/FORMAT.md`` §4)."""
        return (
            _NODE_TAG
            + frame(self.exchange.encode())
            + frame(self.round.encode())
            + frame(self.symbol.encode())
            + struct.pack("<QQQ", self.leaf_count, self.chunk_size, self.split)
            + self.merkle_root
        )

    def range_statement(self, left: Point, right: Point) -> RangeStatement:
        """Return the range statement ``((left, right), n = 128, this context)``."""
        return RangeStatement((left, right), NODE_BITS, self.context())


@dataclass(frozen=True, kw_only=True)
class SolvencyStatement:
    """An asset's solvency: ``V_s = (den*R)*B - num*C_L`` commits to a value in ``[0, 2^128)`` (§3.3).

    ``C_L`` is the sum of the asset's leaf commitments. The statement binds the
    exchange, round, asset, decimals, reserves, ratio, tree size and root, and ``C_L``.
    """

    exchange: str
    round: str
    symbol: str
    decimals: int
    reserves: int
    num: int
    den: int
    leaf_count: int
    merkle_root: bytes
    C_L: Point
    wallets_sha256: bytes | None = None
    reserves_basis: str = "declared"

    def __post_init__(self) -> None:
        """Check what the context encodes (sizes and ranges); not the proof."""
        for name in ("decimals", "num", "den", "leaf_count"):
            _check_u64(name, getattr(self, name))
        if type(self.reserves) is not int or not 0 <= self.reserves < 1 << SOLVENCY_BITS:
            raise ParameterError("reserves must be an integer in [0, 2^128)")
        _check_root(self.merkle_root)
        if self.wallets_sha256 is not None and (
            not isinstance(self.wallets_sha256, bytes) or len(self.wallets_sha256) != 32
        ):
            raise ParameterError("wallets_sha256 must be 32 bytes")
        if (self.reserves_basis == "declared") != (self.wallets_sha256 is None):
            raise ParameterError("a wallet list's digest and a wallet basis go together (format version 2)")

    def context(self) -> bytes:
        """Return the context bound into the solvency proof (layout: ``docs/FORMAT.md`` §4).

        Version 1 (declared reserves) ends with ``C_L``; with a wallet list (version 2)
        the tag is ``zk-solvency solvency v2`` and the wallet list's SHA-256 and the
        reserves basis (``frame("wallets")`` or ``frame("wallets+attested")``) follow ``C_L``.
        """
        return (
            (_SOLVENCY_TAG if self.wallets_sha256 is None else _SOLVENCY_TAG_V2)
            + frame(self.exchange.encode())
            + frame(self.round.encode())
            + frame(self.symbol.encode())
            + struct.pack("<Q", self.decimals)
            + self.reserves.to_bytes(16, "little")
            + struct.pack("<QQQ", self.num, self.den, self.leaf_count)
            + self.merkle_root
            + self.C_L.to_bytes()
            + (b"" if self.wallets_sha256 is None else self.wallets_sha256 + frame(self.reserves_basis.encode()))
        )

    def V_s(self, pc_gens: PedersenGens) -> Point:
        """Return the surplus commitment ``V_s = (den*R)*B - num*C_L`` (§3.3)."""
        be = pc_gens.B.backend
        return Point(
            msm_raw(
                be, [pc_gens.B.raw, self.C_L.raw], [self.den * self.reserves % GROUP_ORDER, (-self.num) % GROUP_ORDER]
            ),
            be,
        )

    def range_statement(self, pc_gens: PedersenGens) -> RangeStatement:
        """Return the range statement ``((V_s,), n = 128, this context)``."""
        return RangeStatement((self.V_s(pc_gens),), SOLVENCY_BITS, self.context())

    def opening(self, liabilities: int, liabilities_blinding: int) -> Opening:
        """Return the opening of ``V_s`` from ``C_L``'s: ``(den*R - num*L, -num*blinding mod r)`` (prover side).

        Raises:
            WitnessError: the surplus is negative (the asset is insolvent).
        """
        return Opening(
            self.den * self.reserves - self.num * liabilities, (-self.num * liabilities_blinding) % GROUP_ORDER
        )
