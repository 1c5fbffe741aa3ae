"""Lamina runtime interface client for Python.

Launched as ``/usr/bin/python3 -S /var/runtime/python/bootstrap.py``. Talks
to the Lambda Runtime API (2018-06-01) on ``$AWS_LAMBDA_RUNTIME_API`` and
behaves like AWS's ``awslambdaric``: same handler resolution, same error
shapes and types, same context object and logging format.

Start-up is kept lean on purpose: only C-level or already-needed modules are
imported before the first ``GET /next`` (``_socket`` instead of ``socket``
or ``http.client``; the C halves of ``json`` (``_json``) instead of ``json``,
which drags in ``re``/``enum`` for ~5 ms; ``traceback`` only on the error
path; ``logging`` is configured lazily, the moment user code imports it).
"""

import sys
import os
import _socket
import _json
import time
import importlib

RUNTIME_API_PREFIX = "/2018-06-01/runtime"
ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"  # NO-BREAK SPACE, as awslambdaric writes it

_environ = os.environ
_request_id = None  # current AWS request id, read by the logging filter


# --------------------------------------------------------------------------
# Minimal HTTP/1.1 client over one keep-alive TCP connection.
# --------------------------------------------------------------------------


class RuntimeAPIError(Exception):
    pass


class _Conn(object):
    def __init__(self, address):
        self.address = address
        host, _, port = address.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not host or not port.isdigit():
            raise RuntimeAPIError(
                "AWS_LAMBDA_RUNTIME_API must be host:port, got %r" % address
            )
        self.host = host
        self.port = int(port)
        self.sock = None
        self.buf = b""

    def _connect(self):
        err = None
        # bytes host: skips the idna codec import getaddrinfo does for str
        for family, stype, proto, _c, sockaddr in _socket.getaddrinfo(
            self.host.encode("ascii", "ignore"), self.port, 0, _socket.SOCK_STREAM
        ):
            s = _socket.socket(family, stype, proto)
            try:
                s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
                s.connect(sockaddr)
            except OSError as e:
                err = e
                s.close()
                continue
            self.sock = s
            self.buf = b""
            return
        raise err if err else OSError("no address for %s" % self.host)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = b""

    def request(self, method, path, body=None, headers=None):
        """Send one request and return (status, headers(lowercased), body)."""
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self._connect()
            got_any = [False]
            try:
                self._send(method, path, body, headers)
                return self._read_response(got_any)
            except _StaleConnection:
                # A reused keep-alive connection was closed by the server
                # before it answered: retry once on a fresh connection.
                self.close()
                if fresh or attempt:
                    raise OSError("connection closed by Runtime API")
            except (BrokenPipeError, ConnectionResetError):
                self.close()
                if fresh or attempt or got_any[0]:
                    raise
            except OSError:
                self.close()
                raise

    def _send(self, method, path, body, headers):
        head = ["%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, self.address)]
        if headers:
            for k, v in headers.items():
                head.append("%s: %s\r\n" % (k, v))
        if body is not None:
            head.append("Content-Length: %d\r\n" % len(body))
        head.append("\r\n")
        data = "".join(head).encode("latin-1")
        if body is not None:
            if len(body) < 65536:
                self.sock.sendall(data + body)
                return
            self.sock.sendall(data)
            self.sock.sendall(body)
        else:
            self.sock.sendall(data)

    def _fill(self, got_any):
        chunk = self.sock.recv(262144)
        if not chunk:
            if not got_any[0]:
                raise _StaleConnection()
            raise OSError("connection closed by Runtime API mid-response")
        got_any[0] = True
        self.buf += chunk

    def _read_until(self, sep, got_any):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                line = self.buf[:i]
                self.buf = self.buf[i + len(sep):]
                return line
            self._fill(got_any)

    def _read_exact(self, n, got_any):
        if len(self.buf) >= n:
            data = self.buf[:n]
            self.buf = self.buf[n:]
            return data
        parts = [self.buf]
        have = len(self.buf)
        self.buf = b""
        while have < n:
            chunk = self.sock.recv(max(n - have, 65536))
            if not chunk:
                raise OSError("connection closed by Runtime API mid-body")
            got_any[0] = True
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        if have > n:
            self.buf = data[n:]
            data = data[:n]
        return data

    def _read_response(self, got_any):
        head = self._read_until(b"\r\n\r\n", got_any).decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            raise OSError("bad status line from Runtime API: %r" % lines[0])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if hdrs.get("transfer-encoding", "").lower().endswith("chunked"):
            chunks = []
            while True:
                size = int(self._read_until(b"\r\n", got_any).split(b";")[0], 16)
                if size == 0:
                    # trailers, up to the empty line
                    while self._read_until(b"\r\n", got_any):
                        pass
                    break
                chunks.append(self._read_exact(size, got_any))
                self._read_exact(2, got_any)
            body = b"".join(chunks)
        elif "content-length" in hdrs:
            body = self._read_exact(int(hdrs["content-length"]), got_any)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            parts = [self.buf]
            self.buf = b""
            while True:
                chunk = self.sock.recv(262144)
                if not chunk:
                    break
                parts.append(chunk)
            body = b"".join(parts)
            self.close()
        if hdrs.get("connection", "").lower() == "close":
            self.close()
        return status, hdrs, body


class _StaleConnection(Exception):
    pass


class RuntimeClient(object):
    def __init__(self, address):
        self.conn = _Conn(address)

    def next(self):
        status, hdrs, body = self.conn.request("GET", RUNTIME_API_PREFIX + "/invocation/next")
        if status != 200:
            raise RuntimeAPIError(
                "GET /runtime/invocation/next returned HTTP %d: %s"
                % (status, body[:500].decode("utf-8", "replace"))
            )
        return hdrs, body

    def _post(self, path, body, headers):
        status, _h, rbody = self.conn.request("POST", RUNTIME_API_PREFIX + path, body, headers)
        if status >= 500:
            # "non-recoverable state, runtime should exit"
            _die(
                "Runtime API returned HTTP %d for POST %s: %s"
                % (status, path, rbody[:500].decode("utf-8", "replace"))
            )
        if status >= 300:
            _stderr_line(
                "lamina-ric: Runtime API returned HTTP %d for POST %s: %s"
                % (status, path, rbody[:500].decode("utf-8", "replace"))
            )
        return status

    def post_result(self, request_id, body, content_type):
        return self._post(
            "/invocation/%s/response" % request_id,
            body,
            {"Content-Type": content_type},
        )

    def post_error(self, request_id, error):
        return self._post(
            "/invocation/%s/error" % request_id,
            _to_json_bytes(error),
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Function-Error-Type": error.get("errorType") or "Unhandled",
            },
        )

    def post_init_error(self, error):
        return self._post(
            "/init/error",
            _to_json_bytes(error),
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Function-Error-Type": error.get("errorType") or "Unhandled",
            },
        )


