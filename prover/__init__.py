"""The prover: holds the secrets and produces proofs. Imports only :mod:`circuits`."""

from circuits.relations import Opening
from prover.parallel import RangeJob, prove_ranges
from prover.range_proof import create_range_proof, prove_range

__all__ = ["Opening", "RangeJob", "create_range_proof", "prove_range", "prove_ranges"]
