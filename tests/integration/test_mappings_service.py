"""Mapping loads, exports and lookups against a real database."""

from __future__ import annotations

import io
import json
from pathlib import Path

import psycopg
import pytest

from wdh_cli.db import Database
from wdh_cli.db.sqlfiles import queries
from wdh_cli.errors import DatabaseError, InputFileError
from wdh_cli.files import people_csv_writer
from wdh_cli.mappings import repository, service
from wdh_cli.mappings.csv_file import read_csv
from wdh_cli.mappings.inputs import collect, iter_rows
from wdh_cli.mappings.rows import MappingRow
from wdh_cli.mappings.yaml_file import read_overrides

HEADER = "alias_name,canonical_id,match_type,priority,source\n"


def _write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def _load(db: Database, paths: list[Path], **options: object) -> service.LoadReport:
    opts: dict[str, object] = {"mode": "append", "source": "internal", "default_dir": Path("none")}
    opts.update(options)
    return service.load(db, paths, **opts)  # type: ignore[arg-type]


def _stored(conn: psycopg.Connection) -> set[tuple[str, str, str, int, str]]:
    rows = conn.execute(
        "SELECT alias_name, canonical_id, match_type, priority, source "
        "FROM enterprise.company_mapping"
    )
    return set(rows.fetchall())


def _figures(report: service.LoadReport) -> tuple[int, ...]:
    return (
        report.read,
        report.inserted,
        report.updated,
        report.unchanged,
        report.conflicts,
        report.rejected,
        report.deleted,
    )


