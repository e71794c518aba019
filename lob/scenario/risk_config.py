"""Config models of the risk layer: perpetuals' margin tiers, mark price, liquidation, open interest.

Kept beside :mod:`lob.scenario.config`, which uses them in its sections.
Money amounts are quote currency (floats here, converted to exact money units
when the world is built); durations are ns; fractions are fractions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from lob.risk.tiers import PRESETS, MarginTiers
from lob.scenario.durations import Duration
from lob.scenario.fields import ConfigModel, Float, Int, NonNegativeFloat, PositiveDuration, PositiveFloat

Leverage = Annotated[Float, Field(ge=1, le=1000)]
Bracket = tuple[PositiveFloat, PositiveFloat, PositiveFloat]  # (cap notional in quote, MMR, max leverage)


def tiers_from(spec: str | list[Any]) -> MarginTiers:
    """A preset name or a list of ``[cap, mmr, max_leverage]`` brackets as :class:`MarginTiers`."""
    if isinstance(spec, str):
        return PRESETS[spec]
    return MarginTiers.from_brackets([tuple(b) for b in spec])


def _check_tiers(spec: Any) -> Any:
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise PydanticCustomError(
                "tiers_preset",
                f"expected a preset ({', '.join(sorted(PRESETS))}) or a list of brackets, got {spec!r}",
            )
        return spec
    if isinstance(spec, list):
        try:
            tiers_from(spec)
        except (TypeError, ValueError) as e:
            raise PydanticCustomError("tiers", f"{e}") from None
    return spec


MarginTiersSpec = Annotated[str | list[Bracket], BeforeValidator(_check_tiers)]


class MarkConfig(ConfigModel):
    """``venue.mark``: how the mark and index prices of perpetuals are computed (lob.risk.prices)."""

    method: Literal["last", "mid", "index_ma", "median"] = "median"
    interval: PositiveDuration = 1_000_000_000  # between mark updates
    index_latency: Duration = 0  # how old the index is when the venue gets it
    index_interval: PositiveDuration = 1_000_000_000  # how often the index is sampled
    ma_window: Int = Field(default=30, ge=1, le=100_000)  # mark updates in the moving average of the premium


class LiquidationConfig(ConfigModel):
    """``venue.liquidation``: the liquidation engine (lob.risk.engine)."""

    mode: Literal["market", "partial", "backstop"] = "market"
    check_latency: Duration = 100_000_000  # from a mark update to acting on the breaches it shows
    fee_bps: NonNegativeFloat = Field(
        default=50.0, le=10_000
    )  # of the closed notional, to the insurance fund
    partial_fraction: Float = Field(default=0.2, gt=0, le=1)  # of the position closed per step (partial)
    cooldown: Duration = 5_000_000_000  # between partial steps
    backstop_ratio: Float = Field(default=1.5, gt=1, le=100)  # margin ratio past which the vault takes over
    # Which position of a cross-margined account is closed first (lob.risk.engine.ORDERS).
    order: Literal["largest_first", "most_liquid_first", "pro_rata"] = "largest_first"
    liquidity_band: Float = Field(default=0.01, gt=0, lt=1)  # most_liquid_first: depth this near the mark
    vault_unwind_interval: PositiveDuration = 10_000_000_000  # the vault sells down what it took this often
    vault_unwind_fraction: Float = Field(default=0.1, gt=0, le=1)  # of its position each time


class FundingConfig(ConfigModel):
    """``venue.funding``: payments between longs and shorts; ``interval`` 0 (the default) turns them off.

    Rates are per interval (fractions): Binance USD-M's rule, F = P + clamp(I - P, -clamp, clamp),
    capped at +-cap, with P the average premium of the mark over the index.
    """

    interval: Duration = 0
    interest: Float = Field(default=0.0001, ge=-0.01, le=0.01)
    clamp: NonNegativeFloat = Field(default=0.0005, le=0.01)
    cap: NonNegativeFloat = Field(default=0.0075, le=0.1)


class MarginConfig(ConfigModel):
    """A trader group's ``margin``: each trader's collateral (quote) and the leverage its orders may use."""

    collateral: PositiveFloat
    leverage: Leverage = 10.0


class SizeConfig(ConfigModel):
    """Position notional per account, quote currency: log-normal with this median and sigma."""

    median: PositiveFloat
    sigma: NonNegativeFloat = Field(default=1.0, le=5)


class LeverageConfig(ConfigModel):
    """Leverage per account: log-uniform between ``min`` and ``max``."""

    min: Leverage = 1.0
    max: Leverage = 10.0

    @model_validator(mode="after")
    def _ordered(self) -> LeverageConfig:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self


class OpenInterestSide(ConfigModel):
    """One side of an open-interest profile: how many accounts, how big, how leveraged, entered where."""

    count: Int = Field(ge=1, le=10_000_000)
    notional: SizeConfig | None = None  # longs: required; shorts: sizes split the longs' total
    leverage: LeverageConfig = Field(default_factory=LeverageConfig)
    entry_spread: Float = Field(default=0.0, ge=0, lt=0.5)  # entries uniform within +-this fraction of price


class OpenInterestConfig(ConfigModel):
    """Positions open at the start, so a cascade has fuel: passive margined accounts, longs matched by shorts.

    Each long's entry is drawn around the instrument's price; shorts take the
    other side of the longs' lots at the same prices, so positions net to
    zero and no money is created.

    A portfolio (``instruments``: symbol -> weight) gives each long account a
    position in every listed perpetual, its notional split by the weights.
    Under ``cross`` margin one account holds them all on one collateral;
    under ``isolated`` each position is its own account with its share of the
    collateral, so a loss in one cannot touch the others. Shorts are
    per instrument (``shorts.count`` in each).
    """

    name: str = Field(default="oi", min_length=1)
    instrument: str | None = None  # default: the first perpetual
    instruments: dict[str, PositiveFloat] | None = None  # a portfolio: symbol -> share of each account
    margin: Literal["cross", "isolated"] = "cross"  # a portfolio's margin mode
    longs: OpenInterestSide
    shorts: OpenInterestSide

    @field_validator("longs")
    @classmethod
    def _longs_have_sizes(cls, side: OpenInterestSide) -> OpenInterestSide:
        if side.notional is None:
            raise PydanticCustomError("longs_notional", "longs need a 'notional' size distribution")
        return side


class AdlConfig(ConfigModel):
    """``venue.adl``: auto-deleveraging when the insurance fund cannot carry a remainder (lob.risk.adl).

    ``policy`` ``none`` (the default) leaves every remainder to the fund, however far it
    goes below zero. ``fund_drop``/``fund_drop_window`` add a second trigger: ADL also
    fires while the fund's marked value is more than ``fund_drop`` (a fraction) below its
    highest value within the window. Closes less than ``wave_gap`` apart form one wave;
    haircuts are measured at the mark ``horizon`` after each wave ends.
    """

    policy: str = "none"  # none, a built-in policy, or package.module:ClassName (an AdlPolicy subclass)
    price: Literal["bankruptcy", "mark"] = "bankruptcy"  # where the closes happen
    fund_drop: Float | None = Field(default=None, gt=0, le=1)
    fund_drop_window: PositiveDuration = 600_000_000_000
    wave_gap: PositiveDuration = 5_000_000_000
    horizon: Duration = 0

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, policy: str) -> str:
        if policy != "none":
            from lob.risk.adl import PolicyLookupError, resolve_policy

            try:
                resolve_policy(policy)
            except PolicyLookupError as e:
                raise PydanticCustomError("adl_policy", str(e)) from None
        return policy


class BandConfig(ConfigModel):
    """Price bands: orders priced more than ``limit`` (a fraction) from the reference are rejected."""

    limit: Float = Field(gt=0, lt=1)
    reference: Literal["mark", "trades"] = "mark"  # the mark, or the mean trade price over ``window``
    window: PositiveDuration = 60_000_000_000


class LuldConfig(ConfigModel):
    """Limit up / limit down: ``limit_state`` outside the band around the mean trade price halts ``halt``."""

    band: Float = Field(gt=0, lt=1)
    reference_window: PositiveDuration = 300_000_000_000
    limit_state: PositiveDuration = 15_000_000_000
    halt: PositiveDuration = 300_000_000_000


class MarketWideConfig(ConfigModel):
    """Market-wide halts: ``[[drop, halt], ...]``, drops from the day's reference; halt 0: to the end."""

    levels: list[tuple[Annotated[Float, Field(gt=0, lt=1)], Duration]] = Field(min_length=1)

    @field_validator("levels")
    @classmethod
    def _rising(cls, levels: list[tuple[float, int]]) -> list[tuple[float, int]]:
        drops = [drop for drop, _ in levels]
        if drops != sorted(set(drops)):
            raise PydanticCustomError(
                "levels_order", f"expected drops in increasing order, each once, got {drops}"
            )
        return levels


class CircuitBreakersConfig(ConfigModel):
    """``venue.circuit_breakers``: price bands, limit up/limit down, market-wide halts (lob.market.breakers).

    ``during_halt``: client orders are rejected (``reject``) or held and entered at the
    resumption (``queue``); cancels always go through. ``liquidations``: the liquidation
    engine ``wait``s for the resumption, or goes on (``continue``) trading its forced
    orders against the halted book.
    """

    band: BandConfig | None = None
    luld: LuldConfig | None = None
    market_wide: MarketWideConfig | None = None
    during_halt: Literal["reject", "queue"] = "reject"
    liquidations: Literal["wait", "continue"] = "wait"

    @property
    def enabled(self) -> bool:
        """Whether any breaker is on."""
        return self.band is not None or self.luld is not None or self.market_wide is not None
