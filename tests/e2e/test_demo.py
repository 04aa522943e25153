"""`sre-streams demo` as a user runs it: an outage pages, the incident escalates, is
acknowledged and resolves; Ctrl-C prints its postmortem and cleans up."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.integration


def processes_in(directory: Path) -> list[int]:
    """Processes whose working directory or command line is in `directory`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(directory)) or str(directory) in cmdline:
            found.append(int(entry.name))
    return found


def page_of_the_outage(output: str) -> None:
    """The web page the demo prints shows its outage: the eu series' budget burnt down, with
    the incident linked from the chart."""
    found = re.search(r"web page: (http://127\.0\.0\.1:\d+/)", output)
    assert found is not None, output
    with urllib.request.urlopen(found.group(1) + "v1/overview?label=region%3Deu", timeout=10) as answer:
        rows = orjson.loads(answer.read())["rows"]
    checkout = next(r for r in rows if r["slo"] == "checkout-availability")
    assert checkout["bad_used"] > 0 and checkout["remaining"] < 1.0, checkout
    url = found.group(1) + "slos/checkout-availability?series=region%3Deu"
    with urllib.request.urlopen(url, timeout=10) as answer:
        html = answer.read().decode()
    assert 'class="remaining"' in html and 'class="marker deploy"' in html, html[:2000]
    assert re.search(r'<a href="/incidents/inc-[0-9a-f]{12}"><line class="marker incident"', html)


def test_demo_pages_escalates_resolves_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SRE_")}
    env["TMPDIR"] = str(tmp_path)
    started = time.monotonic()
    demo = subprocess.Popen([sys.executable, "-m", "streams", "demo"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    assert demo.stdout is not None
    lines: list[str] = []
    first_status = None
    try:
        deadline = started + 300
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if first_status is None and line.startswith("status"):
                first_status = time.monotonic() - started
            output = "\n".join(lines)
            if all(re.search(pattern, output) for pattern in (
                    r"incident resolved +P1 inc-[0-9a-f]{12} checkout-availability",
                    r"resolved +page +checkout-availability\{region=eu\} page-fast",
                    r"pager +resolve +inc-")):
                break
        else:
            pytest.fail("no incident resolved within 5 minutes:\n" + "\n".join(lines))
        page_of_the_outage("\n".join(lines))
        os.killpg(demo.pid, signal.SIGINT)
        rest, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
    lines += rest.splitlines()
    output = "\n".join(lines)
    assert demo.returncode == 0, output
    assert re.search(r"FIRING +page +checkout-availability\{region=eu\} page-fast", output), output
    assert re.search(r"resolved +page +checkout-availability\{region=eu\} page-fast", output), output
    # The incident's life, as its events and as what reached the demo's pager and chat.
    for pattern in (r"incident OPENED +P1", r"pager +trigger +inc-", r"incident escalated .* level 1",
                    r"chat +\[P1\] ESCALATED", r"pager +acknowledge +inc-",
                    r"incident acknowledged", r"pager +resolve +inc-"):
        assert re.search(pattern, output), (pattern, output)
    postmortem = output[output.index("# Postmortem: checkout-availability {region=eu}"):]
    timeline = [row.split("|")[2].strip() for row in postmortem.splitlines()
                if row.startswith("| 20")]
    assert timeline[0] == "deploy" and timeline[-1] == "resolved", postmortem
    assert timeline.index("opened") < timeline.index("escalation") < timeline.index("ack"), postmortem
    assert first_status is not None and first_status < 20, output
    assert "stopped:" in output
    # Nothing left behind: no work directory, no broker or worker process.
    assert list(tmp_path.glob("sre-streams-demo-*")) == [], output
    assert processes_in(tmp_path) == []
    broker = re.search(r"broker kafka://(127\.0\.0\.1:\d+)", output)
    assert broker is not None, output
    assert processes_in(Path(broker.group(1))) == []  # the broker's listener address
