"""The customer check page: one self-contained HTML file shipped inside this package (``solvency check-page``).

``verifier/web/check.html`` is built from ``web/`` by ``node web/build.mjs`` (developers only:
it needs npm) and committed; the Python package ships it as package data, so writing it needs
neither node nor the network. The page runs the customer check of ``docs/FORMAT.md`` §8.1 in
the browser (JavaScript mirroring :mod:`circuits` and :mod:`verifier`); its
Content-Security-Policy forbids every request, so a customer's package never leaves their
device.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

__all__ = ["CHECK_PAGE_NAME", "check_page"]

#: The file name of the page, inside ``verifier/web/`` and in the directory ``check-page`` writes.
CHECK_PAGE_NAME: Final[str] = "check.html"


def check_page() -> bytes:
    """Return the bytes of the built check page (package data ``verifier/web/check.html``).

    Raises:
        FileNotFoundError: the installed package lacks the page (a packaging bug).
    """
    return resources.files("verifier").joinpath("web", CHECK_PAGE_NAME).read_bytes()

