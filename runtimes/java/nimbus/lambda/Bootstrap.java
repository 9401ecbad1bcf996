/*
 * nimbus's Lambda runtime for Java functions.
 *
 * Runs the Lambda Runtime API loop (next -> handler -> response/error)
 * against AWS_LAMBDA_RUNTIME_API with the JDK's HttpURLConnection, loads
 * the handler named by _HANDLER ("package.Class::method" or
 * "package.Class") from LAMBDA_TASK_ROOT in a class loader of its own
 * (UserLoader), and reports errors in the shapes AWS's Java runtime uses:
 * a thrown exception is {errorMessage, errorType: its class name,
 * stackTrace: ["Class.method(File.java:N)", ...], cause: {...}}; a class
 * that cannot be found fails each invocation with "Class not found: X"
 * (java.lang.ClassNotFoundException); a static initializer or constructor
 * that throws fails init ("Error loading class X", posted to /init/error).
 *
 * nimbus compiles these sources with the machine's javac at first use and
 * runs them with Jackson (Debian's libjackson2-databind-java) on the class
 * path; user code never sees either (see UserLoader).
 */
package nimbus.lambda;

import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import java.io.ByteArrayOutputStream;
import java.io.IOError;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.URL;
import java.nio.charset.StandardCharsets;

public final class Bootstrap {
    static final String TRACE_PROPERTY = "com.amazonaws.xray.traceHeader";

    private Bootstrap() {
    }

    /** One invocation as GET /invocation/next returned it. */
    static final class Invocation {
        String id, arn, trace, clientContext, cognito, tenant;
        long deadlineMs;
        byte[] body;
    }

    /** The Runtime API client: keep-alive HttpURLConnections, no proxy. */
    static final class RuntimeApi {
        private final String base;

        RuntimeApi(String hostPort) {
            base = "http://" + hostPort + "/2018-06-01/runtime/";
        }

        private HttpURLConnection open(String path, String method) throws IOException {
            HttpURLConnection c = (HttpURLConnection) new URL(base + path).openConnection(Proxy.NO_PROXY);
            c.setRequestMethod(method);
            c.setReadTimeout(0); /* GET next is parked until an invocation comes */
            c.setUseCaches(false);
            return c;
        }

        private static byte[] readAll(InputStream in) throws IOException {
            if (in == null)
                return new byte[0];
            try (InputStream s = in) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                byte[] b = new byte[16384];
                for (int n; (n = s.read(b)) > 0;)
                    out.write(b, 0, n);
                return out.toByteArray();
            }
        }

        Invocation next() throws IOException {
            HttpURLConnection c = open("invocation/next", "GET");
            int status = c.getResponseCode();
            byte[] body = readAll(status < 400 ? c.getInputStream() : c.getErrorStream());
            if (status != 200)
                throw new IOException("GET /invocation/next returned " + status);
            Invocation inv = new Invocation();
            inv.id = c.getHeaderField("Lambda-Runtime-Aws-Request-Id");
            inv.arn = c.getHeaderField("Lambda-Runtime-Invoked-Function-Arn");
            inv.trace = c.getHeaderField("Lambda-Runtime-Trace-Id");
            inv.clientContext = c.getHeaderField("Lambda-Runtime-Client-Context");
            inv.cognito = c.getHeaderField("Lambda-Runtime-Cognito-Identity");
            inv.tenant = c.getHeaderField("Lambda-Runtime-Aws-Tenant-Id");
            try {
                inv.deadlineMs = Long.parseLong(c.getHeaderField("Lambda-Runtime-Deadline-Ms"));
            } catch (NumberFormatException e) {
                inv.deadlineMs = 0;
            }
            inv.body = body;
            if (inv.id == null)
                throw new IOException("GET /invocation/next returned no request id");
            return inv;
        }

