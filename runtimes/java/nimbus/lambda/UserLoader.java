/*
 * nimbus Java runtime: the class loader of the function's code.
 *
 * Its path is AWS's: the task root (classes at the root of the zip), the
 * jars in its lib/ in name order, then each layer's java/lib/*.jar.  Its
 * parent is the JDK's platform loader, not the application loader, so the
 * runtime's own classes and its Jackson stay invisible (a function that
 * bundles another Jackson loads its own), with one exception: the
 * aws-lambda-java-core API this runtime provides (Context, RequestHandler,
 * ... in com.amazonaws.services.lambda.runtime) is always the runtime's,
 * ahead of any copy in the user's jars, so the handler and the runtime
 * agree on those interfaces.
 */
package nimbus.lambda;

import java.io.File;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

final class UserLoader extends URLClassLoader {
    private static final String API = "com.amazonaws.services.lambda.runtime.";
    private final ClassLoader runtime;

    static {
        registerAsParallelCapable();
    }

    private UserLoader(URL[] urls, ClassLoader runtime) {
        super(urls, runtime.getParent());
        this.runtime = runtime;
    }

    static UserLoader create(String taskRoot, String layers, ClassLoader runtime) {
        List<URL> urls = new ArrayList<>();
        String root = taskRoot == null || taskRoot.isEmpty() ? System.getProperty("user.dir") : taskRoot;
        add(urls, new File(root));
        jars(urls, new File(root, "lib"));
        for (String l : layers.split(File.pathSeparator))
            if (!l.isEmpty())
                jars(urls, new File(new File(l, "java"), "lib"));
        return new UserLoader(urls.toArray(new URL[0]), runtime);
    }

    private static void add(List<URL> urls, File f) {
        try {
            urls.add(f.toURI().toURL());
        } catch (MalformedURLException e) {
            /* a path that is no URL cannot hold classes */
        }
    }

    private static void jars(List<URL> urls, File dir) {
        String[] names = dir.list();
        if (names == null)
            return;
        Arrays.sort(names);
        for (String n : names)
            if (n.endsWith(".jar"))
                add(urls, new File(dir, n));
    }

    /** The runtime provides the API classes it has; the rest are the user's. */
    private boolean provided(String name) {
        return name.startsWith(API) && runtime.getResource(name.replace('.', '/') + ".class") != null;
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (provided(name))
            return runtime.loadClass(name);
        return super.loadClass(name, resolve);
    }
}
