"""The whole local stack: moto, resources, environment, handlers, gateway, workers."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tasklane.domain import templates
from tasklane_local import devkeys, openapi
from tasklane_local.aws import FAKE_CREDENTIALS, LocalAws
from tasklane_local.docs_site import DocsSite
from tasklane_local.environ import EnvironmentPatch
from tasklane_local.gateway import EventBuilder, Gateway, GatewayServer
from tasklane_local.jwt_authorizer import JwtAuthorizer
from tasklane_local.lambda_api import LambdaApiServer
from tasklane_local.lambda_runtime import LambdaRuntime, LocalFunction, physical_function_name, split_environments
from tasklane_local.template import Template, load_template
from tasklane_local.worker import SqsEventSource

logger = logging.getLogger("tasklane.local.stack")

STATE_FILE = "local.json"
# What `sam local invoke --env-vars` takes: every function's variables, as a container reaches them.
SAM_ENV_FILE = "env.json"
# AWS: the SDK's endpoint variables. template.yaml declares them empty (the SDK then takes AWS's own
# endpoints) so that the local stack, and sam local's --env-vars, can set them.
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA")
# How a container started by sam local reaches the host (docker run --add-host host.docker.internal:host-gateway).
CONTAINER_HOST = "host.docker.internal"


def checkout_root(start: Path | None = None) -> Path | None:
    """The tasklane checkout holding `start` (the working directory): the nearest folder, going up,
    that has a .tasklane state folder or a template.yaml. None outside any checkout."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".tasklane").is_dir() or (folder / "template.yaml").is_file():
            return folder
    return None


def default_state_dir() -> Path:
    """The checkout's .tasklane, from anywhere inside it (so a command run in a subfolder uses the
    stack's keys rather than making new ones); the working directory's outside any checkout."""
    return (checkout_root() or Path.cwd()) / ".tasklane"


def read_state(state_dir: str | Path | None = None) -> dict[str, Any] | None:
    """What a running stack published for other commands, or None when none runs (no file, or the
    file of a stack that died without removing it: killed, or its machine restarted)."""
    path = Path(state_dir or default_state_dir()) / STATE_FILE
    if not path.exists():
        return None
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    pid = state.get("pid")
    if isinstance(pid, int) and not _running(pid):
        return None
    return state


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _write_json(path: Path, value: object) -> None:
    """Whole or not at all (another command may read it meanwhile), and readable by its owner only:
    it holds every function's variables, a JwtSecret among them."""
    devkeys.write_atomically(path, json.dumps(value, indent=2).encode(), 0o600)


# What could send a command's AWS calls somewhere other than the running stack's moto.
_ELSEWHERE = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


def point_at_running_stack(environ: EnvironmentPatch, state: Mapping[str, Any], own: Mapping[str, str] | None = None) -> None:
    """Set, through `environ`, what makes this process's AWS calls reach the running stack's moto and
    nothing else: the stack's variables (and a function's `own`), its endpoint and region (moto keeps
    regions apart), fake credentials; no profile, session token or per-service endpoint of the shell."""
    environ.unset(name for name in os.environ if name in _ELSEWHERE or name.startswith("AWS_ENDPOINT_URL_"))
    environ.set(
        {
            **FAKE_CREDENTIALS,
            **state["environment"],
            **(own or {}),
            "AWS_ENDPOINT_URL": state["aws_endpoint"],
            "AWS_DEFAULT_REGION": state["region"],
            "AWS_REGION": state["region"],
        }
    )


