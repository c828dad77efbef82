"""Reading mapping files: YAML overrides as text, CSV rows judged one by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from wdh_cli.errors import InputFileError
from wdh_cli.mappings.csv_file import read_csv
from wdh_cli.mappings.rows import MappingRow
from wdh_cli.mappings.yaml_file import match_type_of, read_overrides
from wdh_cli.reports import Rejected


def _yaml(tmp_path: Path, text: str, level: str = "plan") -> Path:
    path = tmp_path / f"company_id_overrides_{level}.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_scalar_is_text(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "012345: 614810477\n0x1F: 0o17\n1e3: yes\n12.50: 007\n")
    result = read_overrides(path, "plan")
    assert result.problems == []
    assert [(r.alias_name, r.canonical_id) for r in result.rows] == [
        ("012345", "614810477"),
        ("0x1F", "0o17"),
        ("1e3", "yes"),
        ("12.50", "007"),
    ]
    assert {r.priority for r in result.rows} == {1}
    assert result.rows[1].line == 2


def test_name_keys_are_normalized_and_agreeing_spellings_merge(tmp_path: Path) -> None:
    text = "上海 某某 有限公司: C1\n上海某某有限公司（已转出）: C1\nＡＢＣ科技: C2\n"
    result = read_overrides(_yaml(tmp_path, text, "name"), "name")
    assert result.problems == []
    assert [(r.alias_name, r.canonical_id) for r in result.rows] == [
        ("上海某某有限公司", "C1"),
        ("abc科技", "C2"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("- a\n- b\n", 1, "not a map"),
        ("P1: C1\nP2:\n  nested: C2\n", 3, "nested value"),
        ("P1: C1\nP2: C2\nP1: C3\n", 3, "duplicate key (first on line 1)"),
        ("P1: C1\nP2:\n", 2, "empty value"),
        ("P1: C1\nP2: ~\n", 2, "empty value"),
        ('P1: C1\n"": C2\n', 2, "empty key"),
        ("P1: C1\nP2: [C2\n", 3, "invalid YAML"),
        ("P1: C1\n  bad indent: C2\n", 2, "invalid YAML"),
        ("P1: " + "9" * 101 + "\n", 1, "canonical_id: the company ID is longer than 100"),
        ("P1: C1\nP2: TEMP_000001\n", 2, "canonical_id: TEMP_000001 is a temporary ID"),
        ('P1: "C\\t1"\n', 1, "canonical_id: the company ID holds an invisible or control"),
    ],
)
def test_bad_yaml_names_the_line(tmp_path: Path, text: str, line: int, reason: str) -> None:
    path = _yaml(tmp_path, text)
    result = read_overrides(path, "plan")
    assert len(result.problems) == 1, result.problems
    problem = result.problems[0]
    assert (problem.file, problem.number) == (str(path), line)
    assert reason in problem.reason


def test_contradicting_spellings_of_one_name(tmp_path: Path) -> None:
    result = read_overrides(_yaml(tmp_path, "上海某某: C1\n上海 某某: C2\n", "name"), "name")
    [problem] = result.problems
    assert problem.number == 2 and "same name as line 1" in problem.reason


def test_quoted_null_is_text_and_empty_file_is_empty(tmp_path: Path) -> None:
    assert [
        r.canonical_id for r in read_overrides(_yaml(tmp_path, 'P: "null"\n'), "plan").rows
    ] == ["null"]
    empty = read_overrides(_yaml(tmp_path, "# nothing yet\n", "account"), "account")
    assert empty.rows == [] and empty.problems == []


def test_match_type_from_file_name() -> None:
    assert match_type_of(Path("company_id_overrides_account_name.yml")) == "account_name"
    assert match_type_of(Path("company_id_overrides_plan.yaml")) == "plan"
    assert match_type_of(Path("company_id_overrides_nope.yml")) is None
    assert match_type_of(Path("overrides.yml")) is None


def _csv(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "m.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_rows_and_rejections_with_lines(tmp_path: Path) -> None:
    text = (
        "alias_name,canonical_id,match_type,priority,source\n"
        "P001,614810477,plan,,\n"
        "\n"
        "A01,C9,account,2,crm\n"
        "X,1,nope,,\n"
        ",C1,plan,,\n"
        "P2,,plan,,\n"
        "P3,C3,plan\n"
        "P4,C4,plan,9,\n"
        "P5,C5,plan,1,extra,field\n"
        '"multi\nline",C6,account_name,,\n'
        "P7,C7,hardcode,x,\n"
    )
    entries = list(read_csv(_csv(tmp_path, text)))
    rows = [e for e in entries if isinstance(e, MappingRow)]
    rejected = [(e.number, e.reason) for e in entries if isinstance(e, Rejected)]
    assert [(r.alias_name, r.canonical_id, r.priority, r.source, r.line) for r in rows] == [
        ("P001", "614810477", 1, None, 2),
        ("A01", "C9", 2, "crm", 4),
        ("multi\nline", "C6", 5, None, 11),
    ]
    assert [line for line, _ in rejected] == [5, 6, 7, 8, 9, 10, 13]
    reasons = dict(rejected)
    assert "unknown match_type 'nope'" in reasons[5]
    assert reasons[6] == "empty alias_name"
    assert reasons[7] == "empty canonical_id"
    assert reasons[8] == "3 fields, expected 5"
    assert reasons[9] == "priority 9 is outside 1..5"
    assert reasons[10] == "6 fields, expected 5"
    assert "not a whole number" in reasons[13]


@pytest.mark.parametrize(
    "header",
    ["P001,614810477,plan", "alias_name,canonical_id", "alias_name,canonical_id,match_type,extra"],
)
def test_csv_header_problems_name_the_file(tmp_path: Path, header: str) -> None:
    path = _csv(tmp_path, header + "\nP1,C1,plan\n")
    with pytest.raises(InputFileError, match=rf"{path}:1: the header must name"):
        list(read_csv(path))


def test_csv_encodings(tmp_path: Path) -> None:
    text = "alias_name,canonical_id,match_type\n上海某某有限公司,C1,name\n"
    for encoding in ("utf-8", "utf-8-sig", "gb18030"):
        [row] = list(read_csv(_csv(tmp_path, text, encoding)))
        assert isinstance(row, MappingRow) and row.alias_name == "上海某某有限公司"
    with pytest.raises(InputFileError, match="empty file"):
        list(read_csv(_csv(tmp_path, "")))
    path = tmp_path / "binary.csv"
    path.write_bytes(b"alias_name,canonical_id,match_type\n\xff\xfe\x00\x81\x30\n")
    with pytest.raises(InputFileError, match="neither UTF-8 nor GB18030"):
        list(read_csv(path))


def test_over_long_values_and_nul_are_rejected(tmp_path: Path) -> None:
    text = (
        "alias_name,canonical_id,match_type,source\n"
        f"{'P' * 256},C1,plan,\n"
        f"P1,C1,plan,{'s' * 51}\n"
        "P\x002,C1,plan,\n"
        f"{'P' * 255},C1,plan,\n"
    )
    entries = list(read_csv(_csv(tmp_path, text)))
    assert [type(e).__name__ for e in entries] == ["Rejected", "Rejected", "Rejected", "MappingRow"]
    assert "longer than 255" in entries[0].reason  # type: ignore[union-attr]
    assert "source longer than 50" in entries[1].reason  # type: ignore[union-attr]
    assert "NUL" in entries[2].reason  # type: ignore[union-attr]


def test_csv_apostrophes_in_front_of_formula_starts_are_taken_off(tmp_path: Path) -> None:
    """As `wdh mappings export` writes them (a CSV for people); hand-written ones stay."""
    text = (
        "alias_name,canonical_id,match_type,priority,source\n"
        "'=P1,'-7,plan,,'@crm\n"
        "''+P2,C2,plan,'1,\n"
        "'P3,C3,plan,,'crm\n"
        "P4,C4,plan,,\n"
    )
    for encoding in ("utf-8", "gb18030"):
        entries = list(read_csv(_csv(tmp_path, text, encoding)))
        assert [
            (e.alias_name, e.canonical_id, e.source) for e in entries if isinstance(e, MappingRow)
        ] == [("=P1", "-7", "@crm"), ("'P3", "C3", "'crm"), ("P4", "C4", None)]
        assert [(e.number, e.reason) for e in entries if isinstance(e, Rejected)] == [
            (3, 'priority "\'1" is not a whole number from 1 to 5')
        ]
