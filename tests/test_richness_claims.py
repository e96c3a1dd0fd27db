"""The verdicts on Nam et al.'s claims, from settings with known statistics (exact rules)."""

from __future__ import annotations

from typing import Any

from infodyn.compare.stats import value_stats
from infodyn.experiments.richness_claims import Setting, judge


def setting(factors: dict[str, Any], **values: list[float]) -> Setting:
    """A setting whose headline ``final_<name>`` has the given per-seed values."""
    stats = {f"final_{k}": value_stats(v) for k, v in values.items()}
    label = ", ".join(f"{k}={v}" for k, v in factors.items())
    return Setting(label, len(next(iter(values.values()))), factors, stats)


def study(bn_lower: bool = True) -> list[Setting]:
    """BatchNorm × lr: D_LR falls then rises with lr (the paper's shape), BN lower by 0.1."""
    shape = {0.003: 0.5, 0.01: 0.4, 0.03: 0.35, 0.1: 0.45}
    out = []
    for bn in (True, False):
        for lr, base in shape.items():
            shift = -0.1 if bn == bn_lower else 0.0
            d = [base + shift + e for e in (-0.01, 0.0, 0.01)]
            out.append(setting({"batchnorm": bn, "lr": lr, "weight_decay": 0.0}, d_lr=d))
    return out


def test_batchnorm_and_learning_rate_claims_reproduce_on_the_papers_shape() -> None:
    claims = {c.key: c for c in judge(study())}
    assert set(claims) == {"batchnorm", "learning_rate"}
    assert claims["batchnorm"].verdict == "reproduced"
    evidence = claims["batchnorm"].evidence
    expected = "lr=0.003, weight_decay=0: with 0.400 ± 0.010 vs without 0.500 ± 0.010 (Δ -0.100"
    assert f"{expected} = -12.2 s.e.)" in evidence
    assert claims["learning_rate"].verdict == "reproduced"
    assert "richest moderate lr=0.03" in claims["learning_rate"].evidence
    assert "vs the largest lr=0.1 (Δ -0.100 = -12.2 s.e.)" in claims["learning_rate"].evidence


def test_richer_with_every_larger_learning_rate_is_only_partly_a_moderate_optimum() -> None:
    """D_LR falling all the way to the largest lr: richer than the smallest, but not richest in
    the middle — low D_LR is rich, so the largest lr is the richest here."""
    monotone = [
        setting({"batchnorm": True, "lr": lr}, d_lr=[d - 0.01, d, d + 0.01])
        for lr, d in {0.003: 0.5, 0.01: 0.4, 0.03: 0.35, 0.1: 0.3}.items()
    ]
    (claim,) = judge(monotone)
    assert claim.key == "learning_rate" and claim.verdict == "partly"
    assert "vs the largest lr=0.1 (Δ +0.050" in claim.evidence


def test_batchnorm_lazier_is_not_reproduced_and_one_lr_pair_is_partly() -> None:
    claims = {c.key: c for c in judge(study(bn_lower=False))}
    assert claims["batchnorm"].verdict == "not reproduced"
    mixed = study()
    # at lr = 0.1 make BatchNorm lazier: then only some learning rates agree
    mixed = [
        setting(s.factors, d_lr=[0.6, 0.61, 0.62])
        if s.factors == {"batchnorm": True, "lr": 0.1, "weight_decay": 0.0}
        else s
        for s in mixed
    ]
    assert {c.key: c.verdict for c in judge(mixed)}["batchnorm"] == "partly"


def test_differences_within_two_standard_errors_do_not_count() -> None:
    noisy = [
        setting({"batchnorm": True, "lr": 0.01}, d_lr=[0.30, 0.40, 0.50]),
        setting({"batchnorm": False, "lr": 0.01}, d_lr=[0.35, 0.45, 0.55]),
    ]
    (claim,) = judge(noisy)
    assert claim.verdict == "not reproduced" and "-0.6 s.e." in claim.evidence


def test_one_seed_is_judged_on_the_sign_and_says_so() -> None:
    one = [
        setting({"train": "full", "lr": 0.001}, d_lr=[0.01], test_accuracy=[0.1]),
        setting({"train": "last_layer", "lr": 0.001}, d_lr=[0.3], test_accuracy=[0.4]),
    ]
    (claim,) = judge(one)
    assert claim.key == "rich_not_better" and claim.verdict == "reproduced"
    assert "one seed: no spread" in claim.evidence


def test_richer_but_also_better_is_only_partly_the_papers_point() -> None:
    better = [
        setting({"train": "full"}, d_lr=[0.01, 0.02], test_accuracy=[0.9, 0.9]),
        setting({"train": "last_layer"}, d_lr=[0.3, 0.31], test_accuracy=[0.5, 0.5]),
    ]
    assert judge(better)[0].verdict == "partly"


def test_weight_decay_moves_the_baselines_more_than_d_lr() -> None:
    pair = [
        setting({"batchnorm": True, "weight_decay": 0.0}, d_lr=[0.37, 0.38, 0.36],
                s_init=[0.44, 0.43, 0.45], param_norm_ratio=[3.7, 3.6, 3.8]),
        setting({"batchnorm": True, "weight_decay": 0.005}, d_lr=[0.35, 0.36, 0.34],
                s_init=[0.30, 0.29, 0.31], param_norm_ratio=[1.0, 1.01, 0.99]),
    ]  # fmt: skip
    (claim,) = judge(pair)
    assert claim.key == "weight_decay" and claim.verdict == "reproduced"
    assert "D_LR 0.370 ± 0.010 → 0.350 ± 0.010 (-5 %, -2.4 s.e.)" in claim.evidence
    assert "S_init 0.44 ± 0.01 → 0.3 ± 0.01 (-32 %, -17.1 s.e.)" in claim.evidence
    steady = [
        setting({"weight_decay": 0.0}, d_lr=[0.4, 0.41], s_init=[0.5, 0.51]),
        setting({"weight_decay": 0.01}, d_lr=[0.2, 0.21], s_init=[0.45, 0.46]),
    ]
    assert judge(steady)[0].verdict == "not reproduced"  # D_LR moved more than S_init


def test_no_varied_factor_no_claim() -> None:
    assert judge([setting({"lr": 0.01, "batchnorm": True}, d_lr=[0.3])]) == []
