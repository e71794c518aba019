"""The scenario config: pydantic models of a run's YAML file, validated and resolved.

Units: durations are int ns (written ``500us``, ``2s``, ``1h`` in YAML), prices
and sizes in the instrument's quote and base currency (converted to int ticks
and lots by the market layer), fees in basis points (exposed as integer
millionths). Every model forbids unknown keys.

Validation resolves every default that depends on another field, so the
runner never sees ``None`` where a value is implied: a trader group's ``name``
and ``instrument``, a fundamental for every instrument (constant at its price
when the config gives none) with its ``mean`` and ``start`` filled in. A
trader group's ``type`` is resolved to its class and its ``params`` validated
against the class's ``Params`` model (see :attr:`TraderGroupConfig.params_model`).
Cross-field checks run on the raw input as well as possible even when some
field is invalid, so one pass reports every problem.
"""

from __future__ import annotations

import builtins
import difflib
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from lob.agents.base import Trader
from lob.agents.registry import BUILTIN_TRADERS, TraderLookupError, resolve_trader
from lob.core.codes import MAX_PRICE
from lob.market.instrument import MONEY_PER_QUOTE
from lob.scenario.durations import Duration, DurationError, format_duration, parse_duration
from lob.scenario.fields import (
    Bool,
    Bps,
    ConfigModel,
    Float,
    Int,
    NoneIsEmpty,
    NonNegativeFloat,
    PositiveDuration,
    PositiveFloat,
    Symbol,
    calendar_time,
    empty_if_none,
)
from lob.scenario.replay_config import BackgroundConfig
from lob.scenario.risk_config import (
    AdlConfig,
    CircuitBreakersConfig,
    FundingConfig,
    LiquidationConfig,
    MarginConfig,
    MarginTiersSpec,
    MarkConfig,
    OpenInterestConfig,
)

TABLES = ("events", "trades", "book", "liquidations", "adl")
Table = Literal["events", "trades", "book", "liquidations", "adl"]
DEFAULT_TABLES: tuple[Table, ...] = ("events", "trades", "book", "liquidations", "adl")


# -- sections ----------------------------------------------------------------------------------------------


class RunConfig(ConfigModel):
    """``run``: name, length (ns), root seed and calendar start of the run."""

    name: str = Field(default="run", min_length=1)  # the loader defaults it to the config file's stem
    duration: PositiveDuration
    seed: Int = Field(default=0, ge=0)
    start: Annotated[datetime | None, BeforeValidator(calendar_time)] = None  # calendar time of t = 0

    @field_validator("name")
    @classmethod
    def _name_is_a_directory_name(cls, name: str) -> str:
        # The run writes runs/<name>/, so the name must be one path component.
        if "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
            message = f"expected a name usable as a directory name (no '/' or '\\'), got {name!r}"
            raise PydanticCustomError("run_name", message)
        return name


class InstrumentConfig(ConfigModel):
    """One instrument: symbol, tick and lot size, and reference price (quote currency)."""

    symbol: Symbol
    tick_size: PositiveFloat  # quote currency per tick
    lot_size: PositiveFloat = 1.0  # base units per lot
    price: PositiveFloat  # reference price (quote currency): start of its fundamental and of traders
    kind: Literal["spot", "perpetual"] = "spot"
    margin_tiers: MarginTiersSpec = (
        "binance_btcusdt"  # perpetuals: a preset or [[cap, mmr, max_leverage], ...]
    )
    venue: str | None = None  # with a ``venues`` section: the venue that lists it
    asset: Symbol | None = None  # instruments of one asset (on several venues) share its fundamental
    index: str | None = None  # perpetuals: an ``indexes`` entry their mark uses instead of the fundamental

    @field_validator("price")
    @classmethod
    def _price_fits_the_book(cls, price: float, info: ValidationInfo) -> float:
        tick = info.data.get("tick_size")
        if tick is not None and not 1 <= round(price / tick) <= MAX_PRICE:
            raise PydanticCustomError(
                "price_ticks",
                f"expected a price of 1 to {MAX_PRICE} ticks of {tick!r}, got {price!r} "
                f"({round(price / tick)} ticks)",
            )
        return price

    @model_validator(mode="after")
    def _notional_unit_is_whole_money(self) -> InstrumentConfig:
        exact = Decimal(repr(self.tick_size)) * Decimal(repr(self.lot_size)) * MONEY_PER_QUOTE
        if exact != exact.to_integral_value():
            raise ValueError(
                f"tick_size x lot_size = {exact / MONEY_PER_QUOTE} must be a multiple of 1e-8 (money is kept "
                "in whole units of 1e-8 quote)"
            )
        return self

    @property
    def price_ticks(self) -> int:
        """The reference price in ticks (nearest tick)."""
        return round(self.price / self.tick_size)

    @property
    def asset_name(self) -> str:
        """The asset whose fundamental the instrument follows: ``asset``, or its own symbol."""
        return self.asset or self.symbol


