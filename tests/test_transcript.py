"""Known answers, framing and error classes of :class:`circuits.transcript.Transcript`.

``tests/vectors/transcript_v1.json`` is frozen forever (``circuits/notes/60-wire-format.md``,
versioning policy): the replay below must keep matching it. A deliberate transcript change is a new protocol
version with a new ``transcript_v2.json``, never an edit of v1.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from circuits.backends import GroupBackend
from circuits.constants import GROUP_ORDER, PROTOCOL_LABEL
from circuits.errors import ParameterError, VerificationError
from circuits.group import Point, scalar_from_bytes, scalar_to_bytes
from circuits.transcript import Transcript

R = GROUP_ORDER
VECTORS = Path(__file__).resolve().parent / "vectors"
REPO_ROOT = VECTORS.parents[1]


def load_cases() -> list[dict[str, Any]]:
    return json.loads((VECTORS / "transcript_v1.json").read_text(encoding="utf-8"))["cases"]


def replay(case: dict[str, Any], backend: GroupBackend) -> list[str]:
    """Apply a vector case's operations; return each challenge's hex output."""
    t = Transcript(bytes.fromhex(case["input"]["app_label"]))
    outputs: list[str] = []
    for op in case["input"]["ops"]:
        kind, label = op["op"], op["label"].encode("ascii")
        if kind == "append_message":
            t.append_message(label, bytes.fromhex(op["message"]))
        elif kind == "append_u64":
            t.append_u64(label, op["value"])
        elif kind == "append_scalar":
            t.append_scalar(label, scalar_from_bytes(bytes.fromhex(op["scalar"])))
        elif kind == "append_point":
            t.append_point(label, Point.from_bytes(bytes.fromhex(op["point"]), backend))
        elif kind == "validate_and_append_point":
            t.validate_and_append_point(label, Point.from_bytes(bytes.fromhex(op["point"]), backend))
        elif kind == "challenge_bytes":
            outputs.append(t.challenge_bytes(label, op["length"]).hex())
        elif kind == "challenge_scalar":
            outputs.append(scalar_to_bytes(t.challenge_scalar(label)).hex())
        else:
            raise AssertionError(f"unknown op {kind} in transcript_v1.json")
    return outputs


# ---------------------------------------------------------------------------
# Known answers
# ---------------------------------------------------------------------------


def test_vector_file_has_the_expected_cases() -> None:
    names = [case["name"] for case in load_cases()]
    assert {"empty_app_label", "simple", "complex"} <= set(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", load_cases(), ids=lambda case: case["name"])
def test_transcript_v1_vectors(case: dict[str, Any], backend: GroupBackend) -> None:
    assert replay(case, backend) == case["output"]


def test_vectors_were_made_under_this_protocol_label() -> None:
    doc = json.loads((VECTORS / "transcript_v1.json").read_text(encoding="utf-8"))
    assert doc["protocol_label"].encode() == PROTOCOL_LABEL


def _frame(op: bytes, label: bytes, data: bytes) -> bytes:
    return op + struct.pack("<I", len(label)) + label + struct.pack("<I", len(data)) + data


def test_transcript_matches_the_documented_framing() -> None:
    # An independent re-derivation from the module docstring: SHAKE256 over frames
    # op || LE32(len(label)) || label || LE32(len(data)) || data, challenge = digest of a copy.
    state = hashlib.shake_256()
    state.update(_frame(b"A", b"dom-sep", PROTOCOL_LABEL))
    state.update(_frame(b"A", b"app", b"test protocol"))
    state.update(_frame(b"A", b"some label", b"some data"))
    state.update(_frame(b"C", b"challenge", struct.pack("<I", 32)))
    expected = state.copy().digest(32)

    t = Transcript(b"test protocol")
    t.append_message(b"some label", b"some data")
    assert t.challenge_bytes(b"challenge", 32) == expected
    simple = next(case for case in load_cases() if case["name"] == "simple")
    assert simple["output"] == [expected.hex()]

    # The next challenge continues from the state that absorbed the first request.
    state.update(_frame(b"C", b"y", struct.pack("<I", 64)))
    y = int.from_bytes(state.copy().digest(64), "little") % R
    assert t.challenge_scalar(b"y") == y


def test_append_encodings() -> None:
    # append_u64 is 8 bytes LE; append_scalar is the canonical scalar; append_point the compressed point.
    G = Point.generator()
    pairs = [
        (lambda t: t.append_u64(b"n", 64), lambda t: t.append_message(b"n", struct.pack("<Q", 64))),
        (lambda t: t.append_scalar(b"k", 5), lambda t: t.append_message(b"k", scalar_to_bytes(5))),
        (lambda t: t.append_point(b"P", G), lambda t: t.append_message(b"P", G.to_bytes())),
        (lambda t: t.validate_and_append_point(b"P", G), lambda t: t.append_message(b"P", G.to_bytes())),
    ]
    for typed, raw in pairs:
        t1, t2 = Transcript(b"enc"), Transcript(b"enc")
        typed(t1)
        raw(t2)
        assert t1.challenge_bytes(b"c", 32) == t2.challenge_bytes(b"c", 32)


def test_challenge_scalar_is_64_bytes_reduced_mod_r() -> None:
    t1, t2 = Transcript(b"scalar"), Transcript(b"scalar")
    t1.append_message(b"m", b"data")
    t2.append_message(b"m", b"data")
    k = t1.challenge_scalar(b"x")
    assert k == int.from_bytes(t2.challenge_bytes(b"x", 64), "little") % R
    assert 0 < k < R


# ---------------------------------------------------------------------------
# Framing: nothing can be re-parsed as something else
# ---------------------------------------------------------------------------


def challenge_after(app_label: bytes, appends: list[tuple[bytes, bytes]], label: bytes = b"c", n: int = 32) -> bytes:
    t = Transcript(app_label)
    for lbl, msg in appends:
        t.append_message(lbl, msg)
    return t.challenge_bytes(label, n)


def test_moving_bytes_between_label_and_message_changes_the_challenge() -> None:
    base = challenge_after(b"app", [(b"ab", b"c")])
    assert challenge_after(b"app", [(b"a", b"bc")]) != base
    assert challenge_after(b"app", [(b"abc", b"")]) != base
    assert challenge_after(b"app", [(b"", b"abc")]) != base


def test_moving_bytes_between_messages_changes_the_challenge() -> None:
    base = challenge_after(b"app", [(b"x", b"ab"), (b"y", b"c")])
    assert challenge_after(b"app", [(b"x", b"a"), (b"y", b"bc")]) != base
    assert challenge_after(b"app", [(b"x", b"abc"), (b"y", b"")]) != base
    # One message versus the same bytes split into two under the same label.
    assert challenge_after(b"app", [(b"x", b"abc")]) != challenge_after(b"app", [(b"x", b"ab"), (b"x", b"c")])


def test_moving_bytes_between_app_label_and_first_message_changes_the_challenge() -> None:
    assert challenge_after(b"appX", [(b"m", b"")]) != challenge_after(b"app", [(b"m", b"X")])
    assert challenge_after(b"", [(b"m", b"")]) != challenge_after(b"app", [])


def test_append_order_matters() -> None:
    assert challenge_after(b"app", [(b"a", b"1"), (b"b", b"2")]) != challenge_after(
        b"app", [(b"b", b"2"), (b"a", b"1")]
    )
    G = Point.generator()
    t1, t2 = Transcript(b"order"), Transcript(b"order")
    t1.append_point(b"A", G)
    t1.append_point(b"S", G * 2)
    t2.append_point(b"A", G * 2)
    t2.append_point(b"S", G)
    assert t1.challenge_scalar(b"y") != t2.challenge_scalar(b"y")


def test_every_input_changes_the_challenge() -> None:
    base = challenge_after(b"app", [(b"m", b"data")])
    assert challenge_after(b"app2", [(b"m", b"data")]) != base
    assert challenge_after(b"app", [(b"n", b"data")]) != base
    assert challenge_after(b"app", [(b"m", b"datA")]) != base
    assert challenge_after(b"app", [(b"m", b"data"), (b"m", b"")]) != base
    assert challenge_after(b"app", []) != base


def test_challenge_label_and_length_are_bound() -> None:
    assert challenge_after(b"app", [], b"x") != challenge_after(b"app", [], b"y")
    # The length is absorbed: a 32-byte challenge is not a prefix of a 64-byte one.
    assert challenge_after(b"app", [], b"x", 64)[:32] != challenge_after(b"app", [], b"x", 32)
    assert challenge_after(b"app", [], b"x", 0) == b""


def test_challenges_are_deterministic_and_chained() -> None:
    def run() -> list[bytes]:
        t = Transcript(b"chain")
        return [t.challenge_bytes(b"c", 32) for _ in range(3)]

    first, second = run(), run()
    assert first == second
    assert len(set(first)) == 3  # each request is absorbed before squeezing


def test_typed_appends_are_not_confused() -> None:
    # The same label with a u64 versus the 8 bytes of a different value, or a scalar.
    t1, t2, t3 = Transcript(b"types"), Transcript(b"types"), Transcript(b"types")
    t1.append_u64(b"v", 1)
    t2.append_u64(b"v", 1 << 56)
    t3.append_scalar(b"v", 1)
    outs = {t.challenge_bytes(b"c", 32) for t in (t1, t2, t3)}
    assert len(outs) == 3


def test_debug_mode_does_not_change_outputs() -> None:
    t1, t2 = Transcript(b"dbg"), Transcript(b"dbg", debug=True)
    for t in (t1, t2):
        t.append_message(b"m", b"x")
    assert t1.challenge_scalar(b"y") == t2.challenge_scalar(b"y")


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def test_validate_and_append_point_rejects_identity(backend: GroupBackend) -> None:
    t = Transcript(b"identity")
    with pytest.raises(VerificationError) as info:
        t.validate_and_append_point(b"V", Point.identity(backend))
    assert type(info.value) is VerificationError
    assert "V" in str(info.value)


def test_append_point_allows_identity(backend: GroupBackend) -> None:
    t = Transcript(b"identity")
    t.append_point(b"O", Point.identity(backend))
    assert len(t.challenge_bytes(b"c", 8)) == 8


def test_rejected_identity_leaves_the_transcript_unchanged(backend: GroupBackend) -> None:
    t1, t2 = Transcript(b"reject"), Transcript(b"reject")
    with pytest.raises(VerificationError):
        t1.validate_and_append_point(b"V", Point.identity(backend))
    assert t1.challenge_bytes(b"c", 32) == t2.challenge_bytes(b"c", 32)


@pytest.mark.parametrize(
    "raw",
    [bytes(64), R.to_bytes(64, "little"), (2 * R).to_bytes(64, "little"), (7 * R).to_bytes(64, "little")],
    ids=["zeros", "r", "2r", "7r"],
)
def test_challenge_scalar_never_returns_zero(monkeypatch: pytest.MonkeyPatch, raw: bytes) -> None:
    def fake_challenge_bytes(self: Transcript, label: bytes, length: int) -> bytes:
        assert length == 64
        return raw

    monkeypatch.setattr(Transcript, "challenge_bytes", fake_challenge_bytes)
    t = Transcript(b"zero")
    with pytest.raises(VerificationError) as info:
        t.challenge_scalar(b"x")
    assert type(info.value) is VerificationError


def test_challenge_scalar_accepts_r_plus_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Transcript, "challenge_bytes", lambda self, label, length: (R + 1).to_bytes(64, "little"))
    assert Transcript(b"one").challenge_scalar(b"x") == 1


@pytest.mark.parametrize("value", [-1, 1 << 64, 1 << 70])
def test_append_u64_rejects_out_of_range(value: int) -> None:
    with pytest.raises(ParameterError) as info:
        Transcript(b"u64").append_u64(b"n", value)
    assert type(info.value) is ParameterError


@pytest.mark.parametrize("value", [-1, R, R + 1])
def test_append_scalar_rejects_non_canonical(value: int) -> None:
    with pytest.raises(ParameterError) as info:
        Transcript(b"scalar").append_scalar(b"k", value)
    assert type(info.value) is ParameterError


@pytest.mark.parametrize("length", [-1, 1 << 32])
def test_challenge_bytes_rejects_bad_length(length: int) -> None:
    with pytest.raises(ParameterError):
        Transcript(b"len").challenge_bytes(b"c", length)


# ---------------------------------------------------------------------------
# Debug logging
# ---------------------------------------------------------------------------


def test_debug_mode_logs_every_operation(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="circuits.transcript")
    t = Transcript(b"debug app", debug=True)
    t.append_message(b"greeting", b"\x01\x02")
    t.append_u64(b"n", 64)
    out = t.challenge_bytes(b"c", 4)
    records = [r for r in caplog.records if r.name == "circuits.transcript"]
    messages = [r.getMessage() for r in records]
    assert all(r.levelno == logging.DEBUG for r in records)
    assert any("dom-sep" in m and PROTOCOL_LABEL.hex() in m for m in messages)
    assert any("app" in m and b"debug app".hex() in m for m in messages)
    assert any("greeting" in m and "| 2 |" in m and "0102" in m for m in messages)
    assert any(" n " in m and "| 8 |" in m and struct.pack("<Q", 64).hex() in m for m in messages)
    assert any(m.startswith("= c") and out.hex() in m for m in messages)


def test_no_logging_without_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="circuits.transcript")
    t = Transcript(b"quiet")
    t.append_message(b"m", b"secret-ish")
    t.challenge_bytes(b"c", 4)
    assert not [r for r in caplog.records if r.name == "circuits.transcript"]


# ---------------------------------------------------------------------------
# The vector generator is deterministic and the committed files are current
# ---------------------------------------------------------------------------


def test_generate_check_passes() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, str(VECTORS / "generate.py"), "--check"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "transcript_v1.json" in result.stdout
