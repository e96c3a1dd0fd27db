"""The shared boundary checks: one integer validator, one choice validator, one row chunker."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from infodyn._validation import check_choice, check_int, check_positive
from infodyn.functional._chunking import check_chunk_size, row_slices


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (7, 7), (np.int64(3), 3), (np.uint8(2), 2), (torch.tensor(4), 4)],
)
def test_check_int_accepts_integers_and_returns_a_python_int(value: object, expected: int) -> None:
    got = check_int("n", value, minimum=0)
    assert got == expected and type(got) is int


@pytest.mark.parametrize(
    ("value", "seen"),
    [
        (True, r"True \(a bool\)"),
        (np.bool_(False), r"np\.False_ \(a bool\)|False \(a bool\)"),
        (torch.tensor(True), r"tensor\(True\) \(a bool\)"),
        (2.0, r"2\.0"),
        ("3", r"'3'"),
        (None, "None"),
        (torch.tensor([1, 2]), r"tensor\(\[1, 2\]\)"),
    ],
)
def test_check_int_rejects_non_integers_naming_argument_value_and_range(
    value: object, seen: str
) -> None:
    with pytest.raises(ValueError, match=rf"^delay must be an integer >= 0, got {seen}$"):
        check_int("delay", value, minimum=0)


def test_check_int_bounds_are_inclusive_and_named() -> None:
    assert check_int("c", 0, minimum=0, maximum=2) == 0
    assert check_int("c", 2, minimum=0, maximum=2) == 2
    with pytest.raises(ValueError, match=r"^c must be an integer in \[0, 2\], got 3$"):
        check_int("c", 3, minimum=0, maximum=2)
    with pytest.raises(ValueError, match=r"^c must be an integer in \[0, 2\], got -1$"):
        check_int("c", -1, minimum=0, maximum=2)
    with pytest.raises(ValueError, match=r"^c must be an integer <= 2, got 5$"):
        check_int("c", 5, maximum=2)
    assert check_int("seed", -12) == -12  # no bound at all


def test_check_int_none_and_hint() -> None:
    assert check_int("k", None, minimum=1, allow_none=True) is None
    with pytest.raises(ValueError, match=r"^k must be an integer >= 1, got None$"):
        check_int("k", None, minimum=1)
    with pytest.raises(ValueError, match=r"^k must be None or an integer >= 1, got 0; modes$"):
        check_int("k", 0, minimum=1, allow_none=True, hint="modes")


def test_check_choice_matches_by_type_and_value_and_lists_the_choices() -> None:
    assert check_choice("mode", "pooled", ("batch_mean", "pooled")) == "pooled"
    assert check_choice("flag", 1, (1, 2)) == 1
    with pytest.raises(ValueError, match=r"^flag must be one of 1, 2; got True$"):
        check_choice("flag", True, (1, 2))  # True == 1, but a bool is not the choice 1
    with pytest.raises(ValueError, match=r"^mode must be one of 'a', 'b'; got \['a'\]$"):
        check_choice("mode", ["a"], ("a", "b"))  # unhashable values are rejected, not raised on


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, True, "1", None])
def test_check_positive_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="sigma must be a positive number"):
        check_positive("sigma", bad)


def test_check_positive_returns_a_float() -> None:
    assert check_positive("sigma", 3) == 3.0 and type(check_positive("sigma", 3)) is float


@given(n=st.integers(0, 300), chunk=st.one_of(st.none(), st.integers(1, 400)))
def test_row_slices_cover_every_row_once_in_order(n: int, chunk: int | None) -> None:
    slices = row_slices(n, chunk)
    covered = [i for s in slices for i in range(n)[s]]
    assert covered == list(range(n))
    assert all(s.step is None and s.start < s.stop for s in slices)
    step = n if chunk is None else chunk
    assert all(s.stop - s.start == step for s in slices[:-1])
    assert len(slices) == (0 if n == 0 else (1 if chunk is None else math.ceil(n / chunk)))


def test_row_slices_and_chunk_size_validation() -> None:
    assert row_slices(0, None) == []
    assert check_chunk_size(None) is None and check_chunk_size(np.int32(8)) == 8
    with pytest.raises(ValueError, match=r"^chunk_size must be None or an integer >= 1, got 0;"):
        row_slices(5, 0)
    with pytest.raises(ValueError, match=r"^chunk_size must be None or an integer >= 1, got 2\.5"):
        check_chunk_size(2.5)
    with pytest.raises(ValueError, match=r"^n must be an integer >= 0, got -1$"):
        row_slices(-1, 2)
