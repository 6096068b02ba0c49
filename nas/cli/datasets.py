"""``nas datasets add|list|remove|upload``: datasets registered by name, for studies created over REST."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nas.cli.common import add_db, sessions
from nas.errors import ConfigError


def _counts(info) -> str:
    splits = ", ".join(f"{k} {v}" for k, v in info.split_counts.items())
    return f"{info.clips} clips, {len(info.classes)} classes ({splits}; counted from the {info.counts_from})"


def cmd_datasets(args: argparse.Namespace) -> int:
    from nas.service import datasets as ds

    needs = {"add": ("name", "spec"), "remove": ("name",), "upload": ("name", "spec")}.get(args.action, ())
    missing = [n for n in needs if not getattr(args, n)]
    if missing:
        usage = {"add": "NAME SPEC, e.g. nas datasets add fsdd-loso fsdd-speaker:/data/fsdd:theo",
                 "remove": "NAME", "upload": "NAME ZIP"}[args.action]
        raise ConfigError(f"nas datasets {args.action} needs {usage}")
    with sessions(args.db, create=args.action in ("add", "upload"))() as s:
        if args.action == "add":
            info = ds.add_dataset(s, args.name, args.spec, roots=ds.data_roots())
            print(f"registered dataset '{info.name}' = {info.spec}: {_counts(info)}")
        elif args.action == "upload":
            info = ds.upload_dataset(s, args.name, Path(args.spec), ds.upload_dir())
            print(f"uploaded dataset '{info.name}' = {info.spec}: {_counts(info)}")
        elif args.action == "remove":
            info = ds.remove_dataset(s, args.name)
            print(f"removed dataset '{info.name}'" + (" and its uploaded files" if info.uploaded else ""))
        elif args.json:
            print(json.dumps([i.to_dict() for i in ds.list_datasets(s)], indent=2))
        else:
            for i in ds.list_datasets(s):
                print(f"{i.name:<24} {i.spec}\n{'':<24} {_counts(i)}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="register datasets by name (studies over REST name them)",
                       description="Register a dataset spec under a name (its index is checked first; with "
                                   "NAS_DATA_ROOTS set, its folder must lie under one of those roots), list them, "
                                   "remove one, or unpack a zip of class folders under NAS_UPLOAD_DIR "
                                   "(default runs/datasets) and register it.")
    p.add_argument("action", choices=["add", "list", "remove", "upload"],
                   help="add NAME SPEC | list | remove NAME | upload NAME ZIP")
    p.add_argument("name", nargs="?", help="the dataset's name (1-64 letters, digits, '_', '-', '.')")
    p.add_argument("spec", nargs="?", help="add: a dataset spec such as fsdd-speaker:/data/fsdd:theo; "
                                           "upload: the zip file")
    p.add_argument("--json", action="store_true", help="list: print JSON")
    add_db(p)
    p.set_defaults(func=cmd_datasets)
