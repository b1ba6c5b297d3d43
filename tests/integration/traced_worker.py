"""One task through the worker with Powertools' Tracer on, as on Lambda, in a process of its own
(the X-Ray SDK patches botocore for the whole process, for good). A UDP socket plays the X-Ray
daemon; what it received is printed as JSON. Run by test_tracing.py: python -m tests.integration.traced_worker
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any


def received(daemon: socket.socket) -> list[dict[str, Any]]:
    documents = []
    daemon.setblocking(False)
    while True:
        try:
            datagram = daemon.recv(65536)
        except BlockingIOError:
            return documents
        # Each datagram: the daemon protocol's header line, then one segment document.
        documents.append(json.loads(datagram.decode().split("\n", 1)[1]))


def main() -> None:
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    # AWS: Lambda sets these in a traced function's environment (the trace id, per invocation).
    os.environ.update(
        LAMBDA_TASK_ROOT=os.getcwd(),
        AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{daemon.getsockname()[1]}",
        _X_AMZN_TRACE_ID="Root=1-66a0f1c2-5f2b9d3e8c7a6b5d4e3f2a1b;Parent=53995c3f42cd8ad8;Sampled=1",
    )
    import tests.conftest  # noqa: F401  (fake credentials and the Powertools variables)
    from moto import mock_aws

    from tasklane.domain import templates
    from tasklane.storage import get_backends
    from tasklane_local.aws import Provisioner
    from tasklane_local.references import ReferenceResolver
    from tests.integration.conftest import PARAMETERS, TEMPLATE
    from tests.support import FakeContext, body_of, http_event, load_function, queue_url, simple_dap, sqs, sqs_records

    with mock_aws():
        resources = Provisioner(TEMPLATE, None, "us-east-1").create_all()  # type: ignore[arg-type]
        resolver = ReferenceResolver(TEMPLATE, resources, PARAMETERS, "us-east-1", "123456789012")
        for function in TEMPLATE.functions.values():
            os.environ.update(resolver.resolve_environment(function.environment))
        template_id = templates.upload(get_backends(), "acme", simple_dap()).id
        accepted = load_function("post_task").lambda_handler(
            http_event("post_task", body={"template": template_id, "params": {"id": "1"}}), FakeContext()
        )
        messages = sqs().receive_message(QueueUrl=queue_url(), MessageAttributeNames=["All"])["Messages"]
        answer = load_function("worker").lambda_handler({"Records": sqs_records(messages)}, FakeContext())
    json.dump({"task": body_of(accepted)["taskID"], "answer": answer, "documents": received(daemon)}, sys.stdout)


if __name__ == "__main__":
    main()
