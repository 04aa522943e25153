"""Settings: flags, then SRE_* variables, then defaults; one-line errors; secrets never shown."""

from __future__ import annotations

import logging

import pytest

from streams.cli.main import run
from streams.runtime.settings import Settings, SettingsError, Topics, duration_setting

SECRET = "hunter2-do-not-print"


def test_defaults_when_nothing_is_set() -> None:
    settings = Settings.load({}, environ={})
    assert settings.broker == "kafka://localhost:9092"
    assert settings.slos is None
    assert settings.app_id == "sre-streams"
    assert settings.partitions == 4
    assert settings.lateness == 5.0
    assert settings.eval_interval == 10.0
    assert settings.budget_interval == 60.0
    assert settings.idle_timeout == 10.0
    assert settings.max_future == 300.0
    assert settings.max_message_bytes == 1 << 20
    assert settings.batch_size == 50_000
    assert settings.api_port == 6066
    assert settings.api_token is None
    assert settings.security_protocol == "PLAINTEXT"


def test_a_flag_wins_over_the_environment_which_wins_over_the_default() -> None:
    environ = {"SRE_BROKER": "kafka://env:9092", "SRE_APP_ID": "from-env"}
    settings = Settings.load({"broker": "kafka://flag:9092", "app_id": None}, environ=environ)
    assert settings.broker == "kafka://flag:9092"
    assert settings.app_id == "from-env"


def test_an_empty_variable_counts_as_unset() -> None:
    assert Settings.load({}, environ={"SRE_BROKER": ""}).broker == "kafka://localhost:9092"


def test_durations_take_the_slo_file_suffixes_and_a_bare_number_is_seconds() -> None:
    settings = Settings.load({"eval_interval": "1m"}, environ={
        "SRE_LATENESS": "30", "SRE_MAX_FUTURE": "1h", "SRE_BUDGET_INTERVAL": "2d",
        "SRE_IDLE_TIMEOUT": "1w"})
    assert (settings.eval_interval, settings.lateness, settings.max_future) == (60.0, 30.0, 3600.0)
    assert (settings.budget_interval, settings.idle_timeout) == (172_800.0, 604_800.0)


@pytest.mark.parametrize("zero", ["0", "0s", " 0 "])
def test_lateness_may_be_zero(zero: str) -> None:
    assert Settings.load({}, environ={"SRE_LATENESS": zero}).lateness == 0.0
    assert duration_setting(zero, "lateness", 5.0, {}, zero=True) == 0.0


@pytest.mark.parametrize(
    ("flags", "environ", "message"),
    [
        ({}, {"SRE_PARTITIONS": "many"}, "SRE_PARTITIONS: expected an integer, got 'many'"),
        ({"api_port": "http"}, {}, "--api-port: expected an integer, got 'http'"),
        ({}, {"SRE_PARTITIONS": "0"}, "partitions: must be >= 1"),
        ({}, {"SRE_EVAL_INTERVAL": "0"}, "SRE_EVAL_INTERVAL: a duration must be positive, got '0'"),
        ({"lateness": "soon"}, {}, "--lateness: expected a duration like 30s, 5m, 1h, 30d or 2w, "
                                   "got 'soon'"),
        ({}, {"SRE_SECURITY_PROTOCOL": "TLS"},
         "security_protocol: must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
        ({}, {"SRE_SASL_MECHANISM": "PLAIN"}, "sasl_mechanism needs sasl_username and sasl_password"),
        ({"broker": " "}, {}, "broker: must not be empty"),
        ({}, {"SRE_API_PORT": "70000"}, "api_port: must be a TCP port (0 to 65535)"),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_flag_or_variable(
        flags: dict[str, object], environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.load(flags, environ=environ)
    assert str(raised.value) == message


def test_settings_are_frozen() -> None:
    settings = Settings.load({}, environ={})
    with pytest.raises(ValueError, match="frozen"):
        settings.broker = "kafka://elsewhere:9092"  # type: ignore[misc]


def test_secrets_are_never_shown_in_repr_str_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    environ = {"SRE_API_TOKEN": SECRET, "SRE_SASL_MECHANISM": "PLAIN", "SRE_SASL_USERNAME": "sre",
               "SRE_SASL_PASSWORD": SECRET}
    settings = Settings.load({}, environ=environ)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("settings: %s %r", settings, settings)
    assert SECRET not in repr(settings) + str(settings) + caplog.text
    assert SECRET not in str(settings.model_dump())
    assert settings.api_token is not None and settings.api_token.get_secret_value() == SECRET
    with pytest.raises(SettingsError) as raised:
        Settings.load({}, environ={**environ, "SRE_PARTITIONS": "x"})
    assert SECRET not in str(raised.value)


def test_a_bad_setting_exits_2_with_one_line_on_the_command_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setenv("SRE_API_TOKEN", SECRET)
    monkeypatch.setenv("SRE_PARTITIONS", "x")
    out, err = io.BytesIO(), io.StringIO()
    assert run(["tail", "alerts"], out, err) == 2
    assert err.getvalue() == "sre-streams tail: error: SRE_PARTITIONS: expected an integer, got 'x'\n"
    assert SECRET not in err.getvalue()


def test_every_topic_has_a_short_name_and_other_names_pass_through() -> None:
    topics = Topics.with_prefix("x.")
    assert topics.named("dead-letter") == topics.dead_letter == "x.dead-letter"
    assert topics.named("alert-stats") == topics.alert_stats == "x.alert-stats"
    assert topics.named("alerts") == "x.alerts"
    assert topics.named("my.own.topic") == "my.own.topic"
