"""Shell completion: Typer's `--install-completion` and `--show-completion`, naming the shell.

Typer's two options take no value: they find the shell among the parent
processes (shellingham), which fails where there is none (a script, a CI
job) and picks the running shell when the script is meant for another.
`wdh --show-completion bash` (or `--install-completion zsh`) names it; the
script and where it is installed are Typer's either way. Completing a word
is Typer's too: the shell runs `wdh` with `_WDH_COMPLETE=complete_<shell>`,
which answers from the options' choices before any command runs
(docs/commands.md, "Shell completion").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer
from typer import completion
from typer.core import TyperGroup, TyperOption

from wdh_cli.cli.context import err

SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")  # Typer's completion scripts
_CALLBACKS = {
    "--show-completion": completion.show_callback,
    "--install-completion": completion.install_callback,
}


_HELP = {
    "--install-completion": "Install completion for the current shell, or for SHELL.",
    "--show-completion": "Print the completion script for the current shell, or for SHELL.",
}


def name_the_shell(params: Sequence[object]) -> None:
    """Typer's two options, described as they work here (SHELL may follow them)."""
    for param in params:
        if isinstance(param, TyperOption) and param.opts and param.opts[0] in _HELP:
            param.help = _HELP[param.opts[0]]
            param.metavar = "[SHELL]"


def run_named_shell(group: TyperGroup, ctx: Any, args: Sequence[str]) -> None:
    """`--show-completion SHELL` or `--install-completion SHELL` among the options before the
    command: do what Typer's option does for that shell (it exits); another word there is a
    usage error (exit 2). Otherwise nothing: Typer's option alone finds the shell itself.

    Only the root's own options are looked at, so a command's arguments (a
    company name, say) are never taken for one.
    """
    options = {
        opt: param for param in group.params if isinstance(param, TyperOption) for opt in param.opts
    }
    index = 0
    while index < len(args) - 1 and args[index].startswith("-") and args[index] != "--":
        word, shell = args[index], args[index + 1]
        callback = _CALLBACKS.get(word)
        if callback is not None and not shell.startswith("-"):
            if shell not in SHELLS:
                shown = shell if shell.isprintable() else repr(shell)
                expected = ", ".join(SHELLS)
                err.print(f"error: {word} {shown}: expected one of {expected}", markup=False)
                raise typer.Exit(2)
            callback(ctx, options[word], shell)
        param = options.get(word)
        index += 2 if param is not None and not param.is_flag else 1
