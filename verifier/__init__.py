"""The verifier: public checking only. Imports :mod:`circuits`, never :mod:`prover`."""

from circuits.errors import ProofError
from circuits.proofs import RangeProof
from circuits.relations import RangeStatement
from verifier.batch import BatchVerificationError, verify_batch
from verifier.range_proof import verify_range

__all__ = ["BatchVerificationError", "is_valid", "verify_batch", "verify_range"]


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
