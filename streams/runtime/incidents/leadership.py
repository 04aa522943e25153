"""One leader for low-volume state: a partition assignor that gives every partition to one member."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata


class AllToOneAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """Every partition to one member: a leader for low-volume state.

    The leader stays where it is while its worker is in the group: the member announcing the
    API address of the leader of the last assignment keeps the partitions, even when it
    rejoined with a new member id (a member that missed heartbeats on a loaded machine is
    expelled and rejoins as a new member). Only when it is gone does the first member by id
    lead. Every move of the lead is a restore from the changelog and a spell of 503 answers.

    Members announce their API address in their metadata; every member's assignment carries
    the leader's, so any worker knows where to forward a question. aiokafka calls an assignor
    through the object it is given, so each service passes its own instance.
    """

    name = "sre-all-to-one"
    version = 0

    def __init__(self, url: str) -> None:
        self.url = url
        self.leader_url: str | None = None

    def assign(self, cluster: Any, members: Mapping[str, Any]) -> dict[str, Any]:
        topics = sorted({t for metadata in members.values() for t in metadata.subscription})
        urls = {member: metadata.user_data or b"" for member, metadata in members.items()}
        current = (self.leader_url or "").encode()
        staying = sorted(member for member, url in urls.items() if current and url == current)
        leader = staying[0] if staying else min(members)
        url = urls[leader]
        assignment = {}
        for member in members:
            owned = ([(t, sorted(cluster.partitions_for_topic(t) or ())) for t in topics]
                     if member == leader else [])
            assignment[member] = ConsumerProtocolMemberAssignment(self.version, owned, url)
        return assignment

    def metadata(self, topics: Iterable[str]) -> Any:
        return ConsumerProtocolMemberMetadata(self.version, list(topics), self.url.encode())

    def on_assignment(self, assignment: Any) -> None:
        self.leader_url = (assignment.user_data or b"").decode() or None
