"""The synthetic traffic generator: statistics, incidents, encoding and the `generate` command."""

from __future__ import annotations

import argparse
import gzip
import io
import statistics
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.cli.generate import add_parser, run
from streams.synthetic.traffic import (
    DEFAULT_REGIONS,
    DEFAULT_SERVICES,
    PRESET_NAMES,
    Incident,
    RequestEvent,
    Scenario,
    generate,
    iter_jsonl,
    operations,
    parse_incident,
    preset,
)

START = 1795392000.0  # 2026-11-23T00:00:00Z, a midnight UTC
HOUR = 3600.0


def scenario(**overrides: Any) -> Scenario:
    base: dict[str, Any] = {"start": START, "duration": 600.0, "rate": 100.0, "seed": 7}
    return Scenario(**(base | overrides))


def events(**overrides: Any) -> list[RequestEvent]:
    return list(generate(scenario(**overrides)))


def server_error_share(evs: list[RequestEvent]) -> float:
    return sum(e["status"] >= 500 for e in evs) / len(evs)


# --- shape, order, determinism ------------------------------------------------


def test_same_seed_gives_identical_events_and_another_seed_does_not() -> None:
    assert events(seed=3) == events(seed=3)
    assert events(seed=3) != events(seed=4)


def test_events_have_the_contract_shape_and_rounding() -> None:
    evs = events(duration=60.0)
    assert evs
    for e in evs:
        assert list(e) == ["ts", "service", "operation", "region", "status", "latency_ms"]
        assert isinstance(e["ts"], float)
        assert round(e["ts"], 3) == e["ts"]
        assert round(e["latency_ms"], 1) == e["latency_ms"]
        assert e["latency_ms"] >= 0
        assert e["service"] in DEFAULT_SERVICES
        assert e["region"] in DEFAULT_REGIONS
        assert e["operation"] in dict(operations(e["service"]))
        assert e["status"] in {200, 201, 204, 404, 500, 502, 503}


@pytest.mark.parametrize(
    ("start", "duration", "rate"),
    [
        pytest.param(START, 600.0, 100.0, id="whole seconds over several chunks"),
        pytest.param(START + 0.25, 10.5, 50.0, id="fractional start and duration"),
        pytest.param(START, 5.0, 200_000.0, id="chunks shorter than a minute at high rates"),
    ],
)
def test_events_are_sorted_and_inside_the_scenario(start: float, duration: float, rate: float) -> None:
    ts = [e["ts"] for e in generate(scenario(start=start, duration=duration, rate=rate))]
    assert ts == sorted(ts)
    assert start <= ts[0]
    assert ts[-1] < start + duration


def test_generation_is_lazy_so_huge_scenarios_start_at_once() -> None:
    # 10^11 events: only lazy, chunked generation can yield the first one.
    first = next(generate(scenario(duration=1e6, rate=1e5)))
    assert first["ts"] == pytest.approx(START, abs=1.0)


def test_mean_rate_matches_over_a_long_run() -> None:
    count = sum(1 for _ in generate(scenario(duration=HOUR, rate=100.0)))
    # Poisson: sd = sqrt(360_000) = 600, so 1% is six standard deviations.
    assert count == pytest.approx(100.0 * HOUR, rel=0.01)


def test_traffic_is_split_evenly_over_services_and_regions() -> None:
    evs = events(duration=HOUR, rate=60.0)
    cells = {(s, r): 0 for s in DEFAULT_SERVICES for r in DEFAULT_REGIONS}
    for e in evs:
        cells[e["service"], e["region"]] += 1
    for count in cells.values():
        assert count == pytest.approx(len(evs) / len(cells), rel=0.03)


def test_operations_are_deterministic_per_service_with_shares_summing_to_one() -> None:
    ops = operations("checkout")
    assert ops == operations("checkout")
    assert [name for name, _ in ops] == [
        "GET /checkout",
        "GET /checkout/{id}",
        "POST /checkout",
        "DELETE /checkout/{id}",
    ]
    assert sum(share for _, share in ops) == pytest.approx(1.0)
    assert [share for _, share in ops] != [share for _, share in operations("search")]


