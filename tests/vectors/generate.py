#!/usr/bin/env python3
"""Deterministic writer of the frozen known-answer vectors in ``tests/vectors/``.

Usage (from the repository root)::

    python tests/vectors/generate.py            # (re)write every <name>_v1.json
    python tests/vectors/generate.py --check    # regenerate in memory; exit 1 on any difference
    python tests/vectors/generate.py --check transcript

Nothing here is random: every input is a literal or is derived from SHA-512 of a
fixed tag (:func:`derived_bytes`), never from :mod:`random` or the OS. Running
the script twice gives byte-identical files.

v1 vectors are frozen forever (``circuits/notes/60-wire-format.md``, versioning policy).
A change to the transcript or the wire format is a *new* protocol version and ships a new ``<name>_v2.json``; the
v1 files are never rewritten. CI runs this script only with ``--check``.

To add a vector file, write a function returning a JSON-serialisable ``dict``
and register it in :data:`GENERATORS` (see the marked place at the bottom).
Each case is ``{"name", "input", "output"}``, with names that state the edge.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

VECTORS_DIR = Path(__file__).resolve().parent
_REPO_ROOT = VECTORS_DIR.parents[1]
if str(_REPO_ROOT) not in sys.path:  # allow `python tests/vectors/generate.py` without installing
    sys.path.insert(0, str(_REPO_ROOT))

from circuits.backends import get_backend  # noqa: E402
from circuits.constants import GROUP_ORDER, PROTOCOL_LABEL  # noqa: E402
from circuits.group import Point, scalar_from_bytes, scalar_to_bytes  # noqa: E402
from circuits.transcript import Transcript  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from range_vectors import range_proof_vectors  # noqa: E402
from range_vectors import render as render_range  # noqa: E402

#: Every vector file is computed with this backend (the other must agree; see tests).
BACKEND = "fast"

Json = dict[str, Any]


# ---------------------------------------------------------------------------
# Deterministic inputs
# ---------------------------------------------------------------------------


def derived_bytes(tag: str, length: int) -> bytes:
    """``length`` bytes of SHA-512(tag || LE32(counter)) output, counter = 0, 1, ..."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha512(tag.encode() + counter.to_bytes(4, "little")).digest()
        counter += 1
    return out[:length]


def derived_scalar(tag: str) -> int:
    """A scalar in ``[0, r)``: 64 derived bytes, little-endian, reduced mod r."""
    return int.from_bytes(derived_bytes(tag, 64), "little") % GROUP_ORDER


# ---------------------------------------------------------------------------
# Transcript vectors
# ---------------------------------------------------------------------------

#: An operation: (kind, label, argument). Arguments are bytes, int or Point.
Op = tuple[str, bytes, Any]


def _encode_op(kind: str, label: bytes, arg: Any) -> Json:
    op: Json = {"op": kind, "label": label.decode("ascii")}
    if kind == "append_message":
        op["message"] = arg.hex()
    elif kind == "append_u64":
        op["value"] = arg
    elif kind == "append_scalar":
        op["scalar"] = scalar_to_bytes(arg).hex()
    elif kind in ("append_point", "validate_and_append_point"):
        op["point"] = arg.to_bytes().hex()
    elif kind == "challenge_bytes":
        op["length"] = arg
    elif kind != "challenge_scalar":
        raise ValueError(f"unknown transcript operation {kind}")
    return op


def run_transcript(app_label: bytes, ops: list[Op]) -> list[str]:
    """Apply ``ops`` to a fresh transcript; return each challenge as hex, in order.

    A challenge scalar is reported as its canonical 32-byte little-endian encoding.
    """
    t = Transcript(app_label)
    outputs: list[str] = []
    for kind, label, arg in ops:
        if kind == "challenge_bytes":
            outputs.append(t.challenge_bytes(label, arg).hex())
        elif kind == "challenge_scalar":
            outputs.append(scalar_to_bytes(t.challenge_scalar(label)).hex())
        else:
            getattr(t, kind)(label, arg)
    return outputs


def _transcript_case(name: str, description: str, app_label: bytes, ops: list[Op]) -> Json:
    return {
        "name": name,
        "description": description,
        "input": {"app_label": app_label.hex(), "ops": [_encode_op(*op) for op in ops]},
        "output": run_transcript(app_label, ops),
    }


