r"""The Dask worker preload: a worker that holds the master secret, read from its own file.

A Dask worker proves :mod:`prover.tasks` only if it holds the exchange's master
secret. The coordinator never sends it (:class:`prover.dask_executor.DaskExecutor`
with ``scheduler=``): each worker reads it from a local file when it starts::

    dask worker tls://scheduler.internal:8786 --nthreads 1 \
        --preload prover.dask_worker --zk-solvency-master /etc/zk-solvency/master.key \
        [--zk-solvency-backend fast]

Dask calls :func:`dask_setup` in the worker process before the worker registers
with the scheduler, so no task reaches a worker that is not ready. The secret file
is read with :func:`prover.keys.load_secret` (exactly 32 bytes); a file that does
not load stops the worker (it never joins the cluster without the secret), with an
error naming the file, never its content. A file
that other users can read is logged as a warning. The worker logs the key id of the
secret it holds (:func:`prover.tasks.key_id`, a one-way fingerprint), which the
coordinator compares with its own on connect.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Final

import click
from distributed import Worker

from circuits.backends import BACKEND_NAMES
from circuits.errors import ProofError
from prover.keys import load_secret
from prover.tasks import install_master, key_id, prepare_worker

__all__ = ["dask_setup"]

logger = logging.getLogger(__name__)

#: The backend chosen with ``--zk-solvency-backend`` (``None``: the default backend).
_configured_backend: list[str | None] = [None]
_GROUP_OR_OTHER: Final[int] = stat.S_IRWXG | stat.S_IRWXO


@click.command(name="prover.dask_worker")
@click.option(
    "--zk-solvency-master",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The 32-byte master secret file (solvency keygen); read by this worker only, never sent.",
)
@click.option(
    "--zk-solvency-backend",
    type=click.Choice(BACKEND_NAMES),
    default=None,
    help="The curve backend this worker proves with [default: $SOLVENCY_BACKEND or fast].",
)
def dask_setup(worker: Worker, zk_solvency_master: Path, zk_solvency_backend: str | None) -> None:
    """Install the master secret read from ``zk_solvency_master`` in this worker process.

    Dask logs and ignores an ``Exception`` raised by a preload, and the worker would then
    join the cluster without the secret; a secret file that does not load stops the worker
    instead, with :class:`SystemExit` (the message names the file, never its content).

    Raises:
        SystemExit: the file cannot be read or does not hold exactly 32 bytes.
    """
    try:
        master = load_secret(zk_solvency_master)
        install_master(master)
        prepare_worker(zk_solvency_backend, 0)
    except ProofError as exc:
        logger.error("zk-solvency: %s", exc)
        raise SystemExit(f"zk-solvency: {exc}") from None
    _configured_backend[0] = zk_solvency_backend
    mode = zk_solvency_master.stat().st_mode
    if mode & _GROUP_OR_OTHER:
        logger.warning(
            "zk-solvency: %s is accessible to other users (mode %o); chmod 600 it", zk_solvency_master,
            stat.S_IMODE(mode),
        )
    logger.info(
        "zk-solvency: worker %s holds the master secret with key id %s", worker.address, key_id(master).hex()
    )


def warm(backend_name: str | None, max_nm: int) -> None:
    """Memoize the generators for ``max_nm`` bits (run on each worker when a coordinator connects).

    ``backend_name`` ``None`` keeps the backend the worker was started with.
    """
    prepare_worker(backend_name if backend_name is not None else _configured_backend[0], max_nm)
