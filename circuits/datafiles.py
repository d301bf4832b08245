"""The bundle's binary data files: names, headers, records, the leaf id.

Their layout (file names, the 16-byte header, the records) is specified in
``docs/FORMAT.md`` §2-§3, the leaf id in §8.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from typing import Final

from circuits.constants import POINT_SIZE
from circuits.encoding import frame
from circuits.errors import FormatError
from circuits.limits import NODE_BITS, RANGE_BITS, SOLVENCY_BITS
from circuits.proofs import RangeProof

__all__ = [
    "HEADER_SIZE",
    "LEAF_ID_SIZE",
    "LEAF_RECORD_SIZE",
    "MAGIC_LEAVES",
    "MAGIC_NODES",
    "MAGIC_NODE_PROOFS",
    "MAGIC_RANGE_PROOFS",
    "MAGIC_SOLVENCY",
    "SOLVENCY_RECORD_SIZE",
    "check_header",
    "data_file_names",
    "encode_header",
    "iter_leaf_records",
    "leaf_id",
    "node_proof_record_size",
    "range_record_size",
]

MAGIC_LEAVES: Final[bytes] = b"ZKSLEAF1"
MAGIC_RANGE_PROOFS: Final[bytes] = b"ZKSRNGP1"
MAGIC_SOLVENCY: Final[bytes] = b"ZKSSOLV1"
#: Format version 3: the chunk tree's nodes (commitment || hash) and the sum nodes' range proofs.
MAGIC_NODES: Final[bytes] = b"ZKSNODE1"
MAGIC_NODE_PROOFS: Final[bytes] = b"ZKSNODP1"
HEADER_SIZE: Final[int] = 16
LEAF_ID_SIZE: Final[int] = 32
LEAF_RECORD_SIZE: Final[int] = LEAF_ID_SIZE + POINT_SIZE
#: Size of the one record of a solvency file: a range proof of one ``SOLVENCY_BITS`` value.
SOLVENCY_RECORD_SIZE: Final[int] = RangeProof.size_for(SOLVENCY_BITS.bit_length() - 1)

_LEAF_ID_TAG: Final[bytes] = b"zk-solvency leaf id v1"


def range_record_size(m: int) -> int:
    """Return the size of one chunk proof of ``m`` 64-bit values."""
    return RangeProof.size_for((RANGE_BITS * m).bit_length() - 1)


def node_proof_record_size() -> int:
    """Return the size of one node proof: an aggregated proof of two ``NODE_BITS``-bit values (v3)."""
    return RangeProof.size_for((2 * NODE_BITS).bit_length() - 1)


def leaf_id(round_label: str, symbol: str, customer_id: str, leaf_salt: bytes) -> bytes:
    """Return the keyed leaf id of a customer's leaf (§8)."""
    return hashlib.sha256(
        _LEAF_ID_TAG
        + frame(round_label.encode())
        + frame(symbol.encode())
        + frame(customer_id.encode())
        + leaf_salt
    ).digest()


def data_file_names(symbol: str) -> dict[str, str]:
    """Return the names of an asset's data files, by manifest section (§2; ``nodes``, ``node_proofs``: v3)."""
    return {
        "leaves": f"{symbol}.leaves.bin",
        "range_proofs": f"{symbol}.rangeproofs.bin",
        "solvency": f"{symbol}.solvency.bin",
        "nodes": f"{symbol}.nodes.bin",
        "node_proofs": f"{symbol}.nodeproofs.bin",
    }


def encode_header(magic: bytes, count: int, record_size: int) -> bytes:
    """Return the 16-byte data-file header (§3)."""
    return magic + struct.pack("<II", count, record_size)


def check_header(header: bytes, magic: bytes, count: int, record_size: int, section: str) -> None:
    """Check a data file's 16-byte header against the values the manifest implies (§3).

    The total length (``HEADER_SIZE + count * record_size``) is the manifest's
    ``size``, which the reader checks separately.

    Raises:
        FormatError: naming ``section``, on any mismatch.
    """
    if header == encode_header(magic, count, record_size):
        return
    if len(header) < HEADER_SIZE:
        raise FormatError(f"{section}: file shorter than its header", section=section, file=section)
    if header[:8] != magic:
        raise FormatError(f"{section}: bad magic {header[:8]!r}, expected {magic!r}", section=section, file=section)
    got_count, got_size = struct.unpack_from("<II", header, 8)
    raise FormatError(
        f"{section}: header says {got_count} records of {got_size} bytes, manifest implies {count} of {record_size}",
        section=section,
        file=section,
    )


def iter_leaf_records(body: bytes, start: int = 0) -> Iterator[tuple[int, bytes, bytes]]:
    """Yield ``(index, leaf_id, commitment_bytes)`` from leaf records (no point validation)."""
    for offset in range(0, len(body), LEAF_RECORD_SIZE):
        yield (
            start + offset // LEAF_RECORD_SIZE,
            body[offset : offset + LEAF_ID_SIZE],
            body[offset + LEAF_ID_SIZE : offset + LEAF_RECORD_SIZE],
        )