def transcript_vectors() -> Json:
    """Known-answer vectors of :class:`circuits.transcript.Transcript` (merlin's equivalence tests)."""
    backend = get_backend(BACKEND)
    G = Point.generator(backend)
    identity = Point.identity(backend)
    P = G * derived_scalar("transcript_v1 point P")
    k = derived_scalar("transcript_v1 scalar k")

    cases = [
        _transcript_case(
            "empty_app_label",
            "No application label (empty bytes), one 32-byte challenge.",
            b"",
            [("challenge_bytes", b"challenge", 32)],
        ),
        _transcript_case(
            "simple",
            "merlin's equivalence_simple shape: one message, one 32-byte challenge.",
            b"test protocol",
            [
                ("append_message", b"some label", b"some data"),
                ("challenge_bytes", b"challenge", 32),
            ],
        ),
        _transcript_case(
            "empty_message_and_repeated_challenge",
            "An empty message; the same challenge label twice gives different outputs.",
            b"test protocol",
            [
                ("append_message", b"empty", b""),
                ("challenge_bytes", b"c", 16),
                ("challenge_bytes", b"c", 16),
            ],
        ),
        _transcript_case(
            "challenge_lengths",
            "Challenges of lengths 0, 1, 31, 32, 33, 64, 136 (SHAKE256 rate) and 137.",
            b"lengths",
            [("challenge_bytes", b"c", n) for n in (0, 1, 31, 32, 33, 64, 136, 137)],
        ),
        _transcript_case(
            "complex",
            "Every append kind, the generator, the identity, and several challenges.",
            b"zk-solvency test vectors",
            [
                ("append_message", b"dom-sep", b"complex v1"),
                ("append_u64", b"n", 64),
                ("append_u64", b"m", 8),
                ("append_u64", b"zero", 0),
                ("append_u64", b"max", (1 << 64) - 1),
                ("append_message", b"long", derived_bytes("transcript_v1 long message", 300)),
                ("validate_and_append_point", b"G", G),
                ("append_point", b"identity", identity),
                ("validate_and_append_point", b"P", P),
                ("challenge_bytes", b"c16", 16),
                ("append_scalar", b"zero", 0),
                ("append_scalar", b"one", 1),
                ("append_scalar", b"r-1", GROUP_ORDER - 1),
                ("append_scalar", b"k", k),
                ("challenge_scalar", b"y", None),
                ("challenge_scalar", b"z", None),
                ("challenge_bytes", b"c64", 64),
                ("append_message", b"more", bytes(range(256))),
                ("challenge_bytes", b"c100", 100),
                ("challenge_scalar", b"x", None),
            ],
        ),
    ]
    doc = {
        "description": "Known-answer vectors for circuits.transcript.Transcript (frozen forever).",
        "protocol_label": PROTOCOL_LABEL.decode("ascii"),
        "encoding": {
            "label": "ASCII text",
            "app_label, message, scalar, point, output": "hex",
            "scalar": "32 bytes little-endian (canonical)",
            "point": "48-byte compressed BLS12-381 G1",
            "output": "one entry per challenge op, in order; challenge_scalar as a scalar encoding",
        },
        "cases": cases,
    }
    names = [case["name"] for case in cases]
    assert len(set(names)) == len(names), "case names must be unique"
    for case in cases:
        challenges = [op for op in case["input"]["ops"] if op["op"].startswith("challenge")]
        assert len(challenges) == len(case["output"])
        for op, out in zip(challenges, case["output"], strict=True):
            if op["op"] == "challenge_scalar":
                assert scalar_from_bytes(bytes.fromhex(out)) != 0
    return doc


# ---------------------------------------------------------------------------
# Registry: one entry per vector file, written as <name>_v1.json.
# ---------------------------------------------------------------------------

GENERATORS: dict[str, Callable[[], Json]] = {
    "transcript": transcript_vectors,
    "range_proof": range_proof_vectors,
    # Register further vector files here.
}


def render(doc: Json) -> str:
    """The canonical text of a vector file (stable key order, trailing newline)."""
    return json.dumps(doc, indent=2, ensure_ascii=True) + "\n"


#: Files frozen with their own text layout (range_proof_v1.json: indent 1, sorted keys).
RENDERERS: dict[str, Callable[[Json], str]] = {"range_proof": render_range}


def path_for(name: str) -> Path:
    """Where the vector file ``name`` lives."""
    return VECTORS_DIR / f"{name}_v1.json"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the registered vector files; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files; write nothing")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"vector files to process: {', '.join(GENERATORS)}")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in GENERATORS]
    if unknown:
        parser.error(f"unknown vector file(s): {', '.join(unknown)}")

    failures = 0
    for name in args.names or list(GENERATORS):
        text = RENDERERS.get(name, render)(GENERATORS[name]())
        path = path_for(name)
        if args.check:
            if not path.exists():
                print(f"MISSING  {path.name}", file=sys.stderr)
                failures += 1
            elif path.read_text(encoding="utf-8") != text:
                print(f"DIFFERS  {path.name}: regenerated vectors do not match the committed file", file=sys.stderr)
                failures += 1
            else:
                print(f"ok       {path.name}")
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote    {path.name}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
