"""The length framing of every variable-length string hashed or bound by the formats (``docs/FORMAT.md`` §4)."""

from __future__ import annotations

import struct

__all__ = ["frame"]


def frame(data: bytes) -> bytes:
    """Return ``LE32(len(data)) || data``."""
    return struct.pack("<I", len(data)) + data
