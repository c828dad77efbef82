"""The offline directory provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from wdh_cli.errors import InputFileError
from wdh_cli.providers.directory import DirectoryProvider

EXAMPLE = Path(__file__).parents[2] / "examples" / "directory.csv"


def test_matches_official_names_and_aliases_after_normalization() -> None:
    provider = DirectoryProvider(EXAMPLE)
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
