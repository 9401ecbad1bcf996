/* nimbus: a handler whose input and output the runtime (de)serializes as JSON. */
package com.amazonaws.services.lambda.runtime;

public interface RequestHandler<I, O> {
    O handleRequest(I input, Context context);
}
