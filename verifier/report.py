"""Plain data reports of a bundle verification and of a customer check.

Reports hold public results only (never a customer's blinding or salt), so they
can be printed or written as JSON. On failure the verifier raises a
:class:`~circuits.errors.ProofError` and attaches the partial report as its
declared ``report`` attribute, with ``failure``, ``failure_section``,
``failure_kind``, ``failure_file`` and ``failure_field`` set from the error's
fields, so a caller can show what passed before the failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from circuits.errors import FailureKind, ProofError

__all__ = [
    "AssetReport",
    "BundleReport",
    "CheckRef",
    "Claim",
    "PackageReport",
    "format_units",
]

#: The verdict of a run: ``"pass"`` (everything the verdict states was checked and holds),
#: ``"partial"`` (every check that ran passed, but not everything was checked) or ``"fail"``.
Status = Literal["pass", "partial", "fail"]


def format_units(amount: int, decimals: int) -> str:
    """Return base units as a decimal string with exactly ``decimals`` places.

    >>> format_units(150000000, 8)
    '1.50000000'
    >>> format_units(7, 0)
    '7'
    """
    if decimals == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"


def format_ratio(num: int, den: int) -> str:
    """Return ``num/den`` for display: ``"1"``, ``"21/20 (1.05)"``.

    >>> format_ratio(21, 20)
    '21/20 (1.05)'
    """
    if den == 1:
        return str(num)
    scaled = num * 10**6 // den
    text = format_units(scaled, 6).rstrip("0").rstrip(".")
    exact = scaled * den == num * 10**6
    return f"{num}/{den} ({'' if exact else '~'}{text})"


@dataclass
class AssetReport:
    """What a bundle verification established about one asset.

    ``reserves`` and ``liabilities_disclosed`` are in base units; each ``*_ok``
    flag is ``True`` only once that check has passed (``False`` means failed or
    not reached).
    """

    symbol: str
    decimals: int
    reserves: int
    leaf_count: int
    chunk_count: int
    chunk_size: int
    min_ratio: tuple[int, int]
    liabilities_disclosed: int | None
    merkle_root_ok: bool = False
    sum_ok: bool = False
    range_proofs_ok: bool = False
    solvency_ok: bool = False
    #: ``"declared"`` (format version 1: a number typed in by the exchange), ``"wallets"`` or
    #: ``"wallets+attested"`` (version 2: summed by the verifier from the wallet list).
    reserves_basis: str = "declared"
    #: Wallet rows of this asset in the wallet list (version 2).
    wallet_count: int = 0
    #: Sum of the counted balances of the asset's wallets whose proofs of control held (version 2).
    reserves_verified: int | None = None
    #: Sum of the asset's attested entries; counted in ``reserves`` only for ``"wallets+attested"``.
    reserves_attested: int | None = None
    #: The reserves were recomputed from the wallet list and equal the manifest's (always true for "declared").
    reserves_ok: bool = False
    #: ``"stated"``: balances as the exchange states them at the snapshot; ``"node"``: each was compared
    #: with a node of the chain (``--eth-rpc``) and matched.
    balances: str = "stated"
    #: Format version 3: the asset has a Merkle sum tree (nodes and node-proofs files).
    sum_tree: bool = False
    #: Version 3: every node record equals what the leaves (chunk nodes) or its children (sum nodes) imply.
    nodes_ok: bool = False
    #: Version 3: every sum node's range proof (both children's sums in ``[0, 2^128)``) verifies.
    node_proofs_ok: bool = False
    #: Version 4 (margin accounts): the asset has a ``debt_commitment`` ``C_D`` and its solvency proof is
    #: for ``C_L - C_D``.
    margin: bool = False
    #: Version 4: ``C_D`` is the sum of the debt commitments of every margin slot naming the asset.
    debt_ok: bool = False
    #: Version 4: the disclosed total debt and total pledged collateral (base units), if the exchange opted in.
    debt_disclosed: int | None = None
    collateral_disclosed: int | None = None

    def format_amount(self, amount: int) -> str:
        """Return ``amount`` base units of this asset as a decimal string with ``decimals`` places."""
        return format_units(amount, self.decimals)

    @property
    def reserves_display(self) -> str:
        """The reserves as a decimal string with ``decimals`` places."""
        return self.format_amount(self.reserves)

    @property
    def ratio_display(self) -> str:
        """The proven minimum ratio of reserves to liabilities, for display."""
        return format_ratio(*self.min_ratio)

    @property
    def ok(self) -> bool:
        """Whether every check of this asset passed."""
        tree = not self.sum_tree or (self.nodes_ok and self.node_proofs_ok)
        debt = not self.margin or self.debt_ok
        return (
            self.merkle_root_ok and self.sum_ok and self.range_proofs_ok and self.solvency_ok and self.reserves_ok
            and tree and debt
        )

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict (big integers as decimal strings)."""
        num, den = self.min_ratio
        return {
            "symbol": self.symbol,
            "decimals": self.decimals,
            "reserves": str(self.reserves),
            "reserves_display": self.reserves_display,
            "leaf_count": self.leaf_count,
            "chunk_count": self.chunk_count,
            "chunk_size": self.chunk_size,
            "min_ratio": {"num": num, "den": den},
            "liabilities_disclosed": None if self.liabilities_disclosed is None else str(self.liabilities_disclosed),
            "liabilities_disclosed_display": (
                None if self.liabilities_disclosed is None else self.format_amount(self.liabilities_disclosed)
            ),
            "merkle_root_ok": self.merkle_root_ok,
            "sum_ok": self.sum_ok,
            "range_proofs_ok": self.range_proofs_ok,
            "solvency_ok": self.solvency_ok,
            "reserves_basis": self.reserves_basis,
            "wallet_count": self.wallet_count,
            "reserves_verified": None if self.reserves_verified is None else str(self.reserves_verified),
            "reserves_attested": None if self.reserves_attested is None else str(self.reserves_attested),
            "reserves_ok": self.reserves_ok,
            "balances": self.balances,
            "sum_tree": self.sum_tree,
            "nodes_ok": self.nodes_ok,
            "node_proofs_ok": self.node_proofs_ok,
            "margin": self.margin,
            "debt_ok": self.debt_ok,
            "debt_disclosed": None if self.debt_disclosed is None else str(self.debt_disclosed),
            "debt_disclosed_display": None if self.debt_disclosed is None else self.format_amount(self.debt_disclosed),
            "collateral_disclosed": None if self.collateral_disclosed is None else str(self.collateral_disclosed),
            "collateral_disclosed_display": (
                None if self.collateral_disclosed is None else self.format_amount(self.collateral_disclosed)
            ),
            "ok": self.ok,
        }


