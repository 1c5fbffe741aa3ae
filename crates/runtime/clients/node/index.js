/*
 * Lamina runtime interface client for Node.js.
 *
 * Launched as `/usr/bin/node /var/runtime/node/index.js`. Talks to the Lambda
 * Runtime API (2018-06-01) on $AWS_LAMBDA_RUNTIME_API and behaves like AWS's
 * aws-lambda-nodejs-runtime-interface-client: same handler resolution
 * (CommonJS, ES modules, .cjs/.mjs, "type": "module"), async and callback
 * handlers, context.succeed/fail/done, callbackWaitsForEmptyEventLoop, the
 * same error shapes and Runtime.* error types, and the same console format.
 *
 * CommonJS on purpose: it starts faster than an ES module entry point, and
 * ES module handlers are still loaded with dynamic import().
 */

'use strict';

const fs = require('fs');
const path = require('path');
const util = require('util');
const http = require('http');
const Module = require('module');

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const STREAM_ERROR_TYPE_TRAILER = 'Lambda-Runtime-Function-Error-Type';
const STREAM_ERROR_BODY_TRAILER = 'Lambda-Runtime-Function-Error-Body';

// ---------------------------------------------------------------------------
// Errors (names and messages as the official client produces them)
// ---------------------------------------------------------------------------

class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. ' +
        'This is most commonly caused by a Promise that was never settled. ' +
        'For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
for (const E of [
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  UnhandledPromiseRejection,
  NodeJsExit,
]) {
  E.prototype.name = `Runtime.${E.name}`;
}

function isErrorLike(obj) {
  return (
    obj &&
    typeof obj.name === 'string' &&
    typeof obj.message === 'string' &&
    typeof obj.stack === 'string' &&
    obj.name &&
    obj.message &&
    obj.stack
  );
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

/** The body posted to /error and /init/error. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: error.stack.split('\n'),
      };
    }
    return {
      errorType: typeof error,
      errorMessage: error.toString(),
      trace: [],
    };
  } catch (_err) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function withEnumerableProperties(error) {
  if (error instanceof Error) {
    const ret = Object.assign(
      { errorType: error.name, errorMessage: error.message, code: error.code },
      error,
    );
    if (typeof error.stack === 'string') ret.stack = error.stack.split('\n');
    return ret;
  }
  return error;
}

/** "\t{json}" as the official client logs errors. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch (_err) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

// ---------------------------------------------------------------------------
// Logging: console.* -> "<ISO time>\t<request id>\t<LEVEL>\t<message>"
// written synchronously to fd 1, so it is in the pipe before any POST.
// ---------------------------------------------------------------------------

const REQUEST_ID_SYMBOL = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID_SYMBOL = Symbol.for('aws.lambda.runtime.tenantId');

function writeAllSync(fd, buf) {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      if (e.code === 'EAGAIN') continue; // non-blocking pipe is full: spin
      throw e;
    }
  }
}

const LEVELS = {
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
};

function jsonErrorReplacer(_k, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

function formatJson(requestId, time, level, params) {
  const result = { timestamp: time, level: level.name, requestId: requestId };
  if (params.length === 1) {
    result.message = params[0];
    try {
      return JSON.stringify(result, jsonErrorReplacer);
    } catch (_e) {
      result.message = util.format(result.message);
      return JSON.stringify(result);
    }
  }
  result.message = util.format(...params);
  for (const p of params) {
    if (p instanceof Error) {
      result.errorType = p?.constructor?.name ?? 'UnknownError';
      result.errorMessage = p.message;
      result.stackTrace = typeof p.stack === 'string' ? p.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(result);
}

const structuredConsole = {};

function patchConsole() {
  const json = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const minLevel =
    LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LEVELS.TRACE;

  const log = json
    ? (level, params) => {
        const line = formatJson(
          global[REQUEST_ID_SYMBOL],
          new Date().toISOString(),
          level,
          params,
        ).replace(/\n/g, '\r');
        writeAllSync(1, Buffer.from(line + '\n', 'utf8'));
      }
    : (level, params) => {
        const line = `${new Date().toISOString()}\t${global[REQUEST_ID_SYMBOL]}\t${
          level.name
        }\t${util.format(...params)}`.replace(/\n/g, '\r');
        writeAllSync(1, Buffer.from(line + '\n', 'utf8'));
      };
  const nop = () => {};
  const make = (level) =>
    level.priority >= minLevel.priority ? (...params) => log(level, params) : nop;

  console.trace = make(LEVELS.TRACE);
  console.debug = make(LEVELS.DEBUG);
  console.info = make(LEVELS.INFO);
  console.log = console.info;
  console.warn = make(LEVELS.WARN);
  console.error = make(LEVELS.ERROR);
  console.fatal = (...params) => log(LEVELS.FATAL, params);

  structuredConsole.logError = json
    ? (_msg, err) => console.error(intoError(err))
    : (msg, err) => console.error(msg, toFormatted(intoError(err)));
}

function stderrDie(msg, code) {
  try {
    writeAllSync(2, Buffer.from(`lamina-ric: ${msg}\n`, 'utf8'));
  } catch (_e) {
    /* nothing left to do */
  }
  process.exit(code === undefined ? 1 : code);
}

