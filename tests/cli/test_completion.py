"""Shell completion through the installed wdh: Typer's scripts, the shell named or found,
and the words completed by Typer's protocol (`_WDH_COMPLETE=complete_<shell>`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import WDH, run_wdh, wdh_env

SCRIPTS = {
    "bash": ("complete -o default -F _wdh_completion wdh", "_WDH_COMPLETE=complete_bash"),
    "zsh": ("#compdef wdh", "compdef _wdh_completion wdh", "_WDH_COMPLETE=complete_zsh"),
    "fish": ("complete --command wdh", "_WDH_COMPLETE=complete_fish"),
}


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_show_completion_prints_the_named_shells_script(shell: str) -> None:
    # No shell among the parents to find (env -i, no SHELL): the name decides.
    result = run_wdh("--show-completion", shell, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for line in SCRIPTS[shell]:
        assert line in result.stdout
    others = [s for s in SCRIPTS if s != shell]
    assert not any(f"complete_{other}" in result.stdout for other in others)


def test_the_shell_may_follow_other_global_options() -> None:
    result = run_wdh("--db", "postgresql://nowhere/x", "-v", "--show-completion", "zsh", env={})
    assert result.returncode == 0, result.stderr
    assert "compdef _wdh_completion wdh" in result.stdout


@pytest.mark.parametrize("word", ["tcsh", "resolve", "a[b]", "x\x1b[31m"])
def test_an_unknown_shell_is_a_usage_error(word: str) -> None:
    result = run_wdh("--show-completion", word, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "expected one of bash, zsh, fish, powershell, pwsh" in result.stderr
    assert "\x1b" not in result.stderr


def test_a_commands_arguments_are_not_taken_for_the_option() -> None:
    # After the command the words are its own: queue enqueue has no such option.
    result = run_wdh("queue", "enqueue", "--show-completion", "bash", env=wdh_env())
    assert result.returncode == 2
    assert "_wdh_completion" not in result.stdout


def test_install_completion_writes_typers_files(tmp_path: Path) -> None:
    result = run_wdh("--install-completion", "bash", env={"HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    script = tmp_path / ".bash_completions" / "wdh.sh"
    assert "complete -o default -F _wdh_completion wdh" in script.read_text()
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()


def _complete(*words: str) -> list[str]:
    """What the installed wdh offers for the last word, by the protocol bash's script uses."""
    env = wdh_env(
        _WDH_COMPLETE="complete_bash",
        COMP_WORDS=" ".join(("wdh", *words)),
        COMP_CWORD=str(len(words)),
    )
    result = subprocess.run([WDH], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.split()


def test_options_complete_their_choices() -> None:
    assert _complete("queue", "drain", "--provider", "") == ["eqc", "directory", "none"]
    assert _complete("resolve", "in.xlsx", "--provider", "d") == ["directory"]
    assert _complete("mappings", "load", "--mode", "") == ["append", "delete_insert", "upsert"]
    assert _complete("mappings", "export", "--match-type", "") == [
        "plan",
        "account",
        "hardcode",
        "name",
        "account_name",
    ]
    assert _complete("mappings", "export", "--match-type", "acc") == ["account", "account_name"]
    assert _complete("qu") == ["queue"]
    assert "--show-completion" in _complete("--sh")


def test_completion_needs_no_settings_or_database(tmp_path: Path) -> None:
    """Completing runs no command: a broken setting or an unreachable server changes nothing."""
    env = wdh_env(
        WDH_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
        WDH_PROVIDER="not-a-provider",
        _WDH_COMPLETE="complete_bash",
        COMP_WORDS="wdh queue drain --provider ",
        COMP_CWORD="4",
    )
    result = subprocess.run(
        [WDH], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert (result.returncode, result.stdout.split()) == (0, ["eqc", "directory", "none"])


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_with_the_printed_script() -> None:
    """The script wdh prints, sourced by a real bash, completes --provider."""
    program = (
        "source <(wdh --show-completion bash)\n"
        'COMP_WORDS=(wdh queue drain --provider ""); COMP_CWORD=4\n'
        "_wdh_completion wdh\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = wdh_env(PATH=f"{Path(WDH).parent}:/usr/bin:/bin")
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["eqc", "directory", "none"]
