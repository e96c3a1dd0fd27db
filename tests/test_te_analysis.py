"""The paper's claims as numbers, on a store whose trends are known by construction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infodyn.experiments.te_plane_summary import claim_verdicts
from infodyn.store import Array, RunStore, Scalar
from infodyn.te_analysis import lag_delays, read_lag, te_claims

EPOCHS = 8
STEPS = [5 * (e + 1) for e in range(EPOCHS)]  # 5 steps per epoch


def _store(path: Path) -> RunStore:
    rng = np.random.default_rng(0)
    store = RunStore(path / "run.sqlite")
    scalars, arrays = [], []
    loss = np.linspace(2.0, 0.1, EPOCHS)
    for e, step in enumerate(STEPS):
        scalars += [
            Scalar(step, "train", "loss", float(loss[e]), mode="live"),
            Scalar(step, "train", "accuracy", float(1 - loss[e] / 2), mode="live"),
        ]
        for k, pair in enumerate(["h2->softmax", "h1->h2"]):  # stored out of forward order
            null = 0.01 + 0.001 * rng.standard_normal(50)
            te = 0.01 + 0.02 * (EPOCHS - 1 - e) / (EPOCHS - 1) * (k + 1)  # falls to the null
            scalars += [
                Scalar(step, "train", "te_mean_lag1", te, pair, "live"),
                Scalar(step, "train", "te_excess_lag1", te - float(null.mean()), pair, "live"),
                Scalar(step, "train", "te_sig_fraction_lag1", 0.5, pair, "live"),
                Scalar(step, "train", "te_mean_lag0", 0.1 + 0.01 * e, pair, "live"),
            ]
            arrays += [Array(step, "train", "te_null_lag1", null, pair, "live")]
            windows = {
                "te_prefix_mean_lag1": np.array([0.03, 0.02, 0.015]),
                "te_prefix_null_mean_lag1": np.array([0.03, 0.02, 0.015]),  # all bias
                "te_prefix_null_std_lag1": np.full(3, 0.001),
                "te_segment_mean_lag1": np.array([0.031, 0.03, 0.03]),
                "te_segment_null_mean_lag1": np.full(3, 0.03),
                "te_segment_null_std_lag1": np.full(3, 0.001),
            }
            arrays += [Array(step, "train", m, v, pair, "live") for m, v in windows.items()]
    store.write(scalars, arrays)
    return store


def test_claims_on_known_trends(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        assert lag_delays(store) == [1, 0]
        lag1 = read_lag(store, 1)
        assert list(lag1.pairs) == ["h1->h2", "h2->softmax"]  # chained in forward order
        assert lag1.steps.tolist() == STEPS
        claims = te_claims(store, lag1)
        assert claims.epochs == EPOCHS
        assert claims.rho_epoch == pytest.approx(-1.0)
        assert claims.rho_loss == pytest.approx(1.0) and claims.rho_accuracy == pytest.approx(-1.0)
        assert claims.z_first is not None and claims.z_first > 10  # far above the null first
        assert claims.z_late is not None and claims.z_late < claims.z_first
        assert claims.sig_fraction == pytest.approx(0.5)
        assert claims.growing_drop == pytest.approx(0.015)
        assert claims.growing_null_drop == pytest.approx(0.015)  # the fall is all bias
        assert claims.segment_excess_drop == pytest.approx(0.001)
        assert claims.segment_first_higher == 1.0
        lag0 = te_claims(store, read_lag(store, 0))
        assert lag0.rho_epoch == pytest.approx(1.0) and lag0.z_first is None  # no null stored
        text = " ".join(claim_verdicts(claims, 1))
        assert "TE decreases with training: yes, staying above its null (z vs null +" in text
        assert "ρ(TE, epoch) = -1.00" in text
        assert "falls by 1.50e-02 bits within an epoch and its null by 1.50e-02 (mostly" in text
        with pytest.raises(LookupError, match="no te_mean_lag2 records"):
            read_lag(store, 2)


@pytest.mark.parametrize(
    ("z_first", "z_late", "word"),
    [
        (40.0, -3.0, "yes, from above its null to it"),
        (0.5, -1.0, "no, at its null throughout"),
        (80.0, 20.0, "yes, staying above its null"),
        (20.0, 80.0, "no, above its null and not falling"),
    ],
)
def test_the_decrease_verdict_is_judged_against_the_null(
    z_first: float, z_late: float, word: str
) -> None:
    from infodyn.te_analysis import TEClaims

    rest = ("rho_loss", "rho_accuracy", "rho_loss_excess", "rho_accuracy_excess", "above_null")
    rest += ("sig_fraction", "growing_drop", "growing_null_drop", "segment_excess_drop")
    claims = TEClaims(
        epochs=10, rho_epoch=-0.1, rho_epoch_excess=-0.2, z_first=z_first, z_late=z_late,
        segment_first_higher=None, **dict.fromkeys(rest),
    )  # fmt: skip
    assert f"TE decreases with training: {word} (" in claim_verdicts(claims, 1)[0]
