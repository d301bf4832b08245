"""One module per ``solvency`` command; :mod:`cli.main` registers them.

A command module imports :mod:`prover` or :mod:`verifier` only inside its
command function, so loading the app (and running ``verify``, ``check`` or
``inspect``) never loads :mod:`prover`.
"""
