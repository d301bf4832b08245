"""Summarise a bundle without verifying any proof (``solvency inspect``): manifest fields, files, digests.

Every data file the manifest lists is shown with its role: ``leaves``, ``range_proofs``,
``solvency``, in format version 3 ``nodes`` and ``node_proofs`` (the sum tree), and in
version 4 ``margin_records`` and ``margin_proofs``. A version-4 summary also shows the
margin section (``margin``): its counts, the parameters' digest, every price and every
haircut schedule as the manifest states them, and each asset's debt commitment and
disclosed totals.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from circuits.errors import FormatError
from circuits.manifest import MANIFEST_NAME, FileEntry, Manifest
from verifier.reading import (
    HASH_BLOCK,
    file_role_names,
    file_roles,
    margin_file_roles,
    margin_section,
    open_regular,
    read_manifest,
)
from verifier.report import format_units

__all__ = ["file_error", "inspect_bundle"]


def _file_state(path: Path, expected_size: int) -> tuple[bool, int | None, bytes | None]:
    """Return ``(present, size, sha256)`` of a listed data file; the digest only if the size is the listed one.

    Raises:
        FormatError: the file exists but is not a regular file (a symlink, a FIFO, ...) or
            cannot be read; ``section`` is its name.
    """
    if not os.path.lexists(path):
        return False, None, None
    section = path.name
    try:
        with open_regular(path, section) as f:
            size = os.fstat(f.fileno()).st_size
            if size != expected_size:
                return True, size, None
            digest = hashlib.sha256()
            while block := f.read(HASH_BLOCK):
                digest.update(block)
    except OSError as exc:
        raise FormatError(f"{section}: cannot read ({exc.strerror})", section=section) from exc
    return True, size, digest.digest()


def _file_summary(path: Path, role: str, entry: FileEntry) -> dict[str, Any]:
    """Return one listed file's line of the summary: role, listed and actual size, presence, digest match."""
    present, size, sha256 = _file_state(path / entry.name, entry.size)
    return {
        "role": role,
        "name": entry.name,
        "size": entry.size,
        "actual_size": size,
        "present": present,
        "sha256": entry.sha256.hex(),
        "digest_ok": sha256 == entry.sha256,
    }


def _margin_summary(path: Path, manifest: Manifest) -> dict[str, Any] | None:
    """Return the margin section of a version-4 summary (``None`` before): counts, digest, prices, schedules."""
    margin = margin_section(manifest)
    if margin is None:
        return None
    params = margin.params
    q = params.value_decimals
    assets = []
    for a in params.assets:
        haircuts = {}
        for name, schedule in zip(params.collateral_types, a.haircuts, strict=True):
            haircuts[name] = [
                {
                    "up_to": None if t.up_to is None else str(t.up_to),
                    "up_to_display": None if t.up_to is None else format_units(t.up_to, q),
                    "ratio": t.ratio,
                }
                for t in schedule
            ]
        assets.append(
            {"symbol": a.symbol, "price": str(a.price), "price_display": format_units(a.price, q), "haircuts": haircuts}
        )
    roles = ("margin_records", "margin_proofs")
    return {
        "value_decimals": q,
        "collateral_types": list(params.collateral_types),
        "types": params.types,
        "slots": params.slots,
        "tiers": params.tiers,
        "accounts": params.accounts,
        "values_per_account": params.values_per_account,
        "parts": list(params.parts),
        "params_sha256": params.digest().hex(),
        "root": margin.root.hex(),
        "assets": assets,
        "files": [
            _file_summary(path, role, entry)
            for role, (entry, *_) in zip(roles, margin_file_roles(manifest), strict=True)
        ],
    }


