r"""Proof types and their canonical wire format.

The byte layouts and parsing rules are specified in ``notes/60-wire-format.md``.
Points are 48-byte compressed G1 encodings, scalars 32-byte little-endian
canonical encodings (:mod:`circuits.group`). Parsing validates every element
(canonical scalars, on-curve and in-subgroup points), bounds every count before
allocating, and rejects trailing bytes, so ``from_bytes(b).to_bytes() == b``
whenever ``from_bytes(b)`` succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from circuits.backends import GroupBackend, get_backend
from circuits.constants import (
    GENS_CAPACITY,
    GROUP_ORDER,
    POINT_SIZE,
    RANGEPROOF_FORMAT_VERSION,
    SCALAR_SIZE,
)
from circuits.errors import FormatError
from circuits.group import Point, scalar_from_bytes, scalar_to_bytes

__all__ = ["MAX_IPP_ROUNDS", "InnerProductProof", "RangeProof"]

#: Largest number of inner-product rounds: lg(GENS_CAPACITY).
MAX_IPP_ROUNDS: Final[int] = GENS_CAPACITY.bit_length() - 1

_RANGE_FIXED: Final[int] = 1 + 4 * POINT_SIZE + 3 * SCALAR_SIZE
_IPP_FIXED: Final[int] = 2 * SCALAR_SIZE
_ROUND: Final[int] = 2 * POINT_SIZE


class _Reader:
    """Sequential reader over untrusted bytes; every read is length-checked."""

    __slots__ = ("_backend", "_data", "_pos")

    def __init__(self, data: bytes, backend: GroupBackend) -> None:
        self._data = data
        self._pos = 0
        self._backend = backend

    def take(self, size: int) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            raise FormatError("unexpected end of data")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def point(self, name: str) -> Point:
        try:
            return Point.from_bytes(self.take(POINT_SIZE), self._backend)
        except FormatError as exc:
            raise FormatError(f"{name}: {exc}") from exc

    def scalar(self, name: str) -> int:
        try:
            return scalar_from_bytes(self.take(SCALAR_SIZE))
        except FormatError as exc:
            raise FormatError(f"{name}: {exc}") from exc

    def expect_end(self) -> None:
        if self._pos != len(self._data):
            raise FormatError(f"{len(self._data) - self._pos} trailing bytes")


def _check_scalars(**fields: int) -> None:
    for name, value in fields.items():
        if type(value) is not int or not 0 <= value < GROUP_ORDER:
            raise FormatError(f"{name}: scalar is not canonical (must be an int in [0, r))")


def _as_bytes(data: object, max_size: int) -> bytes:
    """Return ``data`` as bytes, refusing non-bytes and anything over ``max_size`` before copying it."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FormatError("proof encoding must be bytes")
    size = memoryview(data).nbytes
    if size > max_size:
        raise FormatError(f"proof encoding of {size} bytes is longer than the largest proof ({max_size} bytes)")
    return bytes(data)


@dataclass(frozen=True, eq=False)
class InnerProductProof:
    r"""Inner-product argument (``notes/20-inner-product.md``).

    Layout, ``k = len(L_vec)`` rounds, ``64*... = 96k + 64`` bytes::

        L_0 (48) R_0 (48) ... L_{k-1} (48) R_{k-1} (48) a (32) b (32)
    """

    L_vec: tuple[Point, ...]
    R_vec: tuple[Point, ...]
    a: int
    b: int

    def __post_init__(self) -> None:
        """Reject in-memory proofs that could not have come from canonical bytes."""
        if len(self.L_vec) != len(self.R_vec) or len(self.L_vec) > MAX_IPP_ROUNDS:
            raise FormatError("L_vec and R_vec must have equal length of at most MAX_IPP_ROUNDS")
        _check_scalars(a=self.a, b=self.b)

    def serialized_size(self) -> int:
        """Return the length of :meth:`to_bytes`."""
        return _ROUND * len(self.L_vec) + _IPP_FIXED

    def to_bytes(self) -> bytes:
        """Return the canonical encoding."""
        parts = []
        for L, R in zip(self.L_vec, self.R_vec, strict=True):
            parts.append(L.to_bytes())
            parts.append(R.to_bytes())
        parts.append(scalar_to_bytes(self.a))
        parts.append(scalar_to_bytes(self.b))
        return b"".join(parts)

    @classmethod
    def _read(cls, reader: _Reader, rounds: int) -> InnerProductProof:
        L_vec, R_vec = [], []
        for k in range(rounds):
            L_vec.append(reader.point(f"L_vec[{k}]"))
            R_vec.append(reader.point(f"R_vec[{k}]"))
        return cls(tuple(L_vec), tuple(R_vec), reader.scalar("a"), reader.scalar("b"))

    @classmethod
    def from_bytes(cls, data: bytes, backend: GroupBackend | None = None) -> InnerProductProof:
        """Parse and validate an encoding (see the class docstring).

        Raises:
            FormatError: on any malformed input.
        """
        data = _as_bytes(data, _IPP_FIXED + _ROUND * MAX_IPP_ROUNDS)
        body = len(data) - _IPP_FIXED
        if body < 0 or body % _ROUND:
            raise FormatError(f"inner-product proof length {len(data)} is not 96k + 64")
        rounds = body // _ROUND
        if rounds > MAX_IPP_ROUNDS:
            raise FormatError(f"inner-product proof has {rounds} rounds, at most {MAX_IPP_ROUNDS}")
        reader = _Reader(data, backend or get_backend())
        proof = cls._read(reader, rounds)
        reader.expect_end()
        return proof


