// A small HTTP load generator for Swell's benchmarks (Node.js, one keep-alive agent).
//
//   node bench/loadgen.js '{"url": "...", "total": 500, "concurrency": 500}'
//
// Spec: url, method (POST), headers {}, body ("{}"), concurrency (requests in flight, also
// the agent's socket cap), total (requests; 0 = no cap), duration (seconds; 0 = no cap),
// capture (response header names to count by value), bodies (true: return each body),
// timeoutMs (per request, default 60000). Prints one JSON object: wallMs (first request sent
// to last answer), latencies (ms, in completion order), status counts, captured header
// counts, errors (no answer: count and first messages), bodies if asked.
'use strict';
const http = require('http');

const spec = JSON.parse(process.argv[2]);
const url = new URL(spec.url);
const concurrency = spec.concurrency || 1;
const total = spec.total || 0;
const durationMs = (spec.duration || 0) * 1000;
const method = spec.method || 'POST';
const body = spec.body === undefined ? '{}' : spec.body;
const capture = (spec.capture || []).map((h) => h.toLowerCase());
const timeoutMs = spec.timeoutMs || 60000;
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
const headers = Object.assign({ 'content-type': 'application/json' }, spec.headers || {});
if (method !== 'GET') headers['content-length'] = Buffer.byteLength(body);

const latencies = [];
const starts = [];
const status = {};
const captured = {};
for (const h of capture) captured[h] = {};
const bodies = [];
let lost = 0;
const lostMessages = [];
let issued = 0;

function one() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    starts.push(Number(t0 - begin) / 1e6);
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        status[res.statusCode] = (status[res.statusCode] || 0) + 1;
        for (const h of capture) {
          const v = res.headers[h] === undefined ? '(none)' : String(res.headers[h]);
          captured[h][v] = (captured[h][v] || 0) + 1;
        }
        if (spec.bodies) bodies.push(Buffer.concat(chunks).toString());
        resolve();
      });
      res.on('error', fail);
    });
    function fail(err) {
      lost += 1;
      if (lostMessages.length < 5) lostMessages.push(String(err && err.message || err));
      resolve();
    }
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout after ' + timeoutMs + ' ms')));
    req.on('error', fail);
    req.end(method === 'GET' ? undefined : body);
  });
}

const begin = process.hrtime.bigint();
const deadline = durationMs ? Date.now() + durationMs : Infinity;

async function worker() {
  while ((total === 0 || issued < total) && Date.now() < deadline) {
    issued += 1;
    await one();
  }
}

(async () => {
  const workers = [];
  for (let i = 0; i < concurrency && (total === 0 || i < total); i++) workers.push(worker());
  await Promise.all(workers);
  const wallMs = Number(process.hrtime.bigint() - begin) / 1e6;
  agent.destroy();
  process.stdout.write(JSON.stringify({ wallMs, issued, latencies, lastStartMs: Math.max(0, ...starts), status, captured, lost, lostMessages, bodies: spec.bodies ? bodies : undefined }));
})();
