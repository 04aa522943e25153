"""The candidate policies (the Workbook's catalog, the SLO file's own) and labelled incident files."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from streams.domain.slo.loader import parse_slo_text
from streams.domain.slo.model import MULTIWINDOW
from streams.tune.catalog import STRATEGIES, candidates, describe_rules, select
from streams.tune.incidents import IncidentFileError, LabelledIncident, load_incidents
from tests.conftest import ID_PREFIX, load_registry, load_schema

DAY = 86400.0
SLOS = """
apiVersion: sre-streams/v1
alerting:
  fast:
    - {name: page, severity: page, long: 1h, short: 5m, budget_percent: 2}
  slow:
    - {name: ticket, severity: ticket, long: 3d, short: 6h, budget_percent: 10}
slos:
  - {name: api, service: api, objective: 0.999, sli: {availability: {}}}
  - {name: web, service: web, objective: 0.99, sli: {availability: {}}, window: 1d, alerting: fast,
     group_by: [region]}
"""


def strategy(name: str):  # type: ignore[no-untyped-def]
    return next(s for s in STRATEGIES if s.name == name)


@pytest.mark.parametrize(("name", "expected"), [
    ("target-error-rate", "page 10m ≥1×"),
    ("longer-window", "page 36h ≥1×"),
    ("burn-rate", "page 1h ≥14.4×"),
    ("multiple-burn-rates", "page 1h ≥14.4×; page 6h ≥6×; ticket 3d ≥1×"),
    ("multiwindow", "page 1h/5m ≥14.4×; page 6h/30m ≥6×; ticket 1d/2h ≥3×; ticket 3d/6h ≥1×"),
])
def test_the_catalog_is_the_workbooks_for_30_days(name: str, expected: str) -> None:
    period = 30 * DAY
    assert describe_rules(strategy(name).policy_for(period, 10).rules, period) == expected


def test_the_catalogs_multiwindow_is_the_builtin_policy() -> None:
    assert strategy("multiwindow").policy_for(30 * DAY, 10).rules == MULTIWINDOW.rules


@pytest.mark.parametrize(("period", "expected"), [
    (7 * DAY, "page 14m/70s ≥14.4×; page 84m/7m ≥6×; ticket 336m/28m ≥3×; ticket 1008m/84m ≥1×"),
    (1 * DAY, "page 2m/10s ≥14.4×; page 12m/1m ≥6×; ticket 48m/4m ≥3×; ticket 144m/12m ≥1×"),
])
def test_windows_scale_with_the_period_and_thresholds_stay(period: float, expected: str) -> None:
    assert describe_rules(strategy("multiwindow").policy_for(period, 10).rules, period) == expected


def test_scaled_windows_are_whole_evaluation_intervals() -> None:
    rules = strategy("multiwindow").policy_for(3600, 10).rules  # a 1-hour period
    # 1h/5m, 6h/30m, 1d/2h, 3d/6h divided by 720: 5 s/0.4 s, 30 s/2.5 s, 120 s/10 s, 360 s/30 s.
    assert [(rule.long, rule.short) for rule in rules] == [(10, 10), (30, 10), (120, 10), (360, 30)]


def test_candidates_are_the_files_policies_then_the_workbooks() -> None:
    found = candidates(parse_slo_text(SLOS), 10)
    assert [c.name for c in found] == [
        "multiwindow", "fast", "slow", "target-error-rate", "longer-window", "burn-rate",
        "multiple-burn-rates", "workbook-multiwindow"]
    # The built-in multiwindow cannot run for a 1-day SLO; the Workbook's, scaled to it, can.
    by_name = {c.name: c for c in found}
    assert "web" in by_name["multiwindow"].skipped and "3d" in by_name["multiwindow"].skipped["web"]
    assert by_name["workbook-multiwindow"].rules_for(parse_slo_text(SLOS).slos[1])
    assert "web" in by_name["slow"].skipped


def test_a_file_policy_equal_to_a_strategy_is_listed_once() -> None:
    one_slo = SLOS.split("  - {name: web")[0]
    found = candidates(parse_slo_text(one_slo), 10)
    multiwindow = next(c for c in found if c.name == "multiwindow")
    assert multiwindow.sources == ("slo-file", "workbook")
    assert not any(c.name == "workbook-multiwindow" for c in found)


def test_an_unused_builtin_policy_is_not_a_file_candidate() -> None:
    text = SLOS.replace("objective: 0.999, sli: {availability: {}}}", "objective: 0.999, "
                        "sli: {availability: {}}, alerting: fast}")
    found = candidates(parse_slo_text(text), 10)
    multiwindow = next(c for c in found if c.name == "multiwindow")
    assert multiwindow.sources == ("workbook",)


def test_select_keeps_the_named_candidates_in_the_order_given() -> None:
    found = candidates(parse_slo_text(SLOS), 10)
    assert [c.name for c in select(found, ["burn-rate", "fast", "burn-rate"])] == ["burn-rate", "fast"]
    with pytest.raises(ValueError, match="unknown policy 'nope' \\(candidates: multiwindow, fast"):
        select(found, ["nope"])



# --- labelled incident files --------------------------------------------------------------


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "incidents.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_incidents_load_with_optional_series_and_title(tmp_path: Path) -> None:
    path = write(tmp_path,
                 '{"slo": "api", "start": "2026-11-23T20:00:00Z", "end": 1795468500}',
                 "",
                 '{"slo": "web", "series": {"region": "eu"}, "start": 1795464000, '
                 '"end": "2026-11-23T21:30:00+01:00", "title": "failover"}')
    first, second = load_incidents(path, parse_slo_text(SLOS))
    assert first == LabelledIncident("api", 1795464000.0, 1795468500.0, line=1)
    assert (second.series, second.title, second.line, second.end) == (
        (("region", "eu"),), "failover", 3, 1795465800.0)


@pytest.mark.parametrize(("line", "message"), [
    ("not json", "incidents.jsonl:2: invalid JSON"),
    ("[1]", "incidents.jsonl:2: expected a JSON object"),
    ('{"slo": "nope", "start": 1795464001, "end": 1795464002}',
     "incidents.jsonl:2: unknown SLO 'nope' (the SLO file has: api, web)"),
    ('{"slo": "api", "start": 1795464005, "end": 1795464005}',
     "incidents.jsonl:2: end 2026-11-23T20:00:05.000Z must be after start"),
    ('{"slo": "api", "end": 1795464005}', "incidents.jsonl:2: missing start"),
    ('{"slo": "api", "start": "yesterday", "end": 1795464005}', "incidents.jsonl:2: start is not RFC 3339"),
    ('{"slo": "api", "start": 1795464001, "end": 1795464002, "severity": "P1"}',
     "incidents.jsonl:2: unknown key 'severity'"),
    ('{"slo": "web", "series": {"zone": "a"}, "start": 1795464001, "end": 1795464002}',
     "incidents.jsonl:2: series key 'zone' is not in the group_by of SLO web (region)"),
    ('{"slo": "web", "series": {"region": 1}, "start": 1795464001, "end": 1795464002}',
     "incidents.jsonl:2: series must be an object of string values"),
])
def test_a_bad_incident_line_is_named_by_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, '{"slo": "api", "start": 1795464001, "end": 1795464002}', line)
    with pytest.raises(IncidentFileError) as error:
        load_incidents(path, parse_slo_text(SLOS))
    assert str(error.value).startswith(f"{tmp_path}/{message}")


def test_a_missing_incident_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IncidentFileError, match=r"nope\.jsonl: cannot read file"):
        load_incidents(tmp_path / "nope.jsonl", parse_slo_text(SLOS))


def test_the_schema_of_an_incident_line_agrees_with_the_loader(tmp_path: Path) -> None:
    validator = Draft202012Validator({"$ref": ID_PREFIX + "tune-report.schema.json#/$defs/incident"},
                                     registry=load_registry())
    examples = load_schema("tune-report")["$defs"]["incident"]["examples"]
    for example in examples:
        validator.validate(example)
    assert not validator.is_valid({"slo": "api", "start": 1, "end": 2, "severity": "P1"})
    assert not validator.is_valid({"slo": "api", "start": 1})
