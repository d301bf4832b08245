"""The exchange's wallet list as prover input: parsed, every proof of control checked, reserves summed.

``solvency prove --wallets wallets.json`` reads the list specified in
``docs/FORMAT.md`` §12 (:mod:`circuits.wallets`). Everything is checked before any
proving: the structure, every row's proof of control against the control message
of this round (:func:`circuits.wallets.check_wallets`) and the same key in two
wallets. Every failure is an :class:`~circuits.errors.InputError` naming the
file, the line and the field (``wallets.json: line 42: wallets[17].proof: ...``).

The asset's reserves ``R`` are the sum of its verified wallets' counted balances,
plus its attested entries only with ``include_attested``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from circuits.errors import FormatError, InputError
from circuits.jsonio import load_json
from circuits.wallets import MAX_WALLETS_BYTES, WalletList, check_wallets
from prover.json_lines import line_of
from prover.reserves import AssetSpec, Reserves

__all__ = ["ProvenReserves", "load_wallet_list", "load_wallets", "write_wallet_list"]


@dataclass(frozen=True)
class ProvenReserves:
    """A wallet list whose every proof of control holds, and the reserves it backs.

    Attributes:
        wallets: the list, in bundle order (what the bundle's ``wallets.json`` holds).
        include_attested: whether attested entries count towards ``R``.
        reserves: per asset, ``R`` in asset base units (what the solvency proofs use).
        verified: per asset, the verified on-chain part of ``R``.
    """

    wallets: WalletList
    include_attested: bool
    reserves: Reserves
    verified: dict[str, int]

    @property
    def basis(self) -> str:
        """The manifest's ``reserves_basis`` of every asset."""
        return "wallets+attested" if self.include_attested else "wallets"


def _located(name: str, text: str, field: str, reason: str) -> InputError:
    """``<file>: line <L>: <field>: <reason>`` (the line found from the field path, when it can be)."""
    line = line_of(text, field) if field != "file" else None
    where = f"line {line}: " if line is not None else ""
    return InputError(f"{name}: {where}{field}: {reason}", section=f"{name}:{field}", file=name, field=field)


def _input_error(name: str, text: str, exc: FormatError) -> InputError:
    section = exc.section or "wallets"
    reason = str(exc)
    if reason.startswith(f"{section}: "):
        reason = reason[len(section) + 2 :]
    return _located(name, text, section.partition(".")[2] or "file", reason)


def load_wallet_list(path: Path, *, signed: bool = True) -> tuple[WalletList, str]:
    """Read and validate the structure of a wallet list file; return it and its text.

    ``signed=False`` accepts rows whose proofs lack signatures (input of ``solvency reserves sign``).

    Raises:
        InputError: unreadable, too large, not JSON, or a structural error, naming the line and field.
    """
    path = Path(path)
    name = path.name
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_WALLETS_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"{name}: file: cannot read: {exc.strerror or exc}", section=f"{name}:file", file=name
        ) from None
    try:
        obj, _ = load_json(data.removeprefix(b"\xef\xbb\xbf"), MAX_WALLETS_BYTES, "wallets")
    except FormatError as exc:
        raise InputError(f"{name}: file: {exc}", section=f"{name}:file", file=name) from None
    text = data.decode("utf-8", "replace")
    try:
        return WalletList.parse(obj, "wallets", signed=signed, normalize=True), text
    except FormatError as exc:
        raise _input_error(name, text, exc) from None


def load_wallets(path: Path, *, include_attested: bool = False) -> ProvenReserves:
    """Read the wallet list, check every proof of control, and compute each asset's reserves.

    Raises:
        InputError: as :func:`load_wallet_list`, or a row whose proof of control fails
            (the first such row, with its line), or an asset with no reserves at all.
    """
    path = Path(path)
    wallets, text = load_wallet_list(path, signed=True)
    check = check_wallets(wallets)
    if check.failures:
        first = check.failures[0]
        more = f" ({len(check.failures) - 1} more rows fail)" if len(check.failures) > 1 else ""
        raise _located(path.name, text, first.field, f"{first.reason}{more}")
    specs = []
    for asset in wallets.assets:
        total = check.verified[asset.symbol] + (wallets.attested_total(asset.symbol) if include_attested else 0)
        specs.append(AssetSpec(symbol=asset.symbol, decimals=asset.decimals, reserves=total))
    reserves = Reserves(exchange=wallets.exchange, round=wallets.round, assets=tuple(specs))
    return ProvenReserves(wallets, include_attested, reserves, dict(check.verified))


def write_wallet_list(path: Path, wallet_list: WalletList) -> None:
    """Write a wallet list as indented JSON, atomically (a temporary file in the same directory, renamed)."""
    data = json.dumps(wallet_list.to_json(), indent=1, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
