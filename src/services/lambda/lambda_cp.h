/*
 * lambda_cp.h — what the control plane's files share (never execution).
 *
 * Storage.  Every Lambda resource is a JSON document in one table,
 *
 *   lambda_docs(account, region, kind, parent, key, seq, doc)
 *
 * keyed by (account, region, kind, parent, key) and listed in (seq, key)
 * order.  Kinds:
 *
 *   fn      parent ""       key NAME      function-level state: Tags,
 *                                         Reserved, Recursion, Runtime
 *                                         management, NextVersion
 *   ver     parent NAME     key VERSION   a FunctionConfiguration as AWS
 *                                         renders it ("$LATEST" seq 0,
 *                                         published versions seq N), plus
 *                                         private members starting "_"
 *   alias   parent NAME     key ALIAS     an AliasConfiguration
 *   pol     parent NAME     key QUALIFIER resource policy {"Statement": [...]}
 *                                         ("" for the unqualified function)
 *   eic     parent NAME     key QUALIFIER FunctionEventInvokeConfig
 *   url     parent NAME     key QUALIFIER FunctionUrlConfig (+ "_UrlId")
 *   layer   parent LAYER    key VERSION   PublishLayerVersion's output
 *                                         (+ "_Policy")
 *   lmeta   parent ""       key LAYER     {"Next": n}: versions never reused
 *   esm     parent ""       key UUID      EventSourceMappingConfiguration
 *
 * Zips live once per CodeSha256 in lambda_code(sha, hex, zip, unzipped);
 * a zip no version or layer references is deleted (lm_code_gc).
 *
 * Private members ("_LayerShas", "_UrlId", "_Policy", "_Tags" of mappings
 * and code signing configs, "_Account"/"_Region"/"_Kind" of mappings) are
 * top-level members of a document and removed by lm_public before output.
 */
#ifndef NB_LAMBDA_CP_H
#define NB_LAMBDA_CP_H

#include <stdio.h>

#include "lambda_internal.h"

#define LM_MAX_ZIP (50 * 1024 * 1024)          /* CodeSizeZipped */
#define LM_MAX_UNZIPPED 262144000LL           /* CodeSizeUnzipped */
#define LM_TOTAL_CODE 80530636800LL           /* TotalCodeSize (75 GB) */
#define LM_ACCOUNT_CONCURRENCY 1000
#define LM_MIN_UNRESERVED 100
#define LM_ENV_MAX 4096

/* A function reference taken apart: FunctionName (+ Qualifier). */
typedef struct lm_ref {
    char account[16];
    char region[32];
    char name[65];
    char qual[129];     /* "" when none was given */
} lm_ref;

