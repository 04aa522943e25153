"""Synthetic request traffic: scenarios with incidents, rendered as request events.

The generator feeds tests, examples, the demo and benchmarks. It is seeded and
vectorised: each chunk of scenario time is drawn with numpy in a handful of
array operations, and dicts are only built lazily while the caller iterates,
so memory stays bounded however long the scenario is.

Traffic model, kept deliberately simple so that tests can predict it:

- The mean rate is split evenly over every (service, region) cell.
- Arrivals are Poisson per one-second slice, timestamps uniform (whole
  milliseconds) within the slice.
- Each request picks one of its service's operations by fixed weights.
- A request fails (500/502/503) with the base error rate, or with the error
  rate of an active incident on its cell when that is higher. Good requests
  answer 200/201/204 by method, and 1% of them 404 (a client error, not a
  failure).
- Latency is lognormal, fitted to the configured median and p99, and
  multiplied by the latency factor of every active incident on the cell.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Literal, TypedDict, cast, get_args

import numpy as np
import orjson
from numpy.typing import NDArray

from streams.domain.durations import DurationError, format_duration, parse_duration
from streams.synthetic.demand import shape

IncidentKind = Literal["outage", "slow_burn", "latency"]
PresetName = Literal["steady", "outage", "slow-burn", "latency", "mixed"]

PRESET_NAMES: tuple[str, ...] = get_args(PresetName)
DEFAULT_SERVICES: tuple[str, ...] = ("checkout", "search", "catalog")
DEFAULT_REGIONS: tuple[str, ...] = ("eu", "us")

_DEFAULT_ERROR_RATE: dict[str, float] = {"outage": 1.0, "slow_burn": 0.005, "latency": 0.0}
_DEFAULT_LATENCY_FACTOR: dict[str, float] = {"outage": 1.0, "slow_burn": 1.0, "latency": 4.0}

# (method and route template, base weight, good status). GETs dominate real
# traffic; writes are rarer, so 200 is by far the most common success code.
_OPERATION_TEMPLATES: tuple[tuple[str, float, int], ...] = (
    ("GET /{s}", 0.45, 200),
    ("GET /{s}/{{id}}", 0.42, 200),
    ("POST /{s}", 0.10, 201),
    ("DELETE /{s}/{{id}}", 0.03, 204),
)
_NOT_FOUND_SHARE = 0.01
_FAILURE_CODES = np.array([500, 502, 503], dtype=np.int64)
_FAILURE_SHARES = np.array([0.7, 0.15, 0.15])
_Z_P99 = 2.3263478740408408  # standard normal quantile at 0.99

# Chunks hold about this many events (and at most a minute): large enough to
# amortise numpy calls, small enough to keep a few MB of arrays in memory.
_CHUNK_EVENTS = 100_000
_MAX_CHUNK_MS = 60_000
_SLICE_MS = 1_000
_DAY_S = 86_400.0
_UNITS = "smhdw"  # duration suffixes
_SEASONAL_PHASE_S = 6 * 3_600.0



class RequestEvent(TypedDict):
    """One request event as in contract §2."""

    ts: float
    service: str
    operation: str
    region: str
    status: int
    latency_ms: float


@dataclass(frozen=True)
class Incident:
    """A fault injected into part of a scenario.

    ``start`` and ``duration`` are seconds relative to the scenario start;
    ``service``/``region`` None means every service/region. ``error_rate``
    None takes the kind's default (outage 1.0, slow_burn 0.005, latency 0.0:
    errors unchanged); ``latency_factor`` None takes 4.0 for latency, else
    1.0. Both are resolved at construction, so they are never None afterwards.
    """

    kind: IncidentKind
    start: float
    duration: float
    service: str | None = None
    region: str | None = None
    error_rate: float | None = None
    latency_factor: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in _DEFAULT_ERROR_RATE:
            raise ValueError(
                f"incident kind must be one of {', '.join(_DEFAULT_ERROR_RATE)}, got {self.kind!r}"
            )
        if not math.isfinite(self.start) or self.start < 0:
            raise ValueError(f"incident start must be >= 0 seconds, got {self.start}")
        if not math.isfinite(self.duration) or self.duration <= 0:
            raise ValueError(f"incident duration must be > 0 seconds, got {self.duration}")
        for name in ("service", "region"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"incident {name} must be a non-empty string or None")
        if self.error_rate is None:
            object.__setattr__(self, "error_rate", _DEFAULT_ERROR_RATE[self.kind])
        elif not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"incident error_rate must be in [0, 1], got {self.error_rate}")
        if self.latency_factor is None:
            object.__setattr__(self, "latency_factor", _DEFAULT_LATENCY_FACTOR[self.kind])
        elif not math.isfinite(self.latency_factor) or self.latency_factor <= 0:
            raise ValueError(f"incident latency_factor must be > 0, got {self.latency_factor}")

    @property
    def end(self) -> float:
        """Seconds from the scenario start at which the incident stops (exclusive)."""
        return self.start + self.duration


@dataclass(frozen=True)
class Scenario:
    """Everything that determines a generated event stream (same scenario, same events).

    ``seasonality`` is a daily amplitude: the rate is multiplied by
    ``1 + seasonality * sin(2π (time_of_day - 6h) / 1d)``, which peaks at
    12:00 UTC and bottoms out at 00:00 UTC.
    """

    start: float
    duration: float
    rate: float
    services: tuple[str, ...] = DEFAULT_SERVICES
    regions: tuple[str, ...] = DEFAULT_REGIONS
    base_error_rate: float = 0.0005
    latency_median_ms: float = 80.0
    latency_p99_ms: float = 400.0
    seasonality: float = 0.0
    incidents: tuple[Incident, ...] = field(default=())
    seed: int = 0
    growth: float = 0.0  # linear, a fraction of `rate` a day (see streams.synthetic.demand)
    weekly: float = 0.0  # weekly amplitude in [0, 1]

    def __post_init__(self) -> None:
        # Accept lists from callers but store tuples, so scenarios stay hashable.
        for name in ("services", "regions", "incidents"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not math.isfinite(self.start):
            raise ValueError(f"start must be finite epoch seconds, got {self.start}")
        if not math.isfinite(self.duration) or self.duration <= 0:
            raise ValueError(f"duration must be > 0 seconds, got {self.duration}")
        if not math.isfinite(self.rate) or self.rate <= 0:
            raise ValueError(f"rate must be > 0 events/s, got {self.rate}")
        _check_names("services", self.services)
        _check_names("regions", self.regions)
        if not 0.0 <= self.base_error_rate <= 1.0:
            raise ValueError(f"base_error_rate must be in [0, 1], got {self.base_error_rate}")
        if not 0.0 <= self.seasonality <= 1.0:
            raise ValueError(f"seasonality must be in [0, 1], got {self.seasonality}")
        if not 0.0 <= self.weekly <= 1.0:
            raise ValueError(f"weekly seasonality must be in [0, 1], got {self.weekly}")
        if not math.isfinite(self.growth) or self.growth * self.duration / _DAY_S <= -1:
            raise ValueError(f"growth must leave a positive rate to the end, got {self.growth}")
        if not 0 < self.latency_median_ms < self.latency_p99_ms or not math.isfinite(self.latency_p99_ms):
            raise ValueError(
                "latencies must satisfy 0 < latency_median_ms < latency_p99_ms, got "
                f"{self.latency_median_ms} and {self.latency_p99_ms}"
            )
        for i, incident in enumerate(self.incidents):
            _check_incident(self, i, incident)


def _check_names(what: str, names: tuple[str, ...]) -> None:
    if not names:
        raise ValueError(f"{what} must not be empty")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{what} must be non-empty strings, got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} must be unique, got {', '.join(names)}")


def _check_incident(scenario: Scenario, i: int, incident: Incident) -> None:
    if not isinstance(incident, Incident):
        raise ValueError(f"incidents[{i}] must be an Incident, got {type(incident).__name__}")
    where = f"incidents[{i}] ({incident.kind})"
    if incident.service is not None and incident.service not in scenario.services:
        raise ValueError(
            f"{where}: service {incident.service!r} is not one of {', '.join(scenario.services)}"
        )
    if incident.region is not None and incident.region not in scenario.regions:
        raise ValueError(f"{where}: region {incident.region!r} is not one of {', '.join(scenario.regions)}")
    # A millisecond of slack: incidents built from fractions of the duration
    # may overshoot the end by a rounding error.
    if incident.end > scenario.duration + 1e-3:
        raise ValueError(
            f"{where}: ends at {format_duration(incident.end)}, after the scenario's "
            f"{format_duration(scenario.duration)}"
        )


def operations(service: str) -> tuple[tuple[str, float], ...]:
    """The service's operations and their traffic shares, derived only from its name."""
    return tuple((name, share) for name, share, _ in _operation_table(service))


