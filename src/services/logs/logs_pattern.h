/*
 * logs_pattern.h — CloudWatch Logs filter patterns: parser and matcher.
 *
 * A pure module (no store, no service state): FilterLogEvents,
 * TestMetricFilter and the Put*Filter validations compile a pattern once
 * and match it against many messages.  The three forms of the syntax:
 *
 *   terms      ERROR "exact phrase" -excluded ?either ?or %regex%
 *   JSON       { $.a.b[0] = "x*" && ($.n > 10 || $.f IS TRUE) }
 *              operators = != < <= > >=, IS TRUE / IS FALSE / IS NULL,
 *              NOT EXISTS, * wildcards in string values, %regex% values
 *   delimited  [ip, user, ..., status = 4* || status = 5*, bytes > 1000]
 *              fields split on spaces, "quoted" and [bracketed] fields are
 *              one field, ... matches any number of fields
 *
 * An empty (or blank) pattern matches every event.  Compile errors carry
 * the text AWS puts after "Invalid filter pattern: " (InvalidParameter-
 * Exception).  Matching never fails: a message that is not JSON simply
 * does not match a JSON pattern.
 */
#ifndef NB_LOGS_PATTERN_H
#define NB_LOGS_PATTERN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define LOGS_PAT_ERRMAX 256
#define LOGS_PAT_MAX_REGEX 2 /* regular expressions per pattern (AWS quota) */

typedef struct logs_pattern logs_pattern;

/* Compile TEXT[0..len); NULL with a message in err on a bad pattern. */
logs_pattern *logs_pattern_compile(const char *text, size_t len, char *err, size_t errcap);
void logs_pattern_free(logs_pattern *p);

/* Does MSG[0..len) match? */
bool logs_pattern_match(const logs_pattern *p, const char *msg, size_t len);

/* Match and, for a space-delimited pattern, set *extracted to a new object
 * {"$field": "value", ...} of the named fields (an empty object for other
 * forms).  *extracted is NULL when there is no match. */
bool logs_pattern_extract(const logs_pattern *p, const char *msg, size_t len, json_object **extracted);

/* True when the pattern matches everything (empty). */
bool logs_pattern_is_all(const logs_pattern *p);

#endif
