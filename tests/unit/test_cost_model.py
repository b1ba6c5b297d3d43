"""The price table loads and the cost arithmetic is right: known cases worked out by hand."""

from __future__ import annotations

import pytest

from benchmarks.cost import (
    PRICES,
    FunctionUse,
    Usage,
    costs,
    item_size,
    load_prices,
    read_units,
    sqs_requests,
    write_units,
)


def test_the_price_table_loads_with_its_date_region_and_sources() -> None:
    prices = load_prices(PRICES)
    assert prices.region == "eu-west-1"
    assert prices.as_of.startswith("2026-12")
    assert "verify before quoting" in prices.status
    assert {"lambda", "api_gateway", "sqs", "dynamodb", "s3", "kms"} <= set(prices.sources)
    assert prices["lambda"]["gb_second_x86"] == pytest.approx(0.0000166667)


def test_a_negative_price_is_refused(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('region = "x"\nas_of = "2026-12-01"\nstatus = "s"\n[sources]\n[sqs]\nrequest_per_million = -1\n')
    with pytest.raises(ValueError, match="request_per_million"):
        load_prices(bad)


def test_dynamodb_item_sizes_and_units() -> None:
    # "pk" (2) + 10-character value, "n" (1) + 123 (2 digits' worth + 1), "ok" (2) + BOOL (1)
    assert item_size({"pk": {"S": "TENANT#abc"}, "n": {"N": "123"}, "ok": {"BOOL": True}}) == 12 + 4 + 3
    assert write_units(1024) == 1 and write_units(1025) == 2
    assert write_units(39 * 1024 + 1, transactional=True) == 80  # a 1,000-task batch item, in a transaction
    assert write_units(0) == 1  # a write of nothing (a failed condition) is still one unit
    assert read_units(4096) == 1 and read_units(4097) == 2
    assert read_units(100, consistent=False) == 0.5
    assert read_units(100, transactional=True) == 2


def test_sqs_bills_each_64_kb_chunk() -> None:
    assert sqs_requests(0) == 1
    assert sqs_requests(65536) == 1
    assert sqs_requests(65537) == 2


def test_a_known_usage_costs_what_the_hand_computation_says() -> None:
    prices = load_prices(PRICES)
    usage = Usage(api_requests=1000, api_calls=1000, sqs_requests=3000, dynamodb_wru=4000, dynamodb_rru=500,
                  s3_put=1000, s3_get=1000, kms_requests=10000)  # fmt: skip
    usage.functions["WorkerFunction"] = FunctionUse(1024, invocations=100, billed_ms=100 * 250)  # 25 GB-s
    usage.functions["PostTaskFunction"] = FunctionUse(512, invocations=1000, billed_ms=1000 * 40)  # 20 GB-s
    items = costs(usage, prices)
    assert items["Lambda requests"] == pytest.approx(1100 * 0.20 / 1e6)
    assert items["Lambda duration"] == pytest.approx(45 * 0.0000166667)
    assert items["API Gateway (HTTP API)"] == pytest.approx(1000 * 1.11 / 1e6)
    assert items["SQS"] == pytest.approx(3000 * 0.40 / 1e6)
    assert items["DynamoDB writes"] == pytest.approx(4000 * 0.7068 / 1e6)
    assert items["DynamoDB reads"] == pytest.approx(500 * 0.1415 / 1e6)
    assert items["S3 requests"] == pytest.approx(0.005 + 0.0004)
    assert items["KMS"] == pytest.approx(0.03)
    # 5 % of the 1,000 API requests and 100 worker invocations are traced.
    assert items["X-Ray"] == pytest.approx(55 * 5.00 / 1e6)
    # Lambda's START/END/REPORT lines: 260 bytes for each of 1,100 invocations.
    assert items["CloudWatch Logs"] == pytest.approx(1100 * 260 / 2**30 * 0.57)


def test_scaling_a_sample_scales_every_unit() -> None:
    sample = Usage(api_requests=1, api_calls=1, dynamodb_wru=9.5, s3_put=1)
    sample.functions["WorkerFunction"] = FunctionUse(1024, 1, 24)
    whole = sample.scaled(100) + Usage(s3_get=1)
    assert (whole.api_requests, whole.s3_put, whole.s3_get) == (100, 100, 1)
    assert whole.dynamodb_wru == pytest.approx(950)
    assert whole.functions["WorkerFunction"].gb_seconds == pytest.approx(2.4)


def test_the_meter_bills_a_transaction_item_on_its_larger_image_and_sqs_by_chunk() -> None:
    import boto3
    from botocore.stub import Stubber

    from benchmarks.cost import Meter

    session = boto3.session.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    reader, ddb, sqs = session.client("dynamodb"), session.client("dynamodb"), session.client("sqs")
    key = {"pk": {"S": "TENANT#t#BATCH#b"}, "sk": {"S": "BATCH"}}
    item = {**key, "taskIds": {"S": "x" * 3000}}  # about 3 KB, before and after
    with Stubber(reader) as read, Stubber(ddb) as write, Stubber(sqs) as queue:
        for _ in range(2):  # before and after the call
            read.add_response("get_item", {"Item": item})
        write.add_response("transact_write_items", {})
        queue.add_response("send_message_batch", {"Successful": [], "Failed": []})
        meter = Meter(reader)
        meter.watch(ddb)
        meter.watch(sqs)
        ddb.transact_write_items(TransactItems=[{"Update": {"TableName": "T", "Key": key, "UpdateExpression": "ADD n :one",
                                                            "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
        entries = [{"Id": str(i), "MessageBody": "y" * 10_000} for i in range(10)]  # 100,000 bytes: two chunks
        sqs.send_message_batch(QueueUrl="https://sqs.eu-west-1.amazonaws.com/1/q", Entries=entries)
    usage = meter.take()
    assert usage.calls == {"dynamodb.TransactWriteItems": 1, "sqs.SendMessageBatch": 1}
    assert usage.dynamodb_wru == 6 and usage.wru_by_item == {"BATCH": 6}
    assert usage.sqs_requests == 2