/* ---- errors (lambda.c) ---- */
nb_status lm_fail_param(nb_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
nb_status lm_fail_validation(nb_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
nb_status lm_fail_not_found(nb_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
nb_status lm_fail_conflict(nb_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
nb_status lm_fail_revision(nb_call *call, const char *what);
nb_status lm_fail_no_resource(nb_call *call); /* "The resource you requested does not exist." */
/* The validator's message for a value not matching the member's pattern. */
nb_status lm_fail_pattern(nb_call *call, const char *member, const char *value);

/* ---- names and ARNs (lambda.c) ---- */
/* Parse FunctionName plus the Qualifier parameter (NULL when absent);
 * fails the call (pattern / qualifier mismatch) and returns NB_ERROR. */
nb_status lm_parse(nb_call *call, const char *function_name, const char *qualifier, lm_ref *out);
bool lm_valid_qualifier(const char *q);
void lm_fn_arn(const lm_ref *r, const char *qual, char *out, size_t cap); /* qual NULL/"" = none */
bool lm_is_number(const char *s);

/* ---- documents (lambda.c) ---- */
json_object *lm_doc_get(const char *account, const char *region, const char *kind,
                        const char *parent, const char *key);
void lm_doc_put(const char *account, const char *region, const char *kind, const char *parent,
                const char *key, int64_t seq, json_object *doc);
void lm_doc_del(const char *account, const char *region, const char *kind, const char *parent,
                const char *key); /* key NULL: every key under parent */
/* A cached, read-only, borrowed document (valid until the next write,
 * reset or lm_doc_cache_trim) for the invoke path; NULL when missing.
 * Call lm_doc_cache_trim before a series of peeks (at most a few
 * hundred) whose results are used together. */
void lm_doc_cache_trim(void);
json_object *lm_doc_peek(const char *account, const char *region, const char *kind,
                         const char *parent, const char *key);
/* Documents of a kind in (seq, key) order; parent NULL = any parent;
 * account NULL = every account and region. */
json_object *lm_doc_list(const char *account, const char *region, const char *kind,
                         const char *parent);
/* A copy without private members. */
json_object *lm_public(json_object *doc);

/* ---- code (lambda.c) ---- */
/* Check and store a zip; fills sha (base64) and sizes.  Fails the call
 * with AWS's error for a bad or oversized zip.  extra_unzipped counts
 * layers toward the 250 MB limit. */
nb_status lm_code_put(nb_call *call, const char *zip, size_t len, int64_t extra_unzipped,
                      char sha[48], int64_t *unzipped);
int64_t lm_code_unzipped(const char *sha);
void lm_code_gc(const char *sha);
void lm_code_url(const nb_call *call, const char *sha, char *out, size_t cap);
/* Code from S3 (S3Bucket/S3Key): fails with S3's missing bucket error. */
nb_status lm_code_s3(nb_call *call, json_object *in);

/* ---- helpers ---- */
void lm_timestamp(int64_t ms, char out[40]); /* "2024-01-01T00:00:00.000+0000" */
void lm_revision(char out[37]);
json_object *lm_copy(json_object *v);
void lm_set(json_object *o, const char *k, json_object *v);
json_object *lm_jstr(const char *s);
size_t lm_len(json_object *o); /* members of an object; 0 for NULL or another type */
/* Paginate an array by Marker (an index) and MaxItems; returns the page
 * (new array) and sets *next ("" when done). */
json_object *lm_page(json_object *all, const char *marker, int64_t max, char next[24]);
/* Answer a listing: the page of all (released here) that in's Marker and
 * MaxItems select, public copies under member, and NextMarker. */
void lm_list_out(nb_call *call, json_object *in, json_object *all, const char *member, int64_t max);
/* Output of GetPolicy / GetLayerVersionPolicy: the policy document AWS
 * renders for the statements, and the RevisionId. */
json_object *lm_policy_out(json_object *statements, const char *revision);
/* The statement with Sid sid (and its index), or NULL. */
json_object *lm_find_statement(json_object *statements, const char *sid, size_t *idx);
/* Output of AddPermission / AddLayerVersionPermission (without RevisionId). */
json_object *lm_statement_out(json_object *statement);
/* FunctionName (no Qualifier parameter) naming an existing function. */
nb_status lm_fn_require(nb_call *call, const char *function_name, lm_ref *r);
/* Split s at ':' into at most 9 fields; returns their number, or -1. */
int lm_split(const char *s, const char *f[9], size_t fl[9]);
/* 1..max characters of [a-zA-Z0-9_-]. */
bool lm_valid_name(const char *s, size_t n, size_t max);

/* ---- functions (lambda_fn.c) ---- */
/* The version document a qualifier names ("" or "$LATEST", a number, or
 * an alias: the alias's version), new reference or NULL after failing
 * with "Function not found". */
json_object *lm_version_doc(nb_call *call, const lm_ref *r, const char *qual);
json_object *lm_fn_doc(nb_call *call, const lm_ref *r); /* fails when missing */
void lm_fn_save(const lm_ref *r, json_object *fn);
/* Give a version document a new RevisionId and store it. */
void lm_touch_version(const lm_ref *r, json_object *ver);
/* Remove everything hanging off one qualifier (policy, eic, url). */
void lm_drop_qualifier(const lm_ref *r, const char *qual);

/* ---- handlers ---- */
#define LM_HANDLERS(X)                                                                         \
    X(CreateFunction, create_function)                                                     \
    X(GetFunction, get_function)                                                           \
    X(GetFunctionConfiguration, get_function_configuration)                                \
    X(UpdateFunctionCode, update_function_code)                                            \
    X(UpdateFunctionConfiguration, update_function_configuration)                          \
    X(DeleteFunction, delete_function)                                                     \
    X(ListFunctions, list_functions)                                                       \
    X(PublishVersion, publish_version)                                                     \
    X(ListVersionsByFunction, list_versions)                                               \
    X(CreateAlias, create_alias)                                                           \
    X(GetAlias, get_alias)                                                                 \
    X(UpdateAlias, update_alias)                                                           \
    X(DeleteAlias, delete_alias)                                                           \
    X(ListAliases, list_aliases)                                                           \
    X(AddPermission, add_permission)                                                       \
    X(RemovePermission, remove_permission)                                                 \
    X(GetPolicy, get_policy)                                                               \
    X(PutFunctionConcurrency, put_concurrency)                                             \
    X(GetFunctionConcurrency, get_concurrency)                                             \
    X(DeleteFunctionConcurrency, delete_concurrency)                                       \
    X(GetAccountSettings, get_account_settings)                                            \
    X(PutFunctionEventInvokeConfig, put_eic)                                               \
    X(UpdateFunctionEventInvokeConfig, update_eic)                                         \
    X(GetFunctionEventInvokeConfig, get_eic)                                               \
    X(DeleteFunctionEventInvokeConfig, delete_eic)                                         \
    X(ListFunctionEventInvokeConfigs, list_eics)                                           \
    X(CreateFunctionUrlConfig, create_url)                                                 \
    X(GetFunctionUrlConfig, get_url)                                                       \
    X(UpdateFunctionUrlConfig, update_url)                                                 \
    X(DeleteFunctionUrlConfig, delete_url)                                                 \
    X(ListFunctionUrlConfigs, list_urls)                                                   \
    X(TagResource, tag_resource)                                                           \
    X(UntagResource, untag_resource)                                                       \
    X(ListTags, list_tags)                                                                 \
    X(PutFunctionRecursionConfig, put_recursion)                                           \
    X(GetFunctionRecursionConfig, get_recursion)                                           \
    X(PutRuntimeManagementConfig, put_runtime_management)                                  \
    X(GetRuntimeManagementConfig, get_runtime_management)                                  \
    X(PublishLayerVersion, publish_layer_version)                                          \
    X(GetLayerVersion, get_layer_version)                                                  \
    X(GetLayerVersionByArn, get_layer_version_by_arn)                                      \
    X(ListLayers, list_layers)                                                             \
    X(ListLayerVersions, list_layer_versions)                                              \
    X(DeleteLayerVersion, delete_layer_version)                                            \
    X(AddLayerVersionPermission, add_layer_permission)                                     \
    X(RemoveLayerVersionPermission, remove_layer_permission)                               \
    X(GetLayerVersionPolicy, get_layer_policy)                                             \
    X(CreateEventSourceMapping, create_esm)                                                \
    X(GetEventSourceMapping, get_esm)                                                      \
    X(UpdateEventSourceMapping, update_esm)                                                \
    X(DeleteEventSourceMapping, delete_esm)                                                \
    X(ListEventSourceMappings, list_esms)                                                  \
    X(CreateCodeSigningConfig, create_csc)                                                 \
    X(GetCodeSigningConfig, get_csc)                                                       \
    X(UpdateCodeSigningConfig, update_csc)                                                 \
    X(DeleteCodeSigningConfig, delete_csc)                                                 \
    X(ListCodeSigningConfigs, list_cscs)                                                   \
    X(ListFunctionsByCodeSigningConfig, list_functions_by_csc)                             \
    X(PutFunctionCodeSigningConfig, put_function_csc)                                      \
    X(GetFunctionCodeSigningConfig, get_function_csc)                                      \
    X(DeleteFunctionCodeSigningConfig, delete_function_csc)

#define LM_DECLARE(op, fn) nb_status lm_##fn(nb_call *call, json_object *in);
LM_HANDLERS(LM_DECLARE)
#undef LM_DECLARE

/* Code signing (lambda_csc.c): fails unless arn names a config. */
nb_status lm_csc_check(nb_call *call, const char *arn);

/* Layers (lambda_layer.c): resolve a layer version ARN for a function's
 * Layers; NULL after failing the call. */
json_object *lm_layer_for_function(nb_call *call, const char *arn);
/* The syntax of a layer version ARN (arn:P:lambda:R:A:layer:NAME:N). */
bool lm_layer_arn_ok(const nb_call *call, const char *arn);

#endif