class LatencyConfig(ConfigModel):
    """A latency: ``base`` ns plus a random ``jitter`` (ns; uniform upper bound or exponential mean)."""

    base: Duration = 100_000
    jitter: Duration = 0
    distribution: Literal["uniform", "exponential"] = "uniform"


class FeesConfig(ConfigModel):
    """Fee rates in basis points of notional; negative is a rebate. Whole millionths (0.01 bps)."""

    maker_bps: Bps = 0.0
    taker_bps: Bps = 0.0

    @property
    def maker_ppm(self) -> int:
        """Maker fee in millionths of notional (1 bps = 100 ppm)."""
        return int(Decimal(repr(self.maker_bps)) * 100)

    @property
    def taker_ppm(self) -> int:
        """Taker fee in millionths of notional (1 bps = 100 ppm)."""
        return int(Decimal(repr(self.taker_bps)) * 100)


class VenueConfig(ConfigModel):
    """``venue``: order-entry and market-data latencies (ns), depth of the feed, fees."""

    latency: Annotated[LatencyConfig, NoneIsEmpty] = Field(default_factory=lambda: LatencyConfig())
    return_latency: LatencyConfig | None = None  # venue -> trader; None: the same as ``latency``
    feed_latency: Duration = 200_000
    feed_depth: Int = Field(default=0, ge=0, le=100)  # levels per side in market data; 0 = top of book
    fees: Annotated[FeesConfig, NoneIsEmpty] = Field(default_factory=lambda: FeesConfig())
    mark: Annotated[MarkConfig, NoneIsEmpty] = Field(default_factory=lambda: MarkConfig())
    liquidation: Annotated[LiquidationConfig, NoneIsEmpty] = Field(
        default_factory=lambda: LiquidationConfig()
    )
    insurance_fund: NonNegativeFloat = 0.0  # quote currency at the start
    funding: Annotated[FundingConfig, NoneIsEmpty] = Field(default_factory=lambda: FundingConfig())
    adl: Annotated[AdlConfig, NoneIsEmpty] = Field(default_factory=lambda: AdlConfig())
    circuit_breakers: Annotated[CircuitBreakersConfig, NoneIsEmpty] = Field(
        default_factory=lambda: CircuitBreakersConfig()
    )

    @property
    def effective_return_latency(self) -> LatencyConfig:
        """The latency of the venue's replies: ``return_latency``, or ``latency`` when it is unset."""
        return self.latency if self.return_latency is None else self.return_latency


class IndexConfig(ConfigModel):
    """An index composed from venues' prices: a weighted median, sampled every ``interval``, ``latency`` late.

    ``components`` maps instrument symbols to weights (>= 0, not all 0);
    ``source`` is each component's book mid (its last trade when a side is
    empty) or its last trade. See lob.risk.composite_index.
    """

    components: dict[str, NonNegativeFloat] = Field(min_length=1)
    interval: PositiveDuration = 1_000_000_000
    latency: Duration = 0
    source: Literal["mid", "last"] = "mid"

    @field_validator("components")
    @classmethod
    def _some_weight(cls, components: dict[str, float]) -> dict[str, float]:
        if not any(w > 0 for w in components.values()):
            raise PydanticCustomError("index_weights", "expected at least one component with a weight > 0")
        return components


class CorrelationConfig(ConfigModel):
    """The correlation ``rho`` of two assets' fundamental diffusions (lob.market.correlation)."""

    assets: tuple[Symbol, Symbol]
    rho: Float = Field(ge=-1, le=1)


class ShockConfig(ConfigModel):
    """A scripted jump of the fundamental at time ``at`` (ns from the start) by ``jump`` (a fraction)."""

    at: Duration
    jump: Float = Field(gt=-1)
    permanent: Bool = True  # the mean moves by the same factor

    @field_validator("jump")
    @classmethod
    def _jump_not_zero(cls, jump: float) -> float:
        if jump == 0:
            raise PydanticCustomError("zero_jump", "expected a non-zero fraction such as -0.05, got 0")
        return jump


