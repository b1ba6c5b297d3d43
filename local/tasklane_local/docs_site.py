"""The local stack's contract pages: GET /openapi.json and a Swagger UI page at /docs, offline.

Not API routes (template.yaml has none of these): the gateway answers them itself, before routing,
without credentials, as a published contract is. Swagger UI's script and style sheet are the copies
the aws-lambda-powertools package ships for its own `enable_swagger`; the page is its generator's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi import swagger_ui
from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

from tasklane_local.gateway import LocalResponse

ASSETS = Path(swagger_ui.__file__).parent
_ASSET_TYPES = {"swagger-ui-bundle.min.js": "text/javascript", "swagger-ui.min.css": "text/css"}
PATHS = ("/openapi.json", "/docs")


class DocsSite:
    def __init__(self, document: dict[str, Any]) -> None:
        self._document = document

    def document_for(self, host: str | None) -> dict[str, Any]:
        """The contract, its server being the address the caller reached (any port `make run` took)."""
        servers = [{"url": f"http://{host}", "description": "This local stack"}] if host else self._document["servers"]
        return {**self._document, "servers": servers}

    def respond(self, method: str, path: str, query: str, headers: dict[str, str]) -> LocalResponse | None:
        """The answer for a contract page, or None for any other request (routed as usual)."""
        if method != "GET":
            return None
        host = headers.get("host")
        if path == "/openapi.json" or (path == "/docs" and query == "format=json"):
            body = json.dumps(self.document_for(host), indent=2).encode()
            return LocalResponse(200, {"content-type": "application/json"}, body)
        if path == "/docs":
            spec = json.dumps(self.document_for(host))
            page = generate_swagger_html(
                spec.replace("<", "\\u003c"),  # no markup can close the script the spec sits in
                "/docs/swagger-ui-bundle.min.js",
                "/docs/swagger-ui.min.css",
                swagger_base_url="/docs",
                oauth2_config=None,
            )
            # No icon to fetch: a browser would ask for /favicon.ico and log its 404 as an error.
            page = page.replace("<head>", '<head>\n    <link rel="icon" href="data:,">', 1)
            return LocalResponse(200, {"content-type": "text/html; charset=utf-8"}, page.encode())
        name = path.removeprefix("/docs/")
        if path.startswith("/docs/") and name in _ASSET_TYPES:
            content = (ASSETS / name).read_bytes()
            return LocalResponse(200, {"content-type": _ASSET_TYPES[name], "cache-control": "max-age=3600"}, content)
        return None