@dataclass(kw_only=True)
class _Outcome:
    """Pass/fail state shared by the reports: what failed, where (section, file, field), and how."""

    ok: bool
    failure: str | None = None
    failure_section: str | None = None
    failure_kind: FailureKind | None = None
    failure_file: str | None = None
    failure_field: str | None = None

    def fail(self, exc: ProofError) -> None:
        """Record ``exc`` (from its fields) as the failure of this report."""
        self.ok = False
        self.failure = str(exc)
        self.failure_section = exc.section
        self.failure_kind = exc.kind
        self.failure_file = exc.file
        self.failure_field = exc.field

    @property
    def status(self) -> Status:
        """``"pass"`` once every check passed, else ``"fail"``."""
        return "pass" if self.ok else "fail"

    def _failure_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "failure": self.failure,
            "failure_section": self.failure_section,
            "failure_kind": self.failure_kind,
            "failure_file": self.failure_file,
            "failure_field": self.failure_field,
        }


@dataclass
class MarginReport:
    """What a bundle verification established about the margin section (format version 4).

    The public shape only: ``accounts`` is the padded record count ``M`` (dummy accounts
    included), ``slots`` the slot count ``S``, ``tiers`` ``T_max``, ``collateral_types`` the
    ``K`` type names. Each ``*_ok`` flag is ``True`` only once that check passed.
    """

    accounts: int
    slots: int
    tiers: int
    collateral_types: tuple[str, ...]
    value_decimals: int
    params_sha256: str
    root: str
    #: Every record parsed, the records tree's root is ``margin.root``, no leaf named twice, every
    #: named leaf carries its record's margin leaf id.
    records_ok: bool = False
    #: Every asset's ``debt_commitment`` is the sum of its slots' debt commitments.
    debt_ok: bool = False
    #: Every account's range proofs verify: condition (M) of ``notes/42`` holds for every record.
    proofs_ok: bool = False

    @property
    def checked(self) -> bool:
        """Whether the whole margin step ran and passed."""
        return self.records_ok and self.debt_ok and self.proofs_ok

    @property
    def types(self) -> int:
        """The number ``K`` of collateral types."""
        return len(self.collateral_types)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "checked": self.checked,
            "accounts": self.accounts,
            "slots": self.slots,
            "tiers": self.tiers,
            "types": self.types,
            "collateral_types": list(self.collateral_types),
            "value_decimals": self.value_decimals,
            "params_sha256": self.params_sha256,
            "root": self.root,
            "records_ok": self.records_ok,
            "debt_ok": self.debt_ok,
            "proofs_ok": self.proofs_ok,
        }


