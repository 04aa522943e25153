"""Generated hostile SLO documents: every one is accepted or refused with problems, in bounded
time and bounded lines; nothing escapes as another exception."""

from __future__ import annotations

import io
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.cli.main import run

KEYS = ["apiVersion", "defaults", "slos", "alerting", "incidents", "notify", "name", "service",
        "objective", "sli", "availability", "latency", "threshold_ms", "bad_status", "window",
        "match", "group_by", "labels", "min_events", "max_series", "policy", "multiwindow",
        "long", "short", "budget_percent", "severity", "receivers", "routes", "escalation"]
scalars = (st.none() | st.booleans() | st.integers(-(10**400), 10**400) | st.floats()
           | st.sampled_from(["sre-streams/v1", "30d", "5m", "99.9%", "page", "5xx", "", "1e400"])
           | st.text(max_size=12))
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner,
                                                                max_size=6),
    max_leaves=30)
texts = documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True)) | st.text(max_size=200)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(texts)
def test_any_document_is_accepted_or_refused_in_bounded_lines(tmp_path: Path, text: str) -> None:
    path = tmp_path / "slos.yaml"
    path.write_text(text, encoding="utf-8")
    stderr = io.StringIO()
    code = run(["slo", "validate", str(path)], io.BytesIO(), stderr)
    assert code in (0, 2)
    lines = stderr.getvalue().splitlines()
    assert all(len(line) < 400 for line in lines) and "Traceback" not in stderr.getvalue()
    assert (code == 0) == (not lines)


def test_an_integer_beyond_pythons_digit_limit_is_a_problem_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "slos.yaml"
    path.write_text("slos:\n- min_events: -" + "1" * 5000 + "\n", encoding="utf-8")
    stderr = io.StringIO()
    assert run(["slo", "validate", str(path)], io.BytesIO(), stderr) == 2
    assert stderr.getvalue().splitlines() == [
        f"{path}: line 2, column 15: invalid YAML: an integer of 5,001 characters: too long"]
