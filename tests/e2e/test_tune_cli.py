"""`sre-streams tune` from the command line: the reports, their charts in a browser, bad usage."""

from __future__ import annotations

import gzip
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import orjson
import pytest

from streams.domain.timestamps import format_ts
from tests.conftest import BLIPS_SLO_FILE, assert_valid, blips_and_outage, system_binary, write_events
from tests.e2e.helpers import cli

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SVG = "{http://www.w3.org/2000/svg}"
PAGE_RED, INCIDENT_PURPLE, BURN_BLUE = (0xD6, 0x27, 0x28), (0x6A, 0x3D, 0x9A), (0x1F, 0x77, 0xB4)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tune")
    events, incident = blips_and_outage()
    slos = folder / "slos.yaml"
    slos.write_text(BLIPS_SLO_FILE)
    incidents = folder / "incidents.jsonl"
    incidents.write_bytes(orjson.dumps({"slo": "api", "start": format_ts(incident.start),
                                        "end": format_ts(incident.end), "title": "total outage"}) + b"\n")
    return {"slos": slos, "events": write_events(folder / "events.jsonl", events), "incidents": incidents}


@pytest.fixture(scope="module")
def json_report(files: dict[str, Path]) -> tuple[int, bytes, str]:
    """The JSON report, read by several tests: the tuner runs for seconds, so once a module."""
    return tune(files, "--json", "--quiet")


@pytest.fixture(scope="module")
def html_report(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    report = tmp_path_factory.mktemp("html") / "tuning.html"
    code, _, err = tune(files, "--report", str(report), "--quiet")
    assert code == 0, err
    return report


def tune(files: dict[str, Path], *extra: str) -> tuple[int, bytes, str]:
    return cli("tune", "--slos", str(files["slos"]), "--events", str(files["events"]),
               "--incidents", str(files["incidents"]), *extra)


def test_the_markdown_report_reads_well_in_a_terminal(files: dict[str, Path]) -> None:
    code, out, err = tune(files)
    assert code == 0, err
    text = out.decode()
    assert "**Recommended: multiwindow**" in text
    assert "<" not in text  # no HTML in what a terminal shows
    tables = re.findall(r"(?:^\|.*\|\n)+", text, flags=re.MULTILINE)
    assert len(tables) == 3  # pages, tickets, candidates
    for table in tables:
        assert len({len(line) for line in table.splitlines()}) == 1, table  # columns aligned
    timeline = text.split("```text\n")[1].split("```")[0].splitlines()
    bars = {line.split()[0]: line for line in timeline[1:-1]}
    assert bars["incidents"].count("█") == bars["burn-rate"].count("█") == 2  # 1 h of 72 columns
    assert bars["target-error-rate"].count("█") > 60  # a page every hour
    assert "tune: 25,920 events" in err and "api: recommended multiwindow" in err
    # Three days of events: scoring starts before the 3-day windows are full, and it says so.
    assert "warning: api: scoring starts 1d12h after the first event, before the longest window (3d)" in err
    assert text.count("**Warning:** api: scoring starts") == 1


def test_the_json_report_matches_its_schema(json_report: tuple[int, bytes, str]) -> None:
    code, out, err = json_report
    assert code == 0 and err == ""
    report = orjson.loads(out)
    assert_valid("tune-report", report)
    (slo,) = report["slos"]
    assert slo["recommendation"]["policy"] == "multiwindow"
    scores = {(p["policy"], s["severity"]): s for p in slo["policies"] for s in p["scores"]}
    assert scores[("multiwindow", "page")]["precision"] == 1.0
    assert scores[("target-error-rate", "page")]["precision"] < 0.5


def test_policy_limits_the_candidates(files: dict[str, Path]) -> None:
    code, out, err = tune(files, "--json", "--quiet", "--policy", "burn-rate", "--policy", "multiwindow")
    assert code == 0, err
    report = orjson.loads(out)
    assert [c["name"] for c in report["candidates"]] == ["burn-rate", "multiwindow"]


def test_gzip_and_batched_events_give_the_same_report(files: dict[str, Path], tmp_path: Path,
                                                     json_report: tuple[int, bytes, str]) -> None:
    events = [orjson.loads(line) for line in files["events"].read_bytes().splitlines()]
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(b"\n".join(orjson.dumps(events[i:i + 50])
                                                for i in range(0, len(events), 50)) + b"\n"))
    _, plain, _ = json_report
    code, batched, err = cli("tune", "--slos", str(files["slos"]), "--events", str(packed),
                             "--incidents", str(files["incidents"]), "--json", "--quiet")
    assert code == 0, err
    strip = re.compile(rb'"events": "[^"]*"')
    assert strip.sub(b"", batched) == strip.sub(b"", plain)


