"""template.yaml alarms on what means a task was lost or the worker is failing (issue 18)."""

from __future__ import annotations

from tasklane_local.template import load_yaml

from tests.support import ROOT


def resources() -> dict:
    return load_yaml(ROOT / "template.yaml")["Resources"]


def test_the_dead_letter_queue_depth_alarms_on_the_first_message():
    alarm = resources()["DeadLetterAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible" and alarm["Namespace"] == "AWS/SQS"
    [dimension] = alarm["Dimensions"]
    assert dimension["Value"] == {"Fn::GetAtt": ["TaskDeadLetterQueue", "QueueName"]}
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_the_workers_error_rate_alarms_above_five_percent():
    alarm = resources()["WorkerErrorAlarm"]["Properties"]
    by_id = {metric["Id"]: metric for metric in alarm["Metrics"]}
    for name, metric in (("errors", "Errors"), ("invocations", "Invocations")):
        stat = by_id[name]["MetricStat"]["Metric"]
        assert stat["MetricName"] == metric and stat["Dimensions"][0]["Value"] == {"Ref": "WorkerFunction"}
    assert "100 * errors / invocations" in by_id["rate"]["Expression"]
    assert alarm["Threshold"] == 5


def test_alarms_notify_the_topic_when_one_is_given():
    for name in ("DeadLetterAlarm", "WorkerErrorAlarm"):
        actions = resources()[name]["Properties"]["AlarmActions"]
        assert actions["Fn::If"][0] == "HasAlarmTopic" and actions["Fn::If"][1] == [{"Ref": "AlarmTopicArn"}]
