/* nimbus: access to the runtime's logger outside a handler's Context. */
package com.amazonaws.services.lambda.runtime;

import java.nio.charset.StandardCharsets;

public final class LambdaRuntime {
    private LambdaRuntime() {
    }

    /* Replaced by the nimbus runtime at start-up (by reflection, as AWS's
     * runtime does); until then it writes to stdout. */
    private static volatile LambdaLogger logger = new LambdaLogger() {
        public void log(String message) {
            System.out.print(message);
            System.out.flush();
        }

        public void log(byte[] message) {
            log(new String(message, StandardCharsets.UTF_8));
        }
    };

    public static LambdaLogger getLogger() {
        return logger;
    }
}
