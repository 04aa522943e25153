"""Logging for the worker: the Kafka client's repeated complaints, summarised.

While a broker is unreachable, aiokafka logs the same few errors every 50–100 ms from
several places (connections, metadata, fetches, produce retries): 26,000 lines in two
minutes, which bury everything else. `Repeats` lets each message through once per interval
and says how many like it were held back (the API's malformed-request warning uses it too).
"""

from __future__ import annotations

import logging
import time

KAFKA_LOGGERS = "aiokafka"


class Repeats(logging.Filter):
    """Passes a message (by logger, level and format) at most once per `every` seconds; the
    next one that passes says how many were held back since."""

    def __init__(self, every: float = 10.0) -> None:
        super().__init__()
        self.every = every
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # -> (last passed, held)

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        passed, held = self._seen.get(key, (-self.every, 0))
        if now - passed < self.every:
            self._seen[key] = (passed, held + 1)
            return False
        if held:
            record.msg = f"{record.msg} [{held} more like this in the last {now - passed:.0f} s]"
        self._seen[key] = (now, 0)
        if len(self._seen) > 10_000:  # formats are few; arguments are not part of the key
            self._seen.clear()
        return True


def quiet_kafka_client(every: float = 10.0) -> Repeats:
    """Install one `Repeats` on every aiokafka logger (filters are not inherited)."""
    # (its modules create their loggers when imported)
    import aiokafka.consumer.fetcher
    import aiokafka.producer.sender  # noqa: F401

    repeats = Repeats(every)
    names = [name for name in logging.root.manager.loggerDict
             if name == KAFKA_LOGGERS or name.startswith(KAFKA_LOGGERS + ".")]
    for name in names:
        logging.getLogger(name).addFilter(repeats)
    return repeats
