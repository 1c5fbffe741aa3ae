// The server's public endpoints, same origin. Nothing here is private to
// the console: the Lambda API (rest-json) and Lamina's /_lamina endpoints.

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.type = type || '';
  }
}

const LAMBDA = '/2015-03-31/functions';
const enc = encodeURIComponent;

async function failure(resp) {
  let message = '';
  const text = await resp.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    message = body.Message || body.message || '';
  } catch {
    message = text.slice(0, 300);
  }
  const type = (resp.headers.get('x-amzn-ErrorType') || '').split(':')[0];
  return new ApiError(resp.status, type, message || resp.statusText);
}

async function getJson(path, { signal } = {}) {
  let resp;
  try {
    resp = await fetch(path, { signal, headers: { accept: 'application/json' } });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'NetworkError', 'The server did not answer. Is Lamina running?');
  }
  if (!resp.ok) throw await failure(resp);
  return resp.json();
}

/** Follows NextMarker through every page, calling onPage with each batch. */
async function paginate(path, key, { signal, onPage } = {}) {
  const all = [];
  let marker = '';
  for (let page = 0; page < 10000; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const body = await getJson(`${path}${sep}MaxItems=50${marker ? `&Marker=${enc(marker)}` : ''}`, { signal });
    const items = body[key] || [];
    all.push(...items);
    if (onPage) onPage(items, all);
    if (!body.NextMarker || !items.length) break;
    marker = body.NextMarker;
  }
  return all;
}

function utf8FromBase64(b64) {
  try {
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder().decode(bytes);
  } catch {
    return '';
  }
}

export const api = {
  listFunctions: (opts) => paginate(`${LAMBDA}/`, 'Functions', opts),
  getFunction: (name, opts) => getJson(`${LAMBDA}/${enc(name)}`, opts),
  versions: (name, opts) => paginate(`${LAMBDA}/${enc(name)}/versions`, 'Versions', opts),
  aliases: (name, opts) => paginate(`${LAMBDA}/${enc(name)}/aliases`, 'Aliases', opts),

  /** RequestResponse invoke with the log tail; a function error is a result, not a throw. */
  async invoke(name, payload, qualifier) {
    const q = qualifier ? `?Qualifier=${enc(qualifier)}` : '';
    const started = performance.now();
    const resp = await fetch(`${LAMBDA}/${enc(name)}/invocations${q}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Amz-Log-Type': 'Tail', 'X-Amz-Invocation-Type': 'RequestResponse' },
      body: payload,
    }).catch(() => {
      throw new ApiError(0, 'NetworkError', 'The server did not answer. Is Lamina running?');
    });
    const elapsedMs = performance.now() - started;
    if (!resp.ok) throw await failure(resp);
    const body = await resp.text();
    const tail = resp.headers.get('X-Amz-Log-Result');
    return {
      status: resp.status,
      functionError: resp.headers.get('X-Amz-Function-Error') || '',
      executedVersion: resp.headers.get('X-Amz-Executed-Version') || '',
      requestId: resp.headers.get('x-amzn-RequestId') || '',
      logTail: tail ? utf8FromBase64(tail) : '',
      body,
      elapsedMs,
    };
  },

  logs: (name, after = 0, limit = 1000, opts) => getJson(`/_lamina/logs/${enc(name)}?after=${after}&limit=${limit}`, opts),
  usage: (by, since, opts) => getJson(`/_lamina/usage?by=${enc(by)}${since ? `&since=${enc(since)}` : ''}`, opts),
  status: (opts) => getJson('/_lamina/status', opts),

  /** Per-minute points; an empty series when the server has none to give. */
  async series(fn, minutes, opts) {
    const q = `minutes=${minutes}${fn ? `&function=${enc(fn)}` : ''}`;
    try {
      const body = await getJson(`/_lamina/series?${q}`, opts);
      return { period_secs: body.period_secs || 60, points: Array.isArray(body.points) ? body.points : [] };
    } catch (err) {
      if (err.status === 404 || err.type === 'UnknownOperationException') return { period_secs: 60, points: [], missing: true };
      throw err;
    }
  },
};