class FundamentalConfig(ConfigModel):
    """One instrument's fundamental: mean-reverting with jumps (see lob.market.fundamental).

    ``mean`` and ``start`` are quote currency (resolved to the instrument's
    price when left out), ``mean_reversion`` 1/s, ``volatility`` quote currency
    per sqrt(s), ``jump_rate`` 1/s, jump sizes fractions of the price, ``step``
    ns.
    """

    mean: PositiveFloat | None = None
    start: PositiveFloat | None = None
    mean_reversion: NonNegativeFloat = 0.0
    volatility: NonNegativeFloat = 0.0
    jump_rate: NonNegativeFloat = 0.0
    jump_mean: Float = Field(default=0.0, gt=-1)
    jump_std: NonNegativeFloat = 0.0
    step: PositiveDuration = 1_000_000_000
    shocks: Annotated[list[ShockConfig], BeforeValidator(lambda v: [] if v is None else v)] = Field(
        default_factory=list
    )


class TraderGroupConfig(ConfigModel):
    """``count`` traders of one class on one instrument, with shared ``params``.

    ``type`` is a built-in short name or ``package.module:ClassName``; it is
    resolved during validation (:attr:`trader_class`) and ``params`` validated
    against that class's ``Params`` model (:attr:`params_model`); ``params``
    then holds the validated values with defaults filled in.
    """

    type: str
    # name: resolved to the short name, or the class name lower-cased; unique across groups
    name: str | None = Field(default=None, min_length=1)
    count: Int = Field(default=1, ge=1, le=1_000_000)
    instrument: str | None = None  # resolved: the first instrument's symbol
    latency: LatencyConfig | None = None  # None: the venue's latency
    params: Annotated[dict[str, Any], NoneIsEmpty] = Field(default_factory=dict)
    margin: MarginConfig | None = None  # trade perpetuals on margin with this collateral and leverage
    # Other venues each trader has an account on (same margin on each), besides its instrument's.
    venues: Annotated[list[str], NoneIsEmpty] = Field(default_factory=list)

    _trader_class: builtins.type[Trader] | None = PrivateAttr(None)
    _params_model: BaseModel | None = PrivateAttr(None)

    @model_validator(mode="wrap")
    @classmethod
    def _resolve_type_and_params(
        cls, data: Any, handler: ModelWrapValidatorHandler[TraderGroupConfig]
    ) -> Any:
        if not isinstance(data, dict):
            return handler(data)
        problems: list[InitErrorDetails] = []
        trader_class, params_model = _resolve_group(data, problems)
        try:
            group = handler(data)
        except ValidationError as exc:
            raise _combined(exc, problems) from None
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        group._trader_class = trader_class
        group._params_model = params_model
        if params_model is not None:
            group.params = params_model.model_dump()
        return group

    @field_serializer("params", when_used="json")
    def _params_as_validated(self, params: dict[str, Any]) -> Any:
        return params if self._params_model is None else self._params_model.model_dump(mode="json")

    @property
    def trader_class(self) -> builtins.type[Trader]:
        """The Trader subclass ``type`` names."""
        if self._trader_class is None:  # a model built without validation (model_construct)
            self._trader_class = resolve_trader(self.type)
        return self._trader_class

    @property
    def params_model(self) -> BaseModel:
        """``params`` validated by ``trader_class.Params``: the object a trader reads its settings from."""
        if self._params_model is None:
            self._params_model = self.trader_class.Params.model_validate(self.params)
        return self._params_model


class OutputsConfig(ConfigModel):
    """``outputs``: book snapshot interval (ns; 0 = none), snapshot depth (levels), tables to write."""

    snapshot_interval: Duration = 1_000_000_000
    depth: Int = Field(default=10, ge=1, le=1000)
    tables: list[Table] = Field(default_factory=lambda: list(DEFAULT_TABLES))

    @field_validator("tables")
    @classmethod
    def _no_duplicate_tables(cls, tables: list[str]) -> list[str]:
        twice = sorted({t for t in tables if tables.count(t) > 1})
        if twice:
            raise PydanticCustomError(
                "duplicate_table", f"expected each table once, got {', '.join(twice)} twice"
            )
        return tables


