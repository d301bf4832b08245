"""The ``reference`` backend: py_ecc ``optimized_bls12_381`` (pure Python).

It is independent code from the ``fast`` backend, with the same encodings, and
about 40x slower. It exists so that an auditor can check every result against a
readable implementation. Two things are added on top of py_ecc:

* an explicit subgroup check, because ``py_ecc``'s ``decompress_G1`` accepts
  on-curve points outside the prime-order subgroup: ``r * P == O``;
* a Pippenger (bucket) multi-scalar multiplication, :func:`pippenger`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from py_ecc.bls.hash_to_curve import hash_to_G1
from py_ecc.bls.point_compression import compress_G1, decompress_G1
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.optimized_bls12_381 import (
    G1,
    Z1,
    add,
    double,
    eq,
    is_inf,
    multiply,
    neg,
    normalize,
)

from circuits.constants import FIELD_MODULUS, GROUP_ORDER
from circuits.errors import FormatError

#: Compressed-encoding flags (ZCash serialization, top bits of the first byte).
_INFINITY_FLAG = 1 << 382
_SIGN_FLAG = 1 << 381

__all__ = ["pippenger"]

RawPoint = Any


def _window_bits(size: int) -> int:
    """Bucket width ``c`` for Pippenger, minimising the additions ``ceil(255/c) * (size + 2^(c+1))``."""
    bits = GROUP_ORDER.bit_length()
    return min(range(1, 17), key=lambda c: (-(-bits // c)) * (size + (2 << c)))


def pippenger(points: Sequence[RawPoint], scalars: Sequence[int]) -> RawPoint:
    """Return ``sum(k_i * P_i)`` with Pippenger's bucket method.

    Scalars are cut into ``c``-bit windows. For each window, from the most
    significant down, the accumulator is doubled ``c`` times, every point is
    added to the bucket of its digit, and the buckets are summed as
    ``sum_d d * bucket_d`` with the running-sum trick (two additions per bucket).
    """
    if not points:
        return Z1
    c = _window_bits(len(points))
    mask = (1 << c) - 1
    windows = (GROUP_ORDER.bit_length() + c - 1) // c
    acc: RawPoint = Z1
    for w in reversed(range(windows)):
        for _ in range(c):
            acc = double(acc)
        buckets: list[RawPoint | None] = [None] * (mask + 1)
        shift = w * c
        for point, k in zip(points, scalars, strict=True):
            digit = (k >> shift) & mask
            if digit:
                bucket = buckets[digit]
                buckets[digit] = point if bucket is None else add(bucket, point)
        running: RawPoint = Z1
        window_sum: RawPoint = Z1
        for digit in range(mask, 0, -1):
            bucket = buckets[digit]
            if bucket is not None:
                running = add(running, bucket)
            window_sum = add(window_sum, running)
        acc = add(acc, window_sum)
    return acc


class ReferenceBackend:
    """BLS12-381 G1 through py_ecc (pure Python)."""

    name = "reference"
    releases_gil = False

    def identity(self) -> RawPoint:
        """Return the point at infinity."""
        return Z1

    def generator(self) -> RawPoint:
        """Return the standard generator."""
        return G1

    def add(self, p: RawPoint, q: RawPoint) -> RawPoint:
        """Return ``p + q``."""
        return add(p, q)

    def neg(self, p: RawPoint) -> RawPoint:
        """Return ``-p``."""
        return neg(p)

    def mul(self, p: RawPoint, k: int) -> RawPoint:
        """Return ``k * p``."""
        return multiply(p, k % GROUP_ORDER)

    def msm(self, points: Sequence[RawPoint], scalars: Sequence[int]) -> RawPoint:
        """Return ``sum(k_i * P_i)`` with :func:`pippenger`."""
        return pippenger(points, [k % GROUP_ORDER for k in scalars])

    def eq(self, p: RawPoint, q: RawPoint) -> bool:
        """Return whether ``p == q``."""
        return bool(eq(p, q))

    def is_identity(self, p: RawPoint) -> bool:
        """Return whether ``p`` is the identity."""
        return bool(is_inf(p))

    def compress(self, p: RawPoint) -> bytes:
        """Return the 48-byte compressed encoding."""
        return int(compress_G1(p)).to_bytes(48, "big")

    def decompress_on_curve(self, data: bytes) -> RawPoint:
        """Decode pre-validated bytes; py_ecc's decompression checks the curve only.

        py_ecc reads a zero x coordinate as the point at infinity even without the
        infinity flag, so the on-curve points ``(0, +-2)`` (order 3) are decoded here:
        they must fail the subgroup check, as on the fast backend, not the curve check.
        """
        value = int.from_bytes(data, "big")
        if value & _INFINITY_FLAG == 0 and value % (1 << 381) == 0:
            y = 2 if value & _SIGN_FLAG == 0 else FIELD_MODULUS - 2  # y^2 = 0^3 + 4; sign flag: the larger root
            return (FQ(0), FQ(y), FQ.one())
        try:
            return decompress_G1(value)  # type: ignore[arg-type]
        except ValueError as exc:
            raise FormatError("point is not on the BLS12-381 G1 curve") from exc

    def decompress(self, data: bytes) -> RawPoint:
        """Decode pre-validated bytes; check on-curve, then ``r * P == O``."""
        point = self.decompress_on_curve(data)
        if not is_inf(multiply(point, GROUP_ORDER)):
            raise FormatError("point is not in the prime-order subgroup of G1")
        return point

    def to_xy(self, p: RawPoint) -> bytes:
        """Return the affine ``x || y`` encoding, big-endian."""
        x, y = normalize(p)
        return int(x.n).to_bytes(48, "big") + int(y.n).to_bytes(48, "big")

    def from_xy_trusted(self, data: bytes) -> RawPoint:
        """Load authenticated ``x || y`` bytes without checks (see the interface)."""
        return (FQ(int.from_bytes(data[:48], "big")), FQ(int.from_bytes(data[48:96], "big")), FQ.one())

    def hash_to_curve(self, msg: bytes, dst: bytes) -> RawPoint:
        """RFC 9380 hash_to_curve (BLS12381G1_XMD:SHA-256_SSWU_RO_)."""
        if len(dst) > 255:  # RFC 9380 §5.3.3: hash an oversize DST first
            dst = hashlib.sha256(b"H2C-OVERSIZE-DST-" + dst).digest()
        return hash_to_G1(msg, dst, hashlib.sha256)  # type: ignore[arg-type]
