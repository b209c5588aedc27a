"""``login``: check the cloud credentials and keep them in the system keyring.

``--user`` is saved as the cloud.user setting only once the sign-in has
succeeded, so a failed attempt leaves the settings as they were.
"""

from __future__ import annotations

import argparse
import sys

from engine.paths import AppPaths
from engine.settings import Settings, check_value
from ui.cli.exit_codes import ExitCode


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("login", help="store the cloud credentials in the system keyring")
    p.add_argument("--user", help="account name (default: setting cloud.user); saved as "
                                  "cloud.user once the sign-in succeeds")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from stdin (never from the command line)")
    p.add_argument("--client-secret-stdin", action="store_true",
                   help="oauth2-client: read the client secret from stdin")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from sync.auth import device_sign_in, login_basic, login_client_secret
    from sync.config import cloud_config
    from sync.errors import SyncError
    from sync.http import make_session

    settings = Settings(paths.config)
    values = settings.all()
    if args.user:
        values["cloud.user"] = check_value("cloud.user", args.user)
    cfg = cloud_config(values)
    session = make_session(cfg)
    if cfg.auth == "basic":
        if not args.password_stdin:
            raise SyncError("give the password on stdin with --password-stdin "
                            "(never on the command line)")
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise SyncError("no password on stdin")
        message = login_basic(cfg, session, cfg.user, password)
    elif cfg.auth == "oauth2-client":
        if not args.client_secret_stdin:
            raise SyncError("give the client secret on stdin with --client-secret-stdin")
        secret = sys.stdin.readline().rstrip("\r\n")
        message = login_client_secret(cfg, session, secret)
    else:
        def show(uri: str, code: str) -> None:
            print(f"To sign in, open {uri} and enter the code {code}", flush=True)

        device_sign_in(cfg, session, show)
        message = "signed in; the sign-in is kept in the system keyring"
    if args.user:
        settings.update({"cloud.user": args.user})
    print(message)
    return ExitCode.OK