class ScenarioConfig(ConfigModel):
    """A whole scenario: the top level of a config file."""

    run: RunConfig
    instruments: list[InstrumentConfig] = Field(min_length=1)
    venue: Annotated[VenueConfig, NoneIsEmpty] = Field(default_factory=lambda: VenueConfig())
    # Several venues, by name, each with the settings of ``venue``; every instrument names its own.
    venues: Annotated[dict[str, VenueConfig], NoneIsEmpty] = Field(default_factory=dict)
    indexes: Annotated[dict[str, IndexConfig], NoneIsEmpty] = Field(default_factory=dict)
    fundamental: Annotated[dict[str, FundamentalConfig], NoneIsEmpty] = Field(default_factory=dict)
    correlations: Annotated[list[CorrelationConfig], NoneIsEmpty] = Field(default_factory=list)
    traders: list[TraderGroupConfig] = Field(min_length=1)
    open_interest: Annotated[list[OpenInterestConfig], NoneIsEmpty] = Field(default_factory=list)
    background: Annotated[list[BackgroundConfig], NoneIsEmpty] = Field(default_factory=list)
    outputs: Annotated[OutputsConfig, NoneIsEmpty] = Field(default_factory=lambda: OutputsConfig())

    @model_validator(mode="wrap")
    @classmethod
    def _cross_check_and_resolve(cls, data: Any, handler: ModelWrapValidatorHandler[ScenarioConfig]) -> Any:
        if not isinstance(data, dict):
            return handler(data)
        problems = _cross_field_problems(data)
        try:
            cfg = handler(data)
        except ValidationError as exc:
            raise _combined(exc, problems) from None
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        cfg._resolve_defaults()
        if cfg.correlations:
            problem = cfg._correlation_problem()
            if problem is not None:
                raise ValidationError.from_exception_data(cls.__name__, [problem])
        return cfg

    def _correlation_problem(self) -> InitErrorDetails | None:
        """Correlations that no joint distribution has, or assets correlated across different steps."""
        from lob.market.correlation import correlation_matrix

        pairs = [(c.assets[0], c.assets[1], c.rho) for c in self.correlations]
        try:
            correlation_matrix(self.assets, pairs)
        except ValueError as e:
            return _error(("correlations",), "correlations", str(e), pairs)
        for k, c in enumerate(self.correlations):
            steps = {self.fundamental[a].step for a in c.assets}
            if len(steps) > 1:
                message = "correlated assets need the same fundamental 'step'"
                return _error(("correlations", k, "assets"), "correlation_steps", message, list(c.assets))
        return None

    def _resolve_defaults(self) -> None:
        first = self.instruments[0].symbol
        for background in self.background:
            if background.instrument is None:
                background.instrument = first
        for group in self.traders:
            if group.name is None:
                group.name = default_group_name(group.type)
            if group.instrument is None:
                group.instrument = first
        resolved: dict[str, FundamentalConfig] = {}
        for inst in self.instruments:  # instrument order, so that the dump is deterministic
            asset = inst.asset_name
            if asset in resolved:
                continue  # an asset's first instrument sets its defaults
            fundamental = self.fundamental.get(asset) or FundamentalConfig()
            if fundamental.mean is None:
                fundamental.mean = inst.price
            if fundamental.start is None:
                fundamental.start = fundamental.mean
            resolved[asset] = fundamental
        self.fundamental = resolved

    # -- queries the runner uses --

    @property
    def symbols(self) -> list[str]:
        """Instrument symbols in declaration order (an instrument's index is its position)."""
        return [inst.symbol for inst in self.instruments]

    @property
    def trader_count(self) -> int:
        """Traders over all groups."""
        return sum(group.count for group in self.traders)

    def instrument(self, symbol: str) -> InstrumentConfig:
        """The instrument called ``symbol``; KeyError naming the declared ones if there is none. O(n)."""
        for inst in self.instruments:
            if inst.symbol == symbol:
                return inst
        raise KeyError(f"no instrument {symbol!r} (declared: {', '.join(self.symbols)})")

    def fundamental_for(self, symbol: str) -> FundamentalConfig:
        """The fundamental of ``symbol``'s asset (every declared asset has one after validation)."""
        return self.fundamental[self.instrument(symbol).asset_name]

    @property
    def assets(self) -> list[str]:
        """Assets in order of their first instrument."""
        return list(dict.fromkeys(inst.asset_name for inst in self.instruments))

    @property
    def venue_names(self) -> list[str]:
        """The venues' names: those of ``venues``, or ``["main"]`` for a one-venue config."""
        return list(self.venues) if self.venues else [SINGLE_VENUE]

    def venue_config(self, name: str) -> VenueConfig:
        """The settings of venue ``name`` (``venue`` for a one-venue config)."""
        return self.venues[name] if self.venues else self.venue

    def venue_of(self, symbol: str) -> str:
        """The name of the venue that lists ``symbol``."""
        return self.instrument(symbol).venue or SINGLE_VENUE

    def latency_for(self, group: TraderGroupConfig) -> LatencyConfig:
        """Order-entry latency of ``group``'s traders: its own, or the venue's."""
        return self.venue.latency if group.latency is None else group.latency


