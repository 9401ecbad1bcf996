/* nimbus: the mobile client context an invoker passed (X-Amz-Client-Context). */
package com.amazonaws.services.lambda.runtime;

import java.util.Map;

public interface ClientContext {
    Client getClient();

    Map<String, String> getCustom();

    Map<String, String> getEnvironment();
}
