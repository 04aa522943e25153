"""One leader for low-volume state: a partition assignor that gives every partition to one member."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata


class AllToOneAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """Every partition to one member (the first by id): a leader for low-volume state.

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
        leader = min(members)
        url = members[leader].user_data or b""
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
