"""Verify the reserves of a version 2 bundle (``docs/FORMAT.md`` §12, §7 step 2b): the verifier sums them itself.

1. ``wallets.json`` has the manifest's size and SHA-256, is canonical and parses
   (:meth:`circuits.wallets.WalletList.from_bytes`); its exchange, round, assets
   and decimals are the manifest's.
2. Every row's proof of control is checked against the control message of its
   chain's snapshot (:func:`circuits.wallets.check_wallets`). Every failing row is
   reported with its reason (``report.wallet_failures``); any failure makes the
   verdict false, since the exchange claimed the row.
3. With a node per Ethereum chain (``eth_rpc``), the block at the snapshot height
   must have the stated hash and every balance must equal the node's
   (:func:`verifier.eth_rpc.check_ethereum_snapshot`); any difference fails and
   names the address. Without one, balances are as stated by the exchange.
4. Per asset, ``R`` in the manifest (the number the solvency proof uses) must be
   the sum of its verified wallets' counted balances, plus its attested entries
   when the basis is ``wallets+attested``.

Raises :class:`~circuits.errors.FormatError` for a malformed list and
:class:`~circuits.errors.VerificationError` for a false one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from circuits.errors import FormatError, ParameterError, VerificationError
from circuits.manifest import MANIFEST_NAME, WALLETS_FILE, Manifest
from circuits.wallets import MAX_WALLETS_BYTES, WalletList, check_wallets
from verifier.reading import read_json_file
from verifier.report import BundleReport

__all__: list[str] = []


def read_wallets(bundle: Path, manifest: Manifest) -> WalletList:
    """Read and parse the bundle's ``wallets.json`` and check it against the manifest (step 1).

    Raises:
        FormatError: missing, wrong size or SHA-256, not canonical, malformed, or for
            another exchange, round or asset set than the manifest's.
    """
    entry = manifest.wallets
    assert entry is not None

    def parse(data: bytes) -> WalletList:
        if len(data) != entry.size or hashlib.sha256(data).digest() != entry.sha256:
            raise FormatError(
                f"{WALLETS_FILE}: size or SHA-256 differs from the manifest", section=WALLETS_FILE, file=WALLETS_FILE
            )
        return WalletList.from_bytes(data)

    wallets = read_json_file(bundle / WALLETS_FILE, MAX_WALLETS_BYTES, WALLETS_FILE, WALLETS_FILE, parse)
    if (wallets.exchange, wallets.round) != (manifest.exchange, manifest.round):
        raise FormatError(
            f"{WALLETS_FILE}: the wallet list is for exchange {wallets.exchange!r}, round {wallets.round!r}, "
            "not the manifest's",
            section=f"{WALLETS_FILE}:exchange",
            file=WALLETS_FILE,
            field="exchange",
        )
    listed = [(a.symbol, a.decimals) for a in wallets.assets]
    expected = [(a.symbol, a.decimals) for a in manifest.assets]
    if listed != expected:
        raise FormatError(
            f"{WALLETS_FILE}: its assets and decimals {listed} are not the manifest's {expected}",
            section=f"{WALLETS_FILE}:assets",
            file=WALLETS_FILE,
            field="assets",
        )
    return wallets


def _resolve_nodes(wallets: WalletList, eth_rpc: Mapping[str | None, str]) -> dict[str, str]:
    """Map each ``--eth-rpc`` to its chain; the key ``None`` names the list's only Ethereum chain."""
    nodes = {k: v for k, v in eth_rpc.items() if k is not None}
    if None in eth_rpc:
        ethereum = [s.chain.caip2 for s in wallets.chains if s.chain.eth_chain_id is not None]
        if len(ethereum) != 1:
            raise ParameterError(
                f"--eth-rpc URL: the wallet list holds {len(ethereum)} Ethereum chains; name one as CHAIN=URL",
                section="eth-rpc",
            )
        nodes[ethereum[0]] = eth_rpc[None]
    return nodes


