import pytest

from infodyn.schedules import AnyOf, at_steps, every, log_spaced


def test_every_fires_on_multiples_from_start() -> None:
    s = every(5, start=3)
    assert [t for t in range(20) if s(t)] == [3, 8, 13, 18]


def test_log_spaced_is_log_uniform_and_includes_ends() -> None:
    s = log_spaced(1, 10_000, 40)
    assert s.steps[0] == 0 and s.steps[1] == 1 and s.steps[-1] == 10_000
    assert len(s.steps) >= 35  # rounding merges a few duplicates at small steps
    assert all(s(t) for t in s.steps)
    assert sum(s(t) for t in range(10_001)) == len(s.steps)
    # log-uniform: about as many points in [10, 100) as in [1000, 10000)
    low = sum(10 <= t < 100 for t in s.steps)
    high = sum(1000 <= t < 10_000 for t in s.steps)
    assert abs(low - high) <= 2


def test_any_of_and_at_steps() -> None:
    s = AnyOf((every(100), at_steps(7, 250)))
    assert [t for t in range(300) if s(t)] == [0, 7, 100, 200, 250]


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: every(0), "n >= 1"),
        (lambda: log_spaced(0, 10, 5), "start >= 1"),
        (lambda: log_spaced(10, 5, 5), "stop >= start"),
        (lambda: log_spaced(1, 10, 1), "points >= 2"),
    ],
)
def test_bad_schedules_are_rejected(factory, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory()