// ---------------------------------------------------------------------------
// Runtime API client: one keep-alive connection
// ---------------------------------------------------------------------------

class RuntimeClient {
  constructor(hostPort) {
    const i = hostPort.lastIndexOf(':');
    let host = hostPort.slice(0, i);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    this.address = hostPort;
    this.hostname = host;
    this.port = parseInt(hostPort.slice(i + 1), 10);
    if (i <= 0 || !(this.port > 0)) {
      stderrDie(`AWS_LAMBDA_RUNTIME_API must be host:port, got '${hostPort}'`);
    }
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  async _request(method, p, body, headers) {
    try {
      return await this._requestOnce(method, p, body, headers);
    } catch (e) {
      // A kept-alive socket the server had already closed: retry once on a
      // fresh connection.
      if (e.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
        return await this._requestOnce(method, p, body, headers);
      }
      throw e;
    }
  }

  _requestOnce(method, p, body, headers) {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          path: API_PREFIX + p,
          method: method,
          headers: headers,
          agent: this.agent,
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (e) => {
        e.reusedSocket = req.reusedSocket;
        reject(e);
      });
      if (body !== undefined) {
        req.setNoDelay(true);
        req.end(body);
      } else {
        req.end();
      }
    });
  }

  async nextInvocation() {
    let res;
    try {
      res = await this._request('GET', '/invocation/next');
    } catch (e) {
      stderrDie(`cannot reach the Runtime API at ${this.address}: ${e.message}`);
    }
    if (res.status !== 200) {
      stderrDie(
        `GET /runtime/invocation/next returned HTTP ${res.status}: ${res.body
          .toString('utf8')
          .slice(0, 500)}`,
      );
    }
    return { bodyJson: res.body.toString('utf8'), headers: res.headers };
  }

  async _post(p, bodyString, headers) {
    const body = Buffer.isBuffer(bodyString) ? bodyString : Buffer.from(bodyString, 'utf8');
    let res;
    try {
      res = await this._request(
        'POST',
        p,
        body,
        Object.assign({ 'Content-Type': 'application/json', 'Content-Length': body.length }, headers),
      );
    } catch (e) {
      stderrDie(`cannot reach the Runtime API at ${this.address}: ${e.message}`);
    }
    if (res.status >= 500) {
      stderrDie(`Runtime API returned HTTP ${res.status} for POST ${p}: ${res.body.toString('utf8').slice(0, 500)}`);
    } else if (res.status >= 300) {
      writeAllSync(
        2,
        Buffer.from(
          `lamina-ric: Runtime API returned HTTP ${res.status} for POST ${p}: ${res.body
            .toString('utf8')
            .slice(0, 500)}\n`,
        ),
      );
    }
  }

  postInvocationResponse(response, id, callback) {
    let bodyString;
    try {
      bodyString = JSON.stringify(response === undefined ? null : response);
    } catch (_err) {
      throw new Error('Unable to stringify response body');
    }
    if (bodyString === undefined) bodyString = 'null'; // e.g. a function value
    this._post(`/invocation/${encodeURIComponent(id)}/response`, bodyString, {}).then(callback);
  }

  /**
   * Opens a streamed POST .../response: chunked, each write sent as it is
   * made. Returns the request and a promise of the Runtime API's answer.
   */
  openStreamedResponse(id, contentType) {
    let req;
    const answered = new Promise((resolve) => {
      req = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          path: `${API_PREFIX}/invocation/${encodeURIComponent(id)}/response`,
          method: 'POST',
          agent: this.agent,
          headers: {
            'Content-Type': contentType,
            'Lambda-Runtime-Function-Response-Mode': 'streaming',
            'Transfer-Encoding': 'chunked',
            Trailer: [STREAM_ERROR_TYPE_TRAILER, STREAM_ERROR_BODY_TRAILER].join(', '),
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode >= 300) {
              writeAllSync(
                2,
                Buffer.from(
                  `lamina-ric: Runtime API returned HTTP ${res.statusCode} for a streamed response: ${Buffer.concat(chunks)
                    .toString('utf8')
                    .slice(0, 500)}\n`,
                ),
              );
            }
            resolve();
          });
          res.on('error', () => resolve());
        },
      );
      req.on('error', (e) => stderrDie(`cannot reach the Runtime API at ${this.address}: ${e.message}`));
    });
    req.setNoDelay(true);
    return { req, answered };
  }

  postInvocationError(error, id, callback) {
    const response = toRapidResponse(error);
    this._post(`/invocation/${encodeURIComponent(id)}/error`, JSON.stringify(response), {
      [ERROR_TYPE_HEADER]: String(response.errorType),
    }).then(callback);
  }

  postInitError(error, callback) {
    const response = toRapidResponse(error);
    this._post('/init/error', JSON.stringify(response), {
      [ERROR_TYPE_HEADER]: String(response.errorType),
    }).then(callback);
  }
}

