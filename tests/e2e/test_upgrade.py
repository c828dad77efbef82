"""Upgrading from every earlier release: its own `wdh migrate up`, then today's wdh.

The releases are the distinct states of sql/migrations/ along the
first-parent history of `main` (of HEAD where there is no `main`), read from
git when the tests are collected. Each release's wdh_cli/ and sql/ are taken
out of git and run as that release ran (`python -m wdh_cli migrate up`), so
the database holds exactly what it left: its files' checksums and its
history table (the releases before `wdh migrate baseline` made one without
the `baseline` column). Today's installed wdh must then migrate it, find it
healthy (status, verify, db check) and resolve a file on it.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.helpers import run_wdh, wdh_env
from wdh_cli.migrate.files import discover

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Release:
    commit: str  # the first commit of main's first-parent history with these migrations
    files: tuple[str, ...]  # the up files it ships

    def __str__(self) -> str:
        versions = [name[:4] for name in self.files]
        return f"{self.commit[:7]}-{versions[0]}-{versions[-1]}"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPOSITORY, capture_output=True, text=True, check=True
    ).stdout


NO_GIT = "no git repository here (the earlier releases are read from git)"
SHALLOW = "a shallow clone: the earlier releases are not in its git history"


def _releases() -> tuple[list[Release], str | None]:
    """Each earlier state of sql/migrations/ on main, oldest first; or why there is none."""
    try:
        if Path(_git("rev-parse", "--show-toplevel").strip()).resolve() != REPOSITORY:
            return [], NO_GIT  # wdh's files inside another repository
        if _git("rev-parse", "--is-shallow-repository").strip() == "true":
            return [], SHALLOW
        branch = "main" if _git("branch", "--list", "main").strip() else "HEAD"
        commits = _git("log", "--first-parent", "--reverse", "--format=%H", branch).split()
    except (OSError, subprocess.CalledProcessError):
        return [], NO_GIT
    today = {m.up_file: m.up_sql for m in discover()}
    releases, previous = [], None
    for commit in commits:
        try:
            tree = _git("rev-parse", f"{commit}:sql/migrations").strip()
        except subprocess.CalledProcessError:
            continue  # before the first migration
        if tree == previous:
            continue
        previous = tree
        names = _git("ls-tree", "--name-only", tree).split()
        ups = tuple(sorted(name for name in names if name.endswith(".up.sql")))
        texts = {name: _git("show", f"{commit}:sql/migrations/{name}") for name in ups}
        if texts != today:  # today's files are no earlier release
            releases.append(Release(commit, ups))
    if not releases:
        return [], "git history holds no earlier release of sql/migrations/"
    return releases, None


RELEASES, NO_RELEASES = _releases()


def _checkout(release: Release, target: Path) -> Path:
    """The release's wdh_cli/ and sql/ in `target`, as git holds them."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", release.commit, "wdh_cli", "sql"],
        cwd=REPOSITORY,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def _released_up(release: Release, code: Path, url: str) -> None:
    """`wdh migrate up` as the release ran it: its own code, its own SQL."""
    env = wdh_env(PYTHONPATH=str(code), WDH_DATABASE_URL=url)
    probe = subprocess.run(
        [sys.executable, "-c", "import wdh_cli; print(wdh_cli.__file__)"],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().startswith(str(code)), probe.stdout  # not today's wdh_cli
    done = subprocess.run(
        [sys.executable, "-m", "wdh_cli", "migrate", "up"],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT version FROM wdh.schema_history WHERE success ORDER BY version"
        ).fetchall()
    assert [row[0] for row in rows] == [int(name[:4]) for name in release.files]


def _queued_by_the_tool_before(url: str) -> None:
    """A sequential ID already handed out, as the queue of the tool before wdh holds it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO enterprise.enrichment_requests (raw_name, normalized_name, temp_id, "
            "status) VALUES ('丙公司', '丙公司', 'TEMP_000057', 'failed')"
        )


@pytest.mark.parametrize(
    "release",
    RELEASES or [pytest.param(None, marks=pytest.mark.skip(reason=str(NO_RELEASES)))],
    ids=str,
)
def test_a_database_migrated_by_an_earlier_release_upgrades_and_resolves(
    release: Release, empty_db_url: str, tmp_path: Path
) -> None:
    _released_up(release, _checkout(release, tmp_path / "release"), empty_db_url)
    _queued_by_the_tool_before(empty_db_url)

    env = wdh_env(
        WDH_DATABASE_URL=empty_db_url,
        WDH_ALIAS_SALT="pepper",
        WDH_MAPPINGS_DIR=str(tmp_path / "mappings"),
        WDH_PROVIDER="none",
        WDH_TEMP_ID_STYLE="sequence",
    )
    (tmp_path / "mappings").mkdir()
    upgraded = run_wdh("migrate", "up", env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    for check in (("migrate", "status"), ("migrate", "verify"), ("db", "check")):
        result = run_wdh(*check, env=env, cwd=tmp_path)
        assert result.returncode == 0, (check, result.stdout, result.stderr)
    again = run_wdh("migrate", "up", env=env, cwd=tmp_path)
    assert again.returncode == 0 and "nothing to do" in again.stderr, again.stderr
    # Name keys stored before migration 0005 are of rules version 1 (docs/names.md).
    rekeyed = run_wdh("names", "rekey", env=env, cwd=tmp_path)
    assert rekeyed.returncode == 0, rekeyed.stderr

    source = tmp_path / "rows.csv"
    source.write_text("客户名称,公司代码\n甲公司,C1\n乙公司,\n", encoding="utf-8")
    resolved = run_wdh("resolve", str(source), "--json", env=env, cwd=tmp_path)
    assert resolved.returncode == 0, resolved.stderr
    output = Path(json.loads(resolved.stdout)["output"])
    with output.open(encoding="utf-8-sig", newline="") as handle:
        rows = [(row["客户名称"], row["company_id"]) for row in csv.DictReader(handle)]
    # Migration 0006 raises the counter past the IDs the queue already holds, so none is
    # issued twice; a release that ran it had its counter in step from then on (the row
    # added above stands for a hand-made one, and the counter goes on from 1).
    applied = {int(name[:4]) for name in release.files}
    expected = "TEMP_000001" if 6 in applied else "TEMP_000058"
    assert rows == [("甲公司", "C1"), ("乙公司", expected)]


def test_the_release_list_is_read_from_git() -> None:
    """Where the history is there (this repository, CI's clone of main), nothing is skipped."""
    if NO_RELEASES in (NO_GIT, SHALLOW):
        pytest.skip(NO_RELEASES)
    assert NO_RELEASES is None and len(RELEASES) >= 5, NO_RELEASES
    assert RELEASES[0].files == ("0001_create_enterprise_schema.up.sql",)