def inspect_bundle(path: Path) -> dict[str, Any]:
    """Summarise a bundle WITHOUT verifying any proof (nor any wallet's proof of control): manifest, files, digests.

    The manifest itself is fully validated (it is the table of contents). For each
    listed file the summary says whether it is present, its size and whether its
    SHA-256 matches; unlisted files are named in ``extra_files``.

    Raises:
        FormatError: the manifest is missing or malformed, or a listed file exists but is
            not a regular file (never followed, never blocked on).
    """
    manifest = read_manifest(Path(path))
    path = Path(path) if Path(path).is_dir() else Path(path).parent
    listed = {MANIFEST_NAME}
    assets = []
    files_ok = True
    for asset in manifest.assets:
        files = []
        for role, (entry, *_) in zip(file_role_names(asset), file_roles(asset), strict=True):
            listed.add(entry.name)
            summary = _file_summary(path, role, entry)
            files_ok = files_ok and summary["digest_ok"]
            files.append(summary)
        disclosed = asset.disclosed_liabilities
        margin_keys: dict[str, Any] = {}
        if manifest.margin is not None:
            debt, collateral = asset.disclosed_debt, asset.disclosed_collateral
            margin_keys = {
                "debt_commitment": None if asset.debt_commitment is None else asset.debt_commitment.hex(),
                "debt_disclosed": None if debt is None else str(debt[0]),
                "debt_disclosed_display": None if debt is None else format_units(debt[0], asset.decimals),
                "collateral_disclosed": None if collateral is None else str(collateral[0]),
                "collateral_disclosed_display": (
                    None if collateral is None else format_units(collateral[0], asset.decimals)
                ),
            }
        assets.append(
            {
                "symbol": asset.symbol,
                "decimals": asset.decimals,
                "reserves": str(asset.reserves),
                "reserves_display": format_units(asset.reserves, asset.decimals),
                "reserves_basis": asset.reserves_basis,
                "min_ratio": {"num": asset.num, "den": asset.den},
                "leaf_count": asset.leaf_count,
                "chunk_size": asset.chunk_size,
                "chunk_count": asset.chunk_count,
                "sum_tree": asset.has_sum_tree,
                "merkle_root": asset.merkle_root.hex(),
                "liabilities_commitment": asset.liabilities_commitment.hex(),
                "liabilities_disclosed": None if disclosed is None else str(disclosed[0]),
                "liabilities_disclosed_display": (
                    None if disclosed is None else format_units(disclosed[0], asset.decimals)
                ),
                **margin_keys,
                "files": files,
            }
        )
    margin = _margin_summary(path, manifest)
    if margin is not None:
        for f in margin["files"]:
            listed.add(f["name"])
            files_ok = files_ok and f["digest_ok"]
    wallets = None
    if manifest.wallets is not None:
        entry = manifest.wallets
        listed.add(entry.name)
        present, size, sha256 = _file_state(path / entry.name, entry.size)
        files_ok = files_ok and sha256 == entry.sha256
        wallets = {
            "role": "wallets",
            "name": entry.name,
            "size": entry.size,
            "actual_size": size,
            "present": present,
            "sha256": entry.sha256.hex(),
            "digest_ok": sha256 == entry.sha256,
        }
    extra = sorted(p.name for p in path.iterdir() if p.name not in listed)
    return {
        "format_version": manifest.version,
        "wallets": wallets,
        "margin": margin,
        "exchange": manifest.exchange,
        "round": manifest.round,
        "created": manifest.created,
        "bundle_digest": manifest.digest.hex(),
        "assets": assets,
        "extra_files": extra,
        "files_ok": files_ok and not extra,
        "verified": False,
    }


def file_error(summary: dict[str, Any]) -> FormatError | None:
    """Return the error for the first file problem an :func:`inspect_bundle` summary shows, else ``None``.

    Problems are taken in the order ``solvency verify`` finds them (§7 step 2): a file
    the manifest does not list, then a listed file that is missing (or not a regular
    file), then, file by file in manifest order, a wrong size or SHA-256. The error
    names the file in ``section`` and ``file``.
    """
    if summary["extra_files"]:
        name = summary["extra_files"][0]
        return FormatError(f"bundle: unexpected file {name!r} (the manifest does not list it)", section=name, file=name)
    files = [f for asset in summary["assets"] for f in asset["files"]]
    if summary.get("margin") is not None:
        files += summary["margin"]["files"]
    if summary.get("wallets") is not None:
        files.append(summary["wallets"])
    for f in files:
        if not f["present"]:
            return FormatError(f"{f['name']}: missing or not a regular file", section=f["name"], file=f["name"])
    for f in files:
        if f["actual_size"] != f["size"]:
            message = f"{f['name']}: size {f['actual_size']} bytes, manifest says {f['size']}"
            return FormatError(message, section=f["name"], file=f["name"])
        if not f["digest_ok"]:
            return FormatError(f"{f['name']}: SHA-256 does not match the manifest", section=f["name"], file=f["name"])
    return None
