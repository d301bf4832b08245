"""Bitcoin networks, addresses and the scripts behind them (``circuits/notes/51-bitcoin-control.md``).

An address is decoded into a :class:`BitcoinAddress`: its network, its kind and its
program (the 20-byte hash of P2PKH, P2SH and P2WPKH, the 32-byte program of P2WSH
and P2TR). Base58Check covers P2PKH and P2SH, bech32 (BIP-173) witness version 0
and bech32m (BIP-350) witness version 1 with a 32-byte program. Every other
string, and an address of another network, is a :class:`~circuits.errors.FormatError`.

Testnet3 and regtest share their Base58Check version bytes, so a base58 address of
one decodes on the other; their bech32 prefixes (``tb``, ``bcrt``) differ.

The multisig scripts here are the bare ``OP_m <keys> OP_n OP_CHECKMULTISIG`` form
used as a P2SH redeem script or a P2WSH witness script. No secret is handled here.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from coincurve import PublicKey

from circuits.errors import FormatError

__all__ = [
    "NETWORKS",
    "AddressKind",
    "BitcoinAddress",
    "BitcoinNetwork",
    "base58check_decode",
    "hash160",
    "multisig_script",
    "p2pkh_address",
    "p2sh_address",
    "p2sh_p2wpkh_address",
    "p2tr_address",
    "p2wpkh_address",
    "p2wsh_address",
    "parse_address",
    "parse_multisig_script",
    "tagged_hash",
    "taproot_tweak",
]

#: The order of the secp256k1 group.
SECP256K1_ORDER: Final[int] = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

OP_0: Final[int] = 0x00
OP_1: Final[int] = 0x51
OP_16: Final[int] = 0x60
OP_DUP: Final[int] = 0x76
OP_EQUAL: Final[int] = 0x87
OP_EQUALVERIFY: Final[int] = 0x88
OP_HASH160: Final[int] = 0xA9
OP_CHECKSIG: Final[int] = 0xAC
OP_CHECKMULTISIG: Final[int] = 0xAE

#: Largest P2SH redeem script (the script-element size limit).
MAX_P2SH_SCRIPT_BYTES: Final[int] = 520
#: Largest standard P2WSH witness script.
MAX_P2WSH_SCRIPT_BYTES: Final[int] = 3600
#: Most keys in a bare multisig redeem script (P2SH) and in a witness script (P2WSH).
MAX_P2SH_KEYS: Final[int] = 15
MAX_P2WSH_KEYS: Final[int] = 20

#: Longest address text decoded (bech32's limit is 90 characters; base58 addresses are shorter).
_MAX_ADDRESS_CHARS: Final[int] = 90


@dataclass(frozen=True)
class BitcoinNetwork:
    """A Bitcoin network: its CAIP-2 chain id, name, bech32 prefix and Base58Check version bytes."""

    caip2: str
    name: str
    hrp: str
    p2pkh_version: int
    p2sh_version: int


MAINNET: Final[BitcoinNetwork] = BitcoinNetwork("bip122:000000000019d6689c085ae165831e93", "mainnet", "bc", 0x00, 0x05)
TESTNET3: Final[BitcoinNetwork] = BitcoinNetwork(
    "bip122:000000000933ea01ad0ee984209779ba", "testnet3", "tb", 0x6F, 0xC4
)
REGTEST: Final[BitcoinNetwork] = BitcoinNetwork(
    "bip122:0f9188f13cb7b2c71f2a335e3a4fc328", "regtest", "bcrt", 0x6F, 0xC4
)

#: The supported networks keyed by CAIP-2 chain id.
NETWORKS: Final[Mapping[str, BitcoinNetwork]] = MappingProxyType({n.caip2: n for n in (MAINNET, TESTNET3, REGTEST)})


class AddressKind(enum.Enum):
    """The address kinds this project decodes (a P2SH-P2WPKH address is a ``P2SH``)."""

    P2PKH = "p2pkh"
    P2SH = "p2sh"
    P2WPKH = "p2wpkh"
    P2WSH = "p2wsh"
    P2TR = "p2tr"


_PROGRAM_SIZE: Final[Mapping[AddressKind, int]] = MappingProxyType(
    {
        AddressKind.P2PKH: 20,
        AddressKind.P2SH: 20,
        AddressKind.P2WPKH: 20,
        AddressKind.P2WSH: 32,
        AddressKind.P2TR: 32,
    }
)


@dataclass(frozen=True)
class BitcoinAddress:
    """A decoded address: network, kind and program (hash160 or 32-byte witness program).

    Raises:
        FormatError: if the program length does not fit the kind.
    """

    network: BitcoinNetwork
    kind: AddressKind
    program: bytes

    def __post_init__(self) -> None:
        """Check the program length against the kind."""
        if len(self.program) != _PROGRAM_SIZE[self.kind]:
            raise FormatError(
                f"a {self.kind.name} program has {_PROGRAM_SIZE[self.kind]} bytes, not {len(self.program)}"
            )

    @property
    def text(self) -> str:
        """The canonical text: Base58Check, or lowercase bech32 (v0) / bech32m (v1)."""
        if self.kind is AddressKind.P2PKH:
            return _base58check_encode(bytes([self.network.p2pkh_version]) + self.program)
        if self.kind is AddressKind.P2SH:
            return _base58check_encode(bytes([self.network.p2sh_version]) + self.program)
        version = 1 if self.kind is AddressKind.P2TR else 0
        return _segwit_encode(self.network.hrp, version, self.program)

    @property
    def script_pubkey(self) -> bytes:
        """The output script the address stands for."""
        if self.kind is AddressKind.P2PKH:
            return bytes([OP_DUP, OP_HASH160, 20]) + self.program + bytes([OP_EQUALVERIFY, OP_CHECKSIG])
        if self.kind is AddressKind.P2SH:
            return bytes([OP_HASH160, 20]) + self.program + bytes([OP_EQUAL])
        version = OP_1 if self.kind is AddressKind.P2TR else OP_0
        return bytes([version, len(self.program)]) + self.program


# --- hashes ---------------------------------------------------------------------------------------


def hash160(data: bytes) -> bytes:
    """Return RIPEMD-160(SHA-256(data)), the hash of P2PKH, P2SH and P2WPKH."""
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def _double_sha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


_TAG_CACHE: dict[str, bytes] = {}


def tagged_hash(tag: str, data: bytes) -> bytes:
    """Return the BIP-340 tagged hash ``SHA256(SHA256(tag) || SHA256(tag) || data)``."""
    prefix = _TAG_CACHE.get(tag)
    if prefix is None:
        digest = hashlib.sha256(tag.encode("utf-8")).digest()
        prefix = _TAG_CACHE.setdefault(tag, digest + digest)
    return hashlib.sha256(prefix + data).digest()


def taproot_tweak(internal_xonly: bytes) -> bytes:
    """Return the BIP-341 key-path tweak ``t = hash_TapTweak(P)`` of an internal key with no script tree.

    The output key is ``Q = lift_x(P) + t*G`` (BIP-86 single-key wallets).

    Raises:
        FormatError: if ``internal_xonly`` is not 32 bytes or the tweak is not below the group order.
    """
    if len(internal_xonly) != 32:
        raise FormatError(f"an x-only key has 32 bytes, not {len(internal_xonly)}")
    tweak = tagged_hash("TapTweak", internal_xonly)
    if int.from_bytes(tweak, "big") >= SECP256K1_ORDER:
        raise FormatError("the taproot tweak is not below the group order")
    return tweak


# --- Base58Check ----------------------------------------------------------------------------------

_B58_ALPHABET: Final[str] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX: Final[Mapping[str, int]] = MappingProxyType({c: i for i, c in enumerate(_B58_ALPHABET)})


def _base58check_encode(payload: bytes) -> str:
    data = payload + _double_sha256(payload)[:4]
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(_B58_ALPHABET[digit])
    zeros = len(data) - len(data.lstrip(b"\x00"))
    return "1" * zeros + "".join(reversed(digits))


def base58check_decode(text: str) -> bytes:
    """Return the payload of a Base58Check string (the checksum removed).

    Raises:
        FormatError: on a character outside the alphabet, a short string or a wrong checksum.
    """
    if len(text) > _MAX_ADDRESS_CHARS:
        raise FormatError("the base58 string is longer than 90 characters")
    number = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            raise FormatError("the address holds a character outside the base58 alphabet")
        number = number * 58 + digit
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    data = b"\x00" * zeros + body
    if len(data) < 5:
        raise FormatError("the base58 address is too short")
    payload, checksum = data[:-4], data[-4:]
    if _double_sha256(payload)[:4] != checksum:
        raise FormatError("the base58 address checksum is wrong")
    return payload


# --- bech32 / bech32m -----------------------------------------------------------------------------

_BECH32_CHARSET: Final[str] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX: Final[dict[str, int]] = {c: i for i, c in enumerate(_BECH32_CHARSET)}
_BECH32_GENERATOR: Final[tuple[int, ...]] = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# The checksum constants: bech32 (BIP-173) and bech32m (BIP-350).
_BECH32_CONST: Final[int] = 1
_BECH32M_CONST: Final[int] = 0x2BC830A3


def _generator_table() -> tuple[int, ...]:
    table = []
    for top in range(32):
        value = 0
        for i in range(5):
            if (top >> i) & 1:
                value ^= _BECH32_GENERATOR[i]
        table.append(value)
    return tuple(table)


# XOR of the generators selected by each 5-bit value of the checksum's top bits (BIP-173's inner loop, tabulated).
_BECH32_TABLE: Final[tuple[int, ...]] = _generator_table()


def _bech32_polymod(values: Sequence[int]) -> int:
    checksum = 1
    table = _BECH32_TABLE
    for value in values:
        checksum = ((checksum & 0x1FFFFFF) << 5) ^ value ^ table[checksum >> 25]
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _bech32_decode(text: str) -> tuple[str, list[int], int]:
    """Decode a bech32 or bech32m string into (hrp, data without checksum, checksum constant).

    Raises:
        FormatError: on any violation of BIP-173's string rules or a checksum that is neither constant.
    """
    if len(text) > _MAX_ADDRESS_CHARS:
        raise FormatError("the bech32 string is longer than 90 characters")
    if not text or not text.isascii() or min(text) < "!" or max(text) > "~":
        raise FormatError("the bech32 string holds a character outside US-ASCII 33..126")
    if text.lower() != text and text.upper() != text:
        raise FormatError("the bech32 string mixes upper and lower case")
    text = text.lower()
    separator = text.rfind("1")
    if separator < 1:
        raise FormatError("the bech32 string has no human-readable part")
    if separator + 7 > len(text):
        raise FormatError("the bech32 checksum is too short")
    hrp, rest = text[:separator], text[separator + 1 :]
    try:
        data = [_BECH32_INDEX[char] for char in rest]
    except KeyError:
        raise FormatError("the bech32 data part holds a character outside the bech32 alphabet") from None
    constant = _bech32_polymod(_hrp_expand(hrp) + data)
    if constant not in (_BECH32_CONST, _BECH32M_CONST):
        raise FormatError("the bech32 checksum is wrong")
    return hrp, data[:-6], constant


def _bech32_encode(hrp: str, data: Sequence[int], constant: int) -> str:
    values = _hrp_expand(hrp) + list(data)
    polymod = _bech32_polymod([*values, 0, 0, 0, 0, 0, 0]) ^ constant
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32_CHARSET[d] for d in [*data, *checksum])


def _eight_to_five(data: bytes) -> list[int]:
    """Regroup bytes into 5-bit values, zero-padding the last one (``convertbits(data, 8, 5, True)``)."""
    size = (8 * len(data) + 4) // 5
    accumulator = int.from_bytes(data, "big") << (5 * size - 8 * len(data))
    return [(accumulator >> (5 * (size - 1 - i))) & 31 for i in range(size)]


def _five_to_eight(values: Sequence[int]) -> bytes:
    """Regroup 5-bit values into bytes, refusing more than 4 bits of padding or non-zero padding.

    The decoding direction of BIP-173's ``convertbits(data, 5, 8, False)``, on one integer.

    Raises:
        FormatError: on 5 or more padding bits, or padding bits that are not zero.
    """
    accumulator = 0
    for value in values:
        accumulator = (accumulator << 5) | value
    size, padding = divmod(5 * len(values), 8)
    if padding > 4:
        raise FormatError("the bech32 data has more than 4 bits of padding")
    if accumulator & ((1 << padding) - 1):
        raise FormatError("the bech32 data has non-zero padding")
    return (accumulator >> padding).to_bytes(size, "big")


def _segwit_encode(hrp: str, version: int, program: bytes) -> str:
    constant = _BECH32_CONST if version == 0 else _BECH32M_CONST
    return _bech32_encode(hrp, [version, *_eight_to_five(program)], constant)


def _segwit_decode(text: str) -> tuple[str, int, bytes]:
    """Decode a segwit address into (hrp, witness version, program), enforcing BIP-350.

    Raises:
        FormatError: on a bad string, a version above 16, a program outside 2..40 bytes, a v0 program
            that is not 20 or 32 bytes, or the wrong checksum constant for the version.
    """
    hrp, data, constant = _bech32_decode(text)
    if not data:
        raise FormatError("the segwit address has an empty data part")
    version = data[0]
    if version > 16:
        raise FormatError(f"witness version {version} does not exist")
    program = _five_to_eight(data[1:])
    if not 2 <= len(program) <= 40:
        raise FormatError(f"a witness program has 2 to 40 bytes, not {len(program)}")
    if version == 0 and len(program) not in (20, 32):
        raise FormatError(f"a version 0 witness program has 20 or 32 bytes, not {len(program)}")
    expected = _BECH32_CONST if version == 0 else _BECH32M_CONST
    if constant != expected:
        name = "bech32" if version == 0 else "bech32m"
        raise FormatError(f"a version {version} segwit address uses the {name} checksum")
    return hrp, version, program


# --- parsing --------------------------------------------------------------------------------------

_ALL_HRPS: Final[tuple[str, ...]] = tuple(sorted({n.hrp for n in NETWORKS.values()}, key=len, reverse=True))


def parse_address(network: BitcoinNetwork, text: str) -> BitcoinAddress:
    """Decode ``text`` as an address of ``network``.

    Bech32 is tried when the text starts with a known prefix and ``1`` (``bc1``, ``tb1``,
    ``bcrt1``, any case), Base58Check otherwise.

    Raises:
        FormatError: for an undecodable address, one of another network, or a kind this project
            does not support (witness versions other than 0 and 1, v1 programs that are not 32 bytes).
    """
    if not isinstance(text, str):
        raise FormatError("the address is not a string")
    if not text or len(text) > _MAX_ADDRESS_CHARS:
        raise FormatError("the address is empty or longer than 90 characters")
    lowered = text.lower()
    if any(lowered.startswith(hrp + "1") for hrp in _ALL_HRPS):
        return _parse_segwit(network, text)
    return _parse_base58(network, text)


def _parse_segwit(network: BitcoinNetwork, text: str) -> BitcoinAddress:
    hrp, version, program = _segwit_decode(text)
    if hrp != network.hrp:
        other = next((n.name for n in NETWORKS.values() if n.hrp == hrp), None)
        where = f"a {other} address" if other else f"an address with prefix {hrp!r}"
        raise FormatError(f"{where}, not a {network.name} address")
    if version == 0:
        kind = AddressKind.P2WPKH if len(program) == 20 else AddressKind.P2WSH
        return BitcoinAddress(network, kind, program)
    if version == 1 and len(program) == 32:
        return BitcoinAddress(network, AddressKind.P2TR, program)
    raise FormatError(f"witness version {version} with a {len(program)}-byte program is not supported")


def _parse_base58(network: BitcoinNetwork, text: str) -> BitcoinAddress:
    payload = base58check_decode(text)
    if len(payload) != 21:
        raise FormatError(f"a base58 address holds 21 bytes, not {len(payload)}")
    version, program = payload[0], payload[1:]
    if version == network.p2pkh_version:
        return BitcoinAddress(network, AddressKind.P2PKH, program)
    if version == network.p2sh_version:
        return BitcoinAddress(network, AddressKind.P2SH, program)
    others = [n.name for n in NETWORKS.values() if version in (n.p2pkh_version, n.p2sh_version)]
    if others:
        raise FormatError(f"a {' or '.join(others)} address, not a {network.name} address")
    raise FormatError(f"base58 version byte {version} is not a known address version")


# --- address construction -------------------------------------------------------------------------


def _check_public_key(pubkey: bytes, *, compressed_only: bool) -> None:
    if len(pubkey) == 33 and pubkey[0] in (2, 3):
        return
    if len(pubkey) == 65 and pubkey[0] == 4 and not compressed_only:
        return
    wanted = "a 33-byte compressed" if compressed_only else "a 33-byte compressed or 65-byte uncompressed"
    raise FormatError(f"the key is not {wanted} public key encoding")


def p2pkh_address(network: BitcoinNetwork, pubkey: bytes) -> BitcoinAddress:
    """Return the P2PKH address of a public key (compressed or uncompressed; the serialization is hashed).

    Raises:
        FormatError: if ``pubkey`` is not a 33- or 65-byte key encoding.
    """
    _check_public_key(pubkey, compressed_only=False)
    return BitcoinAddress(network, AddressKind.P2PKH, hash160(pubkey))


def p2wpkh_address(network: BitcoinNetwork, pubkey: bytes) -> BitcoinAddress:
    """Return the P2WPKH address of a compressed public key.

    Raises:
        FormatError: if ``pubkey`` is not a 33-byte compressed key encoding.
    """
    _check_public_key(pubkey, compressed_only=True)
    return BitcoinAddress(network, AddressKind.P2WPKH, hash160(pubkey))


def p2sh_p2wpkh_address(network: BitcoinNetwork, pubkey: bytes) -> BitcoinAddress:
    """Return the P2SH-wrapped P2WPKH address (kind ``P2SH``) of a compressed public key.

    Raises:
        FormatError: if ``pubkey`` is not a 33-byte compressed key encoding.
    """
    _check_public_key(pubkey, compressed_only=True)
    return BitcoinAddress(network, AddressKind.P2SH, hash160(bytes([OP_0, 20]) + hash160(pubkey)))


def p2tr_address(network: BitcoinNetwork, output_xonly: bytes) -> BitcoinAddress:
    """Return the P2TR address of a 32-byte x-only *output* key (already tweaked).

    Raises:
        FormatError: if ``output_xonly`` is not 32 bytes.
    """
    return BitcoinAddress(network, AddressKind.P2TR, bytes(output_xonly))


def p2sh_address(network: BitcoinNetwork, script: bytes) -> BitcoinAddress:
    """Return the P2SH address of a redeem script (``hash160(script)``)."""
    return BitcoinAddress(network, AddressKind.P2SH, hash160(script))


def p2wsh_address(network: BitcoinNetwork, script: bytes) -> BitcoinAddress:
    """Return the P2WSH address of a witness script (``sha256(script)``)."""
    return BitcoinAddress(network, AddressKind.P2WSH, hashlib.sha256(script).digest())


# --- multisig scripts -----------------------------------------------------------------------------


def _encode_small(number: int) -> bytes:
    """The minimal push of a small number: OP_1..OP_16, or a one-byte push for 17..20."""
    if 1 <= number <= 16:
        return bytes([OP_1 + number - 1])
    return bytes([1, number])


def multisig_script(m: int, pubkeys: Sequence[bytes]) -> bytes:
    """Return the script ``OP_m <pubkey_1> ... <pubkey_n> OP_n OP_CHECKMULTISIG``.

    ``m`` and ``n`` up to 16 are ``OP_1``..``OP_16``; 17..20 (P2WSH only) a minimal one-byte push.
    The keys stay in the given order. The result is checked by :func:`parse_multisig_script`
    under the P2WSH limits when every key is compressed and ``n > 15``, else under the P2SH limits.

    Raises:
        FormatError: if the script would not be a standard multisig script.
    """
    keys = [bytes(k) for k in pubkeys]
    if not 1 <= m <= len(keys) <= MAX_P2WSH_KEYS:
        raise FormatError(f"a multisig script needs 1 <= m <= n <= {MAX_P2WSH_KEYS}, not m={m}, n={len(keys)}")
    script = _encode_small(m) + b"".join(bytes([len(k)]) + k for k in keys)
    script += _encode_small(len(keys)) + bytes([OP_CHECKMULTISIG])
    witness = len(keys) > MAX_P2SH_KEYS or len(script) > MAX_P2SH_SCRIPT_BYTES
    parse_multisig_script(script, kind=AddressKind.P2WSH if witness else AddressKind.P2SH)
    return script


def _read_small(script: bytes, at: int, *, witness: bool) -> tuple[int, int]:
    """Read a minimally encoded small number at ``at``; return (value, next offset)."""
    if at >= len(script):
        raise FormatError("the multisig script ends early")
    opcode = script[at]
    if OP_1 <= opcode <= OP_16:
        return opcode - OP_1 + 1, at + 1
    if witness and opcode == 1 and at + 1 < len(script) and 17 <= script[at + 1] <= MAX_P2WSH_KEYS:
        return script[at + 1], at + 2
    raise FormatError("the multisig script does not start or end its key list with a small-number opcode")


def parse_multisig_script(script: bytes, *, kind: AddressKind = AddressKind.P2SH) -> tuple[int, tuple[bytes, ...]]:
    """Parse a standard ``OP_m <keys> OP_n OP_CHECKMULTISIG`` script into ``(m, pubkeys)``.

    Limits by ``kind``: ``P2SH`` (a redeem script): 33- or 65-byte keys, ``n <= 15``, at most
    520 bytes; ``P2WSH`` (a witness script): 33-byte keys only, ``n <= 20``, at most 3600 bytes.
    Always ``1 <= m <= n``, every key a valid secp256k1 point, and no two keys with the same
    x-coordinate (the same key twice, or in both serializations, or a key and its negation).

    Raises:
        FormatError: if the script is not such a script.
    """
    if kind not in (AddressKind.P2SH, AddressKind.P2WSH):
        raise FormatError(f"a multisig script is a P2SH or P2WSH script, not {kind.name}")
    witness = kind is AddressKind.P2WSH
    limit = MAX_P2WSH_SCRIPT_BYTES if witness else MAX_P2SH_SCRIPT_BYTES
    if len(script) > limit:
        raise FormatError(f"a {kind.name} multisig script has at most {limit} bytes, not {len(script)}")
    m, at = _read_small(script, 0, witness=witness)
    keys: list[bytes] = []
    while at < len(script) and script[at] in (33, 65):
        size = script[at]
        key = script[at + 1 : at + 1 + size]
        if len(key) != size:
            raise FormatError("the multisig script ends inside a key")
        keys.append(key)
        at += 1 + size
    n, at = _read_small(script, at, witness=witness)
    if at != len(script) - 1 or script[at] != OP_CHECKMULTISIG:
        raise FormatError("the multisig script does not end with OP_n OP_CHECKMULTISIG")
    max_keys = MAX_P2WSH_KEYS if witness else MAX_P2SH_KEYS
    if n != len(keys):
        raise FormatError(f"the multisig script lists {len(keys)} keys but says n={n}")
    if not 1 <= m <= n <= max_keys:
        raise FormatError(f"a {kind.name} multisig script needs 1 <= m <= n <= {max_keys}, not m={m}, n={n}")
    seen: set[bytes] = set()
    for index, key in enumerate(keys):
        if witness and len(key) != 33:
            raise FormatError(f"script key {index} is uncompressed; a P2WSH script takes compressed keys only")
        _check_public_key(key, compressed_only=witness)
        try:
            PublicKey(key)
        except ValueError:
            raise FormatError(f"script key {index} is not a valid secp256k1 public key") from None
        if key[1:33] in seen:
            raise FormatError(f"script key {index} repeats an earlier key of the script")
        seen.add(key[1:33])
    return m, tuple(keys)
