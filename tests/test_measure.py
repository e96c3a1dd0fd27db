"""infodyn.measure: every family from one pass, against the functional API on the same features."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

import infodyn
from infodyn import MeasureCaps, RunStore, measure
from infodyn.functional import d_lr, head_rows, layer_transfer_entropy, matrix_information, rnc1
from infodyn.metrics import MatrixInformation, NeuralCollapse
from infodyn.metrics.subset import SampleSubset, subset_positions

NUM_CLASSES = 4


def _data(n: int = 400, d: int = 6, seed: int = 0) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % NUM_CLASSES
    x = torch.randn(n, d, generator=g) + 1.5 * torch.nn.functional.one_hot(y, d)[:, :d].float()
    return x, y


def _mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, 24), nn.ReLU(), nn.Linear(24, 12), nn.ReLU(), nn.Linear(12, NUM_CLASSES)
    ).double()


class CountingLoader:
    """A re-iterable loader that counts how often it is iterated and how many batches it gave."""

    def __init__(self, x: Tensor, y: Tensor, batch_size: int) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size
        self.passes = self.batches = 0

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        self.passes += 1
        for start in range(0, len(self.y), self.batch_size):
            self.batches += 1
            yield self.x[start : start + self.batch_size], self.y[start : start + self.batch_size]


def test_every_family_equals_the_functional_api_on_the_same_features() -> None:
    x, y = _data()
    x = x.double()
    net = _mlp()
    loader = DataLoader(TensorDataset(x, y), batch_size=100)
    caps = MeasureCaps(matrix_batches=2, richness_samples=150, ib_samples=120, seed=3)
    result = measure(net, loader, caps=caps)
    with torch.no_grad():
        features = net[:4](x)
        logits = net(x)
    weight = net[4].weight.detach()
    # matrix: the mean over the first two batches of the per-batch values
    per_batch = [
        matrix_information(features[i : i + 100], head_rows(weight, y[i : i + 100]))
        for i in (0, 100)
    ]
    assert result["mir@4:input"] == pytest.approx(sum(float(r.mir) for r in per_batch) / 2)
    assert result["hdr@4:input"] == pytest.approx(sum(float(r.hdr) for r in per_batch) / 2)
    # collapse: every sample
    assert result["rnc1@4:input"] == pytest.approx(float(rnc1(features, y)), rel=1e-9)
    # richness: on the seeded subset of 150 of 400 positions
    kept = subset_positions(400, 150, seed=3)
    expected = d_lr(features[kept], logits[kept])
    assert result["d_lr@4:input"] == pytest.approx(float(expected), rel=1e-9)
    assert result.caps["richness"] == "D_LR: 150 of 400 samples, seeded random (seed 3)"
    assert result.samples == 400 and result.batches == 4
    assert result.setup["te_layers"] == ["0", "2"] and result.setup["head"] == "4"


def test_te_equals_the_functional_layer_stack_in_one_batch() -> None:
    # One batch: the metric's per-batch threshold is the whole series' threshold.
    x, y = _data(n=300)
    net = _mlp().float()
    result = measure(net, DataLoader(TensorDataset(x, y), batch_size=300), families="te")
    with torch.no_grad():
        h0 = net[0](x)
        h2 = net[2](net[1](h0))
        probs = net(x).softmax(dim=1)
    pairs = layer_transfer_entropy({"0": h0, "2": h2, "softmax": probs})
    assert result.families == ("te",)
    for pair in pairs:
        key = f"{pair.source}->{pair.target}"
        measured = result.tensors[f"te@{key}"].double()
        torch.testing.assert_close(measured, pair.matrix, atol=1e-6, rtol=0)


def test_one_pass_over_the_loader_and_the_model_state_left_as_it_was() -> None:
    x, y = _data()
    net = _mlp().float()
    loader = CountingLoader(x, y, batch_size=50)
    calls = []
    net.register_forward_hook(lambda *_: calls.append(1))
    net.train()
    measure(net, loader)
    assert loader.passes == 1 and loader.batches == 8
    assert len(calls) == 8 + 1  # one traced batch, then the pass
    assert net.training


class ConvNetBNDropout(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(16, NUM_CLASSES)  # registered first: the trace finds it anyway
        self.conv1 = nn.Conv1d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm1d(8)
        self.conv2 = nn.Conv1d(8, 16, 3, padding=1)
        self.drop = nn.Dropout(0.5)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.bn1(self.conv1(x[:, None, :])))
        h = torch.relu(self.conv2(h)).mean(dim=2)
        return self.head(self.drop(h))


def test_cnn_with_batchnorm_and_dropout_is_measured_in_eval_mode() -> None:
    x, y = _data()
    torch.manual_seed(1)
    net = ConvNetBNDropout()
    net.train()
    for _ in range(3):  # give BatchNorm running statistics away from their initial values
        net(x)
    running = net.bn1.running_mean.clone()
    loader = DataLoader(TensorDataset(x, y), batch_size=100)
    first, second = measure(net, loader), measure(net, loader)
    assert first.scalars == second.scalars  # dropout off, BatchNorm frozen: deterministic
    torch.testing.assert_close(net.bn1.running_mean, running, rtol=0, atol=0)
    assert net.training
    assert first.setup["head"] == "head" and first.setup["te_layers"] == ["conv1", "conv2"]
    assert first.tensors["te@conv1->conv2"].shape == (8, 16)
    net.eval()
    with torch.no_grad():
        features = torch.relu(net.conv2(torch.relu(net.bn1(net.conv1(x[:, None, :]))))).mean(2)
    assert first["rnc1@head:input"] == pytest.approx(float(rnc1(features, y)), rel=1e-5)


class TinyTransformerClassifier(nn.Module):
    def __init__(self, vocab: int = 10, d: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.block = nn.TransformerEncoderLayer(d, nhead=2, dim_feedforward=32, batch_first=True)
        self.pool = nn.Linear(d, d)
        self.classifier = nn.Linear(d, NUM_CLASSES)

    def forward(self, tokens: Tensor) -> Tensor:
        h = self.block(self.embed(tokens)).mean(dim=1)
        return self.classifier(torch.tanh(self.pool(h)))


def test_small_transformer_classifier() -> None:
    torch.manual_seed(0)
    tokens = torch.randint(0, 10, (200, 5))
    labels = tokens[:, 0] % NUM_CLASSES
    net = TinyTransformerClassifier()
    result = measure(net, DataLoader(TensorDataset(tokens, labels), batch_size=50))
    # the block's Linear layers act per token ((N, 5, d) outputs): not TE neurons
    assert result.setup["te_layers"] == ["pool"]
    assert result.setup["head"] == "classifier"
    assert "te_mean@pool->softmax" in result.scalars
    assert 0.0 <= result["d_lr@classifier:input"] <= 1.0
    assert all(math.isfinite(v) for v in result.scalars.values())


def test_dict_batches_batch_fn_and_named_layers() -> None:
    x, y = _data()
    net = _mlp().float()
    as_dicts = [{"image": x[i : i + 100], "label": y[i : i + 100]} for i in range(0, 400, 100)]
    from_dicts = measure(net, as_dicts, families=["collapse", "matrix"])
    from_pairs = measure(net, DataLoader(TensorDataset(x, y), batch_size=100), families="matrix")
    assert from_dicts.families == ("matrix", "collapse")
    assert from_dicts["mir@4:input"] == from_pairs["mir@4:input"]
    triples = [(x[i : i + 100], "meta", y[i : i + 100]) for i in range(0, 400, 100)]
    custom = measure(net, triples, families="te", layers=["2"], batch_fn=lambda b: (b[0], b[2]))
    assert custom.setup["te_layers"] == ["2"] and "te_mean@2->softmax" in custom.scalars
    # no DataLoader: its length is unknown, so the subsets are the first samples (and say so)
    assert from_dicts.caps["information_plane"].startswith("information plane: the first 1000")


def test_the_result_as_dict_frame_store_and_repr(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    x, y = _data()
    net = _mlp().float()
    path = tmp_path / "measure.sqlite"
    result = measure(net, DataLoader(TensorDataset(x, y), batch_size=100), store=path)
    as_dict = json.loads(json.dumps(result.to_dict()))
    assert set(as_dict["values"]) == {"matrix", "te", "collapse", "richness"}
    assert as_dict["values"]["collapse"]["rnc1@4:input"] == result["rnc1@4:input"]
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == [
        "family",
        "metric",
        "layer",
        "value",
    ]
    assert len(frame) == len(result.scalars)
    with RunStore(path, readonly=True) as store:
        stored = {(r.metric, r.layer): r.value for r in store.scalars()}
        arrays = {(a.metric, a.layer) for a in store.arrays()}
    assert stored[("rnc1", "4:input")] == result["rnc1@4:input"]
    assert ("te", "0->2") in arrays
    text = repr(result)
    assert text.startswith("Measurement(400 samples in 4 batches)")
    assert "rnc1@4:input" in text and "cap: D_LR: 400 of 400" not in text
    assert "cap: D_LR: all 400 samples" in text


def test_sample_subset_keeps_the_seeded_positions_across_batches() -> None:
    features = torch.randn(10, 3, dtype=torch.float64)
    labels = torch.tensor([0, 1] * 5)
    head = torch.randn(2, 3, dtype=torch.float64)
    wrapped = SampleSubset(NeuralCollapse(num_classes=2, measures=["rnc1"]), 6, total=10, seed=4)
    for start in (0, 3, 7):
        stop = {0: 3, 3: 7, 7: 10}[start]
        wrapped.update(
            features=features[start:stop],
            labels=labels[start:stop],
            head_weight=head,
            head_bias=torch.zeros(2),
        )
    kept = subset_positions(10, 6, seed=4)
    assert float(wrapped.compute()["rnc1"]) == pytest.approx(
        float(rnc1(features[kept], labels[kept], num_classes=2))
    )
    wrapped.reset()
    assert wrapped.seen == 0 and wrapped.kept == 0
    first = SampleSubset(MatrixInformation(mode="pooled"), 4)
    first.update(features=features[:3], head_weight=head, labels=labels[:3])
    first.update(features=features[3:], head_weight=head, labels=labels[3:])
    assert first.kept == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"families": ["entropy"]}, "families: unknown"),
        ({"num_classes": 7}, "num_classes=7 but the head '4' has 4 rows"),
        ({"families": "te", "layers": []}, "'te' needs a layer besides the head"),
        ({"head": "9"}, "head: the model has no module named '9'"),
        ({"device": "cuda"}, "no CUDA device"),
    ],
)
def test_bad_input_is_named(kwargs: dict[str, object], match: str) -> None:
    if kwargs.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    x, y = _data()
    net = _mlp().float()
    with pytest.raises(ValueError, match=match):
        measure(net, DataLoader(TensorDataset(x, y), batch_size=100), **kwargs)  # type: ignore[arg-type]


def test_bad_batches_are_named() -> None:
    net = _mlp().float()
    x, y = _data()
    with pytest.raises(ValueError, match="loader is empty"):
        measure(net, [])
    with pytest.raises(ValueError, match="labels must be a 1-D integer tensor"):
        measure(net, [(x, torch.nn.functional.one_hot(y).float())])
    with pytest.raises(TypeError, match="cannot read \\(inputs, labels\\)"):
        measure(net, [x])
    with pytest.raises(ValueError, match="no labels key"):
        measure(net, [{"x": x, "cls": y}])


def test_measure_is_exported() -> None:
    assert infodyn.measure is measure and "measure" in infodyn.__all__
