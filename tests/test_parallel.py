"""prover.parallel: proofs made in worker processes equal in meaning to in-process ones."""

from __future__ import annotations

import secrets

import pytest

from circuits.generators import PedersenGens
from circuits.group import random_scalar
from circuits.relations import Opening
from prover import RangeJob, prove_ranges
from verifier import verify_batch


def _jobs(count: int) -> list[RangeJob]:
    return [
        RangeJob(tuple(Opening(secrets.randbelow(256), random_scalar()) for _ in range(4)), 8, b"job %d" % i)
        for i in range(count)
    ]


@pytest.mark.parametrize("workers", [1, 2])
def test_prove_ranges_keeps_order_commitments_and_verifies(workers: int) -> None:
    jobs = _jobs(5)
    seen: list[int] = []
    results = prove_ranges(jobs, workers=workers, progress=seen.append)
    assert seen == [1, 2, 3, 4, 5]
    pc = PedersenGens.default()
    for job, (statement, _) in zip(jobs, results, strict=True):
        assert statement.context == job.context and statement.n == job.n
        assert list(statement.commitments) == [pc.commit(o.v, o.v_blinding) for o in job.openings]
    verify_batch([s for s, _ in results], [p for _, p in results])


def test_prove_ranges_of_nothing() -> None:
    assert prove_ranges([]) == []
