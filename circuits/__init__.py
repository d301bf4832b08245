"""What is proved, shared by prover and verifier: group, generators, transcript, relations, proofs.

circuits/ holds no secrets and imports nothing above it (prover, verifier, cli).
The math is written once in ``circuits/notes/``.
"""

from circuits.errors import (
    FormatError,
    InputError,
    ParameterError,
    ProofError,
    VerificationError,
    WitnessError,
)
from circuits.generators import BulletproofGens, PedersenGens
from circuits.group import Point
from circuits.proofs import InnerProductProof, RangeProof
from circuits.relations import Opening, RangeStatement
from circuits.transcript import Transcript

__all__ = [
    "BulletproofGens",
    "FormatError",
    "InnerProductProof",
    "InputError",
    "Opening",
    "ParameterError",
    "PedersenGens",
    "Point",
    "ProofError",
    "RangeProof",
    "RangeStatement",
    "Transcript",
    "VerificationError",
    "WitnessError",
]