def _operation_table(service: str) -> list[tuple[str, float, int]]:
    # Jitter each weight by ±25% from a hash of the name, so services differ
    # but a given service always has the same mix (crc32 is stable across runs,
    # unlike hash()).
    digest = zlib.crc32(service.encode())
    weights = [
        base * (0.75 + 0.5 * ((digest >> (8 * i)) & 0xFF) / 255)
        for i, (_, base, _) in enumerate(_OPERATION_TEMPLATES)
    ]
    total = sum(weights)
    return [
        (template.format(s=service), weight / total, status)
        for (template, _, status), weight in zip(_OPERATION_TEMPLATES, weights, strict=True)
    ]


class _Tables:
    """Per-scenario lookup tables, computed once before the chunk loop."""

    def __init__(self, scenario: Scenario) -> None:
        tables = [_operation_table(s) for s in scenario.services]
        self.n_regions = len(scenario.regions)
        self.n_cells = len(scenario.services) * self.n_regions
        self.n_ops = len(_OPERATION_TEMPLATES)
        self.service_names = np.array(scenario.services, dtype=object)
        self.region_names = np.array(scenario.regions, dtype=object)
        self.op_names = np.array([name for t in tables for name, _, _ in t], dtype=object)
        self.op_status = np.array([st for t in tables for _, _, st in t], dtype=np.int64)
        self.op_cumulative = np.cumsum([[w for _, w, _ in t] for t in tables], axis=1)
        self.mu = math.log(scenario.latency_median_ms)
        self.sigma = (math.log(scenario.latency_p99_ms) - self.mu) / _Z_P99


