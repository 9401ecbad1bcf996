/*
 * apigw_internal.h — what the API Gateway v2 (HTTP APIs) parts share.
 *
 *   apigw.c        descriptor, schema, the document store, ids, errors,
 *                  deployments (snapshots) and auto-deploy
 *   apigw_cp.c     the control-plane operations (APIs, routes,
 *                  integrations, stages, deployments, tags)
 *   apigw_route.c  route keys: parsing, validation, matching (pure)
 *   apigw_serve.c  the data plane: execute-api requests → stage → route →
 *                  CORS, authorization, throttling → integration → HTTP
 *                  response, and the cache of parsed APIs, stages and
 *                  deployments
 *   apigw_proxy.c  HTTP_PROXY integrations (the outbound request) and
 *                  parameter mapping (requestParameters, responseParameters)
 *   apigw_auth.c   route authorization on the data plane: JWT (JWKS
 *                  cache, RS256/384/512) and Lambda REQUEST authorizers
 *
 * Storage: one table, apigw_docs(api, kind, id, account, region, doc),
 * primary key (api, kind, id), rowid order = creation order (pagination
 * tokens are rowids).  kind is "api" (api = id), "route", "integ",
 * "authz" (authorizers), "stage" or "deploy".  doc is the resource as its Get operation returns
 * it (model member names; timestamps as epoch seconds).  A deployment's
 * doc also holds "_snapshot": {"routes": [route docs], "integrations":
 * {id: integration doc}, "authorizers": {id: authorizer doc}} taken when it was created; it is stripped from
 * responses.  A stage serves its DeploymentId's snapshot; an auto-deploy
 * stage gets a new deployment after every route or integration change.
 */
#ifndef NB_APIGW_INTERNAL_H
#define NB_APIGW_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/nimbus.h"
#include "core/service.h"

#define AG_SNAPSHOT "_snapshot"

/* ---- route keys (apigw_route.c) ------------------------------------------ */

#define AG_MAX_SEGS 64

/* Check a route key: "$default" or "METHOD /path" (METHOD one of GET POST
 * PUT PATCH DELETE HEAD OPTIONS ANY; path segments literal, "{name}" or a
 * last "{name+}").  0 when valid, else -1 with the reason in err. */
int ag_route_key_check(const char *key, char *err, size_t errn);

/* How well route key matches the request (method, path of n bytes: the
 * path after the stage, not decoded).  NULL when it does not match, else
 * a score string (malloc'd; greater by strcmp is more specific: literal
 * over {param} over {proxy+} segment by segment, then METHOD over ANY;
 * "$default" scores lowest).  With params, the path parameters are added
 * (decoded values). */
char *ag_route_match(const char *key, const char *method, const char *path, size_t n,
                     json_object *params);

/* The Lambda function an AWS_PROXY IntegrationUri names: a function ARN
 * (maybe with a version or alias) or the API Gateway form
 * "arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/
 * invocations".  Copies the function ARN to arn; false when uri is
 * neither. */
bool ag_lambda_target(const char *uri, char *arn, size_t n);

/* ---- store and helpers (apigw.c) ------------------------------------------ */

json_object *ag_load(const char *api, const char *kind, const char *id);  /* owned or NULL */
void ag_save(const nb_call *call, const char *api, const char *kind, const char *id,
             json_object *doc);
bool ag_delete(const char *api, const char *kind, const char *id);
void ag_delete_api(const char *api);
/* Docs of a kind in creation order, from after rowid `after`, at most max
 * (0: all); *next gets the rowid to continue from or 0. */
json_object *ag_list(const char *api, const char *kind, long long after, int max,
                     long long *next);

void ag_new_id(char *out, int len);   /* len lower-case letters and digits */
json_object *ag_copy(json_object *o);
double ag_now(const nb_call *call);   /* epoch seconds */

