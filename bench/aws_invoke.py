"""The Lambda API's Invoke beside Swell's own invoke API: the latency the AWS front adds
(SigV4 verification, the Lambda request and response shapes), same function, same server,
same run.

    python3 bench/aws_invoke.py [--requests 3000] [--payload-bytes 64]

One keep-alive connection per API, requests strictly alternating between the two (so drift
and noise fall on both alike), each timed from send to the last byte of the answer:
- Swell: `POST /v1/namespaces/default/functions/echo/invoke` with a bearer key;
- AWS: `POST /2015-03-31/functions/echo/invocations` signed with SigV4 by botocore (signed
  once: a signature stays valid for 15 minutes, and the server verifies it in full on every
  request: body hash, canonical request, HMAC; only the derived signing key is cached).
The function is a Node.js echo with `concurrency: 1` kept warm. Reported: p50 and p99 of
both and the difference at p50 (the target: ≤ 0.05 ms). Run it against a release build
(SWELL_BIN); a debug binary's figures say so in the summary.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

from common import Server, percentile, summary, swell_binary

try:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    sys.exit("botocore is needed: python3 -m pip install boto3")

HANDLER = "exports.handler = async (event) => event;\n"


def timed(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict) -> float:
    start = time.perf_counter_ns()
    conn.request("POST", path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    elapsed = (time.perf_counter_ns() - start) / 1e6
    if r.status != 200:
        raise RuntimeError(f"{path}: {r.status} {data[:300]!r}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--payload-bytes", type=int, default=64)
    args = ap.parse_args()

    server = Server()
    try:
        server.deploy("echo", {"index.js": HANDLER}, runtime="nodejs20", handler="index.handler")
        out = subprocess.run([swell_binary(), "keys", "create", "--role", "invoker", "--aws"], capture_output=True, text=True, check=True,
                             env=dict(os.environ, SWELL_URL=server.url, SWELL_KEY=server.key)).stdout
        fields = dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)
        creds = Credentials(fields["aws_access_key_id"], fields["aws_secret_access_key"])

        payload = json.dumps({"pad": "x" * max(0, args.payload_bytes - 11)}).encode()
        swell_path = "/v1/namespaces/default/functions/echo/invoke"
        swell_headers = {"Authorization": f"Bearer {server.key}", "Content-Type": "application/json"}
        aws_path = "/2015-03-31/functions/echo/invocations"
        signed = AWSRequest(method="POST", url=server.url + aws_path, data=payload,
                            headers={"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"})
        SigV4Auth(creds, "lambda", "us-east-1").add_auth(signed)
        aws_headers = dict(signed.headers)

        host, port = "127.0.0.1", server.port
        swell_conn = http.client.HTTPConnection(host, port)
        aws_conn = http.client.HTTPConnection(host, port)
        for _ in range(200):  # warm-up: instance, connections, signing-key cache
            timed(swell_conn, swell_path, payload, swell_headers)
            timed(aws_conn, aws_path, payload, aws_headers)
        swell_ms: list[float] = []
        aws_ms: list[float] = []
        for i in range(args.requests):
            if i % 2 == 0:
                swell_ms.append(timed(swell_conn, swell_path, payload, swell_headers))
                aws_ms.append(timed(aws_conn, aws_path, payload, aws_headers))
            else:
                aws_ms.append(timed(aws_conn, aws_path, payload, aws_headers))
                swell_ms.append(timed(swell_conn, swell_path, payload, swell_headers))
        pairs = [a - s for a, s in zip(aws_ms, swell_ms)]
        build = "debug" if "/debug/" in swell_binary() else "release"
        print(f"binary: {swell_binary()} ({build} build{'; debug figures, not the target' if build == 'debug' else ''})")
        print(f"{'':8} {'p50 ms':>8} {'p99 ms':>8}")
        print(f"{'swell':8} {percentile(swell_ms, 50):8.3f} {percentile(swell_ms, 99):8.3f}")
        print(f"{'aws':8} {percentile(aws_ms, 50):8.3f} {percentile(aws_ms, 99):8.3f}")
        added = percentile(aws_ms, 50) - percentile(swell_ms, 50)
        print(f"added at p50: {added:.3f} ms (median of paired differences {statistics.median(pairs):.3f} ms; target <= 0.05 ms)")
        summary("aws_invoke", {
            "build": build, "requests": args.requests, "payload_bytes": len(payload),
            "swell_p50_ms": round(percentile(swell_ms, 50), 4), "swell_p99_ms": round(percentile(swell_ms, 99), 4),
            "aws_p50_ms": round(percentile(aws_ms, 50), 4), "aws_p99_ms": round(percentile(aws_ms, 99), 4),
            "added_p50_ms": round(added, 4), "paired_median_ms": round(statistics.median(pairs), 4),
        })
    finally:
        server.stop()


if __name__ == "__main__":
    main()
