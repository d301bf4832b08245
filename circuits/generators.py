r"""Nothing-up-my-sleeve generators from RFC 9380 hash_to_curve.

The derivation (suite, :data:`circuits.constants.GENS_DST`, the messages of ``B``,
``B_blinding``, ``G_vec[i]`` and ``H_vec[i]``), :func:`generator_set_id`, the layout of the
shipped table ``circuits/data/generators_v1.bin`` and its pinned hash :data:`TABLE_SHA256`,
with known answers, are specified in ``docs/FORMAT.md`` §10 (``tests/test_spec.py`` checks
this module against it, ``tests/test_generators.py`` re-derives every table point).

The table is loaded only if its SHA-256 is the pinned one; otherwise the points are derived
(about 0.2 ms each on the fast backend, 2.5 ms on the reference one). Points past the table
are always derived, lazily, so a verifier only pays for what it uses.
"""

from __future__ import annotations

import hashlib
import struct
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from circuits.backends import GroupBackend, get_backend
from circuits.backends.base import RawPoint
from circuits.constants import GENS_CAPACITY, GENS_DST, GROUP_ORDER
from circuits.errors import ParameterError
from circuits.group import Point, msm_raw

__all__ = [
    "GENS_VERSION",
    "TABLE_PAIRS",
    "TABLE_SHA256",
    "BulletproofGens",
    "PedersenGens",
    "generator_set_id",
    "table_bytes",
]

#: Version of the generator derivation (part of the generator-set id).
GENS_VERSION: Final[int] = 1


#: Generator pairs shipped in the precomputed table.
TABLE_PAIRS: Final[int] = 8192
#: SHA-256 of ``circuits/data/generators_v1.bin``; see :func:`table_bytes`.
TABLE_SHA256: Final[str] = "c6f2dfb81926522a1e513cc3663f22a1adbdb500e5f9fbef4e89d90548149236"
_XY: Final[int] = 96


def table_bytes(backend: GroupBackend, pairs: int = TABLE_PAIRS) -> bytes:
    """Derive the generator table (``B, B_blinding, G_0, H_0, ...``) by hash_to_curve."""
    h2c = backend.hash_to_curve
    parts = [backend.to_xy(h2c(b"B", GENS_DST)), backend.to_xy(h2c(b"B_blinding", GENS_DST))]
    for i in range(pairs):
        idx = struct.pack("<I", i)
        parts.append(backend.to_xy(h2c(b"G" + idx, GENS_DST)))
        parts.append(backend.to_xy(h2c(b"H" + idx, GENS_DST)))
    return b"".join(parts)


@cache
def _table_data() -> bytes | None:
    """Return the shipped table if it is present and authentic, else None."""
    try:
        data = (Path(__file__).resolve().parent / "data" / "generators_v1.bin").read_bytes()
    except OSError:
        return None
    if len(data) != _XY * (2 + 2 * TABLE_PAIRS) or hashlib.sha256(data).hexdigest() != TABLE_SHA256:
        return None
    return data


@cache
def generator_set_id() -> bytes:
    """Return the 32-byte identifier of the generator set (DST, version, capacity)."""
    return hashlib.sha256(
        b"zk-solvency generators"
        + struct.pack("<I", len(GENS_DST))
        + GENS_DST
        + struct.pack("<I", GENS_VERSION)
        + struct.pack("<Q", GENS_CAPACITY)
    ).digest()


@dataclass(frozen=True, eq=False)
class PedersenGens:
    r"""The Pedersen commitment bases: ``Com(v, v_blinding) = v*B + v_blinding*B_blinding``."""

    B: Point
    B_blinding: Point

    @staticmethod
    def default(backend: GroupBackend | None = None) -> PedersenGens:
        """Return the memoized protocol generators for ``backend``."""
        be = backend or get_backend()
        gens = _PEDERSEN.get(be.name)
        if gens is None:
            table = _table_data()
            if table is not None:
                B = Point(be.from_xy_trusted(table[:_XY]), be)
                B_blinding = Point(be.from_xy_trusted(table[_XY : 2 * _XY]), be)
            else:
                B = Point.hash_to_curve(b"B", GENS_DST, be)
                B_blinding = Point.hash_to_curve(b"B_blinding", GENS_DST, be)
            gens = _PEDERSEN.setdefault(be.name, PedersenGens(B=B, B_blinding=B_blinding))
        return gens

    def commit(self, v: int, v_blinding: int) -> Point:
        """Return ``v*B + v_blinding*B_blinding`` (see ``notes/10-pedersen.md``)."""
        be = self.B.backend
        return Point(msm_raw(be, [self.B.raw, self.B_blinding.raw], [v % GROUP_ORDER, v_blinding % GROUP_ORDER]), be)


class BulletproofGens:
    """The vectors ``G_vec`` and ``H_vec`` of capacity :data:`GENS_CAPACITY`, derived lazily.

    Use :meth:`default` to get the memoized instance of a backend; points are
    derived on first use and kept, so a verifier only pays for what it uses.
    """

    def __init__(self, backend: GroupBackend) -> None:
        """Create an empty (lazy) generator set for ``backend``."""
        self.backend = backend
        self.capacity = GENS_CAPACITY
        self._G: list[RawPoint] = []
        self._H: list[RawPoint] = []
        self._lock = threading.Lock()

    @staticmethod
    def default(backend: GroupBackend | None = None) -> BulletproofGens:
        """Return the memoized generator set for ``backend``."""
        be = backend or get_backend()
        gens = _BULLETPROOF.get(be.name)
        if gens is None:
            gens = _BULLETPROOF.setdefault(be.name, BulletproofGens(be))
        return gens

    def _ensure(self, k: int) -> None:
        if not 0 <= k <= self.capacity:
            raise ParameterError(f"need {k} generators; allowed is 0 .. {self.capacity}")
        if len(self._G) >= k:
            return
        with self._lock:
            table = _table_data()
            if table is not None and len(self._G) < TABLE_PAIRS:
                load = self.backend.from_xy_trusted
                for i in range(len(self._G), TABLE_PAIRS):
                    offset = _XY * (2 + 2 * i)
                    self._G.append(load(table[offset : offset + _XY]))
                    self._H.append(load(table[offset + _XY : offset + 2 * _XY]))
            h2c = self.backend.hash_to_curve
            for i in range(len(self._G), k):
                idx = struct.pack("<I", i)
                self._G.append(h2c(b"G" + idx, GENS_DST))
                self._H.append(h2c(b"H" + idx, GENS_DST))

    def G_raw(self, k: int) -> list[RawPoint]:
        """Return the first ``k`` G generators as raw backend points."""
        self._ensure(k)
        return self._G[:k]

    def H_raw(self, k: int) -> list[RawPoint]:
        """Return the first ``k`` H generators as raw backend points."""
        self._ensure(k)
        return self._H[:k]

    def G(self, k: int) -> list[Point]:
        """Return the first ``k`` G generators."""
        return [Point(p, self.backend) for p in self.G_raw(k)]

    def H(self, k: int) -> list[Point]:
        """Return the first ``k`` H generators."""
        return [Point(p, self.backend) for p in self.H_raw(k)]


# Memoized per backend name (backends are themselves singletons, see circuits.backends).
_PEDERSEN: dict[str, PedersenGens] = {}
_BULLETPROOF: dict[str, BulletproofGens] = {}
