"""Correlated diffusion draws for the fundamentals of several instruments.

What is correlated
------------------
Each :class:`~lob.market.fundamental.FundamentalProcess` moves by
``s * z_k`` per grid step between jumps, where ``z_k`` is a standard normal
(dimensionless) and ``s`` the step's standard deviation in quote currency.
Given a correlation matrix ``C`` over ``k`` instruments, :func:`correlated_normals`
returns ``k`` rows of ``z``: each row is i.i.d. ``N(0, 1)`` along time, and at
every step ``corr(z_i, z_j) = C[i, j]``. Passing row ``i`` as the ``normals``
argument of instrument ``i``'s process makes the diffusion increments of the
processes correlated by ``C`` (exactly ``C`` between Brownian increments when
the processes share a grid step and have no mean reversion; the OU pull
towards each mean and the price floor are applied per process afterwards).

Only the diffusion is correlated. Compound-Poisson jumps and scripted
:class:`~lob.market.fundamental.Shock` s remain drawn and applied per process:
a scenario that scripts a crash in one asset must see that crash in that asset
alone (a scripted event is idiosyncratic by construction), and the random
jumps model firm-specific news, whose timing would otherwise be forced onto
every correlated name. Common shocks are expressed by scripting a
:class:`~lob.market.fundamental.Shock` in each instrument that should feel it.

Method
------
``C`` must be symmetric positive semi-definite with a unit diagonal; singular
matrices are allowed. Names perfectly correlated (``|rho| == 1``) are first
merged: they share one draw, negated for ``rho == -1``, so their rows are
exactly equal (or exactly opposite). The matrix of the remaining names is
factored ``C = L L^T`` by a Cholesky decomposition in name order that is
valid for semi-definite input without any jitter: a pivot whose remaining
variance is below ``1e-10`` (zero up to rounding) gets a zero column, which is
exact for a positive semi-definite matrix (a zero diagonal of a PSD Schur
complement implies a zero row and column). The rows are then
``z = L g`` with ``g = rng.standard_normal((groups, n_steps))``, evaluated as
explicit sums in a fixed order, so the result is a deterministic function of
the generator state and does not depend on BLAS threading. As ``L`` is lower
triangular, the row of a name depends on the draws of the names before it and
its own only; with ``C`` the identity the rows are the draws ``g`` themselves.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["correlated_normals", "correlation_matrix"]

FloatArray = npt.NDArray[np.float64]

PSD_TOLERANCE = 1e-10  # smallest eigenvalue allowed below 0 (round-off); also the Cholesky zero-pivot level
_SYMMETRY_TOLERANCE = 1e-12  # |C - C^T| and |diag(C) - 1| allowed in correlated_normals (float round-off)


def _check_psd(corr: FloatArray) -> None:
    if corr.shape[0] == 0:
        return
    smallest = float(np.linalg.eigvalsh(corr)[0])
    if smallest < -PSD_TOLERANCE:
        raise ValueError(
            "correlation matrix is not positive semi-definite (smallest eigenvalue "
            f"{smallest:.6g}); these correlations cannot hold together"
        )


def correlation_matrix(names: Sequence[str], pairs: Iterable[tuple[str, str, float]]) -> FloatArray:
    """The ``len(names) x len(names)`` correlation matrix (float64, dimensionless) in the order of ``names``.

    The identity, with ``C[i, j] = C[j, i] = rho`` for each ``(name_i, name_j, rho)``
    in ``pairs``; pairs not given are uncorrelated. Raises :class:`ValueError` on a
    repeated name, a pair naming an unknown name or the same name twice, a pair
    given twice (in either order), a ``rho`` that is not finite or has
    ``|rho| > 1``, and on a matrix that is not positive semi-definite (the
    message gives its smallest eigenvalue): for example ``rho(A, B) = 0.9``,
    ``rho(B, C) = 0.9`` and ``rho(A, C) = -0.9`` cannot hold at once.
    """
    index: dict[str, int] = {}
    for name in names:
        if name in index:
            raise ValueError(f"name {name!r} is listed twice")
        index[name] = len(index)
    corr = np.eye(len(index))
    seen: set[frozenset[str]] = set()
    for pair in pairs:
        try:
            a, b, rho = pair
        except (TypeError, ValueError):
            raise ValueError(f"a pair must be (name, name, rho), got {pair!r}") from None
        for name in (a, b):
            if name not in index:
                raise ValueError(f"pair {pair!r} names {name!r}, which is not one of {list(index)}")
        if a == b:
            raise ValueError(
                f"pair {pair!r} correlates {a!r} with itself (its correlation is 1 by definition)"
            )
        key = frozenset((a, b))
        if key in seen:
            raise ValueError(f"the correlation of {a!r} and {b!r} is given more than once")
        seen.add(key)
        try:
            r = float(rho)
        except (TypeError, ValueError):
            raise ValueError(f"rho of pair {pair!r} must be a number") from None
        if not math.isfinite(r) or abs(r) > 1.0:
            raise ValueError(f"rho of pair {pair!r} must be finite and within [-1, 1], got {rho!r}")
        corr[index[a], index[b]] = corr[index[b], index[a]] = r
    _check_psd(corr)
    return corr


def _aliases(corr: FloatArray) -> tuple[list[int], list[int], list[float]]:
    """Merge names perfectly correlated with an earlier one.

    Returns ``(representatives, group, sign)``: the indices that get their own
    draw (in order), and for every index the position of its representative in
    that list and the sign (+1.0 or -1.0) its row carries.
    """
    reps: list[int] = []
    group: list[int] = []
    sign: list[float] = []
    for j in range(corr.shape[0]):
        for i in range(j):
            if abs(corr[i, j]) == 1.0:
                group.append(group[i])
                sign.append(sign[i] * float(corr[i, j]))
                break
        else:
            group.append(len(reps))
            sign.append(1.0)
            reps.append(j)
    return reps, group, sign


def _semidefinite_cholesky(corr: FloatArray) -> FloatArray:
    """Lower-triangular ``L`` with ``L L^T = corr`` for a PSD ``corr``; zero-variance pivots: zero columns."""
    k = corr.shape[0]
    low = np.zeros((k, k))
    for j in range(k):
        d = float(corr[j, j] - low[j, :j] @ low[j, :j])
        if d <= PSD_TOLERANCE:
            continue  # zero variance left: column j stays 0 (exact for a PSD matrix)
        root = math.sqrt(d)
        low[j, j] = root
        for i in range(j + 1, k):
            low[i, j] = (corr[i, j] - low[i, :j] @ low[j, :j]) / root
    return low


def correlated_normals(rng: np.random.Generator, corr: npt.ArrayLike, n_steps: int) -> FloatArray:
    """``k`` rows of ``n_steps`` standard normals (float64, shape ``(k, n_steps)``) correlated by ``corr``.

    ``corr`` is a ``k x k`` correlation matrix as made by :func:`correlation_matrix`:
    symmetric, unit diagonal (both to ``1e-12``), positive semi-definite, and may be
    singular (``rho = 1`` gives identical rows, ``rho = -1`` opposite ones). Each
    row is i.i.d. ``N(0, 1)`` along its steps; row ``i`` and row ``j`` have
    correlation ``corr[i, j]`` at each step and are independent across steps. Row
    ``i`` is meant as the ``normals`` (diffusion draws) of instrument ``i``'s
    :class:`~lob.market.fundamental.FundamentalProcess`; see the module docstring
    for the method. Draws ``rng.standard_normal((g, n_steps))``, ``g`` the number of
    names left after merging the perfectly correlated ones; nothing else.
    Invalid input raises :class:`ValueError`.
    """
    if isinstance(n_steps, bool):
        raise ValueError(f"n_steps must be an integer, got {n_steps!r}")
    try:
        n = operator.index(n_steps)
    except TypeError:
        raise ValueError(f"n_steps must be an integer, got {n_steps!r}") from None
    if n < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps!r}")
    try:
        c = np.array(corr, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("corr must be a square matrix of numbers") from None
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"corr must be a square matrix, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("corr must be finite")
    if not np.allclose(c, c.T, rtol=0.0, atol=_SYMMETRY_TOLERANCE):
        raise ValueError("corr must be symmetric")
    if not np.allclose(np.diag(c), 1.0, rtol=0.0, atol=_SYMMETRY_TOLERANCE):
        raise ValueError("corr must have a unit diagonal")
    if (np.abs(c) > 1.0 + _SYMMETRY_TOLERANCE).any():
        raise ValueError("corr entries must be within [-1, 1]")
    c = np.tril(c) + np.tril(c, -1).T  # exactly symmetric: the lower triangle is the one used
    np.clip(c, -1.0, 1.0, out=c)
    _check_psd(c)

    reps, group, sign = _aliases(c)
    low = _semidefinite_cholesky(c[np.ix_(reps, reps)])
    draws = rng.standard_normal((len(reps), n))
    base = np.zeros((len(reps), n))
    for i in range(len(reps)):
        row = base[i]
        for j in range(i + 1):  # fixed summation order: deterministic, independent of BLAS
            if low[i, j] != 0.0:
                row += low[i, j] * draws[j]
    out = np.empty((c.shape[0], n))
    for i, (g, s) in enumerate(zip(group, sign, strict=True)):
        out[i] = base[g] if s > 0 else -base[g]
    return out
