"""Runs configs/adl_waves.yaml once per auto-deleveraging policy and prints the comparison table.

    python examples/compare_adl_policies.py                 # seed 1, every policy, about 16 s
    python examples/compare_adl_policies.py --seed 2 --price mark

Each run is ``lob run configs/adl_waves.yaml --set venue.adl.policy=NAME``
without writing a run directory; the table (markdown) is what the README
shows. Money in quote currency.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import lob
from lob.risk.adl import POLICIES

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "adl_waves.yaml"
COLUMNS = (
    "policy",
    "waves",
    "closes",
    "accounts hit",
    "in profit",
    "deficit",
    "haircut at the close",
    "haircut at wave end",
    "overshoot",
    "largest haircut, share of profit",
    "bad debt",
)


def compare(seed: int, price: str) -> list[dict[str, Any]]:
    """One summary row per policy."""
    rows = []
    for policy in POLICIES:
        result = lob.run(
            CONFIG,
            seed=seed,
            overrides=[f"venue.adl.policy={policy}", f"venue.adl.price={price}"],
            write=False,
        )
        adl, liq = result.summary["adl"], result.summary["liquidations"]
        rows.append({"policy": policy, **adl, "bad_debt_quote": liq["bad_debt_quote"]})
    return rows


def _money(x: float) -> str:
    return f"{x:,.0f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        share = r["largest_haircut_share"]
        in_profit = r["share_in_profit"]
        cells = [
            f"`{r['policy']}`",
            str(r["waves"]),
            f"{r['closes'] + r['clawbacks']:,}",
            str(r["accounts_hit"]),
            "" if in_profit is None else f"{in_profit:.0%}",
            _money(r["deficit_quote"]),
            _money(r["haircut_at_close_quote"]),
            _money(r["haircut_quote"]),
            _money(r["overshoot_quote"]),
            "" if share is None else f"{share:.0%}",
            _money(r["bad_debt_quote"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--price", choices=("bankruptcy", "mark"), default="bankruptcy")
    args = parser.parse_args()
    print(markdown(compare(args.seed, args.price)))


if __name__ == "__main__":
    main()
