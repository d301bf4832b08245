"""The wallet list (``wallets.json``): where the reserves are, and the proofs that the exchange controls them.

One schema serves the exchange's input file and the copy in the bundle
(``docs/FORMAT.md`` §12)::

    {"format": "zk-solvency-wallets", "version": 1,
     "exchange": "...", "round": "...",
     "chains":  [{"chain": "<CAIP-2>", "height": H, "block_hash": "..."}],
     "assets":  [{"symbol": "ETH", "decimals": 9,
                  "sources": [{"chain": "eip155:1", "token": null, "decimals": 18}]}],
     "wallets": [{"asset": "ETH", "chain": "eip155:1", "address": "0x...", "balance": "<base units>",
                  "proof": {"type": "eip191", "signature": "0x..."}}],
     "attested": [{"asset": "USDT", "custodian": "...", "account": "...", "balance": "<asset base units>",
                   "document_sha256": "<64 hex>"}]}

A wallet's ``balance`` is in the on-chain base units of its source (satoshi, wei,
the token's units); it counts ``floor(balance / 10^(source decimals - asset decimals))``
asset base units (:meth:`WalletList.counted`).

:meth:`WalletList.parse` checks the structure (schema, bounds, references,
duplicates, positive balances) and raises :class:`~circuits.errors.FormatError`
with the field path as ``section``. What one row claims (its address, its proof)
is decoded and checked per row by :func:`decode_proof` and
:func:`circuits.control.verify_control`, so a verifier reports every failing row
with its reason instead of stopping at the first.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from circuits.control import (
    PROOF_TYPES,
    Bip137Proof,
    Bip322Proof,
    Chain,
    Eip191Proof,
    MultisigProof,
    Proof,
    block_hash_problem,
    canonical_address,
    control_message,
    parse_chain,
    verify_control,
)
from circuits.errors import FormatError, VerificationError
from circuits.jsonio import Fields, canonical_json, load_json
from circuits.limits import MAX_ASSETS, MAX_DECIMALS, MAX_LABEL_BYTES, SOLVENCY_BITS, SYMBOL_RE

__all__ = [
    "MAX_WALLETS_BYTES",
    "Wallet",
    "WalletList",
    "check_wallets",
    "decode_proof",
    "proof_items",
    "proofs_json",
]

WALLETS_FORMAT: Final[str] = "zk-solvency-wallets"
WALLETS_FORMAT_VERSION: Final[int] = 1
#: Largest wallet list read (about 250 bytes a row: 10^5 wallets take 25 MB).
MAX_WALLETS_BYTES: Final[int] = 256 << 20
MAX_WALLETS: Final[int] = 1 << 20
MAX_ATTESTED: Final[int] = 1 << 16
MAX_CHAINS: Final[int] = 64
MAX_SOURCES: Final[int] = 64
MAX_SIGNATURES: Final[int] = 20
MAX_SCRIPT_BYTES: Final[int] = 3600
MAX_HEIGHT: Final[int] = (1 << 63) - 1
_BALANCE_LIMIT: Final[int] = 1 << SOLVENCY_BITS
_ADDRESS_BYTES: Final[int] = 128
_HEX_RE: Final[re.Pattern[str]] = re.compile(r"(?:[0-9a-f]{2})+")
_ETH_SIG_RE: Final[re.Pattern[str]] = re.compile(r"0x[0-9a-f]{130}")
_B64_RE: Final[re.Pattern[str]] = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_PROOF_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "bip137": ("signature",),
    "bip322": ("signature",),
    "multisig": ("script", "signatures"),
    "eip191": ("signature",),
}


@dataclass(frozen=True)
class ChainSnapshot:
    """The block at which the exchange states its balances on one chain."""

    chain: Chain
    height: int
    block_hash: str

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"chain": self.chain.caip2, "height": self.height, "block_hash": self.block_hash}


@dataclass(frozen=True)
class Source:
    """Where an asset is held on one chain: the native coin (``token`` None) or a token contract, and its decimals."""

    chain: str
    token: str | None
    decimals: int

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"chain": self.chain, "token": self.token, "decimals": self.decimals}


@dataclass(frozen=True)
class AssetSources:
    """An asset of the bundle, its ledger decimals and where it is held."""

    symbol: str
    decimals: int
    sources: tuple[Source, ...]

    def source(self, chain: str) -> Source | None:
        """Return the asset's source on ``chain``, if any."""
        for s in self.sources:
            if s.chain == chain:
                return s
        return None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"symbol": self.symbol, "decimals": self.decimals, "sources": [s.to_json() for s in self.sources]}


