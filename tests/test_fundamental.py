"""The fundamental price process: exactness against a plain loop, statistics, shocks, lookups, arguments."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lob.market.fundamental import FundamentalProcess, Shock

S = 1_000_000_000  # ns per second
MEAN = 100.0


def reference_path(
    *,
    mean: float,
    start: float,
    mean_reversion: float,
    volatility: float,
    jump_rate: float,
    jump_mean: float,
    jump_std: float,
    step_ns: int,
    duration_ns: int,
    shocks: Sequence[Shock],
    rng: np.random.Generator,
) -> npt.NDArray[np.float64]:
    """The model, one step at a time, drawing the same numbers in the documented order."""
    dt = step_ns / S
    n = -(-duration_ns // step_ns)
    kappa, sigma = mean_reversion, volatility
    a = math.exp(-kappa * dt)
    # sigma sqrt((1 - a^2) / (2 kappa)), with 1 - a^2 = -expm1(-2 kappa dt) computed without cancellation.
    s = sigma * math.sqrt(-math.expm1(-2 * kappa * dt) / (2 * kappa)) if kappa > 0 else sigma * math.sqrt(dt)
    z = rng.standard_normal(n) if sigma > 0 else np.zeros(n)
    if jump_rate > 0 and n > 0:
        counts = rng.poisson(jump_rate * dt, n)
        jumps = rng.normal(jump_mean, jump_std, int(counts.sum()))
    else:
        counts = np.zeros(n, dtype=np.int64)
        jumps = np.zeros(0)
    at_index: dict[int, list[Shock]] = {}
    for shock in shocks:
        at_index.setdefault(-(-shock.at_ns // step_ns), []).append(shock)
    floor = 1e-6 * mean
    m, x = mean, start
    for shock in at_index.get(0, []):
        x *= 1 + shock.jump
        if shock.permanent:
            m *= 1 + shock.jump
    x = max(x, floor)
    path = [x]
    p = 0
    for k in range(n):
        x = m + (x - m) * a + s * float(z[k])
        for _ in range(int(counts[k])):
            x *= 1 + max(float(jumps[p]), -0.95)
            p += 1
        for shock in at_index.get(k + 1, []):
            x *= 1 + shock.jump
            if shock.permanent:
                m *= 1 + shock.jump
        x = max(x, floor)
        path.append(x)
    return np.array(path)


def params(**overrides: Any) -> dict[str, Any]:
    """A typical parameter set (1 s grid, 1 hour), with overrides; no rng."""
    base: dict[str, Any] = dict(
        mean=MEAN,
        start=MEAN,
        mean_reversion=1 / 300,
        volatility=0.05,
        jump_rate=1 / 600,
        jump_mean=-0.01,
        jump_std=0.02,
        step_ns=S,
        duration_ns=3600 * S,
        shocks=(),
    )
    base.update(overrides)
    return base


def build(seed: int = 1, **overrides: Any) -> FundamentalProcess:
    return FundamentalProcess(**params(**overrides), rng=np.random.default_rng(seed))


# --- exactness against the loop -----------------------------------------------------------------------------

REFERENCE_CASES: dict[str, dict[str, Any]] = {
    "typical": {},
    "random walk (kappa 0)": dict(mean_reversion=0.0),
    "slow reversion": dict(mean_reversion=1e-7, step_ns=S // 10),
    "fast reversion": dict(mean_reversion=1.0),
    "reversion within a step (a underflows)": dict(mean_reversion=800.0, volatility=5.0),
    "frequent jumps": dict(jump_rate=0.5, jump_mean=0.0, jump_std=0.05),
    "clipped jumps": dict(jump_rate=0.01, jump_mean=0.2, jump_std=1.0),
    "no noise": dict(volatility=0.0),
    "shocks": dict(
        shocks=(
            Shock(0, 0.1),
            Shock(600 * S + 1, -0.05),
            Shock(1200 * S, 0.2, permanent=False),
            Shock(10**20, -0.5),
        )
    ),
    "several chunks (40000 steps)": dict(duration_ns=40_000 * S, step_ns=S),
    "uneven grid": dict(step_ns=7 * S + 3, duration_ns=3600 * S + 1, shocks=(Shock(1800 * S, -0.05),)),
    "floor binds (volatility of the order of the price)": dict(
        mean=1.0, start=1.0, mean_reversion=1e-4, volatility=0.3, duration_ns=40_000 * S
    ),
    "mean shocked below the floor": dict(
        mean_reversion=0.05, shocks=(Shock(100 * S, -0.9999), Shock(200 * S, -0.9999)), duration_ns=40_000 * S
    ),
}


@pytest.mark.parametrize("overrides", REFERENCE_CASES.values(), ids=REFERENCE_CASES.keys())
def test_fast_path_equals_the_step_by_step_loop(overrides: dict[str, Any]) -> None:
    rng_fast, rng_ref = np.random.default_rng(42), np.random.default_rng(42)
    fast = FundamentalProcess(**params(**overrides), rng=rng_fast)
    ref = reference_path(**params(**overrides), rng=rng_ref)
    assert fast.values.shape == ref.shape
    np.testing.assert_allclose(fast.values, ref, rtol=1e-9, atol=0)
    # Both consumed exactly the same draws.
    assert rng_fast.standard_normal() == rng_ref.standard_normal()


def test_floor_cases_really_hit_the_floor() -> None:
    for name in ("floor binds (volatility of the order of the price)", "mean shocked below the floor"):
        f = build(42, **REFERENCE_CASES[name])
        assert (f.values == f.floor).sum() > 10, name
        assert f.floor == 1e-6 * params(**REFERENCE_CASES[name])["mean"]


def test_same_seed_same_path_other_seed_other_path() -> None:
    a, b, c = build(7), build(7), build(8)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


def test_no_noise_no_jumps_draws_nothing() -> None:
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    FundamentalProcess(**params(volatility=0.0, jump_rate=0.0), rng=rng)
    assert rng.bit_generator.state == before


# --- deterministic shape ------------------------------------------------------------------------------------


def test_grid_covers_the_duration() -> None:
    f = build(step_ns=7 * S, duration_ns=100 * S)
    np.testing.assert_array_equal(f.times_ns, np.arange(16, dtype=np.int64) * 7 * S)
    assert f.times_ns.dtype == np.int64 and f.values.dtype == np.float64
    assert f.values.shape == f.times_ns.shape
    assert build(step_ns=10 * S, duration_ns=100 * S).times_ns[-1] == 100 * S
    assert build(duration_ns=0).times_ns.tolist() == [0]
    assert build(duration_ns=0).values.tolist() == [MEAN]


def test_arrays_are_read_only() -> None:
    f = build()
    with pytest.raises(ValueError):
        f.values[0] = 1.0
    with pytest.raises(ValueError):
        f.times_ns[0] = 1


def test_without_noise_the_path_decays_exactly_to_the_mean() -> None:
    kappa, x0 = 0.01, 120.0
    f = build(start=x0, mean_reversion=kappa, volatility=0.0, jump_rate=0.0, duration_ns=2000 * S)
    t = f.times_ns / S
    np.testing.assert_allclose(f.values, MEAN + (x0 - MEAN) * np.exp(-kappa * t), rtol=1e-12)
    # From below as well, and with a step that is not a whole second.
    g = build(start=80.0, mean_reversion=kappa, volatility=0.0, jump_rate=0.0, step_ns=S // 3)
    np.testing.assert_allclose(g.values, MEAN - 20.0 * np.exp(-kappa * g.times_ns / S), rtol=1e-12)


def test_constant() -> None:
    f = FundamentalProcess.constant(250.5, 3600 * S)
    assert f.times_ns.tolist() == [0, 3600 * S]
    assert f.values.tolist() == [250.5, 250.5]
    assert f.value(0) == f.value(1800 * S) == f.value(10**18) == 250.5
    assert FundamentalProcess.constant(3.0, 0).values.tolist() == [3.0]
    with pytest.raises(ValueError, match="mean"):
        FundamentalProcess.constant(0.0, S)


# --- statistics ---------------------------------------------------------------------------------------------


def test_stationary_std_and_lag1_autocorrelation() -> None:
    kappa, sigma, n = 0.05, 0.5, 400_000
    f = build(11, mean_reversion=kappa, volatility=sigma, jump_rate=0.0, duration_ns=n * S)
    x = f.values[1000:]  # start is the mean; 1000 s is 50 relaxation times
    m = x.size
    a = math.exp(-kappa * 1.0)
    sd = sigma / math.sqrt(2 * kappa)
    # Large-sample standard errors for an AR(1) with coefficient a:
    # sample mean: sd sqrt((1 + a) / (m (1 - a))); sample std: sd sqrt((1 + a^2) / (2 m (1 - a^2)));
    # lag-1 autocorrelation: sqrt((1 - a^2) / m) (Bartlett).
    se_mean = sd * math.sqrt((1 + a) / (m * (1 - a)))
    se_sd = sd * math.sqrt((1 + a * a) / (2 * m * (1 - a * a)))
    se_rho = math.sqrt((1 - a * a) / m)
    assert abs(x.mean() - MEAN) < 5 * se_mean
    assert abs(x.std() - sd) < 5 * se_sd
    d = x - x.mean()
    rho = float(d[1:] @ d[:-1] / (d @ d))
    assert abs(rho - a) < 5 * se_rho
    # The tolerances are tight enough to see a wrong transition: the Euler std sigma sqrt(dt) would give
    # a stationary std of sigma sqrt(dt / (1 - a^2)), about 2.5% off here.
    euler_sd = sigma / math.sqrt(1 - a * a)
    assert abs(euler_sd - sd) > 5 * se_sd


def test_random_walk_increments_have_std_sigma_sqrt_dt() -> None:
    sigma, dt = 0.2, 0.25
    f = build(12, mean_reversion=0.0, volatility=sigma, jump_rate=0.0, step_ns=S // 4, duration_ns=50_000 * S)
    inc = np.diff(f.values)
    expected = sigma * math.sqrt(dt)
    assert abs(inc.std() - expected) < 5 * expected / math.sqrt(2 * inc.size)
    assert abs(inc.mean()) < 5 * expected / math.sqrt(inc.size)


def test_jump_frequency_matches_the_rate() -> None:
    rate, n = 0.02, 100_000
    f = build(
        13,
        mean_reversion=0.0,
        volatility=0.0,
        jump_rate=rate,
        jump_mean=0.0,
        jump_std=0.01,
        duration_ns=n * S,
    )
    ratio = f.values[1:] / f.values[:-1]
    # The scan multiplies factors in another association than a loop would: a step without a jump has a
    # ratio of 1 up to rounding; a jump smaller than 1e-9 has probability ~1e-7 here.
    moved = np.abs(ratio - 1.0) > 1e-9
    jumped = int(moved.sum())
    p = 1 - math.exp(-rate * 1.0)  # P(at least one jump in a 1 s step)
    assert abs(jumped - n * p) < 5 * math.sqrt(n * p * (1 - p))
    # Relative jump size has the given spread (most steps with a jump hold exactly one).
    sizes = ratio[moved] - 1.0
    assert abs(sizes.std() - 0.01) < 0.01 * 5 / math.sqrt(2 * sizes.size) + 0.01 * 2 * p


def test_jumps_are_clipped_at_minus_95_percent() -> None:
    rate, n, seed, kappa = 0.1, 4000, 14, 1.0
    kw = dict(
        mean_reversion=kappa, volatility=0.0, jump_rate=rate, jump_mean=0.3, jump_std=0.8, duration_ns=n * S
    )
    f = build(seed, **kw)
    assert f.values.min() > 1e3 * f.floor  # strong reversion keeps the floor out of the way
    # Without noise a step is deterministic, so its jump factor is the value over the jump-free value.
    a = math.exp(-kappa)
    factor = f.values[1:] / (MEAN + (f.values[:-1] - MEAN) * a)
    # With no volatility the only draws are the jump counts, then the sizes: the counts of each step.
    counts = np.random.default_rng(seed).poisson(rate * 1.0, n)
    np.testing.assert_allclose(factor[counts == 0], 1.0, rtol=1e-12)
    assert (factor >= 0.05**counts * (1 - 1e-12)).all()
    single = factor[counts == 1]
    # P(J < -0.95) = Phi(-1.5625), about 6% of some 360 single jumps: they land exactly on the clip.
    assert single.size > 300
    assert single.min() == pytest.approx(0.05, rel=1e-12)
    assert np.isclose(single, 0.05, rtol=1e-12).sum() >= 5


# --- shocks -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("permanent", [True, False])
@pytest.mark.parametrize(
    ("at_ns", "step_ns", "index"),
    [(1800 * S, S, 1800), (1800 * S + 1, S, 1801), (1800 * S - 1, S, 1800), (1800 * S, 7 * S, 258)],
)
def test_shock_lands_on_the_first_grid_time_at_or_after_it(
    permanent: bool, at_ns: int, step_ns: int, index: int
) -> None:
    kappa, x0 = 0.002, 102.0
    f = build(
        start=x0,
        mean_reversion=kappa,
        volatility=0.0,
        jump_rate=0.0,
        step_ns=step_ns,
        duration_ns=3 * 3600 * S,
        shocks=(Shock(at_ns, -0.05, permanent=permanent),),
    )
    t = f.times_ns
    assert t[index] >= at_ns > t[index - 1]
    a = math.exp(-kappa * step_ns / S)
    k = np.arange(t.size)
    before = MEAN + (x0 - MEAN) * a**k
    np.testing.assert_allclose(f.values[:index], before[:index], rtol=1e-12)
    assert f.values[index] == pytest.approx(0.95 * before[index], rel=1e-12)
    target = 0.95 * MEAN if permanent else MEAN
    after = target + (f.values[index] - target) * a ** (k[index:] - index)
    np.testing.assert_allclose(f.values[index:], after, rtol=1e-12)
    assert f.values[-1] == pytest.approx(target, rel=1e-6)


@pytest.mark.parametrize(("permanent", "target"), [(True, 0.95 * MEAN), (False, MEAN)])
def test_noisy_path_reverts_to_the_shocked_or_old_mean(permanent: bool, target: float) -> None:
    f = build(
        21,
        mean_reversion=0.01,
        volatility=0.05,
        jump_rate=0.0,
        duration_ns=3 * 3600 * S,
        shocks=(Shock(1800 * S, -0.05, permanent=permanent),),
    )
    assert f.values[1800] < 0.96 * MEAN
    last_hour = f.values[-3600:]
    # stationary std 0.35, correlation time 100 s: the hour's average has a standard error near 0.06
    assert abs(last_hour.mean() - target) < 0.5


def test_shock_at_zero_and_after_the_end() -> None:
    f = build(
        volatility=0.0, jump_rate=0.0, duration_ns=100 * S, shocks=(Shock(0, 0.1), Shock(101 * S, -0.5))
    )
    np.testing.assert_allclose(f.values, 110.0, rtol=1e-12)  # permanent: the mean moved to 110 too


# --- lookups ------------------------------------------------------------------------------------------------


def test_value_is_piecewise_constant_and_clamps() -> None:
    step = 250_000_000
    f = build(5, step_ns=step, duration_ns=600 * S + 1)
    v, t = f.values, f.times_ns
    rng = np.random.default_rng(0)
    for tt in rng.integers(0, int(t[-1]) + step, 2000).tolist():
        assert f.value(tt) == v[tt // step]
    for i in range(0, t.size, 97):
        assert f.value(int(t[i])) == f.value(int(t[i]) + step - 1) == v[i]
        assert type(f.value(int(t[i]))) is float
    assert f.value(int(t[-1])) == f.value(int(t[-1]) + 1) == f.value(10**18) == v[-1]
    with pytest.raises(ValueError, match="t_ns"):
        f.value(-1)
    # SimPy's clock may be a float: the same lookup.
    assert f.value(float(t[3])) == f.value(float(t[3]) + 0.5) == v[3]
    assert f.value(float(t[-1]) * 2) == v[-1]


def test_observe_noise_has_the_given_std() -> None:
    f = build(6)
    t, noise, n = 1234 * S, 0.3, 40_000
    rng = np.random.default_rng(9)
    obs = np.array([f.observe(t, noise, rng) for _ in range(n)])
    assert abs(obs.mean() - f.value(t)) < 5 * noise / math.sqrt(n)
    assert abs(obs.std() - noise) < 5 * noise / math.sqrt(2 * n)
    # Noise 0: the value itself, and nothing drawn.
    before = rng.bit_generator.state
    assert f.observe(t, 0.0, rng) == f.value(t)
    assert rng.bit_generator.state == before


def test_observe_is_floored_and_rejects_negative_noise() -> None:
    f = build(6)
    rng = np.random.default_rng(10)
    obs = [f.observe(0, 1e6, rng) for _ in range(1000)]
    assert min(obs) == f.floor > 0
    with pytest.raises(ValueError, match="noise_std"):
        f.observe(0, -0.1, rng)
    with pytest.raises(ValueError, match="noise_std"):
        f.observe(0, math.nan, rng)


# --- arguments ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("step_ns", 0),
        ("step_ns", -S),
        ("step_ns", 0.5),
        ("volatility", -0.1),
        ("volatility", math.nan),
        ("start", 0.0),
        ("start", -1.0),
        ("mean", 0.0),
        ("mean", math.inf),
        ("mean_reversion", -1e-3),
        ("jump_rate", -1.0),
        ("jump_std", -0.01),
        ("jump_mean", math.nan),
        ("duration_ns", -1),
        ("duration_ns", 1.5),
    ],
)
def test_invalid_arguments_raise_naming_the_argument(name: str, bad: Any) -> None:
    with pytest.raises(ValueError, match=name):
        build(**{name: bad})


@pytest.mark.parametrize(
    ("jump", "at_ns", "name"), [(-1.0, 0, "jump"), (-2.0, 0, "jump"), (0.1, -1, "at_ns")]
)
def test_invalid_shock_raises_naming_the_field(jump: float, at_ns: int, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Shock(at_ns, jump)


def test_shocks_must_be_shocks() -> None:
    with pytest.raises(ValueError, match="shocks"):
        build(shocks=[(10, -0.05)])


# --- property -----------------------------------------------------------------------------------------------


@st.composite
def valid_params(draw: st.DrawFn) -> dict[str, Any]:
    mean = draw(st.floats(1e-3, 1e5))
    step = draw(st.integers(1, 10 * S))
    n_steps = draw(st.integers(0, 300))
    duration = max(0, n_steps * step - draw(st.integers(0, step - 1)))
    duration_s = max(duration / S, 1e-9)
    shocks = draw(
        st.lists(
            st.builds(
                Shock,
                at_ns=st.integers(0, duration + 2 * step),
                jump=st.floats(-0.999, 2.0),
                permanent=st.booleans(),
            ),
            max_size=3,
        )
    )
    return dict(
        mean=mean,
        start=mean * draw(st.floats(1e-3, 1e3)),
        mean_reversion=draw(st.one_of(st.just(0.0), st.floats(0.0, 50.0))),
        volatility=mean * draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0))),
        # at most ~30 jumps expected over the path, so the product of jump factors stays a finite float
        jump_rate=draw(st.floats(0.0, 30.0)) / duration_s,
        jump_mean=draw(st.floats(-0.3, 0.3)),
        jump_std=draw(st.floats(0.0, 0.5)),
        step_ns=step,
        duration_ns=duration,
        shocks=shocks,
    )


@settings(max_examples=200, deadline=None)
@given(p=valid_params(), seed=st.integers(0, 2**32 - 1))
def test_path_is_positive_finite_and_matches_the_loop(p: dict[str, Any], seed: int) -> None:
    f = FundamentalProcess(**p, rng=np.random.default_rng(seed))
    v = f.values
    assert np.isfinite(v).all()
    assert (v >= f.floor).all() and f.floor > 0
    assert f.times_ns[-1] >= p["duration_ns"] and (f.times_ns.size == 1 or f.times_ns[-2] < p["duration_ns"])
    ref = reference_path(**p, rng=np.random.default_rng(seed))
    # Near the floor (1e-6 of the mean) the recursion itself subtracts numbers of the path's size, so both
    # ways of computing carry an absolute rounding error of a few ulps of that size, not 1e-9 of the floor.
    np.testing.assert_allclose(v, ref, rtol=1e-9, atol=1e-12 * max(p["mean"], float(ref.max())))
    assert f.value(p["duration_ns"]) == v[p["duration_ns"] // p["step_ns"]]
