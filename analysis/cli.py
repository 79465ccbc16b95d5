"""Command line: ``python -m analysis COMMAND [options]``.

Each command lives in its own module, which provides ``configure_parser(parser)``
and ``run(args) -> int``. Only the chosen command's module is imported, so
``--help`` and quick commands stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "build": ("analysis.build.runner", "execute the chapters with papermill and render the HTML book"),
    "validate": ("analysis.cohort.load", "check a cohort file against the schema and summarise it"),
    "map": ("analysis.cohort.draft", "draft a mapping file (column names, labels, dates) from an export"),
    "synth": ("analysis.cohort.synth.generator", "write the calibrated synthetic cohort (deterministic)"),
    "pdf": ("analysis.build.pdf", "print the whole book to one PDF (headless system Chromium, offline)"),
    "stats": ("analysis.stats.spec", "run an analysis spec on a CSV and write R-shaped JSON"),
}


def _usage() -> str:
    lines = ["usage: python -m analysis COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "python -m analysis COMMAND --help shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, help_ = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"python -m analysis {name}", description=help_)
    module.configure_parser(parser)
    args = parser.parse_args(rest)
    return int(module.run(args) or 0)
