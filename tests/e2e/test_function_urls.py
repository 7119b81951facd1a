"""Function URLs: the API Gateway v2.0 event and the response mapping."""

from __future__ import annotations

import http.client
import json
import os

import pytest
import requests

from swell_e2e import function_info, node_fn

ECHO = r"""
exports.handler = async (event) => ({ statusCode: 200, headers: {'content-type': 'application/json'},
                                      body: JSON.stringify(event) });
"""

BINARY = r"""
exports.handler = async (event) => {
  if (!event.isBase64Encoded) throw new Error('expected a base64 body, got isBase64Encoded=' + event.isBase64Encoded);
  const bytes = Buffer.from(event.body, 'base64');
  return { statusCode: 200, headers: {'content-type': 'application/octet-stream', 'x-length': String(bytes.length)},
           body: bytes.toString('base64'), isBase64Encoded: true };
};
"""

MAPPING = r"""
exports.handler = async (event) => {
  switch (event.rawPath) {
    case '/status':
      return { statusCode: 201, headers: {'content-type': 'text/plain', 'x-foo': 'bar'},
               cookies: ['a=1; Path=/', 'b=2; HttpOnly'], body: 'created!' };
    case '/teapot':
      return { statusCode: 418, body: 'short and stout' };
    case '/bare':
      return { hello: 'world', n: [1, 2] };
    case '/string':
      return 'just a string';
    case '/error':
      throw new RangeError('url boom');
    default:
      return { statusCode: 404, body: 'no route ' + event.rawPath };
  }
};
"""


@pytest.fixture(scope="module")
def url_functions(server, tmp_path_factory):
    swell = server.client()
    app = tmp_path_factory.mktemp("urlapp")
    suffix = os.urandom(3).hex()
    names = {k: f"url-{k}-{suffix}" for k in ("echo", "bin", "map", "key", "nourl")}
    swell.deploy(app, {
        names["echo"]: node_fn(ECHO, url={"auth": "none"}),
        names["bin"]: node_fn(BINARY, url={"auth": "none"}),
        names["map"]: node_fn(MAPPING, url={"auth": "none"}),
        names["key"]: node_fn("exports.handler = async () => ({ secret: 'ok' });", url={"auth": "key"}),
        names["nourl"]: node_fn("exports.handler = async () => 1;"),
    })
    return names