def _check_nodes(wallets: WalletList, eth_rpc: Mapping[str, str], report: BundleReport) -> None:
    """Step 3: compare every Ethereum chain that has a node with the node's state at the snapshot."""
    for chain_id in eth_rpc:
        if chain_id not in {s.chain.caip2 for s in wallets.chains}:
            raise ParameterError(
                f"--eth-rpc names chain {chain_id}, which the wallet list does not hold", section="eth-rpc"
            )
        if not chain_id.startswith("eip155:"):
            raise ParameterError(f"--eth-rpc: {chain_id} is not an Ethereum chain", section="eth-rpc")
    for snapshot in wallets.chains:
        url = eth_rpc.get(snapshot.chain.caip2)
        row = {
            "chain": snapshot.chain.caip2,
            "height": snapshot.height,
            "block_hash": snapshot.block_hash,
            "balances": "stated",
        }
        report.chains.append(row)
        if url is None:
            continue
        from verifier.eth_rpc import EthHolding, check_ethereum_snapshot  # only a run with --eth-rpc needs HTTP

        assert snapshot.chain.eth_chain_id is not None
        holdings = []
        for i, w in enumerate(wallets.wallets):
            if w.chain == snapshot.chain.caip2:
                source = wallets.asset(w.asset).source(w.chain)
                assert source is not None
                holdings.append(EthHolding(f"wallets[{i}]", w.address, source.token, w.balance))
        mismatches = check_ethereum_snapshot(
            url, snapshot.chain.eth_chain_id, snapshot.height, snapshot.block_hash, holdings
        )
        for m in mismatches:
            report.balance_mismatches.append(
                {
                    "chain": snapshot.chain.caip2,
                    "where": m.where,
                    "address": m.address,
                    "token": m.token,
                    "stated": m.stated,
                    "actual": m.actual,
                    "reason": m.reason,
                }
            )
        if not mismatches:
            row["balances"] = "node"
    if report.balance_mismatches:
        first = report.balance_mismatches[0]
        more = len(report.balance_mismatches) - 1
        subject = first["address"] or f"block {first['stated']}"
        raise VerificationError(
            f"{WALLETS_FILE}: the node of {first['chain']} disagrees at {subject}: {first['reason']}"
            + (f" ({more} more differences)" if more else ""),
            section=f"{WALLETS_FILE}:{first['where'] or 'chains'}",
            file=WALLETS_FILE,
            field=first["where"] or "chains",
        )


def verify_reserves(
    bundle: Path, manifest: Manifest, report: BundleReport, eth_rpc: Mapping[str | None, str] | None = None
) -> None:
    """Steps 1-4 (module docstring) for a version 2 bundle; fills the reserves fields of ``report``.

    ``eth_rpc`` maps an Ethereum chain of the list (CAIP-2 id) to a JSON-RPC URL; the
    key ``None`` stands for the list's only Ethereum chain.

    Raises:
        FormatError: the wallet list is malformed (step 1).
        VerificationError: a row's proof of control fails, a node disagrees, or an
            asset's reserves are not what its wallets sum to.
        InputError: a node cannot be reached or answers for another chain.
        ParameterError: ``eth_rpc`` names a chain the list does not hold.
    """
    wallets = read_wallets(bundle, manifest)
    check = check_wallets(wallets)
    for a, asset_report in zip(manifest.assets, report.assets, strict=True):
        asset_report.wallet_count = check.wallets[a.symbol]
        asset_report.reserves_verified = check.verified[a.symbol]
        asset_report.reserves_attested = wallets.attested_total(a.symbol)
    failed = {failure.index for failure in check.failures}
    report.wallets = [
        {
            "index": i,
            "asset": w.asset,
            "chain": w.chain,
            "address": w.address,
            "proof_type": w.proof_type,
            "counted": wallets.counted(w),
            "ok": i not in failed,
        }
        for i, w in enumerate(wallets.wallets)
    ]
    for failure in check.failures:
        w = wallets.wallets[failure.index]
        report.wallet_failures.append(
            {
                "index": failure.index,
                "field": failure.field,
                "asset": w.asset,
                "chain": w.chain,
                "address": w.address,
                "kind": failure.kind,
                "reason": failure.reason,
            }
        )
    if check.failures:
        first = check.failures[0]
        w = wallets.wallets[first.index]
        more = len(check.failures) - 1
        raise VerificationError(
            f"{WALLETS_FILE}: {first.field} ({w.asset} at {w.address} on {w.chain}): {first.reason}"
            + (f" ({more} more rows fail)" if more else ""),
            section=f"{WALLETS_FILE}:{first.field}",
            file=WALLETS_FILE,
            field=first.field,
        )
    _check_nodes(wallets, _resolve_nodes(wallets, eth_rpc or {}), report)
    by_chain = {c["chain"]: c["balances"] for c in report.chains}
    for i, (a, asset_report) in enumerate(zip(manifest.assets, report.assets, strict=True)):
        expected = check.verified[a.symbol]
        if a.reserves_basis == "wallets+attested":
            expected += wallets.attested_total(a.symbol)
        if a.reserves != expected:
            raise VerificationError(
                f"{MANIFEST_NAME}: assets[{i}].reserves of {a.symbol} is {a.reserves} base units, but its wallet "
                f"list backs {expected} ({a.reserves_basis})",
                section=f"manifest.assets[{i}].reserves",
                file=MANIFEST_NAME,
                field=f"assets[{i}].reserves",
            )
        asset_report.reserves_ok = True
        used = {w.chain for w in wallets.wallets if w.asset == a.symbol}
        if used and all(by_chain[c] == "node" for c in used):
            asset_report.balances = "node"
