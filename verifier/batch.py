r"""Batch verification of many range proofs as one MSM (``notes/35-batch-verification.md``).

Each proof's mega-check is scaled by an independent random weight ``rho_p`` (from
:mod:`secrets`) and the coefficients of the shared generators ``B``,
``B_blinding``, ``G_vec``, ``H_vec`` are merged, so ``P`` proofs of ``nm`` bits
cost one MSM of about ``2*max(nm) + P*(2*lg(nm) + 4 + m)`` points instead of ``P``
MSMs of ``2*nm`` points. A false proof survives only if the weighted sum of
non-identity terms vanishes, with probability about ``1/r``.

When the combined check fails, the bad proofs are located by bisection over the
already-computed terms, so the error names them.

:class:`ProofBatch` is the streaming form the bundle verifier uses: proofs are added
as the files are read, checked ``size`` at a time, and the failure of the
lowest-numbered record is kept to be reported once the earlier steps of §7 are done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from circuits.errors import ParameterError, ProofError, VerificationError
from circuits.group import random_scalar
from circuits.proofs import RangeProof
from circuits.relations import RangeStatement
from verifier.range_proof import ProofTerms, check_terms, proof_terms

# Other packages import BatchVerificationError and verify_batch from the package root (``verifier``).
__all__: list[str] = []


class BatchVerificationError(VerificationError):
    """Raised when a batch contains false proofs; ``bad_indices`` names them (sorted)."""

    def __init__(self, bad_indices: Sequence[int], reasons: dict[int, str] | None = None) -> None:
        """Record the failing positions and, where known, why each failed."""
        self.bad_indices = sorted(bad_indices)
        self.reasons = dict(reasons or {})
        shown = ", ".join(str(i) for i in self.bad_indices[:20])
        more = "" if len(self.bad_indices) <= 20 else f" (+{len(self.bad_indices) - 20} more)"
        super().__init__(f"{len(self.bad_indices)} proof(s) failed batch verification: {shown}{more}")


def _bisect(terms: list[tuple[int, ProofTerms]]) -> list[int]:
    """Return the positions of the false proofs in a failing group."""
    if len(terms) == 1:
        return [terms[0][0]]
    half = len(terms) // 2
    bad: list[int] = []
    for part in (terms[:half], terms[half:]):
        if not check_terms([t for _, t in part]):
            bad += _bisect(part)
    return bad


def verify_batch(statements: Sequence[RangeStatement], proofs: Sequence[RangeProof]) -> None:
    """Verify every ``proofs[i]`` against ``statements[i]`` in one combined MSM.

    Proofs may have different ``n`` and ``m``. Returns ``None`` or raises.

    Raises:
        BatchVerificationError: some proofs are false; ``bad_indices`` lists them.
        ParameterError: the two sequences differ in length, are empty, or mix backends.
    """
    if len(statements) != len(proofs):
        raise ParameterError(f"{len(statements)} statements but {len(proofs)} proofs")
    if not statements:
        raise ParameterError("empty batch")
    backend = statements[0].commitments[0].backend
    terms: list[tuple[int, ProofTerms]] = []
    reasons: dict[int, str] = {}
    for i, (statement, proof) in enumerate(zip(statements, proofs, strict=True)):
        if statement.commitments[0].backend is not backend:
            raise ParameterError("a batch must use one backend")
        weight = random_scalar()
        try:
            terms.append((i, proof_terms(statement, proof, weight)))
        except VerificationError as exc:
            reasons[i] = str(exc)
        except ProofError:
            raise
    bad = list(reasons)
    if terms and not check_terms([t for _, t in terms]):
        bad += _bisect(terms)
    if bad:
        raise BatchVerificationError(bad, reasons)


#: ``where(key)`` -> ``(section, file, field)`` of the record ``key`` of a :class:`ProofBatch`.
Where = Callable[[int], tuple[str, str, str]]


class ProofBatch:
    """Range proofs waiting for one batched MSM, each under an integer ``key`` (a chunk, a split).

    The failure with the lowest key is kept (a parse failure through :meth:`fail`, a
    false proof found by :meth:`flush`), so the reported record does not depend on the
    order in which proofs were added nor on the batch size. Pending proofs whose keys
    are all above a failure already kept are dropped unchecked: they cannot change it.
    """

    def __init__(self, size: int, where: Where) -> None:
        """Check ``size`` proofs per MSM; ``where`` names a failing record."""
        self.size = size
        self.where = where
        self.keys: list[int] = []
        self.statements: list[RangeStatement] = []
        self.proofs: list[RangeProof] = []
        self.failure: ProofError | None = None
        self.failure_key: int | None = None

    def add(self, key: int, statement: RangeStatement, proof: RangeProof) -> None:
        """Queue ``proof`` for ``statement``; the caller flushes when :meth:`full`."""
        self.keys.append(key)
        self.statements.append(statement)
        self.proofs.append(proof)

    def full(self) -> bool:
        """Whether a flush is due."""
        return len(self.keys) >= self.size

    def _keep(self, key: int, error: ProofError) -> None:
        if self.failure_key is None or key < self.failure_key:
            self.failure, self.failure_key = error, key

    def flush(self) -> int:
        """Check the pending proofs in one MSM; return how many were taken off the queue."""
        done = len(self.keys)
        if done and (self.failure_key is None or min(self.keys) < self.failure_key):
            try:
                verify_batch(self.statements, self.proofs)
            except BatchVerificationError as exc:
                pos = min(exc.bad_indices, key=lambda p: self.keys[p])
                key = self.keys[pos]
                section, file, field = self.where(key)
                reason = exc.reasons.get(pos, "the range proof does not verify")
                self._keep(key, VerificationError(f"{section}: {reason}", section=section, file=file, field=field))
        self.keys, self.statements, self.proofs = [], [], []
        return done

    def fail(self, key: int, error: ProofError) -> None:
        """Record ``error`` for record ``key`` (checking the pending proofs first, which may fail lower)."""
        self.flush()
        self._keep(key, error)
