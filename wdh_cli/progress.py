"""How a service reports progress: a callback the CLI passes, called with (done, total).

`total` is None while it is not known. The CLI draws the bar
(wdh_cli/cli/progress.py); services never import rich, and take
`progress: Progress | None`, None when no bar is shown.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int | None], None]
