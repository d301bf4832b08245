"""What ``solvency verify`` says about reserves: the verdict sentence, the chains, the failing wallets.

Every sentence states only what the run checked (``verifier.report.BundleReport``):
reserves typed in by the exchange (no wallet list: format version 1, or 3 without one) are called
declared; reserves
of a wallet list are those of the wallets whose proofs of control held, with
balances "as stated by the exchange" unless a node confirmed them (``--eth-rpc``);
attested entries are named on the verdict line whenever they count.

Importing this module loads neither :mod:`prover` nor :mod:`verifier` at run time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import typer

from cli.output import shown

if TYPE_CHECKING:
    from verifier.report import BundleReport

__all__ = [
    "chain_lines",
    "margin_lines",
    "not_proven_sentence",
    "parse_eth_rpc",
    "reserves_failures",
    "verdict_sentence",
]

_CHAIN_RE: Final = re.compile(r"(eip155:[0-9]+)=(.+)")
_MAX_FAILURES_SHOWN: Final[int] = 20


def parse_eth_rpc(values: Sequence[str]) -> dict[str | None, str]:
    """Parse the ``--eth-rpc`` values (``URL`` or ``CHAIN=URL``) into chain -> URL (``None``: the only chain).

    Raises:
        typer.BadParameter: a value that is not an http(s) URL, or a chain named twice (exit 2).
    """
    nodes: dict[str | None, str] = {}
    for value in values:
        found = _CHAIN_RE.fullmatch(value)
        chain, url = (found.group(1), found.group(2)) if found else (None, value)
        if not re.match(r"https?://[^\s]+$", url):
            raise typer.BadParameter(f"{value!r}: expected an http:// or https:// URL", param_hint="--eth-rpc")
        if chain in nodes:
            raise typer.BadParameter(f"{chain or 'the Ethereum chain'} is given twice", param_hint="--eth-rpc")
        nodes[chain] = url
    return nodes


def _uses_attested(report: BundleReport) -> bool:
    return any(a.reserves_basis == "wallets+attested" and a.reserves_attested for a in report.assets)


def verdict_sentence(report: BundleReport) -> str:
    """Return the PASS sentence: what was proven, against which reserves (plain text: the caller escapes it)."""
    margin = report.margin if report.margin_checked else None
    if margin is None:
        core = (
            "every balance is committed and in [0, 2^64), and liabilities are covered at the ratio shown, for every "
            "asset"
        )
    else:
        core = (
            "every balance is committed and in [0, 2^64), and net liabilities (equity minus margin debt) are "
            "covered at the ratio shown, for every asset"
        )
    if report.sum_tree_checked:
        core += " (every sum-tree node and its range proof checked)"
    if margin is not None:
        core += (
            f"; every margin account's haircut collateral value covers its debt ({margin.accounts} accounts, "
            "padded), and each asset's debt total is the sum of every account's debt in it"
        )
    if report.reserves_declared:
        return f"{core}, against reserves DECLARED by the exchange (no wallet list, not proven)"
    blocks = ", ".join(f"{c['chain']} block {c['height']}" for c in report.chains) or "no chain"
    node = all(c["balances"] == "node" for c in report.chains) and bool(report.chains)
    sentence = (
        f"{core}; solvent against reserves held in wallets the exchange proved it controls at {blocks}"
        + (" (every balance confirmed by a node)" if node else " (balances as stated by the exchange)")
    )
    if _uses_attested(report):
        attested = ", ".join(
            f"{a.symbol} {a.format_amount(a.reserves_attested or 0)}"
            for a in report.assets
            if a.reserves_basis == "wallets+attested" and a.reserves_attested
        )
        sentence += f", INCLUDING ATTESTED reserves no signature proves ({attested}; --include-attested)"
    return sentence


def not_proven_sentence(report: BundleReport) -> str:
    """Return the sentence of what the run did not prove (plain text: the caller escapes it)."""
    margin = (
        "; that the margin prices and haircut schedules are fair (they are the exchange's, published in the "
        "manifest), that each margin record holds its customer's true debt and collateral (each margin customer "
        "must check their own package), and that no margin account is fake (a fake account's equity is still "
        "counted in the liabilities, and its haircut value must still cover its debt)"
        if report.margin is not None else ""
    )
    if report.reserves_declared:
        return (
            "that the exchange holds these reserves (declared, not proven), and that no customer was left out "
            "(each customer must check their own package)" + margin
        )
    stated = [c["chain"] for c in report.chains if c["balances"] != "node"]
    parts = []
    if stated:
        parts.append(
            "the balances on " + ", ".join(stated) + " (as stated by the exchange; no node checked them"
            + (", and Bitcoin balances are not cross-checked by this tool" if any(
                c.startswith("bip122:") for c in stated) else "")
            + ")"
        )
    parts += [
        "that the coins were not borrowed for the snapshot",
        "that no other exchange claims the same wallets (compare the published wallet lists)",
        "that no customer was left out (each customer must check their own package)",
    ]
    return "; ".join(parts) + margin


def margin_lines(report: BundleReport) -> list[str]:
    """Return the margin section's line (format version 4): its public shape and whether it was checked."""
    m = report.margin
    if m is None:
        return []
    types = ", ".join(m.collateral_types)
    state = "checked" if m.checked else "NOT checked"
    lines = [
        f"margin: {m.accounts} records (padded with dummy accounts), {m.slots} slots each, {m.tiers} tier lines, "
        f"{m.types} collateral type{'s' if m.types != 1 else ''} ({shown(types)}): {state}"
    ]
    for a in report.assets:
        if a.debt_disclosed is not None:
            lines.append(f"  {shown(a.symbol)}: total debt disclosed {shown(a.format_amount(a.debt_disclosed))}")
        if a.collateral_disclosed is not None:
            amount = a.format_amount(a.collateral_disclosed)
            lines.append(f"  {shown(a.symbol)}: total pledged collateral disclosed {shown(amount)}")
    return lines


def chain_lines(report: BundleReport) -> list[str]:
    """Return one line per chain of the wallet list: the snapshot block and whether a node checked it."""
    lines = []
    for c in report.chains:
        how = "balances and block hash checked against the node" if c["balances"] == "node" else (
            "balances as stated by the exchange"
        )
        lines.append(f"chain {shown(c['chain'])} at height {c['height']} block {shown(c['block_hash'])}: {how}")
    return lines


def reserves_failures(report: BundleReport) -> list[str]:
    """Return one line per failing wallet row and per balance a node disputes (at most 20 of each)."""
    lines = []
    for f in report.wallet_failures[:_MAX_FAILURES_SHOWN]:
        lines.append(
            f"[red]wallet failed[/] {shown(f['field'])}: {shown(f['asset'])} at {shown(f['address'])} on "
            f"{shown(f['chain'])}: {shown(f['reason'])}"
        )
    if len(report.wallet_failures) > _MAX_FAILURES_SHOWN:
        lines.append(f"... and {len(report.wallet_failures) - _MAX_FAILURES_SHOWN} more failing wallets (--json)")
    for m in report.balance_mismatches[:_MAX_FAILURES_SHOWN]:
        lines.append(
            f"[red]node disagrees[/] {shown(m['where'] or 'block')}: {shown(m['address'] or '')} "
            f"stated {shown(m['stated'])}, node {shown(m['actual'])}: {shown(m['reason'])}"
        )
    if len(report.balance_mismatches) > _MAX_FAILURES_SHOWN:
        lines.append(f"... and {len(report.balance_mismatches) - _MAX_FAILURES_SHOWN} more differences (--json)")
    return lines