# --- status codes and latency ---------------------------------------------------


def test_base_error_rate_is_the_share_of_server_errors() -> None:
    evs = events(rate=1000.0, base_error_rate=0.01)
    # 600k events: sd of the 1% share is ~0.013% absolute, so 5% relative is ~4 sd.
    assert server_error_share(evs) == pytest.approx(0.01, rel=0.05)
    not_found = sum(e["status"] == 404 for e in evs) / len(evs)
    assert not_found == pytest.approx(0.01, rel=0.1)
    ok = [e["status"] for e in evs if e["status"] < 400]
    assert ok.count(200) / len(ok) > 0.7
    failures = [e["status"] for e in evs if e["status"] >= 500]
    assert failures.count(500) / len(failures) == pytest.approx(0.7, abs=0.05)


def test_latency_follows_the_configured_median_and_p99() -> None:
    latencies = [e["latency_ms"] for e in events(rate=500.0)]
    cuts = statistics.quantiles(latencies, n=100)
    assert statistics.median(latencies) == pytest.approx(80.0, rel=0.03)
    assert cuts[98] == pytest.approx(400.0, rel=0.05)


OUTAGE_CASES = [
    pytest.param(Incident("outage", 600, 300, service="a", region="eu"), {("a", "eu")}, id="one cell"),
    pytest.param(Incident("outage", 600, 300, service="a"), {("a", "eu"), ("a", "us")}, id="one service"),
    pytest.param(Incident("outage", 600, 300, region="us"), {("a", "us"), ("b", "us")}, id="one region"),
    pytest.param(
        Incident("outage", 600, 300),
        {("a", "eu"), ("a", "us"), ("b", "eu"), ("b", "us")},
        id="everything",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("incident", "hit"), OUTAGE_CASES)
def test_an_outage_fails_every_request_of_its_cells_during_its_interval_only(
    incident: Incident, hit: set[tuple[str, str]]
) -> None:
    evs = events(
        duration=1800.0,
        services=("a", "b"),
        regions=("eu", "us"),
        base_error_rate=0.0,
        incidents=(incident,),
    )

    def is_targeted(e: RequestEvent) -> bool:
        return START + 600 <= e["ts"] < START + 900 and (e["service"], e["region"]) in hit

    targeted = [e for e in evs if is_targeted(e)]
    spared = [e for e in evs if not is_targeted(e)]
    assert len(targeted) > 1000
    assert all(e["status"] >= 500 for e in targeted)
    assert not any(e["status"] >= 500 for e in spared)


def test_a_slow_burn_raises_the_error_rate_of_its_service_to_its_own_rate() -> None:
    burn = Incident("slow_burn", 0, 600, service="checkout", error_rate=0.02)
    evs = events(rate=1500.0, base_error_rate=0.001, incidents=(burn,))
    burning = [e for e in evs if e["service"] == "checkout"]
    others = [e for e in evs if e["service"] != "checkout"]
    assert server_error_share(burning) == pytest.approx(0.02, rel=0.1)
    assert server_error_share(others) == pytest.approx(0.001, rel=0.3)


def test_an_incident_never_lowers_a_higher_base_error_rate() -> None:
    burn = Incident("slow_burn", 0, 600, error_rate=0.001)
    evs = events(rate=500.0, base_error_rate=0.05, incidents=(burn,))
    assert server_error_share(evs) == pytest.approx(0.05, rel=0.1)


@pytest.mark.parametrize(
    ("incident", "factor"),
    [
        pytest.param(Incident("latency", 0, 600, service="search"), 4.0, id="default factor 4"),
        pytest.param(Incident("latency", 0, 600, service="search", latency_factor=2.5), 2.5, id="given"),
    ],
)
def test_a_latency_incident_multiplies_the_median_latency(incident: Incident, factor: float) -> None:
    evs = events(rate=300.0, incidents=(incident,))
    slow = statistics.median(e["latency_ms"] for e in evs if e["service"] == "search")
    normal = statistics.median(e["latency_ms"] for e in evs if e["service"] != "search")
    assert slow / normal == pytest.approx(factor, rel=0.05)
    assert server_error_share(evs) < 0.002


def test_seasonality_peaks_at_noon_and_bottoms_at_midnight_utc() -> None:
    evs = events(duration=24 * HOUR, rate=10.0, seasonality=0.5)
    assert len(evs) == pytest.approx(10.0 * 24 * HOUR, rel=0.01)
    hours = [0] * 24
    for e in evs:
        hours[int((e["ts"] - START) // HOUR)] += 1
    peak = hours[11] + hours[12]  # 11:00-13:00, factor ~1.5
    trough = hours[23] + hours[0]  # 23:00-01:00, factor ~0.5
    assert peak / trough == pytest.approx(1.4957 / 0.5043, rel=0.1)


def test_seasonality_zero_keeps_the_rate_flat() -> None:
    evs = events(duration=4 * HOUR, rate=20.0, start=START + 10 * HOUR)
    hours = [0] * 4
    for e in evs:
        hours[int((e["ts"] - START - 10 * HOUR) // HOUR)] += 1
    assert max(hours) / min(hours) == pytest.approx(1.0, abs=0.05)


# --- validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rate": 0.0}, "rate must be > 0"),
        ({"duration": -1.0}, "duration must be > 0"),
        ({"services": ()}, "services must not be empty"),
        ({"regions": ("eu", "eu")}, "regions must be unique"),
        ({"base_error_rate": 1.5}, "base_error_rate must be in"),
        ({"seasonality": -0.1}, "seasonality must be in"),
        ({"latency_median_ms": 500.0}, "latency_median_ms < latency_p99_ms"),
        ({"incidents": (Incident("outage", 500, 200),)}, "ends at 700s, after the scenario's 10m"),
        ({"incidents": (Incident("outage", 0, 60, service="nope"),)}, "service 'nope' is not"),
        ({"incidents": (Incident("outage", 0, 60, region="mars"),)}, "region 'mars' is not"),
    ],
)
def test_invalid_scenarios_are_rejected_with_a_clear_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scenario(**overrides)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Incident("meltdown", 0, 1), "kind must be one of"),  # type: ignore[arg-type]
        (lambda: Incident("outage", -1, 1), "start must be >= 0"),
        (lambda: Incident("outage", 0, 0), "duration must be > 0"),
        (lambda: Incident("outage", 0, 1, error_rate=2.0), "error_rate must be in"),
        (lambda: Incident("latency", 0, 1, latency_factor=0.0), "latency_factor must be > 0"),
    ],
)
def test_invalid_incidents_are_rejected(build: Callable[[], Incident], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    ("kind", "error_rate", "latency_factor"),
    [("outage", 1.0, 1.0), ("slow_burn", 0.005, 1.0), ("latency", 0.0, 4.0)],
)
def test_incident_defaults_depend_on_the_kind(kind: Any, error_rate: float, latency_factor: float) -> None:
    incident = Incident(kind, 0, 60)
    assert incident.error_rate == pytest.approx(error_rate)
    assert incident.latency_factor == pytest.approx(latency_factor)


