import torch

from infodyn.data import modular_arithmetic, split_modular
from infodyn.models import ModularMLP


def test_table_is_complete_and_correct() -> None:
    pairs, labels = modular_arithmetic(7, "mul")
    assert pairs.shape == (49, 2)
    assert torch.equal(labels, (pairs[:, 0] * pairs[:, 1]) % 7)
    assert len({tuple(p) for p in pairs.tolist()}) == 49


def test_split_is_seeded_disjoint_and_covering() -> None:
    a = split_modular(13, 0.4, seed=3)
    b = split_modular(13, 0.4, seed=3)
    assert torch.equal(a.x_train, b.x_train)
    rows = {tuple(p) for p in torch.cat([a.x_train, a.x_test]).tolist()}
    assert len(rows) == 169 and a.x_train.shape[0] == round(0.4 * 169)
    assert not torch.equal(split_modular(13, 0.4, seed=4).x_train, a.x_train)


def test_model_shapes() -> None:
    net = ModularMLP(11, 4, 16)
    assert net(torch.randint(0, 11, (5, 2))).shape == (5, 11)