def test_append_counts_new_unchanged_conflicts_and_keeps_stored_rows(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    first = _write(
        tmp_path / "a.csv", ["P1,C1,plan,,", "A1,C2,account,,", "上海 某某 公司,C3,name,,"]
    )
    report = _load(db, [first])
    assert _figures(report) == (3, 3, 0, 0, 0, 0, 0)
    assert ("上海某某公司", "C3", "name", 4, "internal") in _stored(conn)

    second = _write(tmp_path / "b.csv", ["P1,C1,plan,,", "A1,OTHER,account,,", "P2,C4,plan,,"])
    report = _load(db, [second])
    assert _figures(report) == (3, 1, 0, 1, 1, 0, 0)
    [conflict] = report.conflict_list
    assert (conflict.file, conflict.line, conflict.key) == (str(second), 3, "A1")
    assert (conflict.new_id, conflict.current_id) == ("OTHER", "C2")
    assert ("A1", "C2", "account", 2, "internal") in _stored(conn)  # left as it was


def test_upsert_updates_company_and_priority(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    _load(db, [_write(tmp_path / "a.csv", ["P1,C1,plan,,", "P2,C2,plan,,", "P3,C3,plan,,"])])
    changes = _write(
        tmp_path / "b.csv", ["P1,C1,plan,,", "P2,NEW,plan,,", "P3,C3,plan,2,", "P4,C4,plan,,"]
    )
    report = _load(db, [changes], mode="upsert")
    assert _figures(report) == (4, 1, 2, 1, 1, 0, 0)
    assert {r[:4] for r in _stored(conn)} == {
        ("P1", "C1", "plan", 1),
        ("P2", "NEW", "plan", 1),
        ("P3", "C3", "plan", 2),
        ("P4", "C4", "plan", 1),
    }


def test_delete_insert_replaces_one_source(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    _load(db, [_write(tmp_path / "crm.csv", ["P1,C1,plan,,", "P2,C2,plan,,"])], source="crm")
    _load(db, [_write(tmp_path / "other.csv", ["P9,C9,plan,,"])], source="manual")
    report = _load(
        db,
        [_write(tmp_path / "crm2.csv", ["P1,C1,plan,,", "P3,C3,plan,,", "P9,X,plan,,"])],
        mode="delete_insert",
        source="crm",
    )
    assert _figures(report) == (3, 2, 0, 0, 1, 0, 2)
    assert _stored(conn) == {
        ("P1", "C1", "plan", 1, "crm"),
        ("P3", "C3", "plan", 1, "crm"),
        ("P9", "C9", "plan", 1, "manual"),
    }


def test_plan_only_reports_the_same_figures_and_writes_nothing(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    _load(db, [_write(tmp_path / "a.csv", ["P1,C1,plan,,", "P2,C2,plan,,"])])
    before = _stored(conn)
    change = _write(
        tmp_path / "b.csv", ["P1,C1,plan,,", "P2,X,plan,,", "P3,C3,plan,,", "bad,,plan,,"]
    )
    for mode in ("append", "upsert", "delete_insert"):
        planned = _load(db, [change], mode=mode, plan_only=True)
        assert _stored(conn) == before
        with conn.transaction():
            real = _load(db, [change], mode=mode)
            assert _figures(real) == _figures(planned), mode
            assert real.conflict_list == planned.conflict_list
            conn.execute("DELETE FROM enterprise.company_mapping")
            conn.execute(
                "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, "
                "priority, source) SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], "
                "%s::int[], %s::text[])",
                [[r[i] for r in before] for i in range(5)],
            )


def test_duplicates_inside_the_input(db: Database, tmp_path: Path) -> None:
    path = _write(tmp_path / "a.csv", ["P1,C1,plan,,", "P1,C1,plan,,", "P1,C2,plan,,"])
    report = _load(db, [path])
    assert _figures(report) == (3, 1, 0, 1, 0, 1, 0)
    [rejected] = report.rejected_list
    assert rejected.number == 4 and f"also on {path}:2" in rejected.reason


def test_a_large_file_with_three_bad_rows_loads_the_rest(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    rows = [f"K{i:06d},C{i % 977},account,," for i in range(200_000)]
    bad_lines = {1001: "K,,account,,", 50002: "Kx,C1,bogus,,", 199_999: "Ky,C1,account,7,"}
    for line, text in bad_lines.items():
        rows[line - 2] = text
    report = _load(db, [_write(tmp_path / "big.csv", rows)])
    assert (report.read, report.inserted, report.rejected) == (200_000, 199_997, 3)
    assert [r.number for r in report.rejected_list] == sorted(bad_lines)
    assert conn.execute("SELECT count(*) FROM enterprise.company_mapping").fetchone() == (199_997,)


ODD = [
    'it\'s "quoted"',
    "back\\slash\\\\",
    "100% sure",
    "a;b",
    "x -- y",
    "tab\there",
    "bell\x07",
    "cr\rlf\n",
    "=1+1",  # formula starts: escaped by the export, the apostrophe taken off by the load
    "-x",
    "@y",
    "+w",
    "''=z",
]


def test_odd_characters_load_and_round_trip_through_export(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "odd.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = people_csv_writer(handle)  # as wdh writes a CSV
        writer.writerow(["alias_name", "canonical_id", "match_type"])
        for index, alias in enumerate(ODD):
            writer.writerow([alias, f"C-{index}_x.Y", "account_name"])  # IDs have a rule
    report = _load(db, [path])
    assert (report.inserted, report.rejected) == (len(ODD), 0)
    stored = {r[0]: r[1] for r in _stored(conn)}
    assert stored == {alias.strip(): f"C-{i}_x.Y" for i, alias in enumerate(ODD)}

    exported = io.StringIO()
    assert service.export(db, exported, match_type=None, fmt="csv") == len(ODD)
    assert "\r\n'=1+1," in exported.getvalue()
    assert "\r\n'''=z," in exported.getvalue()
    again = tmp_path / "again.csv"
    again.write_text(exported.getvalue(), encoding="utf-8", newline="")
    reread = [r for r in read_csv(again) if isinstance(r, MappingRow)]
    assert {r.alias_name: r.canonical_id for r in reread} == stored
    assert _figures(_load(db, [again]))[1:] == (0, 0, len(ODD), 0, 0, 0)

    as_yaml = io.StringIO()
    service.export(db, as_yaml, match_type="account_name", fmt="yaml")
    yml = tmp_path / "company_id_overrides_account_name.yml"
    yml.write_text(as_yaml.getvalue(), encoding="utf-8")
    result = read_overrides(yml, "account_name")
    assert result.problems == []
    assert {r.alias_name: r.canonical_id for r in result.rows} == stored


def test_a_failure_leaves_the_table_as_it_was(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    _load(db, [_write(tmp_path / "a.csv", ["P1,C1,plan,,"])])
    conn.execute(
        "CREATE FUNCTION enterprise.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.alias_name = 'BOOM' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
    )
    conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON enterprise.company_mapping "
        "FOR EACH ROW EXECUTE FUNCTION enterprise.refuse()"
    )
    before = _stored(conn)
    with pytest.raises(DatabaseError, match="refused"):
        _load(db, [_write(tmp_path / "b.csv", ["P2,C2,plan,,", "BOOM,C3,plan,,", "P4,C4,plan,,"])])
    assert _stored(conn) == before


def test_a_bad_yaml_file_stops_the_whole_load(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    good = _write(tmp_path / "a.csv", ["P1,C1,plan,,"])
    bad = tmp_path / "company_id_overrides_plan.yml"
    bad.write_text("P2: C2\nP2: C3\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=rf"{bad}:2: duplicate key"):
        _load(db, [good, bad])
    assert _stored(conn) == set()


def test_shipped_mapping_files_load(db: Database) -> None:
    root = Path(__file__).parents[2] / "mappings"
    report = _load(db, [root])
    assert report.rejected == 0 and report.inserted == report.read > 0


def test_batch_lookup(db: Database, conn: psycopg.Connection, tmp_path: Path) -> None:
    _load(
        db, [_write(tmp_path / "a.csv", ["P1,C1,plan,,", "P1,C9,hardcode,,", "上海某某,C3,name,,"])]
    )
    hits = repository.lookup(
        conn, [("plan", "P1"), ("hardcode", "P1"), ("name", "上海某某"), ("plan", "nope")]
    )
    assert {k: (h.canonical_id, h.priority) for k, h in hits.items()} == {
        ("plan", "P1"): ("C1", 1),
        ("hardcode", "P1"): ("C9", 3),
        ("name", "上海某某"): ("C3", 4),
    }
    assert repository.lookup(conn, []) == {}


def test_the_batch_lookup_probes_the_index_on_100k_rows(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority) "
        "SELECT 'K' || g, 'C' || g, 'account', 2 FROM generate_series(1, 100000) AS g"
    )
    conn.execute("ANALYZE enterprise.company_mapping")
    from wdh_cli.db.sqlfiles import queries

    keys = [f"K{i}" for i in range(1, 100000, 50)]
    plan = conn.execute(
        "EXPLAIN (FORMAT JSON) " + queries("mappings")["lookup"],
        {"match_types": ["account"] * len(keys), "keys": keys},
    ).fetchone()
    assert plan is not None
    text = json.dumps(plan[0])
    assert '"Node Type": "Index Scan"' in text
    assert '"Node Type": "Seq Scan"' not in text


def _two_files_with_repeats(tmp_path: Path) -> tuple[Path, Path]:
    first = _write(
        tmp_path / "a.csv",
        [
            "K1,C1,account,,",  # 2: first of K1
            "K2,C2,account,,",  # 3: first of K2
            "K1,C1,account,,",  # 4: repeat, same company
            "bad,,account,,",  # 5: invalid
            "K3,C3,plan,,",  # 6: first of K3
            "上海 某某 公司,N1,name,,",  # 7: first of the name 上海某某公司
        ],
    )
    second = _write(
        tmp_path / "b.csv",
        [
            "K2,CX,account,,",  # 2: contradicts a.csv:3
            "K1,C1,account,3,",  # 3: repeat (another priority: still the same company)
            "K4,C4,account,,",  # 4: first of K4
            "K3,C9,plan,,",  # 5: contradicts a.csv:6
            "K3,C3,plan,,",  # 6: repeat of the first row
            "x,C1,nope,,",  # 7: invalid
            "上海某某公司（已转出）,N2,name,,",  # 8: same name once normalized: contradicts a.csv:7
        ],
    )
    return first, second


def _seed(conn: psycopg.Connection, rows: list[tuple[str, str, str, int, str]]) -> None:
    with conn.transaction():
        for row in rows:
            conn.execute(
                "INSERT INTO enterprise.company_mapping "
                "(alias_name, canonical_id, match_type, priority, source) "
                "VALUES (%s, %s, %s, %s, %s)",
                row,
            )


@pytest.mark.parametrize(
    ("mode", "figures"),
    [
        # read, inserted, updated, unchanged, conflicts, rejected, deleted
        ("append", (13, 3, 0, 4, 1, 5, 0)),
        ("upsert", (13, 3, 1, 4, 1, 5, 0)),
        ("delete_insert", (13, 4, 0, 3, 1, 5, 1)),
    ],
)
def test_repeats_and_contradictions_across_two_files(
    db: Database,
    conn: psycopg.Connection,
    tmp_path: Path,
    mode: str,
    figures: tuple[int, ...],
) -> None:
    _seed(conn, [("K3", "C3", "plan", 1, "crm"), ("K4", "OTHER", "account", 2, "manual")])
    first, second = _two_files_with_repeats(tmp_path)
    planned = _load(db, [first, second], mode=mode, source="crm", plan_only=True)
    real = _load(db, [first, second], mode=mode, source="crm")

    assert _figures(real) == figures
    read, inserted, updated, unchanged, conflicts, rejected, _ = figures
    if mode == "upsert":
        assert read == inserted + updated + unchanged + rejected
    else:
        assert read == inserted + updated + unchanged + conflicts + rejected
    assert [r.describe() for r in real.rejected_list] == [
        f"{first}:5: empty canonical_id",
        f"{second}:2: key also on {first}:3 with another company_id (C2)",
        f"{second}:5: key also on {first}:6 with another company_id (C3)",
        f"{second}:7: unknown match_type 'nope' "
        "(expected plan, account, hardcode, name, account_name)",
        f"{second}:8: key also on {first}:7 with another company_id (N1)",
    ]
    assert [(c.file, c.line, c.key, c.new_id, c.current_id) for c in real.conflict_list] == [
        (str(second), 4, "K4", "C4", "OTHER")
    ]
    assert (_figures(planned), planned.rejected_list, planned.conflict_list) == (
        _figures(real),
        real.rejected_list,
        real.conflict_list,
    )
    stored = {(r[0], r[2]): r[1] for r in _stored(conn)}
    # The first row of each key is the one written.
    assert stored[("K1", "account")] == "C1"
    assert stored[("K2", "account")] == "C2"
    assert stored[("上海某某公司", "name")] == "N1"
    assert stored[("K4", "account")] == ("C4" if mode == "upsert" else "OTHER")


def test_a_repeat_keeps_the_first_rows_priority_and_source(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    path = _write(tmp_path / "a.csv", ["P1,C1,plan,2,first", "P1,C1,plan,3,second"])
    assert _figures(_load(db, [path])) == (2, 1, 0, 1, 0, 0, 0)
    assert _stored(conn) == {("P1", "C1", "plan", 2, "first")}


def test_a_large_file_with_repeats_adds_up(
    db: Database, conn: psycopg.Connection, tmp_path: Path
) -> None:
    rows = []
    for i in range(200_000):
        if i % 10 == 9:
            rows.append(f"K{i - 5:06d},C{i - 5},account,,")  # repeat of the row 5 lines up
        elif i % 1000 == 999 - 1:
            rows.append(f"K{i - 7:06d},OTHER,account,,")  # contradicts the row 7 lines up
        else:
            rows.append(f"K{i:06d},C{i},account,,")
    rows[123_456] = "K,,account,,"
    report = _load(db, [_write(tmp_path / "big.csv", rows)])
    repeats, contradictions = 20_000, 200
    assert _figures(report) == (
        200_000,
        200_000 - repeats - contradictions - 1,
        0,
        repeats,
        0,
        contradictions + 1,
        0,
    )
    lines = [r.number for r in report.rejected_list]
    assert lines == sorted(lines) and 123_458 in lines
    assert report.rejected_list[0].reason == (
        f"key also on {tmp_path / 'big.csv'}:993 with another company_id (C991)"
    )
    stored = conn.execute("SELECT count(*) FROM enterprise.company_mapping").fetchone()
    assert stored == (report.inserted,)


def _merge_plan(conn: psycopg.Connection, tmp_path: Path, keys: int) -> str:
    """EXPLAIN of the merge after staging `keys` account rows, half of them stored."""
    conn.execute(
        "INSERT INTO enterprise.company_mapping (alias_name, canonical_id, match_type, priority) "
        "SELECT 'K' || g, 'C' || g, 'account', 2 FROM generate_series(1, 100000, 2) AS g"
    )
    conn.execute("ANALYZE enterprise.company_mapping")
    path = _write(tmp_path / "m.csv", [f"K{i},C{i},account,," for i in range(keys, 0, -1)])
    files = collect([path], tmp_path)
    entries = iter_rows(files, yaml_problems_fatal=True)
    rows = ((n, r) for n, r in entries if isinstance(r, MappingRow))
    with conn.transaction(force_rollback=True):
        repository.prepare_load(conn)
        repository.create_staging(conn)
        assert repository.stage(conn, rows, "internal") == keys
        assert repository.keep_first_rows(conn) == keys
        plan = conn.execute("EXPLAIN (FORMAT JSON) " + queries("mappings")["insert_new"])
        return json.dumps(plan.fetchone())


@pytest.mark.parametrize("keys", [50_000, 20])
def test_the_merge_sorts_the_keys_and_anti_joins_the_stored_rows(
    conn: psycopg.Connection, tmp_path: Path, keys: int
) -> None:
    text = _merge_plan(conn, tmp_path, keys)
    assert '"Node Type": "Sort"' in text
    assert '"s.alias_name COLLATE \\"C\\"", "s.match_type"' in text  # the index order
    assert '"Join Type": "Anti"' in text
    # A large input is one hash join; a small one probes the unique index.
    assert ('"Node Type": "Hash Join"' in text) == (keys > 1000)
    assert '"Conflict Resolution"' not in text  # no speculative insertion per row
