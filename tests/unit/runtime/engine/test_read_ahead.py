"""The note of the partitions a worker held, read back when it starts (the read-ahead itself
runs against the real broker: tests/integration)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streams.runtime.engine.read_ahead import HELD_FILE, ReadAhead
from streams.runtime.settings import Settings


def read_ahead(data: Path, changelog: str = "app-engine-state-changelog") -> ReadAhead:
    settings = Settings.load({"data_dir": str(data)})
    return ReadAhead(settings, changelog, lambda p: b"%d|m" % p,
                     lambda partition: pytest.fail("nothing to load"))


def test_the_partitions_noted_at_an_assignment_are_read_back_at_the_next_start(
        tmp_path: Path) -> None:
    read_ahead(tmp_path / "data").remember([3, 0, 1])
    assert read_ahead(tmp_path / "data").held_before() == [0, 1, 3]


def test_a_note_for_another_changelog_is_ignored(tmp_path: Path) -> None:
    read_ahead(tmp_path, "other-engine-state-changelog").remember([0, 1])
    assert read_ahead(tmp_path).held_before() == []


@pytest.mark.parametrize("content", [b"", b"not json", b"[1, 2]",
                                     b'{"changelog": "app-engine-state-changelog"}',
                                     b'{"changelog": "app-engine-state-changelog", '
                                     b'"partitions": [1, -1, true, "2", 1.0, 4]}'])
def test_a_missing_or_damaged_note_reads_no_partition_it_cannot_trust(
        tmp_path: Path, content: bytes) -> None:
    (tmp_path / HELD_FILE).write_bytes(content)
    held = read_ahead(tmp_path).held_before()
    assert held == ([1, 4] if b"partitions" in content else [])


def test_no_note_no_read_ahead(tmp_path: Path) -> None:
    ahead = read_ahead(tmp_path)

    async def run() -> None:
        ahead.start()
        assert ahead.task is None
        assert await ahead.take([0, 1]) == {}

    asyncio.run(run())


def test_a_data_directory_that_cannot_be_written_costs_only_the_note(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_bytes(b"")
    ahead = read_ahead(blocked / "data")  # its parent is a file: no directory can be made
    ahead.remember([0])
    assert ahead.held_before() == []
