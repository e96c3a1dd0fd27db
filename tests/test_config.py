import pytest

from infodyn.config import ConfigError, build_config
from infodyn.experiments.grokking import GrokkingConfig


def test_defaults_match_the_issue() -> None:
    cfg = GrokkingConfig()
    assert cfg.data.modulus == 97 and cfg.data.train_fraction == 0.4
    assert cfg.optim.lr == 1e-3 and cfg.optim.weight_decay == 1.0
    assert (cfg.optim.beta1, cfg.optim.beta2) == (0.9, 0.98)
    assert cfg.monitor.points >= 40


def test_overrides_are_typed_and_nested() -> None:
    cfg = build_config(GrokkingConfig, ["optim.lr=3e-4", "steps=12", "data.operation=sub"])
    assert cfg.optim.lr == 3e-4 and cfg.steps == 12 and cfg.data.operation == "sub"


def test_unknown_key_is_an_error_listing_valid_keys() -> None:
    with pytest.raises(
        ConfigError, match=r"--set optim\.learning_rate: unknown config key.*optim\.lr"
    ):
        build_config(GrokkingConfig, ["optim.learning_rate=1"])


def test_bad_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"steps: .*got 'many'"):
        build_config(GrokkingConfig, ["steps=many"])
    with pytest.raises(ConfigError, match=r"data\.train_fraction"):
        build_config(GrokkingConfig, ["data.train_fraction=1.5"])


def test_malformed_override() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        build_config(GrokkingConfig, ["steps"])


def test_device_is_checked() -> None:
    assert build_config(GrokkingConfig, ["device=cpu"]).device == "cpu"
    with pytest.raises(ConfigError, match="not a torch device"):
        build_config(GrokkingConfig, ["device=gpu7"])
    if not __import__("torch").cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device is available"):
            build_config(GrokkingConfig, ["device=cuda"])
