"""The documentation holds together: the README stays short, every relative link and anchor in it and in docs/
resolves, every page in docs/ is reachable, and every setting is documented with its default."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from core.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 200

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def prose(text: str) -> str:
    """The text a reader sees as prose: fenced blocks and inline code removed, so examples are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (links reduced to their words, code to its content), lower case,
    punctuation other than - and _ dropped, spaces to hyphens.

    >>> slug("Durability, repairs and faults"), slug("The loop from an orchestrator (Prefect)"), slug("`IA_POLICY` and *you*")
    ('durability-repairs-and-faults', 'the-loop-from-an-orchestrator-prefect', 'ia_policy-and-you')
    """
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor a page offers; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    return [target for _, target in LINK.findall(prose(page.read_text()))]


def broken_links(page: Path) -> list[str]:
    """The relative links of `page` whose file is missing or whose #anchor is not a heading of the page it names."""
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no file {linked.relative_to(ROOT) if linked.is_relative_to(ROOT) else linked}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading with anchor #{anchor} in {linked.relative_to(ROOT)}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert broken_links(page) == []


def test_every_docs_page_is_linked_from_the_readme_or_another_page() -> None:
    assert DOCS.is_dir() and list(DOCS.glob("*.md"))
    linked: set[Path] = set()
    for page in PAGES:
        for target in links(page):
            path = target.partition("#")[0]
            if path and not re.match(r"^[a-z][a-z0-9+.-]*:", path):
                resolved = (page.parent / path).resolve()
                if resolved != page:
                    linked.add(resolved)
    assert [p.name for p in PAGES[1:] if p not in linked] == []


def test_the_readme_reads_in_five_minutes() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/"


def test_every_setting_is_documented_with_its_default() -> None:
    """Each Settings field's environment variable (its `env` metadata, what Settings.from_env reads) has a row in
    docs/settings.md, with its default when it has one."""
    page = (DOCS / "settings.md").read_text()
    missing = [f.metadata["env"] for f in fields(Settings) if f"| `{f.metadata['env']}` | " not in page]
    assert missing == [], f"settings not in docs/settings.md: {missing}"
    wrong = [
        f.metadata["env"]
        for f in fields(Settings)
        if f.metadata["default"] and f"| `{f.metadata['env']}` | `{f.metadata['default']}` |" not in page
    ]
    assert wrong == [], f"settings whose default in docs/settings.md differs from core/config.py: {wrong}"
