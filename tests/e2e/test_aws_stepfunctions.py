"""The Step Functions API with the real client: boto3 (`stepfunctions`, JSON 1.0 over `POST /`)
against `swell serve`, signed with an access key from `swell keys create --aws`; the
state machines are Swell workflows calling a function created through the Lambda API."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import requests

boto3 = pytest.importorskip("boto3")
import botocore.config  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_aws_lambda import aws_keys, zip_bytes  # noqa: E402

ECHO = """
def handler(event, context):
    return {"got": event}
"""


@pytest.fixture(scope="module")
def creds(swell):
    return aws_keys(swell)


def client(swell, creds, service, **config):
    return boto3.client(
        service, endpoint_url=swell.url, region_name="us-east-1",
        aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
        config=botocore.config.Config(retries={"max_attempts": 0}, read_timeout=60, **config))


@pytest.fixture(scope="module")
def sfn(swell, creds):
    return client(swell, creds, "stepfunctions")


@pytest.fixture(scope="module")
def function(swell, creds):
    lam = client(swell, creds, "lambda")
    name = f"sfn-echo-{int(time.time() * 1000) % 10**8}"
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/any",
        Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": ECHO})})
    return name


ROLE = "arn:aws:iam::000000000000:role/any"


def wait_done(sfn, arn, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.2)
    raise AssertionError(f"{arn} still running")


def test_state_machine_executions_and_paged_history(swell, creds, sfn, function, unique):
    name = unique("sm")
    definition = {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.n", "tag": "swell"}, "Next": "Echo"},
            "Echo": {"Type": "Task", "Resource": f"arn:aws:lambda:us-east-1:000000000000:function:{function}",
                     "ResultPath": "$.echo", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    created = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)
    arn = created["stateMachineArn"]
    ns = arn.split(":")[4]
    assert arn == f"arn:aws:states:swell:{ns}:stateMachine:{name}"
    # The same create again answers as the first; another definition is a conflict.
    assert sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"] == arn
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        sfn.create_state_machine(name=name, definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}), roleArn=ROLE)
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["name"] == name and described["type"] == "STANDARD" and described["status"] == "ACTIVE"
    assert json.loads(described["definition"]) == definition
    listed = [m["name"] for p in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 1}) for m in p["stateMachines"]]
    assert name in listed

    # Synchronous: the answer carries the output. (StartSyncExecution's endpoint has the
    # "sync-" host prefix; against an IP endpoint the client is told not to add it.)
    sync = client(swell, creds, "stepfunctions", inject_host_prefix=False)
    r = sync.start_sync_execution(stateMachineArn=arn, name="sync-1", input=json.dumps({"n": 7}))
    assert r["status"] == "SUCCEEDED", r
    out = json.loads(r["output"])
    assert out["echo"] == {"got": {"n": 7, "tag": "swell"}} and out["n"] == 7
    assert r["executionArn"] == f"arn:aws:states:swell:{ns}:execution:{name}:sync-1"

    # Asynchronous: started, then followed with DescribeExecution.
    started = sfn.start_execution(stateMachineArn=arn, name="async-1", input=json.dumps({"n": 8}))
    assert started["executionArn"].endswith(f":execution:{name}:async-1")
    # The same name and input again is the same execution; another input is refused.
    assert sfn.start_execution(stateMachineArn=arn, name="async-1", input=json.dumps({"n": 8}))["executionArn"] == started["executionArn"]
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=arn, name="async-1", input=json.dumps({"n": 9}))
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"])["echo"] == {"got": {"n": 8, "tag": "swell"}}
    assert json.loads(done["input"]) == {"n": 8} and done["stopDate"] >= done["startDate"]

    execs = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert {e["name"] for e in execs} == {"sync-1", "async-1"} and all(e["status"] == "SUCCEEDED" for e in execs)
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"]] == []

    # History, two events a page, equals the whole history read at once.
    full = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=1000)
    assert "nextToken" not in full
    events = full["events"]
    pages, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = sfn.get_execution_history(executionArn=started["executionArn"], maxResults=2, **kw)
        assert len(page["events"]) <= 2
        pages += page["events"]
        token = page.get("nextToken")
        if not token:
            break
    assert pages == events
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    types = [e["type"] for e in events]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert {"PassStateEntered", "TaskScheduled", "TaskSucceeded", "TaskStateExited", "SucceedStateEntered"} <= set(types), types
    assert json.loads(events[0]["executionStartedEventDetails"]["input"]) == {"n": 8}
    scheduled = next(e for e in events if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]
    assert scheduled["resourceType"] == "lambda" and json.loads(scheduled["parameters"]) == {"n": 8, "tag": "swell"}
    assert json.loads(events[-1]["executionSucceededEventDetails"]["output"])["echo"]["got"]["n"] == 8
    backwards = sfn.get_execution_history(executionArn=started["executionArn"], reverseOrder=True, maxResults=3)
    assert [e["id"] for e in backwards["events"]] == [len(events), len(events) - 1, len(events) - 2] and backwards["nextToken"]

    # An update changes what new executions run.
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "v2", "End": True}}}))
    r = sync.start_sync_execution(stateMachineArn=arn, input="{}")
    assert r["status"] == "SUCCEEDED" and json.loads(r["output"]) == "v2"

    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)


def test_wait_for_task_token_callback(sfn, function, unique):
    name = unique("cb")
    definition = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": function, "Payload": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
                "HeartbeatSeconds": 60, "End": True,
            },
        },
    }
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"order": 42}))["executionArn"]
    # The token is in the parameters the task was scheduled with (as on AWS).
    token, deadline = None, time.time() + 20
    while token is None and time.time() < deadline:
        for e in sfn.get_execution_history(executionArn=ex)["events"]:
            if e["type"] == "TaskScheduled":
                token = json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]["token"]
        time.sleep(0.1)
    assert token
    # It waits for the callback, with the function's invocation done.
    time.sleep(0.5)
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    sfn.send_task_heartbeat(taskToken=token)
    with pytest.raises(sfn.exceptions.InvalidOutput):
        sfn.send_task_success(taskToken=token, output="{not json")
    sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True, "order": 42}))
    done = wait_done(sfn, ex)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"approved": True, "order": 42}
    # The token is spent.
    with pytest.raises(sfn.exceptions.TaskDoesNotExist):
        sfn.send_task_success(taskToken=token, output="{}")
    with pytest.raises(sfn.exceptions.TaskDoesNotExist):
        sfn.send_task_failure(taskToken="no-such-token", error="E", cause="c")

    # A failure through the callback fails the execution, which can then be stopped no
    # more but redriven.
    ex2 = sfn.start_execution(stateMachineArn=arn, name="fails", input=json.dumps({"order": 1}))["executionArn"]
    token2, deadline = None, time.time() + 20
    while token2 is None and time.time() < deadline:
        for e in sfn.get_execution_history(executionArn=ex2)["events"]:
            if e["type"] == "TaskScheduled":
                token2 = json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]["token"]
        time.sleep(0.1)
    sfn.send_task_failure(taskToken=token2, error="Rejected", cause="no stock")
    failed = wait_done(sfn, ex2)
    assert failed["status"] == "FAILED" and failed["error"] == "Rejected" and failed["cause"] == "no stock"
    assert sfn.redrive_execution(executionArn=ex2)["redriveDate"]
    assert sfn.describe_execution(executionArn=ex2)["status"] == "RUNNING"
    stopped = sfn.stop_execution(executionArn=ex2, error="Cancelled", cause="test over")
    assert stopped["stopDate"]
    after = sfn.describe_execution(executionArn=ex2)
    assert after["status"] == "ABORTED" and after["redriveCount"] == 1


def test_error_classes(swell, sfn, unique):
    ns = sfn.list_state_machines()  # any signed call works
    arn_prefix = f"arn:aws:states:swell:{swell_namespace(sfn, unique)}"
    missing = f"{arn_prefix}:stateMachine:{unique('missing')}"
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=missing)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.start_execution(stateMachineArn=missing, input="{}")
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.update_state_machine(stateMachineArn=missing, definition="{}")
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=f"{arn_prefix}:execution:nope:nope")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine(stateMachineArn="arn:aws:lambda:swell:x:function:f")
    bad = [
        "{not json",
        json.dumps({"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": True}}}),
        json.dumps({"StartAt": "A", "States": {"A": {"Type": "Bogus", "End": True}}}),
    ]
    for definition in bad:
        with pytest.raises(sfn.exceptions.InvalidDefinition) as e:
            sfn.create_state_machine(name=unique("bad"), definition=definition, roleArn=ROLE)
        assert e.value.response["Error"]["Message"]
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.create_state_machine(name="has space", definition=bad[1], roleArn=ROLE)
    ok = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.create_state_machine(name=unique("express"), definition=ok, roleArn=ROLE, type="EXPRESS")
    arn = sfn.create_state_machine(name=unique("inp"), definition=ok, roleArn=ROLE)["stateMachineArn"]
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=arn, input="{oops")
    # None of the bad requests left a state machine behind.
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert not any(n.startswith("bad-") or n.startswith("express-") for n in names)
    assert ns is not None


def swell_namespace(sfn, unique):
    arn = sfn.create_state_machine(
        name=unique("ns"), definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}), roleArn=ROLE)["stateMachineArn"]
    return arn.split(":")[4]


def test_unsigned_and_unknown_requests(swell, creds):
    headers = {"X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"}
    r = requests.post(swell.url + "/", headers=headers, data=b"{}", timeout=10)
    assert r.status_code == 403 and r.json()["__type"] == "MissingAuthenticationTokenException", r.text
    # A Swell bearer key is no signature either.
    r = requests.post(swell.url + "/", headers={**headers, "Authorization": f"Bearer {swell.key}"}, data=b"{}", timeout=10)
    assert r.status_code == 400 and r.json()["__type"] == "IncompleteSignatureException", r.text

    def signed(target, service="states", body=b"{}"):
        req = AWSRequest(method="POST", url=swell.url + "/", data=body,
                         headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"})
        SigV4Auth(Credentials(*creds), service, "us-east-1").add_auth(req)
        return requests.post(req.url, headers=dict(req.headers), data=body, timeout=10)

    assert signed("AWSStepFunctions.ListStateMachines").status_code == 200
    # Signed for another service: refused.
    assert signed("AWSStepFunctions.ListStateMachines", service="lambda").status_code in (400, 403)
    r = signed("AWSStepFunctions.CreateActivity")
    assert r.status_code == 400 and r.json()["__type"] == "UnknownOperationException" and "CreateActivity" in r.json()["message"]
    r = signed("AWSLambda.ListFunctions")
    assert r.json()["__type"] == "UnknownOperationException"
    r = signed("AWSStepFunctions.ListStateMachines", body=b"[1]")
    assert r.status_code == 400 and r.json()["__type"] == "SerializationException"
