"""What every command shares: exit codes, one-line usage errors, settings and the SLO file."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn, TypeAlias

from streams.domain.slo.loader import SloFileError, load_slo_file
from streams.domain.slo.model import SloFile
from streams.runtime.settings import Settings, SettingsError, duration_setting, from_env

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # commands.add_parser


class UsageError(Exception):
    """Bad usage or a bad input file: one line on stderr, exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see --help)")


def settings_for(overrides: dict[str, object], prog: str) -> Settings:
    """The settings with these flags, or a UsageError naming the bad one."""
    try:
        return Settings.load(overrides)
    except SettingsError as exc:
        raise UsageError(f"{prog}: error: {exc}") from None


def duration_flag(flag: str | None, name: str, default: float, prog: str, *,
                  zero: bool = False) -> float:
    """A duration from its flag, else `SRE_<NAME>`, else the default (see `duration_setting`)."""
    try:
        return duration_setting(flag, name, default, zero=zero)
    except SettingsError as exc:
        raise UsageError(f"{prog}: error: {exc}") from None


def load_slos(path: str | None, prog: str) -> SloFile:
    """The SLO file of `--slos` or `SRE_SLOS`, or a UsageError with its first problems."""
    path = path or from_env("slos")
    if path is None:
        raise UsageError(f"{prog}: error: no SLO file: pass --slos FILE or set SRE_SLOS")
    try:
        slo_file = load_slo_file(path)
    except SloFileError as exc:
        details = "; ".join(exc.problems[:3])
        more = f" (and {len(exc.problems) - 3} more: run sre-streams slo validate {path})" \
            if len(exc.problems) > 3 else ""
        raise UsageError(f"{prog}: error: invalid SLO file {path}: {details}{more}") from None
    for warning in slo_file.warnings:  # what an OpenSLO set says that changes nothing here
        print(f"{prog}: warning: {path}: {warning}", file=sys.stderr)
    return slo_file


def broker_failure(prog: str, settings: Settings, exc: BaseException) -> str:
    """The one line a command prints when the broker cannot be used (exit 1)."""
    detail = str(exc) or type(exc).__name__
    return f"{prog}: error: broker {settings.broker}: {detail}"
