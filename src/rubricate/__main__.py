"""``python -m rubricate``."""

from rubricate.cli import main

main()