# --- parse_incident ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("outage@2h+15m", Incident("outage", 7200, 900)),
        (
            "outage@2h+15m,service=checkout,region=eu",
            Incident("outage", 7200, 900, service="checkout", region="eu"),
        ),
        ("slow_burn@0+1d,error_rate=0.01", Incident("slow_burn", 0, 86400, error_rate=0.01)),
        ("slow-burn@90s+1.5h", Incident("slow_burn", 90, 5400)),
        (
            "latency@30m+10m, latency_factor=3 ,service=search",
            Incident("latency", 1800, 600, service="search", latency_factor=3.0),
        ),
        ("latency@1w+2d", Incident("latency", 604800, 172800)),
        ("outage@120+60", Incident("outage", 120, 60)),
    ],
)
def test_parse_incident_accepts_the_compact_form(text: str, expected: Incident) -> None:
    assert parse_incident(text) == expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("outage", "expected KIND@START"),
        ("outage@2h", "expected KIND@START"),
        ("meltdown@2h+15m", "unknown kind 'meltdown'"),
        ("outage@2x+15m", "start must be a number"),
        ("outage@2h+soon", "duration must be a number"),
        ("outage@2h+0m", "duration must be > 0"),
        ("outage@2h+15m,colour=red", "unknown option 'colour'"),
        ("outage@2h+15m,service", "option 'service' is not KEY=VALUE"),
        ("outage@2h+15m,service=a,service=b", "option 'service' given twice"),
        ("outage@2h+15m,error_rate=lots", "error_rate must be a number, got 'lots'"),
        ("outage@2h+15m,error_rate=1.5", "error_rate must be in"),
        ("latency@2h+15m,latency_factor=inf", "latency_factor must be finite"),
    ],
)
def test_parse_incident_rejects_bad_forms_naming_the_bad_part(text: str, names: str) -> None:
    with pytest.raises(ValueError, match=names) as raised:
        parse_incident(text)
    assert str(raised.value).startswith(f"incident {text!r}")