// ---------------------------------------------------------------------------
// Handler loading (same search order as the official client)
// ---------------------------------------------------------------------------

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;

// Resolving through a require() rooted at /var/runtime/index.mjs makes the
// "Cannot find module" message read exactly as it does on Lambda.
const runtimeRequire = Module.createRequire(
  path.join(process.env.LAMBDA_RUNTIME_DIR || '/var/runtime', 'index.mjs'),
);

function hasPackageJsonTypeModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const pj = path.join(folder, 'package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj));
      if (pkg) return pkg.type === 'module';
    } catch (e) {
      console.warn(
        `${pj} cannot be read, it will be ignored for ES module detection purposes.`,
        e,
      );
      return false;
    }
  }
  if (folder === '/') return false;
  return hasPackageJsonTypeModule(path.resolve(folder, '..'));
}

function tryRequireFile(file, ext) {
  const p = file + (ext || '');
  return fs.existsSync(p) ? runtimeRequire(p) : undefined;
}

async function tryImportFile(file, ext) {
  const p = file + (ext || '');
  if (fs.existsSync(p)) {
    const url = require('url').pathToFileURL(p).href;
    return await import(url);
  }
  return undefined;
}

async function tryRequire(appRoot, moduleRoot, module) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, module);

  const extensionless = tryRequireFile(lambdaStylePath);
  if (extensionless) return extensionless;

  const pjHasModule = hasPackageJsonTypeModule(path.dirname(lambdaStylePath));
  if (!pjHasModule) {
    const loaded = tryRequireFile(lambdaStylePath, '.js');
    if (loaded) return loaded;
  }

  const loaded =
    (pjHasModule && (await tryImportFile(lambdaStylePath, '.js'))) ||
    (await tryImportFile(lambdaStylePath, '.mjs')) ||
    tryRequireFile(lambdaStylePath, '.cjs');
  if (loaded) return loaded;

  const nodeStylePath = runtimeRequire.resolve(module, { paths: [appRoot, moduleRoot] });
  return runtimeRequire(nodeStylePath);
}

