"""Shared fixtures for the zk-solvency test suite.

Only cheap fixtures live here, and nothing is registered globally (no
hypothesis profile, no autouse fixture), so that every test module keeps
control of its own runtime. The browser fixtures of ``tests/browser.py`` (``chromium``,
``served``, ``page``) are available to every module; Chromium starts only when a test asks
for one of them.
"""

from __future__ import annotations

import pytest

from circuits.backends import BACKEND_NAMES, GroupBackend, get_backend

pytest_plugins = ("browser",)


@pytest.fixture(scope="session", params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> GroupBackend:
    """Every curve backend in turn: one suite run per backend (py_ecc's ``lib`` fixture)."""
    return get_backend(request.param)


@pytest.fixture(scope="session")
def fast() -> GroupBackend:
    """The native ``fast`` backend, for bulk property tests."""
    return get_backend("fast")