def test_event_mapping(swell, url_functions):
    name = url_functions["echo"]
    r = requests.post(
        f"{swell.url}/fn/default/{name}/some/deep/path?a=1&b=two&a=3",
        headers={"X-Custom-Header": "Value-1", "Content-Type": "text/plain; charset=utf-8",
                 "Cookie": "c1=v1; c2=v2", "User-Agent": "e2e-agent/1.0"},
        data="hello world ✓".encode(), timeout=30)
    assert r.status_code == 200, r.text
    assert "X-Swell-Request-Id" in r.headers and "X-Swell-Executed-Version" in r.headers
    ev = r.json()
    assert ev["version"] == "2.0"
    assert ev["routeKey"] == "$default"
    assert ev["rawPath"] == "/some/deep/path"
    assert ev["rawQueryString"] == "a=1&b=two&a=3"
    assert ev["queryStringParameters"] == {"a": "1,3", "b": "two"}
    assert ev["requestContext"]["http"]["method"] == "POST"
    assert ev["requestContext"]["http"]["path"] == "/some/deep/path"
    assert ev["requestContext"]["http"]["userAgent"] == "e2e-agent/1.0"
    assert ev["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert ev["requestContext"]["accountId"] == "default"
    assert isinstance(ev["requestContext"]["timeEpoch"], int)
    headers = ev["headers"]
    assert all(k == k.lower() for k in headers), headers
    assert headers["x-custom-header"] == "Value-1"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert "cookie" not in headers
    assert ev["cookies"] == ["c1=v1", "c2=v2"]
    assert ev["body"] == "hello world ✓"
    assert ev["isBase64Encoded"] is False


def test_event_mapping_get_root_and_json_body(swell, url_functions):
    name = url_functions["echo"]
    r = requests.get(f"{swell.url}/fn/default/{name}", timeout=30)
    assert r.status_code == 200, r.text
    ev = r.json()
    assert ev["requestContext"]["http"]["method"] == "GET"
    assert ev["rawPath"] == "/"
    assert ev["rawQueryString"] == ""
    assert ev["isBase64Encoded"] is False
    assert not ev.get("body")
    r = requests.put(f"{swell.url}/fn/default/{name}/x", json={"k": "v"}, timeout=30)
    ev = r.json()
    assert ev["requestContext"]["http"]["method"] == "PUT"
    assert json.loads(ev["body"]) == {"k": "v"}
    assert ev["isBase64Encoded"] is False
    # Repeated headers are comma-joined (http.client can send the same name twice).
    conn = http.client.HTTPConnection("127.0.0.1", swell.server.port, timeout=30)
    conn.putrequest("GET", f"/fn/default/{name}/h")
    conn.putheader("X-Multi", "one")
    conn.putheader("X-Multi", "two")
    conn.endheaders()
    resp = conn.getresponse()
    ev = json.loads(resp.read())
    conn.close()
    assert resp.status == 200
    assert ev["headers"]["x-multi"] == "one,two"


def test_binary_round_trip(swell, url_functions):
    name = url_functions["bin"]
    payload = os.urandom(200 * 1024)
    r = requests.post(f"{swell.url}/fn/default/{name}/upload", data=payload,
                      headers={"Content-Type": "application/octet-stream"}, timeout=60)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["x-length"] == str(len(payload))
    assert r.content == payload


def test_response_mapping_status_headers_cookies(swell, url_functions):
    name = url_functions["map"]
    r = requests.get(f"{swell.url}/fn/default/{name}/status", timeout=30)
    assert r.status_code == 201, r.text
    assert r.headers["x-foo"] == "bar"
    assert r.headers["Content-Type"] == "text/plain"
    assert r.text == "created!"
    set_cookies = r.raw.headers.getlist("Set-Cookie")
    assert set_cookies == ["a=1; Path=/", "b=2; HttpOnly"], set_cookies
    r = requests.get(f"{swell.url}/fn/default/{name}/teapot", timeout=30)
    assert r.status_code == 418
    assert r.text == "short and stout"


def test_bare_values_are_json(swell, url_functions):
    name = url_functions["map"]
    r = requests.get(f"{swell.url}/fn/default/{name}/bare", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"hello": "world", "n": [1, 2]}
    r = requests.get(f"{swell.url}/fn/default/{name}/string", timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == "just a string"


def test_function_error_is_502(swell, url_functions):
    name = url_functions["map"]
    r = requests.get(f"{swell.url}/fn/default/{name}/error", timeout=30)
    assert r.status_code == 502, r.text
    assert r.headers["X-Swell-Function-Error"] == "Unhandled"
    body = r.json()
    assert body["errorType"] == "RangeError"
    assert body["errorMessage"] == "url boom"


def test_url_auth_key(swell, url_functions):
    name = url_functions["key"]
    url = f"{swell.url}/fn/default/{name}"
    r = requests.get(url, timeout=30)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthorized"
    r = requests.get(url, headers={"Authorization": "Bearer swk_" + "0" * 48}, timeout=30)
    assert r.status_code == 401, r.text
    r = requests.get(url, headers={"Authorization": f"Bearer {swell.key}"}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {"secret": "ok"}
    # Any role of the namespace will do.
    created = swell.api("POST", "/v1/namespaces/default/keys", json_body={"role": "invoker", "name": "url-inv"})
    assert created.status_code == 201, created.text
    r = requests.get(url, headers={"Authorization": f"Bearer {created.json()['key']}"}, timeout=30)
    assert r.status_code == 200, r.text


def test_no_url_configured_is_404(swell, url_functions):
    r = requests.get(f"{swell.url}/fn/default/{url_functions['nourl']}", timeout=30)
    assert r.status_code == 404, r.text
    r = requests.get(f"{swell.url}/fn/default/does-not-exist-{os.urandom(2).hex()}/x", timeout=30)
    assert r.status_code == 404, r.text


def test_url_info_in_function(swell, url_functions):
    fn = function_info(swell.api("GET", f"/v1/namespaces/default/functions/{url_functions['key']}").json())
    assert fn["url"]["auth"] == "key"
    assert fn["url"]["path"] == f"/fn/default/{url_functions['key']}"
    fn = function_info(swell.api("GET", f"/v1/namespaces/default/functions/{url_functions['nourl']}").json())
    assert fn["url"] is None
