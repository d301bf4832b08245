"""``python -m cli``: the ``solvency`` command."""

from cli.main import app

if __name__ == "__main__":
    app(prog_name="solvency")