def _stderr_line(msg):
    try:
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()
    except Exception:
        try:
            os.write(2, (msg + "\n").encode("utf-8", "replace"))
        except OSError:
            pass


def _die(msg, code=1):
    _flush_std()
    _stderr_line("lamina-ric: " + msg)
    os._exit(code)


# --------------------------------------------------------------------------
# Errors, shaped like awslambdaric's
# --------------------------------------------------------------------------


class FaultException(Exception):
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

    def __init__(self, exception_type, msg, trace=None):
        Exception.__init__(self, msg)
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


def make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _user_frames(tb):
    """Formatted traceback frames, without the leading frames of this file."""
    import traceback

    # plain tuples, as awslambdaric passes them: no column carets
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i in range(len(frames)):
        if "/bootstrap.py" not in frames[i][0]:
            frames = frames[i:]
            break
    return traceback.format_list(frames)


def build_fault_result(exc_info, invoke_id=None):
    etype, value, tb = exc_info
    return make_error(str(value), etype.__name__, _user_frames(tb), invoke_id)


def _replace_indent(line):
    n = len(line) - len(line.lstrip(" "))
    return ERROR_LOG_IDENT * n + line[n:]


_JSON_LOGS = (_environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"


def log_error(error_result):
    """Write the '[ERROR] Type: message\\rTraceback ...' record to stdout."""
    if _JSON_LOGS:
        record = {"timestamp": _iso_ms(time.time()), "level": "ERROR"}
        record.update(error_result)
        try:
            sys.stdout.write(_json_dumps(record) + "\n")
        except Exception:
            pass
        return
    desc = "[ERROR]"
    etype = error_result.get("errorType")
    if etype:
        desc += " " + etype
    emsg = error_result.get("errorMessage")
    if emsg:
        if etype:
            desc += ":"
        desc += " " + emsg
    lines = [desc]
    stack = error_result.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            if element == "":
                lines.append("")
            else:
                for tl in element.splitlines():
                    lines.append(_replace_indent(tl))
    try:
        sys.stdout.write(ERROR_LOG_LINE_TERMINATE.join(lines) + "\n")
    except Exception:
        pass


# --------------------------------------------------------------------------
# JSON marshalling
# --------------------------------------------------------------------------

_ENSURE_ASCII = _environ.get("AWS_EXECUTION_ENV") != "AWS_Lambda_python3.12"


def _json_default(obj):
    # awslambdaric (simplejson) serialises decimal.Decimal as a number;
    # boto3's DynamoDB deserialiser returns Decimals, so this matters.
    if type(obj).__name__ == "Decimal" and type(obj).__module__ == "decimal":
        if obj.is_nan():
            return float("nan")
        if obj == obj.to_integral_value() and "E" not in str(obj).upper():
            return int(obj)
        return float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


def _json_dumps(obj):
    """json.dumps(obj, ensure_ascii=_ENSURE_ASCII, default=_json_default),
    using the same C encoder json.dumps uses, without importing json."""
    basestring = _json.encode_basestring_ascii if _ENSURE_ASCII else _json.encode_basestring
    if isinstance(obj, str):
        return basestring(obj)
    encode = _json.make_encoder(
        {}, _json_default, basestring, None, ": ", ", ", False, False, True
    )
    return "".join(encode(obj, 0))


class _ScanContext(object):
    # what json.scanner.make_scanner reads from a JSONDecoder
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {
        "-Infinity": float("-inf"),
        "Infinity": float("inf"),
        "NaN": float("nan"),
    }.__getitem__
    memo = {}


_scan_once = _json.make_scanner(_ScanContext)
_WS = " \t\n\r"


def _json_loads(data):
    """json.loads(data) for UTF-8 input; on any problem defers to the real
    json.loads so that error messages are exactly json's."""
    try:
        s = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        n = len(s)
        i = 0
        while i < n and s[i] in _WS:
            i += 1
        obj, end = _scan_once(s, i)
        while end < n and s[end] in _WS:
            end += 1
        if end == n:
            return obj
    except Exception:
        pass
    import json

    return json.loads(data)


def _to_json_bytes(obj):
    return _json_dumps(obj).encode("utf-8", "surrogatepass")


def marshal_response(response):
    if isinstance(response, bytes):
        return response, "application/unknown"
    try:
        return _to_json_bytes(response), "application/json"
    except Exception as e:
        raise FaultException(
            FaultException.MARSHAL_ERROR,
            "Unable to marshal response: {}".format(str(e)),
            None,
        )


def unmarshal_request(body, content_type):
    if content_type and not content_type.startswith("application/json"):
        return body
    try:
        return _json_loads(body)
    except Exception as e:
        raise FaultException(
            FaultException.UNMARSHAL_ERROR,
            "Unable to unmarshal input: {}".format(str(e)),
            None,
        )


# --------------------------------------------------------------------------
# Context object (same attributes as awslambdaric's LambdaContext)
# --------------------------------------------------------------------------


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=%s,cognito_identity_pool_id=%s])" % (
            self.cognito_identity_id,
            self.cognito_identity_pool_id,
        )


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return "Client([%s])" % ",".join(
            "%s=%s" % (k, getattr(self, k)) for k in self.__slots__
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "ClientContext([custom=%s,env=%s,client=%s])" % (
            self.custom,
            self.env,
            self.client,
        )


def _obj_from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, d.get(field, None) if isinstance(d, dict) else None)
    return obj