nb_status ag_bad(nb_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
nb_status ag_conflict(nb_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
nb_status ag_not_found(nb_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Tags (both generations): keys 1..128, values up to 256, at most 50, no
 * "aws:" prefix; false after failing the call with BadRequestException. */
bool ag_check_tags(nb_call *call, json_object *tags);
/* TagResource / UntagResource on a document's tag map (member name: "Tags"
 * in v2, "tags" in v1): merge add into it and check the result (false
 * after failing the call), or delete the keys listed. */
bool ag_tags_merge(nb_call *call, json_object *doc, const char *member, json_object *add);
void ag_tags_remove(json_object *doc, const char *member, json_object *keys);

/* The API apiId of the caller's account and region (owned), or NULL after
 * failing the call with NotFoundException. */
json_object *ag_api(nb_call *call, const char *api_id);

/* Deploy: snapshot the API's routes and integrations as a new deployment
 * (returned, owned).  ag_autodeploy redeploys every auto-deploy stage. */
json_object *ag_deploy(nb_call *call, const char *api, const char *description, bool automatic);
void ag_autodeploy(nb_call *call, const char *api);

/* "http://{id}.execute-api.localhost:{port}" */
void ag_endpoint(const char *api, char *out, size_t n);

/* Data plane (apigw_serve.c): true when r is an execute-api request (Host
 * "{apiId}.execute-api.*" or path "/_aws/execute-api/{apiId}/..."), which
 * it then answers. */
struct nb_req;
bool nb_apigw_serve(struct nb_req *r);

/* The cache of parsed API documents, stages and deployment snapshots the
 * data plane serves from (apigw_serve.c).  ag_save and ag_delete call
 * ag_cache_forget for every write: the API's document and stages are
 * reloaded on the next request (whole: its deployments and throttling
 * state go too, for DeleteApi).  Deployments are immutable, so they stay
 * cached by id. */
void ag_cache_forget(const char *api, bool whole);
void ag_cache_reset(void);

/* One data-plane request from route match to answer.  The documents are
 * references (held while the request is in flight, whatever the control
 * plane does meanwhile); path is the request path after the stage. */
struct nb_http_fetch;
typedef struct ag_exchange {
    struct nb_req *r;            /* NULL once the client went away */
    json_object *api, *stage;    /* documents (references) */
    json_object *route, *integ;  /* from the deployment snapshot (references) */
    json_object *params;         /* path parameters (decoded; owned) */
    json_object *cors;           /* the API's CorsConfiguration or NULL */
    char stage_name[130];
    const char *path;            /* into r->url */
    size_t plen;
    bool v1;                     /* AWS_PROXY payload format 1.0 */
    struct nb_http_fetch *fetch; /* HTTP_PROXY request in flight */
} ag_exchange;

/* Run x's integration (after routing, throttling and authorization) and
 * answer x->r when it is done; x is freed then. */
void ag_integrate(ag_exchange *x);
/* Answer x->r with status and a JSON body ({"message": ...}) and free x. */
void ag_answer(ag_exchange *x, int status, const char *body);
void ag_exchange_free(ag_exchange *x);

/* ---- HTTP_PROXY and parameter mapping (apigw_proxy.c) ---------------------- */

/* Check an integration's type-specific members (HTTP_PROXY URI and method,
 * RequestParameters, ResponseParameters) as CreateIntegration and
 * UpdateIntegration do; false after failing the call with
 * BadRequestException. */
bool ag_integ_check(nb_call *call, const char *type, const char *uri, json_object *doc,
                    json_object *in);
/* Send x's request to its HTTP_PROXY integration (parked until it answers). */
void ag_proxy_start(ag_exchange *x);
/* A Lambda proxy answer ({"statusCode", "headers", ...}, changed in place)
 * through the integration's ResponseParameters for its status code. */
void ag_map_lambda_response(ag_exchange *x, json_object *o);

/* ---- OpenAPI (apigw_openapi.c) --------------------------------------------- */

/* Parses a definition (JSON or YAML) and writes it as YAML to out: 0, or
 * -1 when it does not parse (the fuzz target's entry). */
struct nb_buf;
int ag_openapi_roundtrip(const char *body, struct nb_buf *out);

/* ---- authorization (apigw_auth.c) ---------------------------------------- */

/* The hook of the data plane, after route matching (in the request's store
 * call).  True when the request may go on to the integration: the route
 * needs no authorization, or this is the request being served again after
 * its authorizer allowed it.  False when r was answered (401, 403, 500) or
 * parked while its authorizer runs (a JWKS fetch, a Lambda function); once
 * allowed, r is served again through nb_apigw_serve, and ag_authorize then
 * returns true.  path/plen: the request path after the stage; params: the
 * path parameters; stage: the stage document. */
bool ag_authorize(struct nb_req *r, const char *api, const char *stage_name, json_object *stage,
                  json_object *snap, json_object *route, const char *path, size_t plen,
                  json_object *params);
/* Adds requestContext.authorizer (ctx: the event's requestContext) for the
 * request being served after its authorizer allowed it; nothing else. */
void ag_auth_context(const struct nb_req *r, json_object *ctx, bool v1);
void ag_auth_reset(void);     /* drop the JWKS and authorizer result caches */
void ag_auth_shutdown(void);  /* the same, and close the timer */

/* JWT pieces (pure; fuzzed by fuzz/fuzz_jwt.c). */
typedef struct ag_jwt {
    json_object *header, *claims;   /* owned */
    unsigned char *sig;             /* owned */
    size_t sig_len;
    size_t signed_len;              /* bytes of "header.payload" */
} ag_jwt;
/* Splits and decodes a compact JWS; 0, or -1 with a reason in err. */
int ag_jwt_parse(const char *tok, size_t n, ag_jwt *out, char *err, size_t errn);
void ag_jwt_free(ag_jwt *j);
/* Verifies j's signature (RS256/RS384/RS512 by its header alg) with the key of
 * the JWKS document jwks whose kid matches; 0, or -1 with a reason in err. */
int ag_jwt_verify(const ag_jwt *j, const char *tok, json_object *jwks, char *err, size_t errn);
/* Checks iss, aud / client_id, exp, nbf, iat (now: epoch seconds); 0 or -1. */
int ag_jwt_claims_check(const ag_jwt *j, const char *issuer, json_object *audiences, int64_t now,
                        char *err, size_t errn);

#endif
