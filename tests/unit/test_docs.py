"""The documentation holds together: links resolve, and nothing points outside the repository."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower-cased, punctuation dropped, spaces to dashes."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: {target} does not exist"
        assert ROOT in linked.parents or linked == ROOT, f"{page.name}: {target} leaves the repo"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page.name}: no heading for #{anchor}"


def test_docs_have_an_index_listing_every_page() -> None:
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    for page in (ROOT / "docs").glob("*.md"):
        if page.name != "README.md":
            assert f"({page.name})" in index, f"docs/README.md does not list {page.name}"


def test_nothing_points_outside_the_repository() -> None:
    sources = [
        *ROOT.glob("wdh_cli/**/*.py"),
        *ROOT.glob("sql/**/*.sql"),
        *ROOT.glob("mappings/*.yml"),
        *ROOT.glob("examples/*.py"),
        *ROOT.glob("bench/*.py"),
        *PAGES,
    ]
    for source in sources:
        text = source.read_text(encoding="utf-8")
        assert "shared/spec" not in text and "../shared" not in text, source


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_examples_run_as_shown(page: Path) -> None:
    """Every ```python block of `>>>` lines is a doctest: the docs show what the code does."""
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for number, block in enumerate(blocks):
        test = parser.get_doctest(block, {}, f"{page.name}[{number}]", str(page), 0)
        runner.run(test)
    assert runner.failures == 0, f"{page.name}: {runner.failures} example(s) differ"
