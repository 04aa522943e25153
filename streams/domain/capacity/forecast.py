"""Forecast an hourly demand series: trend plus daily and weekly seasonality, by least squares.

The model is `(a + b*t) * (1 + daily(t) + weekly(t))`, linear in its parameters once expanded
(level, trend, Fourier terms of the day and the week, and the trend times each of them), so
seasonality grows with demand as it does in real traffic and one solve of a small normal
system fits it. The p10/p90 band comes from the history itself: a rolling-origin backtest
refits the model at earlier origins, forecasts the hours after each, and takes quantiles of
the relative errors; past the backtest's reach the band widens with the square root of lead.
How much of the model a history supports depends on its length; what it could not support is
said in `warnings`, and the band is widened.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

HOURS_PER_DAY = 24
HOURS_PER_WEEK = 168
DAILY_TERMS = 3  # Fourier pairs: the daily shape of web traffic needs about three
WEEKLY_TERMS = 3
MAX_ORIGINS = 6  # backtest refits (a day apart); more cost time and change the band little
MAX_TEST_HOURS = HOURS_PER_WEEK
SHORT_HISTORY_WIDENING = 1.5  # band multiplier when the history is too short to trust it
NO_BACKTEST_WIDENING = 2.0  # band multiplier on in-sample errors, when no origin fits
GAPPY_SHARE = 0.1  # a warning when more than this share of hours has no point

Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Backtest:
    coverage_p10_p90: float | None  # share of held-out hours inside the band (leave-one-origin-out)
    mape: float | None  # mean absolute percentage error of p50 on held-out hours
    origins: int


@dataclass(frozen=True, slots=True)
class Forecast:
    """Hourly p10/p50/p90 for the hours after the history, and how far to trust them."""

    first_hour: int  # absolute hour (epoch seconds / 3600) of p50[0]
    p10: Floats
    p50: Floats
    p90: Floats
    level: float  # the fitted trend at the origin
    growth_per_day: float | None  # trend slope per day over the level (None: no trend fitted)
    backtest: Backtest
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class _Model:
    daily: int
    weekly: int
    trend: bool

    def columns(self) -> list[int]:
        """Which columns of the full design (`_design`) the model uses."""
        return _COLUMNS[self]

    def seasonal(self) -> list[int]:
        """Positions, among the model's own coefficients, of the seasonal ones."""
        return _SEASONAL[self]

    def _columns(self) -> list[int]:
        chosen = [0]
        if self.trend:
            chosen += [1, 2] if self.weekly else [1]
        chosen += [3 + i for i in range(2 * self.daily)]
        chosen += [3 + 2 * DAILY_TERMS + i for i in range(2 * self.weekly)]
        return chosen

    def _seasonal(self) -> list[int]:
        first = 1 + (2 if self.weekly else int(self.trend))
        return list(range(first, len(self._columns())))


_MODELS = (_Model(0, 0, trend=False), _Model(0, 0, trend=True),
           _Model(DAILY_TERMS, 0, trend=True), _Model(DAILY_TERMS, WEEKLY_TERMS, trend=True))
_COLUMNS = {model: model._columns() for model in _MODELS}
_SEASONAL = {model: model._seasonal() for model in _MODELS}
_FIRST_SEASONAL = 3  # column of the first daily term in `_design`
_GRAM_INDEX = {model: np.ix_(_COLUMNS[model], _COLUMNS[model]) for model in _MODELS}


def _model_for(days: float) -> _Model:
    """What a history of `days` supports (each term needs cycles of data to be told apart)."""
    if days < 2:
        return _MODELS[int(days >= 1)]
    return _MODELS[2] if days < 14 else _MODELS[3]


_DESIGN_CACHE: dict[tuple[int, int, int], Floats] = {}
_DESIGN_CACHE_SIZE = 8


def _design(first_hour: int, count: int, origin: int) -> Floats:
    """Every column any model uses, at `count` absolute hours from `first_hour`: level,
    days from the `origin` hour and their square, then Fourier pairs of the day and the week.

    Services forecast at the same hour share their hours, so the last few are kept.
    """
    key = (first_hour, count, origin)
    cached = _DESIGN_CACHE.get(key)
    if cached is not None:
        return cached
    hours = first_hour + np.arange(count, dtype=np.float64)
    days = (hours - origin) / HOURS_PER_DAY
    columns = [np.ones(count), days, days * days]
    for period, terms in ((HOURS_PER_DAY, DAILY_TERMS), (HOURS_PER_WEEK, WEEKLY_TERMS)):
        for k in range(1, terms + 1):
            angle = (2 * math.pi * k / period) * hours
            columns += [np.sin(angle), np.cos(angle)]
    result = np.stack(columns, axis=1)
    result.setflags(write=False)
    if len(_DESIGN_CACHE) >= _DESIGN_CACHE_SIZE:
        _DESIGN_CACHE.pop(next(iter(_DESIGN_CACHE)))
    _DESIGN_CACHE[key] = result
    return result


