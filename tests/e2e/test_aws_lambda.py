"""The Lambda API with the real clients: boto3 and the AWS CLI (`aws --endpoint-url`) against
`swell serve`, signed with an access key from `swell keys create --aws`."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

boto3 = pytest.importorskip("boto3")
import botocore.config  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_runtimes import vendor_packages  # noqa: E402


def zip_bytes(files: dict) -> bytes:
    """files: path -> str | (str, mode)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, content in files.items():
            mode = 0o644
            if isinstance(content, tuple):
                content, mode = content
            info = zipfile.ZipInfo(path)
            info.external_attr = (0o100000 | mode) << 16
            z.writestr(info, content)
    return buf.getvalue()


def aws_keys(swell, role: str = "developer") -> tuple[str, str]:
    res = swell.cli("keys", "create", "--role", role, "--name", "aws-e2e", "--aws").ok()
    fields = dict(line.split(" = ", 1) for line in res.stdout.splitlines() if " = " in line)
    assert fields["aws_access_key_id"].startswith("AKIA"), res
    assert len(fields["aws_secret_access_key"]) == 40, res
    return fields["aws_access_key_id"], fields["aws_secret_access_key"]


@pytest.fixture(scope="module")
def creds(swell):
    return aws_keys(swell)


@pytest.fixture(scope="module")
def lam(swell, creds):
    return boto3.client(
        "lambda", endpoint_url=swell.url, region_name="us-east-1",
        aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
        config=botocore.config.Config(retries={"max_attempts": 0}, read_timeout=60))


PY_HANDLER = """
import json, os
def handler(event, context):
    print("py saw", json.dumps(event))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"echo": event, "version": context.function_version, "tag": os.environ.get("TAG", "")}
"""


def create_py(lam, name: str, source: str = PY_HANDLER, **kw):
    return lam.create_function(
        FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/any",
        Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": source})}, **kw)


def test_function_life_cycle_with_boto3(swell, lam, unique):
    name = unique("awsfn")
    created = create_py(lam, name, Timeout=10, MemorySize=256, Environment={"Variables": {"TAG": "one"}})
    assert created["FunctionName"] == name
    assert created["Runtime"] == "python3.11"
    assert created["Handler"] == "app.handler"
    assert created["MemorySize"] == 256 and created["Timeout"] == 10
    assert created["FunctionArn"] == f"arn:aws:lambda:swell:default:function:{name}"
    assert created["State"] == "Active" and created["Version"] == "$LATEST"

    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["Environment"]["Variables"] == {"TAG": "one"}
    assert lam.get_function_configuration(FunctionName=created["FunctionArn"])["FunctionName"] == name

    # Sync invoke with the tail of the logs.
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"a": 1}), LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in r
    assert json.loads(r["Payload"].read()) == {"echo": {"a": 1}, "version": "$LATEST", "tag": "one"}
    tail = base64.b64decode(r["LogResult"]).decode()
    assert 'py saw {"a": 1}' in tail, tail
    # A function error comes back as on Lambda.
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"fail": True}))
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    err = json.loads(r["Payload"].read())
    assert err["errorType"] == "ValueError" and "asked to fail" in err["errorMessage"]
    # DryRun checks and runs nothing.
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204

    # Update configuration, then code.
    upd = lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"TAG": "two"}}, Timeout=20)
    assert upd["Timeout"] == 20
    assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())["tag"] == "two"
    code2 = PY_HANDLER.replace('"echo": event', '"echo": event, "code": 2')
    upd = lam.update_function_code(FunctionName=name, ZipFile=zip_bytes({"app.py": code2}))
    assert upd["CodeSha256"] != created["CodeSha256"]
    assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())["code"] == 2

    # Publish, list versions, invoke a version by qualifier and by ARN.
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1"]
    r = lam.invoke(FunctionName=f"{name}:1", Payload=b"{}")
    assert r["ExecutedVersion"] == "1"
    r = lam.invoke(FunctionName=f"arn:aws:lambda:swell:default:function:{name}", Qualifier="1", Payload=b"{}")
    assert json.loads(r["Payload"].read())["version"] == "1"

    # Paged listing.
    names = []
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1}):
        names += [f["FunctionName"] for f in page["Functions"]]
    assert name in names

    lam.delete_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)


