"""Lambda's Java runtimes (java8.al2 ... java25) on nimbus's Java shim.

Handlers are compiled here with the machine's javac against the
aws-lambda-java-core API nimbus ships (runtimes/java), zipped as AWS's
Java deployment packages are (classes at the root, jars in lib/), and
invoked with boto3.  Covers RequestHandler with POJO and Map types,
RequestStreamHandler, plain methods, the Context, logs, warm reuse,
errors in AWS's Java shapes (handler exceptions with causes, a missing
class or method, a failing static initializer, unparsable input), the
class path (lib/ jars, layers' java/lib, a bundled aws-lambda-java-core
and a bundled Jackson) and a machine without java.
"""
import base64
import io
import json
import os
import shutil
import subprocess
import zipfile

import pytest

from conftest import ROOT

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
API_SRC = os.path.join(ROOT, "runtimes", "java")

pytestmark = pytest.mark.skipif(not shutil.which("javac"), reason="no javac on this machine")

SOURCES = {
    "example/Pojo.java": r'''
package example;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import com.amazonaws.services.lambda.runtime.RequestHandler;
public class Pojo implements RequestHandler<Pojo.Order, Pojo.Receipt> {
    public static class Order {
        public String item;
        private int quantity;
        public int getQuantity() { return quantity; }
        public void setQuantity(int q) { quantity = q; }
    }
    public static class Receipt {
        public String item, requestId, functionName, functionVersion, arn, group, stream, note;
        public int total, memory, remaining;
        public String trace;
    }
    public Receipt handleRequest(Order o, Context ctx) {
        LambdaLogger log = ctx.getLogger();
        log.log("logger: ordered " + o.item);
        LambdaRuntime.getLogger().log("runtime logger line");
        log.log("leveled line", com.amazonaws.services.lambda.runtime.logging.LogLevel.WARN);
        System.out.println("stdout: qty " + o.getQuantity());
        System.err.println("stderr: done");
        Receipt r = new Receipt();
        r.item = o.item;
        r.total = o.getQuantity() * 3;
        r.requestId = ctx.getAwsRequestId();
        r.functionName = ctx.getFunctionName();
        r.functionVersion = ctx.getFunctionVersion();
        r.arn = ctx.getInvokedFunctionArn();
        r.group = ctx.getLogGroupName();
        r.stream = ctx.getLogStreamName();
        r.memory = ctx.getMemoryLimitInMB();
        r.remaining = ctx.getRemainingTimeInMillis();
        r.trace = System.getProperty("com.amazonaws.xray.traceHeader");
        return r;
    }
}
''',
    "example/Counter.java": r'''
package example;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.*;
public class Counter implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    static int inits;
    static { inits++; }
    private int calls;
    public Map<String, Object> handleRequest(Map<String, Object> in, Context ctx) {
        calls++;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("in", in);
        m.put("calls", calls);
        m.put("inits", inits);
        m.put("pid", ProcessHandle.current().pid());
        m.put("nothing", null);
        m.put("heap", Runtime.getRuntime().maxMemory());
        m.put("client", ctx.getClientContext() == null ? null : ctx.getClientContext().getCustom());
        m.put("app", ctx.getClientContext() == null ? null : ctx.getClientContext().getClient().getAppTitle());
        m.put("loader", Thread.currentThread().getContextClassLoader() == Counter.class.getClassLoader());
        return m;
    }
}
''',
    "example/Streams.java": r'''
package example;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.*;
import java.nio.charset.StandardCharsets;
public class Streams implements RequestStreamHandler {
    public void handleRequest(InputStream in, OutputStream out, Context ctx) throws IOException {
        byte[] b = in.readAllBytes();
        String s = new String(b, StandardCharsets.UTF_8).toUpperCase();
        out.write(("{\"upper\":" + s + ",\"id\":\"" + ctx.getAwsRequestId() + "\"}").getBytes(StandardCharsets.UTF_8));
    }
}
''',
    "example/Plain.java": r'''
package example;
import com.amazonaws.services.lambda.runtime.Context;
import java.io.*;
import java.util.List;
public class Plain {
    public String greet(String name) { return "hello " + name; }
    public static Integer sum(List<Integer> xs, Context ctx) {
        int t = 0;
        for (int x : xs) t += x;
        return t;
    }
    public void nothing(Object in) { }
    public static void copy(InputStream in, OutputStream out) throws IOException { in.transferTo(out); }
    public static String nap(String ms) throws InterruptedException { Thread.sleep(Long.parseLong(ms)); return "woke"; }
    public String twice(String s) { return s + s; }
    public String twice(String s, Context ctx) { return s + s + "!" + ctx.getFunctionName(); }
}
''',
    "example/Boom.java": r'''
package example;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
public class Boom implements RequestHandler<String, String> {
    public String handleRequest(String in, Context ctx) {
        System.out.println("about to fail on " + in);
        try {
            Integer.parseInt(in);
        } catch (NumberFormatException e) {
            throw new IllegalStateException("cannot count " + in, e);
        }
        return in;
    }
}
''',
    "example/BadInit.java": r'''
package example;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
public class BadInit implements RequestHandler<Object, String> {
    static final String CONFIG;
    static {
        System.out.println("initializing");
        if (System.getenv("AWS_LAMBDA_FUNCTION_NAME") != null) throw new RuntimeException("static boom");
        CONFIG = "unreachable";
    }
    public String handleRequest(Object in, Context ctx) { return CONFIG; }
}
''',
    "example/NotAHandler.java": r'''
package example;
public class NotAHandler { public String hello() { return "hi"; } }
''',
    "example/Raw.java": r'''
package example;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
@SuppressWarnings("rawtypes")
public class Raw implements RequestHandler {
    public Object handleRequest(Object in, Context ctx) { return in; }
}
''',
    "example/Deps.java": r'''
package example;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.*;
public class Deps implements RequestHandler<Map<String, String>, Map<String, Object>> {
    public Map<String, Object> handleRequest(Map<String, String> in, Context ctx) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("lib", dep.Lib.hello());
        m.put("layer", System.getenv("WITH_LAYER") == null ? null : layered.Helper.name());
        try {
            Class<?> om = Class.forName("com.fasterxml.jackson.databind.ObjectMapper");
            m.put("jackson", (String) om.getMethod("whose").invoke(null));
        } catch (ReflectiveOperationException e) {
            m.put("jackson", e.toString());
        }
        return m;
    }
}
''',
}