SINGLE_VENUE = "main"  # the name of the one venue of a config without ``venues``


def default_group_name(spec: str) -> str:
    """The name of a trader group that gives none: its short name, or its class name lower-cased."""
    if spec in BUILTIN_TRADERS or ":" not in spec:
        return spec
    return spec.rpartition(":")[2].rpartition(".")[2].lower()


# -- validation helpers ------------------------------------------------------------------------------------


def _error(loc: tuple[str | int, ...], kind: str, message: str, value: Any) -> InitErrorDetails:
    return {"type": PydanticCustomError(kind, message), "loc": loc, "input": value}


def _combined(exc: ValidationError, extra: list[InitErrorDetails]) -> ValidationError:
    """``exc``'s errors followed by ``extra``, as one ValidationError."""
    details: list[InitErrorDetails] = [_as_detail(err, ()) for err in exc.errors()]
    return ValidationError.from_exception_data(exc.title, [*details, *extra])


def _as_detail(err: Any, prefix: tuple[str | int, ...]) -> InitErrorDetails:
    # The rendered message is kept as the template; the type and ctx stay for the loader's rephrasing.
    ctx = err.get("ctx")
    kind = PydanticCustomError(err["type"], err["msg"], ctx)
    return {"type": kind, "loc": (*prefix, *err["loc"]), "input": err.get("input")}


def _resolve_group(
    data: dict[str, Any], problems: list[InitErrorDetails]
) -> tuple[type[Trader] | None, BaseModel | None]:
    """The class and validated params of a raw trader group; appends what is wrong to ``problems``."""
    spec = data.get("type")
    if not isinstance(spec, str):
        return None, None  # the model's own validation reports it
    try:
        trader_class = resolve_trader(spec)
    except TraderLookupError as exc:
        problems.append(_error(("type",), "trader_type", str(exc), spec))
        return None, None
    params_type = getattr(trader_class, "Params", None)
    if not (isinstance(params_type, type) and issubclass(params_type, BaseModel)):
        message = f"{trader_class.__qualname__}.Params must be a pydantic BaseModel, got {params_type!r}"
        problems.append(_error(("type",), "trader_params_type", message, spec))
        return None, None
    params = empty_if_none(data.get("params", {}))
    if not isinstance(params, dict):
        return trader_class, None
    try:
        return trader_class, params_type.model_validate(params)
    except ValidationError as exc:
        problems.extend(_as_detail(err, ("params",)) for err in exc.errors())
        return trader_class, None


