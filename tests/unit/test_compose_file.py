"""docker-compose.yml, Dockerfile and .dockerignore, checked by parsing (no Docker engine here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

KRAFT_KEYS = [
    "KAFKA_NODE_ID",
    "KAFKA_PROCESS_ROLES",
    "KAFKA_CONTROLLER_QUORUM_VOTERS",
    "KAFKA_LISTENERS",
    "KAFKA_ADVERTISED_LISTENERS",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
    "KAFKA_CONTROLLER_LISTENER_NAMES",
    "KAFKA_INTER_BROKER_LISTENER_NAME",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    "KAFKA_NUM_PARTITIONS",
]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def kafka(compose: dict[str, Any]) -> dict[str, Any]:
    service: dict[str, Any] = compose["services"]["kafka"]
    return service


@pytest.fixture(scope="module")
def worker(compose: dict[str, Any]) -> dict[str, Any]:
    service: dict[str, Any] = compose["services"]["worker"]
    return service


def _env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as strings, from either the mapping or the `KEY=value` list form."""
    raw = service.get("environment", {})
    if isinstance(raw, list):
        return dict(item.split("=", 1) for item in raw)
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    """`NAME://host:port,...` -> {NAME: (host, port)}."""
    result = {}
    for item in value.split(","):
        match = re.fullmatch(r"([A-Z_]+)://([^:]*):(\d+)", item.strip())
        assert match, f"not a listener: {item!r}"
        result[match.group(1)] = (match.group(2), int(match.group(3)))
    return result


def _protocol_map(value: str) -> dict[str, str]:
    return dict(item.strip().split(":", 1) for item in value.split(","))


# --- compose: services ------------------------------------------------------


def test_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"kafka", "worker", "prometheus", "grafana"}


def test_kafka_uses_the_official_image(kafka: dict[str, Any]) -> None:
    assert kafka["image"].split(":")[0] == "apache/kafka"


def test_kafka_sets_every_kraft_key(kafka: dict[str, Any]) -> None:
    env = _env(kafka)
    missing = [key for key in KRAFT_KEYS if not env.get(key)]
    assert not missing
    assert not any(key.startswith("KAFKA_ZOOKEEPER") for key in env)


def test_kafka_is_a_single_combined_node(kafka: dict[str, Any]) -> None:
    env = _env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert len(voters) == 1
    assert voters[0].startswith(f"{node_id}@")
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert env["KAFKA_NUM_PARTITIONS"] == "4"


def test_kafka_listeners_are_consistent(kafka: dict[str, Any]) -> None:
    env = _env(kafka)
    listeners = _listeners(env["KAFKA_LISTENERS"])
    advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = _protocol_map(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"])
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    inter_broker = env["KAFKA_INTER_BROKER_LISTENER_NAME"]

    # Every listener has a protocol; the controller listener is bound but never advertised.
    assert set(listeners) <= set(protocols)
    assert controller in listeners
    assert controller not in advertised
    assert set(advertised) == set(listeners) - {controller}
    for name, (_host, port) in advertised.items():
        assert listeners[name][1] == port, name
    assert inter_broker in advertised
    # The quorum voter points at the controller listener's port.
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].endswith(f":{listeners[controller][1]}")

    # Host clients: localhost:9092; other containers: kafka:19092.
    assert ("localhost", 9092) in advertised.values()
    assert ("kafka", 19092) in advertised.values()


def test_kafka_publishes_the_host_port(kafka: dict[str, Any]) -> None:
    assert any(str(port).split(":")[-2:] == ["9092", "9092"] for port in kafka["ports"])


def test_kafka_healthcheck_lists_topics(kafka: dict[str, Any]) -> None:
    test = kafka["healthcheck"]["test"]
    command = " ".join(test) if isinstance(test, list) else test
    assert "/opt/kafka/bin/kafka-topics.sh" in command
    assert "--bootstrap-server localhost:9092" in command
    assert "--list" in command


