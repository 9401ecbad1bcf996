/* nimbus: the Amazon Cognito identity that invoked the function, if any. */
package com.amazonaws.services.lambda.runtime;

public interface CognitoIdentity {
    String getIdentityId();

    String getIdentityPoolId();
}