async function loadUserApp(appRoot, moduleRoot, module) {
  try {
    return await tryRequire(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
}

async function loadHandler(appRoot, fullHandlerString) {
  if (fullHandlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const handlerString = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(handlerString));
  const match = handlerString.match(FUNCTION_EXPR);
  if (!match || match.length !== 3) throw new MalformedHandlerName('Bad handler');
  const [, module, handlerPath] = match;

  const userApp = await loadUserApp(appRoot, moduleRoot, module);
  const handlerFunc = handlerPath
    .split('.')
    .reduce((nested, key) => nested && nested[key], userApp);
  if (!handlerFunc) {
    throw new HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  }
  if (typeof handlerFunc !== 'function') {
    throw new HandlerNotFound(`${fullHandlerString} is not a function`);
  }
  return handlerFunc;
}

// ---------------------------------------------------------------------------
// Invoke loop
// ---------------------------------------------------------------------------

const beforeExit = {
  fn: () => {},
  set(f) {
    this.fn = f;
  },
  reset() {
    this.fn = () => {};
  },
};

/** callback, context.{succeed,fail,done,callbackWaitsForEmptyEventLoop} */
function buildCallbackContext(client, id, scheduleNext) {
  const postError = (err, cb) => {
    structuredConsole.logError('Invoke Error', err);
    client.postInvocationError(err, id, cb);
  };
  let isCompleteInvoked = false;
  const complete = (result, cb) => {
    if (isCompleteInvoked) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    isCompleteInvoked = true;
    client.postInvocationResponse(result, id, cb);
  };
  let waitForEmptyEventLoop = true;

  const callback = function (err, result) {
    beforeExit.reset();
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else if (!waitForEmptyEventLoop) {
      complete(result, scheduleNext);
    } else {
      beforeExit.set(() => setImmediate(() => complete(result, scheduleNext)));
    }
  };
  const done = (err, result) => {
    beforeExit.reset();
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else {
      complete(result, scheduleNext);
    }
  };
  const succeed = (result) => done(null, result);
  const fail = (err) => (err === undefined || err === null ? done('handled') : done(err, null));

  // Only the first of callback/succeed/fail/done counts.
  let finished = false;
  const once =
    (f) =>
    (...args) => {
      if (!finished) {
        f(...args);
        finished = true;
      }
    };
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(v) {
      waitForEmptyEventLoop = v;
    },
    succeed: once(succeed),
    fail: once(fail),
    done: once(done),
  };
  return [once(callback), context, () => (isCompleteInvoked = true)];
}

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

function attachEnvironmentData(context, headers) {
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) process.env._X_AMZN_TRACE_ID = trace;
  else delete process.env._X_AMZN_TRACE_ID;
  const deadline = headers['lambda-runtime-deadline-ms'];
  return Object.assign(context, {
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis: function () {
      return deadline - Date.now();
    },
  });
}

function isPromise(obj) {
  return obj && obj.then && typeof obj.then === 'function';
}

class Runtime {
  constructor(client, handler, errorCallbacks) {
    this.client = client;
    this.handler = handler;
    this.isAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
    this.errorCallbacks = errorCallbacks;
  }

  scheduleIteration() {
    setImmediate(() => {
      this.handleOnce().then(
        () => {},
        (err) => {
          console.log(`Unexpected Top Level Error: ${err.toString()}`);
          this.errorCallbacks.uncaughtException(err);
        },
      );
    });
  }

