"""``solvency dev range-demo``: the cryptographic core alone (a developer command).

Commit to random values, prove them in range with aggregated Bulletproofs, ship
the proofs as bytes, verify them one by one and as a batch, and show that a
tampered proof is rejected.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from circuits.backends import BACKEND_ENV, get_backend
from circuits.constants import GROUP_ORDER
from circuits.errors import VerificationError
from circuits.group import Point, random_scalar
from circuits.proofs import RangeProof
from circuits.relations import Opening, RangeStatement, check_bitsize_and_aggregation
from cli.exit_codes import EXIT_VERIFICATION
from cli.output import err, out, shown

__all__ = ["range_demo"]


class BackendName(StrEnum):
    """Curve backends selectable with ``--backend``."""

    fast = "fast"
    reference = "reference"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def _fail(message: str) -> typer.Exit:
    err.print(f"error: {shown(message)}")
    return typer.Exit(EXIT_VERIFICATION)


def range_demo(
    values: Annotated[
        int, typer.Option("--values", metavar="N", min=1, help="How many values to commit to.")
    ] = 16,
    m: Annotated[
        int, typer.Option("--m", metavar="M", min=1, help="Values per aggregated proof (a power of two).")
    ] = 8,
    n: Annotated[int, typer.Option("--n", metavar="BITS", help="Prove each value lies in [0, 2^BITS).")] = 64,
    backend: Annotated[
        BackendName | None,
        typer.Option(help=f"Curve backend [default: ${BACKEND_ENV} or fast]."),
    ] = None,
) -> None:
    """Commit to random values, prove them in range, verify, and reject a tampered proof."""
    from prover import prove_range
    from verifier import BatchVerificationError, verify_batch, verify_range

    check_bitsize_and_aggregation(n, m)
    if values % m:
        raise typer.BadParameter(f"{values} is not a multiple of --m {m}", param_hint="--values")
    be = get_backend(backend.value if backend is not None else None)
    count = values // m
    out.print(
        f"[bold]zk-solvency demo[/]: {values} secret {n}-bit values, {count} aggregated proof(s) "
        f"of m={m} values each, backend [bold]{be.name}[/]"
    )

    # 1. Commit and prove (the prover's side: it alone knows the openings).
    out.print("\n[bold]1. Commit and prove[/]")
    openings = [Opening(secrets.randbelow(1 << n), random_scalar()) for _ in range(values)]
    wire: list[tuple[list[bytes], bytes, bytes]] = []
    prove_times = []
    for k in range(count):
        context = b"solvency demo, proof %d" % k
        start = time.perf_counter()
        statement, proof = prove_range(openings[k * m : (k + 1) * m], n, context=context, backend=be)
        prove_times.append(time.perf_counter() - start)
        wire.append(([V.to_bytes() for V in statement.commitments], context, proof.to_bytes()))
    out.print(
        f"   Each value v_j is hidden in a Pedersen commitment V_j = v_j*B + v_blinding_j*B_blinding "
        f"({len(wire[0][0][0])} bytes each); V_0 = {wire[0][0][0].hex()[:24]}..."
    )
    out.print(
        f"   Proved {count} statement(s) 'every V_j opens to a value in [0, 2^{n})', "
        f"serialized to bytes: {len(wire[0][2]):,} bytes per proof."
    )

    # 2. Verify (the verifier's side: it sees only the public bytes).
    out.print("\n[bold]2. Parse the bytes and verify[/]")
    statements = [
        RangeStatement(tuple(Point.from_bytes(V, be) for V in commitments), n, context)
        for commitments, context, _ in wire
    ]
    proofs = [RangeProof.from_bytes(data, be) for _, _, data in wire]
    verify_times = []
    for statement, proof in zip(statements, proofs, strict=True):
        start = time.perf_counter()
        verify_range(statement, proof)
        verify_times.append(time.perf_counter() - start)
    out.print(f"   verify_range: all {count} proof(s) verified, one at a time.")
    start = time.perf_counter()
    verify_batch(statements, proofs)
    batch_time = time.perf_counter() - start
    out.print(f"   verify_batch: batch verification passed for all {count} proof(s) in one check.")

    table = Table(title="sizes and timings", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row(f"proof size (n={n}, m={m})", f"{len(wire[0][2]):,} bytes")
    table.add_row("all proofs + commitments", f"{sum(len(p) + sum(map(len, c)) for c, _, p in wire):,} bytes")
    table.add_row("prove, per proof (mean)", _ms(sum(prove_times) / count))
    table.add_row("verify_range, per proof (mean)", _ms(sum(verify_times) / count))
    table.add_row(f"verify_batch, all {count}", _ms(batch_time))
    out.print(table)

    # 3. Tamper: change t_x by one and watch verification fail.
    out.print("\n[bold]3. Tamper with a proof[/]")
    tampered = dataclasses.replace(proofs[-1], t_x=(proofs[-1].t_x + 1) % GROUP_ORDER)
    try:
        verify_range(statements[-1], tampered)
    except VerificationError as exc:
        out.print(f"   t_x + 1: tampered proof rejected by verify_range: {shown(exc)}")
    else:
        raise _fail("a tampered proof was accepted by verify_range")
    try:
        verify_batch(statements, [*proofs[:-1], tampered])
    except BatchVerificationError as exc:
        out.print(
            f"   verify_batch rejects the batch and names the bad proof(s): {shown(exc.bad_indices)}"
        )
    else:
        raise _fail("a batch holding a tampered proof was accepted by verify_batch")
    out.print("\n[bold green]ok[/]: honest proofs verify, the tampered one does not.")
