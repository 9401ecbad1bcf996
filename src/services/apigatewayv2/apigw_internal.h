/*
 * apigw_internal.h — what the API Gateway v2 (HTTP APIs) parts share.
 *
 *   apigw.c        descriptor, schema, the document store, ids, errors,
 *                  deployments (snapshots) and auto-deploy
 *   apigw_cp.c     the control-plane operations (APIs, routes,
 *                  integrations, stages, deployments, tags)
 *   apigw_route.c  route keys: parsing, validation, matching (pure)
 *   apigw_serve.c  the data plane: execute-api requests → route →
 *                  Lambda proxy integration → HTTP response
 *
 * Storage: one table, apigw_docs(api, kind, id, account, region, doc),
 * primary key (api, kind, id), rowid order = creation order (pagination
 * tokens are rowids).  kind is "api" (api = id), "route", "integ",
 * "stage" or "deploy".  doc is the resource as its Get operation returns
 * it (model member names; timestamps as epoch seconds).  A deployment's
 * doc also holds "_snapshot": {"routes": [route docs], "integrations":
 * {id: integration doc}} taken when it was created; it is stripped from
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

#endif