        void post(String path, byte[] body, String errorType) throws IOException {
            HttpURLConnection c = open(path, "POST");
            c.setDoOutput(true);
            /* Not in streaming mode: for a streaming POST the JDK first probes
             * a reused connection with a 1 ms read, a millisecond per invoke;
             * buffered, headers and body also go out in one write. */
            c.setRequestProperty("Content-Type", "application/json");
            if (errorType != null)
                c.setRequestProperty("Lambda-Runtime-Function-Error-Type", errorType);
            try (OutputStream o = c.getOutputStream()) {
                o.write(body);
            }
            int status = c.getResponseCode();
            readAll(status < 400 ? c.getInputStream() : c.getErrorStream());
        }
    }

    /** LambdaLogger as AWS's text format writes it: one message per call,
     *  "[LEVEL] " before it when a level is given. */
    static final class Logger implements LambdaLogger {
        private final com.amazonaws.services.lambda.runtime.logging.LogLevel min =
                com.amazonaws.services.lambda.runtime.logging.LogLevel.fromString(
                        System.getenv("AWS_LAMBDA_LOG_LEVEL"));

        private static synchronized void write(byte[] b) {
            System.out.flush();
            System.out.write(b, 0, b.length);
            if (b.length == 0 || b[b.length - 1] != '\n')
                System.out.write('\n');
            System.out.flush();
        }

        public void log(String message) {
            write(String.valueOf(message).getBytes(StandardCharsets.UTF_8));
        }

        public void log(byte[] message) {
            write(message == null ? new byte[0] : message);
        }

        public void log(String message, com.amazonaws.services.lambda.runtime.logging.LogLevel level) {
            if (level == null || level == com.amazonaws.services.lambda.runtime.logging.LogLevel.UNDEFINED) {
                log(message);
                return;
            }
            if (min.ordinal() > level.ordinal())
                return;
            log("[" + level + "] " + message);
        }

        public void log(byte[] message, com.amazonaws.services.lambda.runtime.logging.LogLevel level) {
            if (level == null || min.ordinal() <= level.ordinal())
                log(message);
        }
    }

    static final Logger LOGGER = new Logger();

    /** Install our logger as LambdaRuntime's (its field is private, as on AWS). */
    private static void installLogger() {
        try {
            Field f = LambdaRuntime.class.getDeclaredField("logger");
            f.setAccessible(true);
            f.set(null, LOGGER);
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("nimbus: cannot install the Lambda logger: " + e);
        }
    }

    private static void flushStd() {
        System.out.flush();
        System.err.flush();
    }

    /** nimbus's build runs this once to record the classes a cold start
     *  loads in a class data sharing archive: one pass through the runtime
     *  loop against a local stand-in for the Runtime API, a POJO and a Map
     *  (de)serialized, an error document, a user class loader. */
    private static void warmUp() throws Throwable {
        try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 8, java.net.InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                byte[] ok = ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nLambda-Runtime-Aws-Request-Id: warm\r\n"
                        + "Lambda-Runtime-Deadline-Ms: 0\r\n\r\n{}").getBytes(StandardCharsets.US_ASCII);
                try (java.net.Socket s = ss.accept()) {
                    InputStream in = s.getInputStream();
                    for (int answered = 0, crlf = 0, c; answered < 2 && (c = in.read()) >= 0;) {
                        crlf = (c == '\r' || c == '\n') ? crlf + 1 : 0;
                        if (crlf == 4) {
                            if (answered == 1)
                                in.skip(in.available());
                            s.getOutputStream().write(ok);
                            answered++;
                            crlf = 0;
                        }
                    }
                } catch (IOException e) {
                    /* the warm-up is best effort */
                }
            });
            t.setDaemon(true);
            t.start();
            RuntimeApi client = new RuntimeApi("127.0.0.1:" + ss.getLocalPort());
            Invocation inv = client.next();
            inv.clientContext = "{\"client\":{\"app_title\":\"t\"},\"custom\":{\"k\":\"v\"},\"env\":{}}";
            inv.cognito = "{\"cognitoIdentityId\":\"i\",\"cognitoIdentityPoolId\":\"p\"}";
            LambdaContext ctx = new LambdaContext(inv, LOGGER);
            ctx.getClientContext().getClient().getAppTitle();
            ctx.getIdentity().getIdentityId();
            ctx.getRemainingTimeInMillis();
            Invoker.warmUp(ctx);
            client.post("invocation/warm/error", Errors.toJson(Errors.filter(new RuntimeException("warm",
                    new IllegalStateException()))), "Runtime.Warm");
            Errors.reportable(new IllegalStateException("warm"));
            t.join(2000);
        }
    }

    public static void main(String[] args) throws Throwable {
        if (args.length == 1 && args[0].equals("--warm-up")) {
            warmUp();
            return;
        }
        String api = System.getenv("AWS_LAMBDA_RUNTIME_API");
        if (api == null) {
            System.err.println("nimbus: AWS_LAMBDA_RUNTIME_API is not set");
            System.exit(1);
        }
        installLogger();
        RuntimeApi client = new RuntimeApi(api);
        String handlerName = System.getenv("_HANDLER");
        Invoker invoker;
        try {
            invoker = Invoker.load(handlerName == null ? "" : handlerName);
        } catch (Errors.Fault f) {
            LOGGER.log(f.reportable());
            flushStd();
            client.post("init/error", f.toJson(), "Runtime.BadFunctionCode");
            System.exit(1);
            return;
        }
        for (;;) {
            Invocation inv;
            try {
                inv = client.next();
            } catch (IOException e) {
                System.exit(0); /* nimbus went away: so does the instance */
                return;
            }
            if (inv.trace != null)
                System.setProperty(TRACE_PROPERTY, inv.trace);
            else
                System.clearProperty(TRACE_PROPERTY);
            String path = "invocation/" + inv.id;
            boolean fatal = false;
            byte[] out = null, err = null;
            String errType = null;
            try {
                out = invoker.invoke(inv.body, new LambdaContext(inv, LOGGER));
            } catch (Errors.Fault f) {
                LOGGER.log(f.reportable());
                fatal = f.fatal;
                err = f.toJson();
                errType = "Runtime.BadFunctionCode";
            } catch (Throwable t) {
                Throwable e = Errors.filter(t);
                LOGGER.log(Errors.reportable(e));
                fatal = e instanceof VirtualMachineError || e instanceof IOError;
                err = Errors.toJson(e);
                errType = e.getClass().getName();
            }
            flushStd();
            Thread.interrupted(); /* a handler may leave the flag set */
            if (err != null)
                client.post(path + "/error", err, errType);
            else
                client.post(path + "/response", out, null);
            if (fatal)
                System.exit(1);
        }
    }
}
