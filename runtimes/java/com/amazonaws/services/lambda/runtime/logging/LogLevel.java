/* nimbus: the log levels of LambdaLogger.log(message, level). */
package com.amazonaws.services.lambda.runtime.logging;

public enum LogLevel {
    UNDEFINED, TRACE, DEBUG, INFO, WARN, ERROR, FATAL;

    /** The level named (case-insensitively), or UNDEFINED. */
    public static LogLevel fromString(String name) {
        if (name != null)
            for (LogLevel l : values())
                if (l.name().equalsIgnoreCase(name.trim()))
                    return l;
        return UNDEFINED;
    }
}
