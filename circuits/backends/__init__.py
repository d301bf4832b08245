"""Curve backends for BLS12-381 G1 behind one interface (:class:`GroupBackend`).

``fast`` wraps py-arkworks-bls12381 (native, the default); ``reference`` wraps
py_ecc's pure-Python ``optimized_bls12_381``. Both implement exactly the same
operations with the same encodings; ``tests/test_backends.py`` requires
byte-identical results. Only :mod:`circuits.group` should call these directly.
"""

from __future__ import annotations

import os
from functools import cache

from circuits.backends.base import GroupBackend
from circuits.errors import ParameterError

__all__ = ["BACKEND_ENV", "BACKEND_NAMES", "GroupBackend", "get_backend"]

#: Environment variable that selects the default backend.
BACKEND_ENV = "SOLVENCY_BACKEND"
#: Names accepted by :func:`get_backend`.
BACKEND_NAMES = ("fast", "reference")


def get_backend(name: str | None = None) -> GroupBackend:
    """Return the backend called ``name``, defaulting to ``$SOLVENCY_BACKEND`` or ``fast``.

    Raises:
        ParameterError: if the name is unknown.
    """
    chosen = name if name is not None else os.environ.get(BACKEND_ENV) or "fast"
    return _load(chosen)


@cache
def _load(name: str) -> GroupBackend:
    if name == "fast":
        from circuits.backends.fast import FastBackend

        return FastBackend()
    if name == "reference":
        from circuits.backends.reference import ReferenceBackend

        return ReferenceBackend()
    raise ParameterError(f"unknown backend {name!r}; expected one of {', '.join(BACKEND_NAMES)}")
