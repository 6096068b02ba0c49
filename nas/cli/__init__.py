"""``nas`` command line. Each command group lives in its own module with a ``register(subparsers)``."""

from __future__ import annotations

import argparse
import sys

from nas.errors import NasError
from nas.logs import setup_logging


def build_parser() -> argparse.ArgumentParser:
    from nas.cli import hardware, studies

    parser = argparse.ArgumentParser(prog="nas", description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    studies.register(sub)
    hardware.register(sub)
    from nas.cli import api as api_cli
    api_cli.register(sub)
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


if __name__ == "__main__":
    sys.exit(main())
