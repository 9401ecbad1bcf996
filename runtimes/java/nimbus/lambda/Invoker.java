/*
 * nimbus Java runtime: loading the handler and calling it.
 *
 * The handler string is "package.Class::method" or "package.Class".  The
 * class is loaded (and its static initializers run) at init in UserLoader.
 * Without a method it must implement RequestStreamHandler (raw streams) or
 * RequestHandler<I, O> with concrete type arguments; with a method, the
 * public overloads of that name are tried longest signature first, those
 * ending in Context ahead: (InputStream, OutputStream[, Context]),
 * (InputStream|OutputStream[, Context]), (I[, Context]), (Context), ().
 * Instance methods get one instance per process (public no-argument
 * constructor).  A POJO input is read from the event JSON with Jackson and
 * the result written as JSON ("null" for void), with the lenient settings
 * AWS's serializer uses (unknown properties ignored, nulls omitted, single
 * values accepted as arrays).
 *
 * What cannot be called is a Fault: a missing class or method fails each
 * invocation (AWS reports those at invoke time); an exception from a
 * static initializer fails init.
 */
package nimbus.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

final class Invoker {
    private static final byte[] NULL = "null".getBytes(StandardCharsets.UTF_8);

    /** One call of the function: event bytes in, response bytes out. */
    private interface Call {
        void call(InputStream in, ByteArrayOutputStream out, Context ctx) throws Throwable;
    }

    private final Call call;
    private final Errors.Fault fault;

    private Invoker(Call call, Errors.Fault fault) {
        this.call = call;
        this.fault = fault;
    }

    private static Invoker failing(Errors.Fault f) {
        return new Invoker(null, f);
    }

    byte[] invoke(byte[] event, Context ctx) throws Throwable {
        if (fault != null)
            throw fault;
        ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
        call.call(new ByteArrayInputStream(event), out, ctx);
        return out.toByteArray();
    }