@dataclass
class BundleReport(_Outcome):
    """The result of :func:`verifier.bundle.verify_bundle`.

    ``exchange``, ``round``, ``created`` and ``bundle_digest`` (hex) are empty
    strings when the manifest could not be read.
    """

    exchange: str
    round: str
    created: str
    bundle_digest: str
    assets: list[AssetReport] = field(default_factory=list)
    #: The bundle's format version (0 until the manifest is read).
    format_version: int = 0
    #: Per chain of the wallet list: ``{"chain", "height", "block_hash", "balances": "stated" | "node"}``.
    chains: list[dict[str, Any]] = field(default_factory=list)
    #: Every wallet row whose proof of control failed: ``{"index", "field", "asset", "chain", "address",
    #: "kind", "reason"}``.
    wallet_failures: list[dict[str, Any]] = field(default_factory=list)
    #: Every difference a node reported (``--eth-rpc``): ``{"where", "address", "token", "stated", "actual",
    #: "reason"}``.
    balance_mismatches: list[dict[str, Any]] = field(default_factory=list)
    #: Format version 4: the margin section's shape and what was checked of it (``None``: no margin section).
    margin: MarginReport | None = None
    #: The bundle's digest was compared with the digest the exchange published (``--digest``) and matched.
    digest_pinned: bool = False
    #: Step 2 of §7 passed: the directory holds exactly the listed files, each of its listed size and SHA-256.
    files_ok: bool = False
    #: Every row of the wallet list (version 2), in bundle order: ``{"index", "asset", "chain", "address",
    #: "proof_type", "counted", "ok"}``; ``counted`` is the row's balance in the asset's base units, and ``ok``
    #: whether its proof of control held.
    wallets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def margin_checked(self) -> bool:
        """Whether the bundle has a margin section and the whole margin step ran and passed."""
        return self.margin is not None and self.margin.checked

    @property
    def reserves_declared(self) -> bool:
        """Whether every asset's reserves are declared by the exchange (version 1, or version 3 without wallets)."""
        return all(a.reserves_basis == "declared" for a in self.assets)

    @property
    def sum_tree_checked(self) -> bool:
        """Whether the bundle has sum trees (format 3) and every one was checked: nodes and node proofs."""
        return bool(self.assets) and all(a.sum_tree and a.nodes_ok and a.node_proofs_ok for a in self.assets)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "ok": self.ok,
            "reserves_declared": self.reserves_declared,
            "sum_tree_checked": self.sum_tree_checked,
            "margin_checked": self.margin_checked,
            "margin": None if self.margin is None else self.margin.to_json(),
            "digest_pinned": self.digest_pinned,
            "files_ok": self.files_ok,
            "wallets": [{**w, "counted": str(w["counted"])} for w in self.wallets],
            "exchange": self.exchange,
            "round": self.round,
            "created": self.created,
            "bundle_digest": self.bundle_digest,
            "format_version": self.format_version,
            "chains": self.chains,
            "wallet_failures": self.wallet_failures,
            "balance_mismatches": self.balance_mismatches,
            "assets": [a.to_json() for a in self.assets],
            **self._failure_json(),
        }


