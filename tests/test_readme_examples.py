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


def test_the_lightning_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("lightning")
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    import lightning_tiny as tiny

    example = _section_blocks("Use it on your own model")[1]
    assert len(example.strip().splitlines()) <= 15
    monkeypatch.chdir(tmp_path)
    module = tiny.Classifier()
    namespace: dict[str, object] = {
        "my_module": module,
        "train_loader": module.train_dataloader(),
        "val_loader": module.val_dataloader(),
    }
    exec(compile(example, str(README), "exec"), namespace)
    run = tmp_path / "runs" / "my-model"
    assert (run / "report.html").is_file() and (run / "run.sqlite").is_file()
