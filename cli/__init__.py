"""The ``solvency`` command line: a thin typer layer that parses, calls the library and prints.

Nothing below :mod:`cli` imports it. Commands map :class:`circuits.errors.ProofError`
subclasses to exit codes (:mod:`cli.exit_codes`) and catch nothing broader.
"""
