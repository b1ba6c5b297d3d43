"""`tasklane`: run the local stack and get credentials for it."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

import botocore.exceptions

from tasklane_local import devkeys
from tasklane_local.environ import EnvironmentPatch
from tasklane_local import log_format, openapi
from tasklane_local.lambda_runtime import HandlerNotFound
from tasklane_local.references import UnresolvableReference
from tasklane_local.serving import WILDCARD_HOSTS
from tasklane_local.stack import SAM_ENV_FILE, LocalStack, checkout_root, default_state_dir, point_at_running_stack, read_state
from tasklane_local.template import TemplateError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tasklane", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="serve template.yaml locally (moto for AWS)")
    local.add_argument("--port", type=int, default=3000)
    local.add_argument("--host", default="127.0.0.1", help="where the API listens")
    local.add_argument(
        "--aws-host",
        default="127.0.0.1",
        help="where moto, the dev JWKS and the Lambda API listen: Docker's bridge (172.17.0.1) lets sam local's "
        "containers reach them; 0.0.0.0 lets every machine that reaches this one in too",
    )
    local.add_argument("--template", type=Path, default=Path("template.yaml"))
    local.add_argument("--no-worker", action="store_true", help="leave the task queue unpolled")
    local.add_argument(
        "--log-format",
        choices=log_format.LOG_FORMATS,
        default="compact",
        help="compact: a line per request and per worker run (default); json: the functions' Powertools JSON, as on Lambda",
    )
    local.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="template parameters, as sam local takes them (SalesforceHosts=127.0.0.1)",
    )

    token = commands.add_parser("token", help="print a dev JWT the local authorizer accepts")
    token.add_argument("--tenant", required=True)
    token.add_argument("--scope", action="append", required=True, dest="scopes")
    token.add_argument("--ttl", type=int, default=3600, help="seconds")
    token.add_argument(
        "--folder",
        action="append",
        type=int,
        dest="folders",
        help="a GenericTasks folder id the token reaches (repeatable; without it, every folder)",
    )
    token.add_argument("--team", help="the jobs team the token is limited to (without it, every team)")

    apikey = commands.add_parser("apikey", help="API keys in the running local stack")
    apikey_commands = apikey.add_subparsers(dest="apikey_command", required=True)
    create = apikey_commands.add_parser("create", help="create an API key for a tenant")
    create.add_argument("--tenant", required=True)

    contract = commands.add_parser("openapi", help="print (or write) the OpenAPI 3.1 contract of template.yaml")
    contract.add_argument("--template", type=Path, default=Path("template.yaml"))
    contract.add_argument("--output", type=Path, help="write it here (make openapi: docs/openapi.json)")

    render = commands.add_parser(
        "render", help="run a DAP (a .dap zip or its folder) on params here and write its results; no stack needed"
    )
    render.add_argument("dap", type=Path, help="examples/account-profile.dap, or the folder examples/account-profile")
    render.add_argument("--params", help="the task's params: a JSON object, or @FILE holding one")
    render.add_argument(
        "--param", action="append", default=[], dest="pairs", metavar="NAME=TEXT|NAME:=JSON", help="one param: name=Acme (text) or amount:=12.5 (JSON)"
    )
    render.add_argument("--out", type=Path, default=Path("rendered"), help="where results are written (./rendered)")

    invoke = commands.add_parser(
        "invoke", help="run one function's handler on one event against the running local stack, as sam local invoke does"
    )
    invoke.add_argument("function", help="its logical id (PostTaskFunction) or folder (post_task)")
    invoke.add_argument("-e", "--event", required=True, help="the event's JSON file, or - for stdin")
    invoke.add_argument("--template", type=Path, help="the checkout's template.yaml unless given")

    commands.add_parser(
        "events", help="make events/ real against the running local stack: writes .tasklane/events/ with real ids and a token"
    )

    quota = commands.add_parser("quota", help="license quotas in the running local stack")
    quota_commands = quota.add_subparsers(dest="quota_command", required=True)
    quota_set = quota_commands.add_parser("set", help="set a tenant's monthly license units")
    quota_set.add_argument("--tenant", required=True)
    quota_set.add_argument("--monthly", required=True, type=int)
    return parser


@contextlib.contextmanager
def _stop_requested() -> Iterator[threading.Event]:
    """An event Ctrl-C or SIGTERM sets, instead of KeyboardInterrupt mid-shutdown."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def parameter_overrides(items: list[str]) -> dict[str, str]:
    """`Name=Value` pairs, as `sam local --parameter-overrides` takes them (ParameterKey=...,ParameterValue=... too)."""
    found: dict[str, str] = {}
    for item in items:
        if item.startswith("ParameterKey="):
            key, _, value = item.partition(",ParameterValue=")
            found[key.removeprefix("ParameterKey=")] = value
            continue
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UnresolvableReference(f"--parameter-overrides: {item!r} is not NAME=VALUE")
        found[name] = value
    return found


