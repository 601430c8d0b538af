// What the health charts plot, computed from two samples of /metrics (Prometheus text parsed by
// prom.js): writes counted, a latency quantile between two samples, lag per partition.

import { select } from './prom.js';

const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);
const api = (labels) => String(labels.route || '').startsWith('/api/');

// Writes served so far (all statuses) by this API process.
export function writeCount(samples) {
  return select(samples, 'core_http_requests_total', (l) => api(l) && WRITE_METHODS.has(l.method))
    .reduce((sum, s) => sum + s.value, 0);
}

// Cumulative count per bucket bound of the request-duration histogram (API routes only).
function buckets(samples) {
  const found = new Map();
  for (const s of select(samples, 'core_http_request_duration_seconds_bucket', api)) {
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    found.set(le, (found.get(le) || 0) + s.value);
  }
  return found;
}

// The q-quantile (seconds) of the requests served between two samples, interpolated inside its
// bucket as Prometheus' histogram_quantile does; null when no request was served.
export function latencyQuantile(now, before, q) {
  const a = buckets(now);
  const b = buckets(before || []);
  const bounds = [...a.keys()].sort((x, y) => x - y);
  const counts = bounds.map((le) => Math.max((a.get(le) || 0) - (b.get(le) || 0), 0));
  const count = counts.at(-1) || 0;
  if (!count) return null;
  const rank = q * count;
  for (let i = 0; i < bounds.length; i += 1) {
    if (counts[i] < rank) continue;
    if (bounds[i] === Infinity) return i > 0 ? bounds[i - 1] : null;
    const low = i > 0 ? bounds[i - 1] : 0;
    const below = i > 0 ? counts[i - 1] : 0;
    const inside = counts[i] - below;
    return inside > 0 ? low + (bounds[i] - low) * ((rank - below) / inside) : bounds[i];
  }
  return null;
}

// Projector lag (events) per partition, as this API process last measured it (/ready).
export function lagByPartition(samples) {
  return new Map(select(samples, 'core_projector_lag_events')
    .map((s) => [Number(s.labels.partition), s.value]));
}