# --- presets ----------------------------------------------------------------------


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_builds_a_valid_scenario_even_for_short_runs(name: str) -> None:
    for duration in (6 * HOUR, 600.0):
        built = preset(name, start=START, duration=duration, rate=10.0, seed=2)
        assert built.services == DEFAULT_SERVICES
        assert built.regions == DEFAULT_REGIONS
        assert built.seed == 2
        assert all(i.end <= duration + 1e-3 for i in built.incidents)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("steady", ()),
        ("outage", (Incident("outage", 2 * HOUR, 900, service="checkout"),)),
        ("slow-burn", (Incident("slow_burn", 1.5 * HOUR, 4.5 * HOUR, service="checkout"),)),
        (
            "latency",
            (Incident("latency", 2.75 * HOUR, 1800, service="checkout", latency_factor=5.0),),
        ),
    ],
)
def test_single_incident_presets_target_the_first_service(name: str, expected: tuple[Incident, ...]) -> None:
    built = preset(name, start=START, duration=6 * HOUR, rate=10.0)
    assert built.incidents == expected
    assert built.seasonality == 0.0


def test_the_mixed_preset_has_seasonality_and_three_kinds_of_incident() -> None:
    built = preset("mixed", start=START, duration=6 * HOUR, rate=10.0)
    assert built.seasonality == pytest.approx(0.3)
    assert sorted(i.kind for i in built.incidents) == ["latency", "outage", "slow_burn"]
    outage = next(i for i in built.incidents if i.kind == "outage")
    assert outage.region is not None
    assert len({i.service for i in built.incidents}) == 3


def test_unknown_preset_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'chaos'"):
        preset("chaos", start=START, duration=60.0, rate=1.0)


# --- JSONL encoding ---------------------------------------------------------------


def test_jsonl_lines_are_one_event_each_ending_in_newline() -> None:
    s = scenario(duration=30.0)
    lines = list(iter_jsonl(s))
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    assert [orjson.loads(line) for line in lines] == list(generate(s))


@pytest.mark.parametrize("batch", [2, 7, 1000])
def test_batched_lines_are_arrays_of_up_to_batch_events(batch: int) -> None:
    s = scenario(duration=30.0)
    arrays = [orjson.loads(line) for line in iter_jsonl(s, batch=batch)]
    assert all(isinstance(a, list) and 1 <= len(a) <= batch for a in arrays)
    assert all(len(a) == batch for a in arrays[:-1])
    assert [e for a in arrays for e in a] == list(generate(s))


def test_batch_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="batch must be >= 1"):
        next(iter_jsonl(scenario(), batch=0))


# --- the generate command -------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sre-streams")
    add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["generate", *argv])


