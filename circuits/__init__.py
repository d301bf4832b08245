"""What is proved, shared by prover and verifier: group, generators, transcript, relations, proofs.

circuits/ holds no secrets and imports nothing above it (prover, verifier, cli).
The math is written once in ``circuits/notes/``. Other packages import from the
submodules (``circuits.errors``, ``circuits.group``, ...), never from this root,
so it re-exports nothing and importing one submodule loads only what it needs.
"""

__all__: list[str] = []
