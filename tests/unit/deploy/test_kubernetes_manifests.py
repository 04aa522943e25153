"""deploy/kubernetes/: every manifest valid for a current Kubernetes (kubernetes-validate's
schemas), the ServiceMonitor against the part of its CRD's schema it uses, and the wiring between
them: probes on the worker's endpoints, the SLO file it reads, resources as sized in the README."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from jsonschema import Draft202012Validator

from streams.domain.slo.loader import parse_slo_text

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "deploy" / "kubernetes"
KUBERNETES = kubernetes_validate.latest_version()  # the newest the package has schemas for
# The Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1), as its CRD's
# openAPIV3Schema declares the fields this manifest uses: kubernetes-validate ships no schemas
# for custom resources, and the CRD itself is not vendored here. Unknown fields are refused, as
# `kubectl apply --validate=strict` would refuse them.
DURATION = "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
SERVICE_MONITOR = {
    "type": "object", "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"type": "object", "additionalProperties": False, "required": ["name"],
                     "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                                    "labels": LABELS, "annotations": LABELS}},
        "spec": {
            "type": "object", "additionalProperties": False, "required": ["selector"],
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": {"type": "object", "additionalProperties": False,
                             "properties": {"matchLabels": LABELS,
                                            "matchExpressions": {"type": "array"}}},
                "namespaceSelector": {"type": "object"},
                "endpoints": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        "port": {"type": "string"}, "path": {"type": "string"},
                        "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                        "interval": {"type": "string", "pattern": DURATION},
                        "scrapeTimeout": {"type": "string", "pattern": DURATION},
                        "honorLabels": {"type": "boolean"},
                    }}},
            }},
    },
}
CORE_KINDS = {"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Secret"}


def documents() -> dict[str, dict[str, Any]]:
    """Every manifest by kind (one of each)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert doc["kind"] not in found, f"two {doc['kind']}s"
            found[doc["kind"]] = doc
    return found


def worker() -> dict[str, Any]:
    container: dict[str, Any] = documents()["Deployment"]["spec"]["template"]["spec"][
        "containers"][0]
    return container


def test_every_kind_the_issue_lists_is_there() -> None:
    assert set(documents()) == CORE_KINDS | {"ServiceMonitor", "PrometheusRule"}


def test_the_prometheus_rule_carries_the_worker_rules_unchanged() -> None:
    document = documents()["PrometheusRule"]
    assert document["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(document) == {"apiVersion", "kind", "metadata", "spec"} and set(
        document["spec"]) == {"groups"}
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
    assert document["spec"]["groups"] == rules["groups"]


@pytest.mark.parametrize("kind", sorted(CORE_KINDS))
def test_core_manifests_validate_strictly(kind: str) -> None:
    kubernetes_validate.validate(documents()[kind], KUBERNETES, strict=True)


def test_validation_refuses_a_broken_manifest() -> None:
    broken = documents()["Deployment"]
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)
    unknown = documents()["Service"]
    unknown["spec"]["portz"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, KUBERNETES, strict=True)


def test_the_service_monitor_matches_its_crd_schema() -> None:
    document = documents()["ServiceMonitor"]
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):  # why the schema is here
        kubernetes_validate.validate(document, KUBERNETES, strict=True)
    validator = Draft202012Validator(SERVICE_MONITOR)
    assert [e.message for e in validator.iter_errors(document)] == []
    for broken in ({**document, "spec": {**document["spec"], "endpoint": []}},
                   {**document, "spec": {**document["spec"], "endpoints": [
                       {"port": "http", "interval": "30 seconds"}]}}):
        assert list(validator.iter_errors(broken))


def test_the_service_monitor_scrapes_the_services_port_as_job_sre_streams() -> None:
    docs = documents()
    monitor, service = docs["ServiceMonitor"], docs["Service"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"][
        "labels"].items()
    assert service["metadata"]["name"] == "sre-streams"  # the job label the rules select
    ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
    assert {e["path"] for e in monitor["spec"]["endpoints"]} == {"/metrics"}


def test_selectors_match_the_pods() -> None:
    docs = documents()
    pods = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert docs["Deployment"]["spec"]["selector"]["matchLabels"].items() <= pods.items()
    assert docs["Service"]["spec"]["selector"].items() <= pods.items()
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= pods.items()


def test_probes_use_the_workers_endpoints_on_its_api_port() -> None:
    container = worker()
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e.get("value") for e in container["env"]}
    port = next(p for p in container["ports"] if p["name"] == "http")["containerPort"]
    assert env["SRE_API_PORT"] == str(port)
    assert env["SRE_API_URL"] == f"http://$(POD_IP):{port}"  # other workers forward to it


def test_the_slo_file_comes_from_the_config_map_and_loads() -> None:
    docs = documents()
    text = docs["ConfigMap"]["data"]["slos.yaml"]
    assert text == (ROOT / "examples" / "slos.yaml").read_text(encoding="utf-8")
    assert parse_slo_text(text).slos
    container = worker()
    mount = next(m for m in container["volumeMounts"] if m["name"] == "slos")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SRE_SLOS"] == f"{mount['mountPath']}/slos.yaml"
    volume = next(v for v in docs["Deployment"]["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "slos")
    assert volume["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]


def test_secrets_reach_the_worker_from_the_secret() -> None:
    docs = documents()
    refs = [source["secretRef"]["name"] for source in worker()["envFrom"]]
    assert refs == [docs["Secret"]["metadata"]["name"]]
    assert "SRE_API_TOKEN" in docs["Secret"]["stringData"]
    assert not any("TOKEN" in e["name"] or "PASSWORD" in e["name"] for e in worker()["env"])


def _mebibytes(quantity: str) -> float:
    units = {"Mi": 1.0, "Gi": 1024.0}
    return float(quantity[:-2]) * units[quantity[-2:]]


def test_memory_request_covers_the_sizing_arithmetic() -> None:
    """280 MiB plus 48.4 KiB per series (docs/performance.md) for the 4,000 series the request
    is sized for, a catch-up's measured 648 MiB peak under the limit."""
    resources = worker()["resources"]
    request, limit = (_mebibytes(resources[k]["memory"]) for k in ("requests", "limits"))
    assert request >= 280 + 4000 * 48.4 / 1024
    assert request <= limit and limit >= 648
