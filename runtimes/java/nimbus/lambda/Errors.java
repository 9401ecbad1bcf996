/*
 * nimbus Java runtime: error documents and log text in AWS's Java shapes.
 *
 * A thrown exception is reported as {errorMessage (its message, else its
 * class name), errorType (its class name), stackTrace (one string per
 * frame, from the user's code only), cause (the same, for its cause)}.
 * A Fault is the runtime's own complaint about the function (class not
 * found, no handler method, init failure): {errorMessage, errorType}
 * without a stack, as AWS reports those.  The log text is AWS's: the
 * message, ": " and the exception class, then the printed stack trace.
 */
package nimbus.lambda;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

final class Errors {
    private static final String SHIM = "nimbus.lambda.";
    private static final int MAX_CAUSES = 16;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Errors() {
    }

    /** The runtime's own report about the function's code. */
    static final class Fault extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final String msg, type, trace;
        final boolean fatal;

        Fault(String msg, Throwable t, boolean fatal) {
            super(msg, null, false, false);
            this.msg = msg;
            this.type = t == null ? null : t.getClass().getName();
            this.trace = t == null ? null : printed(filter(t));
            this.fatal = fatal;
        }

        String reportable() {
            if (type == null && trace == null)
                return msg + "\n";
            return msg + ": " + (type == null ? "" : type) + "\n" + (trace == null ? "" : trace) + "\n";
        }

        byte[] toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("errorMessage", msg);
            if (type != null)
                m.put("errorType", type);
            return write(m);
        }
    }

    /** The function's class could not be set up: an init error. */
    static Fault initFault(Throwable t, String className) {
        String m = t.getMessage();
        return new Fault("Error loading class " + className + (m == null ? "" : ": " + m), t, true);
    }

    static String message(Throwable t) {
        String m = t.getLocalizedMessage();
        return m == null ? t.getClass().getName() : m;
    }

    /** Drop the runtime's own frames (and what called them) from t and its
     *  causes and suppressed exceptions; returns t. */
    static Throwable filter(Throwable t) {
        filter(t, new IdentityHashMap<>());
        return t;
    }

    private static void filter(Throwable t, IdentityHashMap<Throwable, Boolean> seen) {
        if (t == null || seen.put(t, Boolean.TRUE) != null)
            return;
        StackTraceElement[] st = t.getStackTrace();
        for (int i = 0; i < st.length; i++) {
            if (st[i].getClassName().startsWith(SHIM)) {
                StackTraceElement[] cut = new StackTraceElement[i];
                System.arraycopy(st, 0, cut, 0, i);
                t.setStackTrace(cut);
                break;
            }
        }
        filter(t.getCause(), seen);
        for (Throwable s : t.getSuppressed())
            filter(s, seen);
    }

    static String printed(Throwable t) {
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        return sw.toString();
    }

    static String reportable(Throwable t) {
        return message(t) + ": " + t.getClass().getName() + "\n" + printed(t) + "\n";
    }

    private static Map<String, Object> document(Throwable t, int depth, IdentityHashMap<Throwable, Boolean> seen) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("errorMessage", message(t));
        m.put("errorType", t.getClass().getName());
        List<String> stack = new ArrayList<>();
        for (StackTraceElement e : t.getStackTrace())
            stack.add(frame(e));
        m.put("stackTrace", stack);
        seen.put(t, Boolean.TRUE);
        Throwable c = t.getCause();
        if (c != null && depth < MAX_CAUSES && !seen.containsKey(c))
            m.put("cause", document(c, depth + 1, seen));
        return m;
    }

    /** "package.Class.method(File.java:12)", without the module or class
     *  loader prefixes StackTraceElement.toString() adds on newer JDKs. */
    static String frame(StackTraceElement e) {
        String where;
        if (e.isNativeMethod())
            where = "Native Method";
        else if (e.getFileName() == null)
            where = "Unknown Source";
        else if (e.getLineNumber() >= 0)
            where = e.getFileName() + ":" + e.getLineNumber();
        else
            where = e.getFileName();
        return e.getClassName() + "." + e.getMethodName() + "(" + where + ")";
    }

    static byte[] toJson(Throwable t) {
        return write(document(t, 0, new IdentityHashMap<>()));
    }

    private static byte[] write(Map<String, Object> m) {
        try {
            return JSON.writeValueAsBytes(m);
        } catch (Exception e) {
            String s = "{\"errorMessage\":\"nimbus could not serialize the error\",\"errorType\":\"Runtime.Unknown\"}";
            return s.getBytes(StandardCharsets.UTF_8);
        }
    }
}