@dataclass(frozen=True, slots=True)
class _Fit:
    """Seasonal shape from a fit in log space (where the day's and the week's patterns
    multiply), then a straight trend through the deseasonalised demand."""

    model: _Model
    seasonal: Floats  # coefficients of the model's seasonal columns (log space)
    level: float  # deseasonalised demand at the origin (day 0)
    slope: float  # per day

    def shape(self, design: Floats) -> Floats:
        width = 2 * (self.model.daily + self.model.weekly)
        if not width:
            return np.ones(len(design))
        # The seasonal columns are contiguous (daily, then weekly): a slice, not a copy.
        result: Floats = np.exp(design[:, _FIRST_SEASONAL:_FIRST_SEASONAL + width] @ self.seasonal)
        return result

    def predict(self, design: Floats) -> Floats:
        result: Floats = (self.level + self.slope * design[:, 1]) * self.shape(design)
        return result


class _Prefixes:
    """Normal equations of the log-space fit over growing prefixes of the history.

    Rows of hours without a point are zero, so they weigh nothing; each origin of the
    backtest adds only the rows since the previous one.
    """

    def __init__(self, design: Floats, logs: Floats, values: Floats, weights: Floats) -> None:
        self.design = design
        self.logs = logs
        self.values = values  # 0 where there is no point
        # Running sums for the trend's least squares: weight, weight x day, weight x day^2.
        days = design[:, 1]
        self.sums = np.cumsum(np.stack([weights, days, days * days]), axis=1)
        self.rows = 0
        width = design.shape[1]
        self.gram = np.zeros((width, width))
        self.moment = np.zeros(width)

    def until(self, rows: int) -> tuple[Floats, Floats]:
        block = self.design[self.rows:rows]
        self.gram += block.T @ block
        self.moment += block.T @ self.logs[self.rows:rows]
        self.rows = rows
        return self.gram, self.moment


def _fit(prefixes: _Prefixes, rows: int, model: _Model) -> _Fit:
    gram, moment = prefixes.until(rows)
    columns = model.columns()
    sub = gram[_GRAM_INDEX[model]]
    # A whisper of ridge keeps the solve defined when a short history cannot tell terms apart.
    sub.flat[::len(columns) + 1] += 1e-9 * (np.trace(sub) / len(columns) + 1.0)
    coefficients = np.asarray(np.linalg.solve(sub, moment[columns]), dtype=np.float64)
    partial = _Fit(model, coefficients[model.seasonal()], 0.0, 0.0)
    design = prefixes.design[:rows]
    plain = prefixes.values[:rows] / partial.shape(design)  # 0 where there is no point
    total, sum_days, sum_squares = (float(v) for v in prefixes.sums[:, rows - 1])
    sum_plain = float(plain.sum())
    slope = 0.0
    spread = total * sum_squares - sum_days * sum_days
    if model.trend and spread > 1e-12 * total * total:
        slope = (total * float(design[:, 1] @ plain) - sum_days * sum_plain) / spread
    return _Fit(model, partial.seasonal, (sum_plain - slope * sum_days) / total, slope)


def _relative_errors(actual: Floats, predicted: Floats, scale: float) -> Floats:
    floor = 0.01 * scale + 1e-12
    errors: Floats = (actual - predicted) / np.maximum(predicted, floor)
    return errors