    private static ObjectMapper mapper() {
        ObjectMapper m = JsonMapper.builder()
                .enable(JsonReadFeature.ALLOW_SINGLE_QUOTES, JsonReadFeature.ALLOW_UNQUOTED_FIELD_NAMES,
                        JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS, JsonReadFeature.ALLOW_LEADING_ZEROS_FOR_NUMBERS,
                        JsonReadFeature.ALLOW_BACKSLASH_ESCAPING_ANY_CHARACTER,
                        JsonReadFeature.ALLOW_UNESCAPED_CONTROL_CHARS)
                .enable(MapperFeature.USE_STD_BEAN_NAMING)
                .disable(MapperFeature.AUTO_DETECT_CREATORS, MapperFeature.INFER_PROPERTY_MUTATORS,
                        MapperFeature.USE_GETTERS_AS_SETTERS)
                .enable(DeserializationFeature.ACCEPT_EMPTY_ARRAY_AS_NULL_OBJECT,
                        DeserializationFeature.ACCEPT_EMPTY_STRING_AS_NULL_OBJECT,
                        DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY,
                        DeserializationFeature.READ_UNKNOWN_ENUM_VALUES_AS_NULL,
                        DeserializationFeature.UNWRAP_SINGLE_VALUE_ARRAYS)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES,
                        DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES,
                        DeserializationFeature.FAIL_ON_IGNORED_PROPERTIES)
                .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS, SerializationFeature.CLOSE_CLOSEABLE)
                .build();
        m.setSerializationInclusion(JsonInclude.Include.NON_NULL);
        return m;
    }

    /** A sample event type for Bootstrap's warm-up. */
    public static final class Sample {
        public String name;
        public java.util.List<Integer> values;
        private boolean flag;

        public boolean isFlag() {
            return flag;
        }

        public void setFlag(boolean f) {
            flag = f;
        }
    }

    /** Exercise what a first invocation of a POJO or Map handler does. */
    static void warmUp(Context ctx) throws Throwable {
        byte[] ev = "{\"name\":\"n\",\"values\":[1,2],\"flag\":true,\"x\":{\"y\":[null,1.5,\"z\"]}}"
                .getBytes(StandardCharsets.UTF_8);
        Call pojo = pojo(Sample.class, Sample.class, (in, c) -> in);
        Call map = pojo(Map.class, Map.class, (in, c) -> in);
        pojo.call(new ByteArrayInputStream(ev), new ByteArrayOutputStream(), ctx);
        map.call(new ByteArrayInputStream(ev), new ByteArrayOutputStream(), ctx);
        UserLoader.create(System.getProperty("java.io.tmpdir"), "", Invoker.class.getClassLoader());
    }

    /* ---- loading --------------------------------------------------------- */

    static Invoker load(String handler) {
        int colon = handler.lastIndexOf("::");
        String cls = colon < 0 ? handler : handler.substring(0, colon);
        String method = colon < 0 ? null : handler.substring(colon + 2);
        if (cls.isEmpty() || (method != null && method.isEmpty()))
            return failing(new Errors.Fault("Invalid handler: `" + handler + "'", null, false));
        ClassLoader loader = UserLoader.create(System.getenv("LAMBDA_TASK_ROOT"),
                System.getProperty("nimbus.layers", ""), Invoker.class.getClassLoader());
        Thread.currentThread().setContextClassLoader(loader);
        Class<?> c;
        try {
            c = Class.forName(cls, true, loader);
        } catch (ClassNotFoundException e) {
            return failing(new Errors.Fault("Class not found: " + cls, e, false));
        } catch (Throwable t) {
            throw Errors.initFault(t, cls);
        }
        try {
            return new Invoker(method == null ? classCall(c) : methodCall(c, method), null);
        } catch (Errors.Fault f) {
            if (f.fatal)
                throw f;
            return failing(f);
        }
    }

    private static Object instance(Class<?> c) {
        Constructor<?> k;
        try {
            k = c.getConstructor();
        } catch (NoSuchMethodException e) {
            throw new Errors.Fault("Class " + c.getName() + " has no public zero-argument constructor", e, false);
        }
        try {
            return k.newInstance();
        } catch (InvocationTargetException e) {
            Throwable t = e.getCause() == null ? e : e.getCause();
            throw new Errors.Fault(Errors.message(t), t, false);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new Errors.Fault(Errors.message(e), e, false);
        }
    }

    private static Call classCall(Class<?> c) {
        if (RequestStreamHandler.class.isAssignableFrom(c)) {
            RequestStreamHandler h = (RequestStreamHandler) instance(c);
            return (in, out, ctx) -> h.handleRequest(in, out, ctx);
        }
        if (!RequestHandler.class.isAssignableFrom(c))
            throw new Errors.Fault("Class does not implement an appropriate handler interface: " + c.getName(),
                    null, false);
        Type[] p = interfaceParams(c, RequestHandler.class, new HashMap<>());
        if (p == null || p.length != 2 || !concrete(p[0]) || !concrete(p[1]))
            throw new Errors.Fault("Class " + c.getName() + " does not implement RequestHandler with concrete type "
                    + "parameters", null, false);
        @SuppressWarnings("unchecked")
        RequestHandler<Object, Object> h = (RequestHandler<Object, Object>) instance(c);
        return pojo(p[0], p[1], (in, ctx) -> h.handleRequest(in, ctx));
    }

    /** RequestHandler's type arguments as C binds them, or null if raw. */
    private static Type[] interfaceParams(Type t, Class<?> iface, Map<String, Type> bound) {
        Class<?> raw;
        Map<String, Type> b = bound;
        if (t instanceof Class) {
            raw = (Class<?>) t;
            if (raw == iface)
                return null;
            b = new HashMap<>();
        } else if (t instanceof ParameterizedType) {
            ParameterizedType pt = (ParameterizedType) t;
            raw = (Class<?>) pt.getRawType();
            TypeVariable<?>[] vars = raw.getTypeParameters();
            Type[] args = pt.getActualTypeArguments().clone();
            b = new HashMap<>();
            for (int i = 0; i < args.length; i++) {
                if (args[i] instanceof TypeVariable && bound.containsKey(((TypeVariable<?>) args[i]).getName()))
                    args[i] = bound.get(((TypeVariable<?>) args[i]).getName());
                if (i < vars.length)
                    b.put(vars[i].getName(), args[i]);
            }
            if (raw == iface)
                return args;
        } else {
            return null;
        }
        for (Type g : raw.getGenericInterfaces()) {
            Type[] r = interfaceParams(g, iface, b);
            if (r != null)
                return r;
        }
        Type sup = raw.getGenericSuperclass();
        return sup == null ? null : interfaceParams(sup, iface, b);
    }

    private static boolean concrete(Type t) {
        if (!(t instanceof TypeVariable))
            return true;
        for (Type b : ((TypeVariable<?>) t).getBounds())
            if (b != Object.class)
                return true;
        return false;
    }

    private interface Pojo {
        Object apply(Object in, Context ctx) throws Throwable;
    }

    private static boolean isVoid(Type t) {
        return t == void.class || t == Void.class;
    }

    /** A call that reads IN from the event JSON and writes OUT as JSON. */
    private static Call pojo(Type inType, Type outType, Pojo f) {
        ObjectMapper m = mapper();
        JavaType in = inType == null ? null : m.constructType(inType);
        ObjectReader reader = in == null ? null : m.readerFor(in);
        ObjectWriter writer = isVoid(outType) ? null : m.writerFor(m.constructType(outType));
        return (is, out, ctx) -> {
            Object input = null;
            if (reader != null) {
                try {
                    input = reader.readValue(is);
                } catch (Throwable t) {
                    throw new RuntimeException("An error occurred during JSON parsing", Errors.filter(t));
                }
            }
            Object result = f.apply(input, ctx);
            if (writer == null) {
                out.write(NULL);
                return;
            }
            try {
                writer.writeValue(out, result);
            } catch (Throwable t) {
                throw new RuntimeException("An error occurred during JSON serialization of response", t);
            }
        };
    }

    /** Longest signatures first, then those ending in Context. */
    private static int weight(Method m) {
        Class<?>[] p = m.getParameterTypes();
        return p.length * 2 + (p.length > 0 && p[p.length - 1] == Context.class ? 1 : 0);
    }

    private static Call methodCall(Class<?> c, String name) {
        Method[] all;
        try {
            all = c.getMethods();
        } catch (NoClassDefFoundError e) {
            throw new Errors.Fault("Error loading method " + name + " on class " + c.getName(), e, false);
        }
        List<Method> ms = new ArrayList<>();
        for (Method m : all)
            if (m.getName().equals(name) && !m.isBridge())
                ms.add(m);
        ms.sort(Comparator.comparingInt(Invoker::weight).reversed());
        for (Method m : ms) {
            Call k = overload(c, m);
            if (k != null)
                return k;
        }
        throw new Errors.Fault("No public method named " + name + " with appropriate method signature found on class "
                + c, null, false);
    }

    /** The call for one overload, or null when its signature is not a handler's. */
    private static Call overload(Class<?> c, Method m) {
        Class<?>[] p = m.getParameterTypes();
        Type[] g = m.getGenericParameterTypes();
        int n = p.length;
        boolean ctxLast = n > 0 && p[n - 1] == Context.class;
        boolean streamIn = n > 0 && p[0] == InputStream.class;
        boolean streamOut = (n > 0 && p[0] == OutputStream.class) || (n > 1 && p[1] == OutputStream.class);
        if (n > 3 || (n == 3 && !(streamIn && p[1] == OutputStream.class && ctxLast)))
            return null;
        if (n == 2 && !ctxLast && !(streamIn && p[1] == OutputStream.class))
            return null;
        if (n == 2 && p[0] == Context.class)
            return null;
        Object self = Modifier.isStatic(m.getModifiers()) ? null : instance(c);
        try {
            m.setAccessible(true); /* a public method of a package-private class */
        } catch (RuntimeException e) {
            /* left as it is: invoking it reports the problem */
        }
        if (streamIn || streamOut) {
            return (in, out, ctx) -> {
                Object[] args = new Object[n];
                int i = 0;
                if (streamIn)
                    args[i++] = in;
                if (streamOut)
                    args[i++] = out;
                if (ctxLast)
                    args[i] = ctx;
                reflect(m, self, args);
                if (!streamOut)
                    out.write(NULL);
            };
        }
        Type inType = n == 0 || p[0] == Context.class ? null : g[0];
        return pojo(inType, m.getGenericReturnType(), (input, ctx) -> {
            Object[] args = new Object[n];
            int i = 0;
            if (inType != null)
                args[i++] = input;
            if (ctxLast)
                args[i] = ctx;
            return reflect(m, self, args);
        });
    }

    private static Object reflect(Method m, Object self, Object[] args) throws Throwable {
        try {
            return m.invoke(self, args);
        } catch (InvocationTargetException e) {
            throw e.getCause() == null ? e : e.getCause();
        }
    }
}
