"""The prover: holds the secrets and produces proofs. Imports only :mod:`circuits`.

The product API is :func:`write_bundle` with its :class:`ProveOptions` (what
``solvency prove`` calls) and :func:`load_wallets` (the wallet list, every proof of control
checked, as :class:`ProvenReserves`); :func:`prove_range`, :func:`create_range_proof` and
:func:`prove_ranges` (with :class:`RangeJob`) are the cryptographic core.
"""

from prover.bundle import ProveOptions, write_bundle
from prover.parallel import RangeJob, prove_ranges
from prover.range_proof import create_range_proof, prove_range
from prover.wallets import ProvenReserves, load_wallets

__all__ = [
    "ProveOptions",
    "ProvenReserves",
    "RangeJob",
    "create_range_proof",
    "load_wallets",
    "prove_range",
    "prove_ranges",
    "write_bundle",
]
