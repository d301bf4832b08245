r"""The master secret and the per-run derivation of blindings, salts and package names (``docs/FORMAT.md`` §9).

The exchange keeps one 32-byte master secret. Everything secret in a run of
``solvency prove`` is derived from it and a 32-byte run nonce with HKDF-SHA256
(RFC 5869). The nonce is drawn from :mod:`secrets` once per run (in the parent
process, before any worker starts), so two runs on the same input share no
blinding, salt or leaf id, and a re-proved round reveals nothing about which
balances changed. The exchange keeps the nonce (``run.json`` in the private
packages directory) and can reproduce a run with it:

.. code-block:: text

    PRK  = HKDF-Extract(salt = "zk-solvency run v2" || frame(E) || frame(T) || run_nonce, IKM = master)
    OKM  = HKDF-Expand(PRK, info, 96)
    leaf:   info = "leaf"  || frame(S) || frame(customer_id)
            v_blinding = LE(OKM[0:64]) mod r  (1 if that is 0),  leaf_salt = OKM[64:96]
    dummy:  info = "dummy" || frame(S) || LE64(j)
            v_blinding = LE(OKM[0:64]) mod r  (1 if that is 0),  leaf_id   = OKM[64:96]
    proof entropy:  HKDF-Expand(PRK, "proof" || frame(S) || frame(kind) || LE64(index), 32)
    margin account (format 4), a = frame(customer_id), or frame("#dummy" || LE32(j)) for dummy account j:
            margin_salt = HKDF-Expand(PRK, "margin" || frame(customer_id), 32)
            dummy id    = HKDF-Expand(PRK, "margin dummy" || LE32(j), 32)
            blinding    = LE(HKDF-Expand(PRK, "margin blinding" || a || LE8(slot) || LE8(role) || LE8(type), 64))
                          mod r (1 if 0); role 0 d, 1 w, 2 V, 3 H, 4 lo
            slot key    = HKDF-Expand(PRK, "margin slots" || a, 32)  (which assets the dummy slots take)
    package names:  K_name = HKDF-Expand(PRK, "package name", 32)
                    file   = hex(HMAC-SHA256(K_name, frame(customer_id)))[0:32] || ".json"

with ``E`` the exchange name, ``T`` the round label, ``S`` the asset symbol and
``frame(s) = LE32(len(s)) || s`` (UTF-8 text). Reducing 64 uniform bytes mod ``r``
leaves a bias below ``2^-254``; the result is 0 with probability about ``2^-255``,
and 0 is replaced by 1 because a zero blinding would make the commitment open
trivially (``WitnessError`` in the range prover); the replacement changes the
distribution by a negligible amount.

Randomness for the master and the run nonce comes from :mod:`secrets` only.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import struct
from pathlib import Path
from typing import Final, NoReturn

from circuits.constants import GROUP_ORDER
from circuits.encoding import frame
from circuits.errors import InputError

__all__ = [
    "RunSecrets",
    "hkdf_expand",
    "hkdf_extract",
    "keygen",
    "load_secret",
]

_MASTER_SECRET_SIZE: Final[int] = 32
_HASH: Final[str] = "sha256"
_HASH_LEN: Final[int] = 32
RUN_NONCE_SIZE: Final[int] = 32
_RUN_SALT_TAG: Final[bytes] = b"zk-solvency run v2"
_LEAF_INFO_TAG: Final[bytes] = b"leaf"
_DUMMY_INFO_TAG: Final[bytes] = b"dummy"
_PACKAGE_NAME_INFO: Final[bytes] = b"package name"
_PROOF_INFO_TAG: Final[bytes] = b"proof"
_PROOF_KINDS: Final[frozenset[str]] = frozenset({"chunk", "node", "solvency", "margin"})
_MARGIN_SALT_TAG: Final[bytes] = b"margin"
_MARGIN_DUMMY_TAG: Final[bytes] = b"margin dummy"
_MARGIN_BLINDING_TAG: Final[bytes] = b"margin blinding"
_MARGIN_SLOTS_TAG: Final[bytes] = b"margin slots"
#: Roles of a margin account's committed values (``margin_blinding``): debt, unpledged equity, value, haircut, lo.
MARGIN_ROLES: Final[tuple[str, ...]] = ("d", "w", "V", "H", "lo")
_PACKAGE_NAME_HEX_DIGITS: Final[int] = 32
_OKM_LEN: Final[int] = 96
_BLINDING_BYTES: Final[int] = 64


# ---------------------------------------------------------------------------
# HKDF-SHA256, RFC 5869 §2


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """Return ``PRK = HMAC-SHA256(salt, IKM)`` (RFC 5869 §2.2); an empty salt means 32 zero bytes."""
    return hmac.digest(salt or bytes(_HASH_LEN), ikm, _HASH)


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """Return the first ``length`` bytes of ``T(1) || T(2) || ...`` (RFC 5869 §2.3).

    ``T(0) = ""`` and ``T(i) = HMAC-SHA256(PRK, T(i-1) || info || i)`` for the one-byte counter ``i``.
    """
    if not 0 <= length <= 255 * _HASH_LEN:
        raise ValueError(f"HKDF-Expand length must be in [0, {255 * _HASH_LEN}], got {length}")
    blocks: list[bytes] = []
    previous = b""
    for counter in range(1, -(-length // _HASH_LEN) + 1):
        previous = hmac.digest(prk, previous + info + bytes((counter,)), _HASH)
        blocks.append(previous)
    return b"".join(blocks)[:length]


# ---------------------------------------------------------------------------
# The master secret file


def keygen(path: Path) -> None:
    """Create ``path`` holding 32 fresh random bytes from :mod:`secrets`, mode 0600.

    The file is created exclusively (``O_CREAT | O_EXCL``, which also refuses a
    symlink in its place) and its mode is set to 0600 whatever the umask.

    Raises:
        InputError: if ``path`` already exists (nothing is overwritten) or cannot be created.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise InputError(
            f"{path}: already exists; refusing to overwrite a secret", section=f"{path.name}:file"
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot create: {exc.strerror or exc}", section=f"{path.name}:file") from None
    try:
        os.fchmod(fd, 0o600)
        data = memoryview(secrets.token_bytes(_MASTER_SECRET_SIZE))
        while data:
            written = os.write(fd, data)
            data = data[written:]
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}", section=f"{path.name}:file") from None
    os.close(fd)


