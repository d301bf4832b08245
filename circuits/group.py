r"""BLS12-381 G1 points and scalars mod r: canonical encodings and MSM.

This is the only module that talks to a curve backend. Everything above it uses
:class:`Point` (an immutable group element tied to one backend) and plain Python
``int`` scalars in ``[0, r)``.

Encodings (see ``circuits/notes/60-wire-format.md``):

* **Point**: 48 bytes, the ZCash / IETF compressed serialization of BLS12-381 G1
  (draft-irtf-cfrg-pairing-friendly-curves-11, appendix C): big-endian ``x``;
  bit 7 of byte 0 is the compression flag (must be 1), bit 6 the infinity flag,
  bit 5 the sign of ``y``. The identity is ``0xc0`` followed by 47 zero bytes.
  Decoding rejects wrong lengths, bad flags, ``x >= p``, points not on the curve
  and points outside the prime-order subgroup.
* **Scalar**: 32 bytes, **little-endian**, value ``< r`` (canonical). This is the
  byte order of dalek's and arkworks' scalar serialization.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Final

from circuits.backends import GroupBackend, get_backend
from circuits.backends.base import RawPoint
from circuits.constants import FIELD_MODULUS, GROUP_ORDER, POINT_SIZE, SCALAR_SIZE
from circuits.errors import FormatError, ParameterError

__all__ = [
    "Point",
    "batch_invert",
    "inner_product",
    "msm",
    "msm_raw",
    "random_scalar",
    "scalar_from_bytes",
    "scalar_from_int",
    "scalar_to_bytes",
]

_COMPRESSION_FLAG: Final[int] = 0x80
_INFINITY_FLAG: Final[int] = 0x40
_SIGN_FLAG: Final[int] = 0x20
_IDENTITY_BYTES: Final[bytes] = bytes([_COMPRESSION_FLAG | _INFINITY_FLAG]) + bytes(POINT_SIZE - 1)

#: MSMs at least this large are split across two threads on a GIL-releasing backend.
PARALLEL_MSM_THRESHOLD: Final[int] = 2048


class Point:
    """An element of the prime-order subgroup of BLS12-381 G1.

    Instances are immutable and belong to one backend; mixing backends raises
    :class:`ParameterError`. Construct from bytes with :meth:`from_bytes` (which
    validates), or from the group operations.
    """

    __slots__ = ("_backend", "_raw")

    _backend: GroupBackend
    _raw: RawPoint

    def __init__(self, raw: RawPoint, backend: GroupBackend) -> None:
        """Wrap a raw backend point. Callers must only pass points known to be in G1."""
        object.__setattr__(self, "_raw", raw)
        object.__setattr__(self, "_backend", backend)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Point is immutable")

    @property
    def raw(self) -> RawPoint:
        """The backend's own representation (for MSM inputs)."""
        return self._raw

    @property
    def backend(self) -> GroupBackend:
        """The backend this point belongs to."""
        return self._backend

    @classmethod
    def identity(cls, backend: GroupBackend | None = None) -> Point:
        """Return the point at infinity."""
        be = backend or get_backend()
        return cls(be.identity(), be)

    @classmethod
    def generator(cls, backend: GroupBackend | None = None) -> Point:
        """Return the standard BLS12-381 G1 generator."""
        be = backend or get_backend()
        return cls(be.generator(), be)

    @classmethod
    def hash_to_curve(cls, msg: bytes, dst: bytes, backend: GroupBackend | None = None) -> Point:
        """RFC 9380 §3 ``hash_to_curve``, suite ``BLS12381G1_XMD:SHA-256_SSWU_RO_`` (§8.8.1)."""
        be = backend or get_backend()
        return cls(be.hash_to_curve(msg, dst), be)

    @classmethod
    def from_bytes(cls, data: bytes, backend: GroupBackend | None = None) -> Point:
        """Decode a 48-byte compressed point, validating everything.

        Raises:
            FormatError: wrong length, bad flag bits, non-canonical ``x``, not on
                the curve, or not in the prime-order subgroup.
        """
        be = backend or get_backend()
        checked = _check_encoding(data)
        if checked is None:
            return cls(be.identity(), be)
        return cls(be.decompress(checked), be)

    @classmethod
    def from_bytes_without_subgroup_check(cls, data: bytes, backend: GroupBackend | None = None) -> Point:
        """Decode like :meth:`from_bytes` but WITHOUT the subgroup check (about 3x faster).

        Dangerous: the result may have a small-order component. Use it only for
        points that are merely *summed* and compared with a fully validated point
        (the customer check sums the leaves outside its own chunk this way and
        compares the sum with the manifest's validated ``C_L``); never for a point
        that enters a proof verification. ``solvency verify`` checks every leaf fully.
        """
        be = backend or get_backend()
        checked = _check_encoding(data)
        if checked is None:
            return cls(be.identity(), be)
        return cls(be.decompress_on_curve(checked), be)

    def to_bytes(self) -> bytes:
        """Return the canonical 48-byte compressed encoding."""
        return self._backend.compress(self._raw)

    def is_identity(self) -> bool:
        """Return whether this is the point at infinity."""
        return self._backend.is_identity(self._raw)

    def _same(self, other: Point) -> GroupBackend:
        if other._backend is not self._backend:
            raise ParameterError("points from different backends cannot be combined")
        return self._backend

    def __add__(self, other: Point) -> Point:
        be = self._same(other)
        return Point(be.add(self._raw, other._raw), be)

    def __sub__(self, other: Point) -> Point:
        be = self._same(other)
        return Point(be.add(self._raw, be.neg(other._raw)), be)

    def __neg__(self) -> Point:
        return Point(self._backend.neg(self._raw), self._backend)

    def __mul__(self, k: int) -> Point:
        if not isinstance(k, int):
            return NotImplemented
        return Point(self._backend.mul(self._raw, k % GROUP_ORDER), self._backend)

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        return self._same(other).eq(self._raw, other._raw)

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        return f"Point({self.to_bytes().hex()})"


