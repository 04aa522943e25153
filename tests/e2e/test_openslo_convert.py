"""Native SLO files converted to OpenSLO v1 and back: the same SLO set, the same backtest bytes.

Every native SLO file of the project (examples, the demo's, the golden test's) and SLO texts
of the unit tests (hysteresis, budget policies, incidents and notify) go through
`slo convert --to openslo` and `--to native`; the backtest is run on the native file and on its
OpenSLO form over the same events and must write the same alerts and budgets byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.domain.slo.loader import parse_slo_text
from streams.domain.slo.model import SloFile
from tests.e2e.helpers import cli
from tests.unit.domain.engine.test_evaluation import AVAILABILITY, FLAPPY
from tests.unit.domain.test_policy import FILE as POLICY_FILE
from tests.unit.runtime.incidents.conftest import FILE as INCIDENTS_FILE

ROOT = Path(__file__).resolve().parents[2]
NATIVE_FILES = {
    "examples": ROOT / "examples" / "slos.yaml",
    "demo": ROOT / "streams" / "data" / "demo-slos.yaml",
    "golden": ROOT / "tests" / "golden" / "slos.yaml",
}
TEXTS = {
    "availability": AVAILABILITY % {"min_events": 100},
    "hysteresis": FLAPPY % {"extra": ", resolve_below: 0.5, keep_firing_for: 10m"},
    "budget-policies": POLICY_FILE,
    "incidents-notify": INCIDENTS_FILE,
    "calendar": """apiVersion: sre-streams/v1
defaults: {window: {calendar: month, timezone: Europe/Berlin}}
slos:
  - {name: a, service: api, objective: 0.999, sli: {availability: {}}}
  - {name: b, service: api, objective: 0.99, sli: {availability: {}},
     window: {calendar: week, timezone: America/New_York}}
  - {name: c, service: api, objective: 0.99, sli: {availability: {}}, window: {calendar: quarter}}
""",
    "toil-capacity": """apiVersion: sre-streams/v1
slos:
  - {name: checkout-availability, service: checkout, objective: 0.999, sli: {availability: {}}}
toil:
  cap: 0.4
  teams: [{name: payments, people: 4}]
  runbooks:
    - {name: restart, match: {slo: checkout-availability}, mode: auto, saves_minutes: 20,
       action: {webhook: {url: "https://jobs.example/run", body: {service: "{service}"}}}}
capacity:
  - {service: checkout, per_instance: 100, instances: 37, lead_time: 30d}
""",
    "odd-short-window": """apiVersion: sre-streams/v1
alerting:
  odd:
    - {name: fast, severity: page, long: 2h, short: 7m, budget_percent: 3.3, alert_after: 3m}
    - {name: slow, severity: ticket, long: 3d, short: 1h, budget_percent: 10}
slos:
  - {name: a, service: api, objective: '99.95%', sli: {latency: {threshold_ms: 250.5}},
     alerting: odd, window: 28d, match: {route: /pay, canary: false}, max_series: 7}
  - {name: b, service: api, objective: 0.99, sli: {availability: {bad_status: [5xx, 429, 4xx]}},
     alerting: odd, window: 4w}
  - {name: c, service: api, objective: 0.9, sli: {availability: {}}, alerting: odd, window: 7d}
""",
}


def convert(path: Path, to: str, out: Path) -> Path:
    code, written, errors = cli("slo", "convert", "--to", to, str(path))
    assert code == 0, errors
    assert errors == ""  # no warning on our own output
    out.write_bytes(written)
    return out


def same_set(a: SloFile, b: SloFile) -> None:
    assert a.slos == b.slos
    assert a.incidents == b.incidents
    assert a.notify == b.notify
    assert a.toil == b.toil
    assert a.capacity == b.capacity


@pytest.mark.parametrize("name", sorted(NATIVE_FILES) + sorted(TEXTS))
def test_native_to_openslo_and_back_is_the_same_slo_set(name: str, tmp_path: Path) -> None:
    native = NATIVE_FILES.get(name)
    if native is None:
        native = tmp_path / "native.yaml"
        native.write_text(TEXTS[name])
    original = parse_slo_text(native.read_text())
    openslo = convert(native, "openslo", tmp_path / "openslo.yaml")
    assert openslo.read_text().startswith("apiVersion: openslo/v1\n")
    same_set(parse_slo_text(openslo.read_text()), original)
    back = convert(openslo, "native", tmp_path / "back.yaml")
    assert back.read_text().startswith("apiVersion: sre-streams/v1\n")
    same_set(parse_slo_text(back.read_text()), original)
    # and OpenSLO again from the native form is the same text
    assert convert(back, "openslo", tmp_path / "again.yaml").read_text() == openslo.read_text()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three hours of example traffic with its preset outage (services of examples and demo)."""
    out = tmp_path_factory.mktemp("events") / "events.jsonl"
    code, _, errors = cli("generate", "--scenario", "mixed", "--duration", "3h", "--rate", "30",
                          "--seed", "18", "--out", str(out), "--quiet")
    assert code == 0, errors
    return out


