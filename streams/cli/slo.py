"""`sre-streams slo validate|convert`: check an SLO file naming every problem; write it as
OpenSLO v1 documents or in the native format."""

from __future__ import annotations

import argparse
from typing import BinaryIO, TextIO

from streams.cli.usage import EXIT_OK, EXIT_USAGE, Parser, SubParsers
from streams.domain.slo.convert import raw_sections, to_native, to_openslo
from streams.domain.slo.loader import SloFileError, load_slo_file


def add_parser(commands: SubParsers) -> None:
    slo = commands.add_parser("slo", help="work with SLO files")
    slo_commands = slo.add_subparsers(dest="slo_command", metavar="SUBCOMMAND", parser_class=Parser)
    slo_commands.required = True
    validate = slo_commands.add_parser("validate", help="check an SLO file, naming every problem")
    validate.add_argument("file", help="SLO file (YAML), or a directory of OpenSLO files")
    convert = slo_commands.add_parser(
        "convert", help="write an SLO file as OpenSLO v1 documents or in the native format")
    convert.add_argument("--to", required=True, choices=("openslo", "native"),
                         help="the format to write (on stdout)")
    convert.add_argument("file", help="SLO file (YAML), or a directory of OpenSLO files")


def run(args: argparse.Namespace, stdout: BinaryIO, stderr: TextIO) -> int:
    try:
        slo_file = load_slo_file(args.file)
    except SloFileError as exc:
        if len(exc.problems) == 1:
            print(f"{args.file}: {exc.problems[0]}", file=stderr)
        else:
            print(f"{args.file}: {len(exc.problems)} problems", file=stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=stderr)
        return EXIT_USAGE
    for warning in slo_file.warnings:
        print(f"{args.file}: warning: {warning}", file=stderr)
    if args.slo_command == "convert":
        sections = raw_sections(args.file)
        write = to_openslo if args.to == "openslo" else to_native
        try:
            stdout.write(write(slo_file, sections).encode())
        except ValueError as exc:
            print(f"{args.file}: cannot convert: {exc}", file=stderr)
            return EXIT_USAGE
        return EXIT_OK
    rules = sum(len(slo.policy.rules) for slo in slo_file.slos)
    stdout.write(f"{args.file}: OK, {len(slo_file.slos)} SLO(s), {rules} alert rule(s)\n".encode())
    for slo in slo_file.slos:
        grouped = f" by {','.join(slo.group_by)}" if slo.group_by else ""
        stdout.write(
            f"  {slo.name}: {slo.service} {slo.objective:.6g} over {slo.window_label}{grouped}, "
            f"policy {slo.policy.name}\n".encode())
    return EXIT_OK