  async handleOnce() {
    if (this.handler[HANDLER_STREAMING] === 'response') return this.handleOnceStreaming();
    const { bodyJson, headers } = await this.client.nextInvocation();
    const invokeId = headers['lambda-runtime-aws-request-id'];
    if (!invokeId) stderrDie('invocation id is missing from the /next response');
    global[REQUEST_ID_SYMBOL] = invokeId;
    global[TENANT_ID_SYMBOL] = headers['lambda-runtime-aws-tenant-id'];

    const [callback, callbackContext, markCompleted] = buildCallbackContext(
      this.client,
      invokeId,
      this.scheduleIteration.bind(this),
    );

    try {
      this.errorCallbacks.uncaughtException = (error) => {
        this.client.postInvocationError(error, invokeId, () => process.exit(129));
      };
      this.errorCallbacks.unhandledRejection = (error) => {
        this.client.postInvocationError(error, invokeId, () => process.exit(128));
      };
      beforeExit.set(() => {
        markCompleted();
        if (this.isAsync) {
          const err = new NodeJsExit();
          structuredConsole.logError('Invoke Error', err);
          this.client.postInvocationError(err, invokeId, () => this.scheduleIteration());
        } else {
          this.client.postInvocationResponse(null, invokeId, () => this.scheduleIteration());
        }
      });

      const context = attachEnvironmentData(callbackContext, headers);
      const result = this.handler(JSON.parse(bodyJson), context, callback);
      if (isPromise(result)) {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (err) {
      callback(err);
    }
  }
}

Runtime.prototype.handleOnceStreaming = async function () {
  const { bodyJson, headers } = await this.client.nextInvocation();
  const invokeId = headers['lambda-runtime-aws-request-id'];
  if (!invokeId) stderrDie('invocation id is missing from the /next response');
  global[REQUEST_ID_SYMBOL] = invokeId;
  const scheduleNext = () => this.scheduleIteration();
  const responseStream = createResponseStream(this.client, invokeId);
  let reported = false;
  // Before the first byte an error is posted to /error; after it, the
  // stream ends with the error in its trailers.
  const fail = (err) => {
    if (reported) return;
    reported = true;
    beforeExit.reset();
    structuredConsole.logError('Invoke Error', err);
    if (responseStream.started()) responseStream.abort(err).then(scheduleNext);
    else this.client.postInvocationError(err, invokeId, scheduleNext);
  };
  this.errorCallbacks.uncaughtException = (error) => {
    if (responseStream.started()) responseStream.abort(error).then(() => process.exit(129));
    else this.client.postInvocationError(error, invokeId, () => process.exit(129));
  };
  this.errorCallbacks.unhandledRejection = (error) => {
    if (responseStream.started()) responseStream.abort(error).then(() => process.exit(128));
    else this.client.postInvocationError(error, invokeId, () => process.exit(128));
  };
  beforeExit.set(() => fail(new NodeJsExit()));
  try {
    const [, callbackContext] = buildCallbackContext(this.client, invokeId, scheduleNext);
    const ctx = attachEnvironmentData(callbackContext, headers);
    const result = this.handler(JSON.parse(bodyJson), responseStream, ctx);
    if (!isPromise(result)) {
      fail(new Error('Streaming does not support non-async handlers.'));
      return;
    }
    const value = await result;
    if (typeof value !== 'undefined') console.warn('Streaming handlers ignore return values.');
    if (!responseStream.writableEnded) {
      // give an end() called just before returning a chance to run
      await new Promise((r) => setImmediate(r));
    }
    if (!responseStream.writableEnded) {
      fail(new Error('Response stream is not finished.'));
      return;
    }
    await responseStream.completed();
    if (reported) return;
    reported = true;
    beforeExit.reset();
    scheduleNext();
  } catch (err) {
    fail(err);
  }
};

async function main() {
  patchConsole();
  const api = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!api) stderrDie('AWS_LAMBDA_RUNTIME_API is not set');
  const client = new RuntimeClient(api);

  const errorCallbacks = {
    uncaughtException: (error) => client.postInitError(error, () => process.exit(129)),
    unhandledRejection: (error) => client.postInitError(error, () => process.exit(128)),
  };
  process.on('uncaughtException', (error) => {
    structuredConsole.logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    structuredConsole.logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  process.on('beforeExit', () => beforeExit.fn());

  const appRoot = process.env.LAMBDA_TASK_ROOT || '/var/task';
  if (process.env.NODE_PATH === undefined) {
    // Lambda's default, so that require() finds packages in layers (/opt)
    const m = /^AWS_Lambda_nodejs(\d+)/.exec(process.env.AWS_EXECUTION_ENV || '');
    const major = m ? m[1] : process.versions.node.split('.')[0];
    const runtimeDir = process.env.LAMBDA_RUNTIME_DIR || '/var/runtime';
    process.env.NODE_PATH = [
      `/opt/nodejs/node${major}/node_modules`,
      '/opt/nodejs/node_modules',
      `${runtimeDir}/node_modules`,
      runtimeDir,
      appRoot,
    ].join(':');
    Module._initPaths();
  }
  try {
    if (process.cwd() !== appRoot) process.chdir(appRoot);
  } catch (_e) {
    /* keep the current directory */
  }
  const handlerString = process.argv[2] || process.env._HANDLER || '';
  const handler = await loadHandler(appRoot, handlerString);
  new Runtime(client, handler, errorCallbacks).scheduleIteration();
}

// ---------------------------------------------------------------------------
// awslambda.streamifyResponse / awslambda.HttpResponseStream. A streaming
// handler's writes go to the Runtime API as they are made, in one chunked
// POST with Lambda-Runtime-Function-Response-Mode: streaming.
// ---------------------------------------------------------------------------

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
    const metadataPrelude = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadataPrelude);
      write(new Uint8Array(8));
    };
    return underlyingStream;
  }
}

