r"""Write a seed corpus for ``fuzz/fuzz_decoders.py``: valid encodings from a tiny bundle.

Usage::

    python fuzz/make_corpus.py [OUT_DIR]      # default: fuzz/corpus

writes ``OUT_DIR/<target>/seed-NN`` for every target of the harness (a few dozen
files, about 20 KB in all). Seeds are regenerated on demand and not committed;
libFuzzer adds the inputs it finds interesting to the same directories, so keep
long-run corpora out of the repository too (``fuzz/corpus/`` is disposable).
"""

from __future__ import annotations

import hashlib
import struct
import sys
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz_decoders import ROLES, ROOT, TARGETS, Fixture, fixture

__all__ = ["seed_inputs", "write_corpus"]

_MAGICS = {"leaves": b"ZKSLEAF1", "range_proofs": b"ZKSRNGP1", "solvency": b"ZKSSOLV1"}


def _merkle_seeds() -> list[bytes]:
    """Audit paths of every leaf of a 5-leaf tree (index, size, leaf hash, path), from circuits.merkle."""
    from circuits.merkle import MerkleTree

    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(5)]
    tree = MerkleTree(leaves)
    return [struct.pack("<QQ", i, len(leaves)) + leaves[i] + b"".join(tree.path(i)) for i in range(len(leaves))]


def seed_inputs(fx: Fixture) -> dict[str, list[bytes]]:
    """Return valid inputs for every target of the harness, built from the tiny bundle ``fx``."""
    leaves_body = fx.files["leaves"][16:]
    commitments = [leaves_body[i + 32 : i + 80] for i in range(0, len(leaves_body), 80)]
    proofs = [fx.files["range_proofs"][16:], fx.files["solvency"][16:]]
    blinding = bytes(32)  # the zero scalar; real blindings are secrets of the package, also valid
    headers = []
    for k, role in enumerate(ROLES):
        header = fx.files[role][:16]
        count, record_size = struct.unpack_from("<II", header, 8)
        assert header[:8] == _MAGICS[role]
        headers.append(bytes([k]) + struct.pack("<II", count, record_size) + header)
    seeds = {
        "point": [*commitments, bytes([0xC0]) + bytes(47)],
        "point_reference": commitments[:1],
        "scalar": [blinding, (1).to_bytes(32, "little")],
        "proof": proofs,
        "manifest": [fx.manifest],
        "package": [fx.package],
        "header": headers,
        "leaves": [fx.files["leaves"]],
        "merkle_path": _merkle_seeds(),
        "datafile": [bytes([k]) + fx.files[role] for k, role in enumerate(ROLES)],
        "customer": [fx.package],
    }
    assert set(seeds) == set(TARGETS)
    return seeds


def write_corpus(out: Path, fx: Fixture) -> int:
    """Write the seeds under ``out/<target>/``; return the number of files written."""
    written = 0
    for target, inputs in seed_inputs(fx).items():
        directory = out / target
        directory.mkdir(parents=True, exist_ok=True)
        for i, data in enumerate(inputs):
            (directory / f"seed-{i:02d}").write_bytes(data)
            written += 1
    return written


def main() -> None:
    """Command-line entry point."""
    sys.path.insert(0, str(ROOT))
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fuzz" / "corpus"
    count = write_corpus(out, fixture())
    print(f"wrote {count} seed files under {out}")  # noqa: T201


if __name__ == "__main__":
    main()
