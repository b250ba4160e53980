#!/usr/bin/env python3
"""Connects to a Sluice server with credentials and says who the server thinks the caller is.

    # An API key (or set SLUICE_API_KEY), in plaintext to a server on this machine:
    python3 clients/python/examples/connect.py --address 127.0.0.1:50051 --api-key sk_...
    # TLS with a CA bundle, and a client certificate for mutual TLS:
    python3 clients/python/examples/connect.py --address sluice.example.com:443 \\
        --ca-file ca.pem --cert-file client.pem --key-file client-key.pem

It lists the projects (ListProjects) and asks WhoAmI, printing one line each, then "ok". A failed
call prints "ERROR <CODE> <message>" on stderr and exits 1. The Go example (clients/go/examples/connect)
takes the same flags and prints the same lines; test/e2e/clients-auth.e2e.test.ts runs both against a
server with authentication on.
"""

from __future__ import annotations

import argparse
import os
import sys

from sluice import SluiceClient, SluiceError, Tls
from sluice.v1 import registry_pb2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051", help="HOST:PORT of a Sluice server")
    parser.add_argument("--api-key", default=os.environ.get("SLUICE_API_KEY", ""), help="API key (default: $SLUICE_API_KEY)")
    parser.add_argument("--token", default=os.environ.get("SLUICE_TOKEN", ""), help="bearer token, a JWT (default: $SLUICE_TOKEN)")
    parser.add_argument("--ca-file", default="", help="PEM CA bundle: connect over TLS, trusting it")
    parser.add_argument("--cert-file", default="", help="PEM client certificate, for mutual TLS (with --key-file)")
    parser.add_argument("--key-file", default="", help="PEM key of --cert-file")
    parser.add_argument("--server-name", default="", help="the name in the server's certificate, if not the address's host")
    parser.add_argument("--tls", action="store_true", help="connect over TLS with the default roots")
    parser.add_argument("--plaintext", action="store_true", help="send credentials unencrypted to a remote address on purpose")
    args = parser.parse_args()

    try:
        tls: bool | Tls | None = None
        if args.ca_file or args.cert_file or args.server_name:
            tls = Tls.from_files(args.ca_file or None, args.cert_file or None, args.key_file or None, server_name=args.server_name or None)
        elif args.tls:
            tls = True
        elif args.plaintext:
            tls = False
        with SluiceClient(args.address, timeout=10, api_key=args.api_key or None, token=args.token or None, tls=tls) as client:
            projects = [p.name for p in client.call(client.registry.ListProjects, registry_pb2.ListProjectsRequest()).projects]
            print(f"projects: {', '.join(projects) or '(none)'}")
            me = client.who_am_i()
            roles = " ".join(f"{r.project}:{r.role}" for r in me.roles)
            print(f"whoami: {me.principal} ({me.authentication}) roles {roles or '(none)'}")
    except SluiceError as error:
        print(f"ERROR {error.code_name} {error.message}", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
