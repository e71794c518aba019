"""Correlated fundamentals: the correlation matrix, correlated normal draws, and supplied diffusion draws."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lob.market.correlation import correlated_normals, correlation_matrix
from lob.market.fundamental import FundamentalProcess, Shock

S = 1_000_000_000  # ns per second

# Two configurations with values recorded from the code before the ``normals`` argument existed: the
# process built without it must still give these exact numbers (the pinned run figures depend on it).
OU: dict[str, Any] = dict(
    mean=100.0,
    start=100.0,
    mean_reversion=0.05,
    volatility=0.3,
    jump_rate=0.0,
    jump_mean=0.0,
    jump_std=0.0,
    step_ns=S,
    duration_ns=600 * S,
    shocks=(),
)
OU_SEED = 7
OU_VALUES = {1: 100.00036000921672, 2: 100.0877715075041, 10: 99.51942373763372, 600: 100.13141560967931}
JUMPY: dict[str, Any] = dict(
    mean=50.0,
    start=52.0,
    mean_reversion=0.01,
    volatility=0.2,
    jump_rate=0.05,
    jump_mean=-0.01,
    jump_std=0.03,
    step_ns=S // 10,
    duration_ns=300 * S,
    shocks=(Shock(60 * S, -0.1), Shock(120 * S, 0.05, permanent=False)),
)
JUMPY_SEED = 11
JUMPY_VALUES = {1: 52.000162459327385, 2: 52.08411830093801, 10: 52.02313839457924, 3000: 45.03886357960263}


def corrcoef(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Sample correlation matrix of the rows (``np.corrcoef``, typed as a matrix)."""
    return np.atleast_2d(np.corrcoef(rows))


def brownian(**overrides: Any) -> dict[str, Any]:
    """Arguments of a driftless random walk: no mean reversion, no jumps, no shocks."""
    kwargs: dict[str, Any] = dict(
        mean=100.0,
        start=100.0,
        mean_reversion=0.0,
        volatility=0.5,
        jump_rate=0.0,
        jump_mean=0.0,
        jump_std=0.0,
        step_ns=S,
        duration_ns=50_000 * S,
        shocks=(),
    )
    kwargs.update(overrides)
    return kwargs


# --- correlation_matrix -------------------------------------------------------------------------------------


def test_matrix_is_symmetric_identity_with_the_given_pairs() -> None:
    corr = correlation_matrix(["A", "B", "C"], [("A", "B", 0.3), ("C", "B", -0.2)])
    expected = np.array([[1.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 1.0]])
    assert corr.dtype == np.float64
    np.testing.assert_array_equal(corr, expected)
    np.testing.assert_array_equal(correlation_matrix(["A", "B"], []), np.eye(2))


def test_matrix_allows_perfect_correlation() -> None:
    corr = correlation_matrix(["A", "B", "C"], [("A", "B", 1.0), ("A", "C", 0.4), ("B", "C", 0.4)])
    assert corr[0, 1] == 1.0


