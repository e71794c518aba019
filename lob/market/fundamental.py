"""An exogenous fundamental price per instrument, read by traders with noise.

Model
-----
The fundamental ``X`` (quote currency) follows an Ornstein-Uhlenbeck process in
price units with compound-Poisson multiplicative jumps and scripted shocks::

    dX = kappa (m - X) dt + sigma dW          between jumps

``kappa`` is ``mean_reversion`` (1/s), ``sigma`` is ``volatility`` (quote
currency per sqrt(s)), ``m`` the long-run mean (quote currency). This is the
shape of ABIDES' sparse mean-reverting oracle (Byrd, Hybinette and Balch 2019,
"ABIDES: Towards High-Fidelity Market Simulation for AI Research"): a
mean-reverting fundamental with Poisson "megashocks"; the multiplicative
Poisson jumps are those of Merton's jump-diffusion (Merton 1976, "Option
pricing when underlying stock returns are discontinuous").

The path is simulated on a grid ``t_k = k * step_ns`` with ``dt = step_ns / 1e9``
seconds, using the exact discretisation of the OU transition (Gillespie 1996,
"Exact numerical simulation of the Ornstein-Uhlenbeck process and its
integral", Phys. Rev. E 54, 2084)::

    X_{k+1} = m + (X_k - m) a + s z_k,   a = exp(-kappa dt),
    s = sigma sqrt((1 - a^2) / (2 kappa))     (s = sigma sqrt(dt) when kappa = 0)

with ``z_k ~ N(0, 1)``; for kappa > 0 the stationary law is ``N(m, sigma^2 / (2 kappa))`` and
the lag-1 autocorrelation on the grid is ``a``. Then, in this order, within the
same step:

* jumps: the number of jumps in the step is ``Poisson(jump_rate * dt)``
  (``jump_rate`` in 1/s); each multiplies ``X_{k+1}`` by ``1 + J`` with
  ``J ~ Normal(jump_mean, jump_std)`` clipped below at -0.95 (so one jump removes
  at most 95% of the price);
* shocks: every :class:`Shock` whose ``at_ns`` has the grid time ``t_{k+1}`` as
  its first grid time ``>= at_ns`` multiplies ``X_{k+1}`` by ``1 + jump``, and,
  if permanent, the mean ``m`` by the same factor from then on (a shock at
  ``at_ns == 0`` acts on ``X_0``; one after the last grid time has no effect);
* floor: ``X_{k+1}`` is raised to ``1e-6`` times the initial mean if it is below,
  so the price never reaches zero or goes negative. A non-linearity the pure OU
  process does not have; it only binds when volatility or jumps are extreme.

Random draws, all from the generator given to the constructor, in this order and
in whole blocks (so the path is a deterministic function of its state):
``z = rng.standard_normal(n_steps)`` if ``volatility > 0``; then, if
``jump_rate > 0``, ``counts = rng.poisson(jump_rate * dt, n_steps)`` and
``J = rng.normal(jump_mean, jump_std, counts.sum())``, the jumps of step 0
first. With neither, nothing is drawn.

Supplied diffusion draws: the constructor's ``normals`` argument, if given,
is used as ``z`` (exactly ``n_steps`` finite standard-normal values, one per
grid step) and ``rng`` is then not asked for them; jumps are still drawn from
``rng`` as above. This is how several instruments get correlated diffusions
(see :mod:`lob.market.correlation`): their ``z`` rows come from one correlated
draw while jumps and scripted shocks stay per process. Without ``normals`` the
draws are exactly those listed above.

Computation: a step is the affine map ``X -> A_k X + B_k`` with
``A_k = c_k a`` and ``B_k = c_k (m_k (1 - a) + s z_k)``, ``c_k`` the product of
the step's jump and shock factors. The composition of affine maps is
associative, so the whole path is an inclusive scan, done with the
Hillis-Steele doubling scheme (Hillis and Steele 1986, "Data parallel
algorithms", CACM 29(12); first-order linear recurrences as scans: Blelloch
1990, "Prefix sums and their applications", CMU-CS-90-190) in
``log2`` of the chunk length numpy passes. Only non-negative powers of ``a``
appear (no ``a^-k`` that could overflow), and the result agrees with the
step-by-step recursion to rounding. The floor is handled by
restarting the scan at the first grid point that falls below it.

Lookups: :meth:`FundamentalProcess.value` is piecewise constant, the value at
grid index ``t // step_ns``, clamped to the last grid point beyond the end; it
is O(1) and reads a Python list.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FundamentalProcess", "Shock"]

NS_PER_S = 1_000_000_000
FLOOR_FRACTION = 1e-6  # the price floor as a fraction of the initial mean
MIN_JUMP = -0.95  # random jumps J are clipped below at this (the factor 1 + J >= 0.05)
_MAX_CHUNK = 1 << 14  # scan chunk length: 128 KiB per float64 array, cache-resident
_LOOP_MAX = 32  # chunks this short (after a floor hit) run as a plain Python loop

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _finite(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _non_negative(name: str, value: float) -> float:
    v = _finite(name, value)
    if v < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def _positive(name: str, value: float) -> float:
    v = _finite(name, value)
    if v <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def _integer(name: str, value: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


@dataclass(frozen=True)
class Shock:
    """A scripted jump of the fundamental.

    ``at_ns``: time of the jump (ns from run start, >= 0); it lands on the first
    grid time ``>= at_ns``. ``jump``: the relative change, e.g. -0.05 for -5%;
    must be > -1. ``permanent``: if True the long-run mean moves by the same
    factor ``1 + jump``; if False the price reverts to the old mean.
    """

    at_ns: int
    jump: float
    permanent: bool = True

    def __post_init__(self) -> None:
        if _integer("at_ns", self.at_ns) < 0:
            raise ValueError(f"at_ns must be >= 0, got {self.at_ns!r}")
        if _finite("jump", self.jump) <= -1.0:
            raise ValueError(f"jump must be > -1, got {self.jump!r}")


def _affine_scan(a: FloatArray, b: FloatArray) -> None:
    """In place, turn step maps ``x -> a[i] x + b[i]`` into their prefix compositions.

    Requires ``a[0] == 0`` (element 0 is the constant start value ``b[0]``); on
    return ``b[i]`` is the state after steps ``1..i``. Hillis-Steele doubling:
    after the pass with offset ``d`` element ``i`` is the composition of the
    ``2d`` maps ending at ``i``; the loop stops early once every remaining
    window product has underflowed to exactly 0 (further passes would add 0).
    """
    n = a.shape[0]
    d = 1
    while d < n:
        b[d:] += a[d:] * b[:-d]
        a[d:] = a[d:] * a[:-d]
        d *= 2
        if d < n and not a[d:].any():
            break


def _normals(normals: npt.ArrayLike, n_steps: int) -> FloatArray:
    """``normals`` as a 1-d float64 array of exactly ``n_steps`` finite values, else :class:`ValueError`."""
    try:
        z = np.asarray(normals, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"normals must be an array of {n_steps} finite numbers") from None
    if z.shape != (n_steps,):
        raise ValueError(
            f"normals must hold exactly n_steps = {n_steps} values (one per grid step), got shape {z.shape}"
        )
    if not np.isfinite(z).all():
        raise ValueError("normals must be finite")
    return z


class FundamentalProcess:
    """A fundamental price path on a fixed grid; see the module docstring for the model.

    Arguments (keyword only): ``mean`` the long-run mean and ``start`` the value
    at time 0 (quote currency, > 0); ``mean_reversion`` kappa (1/s, >= 0);
    ``volatility`` sigma (quote currency per sqrt(s), >= 0); ``jump_rate`` (jumps
    per second, >= 0); ``jump_mean`` and ``jump_std`` (>= 0) of the relative jump
    size; ``step_ns`` the grid step (ns, > 0); ``duration_ns`` (ns, >= 0), the grid
    covers ``[0, duration_ns]``; ``shocks`` the scripted :class:`Shock` list;
    ``rng`` the generator all randomness is drawn from (in the documented order);
    ``normals`` optional diffusion draws ``z`` (dimensionless standard normals, one
    per grid step, ``n_steps = ceil(duration_ns / step_ns)`` of them) used instead
    of drawing them from ``rng`` (they are checked, but contribute nothing, when
    ``volatility`` is 0). Invalid arguments raise :class:`ValueError`
    naming the argument.
    """

    __slots__ = ("_duration_ns", "_floor", "_last", "_list", "_n", "_shocks", "_step_ns", "_times", "_values")

    def __init__(
        self,
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
        normals: npt.ArrayLike | None = None,
    ) -> None:
        m0 = _positive("mean", mean)
        x0 = _positive("start", start)
        kappa = _non_negative("mean_reversion", mean_reversion)
        sigma = _non_negative("volatility", volatility)
        rate = _non_negative("jump_rate", jump_rate)
        jmean = _finite("jump_mean", jump_mean)
        jstd = _non_negative("jump_std", jump_std)
        step = _integer("step_ns", step_ns)
        if step <= 0:
            raise ValueError(f"step_ns must be > 0, got {step_ns!r}")
        duration = _integer("duration_ns", duration_ns)
        if duration < 0:
            raise ValueError(f"duration_ns must be >= 0, got {duration_ns!r}")
        for shock in shocks:
            if not isinstance(shock, Shock):
                raise ValueError(f"shocks must hold Shock objects, got {shock!r}")

        self._step_ns = step
        self._duration_ns = duration
        self._shocks = tuple(shocks)
        self._floor = FLOOR_FRACTION * m0
        n_steps = -(-duration // step)  # ceil: the last grid time is >= duration
        z = None if normals is None else _normals(normals, n_steps)
        self._times: IntArray = np.arange(n_steps + 1, dtype=np.int64) * np.int64(step)
        values = self._simulate(m0, x0, kappa, sigma, rate, jmean, jstd, n_steps, shocks, rng, z)
        values.flags.writeable = False
        self._times.flags.writeable = False
        self._values: FloatArray = values
        self._list: list[float] = values.tolist()
        self._n: int = len(self._list)
        self._last: float = self._list[-1]

    def _simulate(
        self,
        m0: float,
        x0: float,
        kappa: float,
        sigma: float,
        rate: float,
        jmean: float,
        jstd: float,
        n_steps: int,
        shocks: Sequence[Shock],
        rng: np.random.Generator,
        z: FloatArray | None,
    ) -> FloatArray:
        dt = self._step_ns / NS_PER_S
        floor = self._floor
        a = math.exp(-kappa * dt)
        one_minus_a = -math.expm1(-kappa * dt)  # 1 - a without cancellation for small kappa dt
        # Exact OU transition variance (Gillespie 1996): sigma^2 (1 - a^2) / (2 kappa), with
        # 1 - a^2 = -expm1(-2 kappa dt); its kappa -> 0 limit is sigma^2 dt.
        s = (
            sigma * math.sqrt(-math.expm1(-2.0 * kappa * dt) / (2.0 * kappa))
            if kappa > 0
            else sigma * math.sqrt(dt)
        )

        # Random draws, in the documented order (diffusion draws replaced by z when supplied).
        draws = None if sigma == 0 else rng.standard_normal(n_steps) if z is None else z
        noise = np.zeros(n_steps) if draws is None else s * draws
        c = np.ones(n_steps)  # multiplicative factor of step k (jumps, then shocks landing on t_{k+1})
        if rate > 0 and n_steps > 0:
            counts = rng.poisson(rate * dt, n_steps)
            jumps = rng.normal(jmean, jstd, int(counts.sum()))
            factors = 1.0 + np.maximum(jumps, MIN_JUMP)
            hit = np.flatnonzero(counts)
            if hit.size:
                starts = np.zeros(hit.size, dtype=np.int64)
                np.cumsum(counts[hit][:-1], out=starts[1:])
                c[hit] = np.multiply.reduceat(factors, starts)

        # Shocks: grid index of the first grid time >= at_ns.
        perm = np.ones(n_steps + 1)  # permanent mean factor by grid index
        for shock in shocks:
            idx = -(-shock.at_ns // self._step_ns)
            if idx > n_steps:
                continue
            f = 1.0 + shock.jump
            if idx == 0:
                x0 *= f
            else:
                c[idx - 1] *= f
            if shock.permanent:
                perm[idx] *= f

        # Mean in force during step k (k -> k+1): initial mean times the permanent factors at indices <= k.
        step_mean = m0 * np.cumprod(perm[:n_steps]) if n_steps else np.zeros(0)
        a_steps = c * a
        b_steps = c * (step_mean * one_minus_a + noise)

        out = np.empty(n_steps + 1)
        x = max(x0, floor)
        out[0] = x
        i0 = 0  # out[i0] is known; steps i0, i0+1, ... remain
        chunk = _MAX_CHUNK
        while i0 < n_steps:
            length = min(chunk, n_steps - i0)
            if length <= _LOOP_MAX:
                for k, (ak, bk) in enumerate(
                    zip(a_steps[i0 : i0 + length].tolist(), b_steps[i0 : i0 + length].tolist(), strict=True),
                    start=i0 + 1,
                ):
                    x = ak * x + bk
                    if x < floor:
                        x = floor
                    out[k] = x
                i0 += length
                chunk = min(2 * chunk, _MAX_CHUNK)
                continue
            sa = np.empty(length + 1)
            sb = np.empty(length + 1)
            sa[0] = 0.0
            sb[0] = x
            sa[1:] = a_steps[i0 : i0 + length]
            sb[1:] = b_steps[i0 : i0 + length]
            _affine_scan(sa, sb)
            low = np.flatnonzero(sb[1:] < floor)
            if low.size == 0:
                out[i0 + 1 : i0 + length + 1] = sb[1:]
                i0 += length
                chunk = min(2 * chunk, _MAX_CHUNK)
            else:
                j = int(low[0]) + 1  # chunk position of the first point below the floor
                out[i0 + 1 : i0 + j] = sb[1:j]
                out[i0 + j] = floor
                i0 += j
                chunk = min(
                    2 * j, _MAX_CHUNK
                )  # floor hits cluster: shrink the next chunk to about this distance
            x = float(out[i0])
        return out

    @classmethod
    def constant(cls, price: float, duration_ns: int) -> FundamentalProcess:
        """A fundamental fixed at ``price`` (quote currency) over ``[0, duration_ns]``; draws nothing."""
        duration = _integer("duration_ns", duration_ns)
        return cls(
            mean=price,
            start=price,
            mean_reversion=0.0,
            volatility=0.0,
            jump_rate=0.0,
            jump_mean=0.0,
            jump_std=0.0,
            step_ns=max(duration, 1),
            duration_ns=duration,
            shocks=(),
            rng=np.random.default_rng(0),
        )

    def value(self, t_ns: float) -> float:
        """The fundamental (quote currency) at ``t_ns`` (ns from run start, >= 0).

        The grid value at index ``t_ns // step_ns``: piecewise constant, and the
        last grid value for any time beyond the grid. O(1): about 70 ns for an
        int time; a float time (SimPy's ``now`` type allows one) also works, at
        about 0.8 us.
        """
        i = t_ns // self._step_ns
        if 0 <= i < self._n:
            try:
                return self._list[i]  # type: ignore[call-overload,no-any-return]  # i is an int for int t_ns
            except TypeError:
                return self._list[int(i)]
        if i < 0:
            raise ValueError(f"t_ns must be >= 0, got {t_ns!r}")
        return self._last

    def observe(self, t_ns: float, noise_std: float, rng: np.random.Generator) -> float:
        """A noisy reading (quote currency): ``value(t_ns) + N(0, noise_std^2)``, floored at :attr:`floor`.

        ``noise_std`` is in quote currency (>= 0); one normal is drawn from
        ``rng`` if it is > 0, none if it is 0.
        """
        v = self.value(t_ns)
        if noise_std > 0.0:
            v += noise_std * float(rng.standard_normal())
        elif noise_std != 0.0:  # negative or NaN
            raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
        return v if v > self._floor else self._floor

    @property
    def times_ns(self) -> IntArray:
        """Grid times (int64 ns): ``0, step_ns, 2*step_ns, ...``, last ``>= duration_ns``. Read-only."""
        return self._times

    @property
    def values(self) -> FloatArray:
        """The path (float64, quote currency) on :attr:`times_ns`. Read-only."""
        return self._values

    @property
    def shocks(self) -> tuple[Shock, ...]:
        """The scripted shocks as given; each acts at the first grid time ``>= at_ns`` (if on the grid)."""
        return self._shocks

    @property
    def step_ns(self) -> int:
        """Grid step (ns)."""
        return self._step_ns

    @property
    def duration_ns(self) -> int:
        """Requested duration (ns); the grid may end up to one step later."""
        return self._duration_ns

    @property
    def floor(self) -> float:
        """The price floor (quote currency): ``1e-6`` times the initial mean."""
        return self._floor