def test_alias_canary_counted_over_invocations(lam, unique):
    name = unique("awscanary")
    create_py(lam, name, source="def handler(e, c):\n    return c.function_version\n")
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=zip_bytes({"app.py": "def handler(e, c):\n    return 'v2:' + c.function_version\n"}))
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})
    assert alias["AliasArn"].endswith(f":function:{name}:live")
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.1}
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    counts = {"1": 0, "2": 0}
    n = 400
    for _ in range(n):
        r = lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")
        counts[r["ExecutedVersion"]] += 1
    # 10% of 400 = 40; a binomial's 4.5 sigma either side is [12, 68].
    assert 12 <= counts["2"] <= 68, counts
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {}})
    assert lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")["ExecutedVersion"] == "2"
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
    lam.delete_alias(FunctionName=name, Name="live")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName=name, Name="live")
    lam.delete_function(FunctionName=name)


def test_async_invoke_with_on_failure_destination(swell, lam, unique):
    sink = unique("awssink")
    create_py(lam, sink, source="def handler(e, c):\n    print('SINK GOT', __import__('json').dumps(e))\n    return 'ok'\n")
    name = unique("awsasync")
    create_py(lam, name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=name)
    cfg = lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, MaximumEventAgeInSeconds=300,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:lambda:swell:default:function:{sink}"}})
    assert cfg["MaximumRetryAttempts"] == 0 and cfg["MaximumEventAgeInSeconds"] == 300
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["DestinationConfig"]["OnFailure"]["Destination"].endswith(f":function:{sink}")

    ok = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"async": 1}))
    assert ok["StatusCode"] == 202
    bad = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True, "marker": "m-1"}))
    assert bad["StatusCode"] == 202
    # The failure reaches the sink function (Swell's destination record carries the event).
    deadline = time.time() + 30
    found = False
    while time.time() < deadline and not found:
        lines = swell.logs(sink)["lines"]
        found = any("SINK GOT" in l["message"] and "m-1" in l["message"] for l in lines)
        time.sleep(0.5)
    assert found, swell.logs(sink)
    lam.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=name)


def test_function_url(swell, lam, unique):
    name = unique("awsurl")
    create_py(lam, name, source="def handler(e, c):\n    return {'statusCode': 201, 'body': 'hello ' + e['rawPath']}\n")
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert url["FunctionUrl"] == f"{swell.url}/fn/default/{name}/"
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    r = requests.get(url["FunctionUrl"] + "x/y", timeout=30)
    assert r.status_code == 201 and r.text == "hello /x/y", r.text
    assert lam.get_function_url_config(FunctionName=name)["AuthType"] == "NONE"
    lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert requests.get(url["FunctionUrl"], timeout=30).status_code == 401
    assert len(lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]) == 1
    lam.delete_function_url_config(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName=name)


def test_concurrency_settings(lam, unique):
    name = unique("awsconc")
    create_py(lam, name)
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)["ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    p = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    assert p["RequestedProvisionedConcurrentExecutions"] == 1
    assert lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST")["Status"] == "READY"
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST")
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    lam.delete_function(FunctionName=name)


def test_error_classes(lam, unique):
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.invoke(FunctionName=unique("missing"), Payload=b"{}")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    name = unique("awserr")
    create_py(lam, name)
    with pytest.raises(lam.exceptions.ResourceConflictException):
        create_py(lam, name)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.update_function_configuration(FunctionName=name, Timeout=5000)
    assert "900" in str(e.value)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        create_py(lam, unique("awsbad"), Environment={"Variables": {"AWS_REGION": "x"}})
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function(FunctionName=unique("awsbad"), Runtime="java21", Role="r", Handler="a.b",
                            Code={"ZipFile": zip_bytes({"a.py": ""})})
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName=name, Payload=b"{not json")
    # An action Swell does not implement says so, as AWS does for an unknown one.
    with pytest.raises(lam.exceptions.ClientError) as e:
        lam.get_account_settings()
    assert e.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "Swell does not support" in e.value.response["Error"]["Message"]
    lam.delete_function(FunctionName=name)


