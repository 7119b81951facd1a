"""The Runtime API's own HTTP/1.1 decoder against a plain HTTP client (curl) and raw bytes.

A `provided` runtime in bash answers each invocation the way its event asks: through curl
with `Expect: 100-continue` and a 2 MB body, chunked, over HTTP/1.0, chunked over the 6 MB
limit, or after sending malformed bytes on a connection of its own (bash's /dev/tcp), which
must be answered 400 and closed while the instance goes on serving.
"""

from __future__ import annotations

from swell_e2e import function_error

BOOTSTRAP = r"""#!/bin/bash
set -u
HOSTPORT="${AWS_LAMBDA_RUNTIME_API}"
API="http://${HOSTPORT}/2018-06-01/runtime"
T="${TMPDIR:-/tmp}"
while true; do
  EVENT=$(curl -sS -D "$T/h" "$API/invocation/next")
  RID=$(grep -i '^lambda-runtime-aws-request-id:' "$T/h" | tr -d '\r' | awk '{print $2}')
  MODE=$(printf '%s' "$EVENT" | sed -n 's/.*"mode": *"\([a-z0-9]*\)".*/\1/p')
  URL="$API/invocation/$RID/response"
  case "$MODE" in
    expect)
      { printf '"'; head -c 2000000 /dev/zero | tr '\0' 'a'; printf '"'; } > "$T/body"
      curl -sS -o "$T/out" -w '%{http_code}' -X POST -H 'Expect: 100-continue' --data-binary @"$T/body" "$URL" > "$T/code" ;;
    chunked)
      printf '{"via":"chunked","n":%s}' "$(printf 'x%.0s' $(seq 1 300) | wc -c)" > "$T/body"
      curl -sS -o "$T/out" -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$T/body" "$URL" ;;
    http10)
      curl -sS -o "$T/out" --http1.0 -X POST --data-binary '{"via":"http1.0"}' "$URL" ;;
    toolarge)
      { printf '"'; head -c 7000000 /dev/zero | tr '\0' 'b'; printf '"'; } > "$T/body"
      curl -sS -o "$T/out" -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$T/body" "$URL" > "$T/code" ;;
    malformed)
      exec 3<>"/dev/tcp/${HOSTPORT%:*}/${HOSTPORT#*:}"
      printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n' >&3
      ANSWER=$(timeout 5 cat <&3 | head -c 400 | tr -d '\r\n"\\')
      exec 3<&-
      curl -sS -o "$T/out" -X POST --data-binary "{\"answer\":\"$ANSWER\"}" "$URL" ;;
    *)
      curl -sS -o "$T/out" -X POST --data-binary '{"via":"plain"}' "$URL" ;;
  esac
done
"""


def test_plain_http_clients_and_hostile_bytes(swell, app_dir, unique):
    name = unique("curl-rt")
    swell.deploy(app_dir, {name: {
        "runtime": "provided", "memory": 192, "timeout": 20,
        "files": {"bootstrap": (BOOTSTRAP, 0o755)},
    }})
    r = swell.invoke(name, {"mode": "plain"})
    assert r.status_code == 200 and function_error(r) is None, r.text
    assert r.json() == {"via": "plain"}

    # curl waits for the interim 100 before a body it announced with Expect.
    r = swell.invoke(name, {"mode": "expect"}, timeout=60)
    assert r.status_code == 200 and function_error(r) is None, r.text[:300]
    assert r.json() == "a" * 2_000_000

    r = swell.invoke(name, {"mode": "chunked"})
    assert function_error(r) is None and r.json() == {"via": "chunked", "n": 300}, r.text

    r = swell.invoke(name, {"mode": "http10"})
    assert function_error(r) is None and r.json() == {"via": "http1.0"}, r.text

    # Chunked over 6 MB: read and dropped, the invocation fails as any oversized response does.
    r = swell.invoke(name, {"mode": "toolarge"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    assert function_error(r) == "ResponseTooLarge", (dict(r.headers), r.text[:300])
    assert len(r.content) < 100_000

    # Malformed bytes on a connection of their own: 400 with the reason, the connection
    # closed (`cat` ends), and the instance answers on as before. (The 431 for an oversized
    # head is tested on the handler: a client still writing when the server closes may see
    # a reset instead of the answer.)
    r = swell.invoke(name, {"mode": "malformed"}, timeout=60)
    assert function_error(r) is None, r.text
    answer = r.json()
    assert answer["answer"].startswith("HTTP/1.1 400 Bad Request"), answer
    assert "Content-Length and Transfer-Encoding" in answer["answer"], answer
    r = swell.invoke(name, {"mode": "plain"})
    assert function_error(r) is None and r.json() == {"via": "plain"}, r.text
