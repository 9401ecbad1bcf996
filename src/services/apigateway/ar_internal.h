/*
 * ar_internal.h — what the API Gateway REST API (v1) parts share.
 *
 *   ar.c        descriptor, op table, documents, ids, the owner check,
 *               PatchOperation application (table-driven)
 *   ar_cp.c     the control plane: REST APIs, resources, methods, method
 *               responses, integrations, integration responses,
 *               deployments, stages, tags
 *   ar_serve.c  the data plane: execute-api requests → stage →
 *               deployment snapshot → resource/method → MOCK or
 *               AWS_PROXY (Lambda, payload format 1.0) integration
 *   ar_keys.c   API keys and usage plans (account-level rows), the key check
 *   ar_map.c    request/response mapping: template selection by content
 *               type and passthrough behaviour, integration response
 *               selection, response parameters (pure)
 *
 * Storage: the documents live in API Gateway v2's table apigw_docs (its
 * ag_load/ag_save/ag_delete helpers, same row layout; kinds differ, so the
 * two generations never see each other's rows):
 *   kind "rest"    (api = id = rest API id): the RestApi as GetRestApi
 *                  returns it, plus "_owner" ("account/region") and
 *                  "_resources": {resourceId: Resource}, each Resource with
 *                  its full resourceMethods (Method with methodResponses
 *                  and methodIntegration with integrationResponses), and
 *                  "_validators": {id: RequestValidator}, "_models":
 *                  {name: Model} (Empty and Error made with the API).
 *   kind "rstage"  (id = stage name): the Stage.
 *   kind "rdeploy" (id = deployment id): the Deployment plus "_snapshot",
 *                  a copy of "_resources" when it was created, and
 *                  "_validators", a copy of the API's.  A stage
 *                  serves its deployment's snapshot, so edits change
 *                  nothing until redeployed, as on AWS.
 * Members starting with "_" never leave.
 */
#ifndef NB_AR_INTERNAL_H
#define NB_AR_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/nimbus.h"
#include "core/service.h"
#include "services/apigatewayv2/apigw_internal.h"

#define AR_KIND_API "rest"
#define AR_KIND_STAGE "rstage"
#define AR_KIND_DEPLOY "rdeploy"
#define AR_RESOURCES "_resources"
#define AR_SNAPSHOT "_snapshot"
#define AR_OWNER "_owner"
#define AR_VALIDATORS "_validators" /* {id: RequestValidator}, in the API and deployments */
#define AR_MODELS "_models"         /* {name: Model}, in the API */
#define AR_AUTHORIZERS "_authorizers" /* {id: Authorizer}, in the API and deployments */

/* ---- ar.c ------------------------------------------------------------------ */

/* The REST API restApiId of the caller's account and region (owned), or
 * NULL after failing the call with NotFoundException. */
json_object *ar_api(nb_call *call, const char *id);
void ar_save_api(nb_call *call, json_object *api);
/* Every REST API of the account and region, in creation order (owned). */
json_object *ar_list_apis(const nb_call *call);
/* doc without its "_" members (new reference; doc untouched). */
json_object *ar_public(json_object *doc);

/* One PatchOperation path a resource accepts. */
typedef enum { AR_STR, AR_BOOL, AR_INT, AR_DOUBLE, AR_MAP_STR, AR_MAP_BOOL, AR_LIST_STR } ar_ptype;
#define AR_OP_ADD 1
#define AR_OP_REMOVE 2
#define AR_OP_REPLACE 4
typedef struct {
    const char *path;   /* "/name", or a prefix ending in "/" for maps and lists */
    const char *member; /* the member it changes */
    ar_ptype type;
    int ops;            /* AR_OP_* allowed */
} ar_patch_path;

/* Apply the patchOperations list to doc by table (NULL-path terminated).
 * false after failing the call with BadRequestException (doc may be half
 * changed: callers discard it). */
bool ar_patch(nb_call *call, json_object *doc, json_object *ops, const ar_patch_path *table);

/* ---- ar_keys.c ---------------------------------------------------------------- */