LIB_SOURCES = {
    "dep/Lib.java": "package dep; public class Lib { public static String hello() { return \"from lib\"; } }",
    # A user's own (here: fake) Jackson: the function must get this one.
    "com/fasterxml/jackson/databind/ObjectMapper.java":
        "package com.fasterxml.jackson.databind; public class ObjectMapper "
        "{ public static String whose() { return \"the user's\"; } }",
}

LAYER_SOURCES = {
    "layered/Helper.java": "package layered; public class Helper { public static String name() { return \"from layer\"; } }",
}


def _javac(srcs, out, tmp, cp=None, sourcepath=API_SRC):
    os.makedirs(out, exist_ok=True)
    files = []
    for rel, text in srcs.items():
        p = os.path.join(tmp, "src", rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        files.append(p)
    args = ["javac", "-nowarn", "-d", out, "-implicit:none", "-sourcepath", sourcepath]
    if cp:
        args += ["-cp", cp]
    subprocess.run(args + files, check=True, capture_output=True)


def _tree_zip(root, prefix=""):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for d, _, names in os.walk(root):
            for n in sorted(names):
                p = os.path.join(d, n)
                z.write(p, prefix + os.path.relpath(p, root))
    return buf.getvalue()


@pytest.fixture(scope="module")
def java_code(tmp_path_factory):
    """The deployment packages: one zip with every handler (classes at the
    root) and lib/ jars, and a layer zip with java/lib/helper.jar."""
    tmp = str(tmp_path_factory.mktemp("java"))
    lib_classes = os.path.join(tmp, "lib-classes")
    _javac(LIB_SOURCES, lib_classes, os.path.join(tmp, "lib"))
    layer_classes = os.path.join(tmp, "layer-classes")
    _javac(LAYER_SOURCES, layer_classes, os.path.join(tmp, "layer"))
    # A copy of aws-lambda-java-core bundled in the user's jar, as shaded
    # jars do: the runtime's own must win.
    core_classes = os.path.join(tmp, "core-classes")
    core = [os.path.relpath(os.path.join(d, n), API_SRC)
            for d, _, ns in os.walk(os.path.join(API_SRC, "com")) for n in ns]
    subprocess.run(["javac", "-nowarn", "-d", core_classes] +
                   [os.path.join(API_SRC, c) for c in core], check=True, capture_output=True)
    classes = os.path.join(tmp, "classes")
    _javac(SOURCES, classes, tmp, cp=lib_classes + ":" + layer_classes)
    pkg = os.path.join(tmp, "pkg")
    shutil.copytree(classes, pkg)
    os.makedirs(os.path.join(pkg, "lib"))
    with open(os.path.join(pkg, "lib", "dep.jar"), "wb") as f:
        f.write(_tree_zip(lib_classes))
    with open(os.path.join(pkg, "lib", "aws-lambda-java-core.jar"), "wb") as f:
        f.write(_tree_zip(core_classes))
    layer_jar = os.path.join(tmp, "layer-pkg", "java", "lib")
    os.makedirs(layer_jar)
    with open(os.path.join(layer_jar, "helper.jar"), "wb") as f:
        f.write(_tree_zip(layer_classes))
    return {"zip": _tree_zip(pkg), "layer": _tree_zip(os.path.join(tmp, "layer-pkg"))}


def make_fn(lam, code, name, handler, runtime="java21", **kw):
    kw.setdefault("MemorySize", 512)
    kw.setdefault("Timeout", 30)  # a JVM's cold start on a loaded machine can pass AWS's 3 s default
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                        Code={"ZipFile": code["zip"]}, **kw)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)