def _memory_size():
    # A string, as awslambdaric (and so Lambda) gives it.
    return _environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")


class LambdaContext(object):
    def __init__(self, invoke_id, client_context, cognito_identity, deadline_ms, invoked_function_arn=None, tenant_id=None):
        self.aws_request_id = invoke_id
        self.log_group_name = _environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = _environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = _environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = _memory_size()
        self.function_version = _environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = _obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _obj_from_dict(Client, self.client_context.client)
        self.identity = _obj_from_dict(CognitoIdentity, {})
        if isinstance(cognito_identity, dict):
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        delta = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta if delta > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
            "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
            "invoked_function_arn=%s,client_context=%s,identity=%s,tenant_id=%s])"
            % (
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


def _parse_json_header(value, name):
    try:
        return _json_loads(value)
    except Exception as e:
        raise FaultException(
            FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
            "Unable to parse {} JSON: {}".format(name, str(e)),
            None,
        )


# --------------------------------------------------------------------------
# Logging: Lambda's root-logger handler, installed when `logging` is imported
# --------------------------------------------------------------------------


def _install_lambda_logging(logging):
    logging.Formatter.converter = time.gmtime

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            try:
                msg = self.format(record)
                if not msg.endswith("\n"):
                    # an exception text follows the format's "\n": keep
                    # records line-terminated on the pipe
                    msg += "\n"
                sys.stdout.write(msg)
            except Exception:
                self.handleError(record)

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id or ""
            return True

    handler = LambdaLoggerHandler()
    if _JSON_LOGS:
        handler.setFormatter(_make_json_formatter(logging))
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    handler.addFilter(LambdaLoggerFilter())
    root = logging.getLogger()
    level = (_environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
    if level == "TRACE":
        level = "DEBUG"
    if level in getattr(logging, "_nameToLevel", {}):
        root.setLevel(level)
    root.addHandler(handler)


_RESERVED_LOG_FIELDS = {
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename",
    "module", "exc_info", "exc_text", "stack_info", "lineno", "funcName",
    "created", "msecs", "relativeCreated", "thread", "threadName",
    "processName", "process", "aws_request_id", "tenant_id", "_frame_type",
    "taskName",
}


def _make_json_formatter(logging):
    """AWS_LAMBDA_LOG_FORMAT=JSON: one JSON object per record, like awslambdaric."""

    class JsonFormatter(logging.Formatter):
        def format(self, record):
            levelno = min(50, max(0, record.levelno)) // 10 * 10
            record.levelno = levelno
            record.levelname = logging.getLevelName(levelno)
            exc = record.exc_info
            if exc:
                import traceback

            result = {
                "timestamp": _iso_ms(record.created),
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
                "stackTrace": traceback.format_tb(exc[2]) if exc else None,
                "errorType": exc[0].__name__ if exc else None,
                "errorMessage": str(exc[1]) if exc else None,
                "requestId": getattr(record, "aws_request_id", None),
                "location": "%s:%s:%s" % (record.pathname, record.funcName, record.lineno)
                if exc
                else None,
            }
            for key, value in record.__dict__.items():
                if key not in _RESERVED_LOG_FIELDS and key not in result:
                    result[key] = value
            result = {k: v for k, v in result.items() if v is not None}
            encode = _json.make_encoder(
                {}, str, _json.encode_basestring, None, ": ", ", ", False, False, True
            )
            return "".join(encode(result, 0)) + "\n"

    return JsonFormatter()


def _iso_ms(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


class _LoggingImportHook(object):
    """sys.meta_path finder: configures `logging` right after its first import
    (so importing the runtime itself stays cheap), then removes itself."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "logging":
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is cls:
                continue
            fs = getattr(finder, "find_spec", None)
            if fs is None:
                continue
            spec = fs(name, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            try:
                del loader.exec_module  # back to the class's method
            except AttributeError:
                pass
            try:
                sys.meta_path.remove(cls)
            except ValueError:
                pass
            try:
                _install_lambda_logging(module)
            except Exception:
                pass

        loader.exec_module = exec_module
        return spec


def _setup_logging():
    if "logging" in sys.modules:
        _install_lambda_logging(sys.modules["logging"])
    else:
        sys.meta_path.insert(0, _LoggingImportHook)


# --------------------------------------------------------------------------
# stdout / stderr
# --------------------------------------------------------------------------


def _setup_std_streams():
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name, None)
        if stream is None:
            continue
        try:
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass


def _flush_std():
    seen = []
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is None or any(stream is s for s in seen):
            continue
        seen.append(stream)
        try:
            stream.flush()
        except Exception:
            pass


# --------------------------------------------------------------------------
# Handler loading
# --------------------------------------------------------------------------


def _setup_sys_path(task_root):
    runtime_dir = _environ.get("LAMBDA_RUNTIME_DIR") or "/var/runtime"
    here = os.path.dirname(os.path.abspath(__file__))
    versions = ["%d.%d" % sys.version_info[:2]]
    env = _environ.get("AWS_EXECUTION_ENV", "")
    if env.startswith("AWS_Lambda_python"):
        declared = env[len("AWS_Lambda_python"):]
        if declared and declared not in versions:
            versions.insert(0, declared)
    front = [task_root]
    for v in versions:
        front.append("/opt/python/lib/python%s/site-packages" % v)
    front.append("/opt/python")
    rest = [p for p in sys.path if p not in ("", here) and p not in front]
    if runtime_dir not in rest:
        # /var/runtime goes right after user-provided PYTHONPATH entries,
        # before the standard library (as on Lambda)
        stdlib_at = len(rest)
        for i, p in enumerate(rest):
            if p.startswith(sys.base_prefix) or p.startswith(sys.prefix):
                stdlib_at = i
                break
        rest.insert(stdlib_at, runtime_dir)
    sys.path[:] = front + rest


def _get_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME,
            "Bad handler '{}': {}".format(handler, str(e)),
        )
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        m = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {}".format(modname, str(e)),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, str(e)),
            trace,
        )
    try:
        return getattr(m, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
            None,
        )


# --------------------------------------------------------------------------
# Main loop
# --------------------------------------------------------------------------


def handle_event(client, request_handler, hdrs, body):
    global _request_id
    invoke_id = hdrs.get("lambda-runtime-aws-request-id", "")
    _request_id = invoke_id

    trace_id = hdrs.get("lambda-runtime-trace-id")
    if trace_id is not None:
        _environ["_X_AMZN_TRACE_ID"] = trace_id
    elif "_X_AMZN_TRACE_ID" in _environ:
        del _environ["_X_AMZN_TRACE_ID"]

    error_result = None
    try:
        cc = hdrs.get("lambda-runtime-client-context")
        ci = hdrs.get("lambda-runtime-cognito-identity")
        try:
            deadline = int(hdrs.get("lambda-runtime-deadline-ms") or 0)
        except ValueError:
            deadline = 0
        context = LambdaContext(
            invoke_id,
            _parse_json_header(cc, "Client Context") if cc else None,
            _parse_json_header(ci, "Cognito Identity") if ci else None,
            deadline,
            hdrs.get("lambda-runtime-invoked-function-arn"),
            hdrs.get("lambda-runtime-aws-tenant-id"),
        )
        event = unmarshal_request(body, hdrs.get("content-type"))
        response = request_handler(event, context)
        result, content_type = marshal_response(response)
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        error_result = build_fault_result(sys.exc_info(), invoke_id)

    if error_result is not None:
        log_error(error_result)
        _flush_std()
        client.post_error(invoke_id, error_result)
    else:
        _flush_std()
        client.post_result(invoke_id, result, content_type)


def main():
    _setup_std_streams()
    address = _environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        _die("AWS_LAMBDA_RUNTIME_API is not set")
    handler = _environ.get("_HANDLER")
    if len(sys.argv) > 1:
        handler = sys.argv[1]
    task_root = _environ.get("LAMBDA_TASK_ROOT") or "/var/task"
    _setup_sys_path(task_root)
    try:
        if os.getcwd() != task_root:
            os.chdir(task_root)
    except OSError:
        pass

    try:
        client = RuntimeClient(address)
    except RuntimeAPIError as e:
        _die(str(e))

    _setup_logging()

    try:
        if not handler:
            raise FaultException(
                FaultException.MALFORMED_HANDLER_NAME,
                "Bad handler '{}': not enough values to unpack (expected 2, got 1)".format(handler or ""),
            )
        request_handler = _get_handler(handler)
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace)
        _report_init_error(client, error_result, address)
    except BaseException:
        error_result = build_fault_result(sys.exc_info())
        _report_init_error(client, error_result, address)

    while True:
        try:
            hdrs, body = client.next()
        except (OSError, RuntimeAPIError) as e:
            _die("cannot reach the Runtime API at %s: %s" % (address, e))
        try:
            handle_event(client, request_handler, hdrs, body)
        except (OSError, RuntimeAPIError) as e:
            _die("cannot reach the Runtime API at %s: %s" % (address, e))


def _report_init_error(client, error_result, address):
    log_error(error_result)
    _flush_std()
    try:
        client.post_init_error(error_result)
    except (OSError, RuntimeAPIError) as e:
        _die("cannot reach the Runtime API at %s: %s" % (address, e))
    _flush_std()
    os._exit(1)


if __name__ == "__main__":
    main()