def _cross_field_problems(data: dict[str, Any]) -> list[InitErrorDetails]:
    """Checks between sections, on the raw input, skipping any part too malformed to check.

    Run before the models validate, so that these problems are reported in the
    same pass as field errors.
    """
    problems: list[InitErrorDetails] = []
    symbols = _declared_symbols(data.get("instruments"), problems)
    assets = _declared_assets(data.get("instruments"), symbols)
    fundamental = data.get("fundamental")
    if isinstance(fundamental, dict):
        for symbol in fundamental:
            if assets is not None and isinstance(symbol, str) and symbol not in assets:
                message = (
                    f"fundamental for an undeclared instrument {symbol!r}{_declared_hint(symbol, assets)}"
                    if assets == symbols
                    else f"fundamental for an undeclared asset {symbol!r} (declared: {', '.join(assets)})"
                )
                problems.append(_error(("fundamental", symbol), "undeclared_instrument", message, symbol))
        problems.extend(_late_shocks(data.get("run"), fundamental))
    problems.extend(_venue_problems(data, symbols, assets))
    traders = data.get("traders")
    if isinstance(traders, list):
        names: dict[str, int] = {}
        traders_named: dict[str, int] = {}
        for i, group in enumerate(traders):
            if not isinstance(group, dict):
                continue
            instrument = group.get("instrument")
            if symbols is not None and isinstance(instrument, str) and instrument not in symbols:
                message = f"unknown instrument {instrument!r}{_declared_hint(instrument, symbols)}"
                problems.append(
                    _error(("traders", i, "instrument"), "undeclared_instrument", message, instrument)
                )
            name = group.get("name")
            if name is None and isinstance(group.get("type"), str):
                name = default_group_name(group["type"])
            if not isinstance(name, str):
                continue
            if name in names:
                message = (
                    f"duplicate group name {name!r} (traders[{names[name]}] has it too); "
                    "give each group its own 'name'"
                )
                problems.append(_error(("traders", i, "name"), "duplicate_name", message, name))
                continue
            names[name] = i
            count = group.get("count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1_000_000:
                continue  # the field check reports it
            for trader in trader_names(name, count):
                if trader in traders_named and traders_named[trader] != i:
                    message = (
                        f"trader name {trader!r} of this group clashes with one of "
                        f"traders[{traders_named[trader]}]; "
                        "rename a group (traders are named NAME, or NAME-0 ... NAME-(count-1))"
                    )
                    problems.append(_error(("traders", i, "name"), "duplicate_name", message, name))
                    break
                traders_named[trader] = i
    problems.extend(_risk_problems(data, symbols))
    backgrounds = data.get("background")
    if isinstance(backgrounds, list) and symbols is not None:
        for k, background in enumerate(backgrounds):
            instrument = background.get("instrument") if isinstance(background, dict) else None
            if isinstance(instrument, str) and instrument not in symbols:
                message = f"unknown instrument {instrument!r}{_declared_hint(instrument, symbols)}"
                problems.append(
                    _error(("background", k, "instrument"), "undeclared_instrument", message, instrument)
                )
    return problems


def trader_names(group_name: str, count: int) -> list[str]:
    """The stable names of a group's traders: the group name alone, or ``name-0`` ... ``name-(count-1)``.

    A trader's name keys its random streams, so it must not depend on the order of the groups.
    """
    return [group_name] if count == 1 else [f"{group_name}-{k}" for k in range(count)]


RESERVED_NAMES = ("insurance_fund", "backstop_vault")  # accounts the risk layer opens


def _risk_problems(data: dict[str, Any], symbols: list[str] | None) -> list[InitErrorDetails]:
    """Leverage needs a perpetual; open-interest accounts and traders must not share names."""
    problems: list[InitErrorDetails] = []
    instruments = data.get("instruments")
    perpetuals: set[str] = set()
    if isinstance(instruments, list):
        perpetuals = {
            i["symbol"]
            for i in instruments
            if isinstance(i, dict) and i.get("kind") == "perpetual" and isinstance(i.get("symbol"), str)
        }
    first = symbols[0] if symbols else None
    venue = data.get("venue")
    if isinstance(venue, dict) and symbols is not None and not perpetuals:
        adl = venue.get("adl")
        if isinstance(adl, dict) and adl.get("policy", "none") != "none":
            message = "auto-deleveraging needs a perpetual instrument (set an instrument's kind: perpetual)"
            problems.append(_error(("venue", "adl", "policy"), "adl_on_spot", message, adl.get("policy")))
        breakers = venue.get("circuit_breakers")
        band = breakers.get("band") if isinstance(breakers, dict) else None
        if isinstance(band, dict) and band.get("reference", "mark") == "mark":
            message = "a band around the mark needs a perpetual instrument; on spot use reference: trades"
            problems.append(
                _error(("venue", "circuit_breakers", "band", "reference"), "band_on_spot", message, "mark")
            )
    traders = data.get("traders")
    trader_names_seen: set[str] = set()
    if isinstance(traders, list):
        for i, group in enumerate(traders):
            if not isinstance(group, dict):
                continue
            instrument = group.get("instrument", first)
            if group.get("margin") is not None and symbols is not None and instrument not in perpetuals:
                message = (
                    f"margin needs a perpetual instrument; {instrument!r} is spot (set its kind: perpetual)"
                )
                problems.append(_error(("traders", i, "margin"), "margin_on_spot", message, group["margin"]))
            name = group.get("name")
            if name is None and isinstance(group.get("type"), str):
                name = default_group_name(group["type"])
            count = group.get("count", 1)
            if (
                isinstance(name, str)
                and isinstance(count, int)
                and not isinstance(count, bool)
                and count >= 1
            ):
                if name in RESERVED_NAMES:
                    message = f"the name {name!r} is the risk layer's own account; choose another"
                    problems.append(_error(("traders", i, "name"), "reserved_name", message, name))
                trader_names_seen.update(trader_names(name, min(count, 1_000_000)))
    profiles = data.get("open_interest")
    if isinstance(profiles, list):
        seen: dict[str, int] = {}
        for k, oi in enumerate(profiles):
            if not isinstance(oi, dict):
                continue
            instrument = oi.get("instrument")
            if instrument is None and oi.get("instruments") is not None:
                pass  # a portfolio: checked with the venues (_venue_problems)
            elif instrument is None:
                if symbols is not None and not perpetuals:
                    message = "open interest needs a perpetual instrument, and none is declared"
                    problems.append(_error(("open_interest", k), "no_perpetual", message, oi))
            elif symbols is not None and instrument not in perpetuals:
                what = "an undeclared instrument" if instrument not in symbols else "a spot instrument"
                message = f"open interest needs a perpetual; {instrument!r} is {what}"
                problems.append(
                    _error(("open_interest", k, "instrument"), "oi_instrument", message, instrument)
                )
            name = oi.get("name", "oi")
            if not isinstance(name, str):
                continue
            if name in seen:
                message = f"duplicate open-interest name {name!r} (open_interest[{seen[name]}] has it too)"
                problems.append(_error(("open_interest", k, "name"), "duplicate_name", message, name))
            seen[name] = k
            clash = sorted(
                t for t in trader_names_seen if re.fullmatch(rf"{re.escape(name)}-(long|short)-\d+", t)
            )
            if clash or name in RESERVED_NAMES:
                taken = clash[0] if clash else name
                message = f"its accounts are named {name}-long-K and {name}-short-K; {taken!r} is taken"
                problems.append(_error(("open_interest", k, "name"), "duplicate_name", message, name))
    return problems


def _declared_assets(instruments: Any, symbols: list[str] | None) -> list[str] | None:
    """The raw instruments' assets (an instrument without ``asset`` is its own), or None if unreadable."""
    if symbols is None or not isinstance(instruments, list):
        return None
    assets = []
    for inst in instruments:
        asset = inst.get("asset") if isinstance(inst, dict) else None
        assets.append(asset if isinstance(asset, str) else inst.get("symbol"))
    return list(dict.fromkeys(assets))


def _venue_problems(
    data: dict[str, Any], symbols: list[str] | None, assets: list[str] | None
) -> list[InitErrorDetails]:
    """Venues named by instruments and trader groups, index components, correlated assets."""
    problems: list[InitErrorDetails] = []
    raw_venues = data.get("venues")
    venues: dict[Any, Any] = raw_venues if isinstance(raw_venues, dict) else {}
    names = list(venues) if venues else None
    raw_instruments = data.get("instruments")
    instruments: list[Any] = raw_instruments if isinstance(raw_instruments, list) else []
    if names is not None and data.get("venue") is not None:
        message = "give either 'venue' (one venue) or 'venues' (several), not both"
        problems.append(_error(("venues",), "venue_and_venues", message, None))
    if names is not None:
        for venue_name, venue in venues.items():
            breakers = venue.get("circuit_breakers") if isinstance(venue, dict) else None
            if isinstance(breakers, dict) and any(breakers.get(k) for k in ("band", "luld", "market_wide")):
                message = "circuit breakers are not supported with several venues yet; remove them"
                problems.append(
                    _error(("venues", venue_name, "circuit_breakers"), "breakers_venues", message, breakers)
                )
    perpetual_venue: dict[str, str | None] = {}
    for i, inst in enumerate(instruments):
        if not isinstance(inst, dict):
            continue
        venue = inst.get("venue")
        if names is None and venue is not None:
            message = f"venue {venue!r} is named, but the config has no 'venues' section"
            problems.append(_error(("instruments", i, "venue"), "unknown_venue", message, venue))
        elif names is not None and venue not in names:
            message = (
                "expected the name of one of the venues (" + ", ".join(names) + f"), got {venue!r}"
                if venue is not None
                else "with several venues, each instrument names its venue (" + ", ".join(names) + ")"
            )
            problems.append(_error(("instruments", i, "venue"), "unknown_venue", message, venue))
        if inst.get("kind") == "perpetual" and isinstance(inst.get("symbol"), str):
            perpetual_venue[inst["symbol"]] = venue if isinstance(venue, str) else None
        index = inst.get("index")
        if index is not None:
            indexes = data.get("indexes")
            if not isinstance(indexes, dict) or index not in indexes:
                declared = ", ".join(indexes) if isinstance(indexes, dict) and indexes else "none"
                message = f"unknown index {index!r} (declared indexes: {declared})"
                problems.append(_error(("instruments", i, "index"), "unknown_index", message, index))
            elif inst.get("kind") != "perpetual":
                message = "an index feeds a perpetual's mark price; this instrument is spot"
                problems.append(_error(("instruments", i, "index"), "index_on_spot", message, index))
    indexes = data.get("indexes")
    if isinstance(indexes, dict) and symbols is not None:
        for name, index in indexes.items():
            components = index.get("components") if isinstance(index, dict) else None
            if not isinstance(components, dict):
                continue
            for symbol in components:
                if symbol not in symbols:
                    message = f"unknown instrument {symbol!r}{_declared_hint(str(symbol), symbols)}"
                    loc = ("indexes", name, "components", symbol)
                    problems.append(_error(loc, "undeclared_instrument", message, symbol))
    traders = data.get("traders")
    for i, group in enumerate(traders if isinstance(traders, list) else []):
        extra = group.get("venues") if isinstance(group, dict) else None
        if not isinstance(extra, list) or not extra:
            continue
        for k, venue in enumerate(extra):
            if names is None or venue not in names:
                message = (
                    f"unknown venue {venue!r} (declared venues: {', '.join(names)})"
                    if names is not None
                    else "'venues' of a trader group needs a 'venues' section"
                )
                problems.append(_error(("traders", i, "venues", k), "unknown_venue", message, venue))
    profiles = data.get("open_interest")
    for k, oi in enumerate(profiles if isinstance(profiles, list) else []):
        weights = oi.get("instruments") if isinstance(oi, dict) else None
        if not isinstance(weights, dict):
            continue
        if oi.get("instrument") is not None:
            message = "give either 'instrument' or 'instruments' (a portfolio), not both"
            problems.append(_error(("open_interest", k, "instruments"), "oi_instruments", message, weights))
        on: set[str | None] = set()
        for symbol in weights:
            if symbols is not None and symbol not in perpetual_venue:
                what = "an undeclared instrument" if symbol not in symbols else "a spot instrument"
                message = f"open interest needs perpetuals; {symbol!r} is {what}"
                problems.append(
                    _error(("open_interest", k, "instruments", symbol), "oi_instrument", message, symbol)
                )
            else:
                on.add(perpetual_venue.get(symbol))
        if len(on) > 1:
            message = "a portfolio's instruments must be on one venue (margin is kept per venue)"
            problems.append(_error(("open_interest", k, "instruments"), "oi_venues", message, weights))
    correlations = data.get("correlations")
    for k, pair in enumerate(correlations if isinstance(correlations, list) else []):
        pair_assets = pair.get("assets") if isinstance(pair, dict) else None
        if assets is None or not isinstance(pair_assets, list):
            continue
        for j, asset in enumerate(pair_assets):
            if isinstance(asset, str) and asset not in assets:
                message = f"unknown asset {asset!r}{_declared_hint(asset, assets)}"
                problems.append(_error(("correlations", k, "assets", j), "unknown_asset", message, asset))
    return problems


def _declared_symbols(instruments: Any, problems: list[InitErrorDetails]) -> list[str] | None:
    """Symbols of the raw instrument list (reporting duplicates), or None if any is unreadable."""
    if not isinstance(instruments, list):
        return None
    symbols: list[str] = []
    complete = True
    for i, inst in enumerate(instruments):
        symbol = inst.get("symbol") if isinstance(inst, dict) else None
        if not isinstance(symbol, str):
            complete = False
            continue
        if symbol in symbols:
            message = f"duplicate symbol {symbol!r} (instruments[{symbols.index(symbol)}] declares it too)"
            problems.append(_error(("instruments", i, "symbol"), "duplicate_symbol", message, symbol))
        symbols.append(symbol)
    return symbols if complete else None


def _declared_hint(name: str, symbols: list[str]) -> str:
    hint = f" (declared instruments: {', '.join(dict.fromkeys(symbols))}"
    close = difflib.get_close_matches(name, symbols, n=1)
    return hint + (f"; did you mean {close[0]!r}?)" if close else ")")


def _late_shocks(run: Any, fundamental: dict[Any, Any]) -> list[InitErrorDetails]:
    """Shocks scheduled after the end of the run."""
    try:
        duration = parse_duration(run.get("duration")) if isinstance(run, dict) else None
    except DurationError:
        duration = None
    if not duration:  # unreadable or zero: the run's own error says so
        return []
    problems: list[InitErrorDetails] = []
    for symbol, process in fundamental.items():
        shocks = process.get("shocks") if isinstance(process, dict) else None
        for k, shock in enumerate(shocks if isinstance(shocks, list) else []):
            try:
                at = parse_duration(shock.get("at")) if isinstance(shock, dict) else None
            except DurationError:
                continue
            if at is not None and at > duration:
                message = (
                    f"shock at {format_duration(at)} is after the end of the run "
                    f"(run.duration is {format_duration(duration)})"
                )
                problems.append(
                    _error(("fundamental", symbol, "shocks", k, "at"), "late_shock", message, shock["at"])
                )
    return problems