def test_too_many_requests(swell, lam, unique):
    name = unique("awsthrottle")
    create_py(lam, name, source="import time\ndef handler(e, c):\n    time.sleep(3)\n    return 1\n", Timeout=10)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    import concurrent.futures
    errors = []

    def call():
        try:
            lam.invoke(FunctionName=name, Payload=b"{}")
        except lam.exceptions.TooManyRequestsException as e:
            errors.append(e)

    with concurrent.futures.ThreadPoolExecutor(40) as pool:
        list(pool.map(lambda _: call(), range(40)))
    if not errors:
        pytest.skip("the server queued all 40 calls behind one instance without throttling")
    assert errors[0].response["Error"]["Code"] == "TooManyRequestsException"


def signed(swell, creds, method, path, body=b"", date=None, secret=None):
    req = AWSRequest(method=method, url=swell.url + path, data=body, headers={"Content-Type": "application/json"})
    c = Credentials(creds[0], secret or creds[1])
    auth = SigV4Auth(c, "lambda", "us-east-1")
    if date is not None:
        import datetime
        from unittest import mock
        when = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ")
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            auth.add_auth(req)
    else:
        auth.add_auth(req)
    return requests.request(method, req.url, headers=dict(req.headers), data=body, timeout=30)


def test_signatures_are_required_and_checked(swell, creds):
    r = requests.get(swell.url + "/2015-03-31/functions/", timeout=10)
    assert r.status_code == 403 and r.headers["X-Amzn-ErrorType"] == "MissingAuthenticationTokenException", r.text
    assert signed(swell, creds, "GET", "/2015-03-31/functions/").status_code == 200
    wrong = signed(swell, creds, "GET", "/2015-03-31/functions/", secret="x" * 40)
    assert wrong.status_code == 403 and wrong.headers["X-Amzn-ErrorType"] == "InvalidSignatureException", wrong.text
    stale = signed(swell, creds, "GET", "/2015-03-31/functions/", date="20200101T000000Z")
    assert stale.status_code == 403 and "Signature expired" in stale.json()["message"], stale.text
    unknown = signed(swell, ("AKIAUNKNOWNUNKNOWN00", creds[1]), "GET", "/2015-03-31/functions/")
    assert unknown.status_code == 403 and unknown.headers["X-Amzn-ErrorType"] == "UnrecognizedClientException"
    # A Swell bearer key is no AWS signature.
    r = requests.get(swell.url + "/2015-03-31/functions/", headers={"Authorization": f"Bearer {swell.key}"}, timeout=10)
    assert r.status_code == 400 and r.headers["X-Amzn-ErrorType"] == "IncompleteSignatureException"
    # Unknown paths under the AWS prefixes are refused unsigned too.
    r = requests.get(swell.url + "/2015-03-31/nothing-here", timeout=10)
    assert r.status_code == 403
    # A tampered body does not verify.
    req = AWSRequest(method="POST", url=swell.url + "/2015-03-31/functions", data=b"{}", headers={})
    SigV4Auth(Credentials(*creds), "lambda", "us-east-1").add_auth(req)
    r = requests.post(req.url, headers=dict(req.headers), data=b'{"x":1}', timeout=10)
    assert r.status_code == 403 and r.headers["X-Amzn-ErrorType"] == "InvalidSignatureException"


def test_presigned_request(swell, creds):
    from botocore.auth import SigV4QueryAuth
    req = AWSRequest(method="GET", url=swell.url + "/2015-03-31/functions/")
    SigV4QueryAuth(Credentials(*creds), "lambda", "us-east-1", expires=60).add_auth(req)
    r = requests.get(req.url, timeout=10)
    assert r.status_code == 200, r.text
    assert "Functions" in r.json()


def test_revoking_the_swell_key_disables_its_aws_key(swell):
    res = swell.cli("keys", "create", "--role", "invoker", "--name", "aws-revoke", "--aws").ok()
    fields = dict(line.split(" = ", 1) for line in res.stdout.splitlines() if " = " in line)
    key_id = res.stderr.split("key ", 1)[1].split(" ", 1)[0]
    c = (fields["aws_access_key_id"], fields["aws_secret_access_key"])
    assert signed(swell, c, "GET", "/2015-03-31/functions/").status_code == 200
    # An invoker may not create functions.
    r = signed(swell, c, "POST", "/2015-03-31/functions", body=b'{"FunctionName": "x"}')
    assert r.status_code == 403 and r.headers["X-Amzn-ErrorType"] == "AccessDeniedException", r.text
    swell.cli("keys", "revoke", key_id).ok()
    r = signed(swell, c, "GET", "/2015-03-31/functions/")
    assert r.status_code == 403 and r.headers["X-Amzn-ErrorType"] == "UnrecognizedClientException"


