"""nimbus's Lambda runtime for Python functions.

Runs the Lambda Runtime API loop (next -> handler -> response/error) against
AWS_LAMBDA_RUNTIME_API, loads the handler named by _HANDLER from
LAMBDA_TASK_ROOT, and reports errors in the shapes AWS's Python runtime
uses (Runtime.ImportModuleError, Runtime.HandlerNotFound, ...).  The HTTP
client is a minimal keep-alive one on a raw socket: nimbus always sends
Content-Length, and the loop's cost is most of a warm invoke's.
"""
import _socket
import json
import os
import sys
import time

# decimal, traceback and logging are imported when first needed: a cold
# start pays only for what the function uses.

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"


class RuntimeClient:
    """A keep-alive HTTP/1.1 client for the Runtime API.  After an
    invocation, its result and the request for the next one go out in one
    write (pipelined): one wake-up of nimbus per invocation instead of two."""

    def __init__(self):
        host, port = API.rsplit(":", 1)
        self.sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        self.sock.connect((host, int(port)))
        self.sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        self.buf = b""
        self.host = API.encode()

    def _req(self, method, path, body=b"", headers=None):
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n" % (
            method, path.encode(), self.host, len(body))
        if headers:
            for k, v in headers.items():
                head += ("%s: %s\r\n" % (k, v)).encode("latin-1")
        return head + b"\r\n" + body

    def request(self, method, path, body=b"", headers=None):
        self.sock.sendall(self._req(method, path, body, headers))
        return self._response()

    def post_then_next(self, path, body, headers=None):
        """POST a result and GET the next invocation in one write."""
        self.sock.sendall(self._req(b"POST", path, body, headers) +
                          self._req(b"GET", BASE + "/invocation/next"))
        self._response()
        return self._response()

    def _recv(self):
        data = self.sock.recv(1 << 16)
        if not data:
            sys.exit(0)  # nimbus went away: so does the instance
        self.buf += data

    def _response(self):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            self._recv()
        lines = self.buf[:end].split(b"\r\n")
        rest = self.buf[end + 4:]
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
        n = int(headers.get("content-length", "0"))
        self.buf = rest
        while len(self.buf) < n:
            self._recv()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body


def _default(o):
    import decimal
    if isinstance(o, decimal.Decimal):
        return int(o) if o == o.to_integral_value() else float(o)
    raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)


def to_json(obj):
    return json.dumps(obj, default=_default)


def error_body(msg, etype, stack, request_id=""):
    return to_json({"errorMessage": msg, "errorType": etype,
                    "requestId": request_id, "stackTrace": stack}).encode()


def user_stack(tb):
    """The traceback frames from the user's code, as AWS lists them."""
    import traceback
    frames = traceback.extract_tb(tb)
    mine = os.path.abspath(__file__)
    return [line for f, line in zip(frames, traceback.format_list(frames))
            if os.path.abspath(f.filename) != mine]


class Context:
    # What does not change between invocations is read from the
    # environment once (os.environ lookups encode and decode each time).
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
    memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
    log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")

    def __init__(self, headers):
        self.aws_request_id = headers.get("lambda-runtime-aws-request-id")
        self.invoked_function_arn = headers.get("lambda-runtime-invoked-function-arn")
        self.tenant_id = headers.get("lambda-runtime-aws-tenant-id")
        self._deadline = int(headers.get("lambda-runtime-deadline-ms", "0"))
        self.identity = None
        self.client_context = None
        cc = headers.get("lambda-runtime-client-context")
        if cc:
            try:
                self.client_context = ClientContext(json.loads(cc))
            except ValueError:
                pass
        ci = headers.get("lambda-runtime-cognito-identity")
        if ci:
            try:
                self.identity = CognitoIdentity(json.loads(ci))
            except ValueError:
                pass

    def get_remaining_time_in_millis(self):
        return max(self._deadline - int(time.time() * 1000), 0)

    def __repr__(self):
        return ("LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,"
                "function_name=%s,memory_limit_in_mb=%s,function_version=%s,"
                "invoked_function_arn=%s])" % (
                    self.aws_request_id, self.log_group_name, self.log_stream_name,
                    self.function_name, self.memory_limit_in_mb, self.function_version,
                    self.invoked_function_arn))


