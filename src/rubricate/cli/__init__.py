"""The command line: thin over the library. Each command lives in its own module."""

from rubricate.cli import calibrate as _calibrate  # noqa: F401  (registers calibrate)
from rubricate.cli import compare as _compare  # noqa: F401  (registers compare)
from rubricate.cli import config as _config  # noqa: F401  (registers config)
from rubricate.cli import generate as _generate  # noqa: F401  (registers generate)
from rubricate.cli import grade as _grade  # noqa: F401  (registers grade, score)
from rubricate.cli import meta_eval as _meta_eval  # noqa: F401  (registers meta-eval, drift)
from rubricate.cli import models as _models  # noqa: F401  (registers models)
from rubricate.cli import probe as _probe  # noqa: F401  (registers probe)
from rubricate.cli import report as _report  # noqa: F401  (registers report)
from rubricate.cli import serve as _serve  # noqa: F401  (registers serve)
from rubricate.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