def test_secret_is_not_stored_in_clear(server, creds):
    data = Path(server.data_dir)
    master = data / "aws-master.key"
    assert master.stat().st_mode & 0o777 == 0o600
    for f in data.rglob("*"):
        if f.is_file():
            assert creds[1].encode() not in f.read_bytes(), f"the secret is in clear in {f}"
    assert creds[1] not in server.full_log()


def test_aws_cli(swell, creds, tmp_path, unique):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=creds[0], AWS_SECRET_ACCESS_KEY=creds[1], AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    name = unique("awscli")
    z = tmp_path / "fn.zip"
    z.write_bytes(zip_bytes({"index.js": "exports.handler = async (e) => ({node: true, got: e});\n"}))

    def aws(*args):
        p = subprocess.run(["aws", "--endpoint-url", swell.url, "lambda", *args], capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 0, p.stderr
        return p.stdout

    out = json.loads(aws("create-function", "--function-name", name, "--runtime", "nodejs20.x", "--role", "arn:aws:iam::1:role/r",
                         "--handler", "index.handler", "--zip-file", f"fileb://{z}"))
    assert out["Runtime"] == "nodejs20.x"
    result = tmp_path / "out.json"
    # AWS CLI v1 sends --payload as given (v2 would need --cli-binary-format raw-in-base64-out).
    meta = json.loads(aws("invoke", "--function-name", name, "--payload", '{"k": "v"}', str(result)))
    assert meta["StatusCode"] == 200
    assert json.loads(result.read_text()) == {"node": True, "got": {"k": "v"}}
    assert name in aws("list-functions")
    aws("delete-function", "--function-name", name)
    p = subprocess.run(["aws", "--endpoint-url", swell.url, "lambda", "get-function", "--function-name", name],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr


RIC_HANDLER = """
import json
def handler(event, context):
    print("ric via lambda api", json.dumps(event))
    return {"ric": True, "echo": event, "requestId": context.aws_request_id}
"""


def test_custom_runtime_package_with_awslambdaric(lam, unique):
    """A Lambda custom-runtime package, unmodified: `bootstrap` starts awslambdaric with $_HANDLER."""
    try:
        import awslambdaric  # noqa: F401
    except ImportError:
        pytest.skip("awslambdaric is not installed for this python (scripts/test.sh installs it)")
    # As on Lambda, the runtime client ships inside the package (function processes run under
    # their own uids and cannot import from /root's site-packages).
    vendored = vendor_packages("awslambdaric", "simplejson", "snapshot_restore_py", "runtime_client")
    bootstrap = "#!/bin/sh\ncd \"$LAMBDA_TASK_ROOT\"\nexport PYTHONPATH=\"$LAMBDA_TASK_ROOT\"\nexec /usr/bin/python3 -m awslambdaric $_HANDLER\n"
    name = unique("awsric")
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role="r", Handler="app.handler", MemorySize=256, Timeout=10,
                        Code={"ZipFile": zip_bytes({"bootstrap": (bootstrap, 0o755), "app.py": RIC_HANDLER, **vendored})})
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"x": 1}))
    assert "FunctionError" not in r, r["Payload"].read()
    body = json.loads(r["Payload"].read())
    assert body["ric"] is True and body["echo"] == {"x": 1}
    r = lam.invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(r["Payload"].read())["echo"] == {}
    lam.delete_function(FunctionName=name)