def test_worker_is_built_from_the_dockerfile(worker: dict[str, Any]) -> None:
    build = worker["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    assert (ROOT / context).resolve() == ROOT
    if isinstance(build, dict) and "dockerfile" in build:
        assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE


def test_worker_command_is_worker(worker: dict[str, Any]) -> None:
    command = worker["command"]
    assert (command.split() if isinstance(command, str) else command) == ["worker"]


def test_worker_talks_to_the_internal_listener(kafka: dict[str, Any], worker: dict[str, Any]) -> None:
    env = _env(worker)
    assert env["SRE_BROKER"] == "kafka://kafka:19092"
    advertised = _listeners(_env(kafka)["KAFKA_ADVERTISED_LISTENERS"])
    assert ("kafka", 19092) in advertised.values()


def test_worker_reads_slos_from_the_examples_mount(worker: dict[str, Any]) -> None:
    env = _env(worker)
    assert env["SRE_SLOS"] == "/config/slos.yaml"
    assert "./examples:/config:ro" in worker["volumes"]


def test_worker_waits_for_a_healthy_broker(worker: dict[str, Any]) -> None:
    assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert worker["restart"] == "unless-stopped"


def test_example_slo_file_is_there() -> None:
    path = ROOT / "examples" / "slos.yaml"
    if not path.exists():
        pytest.skip("examples/slos.yaml is not written yet")
    assert yaml.safe_load(path.read_text(encoding="utf-8"))


# --- compose: Prometheus and Grafana ----------------------------------------


def _mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> the repository file or folder mounted there (read-only binds only)."""
    mounts = {}
    for volume in service["volumes"]:
        source, target, mode = volume.split(":")
        assert mode == "ro", volume
        mounts[target] = (ROOT / source).resolve()
        assert mounts[target].exists(), f"{source} is not in the repository"
    return mounts


def _container_file(mounts: dict[str, Path], path: str) -> Path:
    """The repository file a container sees at `path`, through a file or a folder mount."""
    for target, source in mounts.items():
        if path == target:
            return source
        if path.startswith(target.rstrip("/") + "/"):
            return source / path[len(target.rstrip("/")) + 1:]
    raise AssertionError(f"nothing mounted at {path}")


def _flag(command: list[str], name: str) -> str:
    return next(arg.split("=", 1)[1] for arg in command if arg.startswith(f"--{name}="))


def test_prometheus_scrapes_the_worker_as_the_job_the_rules_select(
        compose: dict[str, Any], worker: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    mounts = _mounts(prometheus)
    config = yaml.safe_load(_container_file(mounts, _flag(prometheus["command"],
                                                          "config.file")).read_text())
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "sre-streams"
    rules = (ROOT / "deploy" / "prometheus" / "rules.yml").read_text()
    assert 'job="sre-streams"' in rules
    (targets,) = job["static_configs"]
    worker_port = next(str(p).split(":")[-1] for p in worker["ports"])
    assert targets["targets"] == [f"worker:{worker_port}"]
    assert [_container_file(mounts, path) for path in config["rule_files"]] == [
        (ROOT / "deploy" / "prometheus" / "rules.yml").resolve()]
    assert "worker" in prometheus["depends_on"]


def test_promtool_accepts_the_prometheus_config(tmp_path: Path) -> None:
    """The config with its rule file where the container sees it, checked by the real promtool."""
    import subprocess

    from tests.conftest import system_binary

    promtool = system_binary("promtool", "the compose file's Prometheus config is checked")
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    config["rule_files"] = [str(ROOT / "deploy" / "prometheus" / "rules.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    done = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = _mounts(grafana)
    provisioning = _container_file(mounts, "/etc/grafana/provisioning")
    (source,) = [d for f in sorted((provisioning / "datasources").glob("*.yml"))
                 for d in yaml.safe_load(f.read_text())["datasources"]]
    assert source["type"] == "prometheus" and source["isDefault"] is True
    prometheus_port = next(str(p).split(":")[-1] for p in compose["services"]["prometheus"]["ports"])
    assert source["url"] == f"http://prometheus:{prometheus_port}"
    (provider,) = [p for f in sorted((provisioning / "dashboards").glob("*.yml"))
                   for p in yaml.safe_load(f.read_text())["providers"]]
    folder = provider["options"]["path"]
    dashboards = [target for target in mounts if target.startswith(folder.rstrip("/") + "/")]
    assert [mounts[target] for target in dashboards] == [
        (ROOT / "deploy" / "grafana" / "sre-streams.json").resolve()]
    assert "prometheus" in grafana["depends_on"]


# --- Dockerfile and .dockerignore -------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    logical = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    pairs = []
    for line in logical.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def test_dockerfile_base_image() -> None:
    froms = [args for keyword, args in _instructions() if keyword == "FROM"]
    assert froms[-1].split()[0] == "python:3.11-slim"


def test_dockerfile_installs_the_project_without_cache() -> None:
    runs = [args for keyword, args in _instructions() if keyword == "RUN"]
    assert any(re.search(r"pip install --no-cache-dir \.(\s|$)", run) for run in runs), runs


def test_dockerfile_runs_as_non_root() -> None:
    users = [args for keyword, args in _instructions() if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_entrypoint_is_the_console_command() -> None:
    instructions = dict(_instructions())
    assert instructions["ENTRYPOINT"] == '["sre-streams"]'
    assert instructions["CMD"] == '["worker"]'
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "sre-streams" in pyproject["project"]["scripts"]


def test_dockerignore_keeps_junk_out_and_sources_in() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".git", "venv/", ".venv/", "**/__pycache__", ".pytest_cache/"):
        assert required in patterns, required
    for needed in ("streams", "pyproject.toml", "README.md", "streams/", "*.py", "*"):
        assert needed not in patterns, needed