def invoke(*argv: str) -> tuple[int, bytes, str]:
    stdout, stderr = io.BytesIO(), io.StringIO()
    code = run(parse(*argv), stdout, stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def test_cli_writes_gzip_that_round_trips(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl.gz"
    code, stdout, stderr = invoke("--duration", "10m", "--rate", "20", "--out", str(out))
    assert code == 0
    assert stdout == b""
    lines = gzip.decompress(out.read_bytes()).splitlines()
    decoded = [orjson.loads(line) for line in lines]
    expected = preset("outage", start=START, duration=600.0, rate=20.0, seed=1)
    assert decoded == list(generate(expected))
    assert stderr == (
        f"sre-streams generate: wrote {len(decoded):,} events "
        f"(2026-11-23T00:00:00.{round(decoded[0]['ts'] % 1 * 1000):03d}Z .. "
        f"2026-11-23T00:09:59.{round(decoded[-1]['ts'] % 1 * 1000):03d}Z) to {out}\n"
    )


def test_cli_writes_to_stdout_and_is_quiet_when_asked() -> None:
    code, stdout, stderr = invoke("--duration", "60", "--batch", "10", "--start", str(START), "--quiet")
    assert code == 0
    assert stderr == ""
    arrays = [orjson.loads(line) for line in stdout.splitlines()]
    assert all(isinstance(a, list) for a in arrays)
    assert START <= arrays[0][0]["ts"] < START + 60


def test_cli_options_override_the_preset() -> None:
    code, stdout, _ = invoke(
        "--scenario", "steady",
        "--start", "2026-11-23T12:00:00",  # naive: UTC
        "--duration", "30m",
        "--rate", "100",
        "--services", "api,web",
        "--regions", "ap",
        "--error-rate", "0",
        "--incident", "outage@10m+5m,service=web",
        "--seed", "9",
    )  # fmt: skip
    assert code == 0
    evs = [orjson.loads(line) for line in stdout.splitlines()]
    assert {e["service"] for e in evs} == {"api", "web"}
    assert {e["region"] for e in evs} == {"ap"}
    failed = [e for e in evs if e["status"] >= 500]
    assert failed
    assert {e["service"] for e in failed} == {"web"}
    noon = START + 12 * HOUR
    assert all(noon + 600 <= e["ts"] < noon + 900 for e in failed)


def test_cli_can_drop_the_preset_incidents() -> None:
    code, stdout, _ = invoke(
        "--duration", "30m", "--rate", "50", "--error-rate", "0", "--no-preset-incidents"
    )
    assert code == 0
    assert not any(orjson.loads(line)["status"] >= 500 for line in stdout.splitlines())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--incident", "outage@2h"), "incident 'outage@2h': expected KIND@START+DURATION"),
        (("--incident", "outage@5h+2h"), "ends at 7h, after the scenario's 6h"),
        (("--incident", "outage@1h+1h,service=nope"), "service 'nope' is not one of"),
        (("--rate", "fast"), "--rate must be a number, got 'fast'"),
        (("--rate", "0"), "rate must be > 0"),
        (("--duration", "forever"), "--duration must be a number"),
        (("--duration", "0"), "duration must be > 0"),
        (("--start", "yesterday"), "--start must be RFC 3339"),
        (("--batch", "0"), "--batch must be >= 1"),
        (("--seed", "x"), "--seed must be an integer"),
        (("--services", "a,,b"), "--services must be comma-separated non-empty names"),
        (("--seasonality", "2"), "seasonality must be in [0, 1]"),
    ],
)
def test_cli_reports_a_bad_value_in_one_line_and_exits_2(argv: tuple[str, ...], message: str) -> None:
    code, stdout, stderr = invoke(*argv)
    assert code == 2
    assert stdout == b""
    assert stderr.count("\n") == 1
    assert stderr.startswith("sre-streams generate: error: ")
    assert message in stderr


def test_cli_reports_an_unwritable_output_file_and_exits_1(tmp_path: Path) -> None:
    code, _, stderr = invoke("--duration", "60", "--out", str(tmp_path / "missing" / "x.jsonl"))
    assert code == 1
    assert stderr.startswith("sre-streams generate: error: cannot write")
    assert stderr.count("\n") == 1


def test_replace_revalidates_a_scenario() -> None:
    with pytest.raises(ValueError, match="rate must be > 0"):
        replace(scenario(), rate=-1.0)
