"""Command line: run a sandbox cluster until interrupted.

    python -m sandbox                       # a standalone server with the demo data
    python -m sandbox --replset 3           # a three-member replica set "rs0"
    python -m sandbox --sharded 2           # two mongos routers
    python -m sandbox --replset 3 --port 27017 --tls --auth admin:secret --big

Prints the connection string (and, with --tls, the CA file) and serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from sandbox.cluster import SandboxCluster


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox",
                                     description="Run a local MongoDB-compatible sandbox cluster.")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--replset", type=int, metavar="N", help="a replica set of N members")
    kind.add_argument("--sharded", type=int, metavar="N", help="N mongos routers")
    parser.add_argument("--port", type=int, help="first port (the others follow); default: free")
    parser.add_argument("--tls", action="store_true", help="serve TLS with a throwaway CA")
    parser.add_argument("--auth", action="append", metavar="USER:PASS", default=[],
                        help="require authentication; repeat for more users")
    parser.add_argument("--no-seed", action="store_true", help="start with no demo data")
    parser.add_argument("--big", action="store_true",
                        help="add big.items, 1,000,000 documents built on first use")
    parser.add_argument("--set-name", default="rs0", help="replica set name (default rs0)")
    parser.add_argument("--election-delay", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--max-wire-version", type=int, default=21)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for entry in args.auth:
        if ":" not in entry or entry.startswith(":"):
            print("--auth expects USER:PASS; got an entry without a user or ':'", file=sys.stderr)
            return 2
    if args.replset is not None:
        kind, members = "replset", args.replset
    elif args.sharded is not None:
        kind, members = "sharded", args.sharded
    else:
        kind, members = "standalone", 1
    try:
        cluster = SandboxCluster(kind, members, tls=args.tls, users=args.auth or None,
                                 seed=not args.no_seed, big=args.big, port=args.port,
                                 set_name=args.set_name, election_delay=args.election_delay,
                                 max_wire_version=args.max_wire_version)
        cluster.start()
    except (ValueError, OSError) as exc:
        print(f"cannot start the sandbox: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        print(cluster.uri, flush=True)
        if cluster.ca_file:
            print(f"CA file: {cluster.ca_file}", flush=True)
            print(f"client certificate: {cluster.client_cert_file}", flush=True)
        for member in cluster.members:
            print(f"  {member.address}  {member.role.lower()}", flush=True)
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
