"""The docs stay true: the links of the README and docs/ lead to a file of this
repository (and to a heading that exists, when they name one), nothing links outside
the repository (the protocol facts users need are in docs/protocols.md), and the counts
docs/policies.md quotes are those of policies/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return [m.group(1) for m in LINK.finditer(text)]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_relative_link_leads_to_a_file_and_heading_of_the_repository(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        missing = not file.is_relative_to(ROOT) or not file.exists()
        if missing or (anchor and file.suffix == ".md" and anchor not in anchors(file)):
            broken.append(target)
    assert broken == []


def test_nothing_points_at_the_notes_outside_the_repository() -> None:
    for page in PAGES:
        assert "shared/protocols.md" not in page.read_text(encoding="utf-8"), page.name


def test_the_protocol_sections_the_code_cites_exist() -> None:
    headings = anchors(ROOT / "docs" / "protocols.md")
    cited = set()
    for path in [*ROOT.glob("receiver/**/*.py"), *ROOT.glob("tests/**/*.py"), *PAGES]:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"protocols\.md\)?,? (?:sections? )?([AB](?:\.\d)?)\b", text):
            cited.add(match.group(1))
    assert {"A.1", "A.6", "B.6"} <= cited
    for section in cited:
        prefix = section.lower().replace(".", "")
        assert any(h.startswith(prefix) or h.startswith(f"system-{prefix}") for h in headings), (
            section
        )


def test_the_counts_of_shipped_policies_in_docs_policies_md_are_current() -> None:
    """docs/policies.md opens with how many files and rules ship; they are counted here."""
    social = {"files": 0, "rules": 0, "enforced": 0, "shadow": 0}
    braincloud = {"files": 0, "rules": 0}
    for path in sorted((ROOT / "policies").glob("*.yaml")):
        if path.name.endswith(".test.yaml"):
            continue
        rules = yaml.safe_load(path.read_text(encoding="utf-8")).get("rules") or []
        if path.name.startswith("braincloud-"):
            braincloud["files"] += 1
            braincloud["rules"] += len(rules)
            continue
        social["files"] += 1
        social["rules"] += len(rules)
        shadow = sum(rule.get("mode") == "shadow" for rule in rules)
        social["shadow"] += shadow
        social["enforced"] += len(rules) - shadow
    text = " ".join((ROOT / "docs" / "policies.md").read_text(encoding="utf-8").split())
    assert (
        f"{social['files']} policy files, one concern each, with {social['rules']} rules "
        f"({social['enforced']} enforced, {social['shadow']} in shadow mode), and "
        f"{_word(braincloud['files'])} files of brainCloud API hook examples with "
        f"{braincloud['rules']} rules"
    ) in text
    files = social["files"] + braincloud["files"]
    rules = social["rules"] + braincloud["rules"]
    assert f"That is {files} files and {rules} rules in all" in text


def _word(number: int) -> str:
    return {2: "two", 3: "three", 4: "four", 5: "five"}.get(number, str(number))