def _check_encoding(data: object) -> bytes | None:
    """Validate length, flags and ``x < p`` of a compressed encoding; ``None`` means the identity.

    Raises:
        FormatError: on any violation of the ZCash/IETF compressed format.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FormatError("point encoding must be bytes")
    size = memoryview(data).nbytes  # checked before copying
    if size != POINT_SIZE:
        raise FormatError(f"point encoding must be {POINT_SIZE} bytes, got {size}")
    data = bytes(data)
    flags = data[0]
    if not flags & _COMPRESSION_FLAG:
        raise FormatError("point encoding lacks the compression flag")
    if flags & _INFINITY_FLAG:
        if data != _IDENTITY_BYTES:
            raise FormatError("non-canonical encoding of the point at infinity")
        return None
    x = int.from_bytes(bytes([flags & 0x1F]) + data[1:], "big")
    if x >= FIELD_MODULUS:
        raise FormatError("point x-coordinate is not reduced mod p")
    return data


def scalar_to_bytes(k: int) -> bytes:
    """Encode a scalar ``0 <= k < r`` as 32 little-endian bytes."""
    if not 0 <= k < GROUP_ORDER:
        raise ParameterError("scalar out of range [0, r)")
    return k.to_bytes(SCALAR_SIZE, "little")


def scalar_from_bytes(data: bytes) -> int:
    """Decode 32 little-endian bytes as a canonical scalar.

    Raises:
        FormatError: wrong length, or value ``>= r`` (non-canonical).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FormatError("scalar encoding must be bytes")
    if len(data) != SCALAR_SIZE:
        raise FormatError(f"scalar encoding must be {SCALAR_SIZE} bytes, got {len(data)}")
    k = int.from_bytes(data, "little")
    if k >= GROUP_ORDER:
        raise FormatError("scalar is not canonical (>= group order r)")
    return k


def scalar_from_int(k: int) -> int:
    """Reduce any integer mod r (negative integers map to ``r - |k| mod r``)."""
    return k % GROUP_ORDER


def random_scalar() -> int:
    """Return a uniformly random non-zero scalar from the OS CSPRNG (:mod:`secrets`)."""
    while True:
        k = secrets.randbelow(GROUP_ORDER)
        if k:
            return k


def inner_product(a: Sequence[int], b: Sequence[int]) -> int:
    """Return ``<a, b> mod r``.

    Raises:
        ParameterError: if the lengths differ.
    """
    if len(a) != len(b):
        raise ParameterError("inner product of vectors of different lengths")
    return sum(x * y for x, y in zip(a, b, strict=True)) % GROUP_ORDER


def batch_invert(values: Sequence[int]) -> list[int]:
    """Invert every (non-zero) scalar with one modular inversion (Montgomery's trick)."""
    n = len(values)
    prefix = [1] * (n + 1)
    for i, v in enumerate(values):
        if v % GROUP_ORDER == 0:
            raise ParameterError("cannot invert zero")
        prefix[i + 1] = prefix[i] * v % GROUP_ORDER
    inv = pow(prefix[n], -1, GROUP_ORDER)
    out = [0] * n
    for i in range(n - 1, -1, -1):
        out[i] = prefix[i] * inv % GROUP_ORDER
        inv = inv * values[i] % GROUP_ORDER
    return out


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="msm")


def msm_raw(
    backend: GroupBackend, points: Sequence[RawPoint], scalars: Sequence[int], *, threads: int = 2
) -> RawPoint:
    """Return ``sum(k_i * P_i)`` over raw backend points; scalars must already be in ``[0, r)``.

    On a GIL-releasing backend, an MSM of at least :data:`PARALLEL_MSM_THRESHOLD`
    points is split in two halves computed on two threads.
    """
    if len(points) != len(scalars):
        raise ParameterError("msm needs as many scalars as points")
    n = len(points)
    if threads > 1 and backend.releases_gil and n >= PARALLEL_MSM_THRESHOLD:
        half = n // 2
        future = _pool().submit(backend.msm, points[half:], scalars[half:])
        low = backend.msm(points[:half], scalars[:half])
        return backend.add(low, future.result())
    return backend.msm(points, scalars)


def msm(scalars: Sequence[int], points: Sequence[Point], *, threads: int = 2) -> Point:
    """Return ``sum(scalars[i] * points[i])`` (all points from one backend)."""
    if not points:
        raise ParameterError("msm of zero points has no backend; pass at least one point")
    be = points[0].backend
    raws = [p.raw for p in points]
    for p in points:
        if p.backend is not be:
            raise ParameterError("points from different backends cannot be combined")
    return Point(msm_raw(be, raws, [k % GROUP_ORDER for k in scalars], threads=threads), be)