class LocalStack:
    """template.yaml served from this process; use as a context manager."""

    def __init__(
        self,
        template_path: str | Path,
        port: int = 3000,
        host: str = "127.0.0.1",
        aws_host: str = "127.0.0.1",
        parameter_overrides: Mapping[str, str] | None = None,
        start_worker: bool = True,
        state_dir: str | Path | None = None,
    ) -> None:
        self.template: Template = load_template(template_path)
        self._port = port
        self._host = host
        self._aws_host = aws_host
        # Every function's variables, resolved and pointed at this stack (for sam local's env.json).
        self._variables: dict[str, dict[str, str]] = {}
        self._jwks_base = ""
        self._overrides = dict(parameter_overrides or {})
        self._start_worker = start_worker
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir()
        self._exit = contextlib.ExitStack()
        self._started = False
        self.url = ""
        self.aws_endpoint = ""
        self.lambda_url = ""
        self.resources: dict[str, str] = {}
        self.environment: dict[str, str] = {}
        # What each function holds beyond `environment` (a route's REQUIRED_SCOPE), by logical id.
        self.function_environments: dict[str, dict[str, str]] = {}
        self.aws: LocalAws | None = None
        self.runtime: LambdaRuntime | None = None
        self.gateway: Gateway | None = None
        self.workers: list[SqsEventSource] = []

    def _parameter_values(self, jwks_url: str) -> dict[str, str]:
        # Dev issuer settings only for the parameters this template declares; explicit
        # overrides win. Parameters left out (DefaultMonthlyQuota) take their Default.
        dev = {
            name: value for name, value in devkeys.dev_parameters(jwks_url).items() if name in self.template.parameters
        }
        return {**dev, **self._overrides}

    def start(self) -> Self:
        """Start everything; a no-op when already started, so `with stack.start():` works."""
        if self._started:
            return self
        self._started = True
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        # Loopback unless --aws-host says otherwise: then sam local's authorizer container fetches
        # the keys too, as it reaches moto and the Lambda API.
        jwks = devkeys.JwksServer(self.state_dir, host=self._aws_host)
        self._exit.callback(jwks.stop)
        jwks_url = jwks.start()
        self._jwks_base = jwks_url.removesuffix(devkeys.JWKS_PATH)

        aws = self._exit.enter_context(LocalAws(self.template, self._parameter_values(jwks_url), host=self._aws_host))
        self.aws = aws
        self.aws_endpoint = aws.endpoint
        self.resources = aws.resources.physical_ids()

        resolver = aws.resolver
        # Functions that invoke another reach it through Lambda's API, served from this process.
        loaded: dict[str, LocalFunction] = {}
        lambda_api = LambdaApiServer(loaded.get, host=self._aws_host)
        self._exit.callback(lambda_api.stop)
        self.lambda_url = lambda_api.start()
        endpoints = dict(zip(ENDPOINT_VARIABLES, (aws.endpoint, self.lambda_url), strict=True))
        self._variables = {
            lid: {**resolver.resolve_environment(function.environment), **endpoints}
            for lid, function in self.template.functions.items()
        }
        environments = split_environments(self._variables)
        self.environment = environments.shared
        self.function_environments = environments.own
        environ = EnvironmentPatch()
        self._exit.callback(environ.restore)
        environ.set(self.environment)

        # Handlers parse their configuration at import, so they load after the environment.
        runtime = LambdaRuntime(self.template.functions, region=aws.region, own_environments=environments.own).load()
        self._exit.callback(runtime.unload)
        self.runtime = runtime
        loaded.update({function.name: function for function in runtime.functions.values()})

        # AWS: a JWT authorizer fetches the keys its issuer publishes; locally the issuer is the
        # dev issuer, whose JWKS this process serves.
        jwt_authorizers = {
            authorizer.name: JwtAuthorizer(
                resolver.resolve(authorizer.issuer, f"{authorizer.name}.issuer"),
                [resolver.resolve(a, f"{authorizer.name}.audience") for a in authorizer.audience],
                jwks_url,
                authorizer.identity_source.removeprefix("$request.header."),
                unknown_key_hint=f"Make tokens with `tasklane token` inside {self.state_dir.parent}: "
                f"its .tasklane holds this stack's keys.",
            )
            for api in self.template.http_apis.values()
            for authorizer in api.authorizers.values()
            if authorizer.is_jwt
        }
        contract = None
        try:
            contract = DocsSite(openapi.build(self.template))
        except ValueError as mismatch:
            # Another template than tasklane's (the tests' small ones): served without the contract pages.
            logger.warning("no /openapi.json or /docs for %s: %s", self.template.path, mismatch)
        self.gateway = Gateway(
            self.template.routes, runtime.functions, EventBuilder(aws.region), jwt_authorizers, pages=contract
        )
        server = GatewayServer(self.gateway, self._host, self._port)
        self._exit.callback(server.stop)
        self.url = server.start()

        if self._start_worker:
            for lid, function in self.template.functions.items():
                for event in function.sqs_events:
                    worker = SqsEventSource(
                        runtime[lid],
                        event,
                        aws.resources.queues[event.queue_id],
                        aws.region,
                        aws.endpoint,
                    )
                    self._exit.callback(worker.stop)
                    worker.start()
                    self.workers.append(worker)

        self._publish_state()

    def _publish_state(self) -> None:
        path = self.state_dir / STATE_FILE
        self.state_dir.mkdir(parents=True, exist_ok=True)
        assert self.aws is not None
        state = {
            "aws_endpoint": self.aws_endpoint,
            "url": self.url,
            "region": self.aws.region,
            "pid": os.getpid(),
            "environment": self.environment,
            "functions": self.function_environments,
        }
        _write_json(self.state_dir / SAM_ENV_FILE, self.container_variables())
        _write_json(path, state)
        # A stale local.json would send other commands to a dead endpoint; env.json, sam local.
        self._exit.callback(path.unlink, missing_ok=True)
        self._exit.callback((self.state_dir / SAM_ENV_FILE).unlink, missing_ok=True)

    def container_variables(self) -> dict[str, dict[str, str]]:
        """Every function's variables as a sam local container reaches this stack (its env.json).

        AWS: SAM sets only the variables the template declares, which is why the endpoints are
        declared. The container reaches moto, the dev JWKS and the Lambda API on the host only when
        they listen beyond loopback (--aws-host: Docker's bridge, or every interface)."""
        own_urls = [self.aws_endpoint, self.lambda_url, self._jwks_base]
        container = {url: url.replace("127.0.0.1", CONTAINER_HOST, 1) for url in own_urls}
        rewritten: dict[str, dict[str, str]] = {}
        for lid, variables in self._variables.items():
            rewritten[lid] = {}
            for name, value in variables.items():
                for url, reached in container.items():
                    value = value.replace(url, reached)
                rewritten[lid][name] = value
        return rewritten

    @property
    def service(self) -> str:
        """The service name the functions' Powertools loggers log under (Powertools' own default without one)."""
        return self.environment.get("POWERTOOLS_SERVICE_NAME", "service_undefined")

    @property
    def api_functions(self) -> set[str]:
        """The functions behind the API's routes and their authorizers, by the name their log lines carry."""
        authorizers = {route.authorizer.function_id for route in self.template.routes if route.authorizer is not None}
        functions = {route.function_id for route in self.template.routes} | authorizers
        return {physical_function_name(function_id) for function_id in functions if function_id is not None}

    def reset(self) -> None:
        """Empty every table, bucket and queue (names and URLs stay the same)."""
        assert self.aws is not None, "start the stack first"
        self.aws.reset()
        templates.ACCEPTING.clear()  # parsed DAPs of the buckets just emptied

    def close(self) -> None:
        self._exit.close()
        self.workers.clear()
        self._started = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
