"""The offline directory provider."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import DIRECTORY
from wdh_cli.errors import InputFileError
from wdh_cli.providers.directory import DirectoryProvider


def test_matches_official_names_and_aliases_after_normalization() -> None:
    provider = DirectoryProvider(DIRECTORY)
    [hit] = provider.search("上海浦东发展集团有限公司（已转出）")
    assert (hit.company_id, hit.confidence) == ("614810477", 1.0)
    assert hit.unified_credit_code == "91310000132200821H"
    assert provider.search("浦发集团")[0].company_id == "614810477"
    assert provider.search("上海浦东发展(集团)有限公司")[0].company_id == "614810477"
    assert provider.search("无此公司") == []
    assert provider.calls == 4


def test_a_bad_directory_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,name\n1,x\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=rf"{path}:1: expected the header"):
        DirectoryProvider(path)
    path.write_text(
        "company_id,official_name,unified_credit_code,aliases\n1,甲,,\n,乙,,\n", encoding="utf-8"
    )
    with pytest.raises(InputFileError, match=rf"{path}:3: company_id and official_name"):
        DirectoryProvider(path)


@pytest.mark.parametrize(
    ("company_id", "problem"),
    [
        ("TEMP_000001", "TEMP_000001 is a temporary ID, not a company"),
        ("IN" + "A" * 16, "is a temporary ID, not a company"),
        ("9" * 130, "longer than 100 characters (130)"),
        ("6148 10477", "U+0020"),
        ("614810477\u200b", "U+200B"),
    ],
)
def test_a_company_that_could_not_be_stored_names_the_file_and_line(
    tmp_path: Path, company_id: str, problem: str
) -> None:
    """The company-ID rule holds for the directory too: it never answers with such an ID."""
    path = tmp_path / "d.csv"
    path.write_text(
        "company_id,official_name,unified_credit_code,aliases\n"
        f"614810477,甲,,\n{company_id},乙,,\n",
        encoding="utf-8",
    )
    with pytest.raises(InputFileError, match=rf"{path}:3: .*{re.escape(problem)}"):
        DirectoryProvider(path)


def test_names_and_codes_that_could_not_be_stored_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    for row, problem in (
        (f"1,{'长' * 256},,", "the official name is longer than 255 characters (256)"),
        (f"1,甲,{'9' * 51},", "the credit code is longer than 50 characters (51)"),
        ("1,甲\x1b乙,,", "the official name holds an invisible or control character (U+001B)"),
    ):
        path.write_text(
            f"company_id,official_name,unified_credit_code,aliases\n{row}\n", encoding="utf-8"
        )
        with pytest.raises(InputFileError, match=rf"{path}:2: {re.escape(problem)}"):
            DirectoryProvider(path)
