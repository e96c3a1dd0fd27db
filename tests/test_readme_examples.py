"""The README's "Use it on your own model" examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _section_blocks(heading: str) -> list[str]:
    text = README.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.DOTALL)


def test_the_measure_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = _section_blocks("Use it on your own model")
    assert blocks, "the README lost its 'Use it on your own model' example"
    example = blocks[0]
    assert len(example.strip().splitlines()) <= 15
    namespace: dict[str, object] = {}
    exec(compile(example, str(README), "exec"), namespace)
    printed = capsys.readouterr().out
    assert printed.startswith("Measurement(1797 samples in 8 batches)")
    assert 0.0 <= float(namespace["mir"]) <= 1.0  # type: ignore[arg-type]
    assert 0.0 <= float(namespace["d_lr"]) <= 1.0  # type: ignore[arg-type]
    frame = namespace["frame"]
    assert set(frame["family"]) == {"matrix", "te", "collapse", "richness"}  # type: ignore[index]