@pytest.mark.parametrize(
    ("names", "pairs", "match"),
    [
        (["A", "B"], [("A", "X", 0.5)], "'X'"),
        (["A", "B"], [("X", "B", 0.5)], "'X'"),
        (["A", "B"], [("A", "A", 0.5)], "itself"),
        (["A", "B"], [("A", "B", 0.5), ("A", "B", 0.5)], "more than once"),
        (["A", "B"], [("A", "B", 0.5), ("B", "A", 0.4)], "more than once"),
        (["A", "B"], [("A", "B", 1.01)], r"\[-1, 1\]"),
        (["A", "B"], [("A", "B", -1.5)], r"\[-1, 1\]"),
        (["A", "B"], [("A", "B", math.nan)], r"\[-1, 1\]"),
        (["A", "A"], [], "twice"),
        (["A", "B"], [("A", "B")], "must be"),
    ],
)
def test_matrix_rejects_bad_pairs(names: list[str], pairs: list[Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        correlation_matrix(names, pairs)


def test_matrix_rejects_impossible_correlations_with_the_smallest_eigenvalue() -> None:
    pairs = [("A", "B", 0.9), ("B", "C", 0.9), ("A", "C", -0.9)]
    smallest = np.linalg.eigvalsh(np.array([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]))[0]
    with pytest.raises(ValueError, match="not positive semi-definite") as info:
        correlation_matrix(["A", "B", "C"], pairs)
    assert f"{smallest:.6g}" in str(info.value)
    with pytest.raises(ValueError, match="not positive semi-definite"):  # rho = 1 forces rho(A,C) = rho(B,C)
        correlation_matrix(["A", "B", "C"], [("A", "B", 1.0), ("A", "C", 0.5), ("B", "C", 0.0)])


# --- correlated_normals -------------------------------------------------------------------------------------

N_LARGE = 200_000


@pytest.mark.parametrize("rho", [-0.7, 0.0, 0.5, 0.95])
def test_rows_are_standard_normal_with_the_requested_correlation(rho: float) -> None:
    corr = correlation_matrix(["A", "B"], [("A", "B", rho)])
    z = correlated_normals(np.random.default_rng(20240601), corr, N_LARGE)
    assert z.shape == (2, N_LARGE)
    assert z.dtype == np.float64
    assert abs(corrcoef(z)[0, 1] - rho) < 0.01
    np.testing.assert_allclose(z.mean(axis=1), 0.0, atol=0.01)  # standard error 1/sqrt(2e5) = 0.0022
    np.testing.assert_allclose(z.var(axis=1), 1.0, atol=0.015)  # standard error sqrt(2/2e5) = 0.0032


def test_three_names_match_the_whole_matrix() -> None:
    corr = correlation_matrix(["A", "B", "C"], [("A", "B", 0.6), ("A", "C", -0.3), ("B", "C", 0.2)])
    z = correlated_normals(np.random.default_rng(5), corr, N_LARGE)
    np.testing.assert_allclose(corrcoef(z), corr, atol=0.01)


def test_perfect_correlation_gives_identical_or_opposite_rows() -> None:
    corr = correlation_matrix(
        ["A", "B", "C", "D"],
        [
            ("B", "C", 0.3),
            ("B", "D", 1.0),
            ("C", "D", 0.3),
            ("A", "C", -1.0),
            ("A", "B", -0.3),
            ("A", "D", -0.3),
        ],
    )
    z = correlated_normals(np.random.default_rng(9), corr, 10_000)
    np.testing.assert_array_equal(z[1], z[3])
    np.testing.assert_array_equal(z[0], -z[2])
    assert abs(corrcoef(z[1:3])[0, 1] - 0.3) < 0.03
    assert np.isfinite(z).all()


def test_singular_matrix_without_perfect_pairs() -> None:
    # C is a scaled sum of A and B: rank 2, no |rho| = 1 entry.
    r = 1.0 / math.sqrt(2.0)
    corr = np.array([[1.0, 0.0, r], [0.0, 1.0, r], [r, r, 1.0]])
    z = correlated_normals(np.random.default_rng(3), corr, N_LARGE)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(corrcoef(z), corr, atol=0.01)
    np.testing.assert_allclose(z[2], (z[0] + z[1]) * r, atol=1e-6)


def test_identity_gives_the_generator_draws() -> None:
    z = correlated_normals(np.random.default_rng(4), np.eye(3), 1000)
    np.testing.assert_array_equal(z, np.random.default_rng(4).standard_normal((3, 1000)))


def test_same_seed_same_bytes() -> None:
    corr = correlation_matrix(["A", "B", "C"], [("A", "B", 0.5), ("B", "C", -0.4)])
    first = correlated_normals(np.random.default_rng(77), corr, 5000)
    second = correlated_normals(np.random.default_rng(77), corr, 5000)
    assert first.tobytes() == second.tobytes()
    assert first.tobytes() != correlated_normals(np.random.default_rng(78), corr, 5000).tobytes()


@pytest.mark.parametrize(
    ("corr", "n_steps", "match"),
    [
        (np.eye(2), -1, "n_steps"),
        (np.eye(2), 1.5, "n_steps"),
        (np.eye(2), True, "n_steps"),
        (np.ones((2, 3)), 10, "square"),
        (np.array([[1.0, 0.5], [0.4, 1.0]]), 10, "symmetric"),
        (np.array([[2.0, 0.0], [0.0, 1.0]]), 10, "unit diagonal"),
        (np.array([[1.0, math.nan], [math.nan, 1.0]]), 10, "finite"),
        (np.array([[1.0, 1.5], [1.5, 1.0]]), 10, "within"),
        (np.array([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]), 10, "positive semi-definite"),
    ],
)
def test_correlated_normals_rejects_bad_input(corr: Any, n_steps: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        correlated_normals(np.random.default_rng(0), corr, n_steps)


def test_zero_steps() -> None:
    assert correlated_normals(np.random.default_rng(0), np.eye(2), 0).shape == (2, 0)


@st.composite
def psd_correlations(draw: st.DrawFn) -> np.ndarray:
    """``C = D^-1/2 A A^T D^-1/2`` for a random ``k x r`` ``A`` (``r <= k``, so often singular)."""
    k = draw(st.sampled_from([2, 3]))
    r = draw(st.integers(1, k))
    a = draw(arrays(np.float64, (k, r), elements=st.floats(-10, 10, allow_nan=False, width=64)))
    cov = a @ a.T
    d = np.diag(cov).copy()
    assume((d > 1e-6).all())
    scale = 1.0 / np.sqrt(d)
    corr: np.ndarray = cov * scale[:, None] * scale[None, :]
    return corr


@settings(max_examples=200, deadline=None)
@given(corr=psd_correlations(), seed=st.integers(0, 2**32 - 1))
def test_random_psd_matrices_are_accepted(corr: np.ndarray, seed: int) -> None:
    z = correlated_normals(np.random.default_rng(seed), corr, 4000)
    assert z.shape == (corr.shape[0], 4000)
    assert np.isfinite(z).all()
    # Sampling error of a correlation from 4000 pairs is at most 1/sqrt(4000) = 0.016; 0.1 is 6 of them.
    np.testing.assert_allclose(corrcoef(z), corr, atol=0.1)


# --- FundamentalProcess with supplied normals ---------------------------------------------------------------


@pytest.mark.parametrize("rho", [-0.6, 0.3, 0.9])
def test_fundamental_increments_share_the_correlation(rho: float) -> None:
    corr = correlation_matrix(["A", "B"], [("A", "B", rho)])
    n_steps = 50_000
    z = correlated_normals(np.random.default_rng(2024), corr, n_steps)
    a = FundamentalProcess(**brownian(), rng=np.random.default_rng(1), normals=z[0])
    b = FundamentalProcess(**brownian(start=40.0, mean=40.0), rng=np.random.default_rng(2), normals=z[1])
    da, db = np.diff(a.values), np.diff(b.values)
    assert abs(corrcoef(np.stack([da, db]))[0, 1] - rho) < 0.02
    # Increments are sigma sqrt(dt) z exactly (up to rounding) for a driftless walk far from the floor.
    np.testing.assert_allclose(da, 0.5 * z[0], rtol=0, atol=1e-9)


def test_jumps_stay_independent_per_process() -> None:
    z = correlated_normals(
        np.random.default_rng(8), correlation_matrix(["A", "B"], [("A", "B", 1.0)]), 20_000
    )
    kw = brownian(duration_ns=20_000 * S, jump_rate=0.01, jump_mean=0.0, jump_std=0.05)
    a = FundamentalProcess(**kw, rng=np.random.default_rng(1), normals=z[0])
    b = FundamentalProcess(**kw, rng=np.random.default_rng(2), normals=z[1])
    a_again = FundamentalProcess(**kw, rng=np.random.default_rng(1), normals=z[0])
    np.testing.assert_array_equal(a.values, a_again.values)
    assert not np.array_equal(a.values, b.values)  # same diffusion, different jumps


def test_without_normals_values_are_unchanged() -> None:
    ou = FundamentalProcess(**OU, rng=np.random.default_rng(OU_SEED)).values
    assert {i: float(ou[i]) for i in OU_VALUES} == OU_VALUES
    jumpy = FundamentalProcess(**JUMPY, rng=np.random.default_rng(JUMPY_SEED)).values
    assert {i: float(jumpy[i]) for i in JUMPY_VALUES} == JUMPY_VALUES


@pytest.mark.parametrize("kwargs", [OU, JUMPY], ids=["ou", "jumps-and-shocks"])
def test_supplying_the_generator_draws_reproduces_the_default_bit_for_bit(kwargs: dict[str, Any]) -> None:
    seed = 123
    default = FundamentalProcess(**kwargs, rng=np.random.default_rng(seed))
    n_steps = len(default.values) - 1
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n_steps)  # rng now stands where the default left it after the diffusion draws
    supplied = FundamentalProcess(**kwargs, rng=rng, normals=z)
    assert supplied.values.tobytes() == default.values.tobytes()


def test_normals_replace_only_the_diffusion_draws() -> None:
    rng = np.random.default_rng(0)
    FundamentalProcess(**brownian(duration_ns=100 * S), rng=rng, normals=np.zeros(100))
    assert rng.bit_generator.state == np.random.default_rng(0).bit_generator.state  # nothing drawn
    flat = FundamentalProcess(**brownian(duration_ns=100 * S), rng=rng, normals=np.zeros(100))
    assert (flat.values == 100.0).all()


@pytest.mark.parametrize(
    ("normals", "match"),
    [
        (np.zeros(99), "exactly n_steps = 100"),
        (np.zeros(101), "exactly n_steps = 100"),
        (np.zeros((2, 100)), "exactly n_steps = 100"),
        (np.r_[np.zeros(99), math.inf], "finite"),
        (np.r_[np.zeros(99), math.nan], "finite"),
        (["x"] * 100, "finite numbers"),
    ],
)
def test_wrong_normals_are_rejected(normals: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FundamentalProcess(**brownian(duration_ns=100 * S), rng=np.random.default_rng(0), normals=normals)
    # Also when volatility is 0 and the draws would not be used.
    with pytest.raises(ValueError, match=match):
        FundamentalProcess(
            **brownian(duration_ns=100 * S, volatility=0.0), rng=np.random.default_rng(0), normals=normals
        )
