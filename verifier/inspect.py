"""Summarise a bundle without verifying any proof (``solvency inspect``): manifest fields, files, digests."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from circuits.manifest import MANIFEST_NAME
from verifier.reading import HASH_BLOCK, file_roles, read_manifest
from verifier.report import format_units

__all__ = ["inspect_bundle"]


def _file_digest(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as f:
            digest = hashlib.sha256()
            while block := f.read(HASH_BLOCK):
                digest.update(block)
    except OSError:
        return None
    return digest.digest()


def inspect_bundle(path: Path) -> dict[str, Any]:
    """Summarise a bundle WITHOUT verifying any proof: manifest fields, files, digests.

    The manifest itself is fully validated (it is the table of contents). For each
    listed file the summary says whether it is present, its size and whether its
    SHA-256 matches; unlisted files are named in ``extra_files``.

    Raises:
        FormatError: the manifest is missing or malformed.
    """
    manifest = read_manifest(Path(path))
    path = Path(path) if Path(path).is_dir() else Path(path).parent
    listed = {MANIFEST_NAME}
    assets = []
    files_ok = True
    for asset in manifest.assets:
        files = []
        for role, (entry, *_) in zip(("leaves", "range_proofs", "solvency"), file_roles(asset), strict=True):
            listed.add(entry.name)
            file_path = path / entry.name
            present = file_path.is_file()
            size = file_path.stat().st_size if present else None
            digest_ok = present and size == entry.size and _file_digest(file_path) == entry.sha256
            files_ok = files_ok and digest_ok
            files.append(
                {
                    "role": role,
                    "name": entry.name,
                    "size": entry.size,
                    "actual_size": size,
                    "present": present,
                    "sha256": entry.sha256.hex(),
                    "digest_ok": digest_ok,
                }
            )
        disclosed = asset.disclosed_liabilities
        assets.append(
            {
                "symbol": asset.symbol,
                "decimals": asset.decimals,
                "reserves": str(asset.reserves),
                "reserves_display": format_units(asset.reserves, asset.decimals),
                "min_ratio": {"num": asset.num, "den": asset.den},
                "leaf_count": asset.leaf_count,
                "chunk_size": asset.chunk_size,
                "chunk_count": asset.chunk_count,
                "merkle_root": asset.merkle_root.hex(),
                "liabilities_commitment": asset.liabilities_commitment.hex(),
                "liabilities_disclosed": None if disclosed is None else str(disclosed[0]),
                "liabilities_disclosed_display": (
                    None if disclosed is None else format_units(disclosed[0], asset.decimals)
                ),
                "files": files,
            }
        )
    extra = sorted(p.name for p in path.iterdir() if p.name not in listed)
    return {
        "exchange": manifest.exchange,
        "round": manifest.round,
        "created": manifest.created,
        "bundle_digest": manifest.digest.hex(),
        "assets": assets,
        "extra_files": extra,
        "files_ok": files_ok and not extra,
        "verified": False,
    }
