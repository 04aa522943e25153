"""What the end-to-end tests share: running the CLI in process."""

from __future__ import annotations

import io

from streams.cli.main import run


def cli(*argv: str) -> tuple[int, bytes, str]:
    """`sre-streams ARGV` in this process: (exit code, stdout bytes, stderr text)."""
    out, err = io.BytesIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()