class ClientContext:
    def __init__(self, d):
        self.client = d.get("client")
        self.custom = d.get("custom")
        self.env = d.get("env")


class CognitoIdentity:
    def __init__(self, d):
        self.cognito_identity_id = d.get("cognitoIdentityId")
        self.cognito_identity_pool_id = d.get("cognitoIdentityPoolId")


current_request_id = [""]
logging_ready = [False]


def setup_logging():
    """AWS's root handler and format, once the function has imported logging."""
    import logging

    class RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = current_request_id[0]
            return True

    logging_ready[0] = True
    handler = logging.StreamHandler(sys.stdout)
    fmt = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t"
                            "%(message)s\n", "%Y-%m-%dT%H:%M:%S")
    fmt.converter = time.gmtime
    handler.setFormatter(fmt)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


def load_handler(name):
    """The handler function, or raise (errorType, message)."""
    try:
        modname, fname = name.rsplit(".", 1)
    except ValueError as e:
        raise LoadError("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (name, e))
    modname = modname.replace("/", ".")
    if modname.startswith("__"):
        raise LoadError("Runtime.BadFunctionCode",
                        "Cannot use built-in module %s as a handler module" % modname)
    try:
        mod = __import__(modname)
        for part in modname.split(".")[1:]:
            mod = getattr(mod, part)
    except ImportError as e:
        raise LoadError("Runtime.ImportModuleError",
                        "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        raise LoadError("Runtime.UserCodeSyntaxError",
                        "Syntax error in module '%s': %s" % (modname, e))
    except Exception as e:
        raise LoadError(type(e).__name__, str(e), user_stack(e.__traceback__))
    fn = getattr(mod, fname, None)
    if fn is None:
        raise LoadError("Runtime.HandlerNotFound",
                        "Handler '%s' missing on module '%s'" % (fname, modname))
    return fn


class LoadError(Exception):
    def __init__(self, etype, msg, stack=None):
        super().__init__(msg)
        self.etype, self.msg, self.stack = etype, msg, stack or []


def log_error(etype, msg, stack):
    text = "[ERROR] %s: %s" % (etype, msg)
    if stack:
        text += "\nTraceback (most recent call last):\n" + "".join(stack)
    print(text.rstrip("\n"), file=sys.stdout, flush=True)


def main():
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path.insert(0, task_root)
    client = RuntimeClient()
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except LoadError as e:
        log_error(e.etype, e.msg, e.stack)
        client.request(b"POST", BASE + "/init/error", error_body(e.msg, e.etype, e.stack),
                       {"Lambda-Runtime-Function-Error-Type": e.etype})
        sys.exit(1)
    status, headers, body = client.request(b"GET", BASE + "/invocation/next")
    while True:
        if status != 200:
            sys.exit(1)
        if not logging_ready[0] and "logging" in sys.modules:
            setup_logging()
        rid = headers.get("lambda-runtime-aws-request-id", "")
        current_request_id[0] = rid
        trace = headers.get("lambda-runtime-trace-id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        path = BASE + "/invocation/" + rid
        try:
            event = json.loads(body) if body else {}
            result = handler(event, Context(headers))
            try:
                out = to_json(result).encode()
            except (TypeError, ValueError) as e:
                raise LoadError("Runtime.MarshalError", "Unable to marshal response: %s" % e)
        except LoadError as e:
            log_error(e.etype, e.msg, e.stack)
            status, headers, body = client.post_then_next(
                path + "/error", error_body(e.msg, e.etype, e.stack, rid),
                {"Lambda-Runtime-Function-Error-Type": e.etype})
            continue
        except Exception as e:
            etype = type(e).__name__
            stack = user_stack(e.__traceback__)
            log_error(etype, str(e), stack)
            status, headers, body = client.post_then_next(
                path + "/error", error_body(str(e), etype, stack, rid),
                {"Lambda-Runtime-Function-Error-Type": etype})
            continue
        sys.stdout.flush()
        status, headers, body = client.post_then_next(path + "/response", out)


if __name__ == "__main__":
    main()