@dataclass(frozen=True)
class Wallet:
    """One wallet row: an address holding ``balance`` on-chain base units of an asset, and its proof of control.

    ``proof`` is the proof object as written (``type`` and its string fields), decoded by :func:`decode_proof`.
    """

    asset: str
    chain: str
    address: str
    balance: int
    proof: tuple[tuple[str, Any], ...]

    @property
    def proof_type(self) -> str:
        """The proof's ``type``."""
        return str(dict(self.proof)["type"])

    @property
    def signed(self) -> bool:
        """Whether the proof carries its signature(s) (an unsigned list is input to ``solvency reserves sign``)."""
        fields = dict(self.proof)
        return bool(fields.get("signatures")) if fields["type"] == "multisig" else "signature" in fields

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "asset": self.asset,
            "chain": self.chain,
            "address": self.address,
            "balance": str(self.balance),
            "proof": dict(self.proof),
        }

    @property
    def sort_key(self) -> tuple[str, str, str]:
        """Bundle order: by asset, chain, address."""
        return (self.asset, self.chain, self.address)


@dataclass(frozen=True)
class Attestation:
    """Reserves no signature can prove (a bank, a custodian): stated by a named party in a hashed document.

    Attested reserves are never counted as verified (``docs/FORMAT.md`` §12).
    """

    asset: str
    custodian: str
    account: str
    balance: int
    document_sha256: bytes

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "asset": self.asset,
            "custodian": self.custodian,
            "account": self.account,
            "balance": str(self.balance),
            "document_sha256": self.document_sha256.hex(),
        }


def _counted(balance: int, source_decimals: int, asset_decimals: int) -> int:
    """The asset base units an on-chain balance counts for: ``floor(balance / 10^(source - asset decimals))``."""
    scale: int = 10 ** (source_decimals - asset_decimals)
    return balance // scale


def _b64(value: Any, where: str) -> bytes:
    """Strict standard base64 (padding required, no whitespace, canonical)."""
    if not isinstance(value, str) or not _B64_RE.fullmatch(value) or len(value) % 4:
        raise FormatError(f"{where}: expected standard base64")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{where}: expected standard base64") from None
    if base64.b64encode(raw).decode() != value:
        raise FormatError(f"{where}: base64 is not canonical")
    return raw


def decode_proof(wallet: Wallet) -> Proof:
    """Decode a wallet's proof object into a typed :data:`~circuits.control.Proof`.

    Raises:
        FormatError: a signature or script is not in its encoding (the reason names the field).
    """
    fields = dict(wallet.proof)
    kind = fields["type"]
    if kind == "eip191":
        sig = fields.get("signature", "")
        if not isinstance(sig, str) or not _ETH_SIG_RE.fullmatch(sig):
            raise FormatError("proof.signature: expected 0x and 130 lowercase hex digits (65 bytes)")
        return Eip191Proof(bytes.fromhex(sig[2:]))
    if kind == "multisig":
        script = fields["script"]
        if not isinstance(script, str) or not _HEX_RE.fullmatch(script):
            raise FormatError("proof.script: expected lowercase hex")
        sigs = tuple(_b64(s, f"proof.signatures[{i}]") for i, s in enumerate(fields.get("signatures", [])))
        return MultisigProof(bytes.fromhex(script), sigs)
    raw = _b64(fields.get("signature", ""), "proof.signature")
    return Bip137Proof(raw) if kind == "bip137" else Bip322Proof(raw)


def _proof_fields(f: Fields, family: str, signed: bool) -> tuple[tuple[str, Any], ...]:
    kind = f.text("type", 16)
    if kind not in PROOF_TYPES:
        f.fail("type", f"unknown proof type {kind!r} (expected one of {', '.join(sorted(PROOF_TYPES))})")
    if (kind == "eip191") != (family == "ethereum"):
        f.fail("type", f"a {kind} proof cannot prove control of an address on a {family} chain")
    out: list[tuple[str, Any]] = [("type", kind)]
    if kind == "multisig":
        out.append(("script", f.text("script", 2 * MAX_SCRIPT_BYTES)))
        present = f.has("signatures")
        if signed or present:
            sigs = f.items("signatures", MAX_SIGNATURES)
            for i, s in enumerate(sigs):
                if not isinstance(s, str) or len(s) > 128:
                    f.fail(f"signatures[{i}]", "expected a base64 string")
            if signed and not sigs:
                f.fail("signatures", "no signature")
            out.append(("signatures", list(sigs)))
    elif signed or f.has("signature"):
        out.append(("signature", f.text("signature", 4096)))
    f.done()
    return tuple(out)


