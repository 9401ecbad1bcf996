/*
 * vtl.h — the Velocity Template Language subset API Gateway REST APIs (v1)
 * use for mapping templates: references ($x, ${x}, $!x, property, method
 * and index chains), literals (strings, numbers, booleans, lists, ranges,
 * maps), #set #if/#elseif/#else #foreach #break #stop, comments, escapes,
 * arithmetic and comparison, the Java String/List/Map methods templates
 * commonly call, and API Gateway's $input, $util, $context and
 * $stageVariables.
 *
 * A template is parsed once (vtl_parse) and rendered per request
 * (vtl_render).  Rendering never mutates the caller's json objects: the
 * context, parameters and stage variables are copied per render.  Hostile
 * templates are bounded: nesting depth, loop iterations (1000 per
 * #foreach, API Gateway's quota), total evaluation steps and output size
 * fail (or stop) instead of hanging or exhausting memory.
 */
#ifndef NB_VTL_H
#define NB_VTL_H

#include <json-c/json.h>
#include <stddef.h>

#include "core/buf.h"

#define VTL_ERRMAX 256
#define VTL_MAX_LOOP 1000             /* iterations of one #foreach */
#define VTL_MAX_OUTPUT (10u << 20)    /* bytes of output or of one string value */
#define VTL_MAX_STEPS 2000000L        /* evaluation steps of one render */
#define VTL_MAX_DEPTH 100             /* parse nesting, value nesting */
#define VTL_MAX_MEMORY (64u << 20)    /* bytes of strings and containers one render makes */

typedef struct vtl_tpl vtl_tpl;

/* Parses a template; NULL with a message in err on a syntax error. */
vtl_tpl *vtl_parse(const char *src, size_t len, char *err, size_t errlen);
void vtl_free(vtl_tpl *t);

typedef struct vtl_input {
    const char *body;
    size_t body_len;          /* $input.body, $input.json(), $input.path() operate on this */
    json_object *params;      /* {"path":{..},"querystring":{..},"header":{..}} for $input.params() */
    json_object *context;     /* $context (requestId, stage, identity{...}, authorizer{...}, ...) */
    json_object *stage_vars;  /* $stageVariables */
} vtl_input;

/* Renders into out (appending; on failure out holds partial output the
 * caller discards).  Returns 0; -1 with err set on a runtime error
 * ($util.parseJson of invalid JSON, an index out of bounds, a limit
 * exceeded: API Gateway answers 500); or VTL_EBODY when $input.json or
 * $input.path needed a JSON body and the body is not JSON (API Gateway
 * answers 400 {"message": err}, err being "Could not parse request body
 * into json: ..."). */
#define VTL_EBODY (-2)
int vtl_render(const vtl_tpl *t, const vtl_input *in, nb_buf *out, char *err, size_t errlen);

/* As vtl_render; when overrides is not NULL and the template set any of
 * $context.responseOverride.status / .header.X or
 * $context.requestOverride.header.X / .path.X / .querystring.X, *overrides
 * is a new object holding only what was set, e.g.
 * {"responseOverride":{"status":400,"header":{"X":"v"}}}; else NULL. */
int vtl_render_ex(const vtl_tpl *t, const vtl_input *in, nb_buf *out, json_object **overrides,
                  char *err, size_t errlen);

#endif
