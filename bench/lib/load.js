'use strict';
/** HTTP load with autocannon: GET a path, each request's X-Tenant-ID drawn by `pickTenant`. */
const autocannon = require('autocannon');

async function load({ port, path, connections, seconds, pickTenant }) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        path,
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-tenant-id': pickTenant() } }),
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
