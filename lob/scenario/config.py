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
    fundamental: Annotated[dict[str, FundamentalConfig], NoneIsEmpty] = Field(default_factory=dict)
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
        return cfg

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
            fundamental = self.fundamental.get(inst.symbol) or FundamentalConfig()
            if fundamental.mean is None:
                fundamental.mean = inst.price
            if fundamental.start is None:
                fundamental.start = fundamental.mean
            resolved[inst.symbol] = fundamental
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
        """The fundamental of ``symbol`` (every declared instrument has one after validation)."""
        return self.fundamental[symbol]

    def latency_for(self, group: TraderGroupConfig) -> LatencyConfig:
        """Order-entry latency of ``group``'s traders: its own, or the venue's."""
        return self.venue.latency if group.latency is None else group.latency


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
    fundamental = data.get("fundamental")
    if isinstance(fundamental, dict):
        for symbol in fundamental:
            if symbols is not None and isinstance(symbol, str) and symbol not in symbols:
                message = (
                    f"fundamental for an undeclared instrument {symbol!r}{_declared_hint(symbol, symbols)}"
                )
                problems.append(_error(("fundamental", symbol), "undeclared_instrument", message, symbol))
        problems.extend(_late_shocks(data.get("run"), fundamental))
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
            if instrument is None:
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