@dataclass(frozen=True, eq=False)
class RangeProof:
    r"""Aggregated Bulletproofs range proof (``notes/30-range-proof.md``).

    Layout (version 1), ``k = lg(n*m)`` inner-product rounds, ``353 + 96k`` bytes::

        offset  size  field
        0       1     version = 0x01
        1       48    A
        49      48    S
        97      48    T_1
        145     48    T_2
        193     32    t_x
        225     32    t_x_blinding
        257     32    e_blinding
        289     96k   (L_i, R_i) for i = 0 .. k-1, each L_i then R_i
        289+96k 32    a
        321+96k 32    b

    For ``n = 64, m = 64``: ``k = 12``, 1,505 bytes.
    """

    A: Point
    S: Point
    T_1: Point
    T_2: Point
    t_x: int
    t_x_blinding: int
    e_blinding: int
    ipp_proof: InnerProductProof

    def __post_init__(self) -> None:
        """Reject non-canonical scalars, so every in-memory proof has exactly one encoding."""
        _check_scalars(t_x=self.t_x, t_x_blinding=self.t_x_blinding, e_blinding=self.e_blinding)

    @staticmethod
    def size_for(rounds: int) -> int:
        """Return the encoded size of a proof with ``rounds`` inner-product rounds."""
        return _RANGE_FIXED + _ROUND * rounds + _IPP_FIXED

    def serialized_size(self) -> int:
        """Return the length of :meth:`to_bytes`."""
        return self.size_for(len(self.ipp_proof.L_vec))

    def to_bytes(self) -> bytes:
        """Return the canonical encoding."""
        return b"".join(
            [
                bytes([RANGEPROOF_FORMAT_VERSION]),
                self.A.to_bytes(),
                self.S.to_bytes(),
                self.T_1.to_bytes(),
                self.T_2.to_bytes(),
                scalar_to_bytes(self.t_x),
                scalar_to_bytes(self.t_x_blinding),
                scalar_to_bytes(self.e_blinding),
                self.ipp_proof.to_bytes(),
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes, backend: GroupBackend | None = None) -> RangeProof:
        """Parse and validate an encoding (see the class docstring).

        Raises:
            FormatError: unknown version, bad length, non-canonical scalar,
                invalid point, or trailing bytes.
        """
        data = _as_bytes(data, RangeProof.size_for(MAX_IPP_ROUNDS))
        if not data:
            raise FormatError("empty range proof")
        if data[0] != RANGEPROOF_FORMAT_VERSION:
            raise FormatError(f"unknown range proof version {data[0]}")
        body = len(data) - _RANGE_FIXED - _IPP_FIXED
        if body < 0 or body % _ROUND:
            raise FormatError(f"range proof length {len(data)} is not 353 + 96k")
        rounds = body // _ROUND
        if rounds > MAX_IPP_ROUNDS:
            raise FormatError(f"range proof has {rounds} rounds, at most {MAX_IPP_ROUNDS}")
        reader = _Reader(data, backend or get_backend())
        reader.take(1)
        proof = cls(
            A=reader.point("A"),
            S=reader.point("S"),
            T_1=reader.point("T_1"),
            T_2=reader.point("T_2"),
            t_x=reader.scalar("t_x"),
            t_x_blinding=reader.scalar("t_x_blinding"),
            e_blinding=reader.scalar("e_blinding"),
            ipp_proof=InnerProductProof._read(reader, rounds),
        )
        reader.expect_end()
        return proof
