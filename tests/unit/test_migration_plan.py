"""Pure planning: discovery of files, states, what up and down would run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from wdh_cli.errors import MigrationError, MigrationStateError, UsageError
from wdh_cli.migrate.files import EARLIER_RELEASES, MigrationFile, checksum, discover
from wdh_cli.migrate.history import AppliedMigration
from wdh_cli.migrate.plan import StatusReport, compute_status, plan_down, plan_up
from wdh_cli.migrate.runner import repair_plan

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _file(version: int, sql: str = "SELECT 1;") -> MigrationFile:
    return MigrationFile(version, f"m{version}", sql, "SELECT 0;")


def _row(
    m: MigrationFile, *, success: bool = True, checksum: str | None = None, baseline: bool = False
) -> AppliedMigration:
    return AppliedMigration(
        m.version, m.description, checksum or m.checksum, "me", NOW, 1, success, None, baseline
    )


def test_states() -> None:
    one, two, three = _file(1), _file(2), _file(3)
    gone = _file(4)
    history = [_row(one), _row(two, checksum="0" * 64), _row(gone)]
    states = {s.version: s.state for s in compute_status([one, two, three], history)}
    assert states == {1: "applied", 2: "changed", 3: "pending", 4: "missing"}


def test_a_failed_attempt_is_pending_with_its_error() -> None:
    one = _file(1)
    failed = AppliedMigration(1, "m1", one.checksum, "me", NOW, 1, False, "boom")
    [status] = compute_status([one], [failed])
    assert (status.state, status.last_error) == ("pending", "boom")


def test_plan_up_and_down() -> None:
    files = [_file(1), _file(2), _file(3)]
    statuses = compute_status(files, [_row(files[0])])
    assert [s.migration.version for s in plan_up(statuses, files)] == [2, 3]
    assert [s.migration.version for s in plan_up(statuses, files, to=2)] == [2]
    applied = compute_status(files, [_row(m) for m in files])
    assert [s.migration.version for s in plan_down(applied, files)] == [3]
    assert [s.migration.version for s in plan_down(applied, files, steps=2)] == [3, 2]
    assert [s.migration.version for s in plan_down(applied, files, to=1)] == [3, 2]
    assert [s.migration.version for s in plan_down(applied, files, all_=True)] == [3, 2, 1]
    assert [s.direction for s in plan_down(applied, files)] == ["down"]
    with pytest.raises(UsageError):
        plan_down(applied, files, to=9)


def test_a_baselined_migration_counts_as_applied_for_up_and_current() -> None:
    files = [_file(1), _file(2), _file(3)]
    statuses = compute_status(files, [_row(files[0], baseline=True)])
    assert [s.state for s in statuses] == ["baseline", "pending", "pending"]
    assert [s.migration.version for s in plan_up(statuses, files)] == [2, 3]
    everything = compute_status(
        files, [_row(files[0], baseline=True), _row(files[1]), _row(files[2])]
    )
    assert StatusReport(everything).current
    # An edit is still an edit: a baselined file whose checksum moved is `changed`.
    edited = compute_status(files, [_row(files[0], baseline=True, checksum="e" * 64)])
    assert edited[0].state == "changed"


def test_down_never_reverts_a_baselined_migration() -> None:
    files = [_file(1), _file(2), _file(3)]
    statuses = compute_status(
        files, [_row(files[0], baseline=True), _row(files[1], baseline=True), _row(files[2])]
    )
    assert [s.migration.version for s in plan_down(statuses, files)] == [3]
    assert [s.migration.version for s in plan_down(statuses, files, to=2)] == [3]
    for kwargs in ({"all_": True}, {"steps": 2}, {"to": 0}, {"to": 1}):
        with pytest.raises(
            MigrationStateError,
            match=r"0002_m2\.up\.sql .*wdh migrate baseline.*nothing was reverted.*--to 2",
        ):
            plan_down(statuses, files, **kwargs)


def test_changed_blocks_planning() -> None:
    files = [_file(1)]
    statuses = compute_status(files, [_row(files[0], checksum="f" * 64)])
    with pytest.raises(
        MigrationStateError, match=r"0001_m1\.up\.sql was edited.*`wdh migrate repair`"
    ):
        plan_up(statuses, files)


def _write(directory: Path, *names: str) -> Path:
    directory.mkdir()
    for name in names:
        (directory / name).write_text("SELECT 1;")
    return directory


def test_discover_orders_by_version(tmp_path: Path) -> None:
    d = _write(
        tmp_path / "m", "0002_b.up.sql", "0002_b.down.sql", "0001_a.up.sql", "0001_a.down.sql"
    )
    assert [m.name for m in discover(d)] == ["0001_a", "0002_b"]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("0001_a.up.sql",), r"0001_a\.down\.sql is missing"),
        (("1_a.up.sql", "1_a.down.sql"), r"1_a\.up\.sql: not a migration file name"),
        (
            ("0001_a.up.sql", "0001_a.down.sql", "0001_b.up.sql", "0001_b.down.sql"),
            "version 0001 is used by two migrations",
        ),
    ],
)
def test_discover_rejects_a_malformed_set(
    tmp_path: Path, names: tuple[str, ...], message: str
) -> None:
    with pytest.raises(MigrationError, match=message):
        discover(_write(tmp_path / "m", *names))


def test_an_earlier_released_text_is_accepted_per_file_and_nothing_else() -> None:
    """0002's first released text (before the P-030 upgrade) is 0002; any other edit is not."""
    [first_text] = EARLIER_RELEASES["0002_create_temp_id_sequence.up.sql"]
    today = {m.version: m for m in discover()}
    two = today[2]
    history = [
        _row(today[1]),
        _row(two, checksum=first_text),
        _row(today[3], checksum=first_text),  # 0002's old text is no text of 0003
    ]
    states = {s.version: s.state for s in compute_status([today[1], two, today[3]], history)}
    assert states == {1: "applied", 2: "applied", 3: "changed"}
    baselined = compute_status([two], [_row(two, checksum=first_text, baseline=True)])
    assert [s.state for s in baselined] == ["baseline"]
    assert repair_plan([two], [_row(two, checksum=first_text)]).empty
    edited = checksum(two.up_sql + "\n")
    assert [s.state for s in compute_status([two], [_row(two, checksum=edited)])] == ["changed"]
    with pytest.raises(
        MigrationStateError, match=r"0002_create_temp_id_sequence\.up\.sql was edited"
    ):
        plan_up(compute_status([two], [_row(two, checksum=edited)]), [two])
