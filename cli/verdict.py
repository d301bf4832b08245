"""The one JSON verdict shape of ``solvency verify --json`` and ``solvency check --json``.

Keys, always present: ``status`` (``"pass"`` | ``"partial"`` | ``"fail"``), ``ok``
(true only for ``"pass"``), ``exit_code``, and ``failure``, ``failure_section``,
``failure_kind`` (``"malformed"`` | ``"false"`` | ``"input"``), ``failure_file``,
``failure_field`` (each null unless the run failed, and null when unknown). The
report's own keys (assets, entries, claims, ...) come alongside.

Importing this module loads neither :mod:`prover` nor :mod:`verifier`.
"""

from __future__ import annotations

from circuits.errors import PartialReport, ProofError
from cli.exit_codes import EXIT_OK, EXIT_PARTIAL, exit_code_for

__all__ = ["verdict_json"]


def verdict_json(report: PartialReport | None, error: ProofError | None = None) -> dict[str, object]:
    """Return the verdict of a run as a JSON-ready dict: the report's keys plus the shared verdict keys.

    ``error`` is the error the run failed with (``None`` if it did not); the failure
    keys are read from its fields. Without an error, the status is the report's
    (``"pass"`` or ``"partial"``).
    """
    payload: dict[str, object] = dict(report.to_json()) if report is not None else {}
    status: object  # a value of the report's JSON when there is no error
    if error is not None:
        status = "fail"
        code = exit_code_for(error)
    else:
        status = payload.get("status", "pass")
        code = EXIT_PARTIAL if status == "partial" else EXIT_OK
    payload.update(
        status=status,
        ok=status == "pass",
        exit_code=code,
        failure=None if error is None else str(error),
        failure_section=None if error is None else error.section,
        failure_kind=None if error is None else error.kind,
        failure_file=None if error is None else error.file,
        failure_field=None if error is None else error.field,
    )
    return payload
