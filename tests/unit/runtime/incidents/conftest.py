"""The incident service's test setting: one grouped SLO that escalates to a webhook receiver."""

from __future__ import annotations

from streams.domain.slo.loader import parse_slo_text
from streams.runtime.settings import Settings
from tests.unit.conftest import alert_fields

FILE = """apiVersion: sre-streams/v1
slos:
  - {name: checkout-availability, service: checkout, objective: 0.999, sli: {availability: {}},
     group_by: [region]}
incidents:
  escalation:
    levels:
      - {after: 5m, notify: [hook]}
    repeat: 2
notify:
  receivers:
    - {name: hook, webhook: {url: "http://127.0.0.1:9/hook"}}
  routes:
    - {receiver: hook}
"""

SLOS = parse_slo_text(FILE)
SETTINGS = Settings()


def page(region: str, status: str, at: float) -> dict[str, object]:
    return alert_fields("page-fast", status, at, series={"region": region})