def run_local(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log_format.quiet_local_noise()
    with _stop_requested() as stop:
        try:
            overrides = parameter_overrides(args.parameter_overrides)
            stack = LocalStack(
                args.template,
                port=args.port,
                host=args.host,
                aws_host=args.aws_host,
                start_worker=not args.no_worker,
                parameter_overrides=overrides,
            ).start()
        except OSError as error:
            if error.errno == errno.EADDRNOTAVAIL:
                print(
                    f"tasklane local: {args.host} or {args.aws_host} is not an address of this machine "
                    "(Docker's bridge, for --aws-host, is the inet address `ip -4 addr show docker0` prints)",
                    file=sys.stderr,
                )
                return 1
            if error.errno != errno.EADDRINUSE:
                print(f"tasklane local: {error}", file=sys.stderr)  # a template file it cannot read
                return 1
            print(
                f"tasklane local: port {args.port} on {args.host} is already in use. Stop what holds it "
                f"(ss -ltnp 'sport = :{args.port}' names it), or take another: make run PORT={args.port + 1}",
                file=sys.stderr,
            )
            return 1
        except (
            TemplateError,
            UnresolvableReference,
            HandlerNotFound,
        ) as error:
            # A template the local stack cannot run: no traceback needed.
            print(f"tasklane local: {error}", file=sys.stderr)
            return 1
        with stack, log_format.printing(args.log_format, stack.service, stack.api_functions):
            print(f"tasklane API:       {stack.url}")
            print(f"AWS (moto) at:      {stack.aws_endpoint}  (set AWS_ENDPOINT_URL to use it)")
            print(f"Dev keys:           {stack.state_dir}  (kept: tokens stay valid across restarts)")
            reach = "" if args.aws_host != "127.0.0.1" else " (containers reach it with --aws-host 172.17.0.1)"
            print(f"sam local:          --env-vars {stack.state_dir / SAM_ENV_FILE}{reach}")
            if args.aws_host in WILDCARD_HOSTS:
                print(
                    f"Warning:            moto and the Lambda API listen on every interface ({args.aws_host}), without "
                    "credentials:\n                    anyone who reaches this machine can read the stack's data and invoke its functions"
                )
            print("AWS state:          in memory: templates, tasks, batches, jobs, API keys and quotas")
            print("                    are gone when this stops (each start is a clean stack)")
            print("Credentials:")
            print("  tasklane token --tenant <tenant> --scope <scope>   # bearer token (tasks:read, tasks:write,")
            print("                                                     #   OR.Tasks, OR.Tasks.Read, OR.Tasks.Write,")
            print("                                                     #   workflow.execute, job.read, job.read_all, job.modify, job.admin)")
            print("  tasklane apikey create --tenant <tenant>           # API key")
            if args.log_format == "compact":
                print("Logs:               a line per request and worker run; the functions' JSON: --log-format json")
            print("Ctrl-C to stop.", flush=True)
            stop.wait()
    print("stopped", flush=True)
    return 0


def run_token(args: argparse.Namespace) -> int:
    if checkout_root() is None:
        # New keys here would sign tokens the running stack refuses ("Unable to find a signing key").
        print(
            f"tasklane token: {Path.cwd()} is not inside a tasklane checkout (no template.yaml or .tasklane "
            "here or above). Run it in the repository where `make run` runs: its .tasklane holds the stack's keys.",
            file=sys.stderr,
        )
        return 2
    state = default_state_dir()
    print(devkeys.issue_token(args.tenant, args.scopes, state, ttl_seconds=args.ttl, folders=args.folders, team=args.team))
    return 0


def _against_running_stack(action: Callable[[], str]) -> int:
    """Run `action` with this process pointed at the running local stack's AWS; print what it returns."""
    state = read_state()
    if state is None:
        print("the local stack is not running: start it with `tasklane local`", file=sys.stderr)
        return 1
    environ = EnvironmentPatch()
    try:
        point_at_running_stack(environ, state)
        output = action()
    except botocore.exceptions.EndpointConnectionError:
        print(
            f"the local stack is not running (nothing at {state['aws_endpoint']}); "
            f"remove {default_state_dir() / 'local.json'} or start `tasklane local`",
            file=sys.stderr,
        )
        return 1
    finally:
        environ.restore()
    print(output)
    return 0


def run_apikey_create(args: argparse.Namespace) -> int:
    def create() -> str:
        # Imported only now: domain code may read its configuration at import.
        from tasklane.domain.auth import create_api_key

        return create_api_key(args.tenant)

    return _against_running_stack(create)


def run_quota_set(args: argparse.Namespace) -> int:
    from tasklane.domain.auth import TENANT_PATTERN

    if not TENANT_PATTERN.fullmatch(args.tenant) or args.monthly < 0:
        print("quota set needs a valid tenant id and a monthly quota of 0 or more", file=sys.stderr)
        return 2

    def set_quota() -> str:
        from tasklane.domain import licensing
        from tasklane.storage import get_backends

        licensing.set_quota(get_backends(), args.tenant, args.monthly)
        return f"tenant {args.tenant}: {args.monthly} license units a month"

    return _against_running_stack(set_quota)


def run_openapi(args: argparse.Namespace) -> int:
    text = openapi.render(openapi.from_template(args.template))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "openapi":
        return run_openapi(args)
    if args.command == "local":
        return run_local(args)
    if args.command == "token":
        return run_token(args)
    if args.command == "render":
        from tasklane_local import render

        return render.main(args.dap, args.params, args.pairs, args.out)
    if args.command == "invoke":
        from tasklane_local import invoke

        return invoke.main(args.function, args.event, args.template)
    if args.command == "events":
        from tasklane_local import events

        return events.main()
    if args.command == "quota":
        return run_quota_set(args)
    return run_apikey_create(args)


if __name__ == "__main__":
    sys.exit(main())