/* Whether value (an x-api-key header) is an enabled API key of owner
 * ("account/region") in a usage plan that lists the API's stage.  Reads
 * the store (inside a store call). */
bool ar_api_key_ok(const char *owner, const char *api, const char *stage, const char *value);

/* ---- ar_map.c (pure) ---------------------------------------------------------- */

typedef enum { AR_TPL_OK, AR_TPL_PASSTHROUGH, AR_TPL_UNSUPPORTED } ar_tpl_pick;

/* The request template for content type ct (NULL: application/json; the
 * media type only, parameters ignored) under passthroughBehavior pb
 * (NULL: WHEN_NO_MATCH).  AR_TPL_OK sets *tpl; AR_TPL_PASSTHROUGH: send
 * the body as it is; AR_TPL_UNSUPPORTED: answer 415. */
ar_tpl_pick ar_pick_request_template(json_object *templates, const char *ct, size_t ctn,
                                     const char *pb, const char **tpl);

/* The integration response (borrowed) for what the integration answered
 * (the status code for MOCK and HTTP, the errorMessage for Lambda, ""
 * for none): the one whose selectionPattern matches all of it (a POSIX
 * extended regular expression), else the default one (no or empty
 * selectionPattern); NULL when none applies. */
json_object *ar_pick_integration_response(json_object *responses, const char *subject);

/* A selectionPattern (Java's regex syntax, as PCRE2 reads it) compiled;
 * anchored: it must match the whole subject.  NULL when it does not
 * compile or is over AR_MAX_PATTERN bytes.  Free with ar_regfree. */
struct pcre2_real_code_8;
struct pcre2_real_code_8 *ar_regcomp(const char *pattern, bool anchored);
void ar_regfree(struct pcre2_real_code_8 *re);
/* Whether re matches subject (under PCRE2's match and depth limits: a
 * pattern that would backtrack without end does not match). */
bool ar_regmatch(const struct pcre2_real_code_8 *re, const char *subject);

/* A small cache of values made from a string key (selection patterns
 * compiled, templates parsed, deployment snapshots parsed): AR_LRU_N
 * slots, the least recently used replaced.  make builds a value (NULL:
 * nothing is cached); drop frees one. */
#define AR_LRU_N 32
typedef struct {
    struct {
        char *key;
        void *val;
        uint64_t used;
    } slot[AR_LRU_N];
    uint64_t clock;
    void (*drop)(void *val);
} ar_lru;
void *ar_lru_get(ar_lru *c, const char *key, void *(*make)(const char *key, void *arg), void *arg);
void ar_lru_clear(ar_lru *c);
/* Free the compiled selection patterns ar_pick_integration_response keeps. */
void ar_regex_cache_clear(void);

/* The statusCode a MOCK request template (rendered) asks for: its JSON
 * "statusCode" member; 200 when the text is not JSON or has none. */
int ar_mock_status(const char *body, size_t n);

/* The value of a responseParameters source: "'literal'",
 * "method.request.{path|querystring|header}.NAME",
 * "integration.response.header.NAME", "integration.response.body",
 * "stageVariables.NAME", "context.requestId".  The sources are in ctx:
 * {"path":{}, "querystring":{}, "header":{}} under "request",
 * "integration_headers" {}, "integration_body" string, "stage" {}.
 * NULL when it names nothing (the header is then left out). */
const char *ar_param_value(const char *expr, json_object *ctx, char *buf, size_t n);

/* ---- ar_serve.c ----------------------------------------------------------------- */

struct nb_req;
/* A request for REST API id (the v2 data plane's hook: id came from an
 * execute-api Host or /_aws/execute-api/ path; path is what follows, the
 * stage first).  true when id is a REST API, which it then answers. */
bool nb_apigw_rest_serve(struct nb_req *r, const char *id, const char *path, size_t plen);
/* The LocalStack-style form /restapis/{id}/{stage}/_user_request_/{path}
 * (dispatch.c's front door): true when it answered r. */
bool nb_apigw_rest_user_request(struct nb_req *r);
/* Drop the data plane's cached deployments (reset, shutdown). */
void ar_cache_clear(void);

#endif