/**
 * The responseStream a streaming handler writes to. The POST opens with the
 * first write (or end()), so the content type can be set until then; each
 * write is on the wire before its callback runs, which gives the handler
 * backpressure from a slow reader.
 */
function createResponseStream(client, invokeId) {
  const { Writable } = require('stream');
  let contentType = 'application/octet-stream';
  let open = null; // { req, answered }
  const begin = (stream) => {
    if (open) return;
    open = client.openStreamedResponse(invokeId, contentType);
    if (typeof stream._onBeforeFirstWrite === 'function') {
      stream._onBeforeFirstWrite((c) => open.req.write(typeof c === 'string' ? c : Buffer.from(c)));
    }
  };
  const stream = new Writable({
    write(chunk, _enc, cb) {
      begin(stream);
      open.req.write(chunk, () => cb());
    },
    final(cb) {
      begin(stream);
      open.req.end();
      cb();
    },
  });
  stream.setContentType = (ct) => {
    if (open) throw new Error('Content type cannot be set after the first write.');
    contentType = ct;
  };
  stream.started = () => open !== null;
  /** Resolves when the Runtime API has answered the whole response. */
  stream.completed = () => (open ? open.answered : Promise.resolve());
  /** Ends the stream with the error in its trailers. */
  stream.abort = (err) => {
    const response = toRapidResponse(err);
    try {
      open.req.addTrailers({
        [STREAM_ERROR_TYPE_TRAILER]: String(response.errorType),
        [STREAM_ERROR_BODY_TRAILER]: Buffer.from(JSON.stringify(response)).toString('base64'),
      });
      open.req.end();
    } catch (_e) {
      /* already ended: the error cannot be reported any more */
    }
    return open.answered;
  };
  return stream;
}

globalThis.awslambda = {
  streamifyResponse: (handler, _options) => {
    handler[HANDLER_STREAMING] = 'response';
    return handler;
  },
  HttpResponseStream: HttpResponseStream,
};

main().catch((error) => {
  // Init failure: same path as the official client (uncaught exception
  // during init -> log, POST /runtime/init/error, exit 129).
  process.emit('uncaughtException', error);
});
