"""The interface every curve backend implements.

A backend manipulates *raw* points of its own library (opaque to callers) and
scalars as Python ints in ``[0, r)``. Encodings follow the ZCash / IETF BLS12-381
compressed serialization (draft-irtf-cfrg-pairing-friendly-curves, appendix C):
48 bytes, big-endian x, with the compression, infinity and sign flags in the
three most significant bits of the first byte.

Decoding here assumes :func:`circuits.group.Point.from_bytes` has already
checked the length, the flag bits and ``x < p``; the backend still checks that
the point is on the curve and in the prime-order subgroup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["RawPoint"]

#: A point in a backend's own representation. Never crosses the backend boundary
#: without being wrapped in :class:`circuits.group.Point`.
RawPoint = Any


class GroupBackend(Protocol):
    """Operations on BLS12-381 G1 that both backends provide identically."""

    #: Short name, as accepted by :func:`circuits.backends.get_backend`.
    name: str
    #: True when :meth:`msm` releases the GIL, so threads run MSMs in parallel.
    releases_gil: bool

    def identity(self) -> RawPoint:
        """Return the point at infinity."""

    def generator(self) -> RawPoint:
        """Return the standard BLS12-381 G1 generator."""

    def add(self, p: RawPoint, q: RawPoint) -> RawPoint:
        """Return ``p + q``."""

    def neg(self, p: RawPoint) -> RawPoint:
        """Return ``-p``."""

    def mul(self, p: RawPoint, k: int) -> RawPoint:
        """Return ``k * p`` for a scalar ``0 <= k < r``."""

    def msm(self, points: Sequence[RawPoint], scalars: Sequence[int]) -> RawPoint:
        """Return ``sum(k_i * P_i)``; scalars are ints in ``[0, r)``, lengths are equal."""

    def eq(self, p: RawPoint, q: RawPoint) -> bool:
        """Return whether ``p == q`` as group elements."""

    def is_identity(self, p: RawPoint) -> bool:
        """Return whether ``p`` is the point at infinity."""

    def compress(self, p: RawPoint) -> bytes:
        """Return the 48-byte compressed encoding of ``p``."""

    def decompress(self, data: bytes) -> RawPoint:
        """Decode pre-validated compressed bytes of a non-identity point.

        Raises:
            FormatError: if the point is not on the curve or not in the subgroup.
        """

    def decompress_on_curve(self, data: bytes) -> RawPoint:
        """Decode pre-validated compressed bytes with the on-curve check but NO subgroup check.

        Raises:
            FormatError: if the point is not on the curve.
        """

    def hash_to_curve(self, msg: bytes, dst: bytes) -> RawPoint:
        """RFC 9380 ``hash_to_curve`` with suite ``BLS12381G1_XMD:SHA-256_SSWU_RO_``."""

    def to_xy(self, p: RawPoint) -> bytes:
        """Return the 96-byte affine encoding ``x || y`` (big-endian) of a non-identity point."""

    def from_xy_trusted(self, data: bytes) -> RawPoint:
        """Load ``x || y`` WITHOUT on-curve or subgroup checks.

        Dangerous by design: only for bytes authenticated by a pinned digest
        (the generator table, :mod:`circuits.generators`), never for input.
        """
