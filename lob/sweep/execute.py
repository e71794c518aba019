"""One run of a sweep: a base config, its overrides and a seed in; one flat row of results out.

:func:`execute_run` is a plain function of picklable arguments, so a Dask
worker (or anything else) can call it; it never raises for a run that fails
(a config the overrides make invalid, a trader that raises): the row says
``status: failed`` and what the error was.

A row holds ``run_id``, each parameter under its key path, ``seed``,
``status`` (``ok`` / ``failed``), ``error`` (None if ok), ``wall_s`` (load,
build, simulate and summarise; seconds), ``worker`` (``host:pid``) and the
metrics of :data:`METRICS`, None where a run has nothing to measure (no
liquidations: no slippage) or failed. The market metrics are those of the
config's first instrument.
"""

from __future__ import annotations

import gc
import os
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from lob.scenario.loader import ConfigError, parse_config
from lob.scenario.runner import run_config
from lob.sweep.spec import Run
from lob.sweep.spec import run_id as make_run_id

#: The metrics of a row, with their pandas dtype: what each is, from summary.json.
METRICS: dict[str, str] = {
    "peak_drop_pct": "float64",  # largest fall of the mid from its running high, % (crash depth)
    "lowest_trade": "float64",  # lowest trade price, quote per base unit
    "recovered_share": "float64",  # share of that fall regained by the end
    "spread_bps_median": "float64",  # median quoted spread, bps of the mid
    "volume_lots": "Int64",  # traded lots
    "liquidations": "Int64",  # forced orders
    "liquidated_notional_quote": "float64",  # their notional
    "generations": "Int64",  # cascade generations (deepest + 1; 0 without liquidations)
    "slippage_median_bps": "float64",  # forced orders' cost against the arrival mid, median
    "slippage_p95_bps": "float64",  # ... and 95th percentile
    "filled_share": "float64",  # share of liquidated lots that found bids (the fund took the rest)
    "insurance_fund_min_quote": "float64",  # lowest balance of the fund
    "insurance_fund_end_quote": "float64",  # its balance at the end
    "bad_debt_quote": "float64",  # losses the fund could not pay
    "adl_closes": "Int64",  # auto-deleveraging closes and clawbacks (None without ADL)
    "adl_overshoot_quote": "float64",  # haircuts taken beyond the deficit they covered (None without ADL)
    "halts": "Int64",  # circuit-breaker halts (None without breakers)
}


def execute_run(
    base: str | Path,
    overrides: Sequence[str],
    seed: int,
    *,
    params: Mapping[str, Any] | None = None,
    base_text: str | None = None,
    run_id: str | None = None,
    out: Path | None = None,
) -> dict[str, Any]:
    """Run the config at ``base`` with ``overrides`` (``key.path=value``) and ``seed``; the result row.

    ``params`` are the row's parameter columns (default: every override, its
    value read as YAML); ``base_text`` is the config's text if the caller
    has it (as the sweep does, so that what runs is what its id hashed; the
    path still names it and anchors relative paths); ``run_id`` defaults to
    :func:`lob.sweep.spec.run_id`. With ``out`` the run directory is written
    there. Never raises an :class:`Exception`; Ctrl-C (KeyboardInterrupt) is
    let through.
    """
    t0 = time.perf_counter()
    if params is None:
        params = {key: yaml.safe_load(value) for key, _, value in (o.partition("=") for o in overrides)}
    row: dict[str, Any] = {"run_id": run_id, **params, "seed": seed}
    try:
        if base_text is None:
            base_text = Path(base).read_text(encoding="utf-8")
        if run_id is None:
            row["run_id"] = make_run_id(base_text, overrides, seed)
        cfg = parse_config(base_text, str(base), [*overrides, f"run.seed={seed}"])
        result = run_config(cfg, out, write=out is not None, force=True)
        metrics, error = summary_metrics(result.summary), None
        del result
        gc.collect()  # the world dies in cycles: free it before the next run is built
    except Exception as exc:
        metrics, error = dict.fromkeys(METRICS), describe_error(exc)
    row.update(
        status="ok" if error is None else "failed",
        error=error,
        wall_s=round(time.perf_counter() - t0, 4),
        worker=f"{socket.gethostname()}:{os.getpid()}",
        **metrics,
    )
    return row


def failed_row(run: Run, error: str) -> dict[str, Any]:
    """The row of a run that failed outside :func:`execute_run` (its worker died, say)."""
    return {
        "run_id": run.run_id,
        **run.params,
        "seed": run.seed,
        "status": "failed",
        "error": error,
        "wall_s": None,
        "worker": None,
        **dict.fromkeys(METRICS),
    }


def summary_metrics(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`METRICS` of a run's ``summary.json`` (the first instrument's market figures)."""
    market: Mapping[str, Any] = next(iter(summary["instruments"].values()), {})
    liq = summary.get("liquidations") or {}
    adl = summary.get("adl") or {}
    breakers = (summary.get("circuit_breakers") or {}).get("instruments")
    deepest = liq.get("deepest_generation")
    fund_min = liq.get("insurance_fund_min_quote")
    out = {
        "peak_drop_pct": market.get("peak_drop_pct"),
        "lowest_trade": market.get("low"),
        "recovered_share": market.get("recovered_share"),
        "spread_bps_median": market.get("spread_bps_median"),
        "volume_lots": market.get("volume_lots"),
        "liquidations": liq.get("liquidations", 0),
        "liquidated_notional_quote": liq.get("liquidated_notional_quote", 0.0),
        "generations": 0 if deepest is None else deepest + 1,
        "slippage_median_bps": liq.get("slippage_mid_bps_median"),
        "slippage_p95_bps": liq.get("slippage_mid_bps_p95"),
        "filled_share": liq.get("filled_share"),
        "insurance_fund_min_quote": fund_min
        if fund_min is not None
        else liq.get("insurance_fund_start_quote"),
        "insurance_fund_end_quote": liq.get("insurance_fund_end_quote"),
        "bad_debt_quote": liq.get("bad_debt_quote", 0.0),
        "adl_closes": adl["closes"] + adl["clawbacks"] if adl else None,
        "adl_overshoot_quote": adl.get("overshoot_quote"),
        "halts": sum(b["halts"] for b in breakers.values()) if breakers else None,
    }
    assert list(out) == list(METRICS)
    return out


def describe_error(exc: BaseException) -> str:
    """The error of a failed run as one string: a config's problems, else ``Type: message (file:line in f)``.

    The place is the frame that raised (in a trader's code, say); SimPy's
    re-raised copies are followed to the original through ``__cause__``.
    """
    if isinstance(exc, ConfigError):
        return str(exc)
    while isinstance(exc.__cause__, type(exc)) and exc.__cause__.args == exc.args:
        exc = exc.__cause__
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    place = ""
    if tb is not None:
        code = tb.tb_frame.f_code
        place = f" ({code.co_filename}:{tb.tb_lineno} in {code.co_name})"
    return f"{type(exc).__name__}: {exc}{place}"