def invoke(lam, name, payload, **kw):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), LogType="Tail", **kw)
    body = r["Payload"].read()
    return r, json.loads(body) if body else None, base64.b64decode(r["LogResult"]).decode()


def test_java_pojo_handler_context_and_logs(lam, logs, java_code):
    make_fn(lam, java_code, "jpojo", "example.Pojo", runtime="java17", Timeout=9)
    r, out, tail = invoke(lam, "jpojo", {"item": "tea", "quantity": 4, "ignored": True})
    assert r["StatusCode"] == 200 and "FunctionError" not in r, out
    assert out["item"] == "tea" and out["total"] == 12
    assert len(out["requestId"]) == 36
    assert out["functionName"] == "jpojo" and out["functionVersion"] == "$LATEST"
    assert out["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:jpojo"
    assert out["group"] == "/aws/lambda/jpojo" and "[$LATEST]" in out["stream"]
    assert out["memory"] == 512
    assert 0 < out["remaining"] <= 9000
    assert out["trace"].startswith("Root=1-")
    assert "note" not in out  # nulls are left out, as AWS's serializer does
    lines = tail.splitlines()
    for want in ("logger: ordered tea", "runtime logger line", "[WARN] leveled line", "stdout: qty 4",
                 "stderr: done"):
        assert want in lines, tail
    assert lines.index("logger: ordered tea") < lines.index("stdout: qty 4")
    events = logs.get_log_events(logGroupName="/aws/lambda/jpojo", logStreamName=out["stream"])["events"]
    assert "logger: ordered tea" in [e["message"].rstrip("\n") for e in events]


def test_java_map_handler_warm_reuse_heap_and_client_context(lam, java_code):
    make_fn(lam, java_code, "jcount", "example.Counter", runtime="java11", MemorySize=256)
    ctx = base64.b64encode(json.dumps({"client": {"app_title": "shop"},
                                       "custom": {"k": "v"}, "env": {}}).encode()).decode()
    r, a, _ = invoke(lam, "jcount", {"n": [1, 2]}, ClientContext=ctx)
    assert "FunctionError" not in r, a
    r, b, tail = invoke(lam, "jcount", {"n": 3})
    assert a["in"] == {"n": [1, 2]} and b["in"] == {"n": 3}
    assert (a["calls"], b["calls"]) == (1, 2)  # one instance, constructed once
    assert a["inits"] == b["inits"] == 1       # static initializers ran once
    assert a["pid"] == b["pid"]
    assert "Init Duration" not in tail          # the second invoke was warm
    assert "nothing" not in a  # nulls are left out of maps too (Include.NON_NULL, as on AWS)
    assert a["client"] == {"k": "v"} and a["app"] == "shop"
    assert "client" not in b
    assert a["loader"] is True
    # The heap is sized from MemorySize, as AWS does (85%).
    assert 0.7 * 256 * 2**20 < a["heap"] <= 256 * 2**20


def test_java_stream_handler_and_plain_methods(lam, java_code):
    make_fn(lam, java_code, "jstream", "example.Streams")
    r, out, _ = invoke(lam, "jstream", {"word": "abc"})
    assert out["upper"] == {"WORD": "ABC"} and len(out["id"]) == 36
    cases = [("example.Plain::greet", "ada", "hello ada"),
             ("example.Plain::sum", [1, 2, 39], 42),
             ("example.Plain::nothing", {"x": 1}, None),
             ("example.Plain::copy", {"same": [1]}, {"same": [1]}),
             ("example.Plain::twice", "ab", "abab!jplain")]  # the Context overload wins
    make_fn(lam, java_code, "jplain", cases[0][0], runtime="java8.al2")
    for handler, event, want in cases:
        lam.update_function_configuration(FunctionName="jplain", Handler=handler)
        lam.get_waiter("function_updated_v2").wait(FunctionName="jplain")
        r, out, _ = invoke(lam, "jplain", event)
        assert "FunctionError" not in r, (handler, out)
        assert out == want, handler


def test_java_exception_is_an_unhandled_error_with_its_cause(lam, java_code):
    make_fn(lam, java_code, "jboom", "example.Boom")
    r, out, tail = invoke(lam, "jboom", "twelve")
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "java.lang.IllegalStateException"
    assert out["errorMessage"] == "cannot count twelve"
    assert isinstance(out["stackTrace"], list)
    assert out["stackTrace"][0].startswith("example.Boom.handleRequest(Boom.java:")
    assert not any("nimbus" in f for f in out["stackTrace"])  # the runtime's frames are cut
    assert out["cause"]["errorType"] == "java.lang.NumberFormatException"
    assert out["cause"]["errorMessage"] == 'For input string: "twelve"'
    assert any(f.startswith("example.Boom.handleRequest") for f in out["cause"]["stackTrace"])
    assert "about to fail on twelve" in tail
    assert "cannot count twelve: java.lang.IllegalStateException" in tail
    assert "Caused by: java.lang.NumberFormatException" in tail
    # The instance survives a handled exception.
    r, out, _ = invoke(lam, "jboom", "12")
    assert "FunctionError" not in r and out == "12"


def test_java_input_that_does_not_fit_the_type(lam, java_code):
    make_fn(lam, java_code, "jparse", "example.Boom")
    r, out, _ = invoke(lam, "jparse", {"not": "a string"})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "java.lang.RuntimeException"
    assert out["errorMessage"] == "An error occurred during JSON parsing"
    assert out["stackTrace"] == []
    assert "MismatchedInputException" in out["cause"]["errorType"]


def test_java_class_not_found(lam, java_code):
    make_fn(lam, java_code, "jmissing", "example.Nope::handleRequest")
    for _ in range(2):  # reported at each invoke, as AWS does, not as an init error
        r, out, tail = invoke(lam, "jmissing", {})
        assert r["FunctionError"] == "Unhandled"
        assert out == {"errorMessage": "Class not found: example.Nope",
                       "errorType": "java.lang.ClassNotFoundException"}
        assert "Class not found: example.Nope: java.lang.ClassNotFoundException" in tail


def test_java_handler_shapes_that_are_not_handlers(lam, java_code):
    make_fn(lam, java_code, "jshape", "example.NotAHandler")
    want = {
        "example.NotAHandler": "Class does not implement an appropriate handler interface: "
                               "example.NotAHandler",
        "example.NotAHandler::nope": "No public method named nope with appropriate method "
                                     "signature found on class class example.NotAHandler",
        "example.Raw": "Class example.Raw does not implement RequestHandler with concrete type "
                       "parameters",
        "example.Pojo::": "Invalid handler: `example.Pojo::'",
    }
    for handler, msg in want.items():
        if handler != "example.NotAHandler":
            lam.update_function_configuration(FunctionName="jshape", Handler=handler)
            lam.get_waiter("function_updated_v2").wait(FunctionName="jshape")
        r, out, _ = invoke(lam, "jshape", {})
        assert r["FunctionError"] == "Unhandled", handler
        assert out == {"errorMessage": msg}, handler


def test_java_static_initializer_failure_is_an_init_error(lam, java_code):
    make_fn(lam, java_code, "jinit", "example.BadInit")
    r, out, tail = invoke(lam, "jinit", {})
    assert r["FunctionError"] == "Unhandled"
    assert out == {"errorMessage": "Error loading class example.BadInit",
                   "errorType": "java.lang.ExceptionInInitializerError"}
    assert "initializing" in tail
    assert "Caused by: java.lang.RuntimeException: static boom" in tail
    assert "Status: error" in tail and "Runtime.BadFunctionCode" in tail
    # The next invoke starts a new instance, which fails the same way.
    r, out, _ = invoke(lam, "jinit", {})
    assert out["errorType"] == "java.lang.ExceptionInInitializerError"


def test_java_class_path_lib_jars_layers_and_bundled_libraries(lam, java_code):
    layer = lam.publish_layer_version(LayerName="jhelper", Content={"ZipFile": java_code["layer"]},
                                      CompatibleRuntimes=["java21"])
    make_fn(lam, java_code, "jdeps", "example.Deps", Layers=[layer["LayerVersionArn"]],
            Environment={"Variables": {"WITH_LAYER": "1"}})
    r, out, _ = invoke(lam, "jdeps", {})
    assert "FunctionError" not in r, out
    # lib/dep.jar and the layer's java/lib/helper.jar are on the class path;
    # the bundled aws-lambda-java-core does not replace the runtime's (the
    # handler loads at all), and the user's Jackson is the user's own.
    assert out == {"lib": "from lib", "layer": "from layer", "jackson": "the user's"}


def test_java_default_memory_runs(lam, java_code):
    make_fn(lam, java_code, "jsmall", "example.Plain::greet", runtime="java25", MemorySize=128)
    r, out, tail = invoke(lam, "jsmall", "small")
    assert "FunctionError" not in r, (out, tail)
    assert out == "hello small"


def _invoke_error(nimbus_fresh, java_code):
    """The InvalidRuntimeException message of a java function's Invoke."""
    n = nimbus_fresh()
    lam = n.client("lambda")
    make_fn(lam, java_code, "nojava", "example.Pojo")
    with pytest.raises(lam.exceptions.InvalidRuntimeException) as e:
        lam.invoke(FunctionName="nojava", Payload=b"{}")
    return str(e.value)


def test_java_without_a_jvm_is_an_invalid_runtime(nimbus_fresh, monkeypatch, java_code):
    monkeypatch.setenv("NIMBUS_LAMBDA_JAVA", "/nonexistent/bin/java")
    assert ("NIMBUS_LAMBDA_JAVA (/nonexistent/bin/java) is not an executable java"
            in _invoke_error(nimbus_fresh, java_code))


def test_java_without_java_on_path_is_an_invalid_runtime(nimbus_fresh, monkeypatch, java_code):
    monkeypatch.delenv("NIMBUS_LAMBDA_JAVA", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert ("nimbus cannot run the java21 runtime: no java was found on PATH"
            in _invoke_error(nimbus_fresh, java_code))


def _builds(data_dir):
    root = os.path.join(data_dir, "lambda", "runtime", "java", "build")
    return {n: os.stat(os.path.join(root, n)).st_ino for n in os.listdir(root)}


def test_java_runtime_is_built_once_and_reused_after_a_restart(nimbus_fresh, java_code):
    n = nimbus_fresh(durable=True)
    lam = n.client("lambda")
    make_fn(lam, java_code, "jonce", "example.Plain::greet")
    make_fn(lam, java_code, "jtwice", "example.Plain::twice")
    assert invoke(lam, "jonce", "a")[1] == "hello a"
    first = _builds(n.data_dir)
    assert len(first) == 1 and not any(k.endswith(".tmp") for k in first)
    build = os.path.join(n.data_dir, "lambda", "runtime", "java", "build", next(iter(first)))
    assert os.path.exists(os.path.join(build, "shim.jsa"))  # the class data sharing archive
    assert invoke(lam, "jtwice", "b")[1] == "bb!jtwice"  # another cold start: no new build
    n.restart()
    lam = n.client("lambda")
    assert invoke(lam, "jonce", "c")[1] == "hello c"
    assert _builds(n.data_dir) == first  # the same directory, not rebuilt


def test_java_build_runs_beside_the_event_loop_while_the_function_is_pending(nimbus_fresh,
                                                                             java_code):
    import time
    n = nimbus_fresh()  # a fresh Lambda root: the Java runtime is not built yet
    lam = n.client("lambda")
    lam.create_function(FunctionName="jpend", Runtime="java21", Role=ROLE,
                        Handler="example.Plain::greet", Code={"ZipFile": java_code["zip"]},
                        MemorySize=512, Timeout=30)
    cfg = lam.get_function_configuration(FunctionName="jpend")
    assert cfg["State"] == "Pending" and cfg["StateReasonCode"] == "Creating"
    assert cfg["LastUpdateStatus"] == "InProgress"
    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        lam.invoke(FunctionName="jpend", Payload=b'"x"')
    assert "currently in the following state: Pending" in str(e.value)
    # The build (javac, the class data sharing archive) does not hold up other requests.
    t0 = time.monotonic()
    lam.list_functions()
    n.client("sqs").list_queues()
    assert time.monotonic() - t0 < 0.5
    lam.get_waiter("function_active_v2").wait(FunctionName="jpend")
    assert lam.get_function(FunctionName="jpend")["Configuration"]["State"] == "Active"
    assert invoke(lam, "jpend", "x")[1] == "hello x"


def test_java_concurrent_first_invokes(nimbus_fresh, java_code):
    import concurrent.futures
    n = nimbus_fresh()
    lam = n.client("lambda")
    for i in range(3):
        make_fn(lam, java_code, "jpar%d" % i, "example.Plain::greet")
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        outs = list(ex.map(lambda i: invoke(n.client("lambda"), "jpar%d" % i, str(i))[1], range(3)))
    assert outs == ["hello 0", "hello 1", "hello 2"]


def test_java_home_is_honoured(nimbus_fresh, monkeypatch, tmp_path, java_code):
    real = os.path.realpath(shutil.which("java"))
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    marker = tmp_path / "used"
    wrapper = home / "bin" / "java"
    wrapper.write_text("#!/bin/sh\ntouch '%s'\nexec '%s' \"$@\"\n" % (marker, real))
    wrapper.chmod(0o755)
    os.symlink(os.path.join(os.path.dirname(real), "javac"), home / "bin" / "javac")
    monkeypatch.delenv("NIMBUS_LAMBDA_JAVA", raising=False)
    monkeypatch.setenv("JAVA_HOME", str(home))
    monkeypatch.setenv("NIMBUS_LAMBDA_SANDBOX", "0")  # the fake JDK is under /tmp
    n = nimbus_fresh()
    lam = n.client("lambda")
    make_fn(lam, java_code, "jhome", "example.Plain::greet")
    assert invoke(lam, "jhome", "home")[1] == "hello home"
    assert marker.exists()


def test_java_bad_payloads_do_not_hurt_the_instance(lam, java_code):
    make_fn(lam, java_code, "jbad", "example.Plain::sum")
    for payload in (b"[1, 2", b"\xff\xfe", b"{\"a\": " * 40):
        with pytest.raises(lam.exceptions.InvalidRequestContentException):
            lam.invoke(FunctionName="jbad", Payload=payload)
    r, out, _ = invoke(lam, "jbad", ["x"])
    assert r["FunctionError"] == "Unhandled" and out["errorMessage"] == "An error occurred during JSON parsing"
    r, out, _ = invoke(lam, "jbad", [1, 2])
    assert "FunctionError" not in r and out == 3


def test_java_from_nimbus_lambda_java_with_another_jdks_javac(nimbus_fresh, monkeypatch, tmp_path,
                                                              java_code):
    # A java with no javac beside it (a JRE): javac from PATH builds the shim
    # for Java 8 (class file version 52), which any JVM runs.
    real = os.path.realpath(shutil.which("java"))
    jre = tmp_path / "jre" / "bin"
    jre.mkdir(parents=True)
    (jre / "java").write_text("#!/bin/sh\nexec '%s' \"$@\"\n" % real)
    (jre / "java").chmod(0o755)
    monkeypatch.setenv("NIMBUS_LAMBDA_JAVA", str(jre / "java"))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("NIMBUS_LAMBDA_SANDBOX", "0")  # the fake JRE is under /tmp
    n = nimbus_fresh(durable=True)
    lam = n.client("lambda")
    make_fn(lam, java_code, "jjre", "example.Plain::greet")
    assert invoke(lam, "jjre", "jre")[1] == "hello jre"
    (build,) = _builds(n.data_dir)
    cls = os.path.join(n.data_dir, "lambda", "runtime", "java", "build", build, "classes",
                       "nimbus", "lambda", "Bootstrap.class")
    with open(cls, "rb") as f:
        assert int.from_bytes(f.read(8)[6:8], "big") == 52


def test_java_timeout_kills_the_jvm_and_the_next_invoke_starts_afresh(lam, java_code):
    make_fn(lam, java_code, "jnap", "example.Plain::nap", Timeout=3)
    # (string events: nimbus's payload check refuses a bare number at the end of the body)
    r, out, _ = invoke(lam, "jnap", "10")
    assert out == "woke"
    r, out, tail = invoke(lam, "jnap", "8000")
    assert r["FunctionError"] == "Unhandled" and out["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 3.00 seconds" in out["errorMessage"]
    r, out, tail = invoke(lam, "jnap", "1")
    assert "FunctionError" not in r and out == "woke"
    assert "Init Duration" in tail  # a new JVM
