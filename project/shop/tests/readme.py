"""The README's code blocks, for the tests that run them as they are written (an example that
drifted from the code fails a test, not a reader)."""

from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"


def python_blocks() -> list[str]:
    return [block.split("```")[0] for block in README.read_text().split("```python\n")[1:]]


def readme_block(first_line: str) -> str:
    """The one block that starts with ``first_line``."""
    found = [block for block in python_blocks() if block.startswith(first_line)]
    assert len(found) == 1, f"one README block starting {first_line!r}, found {len(found)}"
    return found[0]
