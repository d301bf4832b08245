r"""Proofs of control of a wallet (``docs/FORMAT.md`` §12; notes 51 Bitcoin and 52 Ethereum).

The exchange proves it controls an address by signing the **control message**,
which the tool builds from the statement (never typed by hand)::

    zk-solvency proof of reserves v1
    exchange: <exchange>
    round: <round>
    chain: <CAIP-2 chain id>
    height: <block height, decimal>
    block: <block hash>
    address: <address>

(UTF-8, lines joined by ``\n``, no trailing newline). Every line is bound, so a
signature made for another exchange, round, chain, height, block or address does
not verify. The exchange and round are text fields (:mod:`circuits.text`), which
hold no control character, so no line can be forged inside another.

Chains are CAIP-2 ids (:class:`Chain`): the three Bitcoin networks of
:data:`circuits.NETWORKS` and ``eip155:<id>`` for Ethereum. Each proof type
(:data:`Proof`) proves control of certain address kinds:

============  ======================================================  ==========
``type``      addresses                                               keys
============  ======================================================  ==========
``bip137``    P2PKH, P2SH (as P2SH-P2WPKH), P2WPKH                    single
``bip322``    P2WPKH, P2TR (BIP-322 simple signature)                 single
``multisig``  P2SH, P2WSH (bare m-of-n script, m compact signatures)  m of n
``eip191``    Ethereum account (``personal_sign``)                    single
============  ======================================================  ==========

:func:`verify_control` returns the x-coordinates of the keys that signed, or
raises :class:`~circuits.errors.FormatError` (the proof does not decode) or
:class:`~circuits.errors.VerificationError` (it decodes but is false, or the proof
type cannot prove this kind of address). It never returns without a check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from circuits import ethereum
from circuits.bitcoin_address import NETWORKS, AddressKind, BitcoinAddress, BitcoinNetwork, parse_address
from circuits.bitcoin_proofs import verify_bip137, verify_bip322, verify_multisig
from circuits.errors import FormatError, VerificationError

__all__ = [
    "Bip137Proof",
    "Bip322Proof",
    "Eip191Proof",
    "MultisigProof",
    "Proof",
    "control_message",
    "verify_control",
]

#: The first line of every control message; the version changes if the message layout does.
CONTROL_MESSAGE_TAG: Final[str] = "zk-solvency proof of reserves v1"


@dataclass(frozen=True)
class Chain:
    """A chain named by its CAIP-2 id: a Bitcoin network or an Ethereum chain.

    Attributes:
        caip2: the id, e.g. ``"eip155:1"``.
        bitcoin: the Bitcoin network, or ``None`` for an Ethereum chain.
        eth_chain_id: the EIP-155 chain id, or ``None`` for a Bitcoin network.
    """

    caip2: str
    bitcoin: BitcoinNetwork | None
    eth_chain_id: int | None

    @property
    def family(self) -> str:
        """``"bitcoin"`` or ``"ethereum"``."""
        return "bitcoin" if self.bitcoin is not None else "ethereum"


def parse_chain(text: str) -> Chain:
    """Return the chain of a CAIP-2 id.

    Raises:
        FormatError: not a supported Bitcoin network id nor ``eip155:<decimal id>``.
    """
    if not isinstance(text, str):
        raise FormatError("a chain id must be a string")
    network = NETWORKS.get(text)
    if network is not None:
        return Chain(text, network, None)
    if text.startswith("eip155:"):
        return Chain(text, None, ethereum.eth_chain_id(text))
    raise FormatError(
        f"unsupported chain {text[:80]!r}: expected a Bitcoin network (bip122:<genesis>) or eip155:<chain id>"
    )


def block_hash_problem(chain: Chain, text: object) -> str | None:
    """Return why ``text`` is not a block hash as written for ``chain``, or ``None``.

    Bitcoin: 64 lowercase hex digits, in the order RPC and explorers show.
    Ethereum: ``0x`` and 64 lowercase hex digits.
    """
    prefix = "" if chain.bitcoin is not None else "0x"
    expected = f"expected {prefix + ' and ' if prefix else ''}64 lowercase hex digits"
    if not isinstance(text, str) or not text.startswith(prefix):
        return expected
    digits = text[len(prefix) :]
    if len(digits) != 64 or any(c not in "0123456789abcdef" for c in digits):
        return expected
    return None


def canonical_address(chain: Chain, text: str) -> str:
    """Return ``text`` as an address of ``chain`` in its canonical spelling.

    Bitcoin: the address as encoded (bech32 in lower case). Ethereum: EIP-55.

    Raises:
        FormatError: not an address of this chain (another network's prefix, a bad
            checksum, an unsupported witness version, ...).
    """
    if not isinstance(text, str):
        raise FormatError("an address must be a string")
    if chain.bitcoin is not None:
        return parse_address(chain.bitcoin, text).text
    return ethereum.checksum_address(ethereum.parse_eth_address(text))


@dataclass(frozen=True)
class Bip137Proof:
    """A Bitcoin signed-message compact signature (65 bytes: header, r, s) over the control message."""

    signature: bytes
    type: ClassVar[str] = "bip137"
    single_key: ClassVar[bool] = True


@dataclass(frozen=True)
class Bip322Proof:
    """A BIP-322 simple signature: the serialized witness stack of the virtual ``to_sign`` transaction."""

    witness: bytes
    type: ClassVar[str] = "bip322"
    single_key: ClassVar[bool] = True


@dataclass(frozen=True)
class MultisigProof:
    """A bare m-of-n script (redeem script of P2SH, witness script of P2WSH) and compact signatures by its keys."""

    script: bytes
    signatures: tuple[bytes, ...]
    type: ClassVar[str] = "multisig"
    single_key: ClassVar[bool] = False


@dataclass(frozen=True)
class Eip191Proof:
    """An Ethereum ``personal_sign`` signature (65 bytes: r, s, v) over the control message."""

    signature: bytes
    type: ClassVar[str] = "eip191"
    single_key: ClassVar[bool] = True


Proof = Bip137Proof | Bip322Proof | MultisigProof | Eip191Proof

#: Proof type name -> the address kinds it can prove (``None``: an Ethereum account).
PROOF_TYPES: Final[dict[str, frozenset[AddressKind] | None]] = {
    "bip137": frozenset({AddressKind.P2PKH, AddressKind.P2SH, AddressKind.P2WPKH}),
    "bip322": frozenset({AddressKind.P2WPKH, AddressKind.P2TR}),
    "multisig": frozenset({AddressKind.P2SH, AddressKind.P2WSH}),
    "eip191": None,
}


def control_message(exchange: str, round_label: str, chain: str, height: int, block_hash: str, address: str) -> bytes:
    """Return the exact bytes a wallet signs to prove control at a snapshot (module docstring)."""
    lines = (
        CONTROL_MESSAGE_TAG,
        f"exchange: {exchange}",
        f"round: {round_label}",
        f"chain: {chain}",
        f"height: {height}",
        f"block: {block_hash}",
        f"address: {address}",
    )
    return "\n".join(lines).encode("utf-8")


def _bitcoin_address(chain: Chain, address: str, proof: Proof) -> BitcoinAddress:
    assert chain.bitcoin is not None
    parsed = parse_address(chain.bitcoin, address)
    kinds = PROOF_TYPES[proof.type]
    if kinds is None or parsed.kind not in kinds:
        raise VerificationError(f"a {proof.type} proof cannot prove control of a {parsed.kind.name} address")
    return parsed


_NOT_CANONICAL: Final[str] = "the address is not written in its canonical form"


def verify_control(
    chain: Chain, address: str, proof: Proof, message: bytes, *, canonical: bool = False
) -> frozenset[bytes]:
    """Verify that ``proof`` signs ``message`` for ``address`` on ``chain``; return the signing keys' x-coordinates.

    ``canonical``: also require ``address`` to be spelled as :func:`canonical_address`
    spells it (the bundle's rule), checked on the one parse of the address.

    Raises:
        FormatError: the address or the proof does not decode (or, with ``canonical``,
            the address is not in its canonical spelling).
        VerificationError: the proof is false, or its type cannot prove this address's kind.
    """
    if chain.bitcoin is None:
        if not isinstance(proof, Eip191Proof):
            raise VerificationError(f"a {proof.type} proof cannot prove control of an Ethereum account")
        raw = ethereum.parse_eth_address(address)
        if canonical and ethereum.checksum_address(raw) != address:
            raise FormatError(f"{_NOT_CANONICAL} (EIP-55)")
        return ethereum.verify_eip191(raw, proof.signature, message)
    if isinstance(proof, Eip191Proof):
        raise VerificationError("an eip191 proof cannot prove control of a Bitcoin address")
    parsed = _bitcoin_address(chain, address, proof)
    if canonical and parsed.text != address:
        raise FormatError(_NOT_CANONICAL)
    if isinstance(proof, Bip137Proof):
        return verify_bip137(parsed, proof.signature, message)
    if isinstance(proof, Bip322Proof):
        return verify_bip322(parsed, proof.witness, message)
    return verify_multisig(parsed, proof.script, proof.signatures, message)
