"""``python -m devstack run`` (what ``make run`` does) and ``python -m devstack up [--print-env]``."""

from __future__ import annotations

import argparse

from devstack.supervisor import REPO_ROOT, run, up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="infrastructure, migrations, then every Procfile process")
    run_parser.add_argument("--procfile", default="Procfile")
    up_parser = commands.add_parser("up", help="infrastructure and migrations only, until Ctrl-C")
    up_parser.add_argument("--print-env", action="store_true", help="print KEY=VALUE lines for the infrastructure")
    probe_parser = commands.add_parser(
        "probe", help="exit 0 when an http:// URL answers 200 or a grpc:// server is SERVING"
    )
    probe_parser.add_argument("url")
    args = parser.parse_args(argv)
    if args.command == "probe":
        from devstack.probe import probe

        return 0 if probe(args.url) else 1
    if args.command == "run":
        return run(REPO_ROOT, args.procfile)
    return up(REPO_ROOT, print_env=args.print_env)


if __name__ == "__main__":
    raise SystemExit(main())