@dataclass(frozen=True)
class WalletList:
    """A validated wallet list (structure only; every row's proof is checked by the verifier).

    Attributes are sorted in bundle order: chains by id, assets by symbol, wallets
    by (asset, chain, address), attested entries by (asset, custodian, account).
    """

    exchange: str
    round: str
    chains: tuple[ChainSnapshot, ...]
    assets: tuple[AssetSources, ...]
    wallets: tuple[Wallet, ...]
    attested: tuple[Attestation, ...]

    def snapshot(self, chain: str) -> ChainSnapshot:
        """Return the snapshot of ``chain`` (listed, by construction)."""
        for s in self.chains:
            if s.chain.caip2 == chain:
                return s
        raise KeyError(chain)

    def asset(self, symbol: str) -> AssetSources:
        """Return the asset ``symbol``."""
        for a in self.assets:
            if a.symbol == symbol:
                return a
        raise KeyError(symbol)

    def message(self, chain: str, address: str) -> bytes:
        """Return the control message the wallet ``address`` on ``chain`` signs (:func:`control_message`)."""
        s = self.snapshot(chain)
        return control_message(self.exchange, self.round, chain, s.height, s.block_hash, address)

    def counted(self, wallet: Wallet) -> int:
        """Return the asset base units a wallet's on-chain balance counts for (rounded down)."""
        asset = self.asset(wallet.asset)
        source = asset.source(wallet.chain)
        assert source is not None
        return _counted(wallet.balance, source.decimals, asset.decimals)

    def attested_total(self, symbol: str) -> int:
        """Return the sum of the attested balances of ``symbol`` (asset base units)."""
        return sum(a.balance for a in self.attested if a.asset == symbol)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form, in bundle order."""
        return {
            "format": WALLETS_FORMAT,
            "version": WALLETS_FORMAT_VERSION,
            "exchange": self.exchange,
            "round": self.round,
            "chains": [c.to_json() for c in self.chains],
            "assets": [a.to_json() for a in self.assets],
            "wallets": [w.to_json() for w in self.wallets],
            "attested": [a.to_json() for a in self.attested],
        }

    def to_bytes(self) -> bytes:
        """Return the canonical bytes of the bundle's ``wallets.json`` (canonical JSON and a newline)."""
        return canonical_json(self.to_json()) + b"\n"

    def with_wallets(self, wallets: Iterable[Wallet]) -> WalletList:
        """Return this list with other wallet rows (in bundle order)."""
        return WalletList(
            self.exchange, self.round, self.chains, self.assets, tuple(sorted(wallets, key=lambda w: w.sort_key)),
            self.attested,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> WalletList:
        """Parse the bundle's ``wallets.json``: canonical form, bundle order, and :meth:`parse`.

        Raises:
            FormatError: with ``section`` the failing field's path (``"wallets.wallets[3].balance"``).
        """
        obj, raw = load_json(data, MAX_WALLETS_BYTES, "wallets")
        if canonical_json(obj) + b"\n" != raw:
            raise FormatError("wallets: not in canonical form (docs/FORMAT.md §6)", section="wallets")
        parsed = cls.parse(obj, "wallets", signed=True, normalize=False)
        if parsed.to_json() != obj:
            raise FormatError("wallets: entries are not in bundle order (docs/FORMAT.md §12)", section="wallets")
        return parsed

    @classmethod
    def parse(cls, obj: Any, where: str, *, signed: bool, normalize: bool) -> WalletList:
        """Validate the structure of a wallet list JSON value; entries come back in bundle order.

        ``signed``: every proof must carry its signature(s). ``normalize``: addresses
        are rewritten in their canonical spelling (the exchange's input); otherwise
        they are kept as written, and a non-canonical one fails its row's check.

        Raises:
            FormatError: naming the field (``section``): the schema, bounds, an unknown
                chain or asset, a wallet on a chain where its asset has no source, a
                zero balance, a duplicate chain, asset, source or wallet, an address
                that is not one of its chain (``normalize`` only), a proof type that
                cannot prove an address of the chain's family.
        """
        f = Fields(obj, where)
        f.const("format", WALLETS_FORMAT)
        f.const("version", WALLETS_FORMAT_VERSION)
        exchange = f.label("exchange", MAX_LABEL_BYTES)
        round_label = f.label("round", MAX_LABEL_BYTES)

        chains: dict[str, ChainSnapshot] = {}
        for i, item in enumerate(f.items("chains", MAX_CHAINS)):
            c = Fields(item, f"{where}.chains[{i}]")
            text = c.text("chain", 128)
            try:
                chain = parse_chain(text)
            except FormatError as exc:
                c.fail("chain", str(exc))
            if text in chains:
                c.fail("chain", f"chain {text} is listed twice")
            height = c.integer("height", 0, MAX_HEIGHT)
            block_hash = c.raw("block_hash")
            problem = block_hash_problem(chain, block_hash)
            if problem is not None:
                c.fail("block_hash", problem)
            c.done()
            chains[text] = ChainSnapshot(chain, height, block_hash)

        assets: dict[str, AssetSources] = {}
        raw_assets = f.items("assets", MAX_ASSETS)
        if not raw_assets:
            f.fail("assets", "at least one asset is required")
        for i, item in enumerate(raw_assets):
            a = Fields(item, f"{where}.assets[{i}]")
            symbol = a.text("symbol", 16, SYMBOL_RE)
            if symbol in assets:
                a.fail("symbol", f"asset {symbol} is listed twice")
            decimals = a.integer("decimals", 0, MAX_DECIMALS)
            sources: dict[str, Source] = {}
            for j, s_item in enumerate(a.items("sources", MAX_SOURCES)):
                s = Fields(s_item, f"{a.where}.sources[{j}]")
                chain_id = s.text("chain", 128)
                if chain_id not in chains:
                    s.fail("chain", f"chain {chain_id[:80]!r} is not in chains")
                if chain_id in sources:
                    s.fail("chain", f"{symbol} has two sources on {chain_id}")
                token_raw = s.raw("token")
                token: str | None = None
                if token_raw is not None:
                    if chains[chain_id].chain.bitcoin is not None:
                        s.fail("token", "a Bitcoin source holds the native coin (token must be null)")
                    if not isinstance(token_raw, str):
                        s.fail("token", "expected null or a contract address")
                    try:
                        token = canonical_address(chains[chain_id].chain, token_raw)
                    except FormatError as exc:
                        s.fail("token", str(exc))
                    if not normalize and token != token_raw:
                        s.fail("token", "not in EIP-55 form")
                src_decimals = s.integer("decimals", decimals, 77)
                s.done()
                sources[chain_id] = Source(chain_id, token, src_decimals)
            a.done()
            assets[symbol] = AssetSources(symbol, decimals, tuple(sorted(sources.values(), key=lambda s: s.chain)))

        wallets: dict[tuple[str, str, str], Wallet] = {}
        totals = dict.fromkeys(assets, 0)
        for i, item in enumerate(f.items("wallets", MAX_WALLETS)):
            w = Fields(item, f"{where}.wallets[{i}]")
            symbol = w.text("asset", 16)
            if symbol not in assets:
                w.fail("asset", f"asset {symbol[:20]!r} is not in assets")
            chain_id = w.text("chain", 128)
            if chain_id not in chains:
                w.fail("chain", f"chain {chain_id[:80]!r} is not in chains")
            source = assets[symbol].source(chain_id)
            if source is None:
                w.fail("chain", f"{symbol} has no source on {chain_id}")
            address = w.text("address", _ADDRESS_BYTES)
            if normalize:
                try:
                    address = canonical_address(chains[chain_id].chain, address)
                except FormatError as exc:
                    w.fail("address", f"not an address of {chain_id}: {exc}")
            balance = w.uint_str("balance", _BALANCE_LIMIT)
            if balance == 0:
                w.fail("balance", "a wallet must hold a positive balance")
            proof = _proof_fields(w.obj("proof"), chains[chain_id].chain.family, signed)
            w.done()
            key = (symbol, chain_id, address)
            if key in wallets:
                w.fail("address", f"{address} is listed twice for {symbol} on {chain_id}")
            wallets[key] = Wallet(symbol, chain_id, address, balance, proof)
            totals[symbol] += _counted(balance, source.decimals, assets[symbol].decimals)
            if totals[symbol] >= _BALANCE_LIMIT:
                w.fail("balance", f"the {symbol} reserves reach 2^{SOLVENCY_BITS} base units")

        attested: dict[tuple[str, str, str], Attestation] = {}
        for i, item in enumerate(f.items("attested", MAX_ATTESTED)):
            t = Fields(item, f"{where}.attested[{i}]")
            symbol = t.text("asset", 16)
            if symbol not in assets:
                t.fail("asset", f"asset {symbol[:20]!r} is not in assets")
            custodian = t.label("custodian", MAX_LABEL_BYTES)
            account = t.label("account", MAX_LABEL_BYTES)
            balance = t.uint_str("balance", _BALANCE_LIMIT)
            if balance == 0:
                t.fail("balance", "an attested entry must hold a positive balance")
            digest = t.hexbytes("document_sha256", 32)
            t.done()
            akey = (symbol, custodian, account)
            if akey in attested:
                t.fail("account", f"{symbol} at {custodian} / {account} is listed twice")
            attested[akey] = Attestation(symbol, custodian, account, balance, digest)
        f.done()
        for symbol in assets:
            if totals[symbol] + sum(a.balance for a in attested.values() if a.asset == symbol) >= _BALANCE_LIMIT:
                f.fail("attested", f"the {symbol} reserves reach 2^{SOLVENCY_BITS} base units")
        return cls(
            exchange,
            round_label,
            tuple(chains[k] for k in sorted(chains)),
            tuple(assets[k] for k in sorted(assets)),
            tuple(wallets[k] for k in sorted(wallets)),
            tuple(attested[k] for k in sorted(attested)),
        )


def proofs_json(proof: Proof) -> dict[str, Any]:
    """Return the JSON proof object of a typed proof (the signer's output)."""
    if isinstance(proof, Eip191Proof):
        return {"type": "eip191", "signature": "0x" + proof.signature.hex()}
    if isinstance(proof, MultisigProof):
        return {
            "type": "multisig",
            "script": proof.script.hex(),
            "signatures": [base64.b64encode(s).decode() for s in proof.signatures],
        }
    raw = proof.signature if isinstance(proof, Bip137Proof) else proof.witness
    return {"type": proof.type, "signature": base64.b64encode(raw).decode()}


def proof_items(obj: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Return a proof object as the (key, value) tuple a :class:`Wallet` keeps, ``type`` first."""
    return (("type", obj["type"]), *((k, v) for k, v in obj.items() if k != "type"))


@dataclass(frozen=True)
class RowFailure:
    """One wallet row whose proof of control failed: where, how and why.

    Attributes:
        index: the row's position in ``wallets``.
        field: its field path (``"wallets[3].proof"``).
        kind: ``"malformed"`` (does not decode) or ``"false"`` (decodes, does not prove control).
        reason: the reason in plain words.
    """

    index: int
    field: str
    kind: str
    reason: str


@dataclass(frozen=True)
class WalletCheck:
    """The result of checking every row's proof of control (:func:`check_wallets`).

    ``verified[symbol]`` sums the counted balances (asset base units) of the rows that
    passed; ``wallets[symbol]`` counts the asset's rows.
    """

    failures: tuple[RowFailure, ...]
    verified: Mapping[str, int]
    wallets: Mapping[str, int]

    @property
    def ok(self) -> bool:
        """Whether every row's proof held."""
        return not self.failures


def check_wallets(wallet_list: WalletList) -> WalletCheck:
    """Check every wallet's proof of control against the control message of its chain's snapshot.

    A row fails if its address is not in canonical form, its proof does not decode,
    or the proof does not show control of the address (:func:`circuits.control.verify_control`);
    and a single-key wallet fails if the key that signed also signed another
    single-key wallet of the same asset (the same key in two wallets). Every row is
    checked; all failures are returned, none raised.
    """
    chains = {s.chain.caip2: s.chain for s in wallet_list.chains}
    failures: list[RowFailure] = []
    verified = {a.symbol: 0 for a in wallet_list.assets}
    counts = {a.symbol: 0 for a in wallet_list.assets}
    first_key: dict[tuple[str, bytes], int] = {}
    for i, w in enumerate(wallet_list.wallets):
        counts[w.asset] += 1
        where = f"wallets[{i}]"
        chain = chains[w.chain]
        try:
            proof = decode_proof(w)
            keys = verify_control(chain, w.address, proof, wallet_list.message(w.chain, w.address), canonical=True)
        except FormatError as exc:
            failures.append(RowFailure(i, f"{where}.proof", "malformed", str(exc)))
            continue
        except VerificationError as exc:
            failures.append(RowFailure(i, f"{where}.proof", "false", str(exc)))
            continue
        if proof.single_key:
            clash = next((first_key[(w.asset, k)] for k in sorted(keys) if (w.asset, k) in first_key), None)
            if clash is not None:
                failures.append(
                    RowFailure(
                        i, f"{where}.proof", "false",
                        f"signed by the same key as wallets[{clash}] ({wallet_list.wallets[clash].address}); "
                        "a key may back one single-key wallet per asset",
                    )
                )
                continue
            for k in keys:
                first_key[(w.asset, k)] = i
        verified[w.asset] += wallet_list.counted(w)
    return WalletCheck(tuple(failures), verified, counts)
