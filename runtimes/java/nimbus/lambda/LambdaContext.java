/*
 * nimbus Java runtime: the Context passed to handlers, built from the
 * function's environment and one invocation's Runtime API headers (client
 * context and Cognito identity are the JSON documents those headers carry).
 */
package nimbus.lambda;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

final class LambdaContext implements Context {
    private static final String FUNCTION = System.getenv("AWS_LAMBDA_FUNCTION_NAME");
    private static final String VERSION = System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
    private static final String GROUP = System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
    private static final String STREAM = System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
    private static final int MEMORY = parseInt(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Bootstrap.Invocation inv;
    private final LambdaLogger logger;
    private final ClientContext clientContext;
    private final CognitoIdentity identity;

    LambdaContext(Bootstrap.Invocation inv, LambdaLogger logger) {
        this.inv = inv;
        this.logger = logger;
        JsonNode cc = parse(inv.clientContext);
        clientContext = cc == null ? null : new Cc(cc);
        JsonNode ci = parse(inv.cognito);
        identity = ci == null ? null : new Identity(text(ci, "cognitoIdentityId"), text(ci, "cognitoIdentityPoolId"));
    }

    private static int parseInt(String s) {
        try {
            return s == null ? 0 : Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static JsonNode parse(String s) {
        if (s == null || s.isEmpty())
            return null;
        try {
            JsonNode n = JSON.readTree(s);
            return n != null && n.isObject() ? n : null;
        } catch (Exception e) {
            return null;
        }
    }

    private static String text(JsonNode n, String key) {
        JsonNode v = n == null ? null : n.get(key);
        return v == null || v.isNull() ? null : v.isValueNode() ? v.asText() : v.toString();
    }

    private static Map<String, String> strings(JsonNode n) {
        if (n == null || !n.isObject())
            return null;
        Map<String, String> m = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            m.put(e.getKey(), e.getValue().isValueNode() ? e.getValue().asText() : e.getValue().toString());
        }
        return Collections.unmodifiableMap(m);
    }

    private static final class Identity implements CognitoIdentity {
        private final String id, pool;

        Identity(String id, String pool) {
            this.id = id;
            this.pool = pool;
        }

        public String getIdentityId() {
            return id;
        }

        public String getIdentityPoolId() {
            return pool;
        }
    }

    private static final class Cc implements ClientContext {
        private final Client client;
        private final Map<String, String> custom, env;

        Cc(JsonNode n) {
            JsonNode c = n.get("client");
            client = c == null || !c.isObject() ? null : new App(c);
            custom = strings(n.get("custom"));
            env = strings(n.get("env"));
        }

        public Client getClient() {
            return client;
        }

        public Map<String, String> getCustom() {
            return custom;
        }

        public Map<String, String> getEnvironment() {
            return env;
        }
    }

    private static final class App implements Client {
        private final String installationId, title, versionName, versionCode, packageName;

        App(JsonNode c) {
            installationId = text(c, "installation_id");
            title = text(c, "app_title");
            versionName = text(c, "app_version_name");
            versionCode = text(c, "app_version_code");
            packageName = text(c, "app_package_name");
        }

        public String getInstallationId() {
            return installationId;
        }

        public String getAppTitle() {
            return title;
        }

        public String getAppVersionName() {
            return versionName;
        }

        public String getAppVersionCode() {
            return versionCode;
        }

        public String getAppPackageName() {
            return packageName;
        }
    }

    public String getAwsRequestId() {
        return inv.id;
    }

    public String getLogGroupName() {
        return GROUP;
    }

    public String getLogStreamName() {
        return STREAM;
    }

    public String getFunctionName() {
        return FUNCTION;
    }

    public String getFunctionVersion() {
        return VERSION;
    }

    public String getInvokedFunctionArn() {
        return inv.arn;
    }

    public CognitoIdentity getIdentity() {
        return identity;
    }

    public ClientContext getClientContext() {
        return clientContext;
    }

    public int getRemainingTimeInMillis() {
        long left = inv.deadlineMs - System.currentTimeMillis();
        return left <= 0 ? 0 : (int) Math.min(left, Integer.MAX_VALUE);
    }

    public int getMemoryLimitInMB() {
        return MEMORY;
    }

    public LambdaLogger getLogger() {
        return logger;
    }

    public String getXrayTraceId() {
        return inv.trace;
    }

    public String getTenantId() {
        return inv.tenant;
    }

    @Override
    public String toString() {
        return "LambdaContext{requestId=" + inv.id + ", functionName=" + FUNCTION + ", functionVersion="
                + VERSION + ", invokedFunctionArn=" + inv.arn + ", memoryLimit=" + MEMORY + "}";
    }
}
