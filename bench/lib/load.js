'use strict';
/**
 * HTTP load with autocannon: GET a path, each request's headers (X-Tenant-ID and the tenant user's Authorization)
 * drawn by `pickHeaders`.
 */
const autocannon = require('autocannon');

async function load({ port, path, connections, seconds, pickHeaders }) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        path,
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...pickHeaders() } }),
      },
    ],
  });
  return {
    rps: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

module.exports = { load };
