r"""A merlin-style Fiat-Shamir transcript over SHAKE256.

The transcript is a running SHAKE256 absorb of *framed* operations, one frame
per appended message (``A``) or challenge request (``C``); the frame layout and the
label table are specified in ``circuits/notes/50-transcript.md``. A challenge is the SHAKE256
output of a *copy* of the state after absorbing its request frame, so every
challenge depends on everything absorbed before it, on its own label and on its
length. Because labels and data are both length-framed, no sequence of
operations can be re-parsed as another (no label needs to be prefix-free, but
labels are still constants).

The first frame is ``A("dom-sep", PROTOCOL_LABEL)``, which carries the protocol
version; the second is ``A("app", app_label)`` chosen by the caller. See
``circuits/notes/50-transcript.md`` for the design and the label table.

This is *not* byte-compatible with Merlin (which needs STROBE/Keccak-f[1600],
not exposed by :mod:`hashlib`); cross-language compatibility is not a goal, and
the hash is named in :data:`circuits.constants.PROTOCOL_LABEL`.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from typing import Final

from circuits.constants import GROUP_ORDER, PROTOCOL_LABEL
from circuits.errors import ParameterError, VerificationError
from circuits.group import Point, scalar_to_bytes

__all__ = ["Transcript"]

_log = logging.getLogger(__name__)

_OP_APPEND: Final[bytes] = b"A"
_OP_CHALLENGE: Final[bytes] = b"C"
_OP_RNG: Final[bytes] = b"R"
_DOM_SEP: Final[bytes] = b"dom-sep"
_APP: Final[bytes] = b"app"
#: Bytes squeezed per challenge scalar; 512 bits reduced mod r have negligible bias.
_CHALLENGE_BYTES: Final[int] = 64
_MAX_FRAME: Final[int] = (1 << 32) - 1


def _le32(n: int) -> bytes:
    return struct.pack("<I", n)


class Transcript:
    """A labelled, length-framed Fiat-Shamir transcript (caller-owned).

    >>> t = Transcript(b"doc example")
    >>> t.append_u64(b"n", 64)
    >>> len(t.challenge_bytes(b"c", 16))
    16
    """

    __slots__ = ("_debug", "_state")

    def __init__(self, app_label: bytes, *, debug: bool = False) -> None:
        """Start a transcript for the application ``app_label``."""
        self._state = hashlib.shake_256()
        self._debug = debug
        self.append_message(_DOM_SEP, PROTOCOL_LABEL)
        self.append_message(_APP, app_label)

    def _frame(self, op: bytes, label: bytes, data: bytes) -> None:
        if len(label) > _MAX_FRAME or len(data) > _MAX_FRAME:
            raise ParameterError("transcript message too long")
        if self._debug:
            _log.debug("%s %s | %d | %s", op.decode(), label.decode("latin-1"), len(data), data.hex())
        self._state.update(op + _le32(len(label)) + label + _le32(len(data)) + data)

    def append_message(self, label: bytes, message: bytes) -> None:
        """Absorb ``message`` under ``label``."""
        self._frame(_OP_APPEND, label, bytes(message))

    def append_u64(self, label: bytes, value: int) -> None:
        """Absorb an unsigned 64-bit integer, little-endian."""
        if not 0 <= value < 1 << 64:
            raise ParameterError("append_u64 takes an integer in [0, 2^64)")
        self._frame(_OP_APPEND, label, struct.pack("<Q", value))

    def append_scalar(self, label: bytes, k: int) -> None:
        """Absorb a scalar in its canonical 32-byte encoding."""
        self._frame(_OP_APPEND, label, scalar_to_bytes(k))

    def append_point(self, label: bytes, point: Point) -> None:
        """Absorb a point in its canonical 48-byte encoding (the identity is allowed)."""
        self._frame(_OP_APPEND, label, point.to_bytes())

    def validate_and_append_point(self, label: bytes, point: Point) -> None:
        """Absorb a point, rejecting the identity.

        Raises:
            VerificationError: if ``point`` is the identity.
        """
        if point.is_identity():
            raise VerificationError(f"point {label.decode('latin-1')} is the identity")
        self.append_point(label, point)

    def challenge_bytes(self, label: bytes, length: int) -> bytes:
        """Squeeze ``length`` bytes bound to everything absorbed so far.

        Raises:
            ParameterError: unless ``0 <= length < 2^32``.
        """
        if not 0 <= length <= _MAX_FRAME:
            raise ParameterError("challenge length must be in [0, 2^32)")
        self._frame(_OP_CHALLENGE, label, _le32(length))
        out = self._state.copy().digest(length)
        if self._debug:
            _log.debug("= %s | %s", label.decode("latin-1"), out.hex())
        return out

    def rng_seed(self, witness: bytes, entropy: bytes) -> bytes:
        """Return a 32-byte prover seed bound to this transcript, the witness and fresh entropy.

        The transcript is *not* modified (a copy of the state is used), so the
        verifier never sees this operation. Binding the seed to the statement and
        witness is defence in depth against a weak entropy source (merlin's
        ``TranscriptRng``): with a broken RNG, two different statements still get
        different prover randomness.
        """
        state = self._state.copy()
        state.update(_OP_RNG + _le32(len(witness)) + witness + _le32(len(entropy)) + entropy)
        return state.digest(32)

    def challenge_scalar(self, label: bytes) -> int:
        """Squeeze a scalar: 64 bytes, little-endian, reduced mod r.

        Raises:
            VerificationError: if the challenge is zero (probability 2^-255;
                a zero challenge would void soundness, so it is never used).
        """
        k = int.from_bytes(self.challenge_bytes(label, _CHALLENGE_BYTES), "little") % GROUP_ORDER
        if k == 0:
            raise VerificationError(f"challenge {label.decode('latin-1')} is zero")
        return k
