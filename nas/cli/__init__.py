"""``nas``: hardware-aware neural architecture search for embedded audio classifiers.

Each command group lives in its own module with a ``register(subparsers)``; commands import the stages
they need when they run, so ``nas --help`` does not load torch.
"""

from __future__ import annotations

import argparse
import os
import sys

import nas
from nas.errors import NasError
from nas.logs import setup_logging


def build_parser() -> argparse.ArgumentParser:
    from nas.cli import api, datasets, db, hardware, studies

    parser = argparse.ArgumentParser(
        prog="nas", description="Hardware-aware neural architecture search for embedded audio classifiers.",
        epilog="Every command that uses the database takes --db URL (default $NAS_DB or sqlite:///runs/nas.db). "
               "'nas COMMAND --help' lists a command's options.")
    parser.add_argument("--version", action="version", version=f"nas {nas.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    studies.register(sub)
    hardware.register(sub)
    api.register(sub)
    datasets.register(sub)
    db.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except NasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `nas ... | head`: the reader left; say nothing more (stdout is gone) and exit like other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