def generate(scenario: Scenario) -> Iterator[RequestEvent]:
    """Yield the scenario's request events in timestamp order."""
    rng = np.random.default_rng(scenario.seed)
    tables = _Tables(scenario)
    start_ms = round(scenario.start * 1000)
    end_ms = start_ms + round(scenario.duration * 1000)
    peak_rate = (scenario.rate * (1 + scenario.seasonality) * (1 + scenario.weekly)
                 * (1 + max(scenario.growth, 0.0) * scenario.duration / _DAY_S))
    chunk_ms = max(_SLICE_MS, min(_MAX_CHUNK_MS, int(_CHUNK_EVENTS / peak_rate) * _SLICE_MS))
    for lo in range(start_ms, end_ms, chunk_ms):
        yield from _chunk(scenario, tables, rng, start_ms, lo, min(lo + chunk_ms, end_ms))


def _chunk(
    scenario: Scenario,
    tables: _Tables,
    rng: np.random.Generator,
    start_ms: int,
    lo: int,
    hi: int,
) -> Iterator[RequestEvent]:
    slice_lo = np.arange(lo, hi, _SLICE_MS, dtype=np.int64)
    width = np.minimum(slice_lo + _SLICE_MS, hi) - slice_lo
    mid_s = (slice_lo + width / 2) / 1000
    rate = scenario.rate * width / 1000 / tables.n_cells
    if scenario.seasonality:
        phase = 2 * np.pi * (np.mod(mid_s, _DAY_S) - _SEASONAL_PHASE_S) / _DAY_S
        rate = rate * (1 + scenario.seasonality * np.sin(phase))
    if scenario.growth or scenario.weekly:
        rate = rate * shape(mid_s, scenario.start, scenario.growth, scenario.weekly)
    counts = rng.poisson(np.repeat(rate, tables.n_cells)).ravel()
    n = int(counts.sum())
    if n == 0:
        return
    # Events come out grouped by (slice, cell); a stable sort on the time
    # keeps that order among equal milliseconds, so output is reproducible.
    slot = np.repeat(np.arange(counts.size), counts)
    ts_ms = slice_lo[slot // tables.n_cells] + (rng.random(n) * width[slot // tables.n_cells]).astype(
        np.int64
    )
    order = np.argsort(ts_ms, kind="stable")
    ts_ms = ts_ms[order]
    cell = (slot % tables.n_cells)[order]
    service = cell // tables.n_regions
    region = cell % tables.n_regions

    pick = rng.random(n)
    op = (pick[:, None] >= tables.op_cumulative[service]).sum(axis=1)
    op = service * tables.n_ops + np.minimum(op, tables.n_ops - 1)
    status = tables.op_status[op]
    status[rng.random(n) < _NOT_FOUND_SHARE] = 404

    error_rate, latency_factor = _incident_effects(scenario, start_ms, ts_ms, service, region, tables)
    failed = rng.random(n) < error_rate
    n_failed = int(failed.sum())
    if n_failed:
        status[failed] = rng.choice(_FAILURE_CODES, size=n_failed, p=_FAILURE_SHARES)
    latency = rng.lognormal(tables.mu, tables.sigma, n)
    if latency_factor is not None:
        latency *= latency_factor

    # Build dicts lazily from Python lists: the per-event cost is then one
    # dict literal, and only one chunk of lists lives in memory.
    events: Iterator[RequestEvent] = (
        {"ts": t, "service": s, "operation": o, "region": r, "status": c, "latency_ms": m}
        for t, s, o, r, c, m in zip(
            (ts_ms / 1000).tolist(),
            tables.service_names[service].tolist(),
            tables.op_names[op].tolist(),
            tables.region_names[region].tolist(),
            status.tolist(),
            np.round(latency, 1).tolist(),
            strict=True,
        )
    )
    yield from events