def test_the_markdown_report_has_its_svg_chart_beside_it(files: dict[str, Path], tmp_path: Path) -> None:
    report = tmp_path / "tuning.md"
    code, out, err = tune(files, "--report", str(report))
    assert code == 0, err
    assert out == b"" and f"report written to {report}" in err
    assert "![api: burn rates, alert spans and labelled incidents](tuning-api.svg)" in report.read_text()
    chart = ElementTree.parse(tmp_path / "tuning-api.svg").getroot()  # a file of its own: XML
    assert chart.tag == SVG + "svg"
    assert (chart.get("width"), chart.get("height")) == ("1200", "510")
    drawn = [(element.tag.removeprefix(SVG), element.get("class"),
              element.get("stroke") if element.get("fill") == "none" else element.get("fill"))
             for element in chart.iter()]
    for tag, role, colour in (("rect", "alert page", PAGE_RED), ("rect", "incident", INCIDENT_PURPLE),
                              ("polyline", "burn-rate", BURN_BLUE)):
        assert (tag, role, "#" + bytes(colour).hex()) in drawn, (tag, role)
    assert sum(1 for tag, _, _ in drawn if tag == "polyline") == 5  # 5m, 1h, 6h, 1d and 3d


def test_the_html_report_draws_its_chart(html_report: Path, json_report: tuple[int, bytes, str]) -> None:
    elements = Elements()
    elements.feed(html_report.read_text())
    assert elements.count("svg") == 1
    assert elements.count("polyline", "burn-rate") == 5  # 5m, 1h, 6h, 1d and 3d
    assert elements.count("line", "threshold") == 4  # one per rule of the configured policy
    assert elements.count("rect", "incident") == 1
    spans = orjson.loads(json_report[1])["slos"][0]["policies"]
    assert elements.count("rect", "alert page") == sum(
        1 for p in spans for a in p["alerts"] if a["severity"] == "page")
    assert elements.count("g", "legend") == 1
    assert {"burn rate 5m", "burn rate 3d", "incident", "page", "ticket"} <= elements.legend


# A browser is a process of its own, and decoding its screenshot takes seconds: run with the
# integration tests.
@pytest.mark.integration
def test_the_html_report_renders_in_headless_chromium(html_report: Path, tmp_path: Path) -> None:
    browser = chromium()
    report = html_report
    screenshot = tmp_path / "tuning.png"
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--screenshot={screenshot}", "--window-size=1400,2000",
         report.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and screenshot.is_file(), result.stderr[-2000:]
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(screenshot, ARTIFACTS / "tune-report.png")
    shutil.copy(report, ARTIFACTS / "tune-report.html")
    width, height, pixels = read_png(screenshot.read_bytes())
    assert (width, height) == (1400, 2000)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # not one colour
    for colour in (PAGE_RED, INCIDENT_PURPLE, BURN_BLUE):
        assert count_near(pixels, colour) > 50, colour  # the chart was drawn, not only text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--events", "/nonexistent.jsonl"], "cannot read events file /nonexistent.jsonl: no such file"),
        (["--incidents", "{bad}"], ":1: invalid JSON"),
        (["--policy", "nope"], "unknown policy 'nope' (candidates: multiwindow, target-error-rate"),
        (["--report", "report.pdf"], "--report must name a .md or .html file, got report.pdf"),
        (["--warm-up", "soon"], "--warm-up: expected a duration"),
        (["--eval-interval", "7s"], "SLO api: window 5m is not a multiple of the evaluation interval 7s"),
        (["--report", "/nonexistent/dir/r.html"], "cannot write /nonexistent/dir/r.html"),
    ],
)
def test_bad_usage_exits_2_with_one_line(files: dict[str, Path], tmp_path: Path, extra: list[str],
                                         message: str) -> None:
    if extra[0] == "--incidents":
        bad = tmp_path / "incidents.jsonl"
        bad.write_text(extra[1] + "\n")
        extra = ["--incidents", str(bad)]
        message = f"{bad}{message}"
    argv = ["tune", "--slos", str(files["slos"]), "--events", str(files["events"]), "--quiet", *extra]
    code, out, err = cli(*argv)
    assert code == 2 and out == b""
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_events_for_no_slo_are_refused(files: dict[str, Path], tmp_path: Path) -> None:
    other = write_events(tmp_path / "other.jsonl", [{"ts": 1795464000, "service": "web", "status": 200}])
    code, _, err = cli("tune", "--slos", str(files["slos"]), "--events", str(other), "--quiet")
    assert code == 2
    assert f"no event in {other} was counted for an SLO of the SLO file" in err