def test_event_source_mapping_settings(lam, unique):
    """Create, read, list, update and delete a self-managed Kafka mapping (created disabled:
    no broker is needed to check the settings round trip)."""
    name = unique("awsesm")
    create_py(lam, name)
    m = lam.create_event_source_mapping(
        FunctionName=name, Topics=["orders"], StartingPosition="TRIM_HORIZON", BatchSize=10, Enabled=False,
        SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:1"]}},
        SelfManagedKafkaEventSourceConfig={"ConsumerGroupId": "g-1"})
    assert m["State"] == "Disabled" and m["Topics"] == ["orders"] and m["BatchSize"] == 10
    assert m["FunctionArn"].endswith(f":function:{name}")
    uuid = m["UUID"]
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["SelfManagedEventSource"]["Endpoints"]["KAFKA_BOOTSTRAP_SERVERS"] == ["127.0.0.1:1"]
    assert got["SelfManagedKafkaEventSourceConfig"]["ConsumerGroupId"] == "g-1"
    assert got["StartingPosition"] == "TRIM_HORIZON"
    assert [e["UUID"] for e in lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]] == [uuid]
    upd = lam.update_event_source_mapping(UUID=uuid, BatchSize=50)
    assert upd["BatchSize"] == 50 and upd["State"] == "Disabled"
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn="arn:aws:sqs:us-east-1:1:q")
    lam.delete_event_source_mapping(UUID=uuid)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_event_source_mapping(UUID=uuid)
    lam.delete_function(FunctionName=name)


@pytest.mark.skipif(not os.environ.get("SWELL_KAFKA_BROKER"), reason="SWELL_KAFKA_BROKER not set (scripts/test.sh starts tansu and sets it)")
def test_event_source_mapping_delivers_kafka_records(swell, lam, unique):
    ck = pytest.importorskip("confluent_kafka")
    from confluent_kafka.admin import AdminClient, NewTopic
    broker = os.environ["SWELL_KAFKA_BROKER"]
    topic = unique("esm-topic")
    admin = AdminClient({"bootstrap.servers": broker})  # kept alive until the topic exists
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    name = unique("awsesmk")
    create_py(lam, name, source=(
        "import base64, json\n"
        "def handler(e, c):\n"
        "    for tp, recs in e['records'].items():\n"
        "        for r in recs:\n"
        "            print('ESM RECORD', e['eventSource'], base64.b64decode(r['value']).decode())\n"
        "    return 'ok'\n"))
    m = lam.create_event_source_mapping(
        FunctionName=name, Topics=[topic], StartingPosition="TRIM_HORIZON", BatchSize=10,
        SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [broker]}})
    assert m["State"] == "Enabled"
    producer = ck.Producer({"bootstrap.servers": broker})
    for i in range(5):
        producer.produce(topic, value=f"rec-{i}".encode(), key=str(i).encode())
    producer.flush(30)
    deadline = time.time() + 60
    seen: set[str] = set()
    while time.time() < deadline and len(seen) < 5:
        for l in swell.logs(name, limit=1000)["lines"]:
            if "ESM RECORD SelfManagedKafka" in l["message"]:
                seen.add(l["message"].rsplit(" ", 1)[1])
        time.sleep(0.5)
    assert seen == {f"rec-{i}" for i in range(5)}, seen
    lam.delete_event_source_mapping(UUID=m["UUID"])
    lam.delete_function(FunctionName=name)


