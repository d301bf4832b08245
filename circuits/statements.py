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
#: Format version 4 (margin accounts): the context frames the v1/v2 context and binds the margin section.
_SOLVENCY_TAG_V4: Final[bytes] = b"zk-solvency solvency v4"
_U64: Final[int] = 1 << 64


def _check_u64(name: str, value: int) -> None:
    if type(value) is not int or not 0 <= value < _U64:
        raise ParameterError(f"{name} must be an integer in [0, 2^64), got {value!r}")


def _check_root(merkle_root: bytes, name: str = "merkle_root") -> None:
    if not isinstance(merkle_root, bytes) or len(merkle_root) != 32:
        raise ParameterError(f"{name} must be 32 bytes")


def _margin_suffix(margin_digest: bytes | None) -> bytes:
    """The version-4 extension of a chunk or node context: ``margin_digest``, or nothing (§14.5)."""
    if margin_digest is None:
        return b""
    _check_root(margin_digest, "margin_digest")
    return margin_digest


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
    #: Format version 4: the margin digest, appended to the context (§14.5); ``None`` before.
    margin_digest: bytes | None = None

    def __post_init__(self) -> None:
        """Check what the context encodes (sizes and ranges); not the proof."""
        for name in ("leaf_count", "chunk_size", "chunk"):
            _check_u64(name, getattr(self, name))
        _check_root(self.merkle_root)
        _margin_suffix(self.margin_digest)

    def context(self) -> bytes:
        """Return the context bound into the chunk's range proof (layout: ``docs/FORMAT.md`` §4)."""
        return (
            _CHUNK_TAG
            + frame(self.exchange.encode())
            + frame(self.round.encode())
            + frame(self.symbol.encode())
            + struct.pack("<QQQ", self.leaf_count, self.chunk_size, self.chunk)
            + self.merkle_root
            + _margin_suffix(self.margin_digest)
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
    #: Format version 4: the margin digest, appended to the context (§14.5); ``None`` before.
    margin_digest: bytes | None = None

    def __post_init__(self) -> None:
        """Check what the context encodes (sizes and ranges); not the proof."""
        for name in ("leaf_count", "chunk_size", "split"):
            _check_u64(name, getattr(self, name))
        _check_root(self.merkle_root)
        _margin_suffix(self.margin_digest)

    def context(self) -> bytes:
        """Return the context bound into the node's range proof (layout: ``docs/FORMAT.md`` §4)."""
        return (
            _NODE_TAG
            + frame(self.exchange.encode())
            + frame(self.round.encode())
            + frame(self.symbol.encode())
            + struct.pack("<QQQ", self.leaf_count, self.chunk_size, self.split)
            + self.merkle_root
            + _margin_suffix(self.margin_digest)
        )

    def range_statement(self, left: Point, right: Point) -> RangeStatement:
        """Return the range statement ``((left, right), n = 128, this context)``."""
        return RangeStatement((left, right), NODE_BITS, self.context())


@dataclass(frozen=True, kw_only=True)
class SolvencyStatement:
    """An asset's solvency: ``V_s = (den*R)*B - num*C_L`` commits to a value in ``[0, 2^128)`` (§3.3).

    ``C_L`` is the sum of the asset's leaf commitments. The statement binds the
    exchange, round, asset, decimals, reserves, ratio, tree size and root, and ``C_L``.

    Format version 4 (margin accounts, §14.5): with ``margin_digest``, ``margin_root`` and
    ``C_D`` (the asset's debt commitment, the sum of the ``D`` of the slots naming it) set,
    ``V_s = (den*R)*B - num*(C_L - C_D)`` and the context is the v4 one, which frames the
    v1/v2 context and appends the three.
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
    #: Format version 4: the margin digest, the margin records' root and the asset's debt commitment.
    margin_digest: bytes | None = None
    margin_root: bytes | None = None
    C_D: Point | None = None

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
        margin = (self.margin_digest, self.margin_root, self.C_D)
        if any(x is not None for x in margin) and any(x is None for x in margin):
            raise ParameterError("margin_digest, margin_root and C_D go together (format version 4)")
        if self.margin_digest is not None:
            _check_root(self.margin_digest, "margin_digest")
        if self.margin_root is not None:
            _check_root(self.margin_root, "margin_root")
        if self.C_D is not None and not isinstance(self.C_D, Point):
            raise ParameterError("C_D must be a point")

    @property
    def has_margin(self) -> bool:
        """Whether this is a version-4 statement (margin digest, root and debt commitment set)."""
        return self.C_D is not None

    def context(self) -> bytes:
        """Return the context bound into the solvency proof (layout: ``docs/FORMAT.md`` §4, §14.5).

        Version 1 (declared reserves) ends with ``C_L``; with a wallet list (version 2)
        the tag is ``zk-solvency solvency v2`` and the wallet list's SHA-256 and the
        reserves basis (``frame("wallets")`` or ``frame("wallets+attested")``) follow ``C_L``.
        Version 4: ``"zk-solvency solvency v4" || frame(that context) || margin_digest ||
        margin_root || C_D``.
        """
        inner = self._context_v1_v2()
        if self.margin_digest is None or self.margin_root is None or self.C_D is None:
            return inner
        return _SOLVENCY_TAG_V4 + frame(inner) + self.margin_digest + self.margin_root + self.C_D.to_bytes()

    def _context_v1_v2(self) -> bytes:
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
        """Return the surplus commitment ``V_s = (den*R)*B - num*C_L`` (§3.3), ``- num*(C_L - C_D)`` in v4."""
        be = pc_gens.B.backend
        points = [pc_gens.B.raw, self.C_L.raw]
        scalars = [self.den * self.reserves % GROUP_ORDER, (-self.num) % GROUP_ORDER]
        if self.C_D is not None:
            points.append(self.C_D.raw)
            scalars.append(self.num % GROUP_ORDER)
        return Point(msm_raw(be, points, scalars), be)

    def range_statement(self, pc_gens: PedersenGens) -> RangeStatement:
        """Return the range statement ``((V_s,), n = 128, this context)``."""
        return RangeStatement((self.V_s(pc_gens),), SOLVENCY_BITS, self.context())

    def opening(self, liabilities: int, liabilities_blinding: int, debt: int = 0, debt_blinding: int = 0) -> Opening:
        """Return the opening of ``V_s`` from ``C_L``'s: ``(den*R - num*L, -num*blinding mod r)`` (prover side).

        Version 4: ``V_s`` opens to ``(den*R - num*(L - D), -num*(blinding_L - blinding_D))``; pass
        the net amounts as ``liabilities`` and ``liabilities_blinding``, or ``D`` and its blinding as
        ``debt`` and ``debt_blinding`` (the same result).

        Raises:
            WitnessError: the surplus is negative (the asset is insolvent).
        """
        net, net_blinding = liabilities - debt, liabilities_blinding - debt_blinding
        return Opening(self.den * self.reserves - self.num * net, (-self.num * net_blinding) % GROUP_ORDER)
