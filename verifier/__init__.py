"""The verifier: public checking only. Imports :mod:`circuits`, never :mod:`prover`.

The product API: :func:`verify_bundle` (``solvency verify``), :func:`check_package`
(``solvency check``) and :func:`inspect_bundle` (``solvency inspect``). The
cryptographic core: :func:`verify_range`, :func:`verify_batch` (raising
:class:`BatchVerificationError`) and :func:`is_valid`.
"""

from circuits.errors import ProofError
from circuits.proofs import RangeProof
from circuits.relations import RangeStatement
from verifier.batch import BatchVerificationError, verify_batch
from verifier.bundle import verify_bundle
from verifier.inspect import inspect_bundle
from verifier.package import check_package
from verifier.range_proof import verify_range

__all__ = [
    "BatchVerificationError",
    "check_package",
    "inspect_bundle",
    "is_valid",
    "verify_batch",
    "verify_bundle",
    "verify_range",
]


def is_valid(statement: RangeStatement, proof: RangeProof) -> bool:
    """Return whether ``proof`` verifies; a convenience over :func:`verify_range`.

    Malformed input still raises (:class:`~circuits.errors.ParameterError`); only a
    false proof (:class:`~circuits.errors.VerificationError`) gives ``False``.
    """
    from circuits.errors import VerificationError

    try:
        verify_range(statement, proof)
    except VerificationError:
        return False
    except ProofError:
        raise
    return True
