"""The SLO file's YAML is read strictly: hostile documents are refused at once, in one line."""

from __future__ import annotations

import time

import pytest

from streams.domain.slo.loader import SloFileError, parse_slo_text
from streams.domain.slo.yaml_reader import MAX_DEPTH, MAX_NODES

LAUGHS = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
)


def refusal(text: str) -> str:
    started = time.monotonic()
    with pytest.raises(SloFileError) as caught:
        parse_slo_text(text, "slos.yaml")
    assert time.monotonic() - started < 5
    [problem] = caught.value.problems
    assert "\n" not in problem and len(problem) < 300
    return problem


def test_an_alias_bomb_is_refused_before_anything_expands_it() -> None:
    assert refusal(LAUGHS) == \
        f"line 6, column 4: invalid YAML: aliases expand to more than {MAX_NODES:,} values"


@pytest.mark.parametrize("where", ["name", "exceptions"])
def test_an_alias_bomb_inside_a_field_is_refused(where: str) -> None:
    body = f"{LAUGHS}\napiVersion: sre-streams/v1\nslos:\n  - {where}: *i\n"
    assert "aliases expand to more than" in refusal(body)


def test_a_key_given_twice_is_refused_with_both_places() -> None:
    text = "apiVersion: sre-streams/v1\nslos: []\napiVersion: sre-streams/v1\n"
    assert refusal(text) == "line 3, column 1: invalid YAML: duplicate key 'apiVersion' (first at line 1)"


def test_lists_nested_thousands_deep_are_refused_without_a_recursion_error() -> None:
    text = "slos: " + "[" * 5000 + "]" * 5000 + "\n"
    assert refusal(text).endswith(f"invalid YAML: nested deeper than {MAX_DEPTH} levels")


def test_nesting_built_from_aliases_is_measured_expanded() -> None:
    lines = ["l0: &l0 [x]"] + [f"l{i}: &l{i} [*l{i - 1}]" for i in range(1, MAX_DEPTH + 2)]
    assert "nested deeper than" in refusal("\n".join(lines) + "\n")


@pytest.mark.parametrize("field", ["objective", "window", "threshold_ms", "budget_percent"])
def test_a_400_digit_number_is_a_problem_not_a_traceback(field: str) -> None:
    huge = "1" + "0" * 400
    values = {"objective": "0.99", "window": "30d", "threshold_ms": "300", "budget_percent": "2"}
    values[field] = huge
    text = f"""apiVersion: sre-streams/v1
slos:
  - name: a
    service: s
    objective: {values['objective']}
    window: {values['window']}
    sli: {{latency: {{threshold_ms: {values['threshold_ms']}}}}}
alerting:
  multiwindow:
    - {{name: p, severity: page, long: 1h, short: 5m, budget_percent: {values['budget_percent']}}}
"""
    problem = refusal(text)
    assert f".{field}: must be a" in problem
