"""The code blocks of the README and the docs, for the tests that run them as they are written
(an example that drifted from the code fails a test, not a reader)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def python_blocks() -> list[tuple[Path, str]]:
    """Every ```python block, with the page it is on."""
    return [(page, block.split("```")[0]) for page in PAGES for block in page.read_text().split("```python\n")[1:]]


def docs_block(first_line: str) -> str:
    """The one block that starts with ``first_line``."""
    found = [block for _, block in python_blocks() if block.startswith(first_line)]
    assert len(found) == 1, f"one block of the README and the docs starting {first_line!r}, found {len(found)}"
    return found[0]