def forecast(values: Floats, first_hour: int, horizon_hours: int,
             factor_at: Callable[[Floats], Floats] | None = None) -> Forecast:
    """Forecast `horizon_hours` after an hourly series starting at absolute hour `first_hour`.

    `values` may hold NaN for hours without a point. `factor_at(hours)` gives the launch
    multiplier at absolute hours: the history is divided by it before the fit and the
    forecast multiplied by it, so a launch's step is never read as trend.
    """
    values = np.asarray(values, dtype=np.float64)
    known = np.isfinite(values)
    if not known.any():
        raise ValueError("no demand history to forecast from")
    skip = int(np.argmax(known))
    values, known = values[skip:], known[skip:]
    start = first_hour + skip
    n = len(values)
    warnings: list[str] = []
    missing = 1.0 - float(known.mean())
    if missing > GAPPY_SHARE:
        warnings.append(f"{missing:.0%} of the hours in the history have no data")
    span = n / HOURS_PER_DAY
    model = _model_for(span)
    if span < 2:
        warnings.append(f"only {_span(n)} of history: no daily seasonality"
                        + ("" if model.trend else " and no trend") + ", the band is wider")
    elif span < 14:
        warnings.append(f"only {_span(n)} of history: no weekly seasonality, the band is wider")
    design = _design(start, n + horizon_hours, start + n)
    if factor_at is not None:
        factors = factor_at(start + np.arange(n + horizon_hours, dtype=np.float64))
        values = values / factors[:n]
    weights = known.astype(np.float64)
    scale = float(np.mean(np.abs(values[known]))) or 1.0
    logs = np.where(known, np.log(np.maximum(np.nan_to_num(values), 0.01 * scale)), 0.0)
    prefixes = _Prefixes(design[:n] * weights[:, None], logs,
                         np.where(known, values, 0.0), weights)

    errors, test_hours, backtest = _backtest(prefixes, values, weights, scale)
    fit = _fit(prefixes, n, model)
    p50 = fit.predict(design[n:])
    widening = 1.0
    if errors is None:
        errors = _relative_errors(values[known], fit.predict(design[:n][known]), scale)
        widening = NO_BACKTEST_WIDENING
        warnings.append("history too short for a backtest: the band is in-sample errors, doubled")
    elif span < 14 or backtest.origins < 3:
        widening = SHORT_HISTORY_WIDENING
    if backtest.origins == 1:
        warnings.append("backtest too short to measure the band's coverage")
    low, high = _band(errors)
    lead = np.arange(1, horizon_hours + 1, dtype=np.float64)
    reach = np.sqrt(np.maximum(lead / max(test_hours, 1), 1.0)) * widening
    p10 = np.maximum(p50 * (1 + min(low, 0.0) * reach), 0.0)
    p90 = np.maximum(p50 * (1 + max(high, 0.0) * reach), 0.0)
    p50 = np.maximum(p50, 0.0)
    if factor_at is not None:
        ahead = factors[n:]
        p10, p50, p90 = p10 * ahead, p50 * ahead, p90 * ahead
    growth = fit.slope / fit.level if model.trend and fit.level > 0 else None
    return Forecast(start + n, p10, p50, p90, fit.level, growth, backtest, tuple(warnings))


def _backtest(prefixes: _Prefixes, values: Floats, weights: Floats,
              scale: float) -> tuple[Floats | None, int, Backtest]:
    """Relative errors of refits at rolling origins; (None, ...) when no origin fits.

    Runs before the final fit: the prefixes only grow.
    """
    n = len(values)
    test = int(min(MAX_TEST_HOURS, max(6, n // 4)))
    least_training = int(min(14 * HOURS_PER_DAY, max(n // 2, HOURS_PER_DAY)))
    step = HOURS_PER_DAY if test >= HOURS_PER_DAY else max(test // 2, 1)
    cuts = [n - test - j * step for j in range(MAX_ORIGINS)]
    cuts = sorted(cut for cut in cuts if cut >= least_training and weights[:cut].sum() >= 3)
    per_origin: list[Floats] = []
    absolute: list[Floats] = []
    for cut in cuts:
        fit = _fit(prefixes, cut, _model_for(cut / HOURS_PER_DAY))
        ahead = weights[cut:cut + test] > 0
        if not ahead.any():
            continue
        actual = values[cut:cut + test][ahead]
        predicted = fit.predict(prefixes.design[cut:cut + test][ahead])
        per_origin.append(_relative_errors(actual, predicted, scale))
        positive = actual > 0
        absolute.append(np.abs(actual[positive] - predicted[positive]) / actual[positive])
    if not per_origin:
        return None, test, Backtest(None, None, 0)
    errors = np.concatenate(per_origin)
    pooled = np.concatenate(absolute)
    mape = float(np.mean(pooled)) if len(pooled) else None
    coverage = None
    if len(per_origin) >= 2:
        inside = 0
        total = 0
        for j, held_out in enumerate(per_origin):
            rest = np.concatenate(per_origin[:j] + per_origin[j + 1:])
            low, high = _band(rest)
            inside += int(np.count_nonzero((held_out >= low) & (held_out <= high)))
            total += len(held_out)
        coverage = inside / total
    return errors, test, Backtest(coverage, mape, len(per_origin))


def _band(errors: Floats) -> tuple[float, float]:
    """The 10th and 90th percentiles (linear interpolation, as numpy's default), in one sort:
    numpy's quantile costs more in its set-up than in its work at these sizes."""
    if not len(errors):
        return 0.0, 0.0
    ordered = np.sort(errors)
    last = len(ordered) - 1

    def at(q: float) -> float:
        position = q * last
        below = int(position)
        above = min(below + 1, last)
        return float(ordered[below] + (ordered[above] - ordered[below]) * (position - below))

    return at(0.1), at(0.9)


def _span(hours: int) -> str:
    return f"{hours / HOURS_PER_DAY:.1f} days" if hours >= HOURS_PER_DAY else f"{hours} hours"