class Check(NamedTuple):
    """One check of a customer check: ``(name, passed, detail)``."""

    name: str
    passed: bool
    detail: str


@dataclass
class EntryReport:
    """The checks done for one asset of a customer package.

    ``amount`` is the customer's own balance (base units); the report never holds
    the blinding or the leaf salt.
    """

    asset: str
    decimals: int
    amount: int
    leaf_index: int
    leaf_count: int
    checks: list[Check] = field(default_factory=list)
    #: Format version 3 (package version 2) with the bundle: bytes read from each data file, header
    #: included (the check reads records by offset, ``O(log N + m)`` of them, never a whole file).
    bytes_read: dict[str, int] = field(default_factory=dict)

    @property
    def amount_display(self) -> str:
        """The balance as a decimal string with ``decimals`` places."""
        return format_units(self.amount, self.decimals)

    @property
    def ok(self) -> bool:
        """Whether every check done so far passed."""
        return all(c.passed for c in self.checks)

    def add(self, name: str, passed: bool, detail: str) -> None:
        """Record one check."""
        self.checks.append(Check(name, passed, detail))

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "asset": self.asset,
            "decimals": self.decimals,
            "amount": str(self.amount),
            "amount_display": self.amount_display,
            "leaf_index": self.leaf_index,
            "leaf_count": self.leaf_count,
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks],
            "bytes_read": dict(self.bytes_read),
            "ok": self.ok,
        }


#: What a customer check covers: the package alone, the bundle with only the customer's own
#: chunk proof (``--own-chunk-only``), the bundle's every proof for the customer's assets, or (format
#: version 3, package version 2) the customer's chunk and their path in the sum tree, read by offset.
Scope = Literal["package", "own-chunk", "full", "sum-tree"]


class CheckRef(NamedTuple):
    """Names one check of a customer check: ``(asset, name)``; ``asset`` is ``None`` for a package-wide check."""

    asset: str | None
    name: str


@dataclass(frozen=True)
class Claim:
    """One sentence of a customer check's verdict, typed.

    ``key`` says what the sentence states (``"solvency"``, ``"range_all_chunks"``,
    ...), for ``asset`` (``None``: the whole package). A ``proven`` claim lists in
    ``backed_by`` the checks that establish it; :meth:`PackageReport.claim` refuses
    a proven claim unless each of them ran and passed in this run. A claim that is
    not proven states a limit of the check, in plain words, and is backed by nothing.
    """

    key: str
    text: str
    proven: bool
    asset: str | None = None
    backed_by: tuple[CheckRef, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "key": self.key,
            "asset": self.asset,
            "text": self.text,
            "proven": self.proven,
            "backed_by": [{"asset": c.asset, "name": c.name} for c in self.backed_by],
        }


@dataclass
class MarginAccountReport:
    """The public result of the check of a customer's margin account (package format 3; no blinding, no salt)."""

    record_index: int
    record_count: int
    slots: int
    #: The number of range proofs (parts) of the account.
    proofs: int = 0
    #: The account's proofs (and its padding slots' leaves) were checked; ``False`` when a leaves file was
    #: absent (the run is then partial) or the check did not get that far.
    proofs_checked: bool = False
    #: Bytes read from each file by the margin check (records by offset, never a whole file).
    bytes_read: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "record_index": self.record_index,
            "record_count": self.record_count,
            "slots": self.slots,
            "proofs": self.proofs,
            "proofs_checked": self.proofs_checked,
            "bytes_read": dict(self.bytes_read),
        }