def _incident_effects(
    scenario: Scenario,
    start_ms: int,
    ts_ms: NDArray[np.int64],
    service: NDArray[np.int64],
    region: NDArray[np.int64],
    tables: _Tables,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    error_rate = np.full(ts_ms.size, scenario.base_error_rate)
    latency_factor: NDArray[np.float64] | None = None
    first, last = int(ts_ms[0]), int(ts_ms[-1])
    for incident in scenario.incidents:
        lo = start_ms + round(incident.start * 1000)
        hi = start_ms + round(incident.end * 1000)
        if hi <= first or lo > last:
            continue
        active = (ts_ms >= lo) & (ts_ms < hi)
        if incident.service is not None:
            active &= service == scenario.services.index(incident.service)
        if incident.region is not None:
            active &= region == scenario.regions.index(incident.region)
        if incident.error_rate:
            error_rate[active] = np.maximum(error_rate[active], incident.error_rate)
        if incident.latency_factor is not None and incident.latency_factor != 1.0:
            if latency_factor is None:
                latency_factor = np.ones(ts_ms.size)
            latency_factor[active] *= incident.latency_factor
    return error_rate, latency_factor


def encode_jsonl(events: Iterable[Mapping[str, object]], batch: int = 1) -> Iterator[bytes]:
    """Encode events as JSON lines; with ``batch > 1`` each line is an array of up to ``batch``."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if batch == 1:
        for event in events:
            yield orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
        return
    it = iter(events)
    while group := list(islice(it, batch)):
        yield orjson.dumps(group, option=orjson.OPT_APPEND_NEWLINE)


def iter_jsonl(scenario: Scenario, batch: int = 1) -> Iterator[bytes]:
    """Yield the scenario's events as encoded JSON lines, each ending in a newline."""
    return encode_jsonl(generate(scenario), batch)


def parse_incident(text: str) -> Incident:
    """Parse ``KIND@START+DURATION[,service=S][,region=R][,error_rate=F][,latency_factor=F]``."""
    where = f"incident {text!r}"
    head, *options = [part.strip() for part in text.strip().split(",")]
    kind, at, span = head.partition("@")
    start, plus, duration = span.partition("+")
    if not at or not plus:
        raise ValueError(f"{where}: expected KIND@START+DURATION first, e.g. outage@2h+15m")
    kind = kind.strip().replace("-", "_")
    if kind not in _DEFAULT_ERROR_RATE:
        raise ValueError(f"{where}: unknown kind {kind!r} (expected {', '.join(_DEFAULT_ERROR_RATE)})")
    fields: dict[str, str] = {}
    for option in options:
        key, eq, value = (s.strip() for s in option.partition("="))
        if not eq or not value:
            raise ValueError(f"{where}: option {option!r} is not KEY=VALUE")
        if key not in ("service", "region", "error_rate", "latency_factor"):
            raise ValueError(
                f"{where}: unknown option {key!r} (expected service, region, error_rate, latency_factor)"
            )
        if key in fields:
            raise ValueError(f"{where}: option {key!r} given twice")
        fields[key] = value
    begin = seconds(start, f"{where}: start")
    length = seconds(duration, f"{where}: duration")
    error_rate = _optional_float(fields, "error_rate", where)
    latency_factor = _optional_float(fields, "latency_factor", where)
    try:
        return Incident(
            kind=cast(IncidentKind, kind),  # checked against the kinds above
            start=begin,
            duration=length,
            service=fields.get("service"),
            region=fields.get("region"),
            error_rate=error_rate,
            latency_factor=latency_factor,
        )
    except ValueError as exc:
        # Incident says "incident duration must be ..."; name the text instead.
        raise ValueError(f"{where}: {str(exc).removeprefix('incident ')}") from None


def _optional_float(fields: Mapping[str, str], key: str, where: str) -> float | None:
    if key not in fields:
        return None
    try:
        value = float(fields[key])
    except ValueError:
        raise ValueError(f"{where}: {key} must be a number, got {fields[key]!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {key} must be finite, got {fields[key]!r}")
    return value


def seconds(text: str, what: str = "duration") -> float:
    """Seconds in a duration such as `90s`, `15m` or a bare number; zero too (an offset may be
    0, and a zero length is left to the scenario's checks, which name it)."""
    try:
        return parse_duration(text)
    except DurationError:
        unit = text.strip()[-1:]
        number = text.strip().removesuffix(unit) if unit in _UNITS else text.strip()
        if number.replace(".", "", 1).isdigit() and float(number) == 0:
            return 0.0
        raise ValueError(
            f"{what} must be a number with an optional s/m/h/d/w suffix, e.g. 15m, got {text!r}"
        ) from None


def preset(
    name: str,
    *,
    start: float,
    duration: float,
    rate: float,
    seed: int = 0,
    services: tuple[str, ...] = DEFAULT_SERVICES,
    regions: tuple[str, ...] = DEFAULT_REGIONS,
) -> Scenario:
    """Build a named scenario (see ``PRESET_NAMES``) over the given services and regions."""
    if name not in PRESET_NAMES:
        raise ValueError(f"unknown scenario {name!r} (expected {', '.join(PRESET_NAMES)})")
    # Checked here too (Scenario checks again) because the incident spans
    # below are computed from these and would fail with a less clear message.
    if not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration}")
    if not services or not regions:
        raise ValueError("services and regions must not be empty")

    def span(begin: float, length: float) -> tuple[float, float]:
        # Presets scale with the run: clamp so a short run still gets its incident.
        begin = min(max(begin, 0.0), duration * 0.99)
        return begin, min(length, duration - begin)

    first = services[0]
    incidents: tuple[Incident, ...] = ()
    seasonality = 0.0
    if name == "outage":
        incidents = (Incident("outage", *span(duration / 3, 15 * 60), service=first),)
    elif name == "slow-burn":
        incidents = (Incident("slow_burn", *span(duration / 4, duration), service=first),)
    elif name == "latency":
        middle = span(duration / 2 - 15 * 60, 30 * 60)
        incidents = (Incident("latency", *middle, service=first, latency_factor=5.0),)
    elif name == "mixed":
        seasonality = 0.3
        incidents = (
            Incident(
                "latency",
                *span(duration * 0.15, 20 * 60),
                service=services[2 % len(services)],
                latency_factor=4.0,
            ),
            Incident("outage", *span(duration * 0.5, 10 * 60), service=first, region=regions[-1]),
            Incident("slow_burn", *span(duration * 0.7, duration), service=services[1 % len(services)]),
        )
    return Scenario(
        start=start,
        duration=duration,
        rate=rate,
        services=services,
        regions=regions,
        seasonality=seasonality,
        incidents=incidents,
        seed=seed,
    )
