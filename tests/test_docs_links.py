"""The documentation is self-contained: every page a docstring, doc or test cites is in the repository.

Citations point to papers or to pages inside the repository (``docs/formulas.md#<section>``, ``docs/*.md``),
never to material outside it; every ``docs/<page>.md#anchor`` names a page that exists and a heading of it.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = ("src", "docs", "benchmarks", "tests")
#: Material outside the repository that the project once cited (written split so this file does not match).
OUTSIDE = ("rmt_" + "algorithms", "../" + "shared", "seed " + "talk", "seed " + "notes")
CITATION = re.compile(r"docs/([A-Za-z0-9_]+\.md)(#[a-z0-9-]+)?")


def _texts() -> dict[Path, str]:
    files = [ROOT / "README.md"]
    for tree in TREES:
        files += [p for p in (ROOT / tree).rglob("*") if p.suffix in (".py", ".md", ".toml", ".txt")]
    return {p: p.read_text(encoding="utf-8") for p in files}


def _anchors(page: Path) -> set[str]:
    """GitHub's heading slugs: lower case, punctuation other than '-' dropped, spaces to '-'."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {"#" + re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_nothing_cites_material_outside_the_repository():
    hits = [f"{p.relative_to(ROOT)}: {word}" for p, text in _texts().items() for word in OUTSIDE if word in text]
    assert hits == []


def test_every_cited_page_and_section_exists():
    missing = []
    for path, text in _texts().items():
        for page, anchor in set(CITATION.findall(text)):
            target = ROOT / "docs" / page
            if not target.exists():
                missing.append(f"{path.relative_to(ROOT)}: docs/{page}")
            elif anchor and anchor not in _anchors(target):
                missing.append(f"{path.relative_to(ROOT)}: docs/{page}{anchor}")
    assert missing == []
