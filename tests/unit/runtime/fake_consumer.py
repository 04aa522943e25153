"""A group consumer that commits, or refuses as a broker refuses an old generation: the fence
the services check before storing a step (no broker in unit tests)."""

from __future__ import annotations

from aiokafka import TopicPartition


class FakeConsumer:
    def __init__(self, refuse: Exception | None, assigned: TopicPartition) -> None:
        self.refuse = refuse
        self.assigned = assigned
        self.committed: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return {self.assigned}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.committed.append(offsets)