def backtest(slos: Path, events: Path, out: Path) -> tuple[bytes, bytes]:
    out.mkdir()
    code, _, errors = cli("backtest", "--slos", str(slos), "--events", str(events), "--quiet",
                          "--out", str(out / "alerts.jsonl"), "--budgets", str(out / "budgets.jsonl"))
    assert code == 0, errors
    return (out / "alerts.jsonl").read_bytes(), (out / "budgets.jsonl").read_bytes()


@pytest.mark.parametrize("name", sorted(NATIVE_FILES))
def test_a_native_file_and_its_openslo_form_backtest_to_the_same_bytes(
        name: str, tmp_path: Path, generated: Path) -> None:
    native = NATIVE_FILES[name]
    events = ROOT / "tests" / "golden" / "events.jsonl.gz" if name == "golden" else generated
    openslo = convert(native, "openslo", tmp_path / "openslo.yaml")
    alerts, budgets = backtest(native, events, tmp_path / "native")
    assert alerts.count(b'"firing"') > 0 and budgets.count(b"\n") > 100  # there is something to compare
    assert backtest(openslo, events, tmp_path / "openslo") == (alerts, budgets)


def test_validate_reads_a_directory_and_prints_the_warnings(tmp_path: Path) -> None:
    from tests.unit.domain.slo.test_openslo import SET

    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "slos.yaml").write_text(SET)
    code, out, errors = cli("slo", "validate", str(tmp_path / "set"))
    assert code == 0, errors
    assert out.decode().startswith(f"{tmp_path / 'set'}: OK, 3 SLO(s), 10 alert rule(s)\n")
    assert errors.splitlines()[0] == (
        f"{tmp_path / 'set'}: warning: slos.yaml: documents[2].spec.notificationTargets: "
        "ignored: alerts reach receivers by the routes of the notify section")
    assert len(errors.splitlines()) == 5


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three hours of requests to the services the test texts name (api, shop, checkout,
    search; route /pay, no canary), with 20 minutes of errors and slow answers."""
    import orjson

    start = 1_764_543_600  # 2025-11-30T23:00:00Z: midnight in Berlin, a month boundary
    lines = []
    for second in range(0, 3 * 3600, 2):
        bad = 5400 <= second < 6600
        for n, service in enumerate(("api", "shop", "checkout", "search")):
            failing = bad and (second // 2 + n) % 3 == 0
            lines.append(orjson.dumps({
                "ts": start + second + n * 0.1, "service": service, "route": "/pay",
                "canary": False, "operation": "pay", "status": 503 if failing else 200,
                "latency_ms": 900.0 if failing else 80.0 + n}))
    out = tmp_path_factory.mktemp("events") / "crafted.jsonl"
    out.write_bytes(b"\n".join(lines) + b"\n")
    return out


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_each_test_slo_text_and_its_openslo_form_backtest_to_the_same_bytes(
        name: str, tmp_path: Path, crafted: Path) -> None:
    native = tmp_path / "native.yaml"
    native.write_text(TEXTS[name])
    openslo = convert(native, "openslo", tmp_path / "openslo.yaml")
    alerts, budgets = backtest(native, crafted, tmp_path / "native")
    assert alerts.count(b'"firing"') > 0 and budgets.count(b"\n") > 100  # something to compare
    assert backtest(openslo, crafted, tmp_path / "openslo") == (alerts, budgets)
