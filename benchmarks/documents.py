"""Word and PDF documents, and Salesforce calls, measured next to plain baselines in the same run.

Prints:
- a 100-task DOCX batch on the local stack (worker driven from this thread): tasks/s next to a plain
  loop of docxtpl renders plus the same AWS calls (claim, S3 put per task, one finishing transaction);
- DOCX -> PDF: the per-document cost of converting ten documents through one warm LibreOffice (as a
  run unit of ten tasks does) next to a one-shot `soffice --headless --convert-to pdf` of the same file;
- Salesforce API calls per task for a chunk of ten tasks that each read one record (fake Salesforce
  on loopback, real client): the reads are combined into one query.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers"), str(ROOT / "local")]

from docxtpl import DocxTemplate  # noqa: E402
from tasklane.conversion.libreoffice import LibreOffice  # noqa: E402
from tasklane.dap import Engine, RunContext, load_dap  # noqa: E402
from tasklane.integrations.salesforce import SalesforceSession  # noqa: E402
from tasklane.storage.clients import aws_client  # noqa: E402
from tasklane_local.devkeys import issue_token  # noqa: E402
from tasklane_local.stack import LocalStack  # noqa: E402
from tasklane_local.worker import SqsEventSource  # noqa: E402

from benchmarks.batch import CallCounter, show_calls  # noqa: E402
from tests.fakes.salesforce import FakeSalesforce  # noqa: E402
from tests.support import zip_files  # noqa: E402

TASKS = 100
OFFER_DOCX = (ROOT / "examples" / "offer-docx" / "templates" / "offer.docx").read_bytes()
DOCX_DAP = zip_files(
    {
        "dap.yaml": """name: Word offer
params: {name: {required: true}, amount: {type: number, required: true}}
steps:
  - set: {as: total, value: "param.amount * 1.24"}
  - compose: {template: templates/offer.docx, as: offer}
  - store: {from: offer, id: Offer, filename: "offer-{{ param.name }}.docx"}
""",
        "templates/offer.docx": OFFER_DOCX,
    }
)


def docx_loop(env: dict[str, str], tasks: int) -> float:
    """The worker's AWS calls for the batch, as a plain boto3 loop, with a plain docxtpl render per task."""
    ddb, s3 = aws_client("dynamodb"), aws_client("s3")
    table, bucket = env["TABLE_NAME"], env["BUCKET_NAME"]
    pk = {"S": f"TENANT#floor#BATCH#{uuid.uuid4().hex}"}
    ddb.put_item(TableName=table, Item={"pk": pk, "sk": {"S": "BATCH"}, "state": {"S": "Accepted"}})
    start = time.perf_counter()
    ddb.get_item(TableName=table, Key={"pk": pk, "sk": {"S": "BATCH"}}, ConsistentRead=True)
    for chunk in range(tasks // 10):
        key = {"pk": pk, "sk": {"S": f"CHUNK#{chunk:04d}"}}
        ids = [str(uuid.uuid4()) for _ in range(10)]
        ddb.update_item(
            TableName=table, Key=key, UpdateExpression="SET #s = :s", ConditionExpression="attribute_not_exists(#s)",
            ExpressionAttributeNames={"#s": "state"}, ExpressionAttributeValues={":s": {"S": "Running"}},
        )
        for n, task_id in enumerate(ids):
            template = DocxTemplate(io.BytesIO(OFFER_DOCX))
            amount = chunk * 10 + n
            template.render({"param": {"name": f"N{amount}", "amount": amount}, "total": amount * 1.24, "task": {"id": task_id}})
            out = io.BytesIO()
            template.save(out)
            s3.put_object(Bucket=bucket, Key=f"results/floor/{task_id}/Offer", Body=out.getvalue())
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": key, "UpdateExpression": "SET #s = :s, outcomes = :o",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":s": {"S": "Completed"}, ":o": {"S": json.dumps(ids)}}}},
            {"Update": {"TableName": table, "Key": {"pk": pk, "sk": {"S": "BATCH"}},
                        "UpdateExpression": "ADD succeeded :n", "ExpressionAttributeValues": {":n": {"N": "10"}}}},
        ])  # fmt: skip
    return time.perf_counter() - start