def test_layers(swell, lam, unique):
    """Two layers under /opt, in order (the later one wins), on the module path of Python and
    Node.js as on Lambda; layer versions are numbered, listed, read and deleted."""
    first = unique("awslayer-a")
    second = unique("awslayer-b")
    l1 = lam.publish_layer_version(LayerName=first, Description="one", CompatibleRuntimes=["python3.11", "nodejs20.x"],
                                   Content={"ZipFile": zip_bytes({
                                       "python/alpha.py": "NAME = 'alpha'\n",
                                       "python/common.py": "WHO = 'first'\n",
                                       "nodejs/node_modules/lefty/index.js": "module.exports = () => 'lefty';\n",
                                       "data/shared.txt": "from the first layer\n"})})
    assert l1["Version"] == 1 and l1["LayerVersionArn"] == f"arn:aws:lambda:swell:default:layer:{first}:1"
    l2 = lam.publish_layer_version(LayerName=second, Content={"ZipFile": zip_bytes({
        "python/beta.py": "NAME = 'beta'\n",
        "python/common.py": "WHO = 'second'\n",
        "data/shared.txt": "from the second layer\n"})})
    assert l2["Version"] == 1
    again = lam.publish_layer_version(LayerName=second, Content={"ZipFile": zip_bytes({"python/beta.py": "NAME = 'beta2'\n"})})
    assert again["Version"] == 2
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=second)["LayerVersions"]] == [2, 1]
    assert lam.get_layer_version(LayerName=first, VersionNumber=1)["Description"] == "one"
    assert lam.get_layer_version_by_arn(Arn=l1["LayerVersionArn"])["Version"] == 1
    assert {first, second} <= {l["LayerName"] for l in lam.list_layers()["Layers"]}

    name = unique("awslayered")
    source = (
        "import alpha, beta, common\n"
        "def handler(e, c):\n"
        "    return {'alpha': alpha.NAME, 'beta': beta.NAME, 'common': common.WHO,\n"
        "            'shared': open('/opt/data/shared.txt').read().strip(), 'alpha_file': alpha.__file__}\n")
    fn = create_py(lam, name, source=source, Layers=[l1["LayerVersionArn"], l2["LayerVersionArn"]])
    assert [l["Arn"] for l in fn["Layers"]] == [l1["LayerVersionArn"], l2["LayerVersionArn"]]
    r = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in r, r["Payload"].read()
    body = json.loads(r["Payload"].read())
    assert body == {"alpha": "alpha", "beta": "beta", "common": "second", "shared": "from the second layer",
                    "alpha_file": "/opt/python/alpha.py"}, body
    # A layer version that is not there is a bad parameter.
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(FunctionName=name, Layers=[f"arn:aws:lambda:swell:default:layer:{first}:9"])
    # Reordered, the first layer wins; a new version of the second is picked up by ARN.
    lam.update_function_configuration(FunctionName=name, Layers=[again["LayerVersionArn"], l1["LayerVersionArn"]])
    body = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert body["common"] == "first" and body["beta"] == "beta2" and body["shared"] == "from the first layer", body

    node = unique("awslayerednode")
    lam.create_function(FunctionName=node, Runtime="nodejs20.x", Role="r", Handler="index.handler", Layers=[l1["LayerVersionArn"]],
                        Code={"ZipFile": zip_bytes({"index.js": "exports.handler = async () => require('lefty')();\n"})})
    assert json.loads(lam.invoke(FunctionName=node, Payload=b"{}")["Payload"].read()) == "lefty"

    # Deleting a layer version keeps the functions that use it working.
    lam.delete_layer_version(LayerName=first, VersionNumber=1)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_layer_version(LayerName=first, VersionNumber=1)
    assert json.loads(lam.invoke(FunctionName=node, Payload=b"{}")["Payload"].read()) == "lefty"
    for f in (name, node):
        lam.delete_function(FunctionName=f)


def test_manifest_layers(swell, lam, app_dir, unique):
    """`layers:` in swell.yaml names layer versions (NAME:VERSION or ARN) like the API does."""
    layer = unique("mlayer")
    v = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": zip_bytes({"python/helper.py": "def hi():\n    return 'hi from layer'\n"})})
    name = unique("mlayered")
    swell.deploy(app_dir, {name: {"runtime": "python3.12", "handler": "app.handler", "layers": [f"{layer}:1"],
                                  "files": {"app.py": "import helper\ndef handler(e, c):\n    return helper.hi()\n"}}})
    assert swell.invoke_ok(name) == "hi from layer"
    assert [l["Arn"] for l in lam.get_function(FunctionName=name)["Configuration"]["Layers"]] == [v["LayerVersionArn"]]
    bad = swell.deploy(app_dir, {name: {"runtime": "python3", "handler": "app.handler", "layers": [f"{layer}:7"],
                                        "files": {"app.py": "def handler(e, c):\n    return 1\n"}}}, check=False)
    assert bad.code != 0 and f"functions.{name}.layers[0]" in bad.stderr + bad.stdout and "does not exist" in bad.stderr + bad.stdout, bad


TINY_RUNTIME = r"""
import json, os, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
while True:
    r = urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next")
    rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
    event = json.loads(r.read())
    out = json.dumps({"handler": os.environ["_HANDLER"], "event": event, "runtime": __file__}).encode()
    urllib.request.urlopen(urllib.request.Request(f"http://{api}/2018-06-01/runtime/invocation/{rid}/response", data=out, method="POST"))
"""