@dataclass
class PackageReport(_Outcome):
    """The result of :func:`verifier.package.check_package`.

    ``checks`` are the package-wide checks (``"customer id"``, ``"published digest"``),
    ``entries`` the per-asset ones. ``claims`` are the verdict's sentences; ``proven``
    and ``not_proven`` are their texts. ``status`` is ``"partial"`` unless ``scope``
    is ``"full"``: without the bundle, or with ``--own-chunk-only``, the run does not
    check everything a full verdict states.
    """

    exchange: str
    round: str
    bundle_digest: str
    with_bundle: bool
    scope: Scope = "package"
    customer_id: str = ""
    customer_id_confirmed: bool = False
    digest_pinned: bool = False
    checks: list[Check] = field(default_factory=list)
    entries: list[EntryReport] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    #: Package format version (1: leaf tree, 2: sum tree; 0 until the package is read).
    package_format_version: int = 0
    #: Scope ``"sum-tree"``: the assets whose leaves file was absent or unreadable, so that their
    #: chunk proof (and the chunk's sum) was not checked; the run is then partial.
    chunks_unchecked: list[str] = field(default_factory=list)
    #: Package format 3: the customer's margin account as the bundle check saw it (``None``: no margin
    #: account, or no bundle).
    margin: MarginAccountReport | None = None

    @property
    def margin_unchecked(self) -> bool:
        """Whether the package has a margin account whose proofs the bundle check could not verify."""
        return self.margin is not None and not self.margin.proofs_checked

    @property
    def status(self) -> Status:
        """``"fail"``, ``"partial"`` (passed, but not everything a full verdict states was checked) or ``"pass"``.

        A full check (``"full"``, or ``"sum-tree"`` with every asset's chunk and the margin account's
        proofs checked) passes.
        """
        if not self.ok:
            return "fail"
        if self.scope == "full" or (
            self.scope == "sum-tree" and not self.chunks_unchecked and not self.margin_unchecked
        ):
            return "pass"
        return "partial"

    @property
    def proven(self) -> list[str]:
        """The texts of the proven claims."""
        return [c.text for c in self.claims if c.proven]

    @property
    def not_proven(self) -> list[str]:
        """The texts of the claims stating what was not proven."""
        return [c.text for c in self.claims if not c.proven]

    def add(self, name: str, passed: bool, detail: str) -> None:
        """Record one package-wide check."""
        self.checks.append(Check(name, passed, detail))

    def passed(self, ref: CheckRef) -> bool:
        """Whether the check ``ref`` ran in this run and passed."""
        if ref.asset is None:
            checks = self.checks
        else:
            checks = [c for e in self.entries if e.asset == ref.asset for c in e.checks]
        found = [c for c in checks if c.name == ref.name]
        return bool(found) and all(c.passed for c in found)

    def claim(self, claim: Claim) -> None:
        """Add ``claim`` to the verdict.

        Raises:
            RuntimeError: ``claim`` is proven but backed by no check, or by a check
                that did not run or did not pass (a bug: the verdict would say more
                than was checked).
        """
        if claim.proven and (not claim.backed_by or not all(self.passed(ref) for ref in claim.backed_by)):
            missing = [ref for ref in claim.backed_by if not self.passed(ref)]
            raise RuntimeError(f"claim {claim.key!r} is not backed by checks that passed: {missing}")
        self.claims.append(claim)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``ok`` is true only for status ``"pass"``; ``checks_passed`` for partial ones)."""
        return {
            "ok": self.status == "pass",
            "checks_passed": self.ok,
            "exchange": self.exchange,
            "round": self.round,
            "bundle_digest": self.bundle_digest,
            "with_bundle": self.with_bundle,
            "scope": self.scope,
            "bundle_checked": self.scope != "package",
            "all_chunk_proofs_checked": self.scope == "full",
            "package_format_version": self.package_format_version,
            "sum_tree_checked": self.scope == "sum-tree",
            "chunks_unchecked": list(self.chunks_unchecked),
            "margin_checked": self.margin is not None and self.margin.proofs_checked,
            "margin": None if self.margin is None else self.margin.to_json(),
            "customer_id": self.customer_id,
            "customer_id_confirmed": self.customer_id_confirmed,
            "digest_pinned": self.digest_pinned,
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks],
            "entries": [e.to_json() for e in self.entries],
            "claims": [c.to_json() for c in self.claims],
            "proven": self.proven,
            "not_proven": self.not_proven,
            **self._failure_json(),
        }