def docx_batch() -> None:
    state = Path(tempfile.mkdtemp(prefix="tasklane-bench-"))
    with LocalStack(ROOT / "template.yaml", port=0, state_dir=state, start_worker=False) as stack:
        headers = {"Authorization": f"Bearer {issue_token('acme', ['tasks:read', 'tasks:write'], state)}"}
        upload = requests.post(f"{stack.url}/v1/templates", data=DOCX_DAP, headers={**headers, "Content-Type": "application/zip"})
        template_id = upload.json()["id"]
        assert stack.runtime is not None and stack.aws is not None
        worker_fn = next(f for f in stack.template.functions.values() if f.sqs_events)
        source = SqsEventSource(
            stack.runtime[worker_fn.logical_id], worker_fn.sqs_events[0],
            stack.aws.resources.queues[worker_fn.sqs_events[0].queue_id], stack.aws.region, stack.aws.endpoint,
        )  # fmt: skip
        tasks = [{"params": {"name": f"N{i}", "amount": i}} for i in range(TASKS)]
        # A warm-up batch: the worker's imports (docxtpl, lxml) and caches, as in a warm Lambda.
        requests.post(f"{stack.url}/v1/batch", json={"template": template_id, "tasks": tasks[:10]}, headers=headers)
        while source.run_once():
            pass
        answer = requests.post(f"{stack.url}/v1/batch", json={"template": template_id, "tasks": tasks}, headers=headers)
        batch_id = answer.json()["id"]
        counter = CallCounter()
        start = time.perf_counter()
        handled = 0
        while handled < TASKS // 10 and time.perf_counter() < start + 300:
            handled += source.run_once()
        seconds = time.perf_counter() - start
        calls = counter.take()
        loop = docx_loop(stack.environment, TASKS)
        status = requests.get(f"{stack.url}/v1/batch/{batch_id}", headers=headers).json()
        print(f"DOCX batch of {TASKS} tasks on the local stack (completed: {status['completed']}, errors: {status['errors']})")
        show_calls("  worker", calls)
        print(f"  worker: {seconds:.2f} s ({TASKS / seconds:.1f} tasks/s); plain docxtpl loop with the same AWS calls:"
              f" {loop:.2f} s ({TASKS / loop:.1f} tasks/s); worker at {loop / seconds:.2f} of the loop's rate (target >= 0.77)")


def conversions() -> None:
    engine = Engine()
    dap = load_dap(DOCX_DAP)
    document = engine.run(dap, {"name": "Globex", "amount": 10}, RunContext(task_id="t-bench")).documents[0].content
    work = Path(tempfile.mkdtemp(prefix="tasklane-soffice-"))
    (work / "offer.docx").write_bytes(document)
    profile = work / "profile"
    one_shots = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            [shutil.which("soffice") or "soffice", "--headless", f"-env:UserInstallation=file://{profile}",
             "--convert-to", "pdf", "--outdir", str(work), str(work / "offer.docx")],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        one_shots.append(time.perf_counter() - start)
    libreoffice = LibreOffice()
    try:
        start = time.perf_counter()
        libreoffice.docx_to_pdf(document, 120)
        first = time.perf_counter() - start
        unit = []
        for _ in range(10):
            start = time.perf_counter()
            libreoffice.docx_to_pdf(document, 60)
            unit.append(time.perf_counter() - start)
    finally:
        libreoffice.close()
    one_shot = statistics.median(one_shots)
    per_document = statistics.mean(unit)
    print("DOCX -> PDF, one page")
    print(f"  one-shot soffice --headless --convert-to pdf (median of 3, profile kept): {one_shot:.2f} s")
    print(f"  warm LibreOffice: first start + conversion {first:.2f} s; then {per_document * 1000:.0f} ms per document"
          f" over a unit of ten; ratio {per_document / one_shot:.3f} of the one-shot (target <= 0.10)")


def salesforce_calls() -> None:
    reading = zip_files(
        {
            "dap.yaml": """name: Read one record
params: {id: {required: true}}
steps:
  - record: {as: account, type: Account, id: "{{ param.id }}", fields: [Name, Industry]}
  - compose: {template: t.txt, as: text}
  - store: {from: text, id: Text}
""",
            "t.txt": "{{ account.Name }} ({{ account.Industry }})",
        }
    )
    dap, engine = load_dap(reading), Engine()
    with FakeSalesforce(Path(tempfile.mkdtemp(prefix="tasklane-sf-"))) as fake:
        os.environ["REQUESTS_CA_BUNDLE"] = str(fake.ca_bundle)
        ids = [f"0015g00000{n:05d}BBB" for n in range(10)]
        for n, id_ in enumerate(ids):
            fake.add("Account", Id=id_, Name=f"Account {n}", Industry="Retail")
        session = SalesforceSession(fake.url, "00Dtest!session", ("127.0.0.1",))
        # As the worker does for a chunk: plan the reads of all ten tasks, read them at once, run each.
        session.prefetch([r for id_ in ids for r in engine.planned_reads(dap, {"id": id_}, RunContext(task_id=id_))])
        results = [engine.run(dap, {"id": id_}, RunContext(task_id=id_), data=session) for id_ in ids]
        assert all(r.ok for r in results)
        print("Salesforce, a chunk of ten tasks reading one record each")
        print(f"  API calls: {len(fake.requests)} ({len(fake.requests) / len(ids):.2f} per task; target <= 0.2);"
              f" one record read per task without combining: {len(ids)} (1.00 per task)")


if __name__ == "__main__":
    docx_batch()
    conversions()
    salesforce_calls()