def load_secret(path: Path) -> bytes:
    """Return the 32-byte master secret stored in ``path``.

    Raises:
        InputError: if the file cannot be read or does not hold exactly 32 bytes.
            The message never contains the file's content.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(_MASTER_SECRET_SIZE + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}", section=f"{path.name}:file") from None
    if len(data) != _MASTER_SECRET_SIZE:
        found = "more than 32" if len(data) > _MASTER_SECRET_SIZE else str(len(data))
        raise InputError(
            f"{path}: a secret file holds exactly {_MASTER_SECRET_SIZE} bytes, found {found}",
            section=f"{path.name}:file",
        )
    return data


# ---------------------------------------------------------------------------
# Per-run derivation


def new_run_nonce() -> bytes:
    """Return a fresh 32-byte run nonce from :mod:`secrets` (draw it once per run)."""
    return secrets.token_bytes(RUN_NONCE_SIZE)


def _blinding(okm: bytes) -> int:
    v_blinding = int.from_bytes(okm[:_BLINDING_BYTES], "little") % GROUP_ORDER
    return v_blinding or 1  # 0 with probability ~2^-255; see the module docstring


def _text(value: str) -> bytes:
    return frame(value.encode("utf-8"))


def margin_account_key(customer_id: str | None, dummy: int = 0) -> bytes:
    """Return the bytes that name a margin account in its derivations.

    The UTF-8 customer id, or for dummy account ``j`` (``customer_id`` ``None``) ``"#dummy" || LE32(j)``
    (no customer id holds the NUL byte that ``LE32(j)``, ``j < 2^24``, ends with).
    """
    if customer_id is None:
        return b"#dummy" + struct.pack("<I", dummy)
    return customer_id.encode("utf-8")


class RunSecrets:
    """The secrets of one run of ``solvency prove`` (``docs/FORMAT.md`` §9).

    Derived from the master secret, the exchange name, the round label and the run
    nonce. Holds only the run's HKDF pseudo-random key and the package-name key,
    never the master or the nonce, and its ``repr`` shows none of them.

    >>> run = RunSecrets(bytes(32), "Example Exchange", "2026-11-24T00:00:00Z", bytes(32))
    >>> v_blinding, leaf_salt = run.leaf("BTC", "alice")
    >>> 0 < v_blinding and len(leaf_salt)
    32
    """

    __slots__ = ("_name_key", "_prk", "exchange", "round_label")

    def __init__(self, master: bytes, exchange: str, round_label: str, run_nonce: bytes) -> None:
        """Derive the run key ``PRK`` from the 32-byte ``master``, the labels and the 32-byte ``run_nonce``."""
        if len(master) != _MASTER_SECRET_SIZE:
            raise ValueError(f"the master secret is {_MASTER_SECRET_SIZE} bytes, got {len(master)}")
        if len(run_nonce) != RUN_NONCE_SIZE:
            raise ValueError(f"the run nonce is {RUN_NONCE_SIZE} bytes, got {len(run_nonce)}")
        self.exchange = exchange
        self.round_label = round_label
        salt = _RUN_SALT_TAG + _text(exchange) + _text(round_label) + bytes(run_nonce)
        self._prk = hkdf_extract(salt, bytes(master))
        self._name_key = hkdf_expand(self._prk, _PACKAGE_NAME_INFO, _HASH_LEN)

    def __repr__(self) -> str:
        return f"RunSecrets(exchange={self.exchange!r}, round_label={self.round_label!r}, master=<hidden>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("RunSecrets is not picklable (it holds secret key material)")

    def _okm(self, info: bytes) -> bytes:
        return hkdf_expand(self._prk, info, _OKM_LEN)

    def leaf(self, symbol: str, customer_id: str) -> tuple[int, bytes]:
        """Return ``(v_blinding, leaf_salt)`` of ``customer_id``'s leaf for asset ``symbol``."""
        okm = self._okm(_LEAF_INFO_TAG + _text(symbol) + _text(customer_id))
        return _blinding(okm), okm[_BLINDING_BYTES:]

    def dummy(self, symbol: str, j: int) -> tuple[int, bytes]:
        """Return ``(v_blinding, leaf_id)`` of padding leaf ``j`` (``0 <= j < 2^64``) of asset ``symbol``."""
        okm = self._okm(_DUMMY_INFO_TAG + _text(symbol) + struct.pack("<Q", j))
        return _blinding(okm), okm[_BLINDING_BYTES:]

    def proof_entropy(self, symbol: str, kind: str, index: int) -> bytes:
        """Return the 32 bytes of entropy of one range proof (format version 3, ``docs/FORMAT.md`` §9).

        ``kind`` is ``"chunk"`` (index ``k``), ``"node"`` (index: the split), ``"solvency"``
        (index 0) or, with ``symbol`` empty, ``"margin"`` (index ``16*j + p``: part ``p`` of record ``j``).
        The prover's seed also binds the statement and the witness, so a proof re-made for the same
        statement (a retried task, a resumed run) is the same bytes.
        """
        if kind not in _PROOF_KINDS or not 0 <= index < 1 << 64:
            raise ValueError(f"unknown proof kind {kind!r} or index {index}")
        return hkdf_expand(self._prk, _PROOF_INFO_TAG + _text(symbol) + _text(kind) + struct.pack("<Q", index), 32)

    def margin_salt(self, customer_id: str) -> bytes:
        """Return the 32-byte ``margin_salt`` of ``customer_id``'s margin account (format 4; its record id's key)."""
        return hkdf_expand(self._prk, _MARGIN_SALT_TAG + _text(customer_id), 32)

    def margin_dummy_id(self, j: int) -> bytes:
        """Return the record id of dummy margin account ``j`` (``0 <= j < 2^32``)."""
        return hkdf_expand(self._prk, _MARGIN_DUMMY_TAG + struct.pack("<I", j), 32)

    def margin_blinding(self, account: bytes, slot: int, role: int, kind: int) -> int:
        """Return the blinding of one committed value of a margin account.

        ``account`` is :func:`margin_account_key` of the account; ``role`` indexes :data:`MARGIN_ROLES`;
        ``kind`` is the collateral type's position (0 for ``d``, ``w`` and ``lo``, whose ``slot`` is also 0).
        """
        if not (0 <= slot < 256 and 0 <= role < len(MARGIN_ROLES) and 0 <= kind < 256):
            raise ValueError(f"bad margin value ({slot}, {role}, {kind})")
        info = _MARGIN_BLINDING_TAG + frame(account) + bytes((slot, role, kind))
        return _blinding(hkdf_expand(self._prk, info, _BLINDING_BYTES))

    def margin_slot_key(self, account: bytes) -> bytes:
        """Return the key that picks the assets of a margin account's dummy slots (:func:`margin_account_key`)."""
        return hkdf_expand(self._prk, _MARGIN_SLOTS_TAG + frame(account), 32)

    def package_name(self, customer_id: str) -> str:
        """Return the file name of ``customer_id``'s package: a keyed HMAC, not guessable from the id."""
        mac = hmac.digest(self._name_key, _text(customer_id), _HASH)
        return mac.hex()[:_PACKAGE_NAME_HEX_DIGITS] + ".json"
