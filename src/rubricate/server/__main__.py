"""``python -m rubricate.server ARGS`` runs ``rubricate serve ARGS``."""

import sys

from rubricate.cli import serve as _serve  # noqa: F401  (registers the command)
from rubricate.cli._app import app

if __name__ == "__main__":
    app(args=["serve", *sys.argv[1:]], prog_name="rubricate")