def test_custom_runtime_from_a_layer(lam, unique):
    """As on Lambda, a provided function without a bootstrap of its own runs its layer's
    /opt/bootstrap, with the handler in _HANDLER."""
    layer = lam.publish_layer_version(LayerName=unique("runtime-layer"), Content={"ZipFile": zip_bytes({
        "bootstrap": ("#!/bin/sh\nexec /usr/bin/python3 /opt/runtime.py\n", 0o755), "runtime.py": TINY_RUNTIME})})
    name = unique("awslayerrt")
    lam.create_function(FunctionName=name, Runtime="provided.al2", Role="r", Handler="my.handler", Layers=[layer["LayerVersionArn"]],
                        Code={"ZipFile": zip_bytes({"my.txt": "data\n"})})
    body = json.loads(lam.invoke(FunctionName=name, Payload=b'{"q": 1}')["Payload"].read())
    assert body == {"handler": "my.handler", "event": {"q": 1}, "runtime": "/opt/runtime.py"}, body
    # Without the layer there is nothing to run: refused at configuration time.
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(FunctionName=name, Layers=[])
    lam.delete_function(FunctionName=name)


def test_access_keys_and_layers_survive_a_restart(make_server, tmp_path, unique):
    """The sealed secrets are read back with the data directory's key, and layered functions
    get their /opt tree again in the new run directory."""
    srv = make_server(tmp_path / "data")
    client = srv.client()
    creds = aws_keys(client)

    def lam_for(s):
        return boto3.client("lambda", endpoint_url=s.url, region_name="eu-west-1", aws_access_key_id=creds[0],
                            aws_secret_access_key=creds[1], config=botocore.config.Config(retries={"max_attempts": 0}))

    lam = lam_for(srv)
    layer = lam.publish_layer_version(LayerName="persist", Content={"ZipFile": zip_bytes({"python/persisted.py": "V = 'kept'\n"})})
    name = unique("awsrestart")
    create_py(lam, name, source="import persisted\ndef handler(e, c):\n    return persisted.V\n", Layers=[layer["LayerVersionArn"]])
    assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == "kept"
    srv.restart()
    lam = lam_for(srv)
    assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == "kept"
    assert lam.get_layer_version(LayerName="persist", VersionNumber=1)["Version"] == 1
    # A new version of the layer gets the next number, never a reused one.
    lam.delete_layer_version(LayerName="persist", VersionNumber=1)
    assert lam.publish_layer_version(LayerName="persist", Content={"ZipFile": zip_bytes({"python/x.py": ""})})["Version"] == 2


def test_unknown_callers_are_refused_before_their_body(swell, creds):
    """A request of an unknown access key is answered without waiting for its (announced, never
    sent) 60 MB body."""
    import socket
    from urllib.parse import urlparse
    req = AWSRequest(method="POST", url=swell.url + "/2015-03-31/functions", data=b"", headers={})
    SigV4Auth(Credentials("AKIAUNKNOWNUNKNOWN00", "x" * 40), "lambda", "us-east-1").add_auth(req)
    u = urlparse(swell.url)
    head = "".join(f"{k}: {v}\r\n" for k, v in req.headers.items() if k.lower() != "content-length")
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(f"POST /2015-03-31/functions HTTP/1.1\r\nHost: {u.netloc}\r\n{head}Content-Length: 60000000\r\n\r\n".encode())
        answer = s.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 403"), answer
    assert "UnrecognizedClientException" in answer


def test_hostile_packages_are_refused(lam, unique):
    """Zips that would escape their tree (a link out, a path with ..) or are no zips at all are
    bad parameters, for code and layers alike; nothing is created."""
    def with_link(target: str) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("app.py", "def handler(e, c):\n    return 1\n")
            info = zipfile.ZipInfo("escape")
            info.external_attr = (0o120777) << 16
            z.writestr(info, target)
        return buf.getvalue()

    def with_dotdot() -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("app.py", "def handler(e, c):\n    return 1\n")
            z.writestr("../../outside.py", "x = 1\n")
        return buf.getvalue()

    name = unique("awshostile")
    for bad in (with_link("/etc/shadow"), with_link("../../../etc"), with_dotdot(), b"not a zip at all"):
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            lam.create_function(FunctionName=name, Runtime="python3.11", Role="r", Handler="app.handler", Code={"ZipFile": bad})
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            lam.publish_layer_version(LayerName=unique("badlayer"), Content={"ZipFile": bad})
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)
