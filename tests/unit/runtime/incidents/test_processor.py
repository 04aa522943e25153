"""The incident processor driven directly: inputs decoded at the edge, refusals, deliveries."""

from __future__ import annotations

import time
from types import SimpleNamespace

import msgspec
import orjson

from streams.domain.timestamps import format_ts
from streams.integrations.delivery import Attempt
from streams.runtime.incidents.deliveries import receiver_queues
from streams.runtime.incidents.inputs import InputKind, decode_command
from streams.runtime.incidents.leadership import AllToOneAssignor
from streams.runtime.incidents.processor import IncidentProcessor
from streams.wire.codec import WireError, encode
from streams.wire.commands import Command
from tests.unit.conftest import T0
from tests.unit.runtime.incidents.conftest import SETTINGS, SLOS, page

TOPICS = SETTINGS.topics


def processor() -> IncidentProcessor:
    return IncidentProcessor(SLOS, TOPICS, 300.0)


def test_a_refused_input_is_dead_lettered_and_its_offset_passed() -> None:
    proc = processor()
    future = orjson.dumps({"ts": time.time() + 3600, "command": "ack", "incident": "x"})
    step = proc.apply([(TOPICS.commands, 0, 0, b"{not json"), (TOPICS.commands, 0, 1, future),
                       (TOPICS.commands, 0, 2, orjson.dumps({"ts": format_ts(T0),
                                                             "command": "ack",
                                                             "incident": "inc-0"}))],
                      time.time())
    assert step.moved and step.outputs == []
    reasons = [d.reason for d in step.dead_letters]
    assert reasons[0].startswith("invalid command: ")
    assert reasons[1] == "invalid command: timestamp in the future"
    assert reasons[2].startswith("command refused: ")
    assert [d.offset for d in step.dead_letters] == [0, 1, 2]
    assert proc.state.offsets == {f"{TOPICS.commands}:0": 2}
    again = proc.apply([(TOPICS.commands, 0, 2, b"{}")], time.time())
    assert not again, "an input applied already is skipped"


def test_each_topic_has_its_decoder_and_time_field() -> None:
    assert decode_command(b'{"ts": 1795464010, "command": "ack", "by": "op"}', 1795464100.0) == (
        1795464010.0, Command(command="ack", by="op", ts=1795464010))
    at, refusal = decode_command(b'{"ts": 1795464010}', 1795464100.0)
    assert at == 1795464010.0 and isinstance(refusal, WireError), "a schema error keeps its time"
    assert InputKind.DEPLOY < InputKind.BUDGET < InputKind.ALERT < InputKind.COMMAND


def test_an_alert_opens_an_incident_and_queues_its_pages_with_the_checkpoint() -> None:
    proc = processor()
    step = proc.apply([(TOPICS.alerts, 0, 0, orjson.dumps(page("eu", "firing", T0)))],
                      time.time())
    topics = [topic for topic, _ in step.outputs]
    assert TOPICS.incidents in topics and TOPICS.alert_stats in topics
    assert not proc.state.pending
    checkpoint = proc.commit(step)
    assert [d.receiver for d in proc.state.pending.values()] == ["hook"]
    assert proc.state.outbox == step.outputs and checkpoint.meta[0] == b"m"


def test_delivery_outcomes_retry_or_give_up_with_a_dead_letter() -> None:
    proc = processor()
    proc.commit(proc.apply([(TOPICS.alerts, 0, 0, orjson.dumps(page("eu", "firing", T0)))],
                           time.time()))
    (delivery,) = proc.state.pending.values()
    step, lines = proc.record([(delivery, Attempt("retry", 503, "busy", 123.0))])
    assert delivery.attempt == 1 and delivery.not_before == 123.0 and not step.dead_letters
    step, lines = proc.record([(delivery, Attempt("dead", 400, "no"))])
    assert proc.state.pending == {}
    (dead,) = step.dead_letters
    assert list(orjson.loads(encode(dead))) == ["kind", "version", "reason", "topic", "partition",
                                                "offset", "payload"]
    assert dead.reason == "notification refused by hook: HTTP 400"
    assert (dead.topic, dead.partition, dead.offset) == (TOPICS.incidents, -1, -1)
    assert orjson.loads(dead.payload)["response"] == "no"
    assert lines[-1][2] == ("notification refused by hook: HTTP 400",)


def test_each_receivers_queue_is_in_event_order() -> None:
    proc = processor()
    proc.commit(proc.apply([(TOPICS.alerts, 0, 0, orjson.dumps(page("eu", "firing", T0)))],
                           time.time()))
    (first,) = proc.state.pending.values()
    pending = {key: msgspec.structs.replace(first, receiver=receiver, seq=seq)
               for key, receiver, seq in (("c", "a", 3), ("a", "b", 1), ("b", "a", 2))}
    assert {name: [d.seq for d in queue] for name, queue in
            receiver_queues(pending).items()} == {"a": [2, 3], "b": [1]}


def test_every_partition_goes_to_one_member_and_each_assignor_learns_its_leader() -> None:
    first, second = AllToOneAssignor("http://a"), AllToOneAssignor("http://b")
    members = {"m2": second.metadata(["t"]), "m1": first.metadata(["t"])}
    cluster = SimpleNamespace(partitions_for_topic=lambda topic: {1, 0})
    assignment = first.assign(cluster, members)
    assert assignment["m1"].assignment == [("t", [0, 1])] and assignment["m2"].assignment == []
    first.on_assignment(assignment["m1"])
    assert first.leader_url == "http://a" and second.leader_url is None


def test_the_lead_stays_with_its_worker_when_it_rejoins_under_a_new_member_id() -> None:
    first, second = AllToOneAssignor("http://a"), AllToOneAssignor("http://b")
    cluster = SimpleNamespace(partitions_for_topic=lambda topic: {0})
    # b led alone (a had been expelled); a rejoins with a lower member id: b keeps the lead.
    alone = second.assign(cluster, {"m9": second.metadata(["t"])})
    second.on_assignment(alone["m9"])
    members = {"m9": second.metadata(["t"]), "m1": first.metadata(["t"])}
    assignment = second.assign(cluster, members)
    assert assignment["m9"].assignment == [("t", [0])] and assignment["m1"].assignment == []
    first.on_assignment(assignment["m1"])
    assert first.leader_url == "http://b"
    # b expelled in turn and back as m0: still b, whichever member assigns.
    assert first.assign(cluster, {"m1": first.metadata(["t"]), "m0": second.metadata(["t"])})[
        "m0"].assignment == [("t", [0])]
    # Gone: the first member by id leads.
    assert first.assign(cluster, {"m1": first.metadata(["t"])})["m1"].assignment == [("t", [0])]


def test_an_input_over_the_size_limit_is_dead_lettered_not_stored() -> None:
    from streams.runtime.incidents.inputs import MAX_INPUT_BYTES

    proc = processor()
    huge = page("eu", "firing", T0)
    huge["labels"] = {"team": "x" * MAX_INPUT_BYTES}
    step = proc.apply([(TOPICS.alerts, 0, 0, orjson.dumps(huge))], time.time())
    assert [d.reason.split(" (")[0] for d in step.dead_letters] == [
        "invalid alert: message over the size limit"]
    assert not proc.state.book.incidents