def test_tune_without_incidents_scores_noise_and_recommends_nothing(files: dict[str, Path]) -> None:
    code, out, err = cli("tune", "--slos", str(files["slos"]), "--events", str(files["events"]))
    assert code == 0, err
    text = out.decode()
    assert "**No recommendation**" in text and "--incidents" in text
    assert "api: No labelled incidents for this SLO" in err


# --- reading what was drawn -------------------------------------------------------------------


def chromium() -> str:
    return system_binary("chromium", "headless Chromium renders the tune HTML report in this test")


class Elements(HTMLParser):
    """Counts elements by tag and class, and collects the legend's labels."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self.legend: set[str] = set()
        self._in_legend_text = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        role = dict(attrs).get("class") or ""
        self.found.append((tag, role))
        self._in_legend_text = tag == "text" and role == "legend"

    def handle_data(self, data: str) -> None:
        if self._in_legend_text:
            self.legend.add(data)
            self._in_legend_text = False

    def count(self, tag: str, role: str | None = None) -> int:
        return sum(1 for t, r in self.found if t == tag and (role is None or r == role))


def read_png(data: bytes) -> tuple[int, int, np.ndarray]:
    """Width, height and RGB pixels of an 8-bit RGB or RGBA PNG, every row filter undone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, compressed = 8, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            compressed += body
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(compressed), dtype=np.uint8).reshape(height, stride + 1)
    rows = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if kind == 1:  # Sub: a running sum along the row, per channel
            line = np.cumsum(line.reshape(width, channels), axis=0).reshape(-1)
        elif kind == 2:  # Up
            line = line + previous
        elif kind in (3, 4):  # Average and Paeth depend on the pixel just decoded
            line = _unfilter_sequential(kind, line, previous.astype(np.int64), channels)
        rows[y] = (line % 256).astype(np.uint8)
        previous = rows[y]
    return width, height, rows.reshape(height, width, channels)[:, :, :3]


def _unfilter_sequential(kind: int, line: np.ndarray, up: np.ndarray, channels: int) -> np.ndarray:
    out = [0] * len(line)
    filtered, above = line.tolist(), up.tolist()
    for i, value in enumerate(filtered):
        left = out[i - channels] if i >= channels else 0
        upper_left = above[i - channels] if i >= channels else 0
        if kind == 3:
            out[i] = (value + (left + above[i]) // 2) % 256
            continue
        guess = left + above[i] - upper_left
        distances = (abs(guess - left), abs(guess - above[i]), abs(guess - upper_left))
        nearest = (left, above[i], upper_left)[distances.index(min(distances))]
        out[i] = (value + nearest) % 256
    return np.array(out, dtype=np.int64)


def count_near(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 6) -> int:
    distance = np.abs(pixels.astype(np.int16) - np.array(colour, dtype=np.int16)).max(axis=2)
    return int((distance <= tolerance).sum())


def test_a_truncated_gzip_file_is_one_error_line_and_exit_1(files: dict[str, Path],
                                                            tmp_path: Path) -> None:
    whole = gzip.compress(files["events"].read_bytes())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    code, _, err = cli("tune", "--slos", str(files["slos"]), "--events", str(cut), "--quiet")
    assert code == 1, err
    assert err.startswith("sre-streams tune: error: reading") and "Traceback" not in err


def test_an_incident_after_the_last_event_is_not_scored(files: dict[str, Path],
                                                        tmp_path: Path) -> None:
    last = max(orjson.loads(line)["ts"] for line in files["events"].read_bytes().splitlines())
    incidents = tmp_path / "incidents.jsonl"
    incidents.write_bytes(files["incidents"].read_bytes() + orjson.dumps(
        {"slo": "api", "start": format_ts(last + 86400), "end": format_ts(last + 90000)}) + b"\n")
    code, out, err = cli("tune", "--slos", str(files["slos"]), "--events", str(files["events"]),
                         "--incidents", str(incidents), "--json", "--quiet")
    assert code == 0, err
    [slo] = orjson.loads(out)["slos"]
    assert slo["recommendation"]["policy"] == "multiwindow"
    assert len(slo["unscored_incidents"]) == 1
