"""`sre-streams capacity` from the command line, on events written by `sre-streams generate`."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import orjson
import pytest

from streams.domain.timestamps import parse_ts
from streams.synthetic.demand import demand_rate
from tests.conftest import assert_valid
from tests.e2e.helpers import cli

START = "2026-11-02T00:00:00Z"
DAYS = 35
RATE = 2000.0  # requests/s over two services: 1000 each at the base
SLOS = """
apiVersion: sre-streams/v1
slos:
  - {name: checkout-availability, service: checkout, objective: 0.999, sli: {availability: {}}}
  - {name: search-availability, service: search, objective: 0.999, sli: {availability: {}}}
capacity:
  - {service: checkout, per_instance: 100, instances: 30, lead_time: 30d}
  - {service: search, per_instance: 100, instances: 70, lead_time: 14d}
  - {service: search, resource: disk, unit: GB, lead_time: 14d}
  - {service: catalog, per_instance: 10, instances: 5, lead_time: 7d}
"""
USABLE = 2800.0  # checkout: 100 * (30 - 2)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("capacity")
    events = folder / "events.jsonl"
    code, _, err = cli("generate", "--scenario", "steady", "--start", START, "--duration",
                       f"{DAYS}d", "--rate", str(RATE), "--services", "checkout,search",
                       "--seasonality", "0.3", "--weekly", "0.1", "--growth", "2%/d",
                       "--as", "counts", "--out", str(events), "--quiet")
    assert code == 0, err
    start = parse_ts(START)
    disk = [orjson.dumps({"ts": start + h * 3600 + 30, "service": "search", "resource": "disk",
                          "used": 500 + 10 * h / 24, "capacity": 2000}) for h in range(DAYS * 24)]
    bad = [b'{"ts": "yesterday", "service": "search", "resource": "disk", "used": 1}',
           b'{"ts": 1800000000, "service": "search", "resource": "disk", "used": -5}',
           b'{"ts": 1800000000, "slo": "nope", "good": 1, "total": 1}']
    # in time order, as a topic's partition would hold them (within the allowed lateness)
    lines = events.read_bytes().splitlines() + disk
    lines.sort(key=lambda line: orjson.loads(line)["ts"])
    events.write_bytes(b"\n".join(lines + bad) + b"\n")
    slos = folder / "slos.yaml"
    slos.write_text(SLOS)
    return {"events": events, "slos": slos, "folder": folder}


@pytest.fixture(scope="module")
def report(files: dict[str, Path]) -> tuple[dict[str, object], str]:
    code, out, err = cli("capacity", "--slos", str(files["slos"]), "--events",
                         str(files["events"]), "--json")
    assert code == 0, err
    return orjson.loads(out), err


def test_the_json_report_is_valid_and_ranks_the_most_urgent_first(
        report: tuple[dict[str, object], str]) -> None:
    document, _ = report
    assert_valid("capacity-report", document)
    services = document["services"]
    assert isinstance(services, list)
    assert [(s["service"], s["resource"], s["status"]) for s in services] == [
        ("checkout", None, "critical"),  # crosses ~2 weeks out, under its 30-day lead time
        ("search", None, "ok"),  # both last the horizon: by name
        ("search", "disk", "ok"),
        ("catalog", None, "unknown"),  # no events at all
    ]
    assert services[3]["warnings"] == ["no history yet"]


def test_checkout_runway_matches_the_generated_demand(
        report: tuple[dict[str, object], str]) -> None:
    document, _ = report
    checkout = document["services"][0]  # type: ignore[index]
    at = parse_ts(document["at"])  # type: ignore[arg-type]
    assert at == parse_ts(START) + DAYS * 86400
    # The generator's own formula: checkout has half the rate; first minute past usable.
    minutes = at + 60 * np.arange(90 * 1440)
    rate = demand_rate(minutes, RATE / 2, parse_ts(START), 0.3, 0.02, 0.1)
    crossing = float(np.argmax(rate >= USABLE)) / 1440
    assert checkout["runway_days"]["p50"] == pytest.approx(crossing, rel=0.15)
    assert checkout["usable_capacity"] == USABLE and checkout["lead_time_days"] == 30
    assert len(checkout["forecast"]) == 90 and checkout["warnings"] == []
    assert 0.7 <= checkout["backtest"]["coverage_p10_p90"] <= 0.9


def test_resource_events_give_the_hourly_maximum_and_their_capacity(
        report: tuple[dict[str, object], str]) -> None:
    document, err = report
    disk = document["services"][2]  # type: ignore[index]
    assert disk["usable_capacity"] == 2000 and disk["unit"] == "GB"
    assert disk["growth_per_day"] == pytest.approx(10 / (500 + 10 * DAYS), rel=0.01)
    # 10 GB a day from 850: 2000 is reached after 115 days, past the 90-day horizon
    assert disk["runway_days"] == {"p50": None, "p90": None}
    lines = err.splitlines()
    assert any(re.search(r"events\.jsonl:\d+: invalid ts: ts is not RFC 3339", line) for line in lines)
    assert any("used must be a finite number >= 0" in line for line in lines)
    assert any("unknown SLO 'nope'" in line for line in lines)
    assert "3 refused" in lines[-1]


def test_at_forecasts_from_an_earlier_instant(files: dict[str, Path]) -> None:
    code, out, err = cli("capacity", "--slos", str(files["slos"]), "--events",
                         str(files["events"]), "--json", "--at", "2026-11-05T00:00:00Z")
    assert code == 0, err
    document = orjson.loads(out)
    assert document["at"] == "2026-11-05T00:00:00.000Z"
    checkout = next(s for s in document["services"] if s["service"] == "checkout")
    assert any("no weekly seasonality" in w for w in checkout["warnings"])
    assert "after --at left out" in err


def test_html_and_markdown_reports_draw_each_service(files: dict[str, Path]) -> None:
    html = files["folder"] / "capacity.html"
    code, out, err = cli("capacity", "--slos", str(files["slos"]), "--events",
                         str(files["events"]), "--report", str(html))
    assert code == 0, err
    assert out == b""
    page = html.read_text()
    svgs = re.findall(r"<svg .*?</svg>", page, flags=re.S)
    assert len(svgs) == 3  # catalog has no history: no chart
    checkout = ElementTree.fromstring(svgs[0])
    classes = {element.get("class") for element in checkout.iter()}
    assert {"history", "forecast", "band", "capacity", "exhausted-p50", "exhausted-p90"} <= classes
    assert not re.search(r"(src|href)=\"https?://", page)  # self-contained
    markdown = files["folder"] / "capacity.md"
    code, _, err = cli("capacity", "--slos", str(files["slos"]), "--events",
                       str(files["events"]), "--report", str(markdown))
    assert code == 0, err
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown.read_text())
    assert len(images) == 3
    for image in images:
        ElementTree.parse(files["folder"] / image)


@pytest.mark.parametrize(("argv", "message"), [
    (["--report", "x.pdf"], "--report must name a .md or .html file"),
    (["--at", "soon"], "--at: ts is not RFC 3339"),
])
def test_bad_usage_exits_2_with_one_line(files: dict[str, Path], argv: list[str],
                                         message: str) -> None:
    code, _, err = cli("capacity", "--slos", str(files["slos"]), "--events",
                       str(files["events"]), *argv)
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_a_file_without_a_capacity_section_is_refused(tmp_path: Path,
                                                      files: dict[str, Path]) -> None:
    slos = tmp_path / "slos.yaml"
    slos.write_text(SLOS.split("capacity:")[0])
    code, _, err = cli("capacity", "--slos", str(slos), "--events", str(files["events"]))
    assert code == 2 and "no capacity section" in err
