/*
 * apigw_auth.c — route authorization on the HTTP API data plane.
 *
 * apigw_serve.c calls ag_authorize once a request matched a route of the
 * stage's deployment snapshot.  By the route's AuthorizationType:
 *
 *   NONE     go on.
 *   AWS_IAM  a SigV4 Authorization header must be present (nimbus does not
 *            check signatures anywhere); else 403.
 *   JWT      the token of the authorizer's identity source ("Bearer "
 *            optional) is decoded, its RS256/384/512 signature checked
 *            with the issuer's key of the same kid, then iss, aud (or
 *            client_id when aud is absent), exp, nbf, iat, and the route's
 *            AuthorizationScopes against scope / scp.  The keys come from
 *            {Issuer}/.well-known/openid-configuration → jwks_uri, fetched
 *            with the outbound client and cached per issuer for two hours
 *            (fetched again sooner, at most every 5 minutes, for a kid the
 *            keys lack); requests that arrive while a fetch runs wait in
 *            its list, and a failed fetch keeps the keys it had.
 *            401 for a missing or invalid token, 403 for missing scopes.
 *   CUSTOM   the Lambda REQUEST authorizer gets the payload format 1.0 or
 *            2.0 authorizer event through nb_invoke (Lambda's Invoke, as
 *            the integration does), and answers with a simple response
 *            (isAuthorized, context) or an IAM policy (Allow / Deny
 *            execute-api:Invoke on route ARNs, with * and ? wildcards).
 *            A missing identity source is 401 without invoking; results
 *            are cached per identity source values for the authorizer's
 *            AuthorizerResultTtlInSeconds; a function error or a malformed
 *            answer is 500.
 *
 * When a check needs I/O, the request is parked (r->call.park is an
 * ag_pend; a hang-up only clears its request pointer) and, once allowed,
 * served again from the start through nb_apigw_serve with g_pass naming
 * it (by address and request id), so ag_authorize lets it through and
 * ag_auth_context adds requestContext.authorizer to the event.  Lambda
 * calls start from a 0 ms timer, outside the request's store call.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "apigw_internal.h"
#include "core/http.h"
#include "core/http_client.h"
#include "services/lambda/lambda_internal.h"

#define JWKS_TTL_MS (2LL * 3600 * 1000)
#define JWKS_REFRESH_MS (5LL * 60 * 1000)
#define FETCH_TIMEOUT_MS 5000
#define RESULT_CACHE_MAX 1024

static void put(json_object *o, const char *k, json_object *v) { json_object_object_add(o, k, v); }

/* ---- JWT (pure) -------------------------------------------------------------- */

/* base64url without padding → bytes (malloc'd), or NULL. */
static unsigned char *b64url(const char *s, size_t n, size_t *outlen)
{
    if (n > 65536)
        return NULL;
    char *t = malloc(n + 4);
    if (!t)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (c == '+' || c == '/' || c == '=')
            c = '!'; /* not base64url: let the strict decoder refuse it */
        t[k++] = c;
    }
    if (k % 4 == 1) {
        free(t);
        return NULL;
    }
    while (k % 4)
        t[k++] = '=';
    unsigned char *out = nb_base64_decode(t, k, outlen);
    free(t);
    return out;
}

static json_object *b64url_json(const char *s, size_t n)
{
    size_t len = 0;
    unsigned char *raw = b64url(s, n, &len);
    if (!raw)
        return NULL;
    json_tokener *tk = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tk, (const char *)raw, (int)len);
    bool whole = o && json_tokener_get_error(tk) == json_tokener_success &&
                 json_tokener_get_parse_end(tk) == len;
    json_tokener_free(tk);
    free(raw);
    if (!whole || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

void ag_jwt_free(ag_jwt *j)
{
    json_object_put(j->header);
    json_object_put(j->claims);
    free(j->sig);
    memset(j, 0, sizeof *j);
}

int ag_jwt_parse(const char *tok, size_t n, ag_jwt *out, char *err, size_t errn)
{
    memset(out, 0, sizeof *out);
    const char *d1 = memchr(tok, '.', n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - tok)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - tok))) {
        snprintf(err, errn, "token contains an invalid number of segments");
        return -1;
    }
    out->header = b64url_json(tok, (size_t)(d1 - tok));
    out->claims = b64url_json(d1 + 1, (size_t)(d2 - d1 - 1));
    out->sig = b64url(d2 + 1, n - (size_t)(d2 + 1 - tok), &out->sig_len);
    out->signed_len = (size_t)(d2 - tok);
    if (!out->header || !out->claims || !out->sig || out->sig_len == 0) {
        snprintf(err, errn, "token is malformed");
        ag_jwt_free(out);
        return -1;
    }
    return 0;
}

/* An RSA public key from a JWK's n and e, or NULL. */
static EVP_PKEY *rsa_key(json_object *jwk)
{
    const char *ns = nb_str(jwk, "n"), *es = nb_str(jwk, "e");
    if (!ns || !es)
        return NULL;
    size_t nl = 0, el = 0;
    unsigned char *nb = b64url(ns, strlen(ns), &nl), *eb = b64url(es, strlen(es), &el);
    EVP_PKEY *key = NULL;
    if (nb && eb && nl > 0 && nl <= 1024 && el > 0 && el <= 16) {
        BIGNUM *n = BN_bin2bn(nb, (int)nl, NULL), *e = BN_bin2bn(eb, (int)el, NULL);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            params = OSSL_PARAM_BLD_to_param(bld);
        EVP_PKEY_CTX *ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL) : NULL;
        if (ctx && EVP_PKEY_fromdata_init(ctx) > 0 &&
            EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
            key = NULL;
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        BN_free(n);
        BN_free(e);
    }
    free(nb);
    free(eb);
    return key;
}

int ag_jwt_verify(const ag_jwt *j, const char *tok, json_object *jwks, char *err, size_t errn)
{
    const char *alg = nb_str(j->header, "alg"), *kid = nb_str(j->header, "kid");
    const EVP_MD *md = NULL;
    if (alg && strcmp(alg, "RS256") == 0)
        md = EVP_sha256();
    else if (alg && strcmp(alg, "RS384") == 0)
        md = EVP_sha384();
    else if (alg && strcmp(alg, "RS512") == 0)
        md = EVP_sha512();
    if (!md) {
        snprintf(err, errn, "signing method %.32s is invalid", alg ? alg : "(none)");
        return -1;
    }
    json_object *keys = nb_get(jwks, "keys"), *jwk = NULL;
    size_t nk = json_object_is_type(keys, json_type_array) ? json_object_array_length(keys) : 0;
    for (size_t i = 0; kid && !jwk && i < nk; i++) {
        json_object *k = json_object_array_get_idx(keys, i);
        const char *kk = nb_str(k, "kid"), *kty = nb_str(k, "kty");
        if (kk && strcmp(kk, kid) == 0 && (!kty || strcmp(kty, "RSA") == 0))
            jwk = k;
    }
    if (!jwk) {
        snprintf(err, errn, "unable to find the key with kid %.64s", kid ? kid : "(none)");
        return -1;
    }
    EVP_PKEY *key = rsa_key(jwk);
    EVP_MD_CTX *mc = key ? EVP_MD_CTX_new() : NULL;
    int ok = mc && EVP_DigestVerifyInit(mc, NULL, md, NULL, key) == 1 &&
             EVP_DigestVerify(mc, j->sig, j->sig_len, (const unsigned char *)tok, j->signed_len) == 1;
    EVP_MD_CTX_free(mc);
    EVP_PKEY_free(key);
    if (!ok) {
        snprintf(err, errn, "%s", key ? "crypto/rsa: verification error" : "invalid key");
        return -1;
    }
    return 0;
}

/* A numeric claim: absent is fine (true), present must be a number. */
static bool time_claim(json_object *claims, const char *k, int64_t *v, bool *present)
{
    json_object *o = nb_get(claims, k);
    *present = o != NULL;
    if (!o)
        return true;
    if (!json_object_is_type(o, json_type_int) && !json_object_is_type(o, json_type_double))
        return false;
    double d = json_object_get_double(o);
    if (!(d > -9e18 && d < 9e18))
        return false; /* NaN or beyond any time: not a valid NumericDate */
    *v = (int64_t)d;
    return true;
}

static bool in_list(json_object *list, const char *s)
{
    size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    for (size_t i = 0; s && i < n; i++) {
        const char *x = json_object_get_string(json_object_array_get_idx(list, i));
        if (x && strcmp(x, s) == 0)
            return true;
    }
    return false;
}

int ag_jwt_claims_check(const ag_jwt *j, const char *issuer, json_object *audiences, int64_t now,
                        char *err, size_t errn)
{
    json_object *c = j->claims;
    const char *iss = nb_str(c, "iss");
    if (!iss || !json_object_is_type(nb_get(c, "iss"), json_type_string) || !issuer ||
        strcmp(iss, issuer) != 0) {
        snprintf(err, errn, "the token does not have a valid issuer");
        return -1;
    }
    json_object *aud = nb_get(c, "aud");
    bool aud_ok = false;
    if (aud && json_object_is_type(aud, json_type_array)) {
        for (size_t i = 0; !aud_ok && i < json_object_array_length(aud); i++) {
            json_object *a = json_object_array_get_idx(aud, i);
            aud_ok = json_object_is_type(a, json_type_string) && in_list(audiences, json_object_get_string(a));
        }
    } else if (aud) {
        aud_ok = json_object_is_type(aud, json_type_string) && in_list(audiences, json_object_get_string(aud));
    } else {
        json_object *cid = nb_get(c, "client_id");
        aud_ok = json_object_is_type(cid, json_type_string) && in_list(audiences, json_object_get_string(cid));
    }
    if (!aud_ok) {
        snprintf(err, errn, "the token does not have a valid audience");
        return -1;
    }
    int64_t exp = 0, nbf = 0, iat = 0;
    bool has_exp, has_nbf, has_iat;
    if (!time_claim(c, "exp", &exp, &has_exp) || !time_claim(c, "nbf", &nbf, &has_nbf) ||
        !time_claim(c, "iat", &iat, &has_iat)) {
        snprintf(err, errn, "the token has an invalid time claim");
        return -1;
    }
    if (has_exp && now >= exp) {
        snprintf(err, errn, "the token has expired");
        return -1;
    }
    if (has_nbf && now < nbf) {
        snprintf(err, errn, "the token is not valid yet");
        return -1;
    }
    if (has_iat && now < iat) {
        snprintf(err, errn, "the token was issued in the future");
        return -1;
    }
    return 0;
}

/* The token's scopes: "scope" (space separated) or "scp" (a list or a
 * space-separated string), as a new array (maybe empty). */
static json_object *token_scopes(json_object *claims)
{
    json_object *out = json_object_new_array(), *v = nb_get(claims, "scope");
    if (!v)
        v = nb_get(claims, "scp");
    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object *x = json_object_array_get_idx(v, i);
            if (json_object_is_type(x, json_type_string))
                json_object_array_add(out, json_object_get(x));
        }
    } else if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        while (*s) {
            size_t n = strcspn(s, " ");
            if (n)
                json_object_array_add(out, json_object_new_string_len(s, (int)n));
            s += n;
            s += strspn(s, " ");
        }
    }
    return out;
}

/* Claims as API Gateway hands them on: every value a string (numbers and
 * booleans as text, lists as "[a b]", objects as JSON). */
static json_object *claims_out(json_object *claims)
{
    json_object *o = json_object_new_object();
    json_object_object_foreach(claims, k, v) {
        if (json_object_is_type(v, json_type_string)) {
            put(o, k, json_object_get(v));
        } else if (json_object_is_type(v, json_type_array)) {
            nb_buf b = {0};
            nb_buf_add(&b, "[", 1);
            for (size_t i = 0; i < json_object_array_length(v); i++) {
                if (i)
                    nb_buf_add(&b, " ", 1);
                const char *s = json_object_get_string(json_object_array_get_idx(v, i));
                nb_buf_add(&b, s ? s : "", s ? strlen(s) : 0);
            }
            nb_buf_add(&b, "]", 1);
            put(o, k, json_object_new_string_len(b.data, (int)b.len));
            free(b.data);
        } else if (json_object_is_type(v, json_type_double)) {
            char t[64];
            double d = json_object_get_double(v);
            if (d > -9e18 && d < 9e18 && d == (double)(int64_t)d)
                snprintf(t, sizeof t, "%lld", (long long)d);
            else
                snprintf(t, sizeof t, "%.17g", d);
            put(o, k, json_object_new_string(t));
        } else {
            put(o, k, json_object_new_string(v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "null"));
        }
    }
    return o;
}

/* ---- the request view ------------------------------------------------------ */

typedef struct {
    nb_req *r;
    const char *api, *stage_name, *path;
    size_t plen;
    json_object *stage, *route, *authz, *params;
    char route_arn[1024];
} ag_view;

/* The value an identity source names, or NULL (owned string). */
static char *identity(const ag_view *v, const char *src)
{
    const char *k;
    if (strncmp(src, "$request.header.", 16) == 0) {
        char lname[300];
        size_t i = 0;
        for (k = src + 16; *k && i + 1 < sizeof lname; k++)
            lname[i++] = (char)tolower((unsigned char)*k);
        lname[i] = 0;
        size_t n = 0;
        const char *h = nb_req_header(v->r, lname, &n);
        return h && n ? strndup(h, n) : NULL;
    }
    if (strncmp(src, "$request.querystring.", 21) == 0) {
        json_object *q = lm_http_query(v->r->query ? v->r->query : "", v->r->query ? v->r->query_len : 0);
        const char *s = nb_str(q, src + 21);
        char *out = s && s[0] ? strdup(s) : NULL;
        json_object_put(q);
        return out;
    }
    if (strncmp(src, "$stageVariables.", 16) == 0) {
        const char *s = nb_str(nb_get(v->stage, "StageVariables"), src + 16);
        return s && s[0] ? strdup(s) : NULL;
    }
    if (strncmp(src, "$context.", 9) == 0) {
        k = src + 9;
        const nb_call *c = &v->r->call;
        const char *s = !strcmp(k, "requestId") ? c->request_id
                        : !strcmp(k, "routeKey") ? nb_str(v->route, "RouteKey")
                        : !strcmp(k, "stage")    ? v->stage_name
                        : !strcmp(k, "apiId")    ? v->api
                        : !strcmp(k, "accountId") ? c->account
                        : !strcmp(k, "httpMethod") ? v->r->method
                                                   : NULL;
        return s && s[0] ? strdup(s) : NULL;
    }
    return NULL;
}

/* ---- what a passed request carries ----------------------------------------- */

typedef struct {
    nb_req *r;
    char request_id[40];
    char authz_id[32];
    json_object *claims, *scopes;   /* JWT */
    json_object *lambda;            /* Lambda context (or NULL) */
    char principal[256];
    bool is_lambda;
} ag_passed;

static ag_passed g_pass;

static void pass_clear(void)
{
    json_object_put(g_pass.claims);
    json_object_put(g_pass.scopes);
    json_object_put(g_pass.lambda);
    memset(&g_pass, 0, sizeof g_pass);
}

static void pass_set(nb_req *r, const char *authz_id)
{
    pass_clear();
    g_pass.r = r;
    snprintf(g_pass.request_id, sizeof g_pass.request_id, "%s", r->call.request_id);
    snprintf(g_pass.authz_id, sizeof g_pass.authz_id, "%s", authz_id);
}

static bool passed(const nb_req *r)
{
    return g_pass.r == r && strcmp(g_pass.request_id, r->call.request_id) == 0;
}

void ag_auth_context(const nb_req *r, json_object *ctx, bool v1)
{
    if (!passed(r))
        return;
    json_object *a = json_object_new_object();
    if (g_pass.is_lambda && v1) {
        json_object_object_foreach(g_pass.lambda, k, val) put(a, k, json_object_get(val));
        if (g_pass.principal[0])
            put(a, "principalId", json_object_new_string(g_pass.principal));
        put(a, "integrationLatency", json_object_new_int(0));
    } else if (g_pass.is_lambda) {
        put(a, "lambda", json_object_get(g_pass.lambda));
    } else {
        json_object *j = v1 ? a : json_object_new_object();
        put(j, "claims", json_object_get(g_pass.claims));
        put(j, "scopes", json_object_get(g_pass.scopes));
        if (!v1)
            put(a, "jwt", j);
    }
    put(ctx, "authorizer", a);
}

/* ---- answers --------------------------------------------------------------- */

static void answer(nb_req *r, int status, const char *body, const char *www)
{
    if (www)
        nb_resp_header(r, "www-authenticate", www);
    r->status = status;
    r->content_type = "application/json";
    nb_buf_add(&r->rbody, body, strlen(body));
    nb_req_finish(r);
}

static void unauthorized(nb_req *r, const char *www) { answer(r, 401, "{\"message\":\"Unauthorized\"}", www); }
static void forbidden(nb_req *r, const char *www) { answer(r, 403, "{\"message\":\"Forbidden\"}", www); }
static void internal(nb_req *r) { answer(r, 500, "{\"message\":\"Internal Server Error\"}", NULL); }

/* Serve r again, allowed (g_pass already set for it). */
static void resume(nb_req *r)
{
    r->call.park = NULL;
    r->call.on_cancel = NULL;
    r->rhead.len = 0; /* the first pass's response headers are added again */
    nb_apigw_serve(r);
    pass_clear();
}

/* ---- parked requests ------------------------------------------------------- */

typedef struct ag_pend {
    nb_req *r;                /* NULL once the client went away */
    struct ag_pend *next;     /* in a JWKS fetch's waiters, or the invoke queue */
    json_object *authz;       /* the authorizer doc (owned) */
    json_object *scopes;      /* the route's AuthorizationScopes (owned, maybe NULL) */
    char *token;              /* JWT */
    json_object *invoke_in;   /* Lambda: the Invoke input (owned) */
    char *cache_key;          /* Lambda: result cache key, or NULL */
    int64_t ttl_ms;
    char route_arn[1024];
} ag_pend;

static void pend_free(ag_pend *p)
{
    json_object_put(p->authz);
    json_object_put(p->scopes);
    json_object_put(p->invoke_in);
    free(p->token);
    free(p->cache_key);
    free(p);
}

static void pend_cancelled(nb_call *call)
{
    ag_pend *p = call->park;
    p->r = NULL;
}

static void park(nb_req *r, ag_pend *p)
{
    p->r = r;
    r->call.park = p;
    r->call.on_cancel = pend_cancelled;
}

/* ---- JWT authorizers ------------------------------------------------------- */

typedef struct jwks_entry {
    struct jwks_entry *next;
    char *issuer;
    json_object *jwks;        /* NULL until fetched */
    int64_t expires_ms;
    nb_http_fetch *fetch;     /* in flight, or NULL */
    bool want_keys;           /* the fetch in flight is the jwks_uri one */
    ag_pend *waiters;
} jwks_entry;

static jwks_entry *g_jwks;

static void jwt_decide(nb_req *r, bool again, json_object *authz, json_object *route_scopes,
                       const char *tok, json_object *jwks);

static void jwks_wake(jwks_entry *e)
{
    ag_pend *w = e->waiters;
    e->waiters = NULL;
    while (w) {
        ag_pend *next = w->next;
        if (w->r) {
            nb_req *r = w->r;
            r->call.park = NULL;
            r->call.on_cancel = NULL;
            jwt_decide(r, true, w->authz, w->scopes, w->token, e->jwks);
        }
        pend_free(w);
        w = next;
    }
}

static void jwks_fetch(jwks_entry *e, const char *url);

static void jwks_got(const nb_http_result *res, void *arg)
{
    jwks_entry *e = arg;
    e->fetch = NULL;
    json_object *o = res->error == NB_HTTP_OK && res->status == 200
                         ? lm_http_parse_json(res->body, res->body_len) : NULL;
    if (!e->want_keys) {
        const char *uri = nb_str(o, "jwks_uri");
        if (uri) {
            e->want_keys = true;
            jwks_fetch(e, uri);
            json_object_put(o);
            if (e->fetch)
                return;
            o = NULL;
        } else {
            NB_WARN("apigatewayv2: no jwks_uri in %s/.well-known/openid-configuration (%s, HTTP %d)",
                    e->issuer, nb_http_error_name(res->error), res->status);
        }
    } else if (!json_object_is_type(nb_get(o, "keys"), json_type_array)) {
        NB_WARN("apigatewayv2: no JWKS for issuer %s (%s, HTTP %d)", e->issuer,
                nb_http_error_name(res->error), res->status);
        json_object_put(o);
        o = NULL;
    }
    if (e->want_keys && o) {
        json_object_put(e->jwks);
        e->jwks = o;
        e->expires_ms = nb_now_ms() + JWKS_TTL_MS;
    } else {
        json_object_put(o);
    }
    e->want_keys = false;
    jwks_wake(e); /* without keys every waiter gets 401 */
}

static void jwks_fetch(jwks_entry *e, const char *url)
{
    nb_http_request rq = {.method = "GET", .url = url, .timeout_ms = FETCH_TIMEOUT_MS};
    e->fetch = nb_http_fetch_start(&rq, jwks_got, e);
}

static jwks_entry *jwks_for(const char *issuer)
{
    for (jwks_entry *e = g_jwks; e; e = e->next)
        if (strcmp(e->issuer, issuer) == 0)
            return e;
    jwks_entry *e = nb_calloc(1, sizeof *e);
    e->issuer = strdup(issuer);
    e->next = g_jwks;
    g_jwks = e;
    return e;
}

/* Decide a JWT request with the issuer's keys (NULL: none to be had): answer
 * r, or mark it passed (and, again: after a fetch, serve it again). */
static void jwt_decide(nb_req *r, bool again, json_object *authz, json_object *route_scopes,
                       const char *tok, json_object *jwks)
{
    json_object *jc = nb_get(authz, "JwtConfiguration");
    ag_jwt j;
    char err[200], www[512];
    size_t n = strlen(tok);
    int rc = ag_jwt_parse(tok, n, &j, err, sizeof err);
    if (rc == 0 && !jwks) {
        snprintf(err, sizeof err, "unable to fetch the issuer's signing keys");
        rc = -1;
    }
    if (rc == 0)
        rc = ag_jwt_verify(&j, tok, jwks, err, sizeof err);
    if (rc == 0)
        rc = ag_jwt_claims_check(&j, nb_str(jc, "Issuer"), nb_get(jc, "Audience"),
                                 r->call.now_ms / 1000, err, sizeof err);
    if (rc != 0) {
        snprintf(www, sizeof www, "Bearer scope=\"\" error=\"invalid_token\" error_description=\"%s\"", err);
        unauthorized(r, www);
        ag_jwt_free(&j);
        return;
    }
    json_object *have = token_scopes(j.claims);
    size_t want = route_scopes ? json_object_array_length(route_scopes) : 0;
    bool ok = want == 0;
    for (size_t i = 0; !ok && i < want; i++)
        ok = in_list(have, json_object_get_string(json_object_array_get_idx(route_scopes, i)));
    if (!ok) {
        nb_buf b = {0};
        for (size_t i = 0; i < want; i++) {
            const char *s = json_object_get_string(json_object_array_get_idx(route_scopes, i));
            if (i)
                nb_buf_add(&b, " ", 1);
            nb_buf_add(&b, s, strlen(s));
        }
        snprintf(www, sizeof www, "Bearer scope=\"%.*s\" error=\"insufficient_scope\" "
                 "error_description=\"expected scopes: [%.*s]\"", (int)b.len, b.data ? b.data : "",
                 (int)b.len, b.data ? b.data : "");
        free(b.data);
        forbidden(r, www);
        json_object_put(have);
        ag_jwt_free(&j);
        return;
    }
    pass_set(r, nb_str(authz, "AuthorizerId"));
    g_pass.claims = claims_out(j.claims);
    if (json_object_array_length(have))
        g_pass.scopes = have;
    else
        json_object_put(have);
    ag_jwt_free(&j);
    if (again)
        resume(r);
}

/* The token of a JWT authorizer's identity source, or NULL. */
static char *bearer(const ag_view *v)
{
    json_object *src = nb_get(v->authz, "IdentitySource");
    const char *s = json_object_get_string(json_object_array_get_idx(src, 0));
    char *val = identity(v, s ? s : "$request.header.Authorization");
    if (val && strncasecmp(val, "Bearer ", 7) == 0) {
        char *t = strdup(val + 7 + strspn(val + 7, " "));
        free(val);
        val = t;
    }
    if (val && !val[0]) {
        free(val);
        val = NULL;
    }
    return val;
}

/* True unless tok parses and names a kid the keys lack (keys rotated: the
 * issuer's keys are fetched again, at most every JWKS_REFRESH_MS). */
static bool knows_kid(json_object *jwks, const char *tok)
{
    ag_jwt j;
    char err[128];
    if (ag_jwt_parse(tok, strlen(tok), &j, err, sizeof err) != 0)
        return true;
    const char *kid = nb_str(j.header, "kid");
    json_object *keys = nb_get(jwks, "keys");
    bool found = !kid;
    size_t n = json_object_is_type(keys, json_type_array) ? json_object_array_length(keys) : 0;
    for (size_t i = 0; !found && i < n; i++) {
        const char *k = nb_str(json_object_array_get_idx(keys, i), "kid");
        found = k && strcmp(k, kid) == 0;
    }
    ag_jwt_free(&j);
    return found;
}

/* True when r may go on now (passed without I/O). */
static bool jwt_authorize(ag_view *v)
{
    nb_req *r = v->r;
    char *tok = bearer(v);
    if (!tok) {
        unauthorized(r, "Bearer");
        return false;
    }
    ag_jwt j;
    char err[200], www[300];
    if (ag_jwt_parse(tok, strlen(tok), &j, err, sizeof err) != 0) { /* no keys needed */
        snprintf(www, sizeof www, "Bearer scope=\"\" error=\"invalid_token\" error_description=\"%s\"", err);
        unauthorized(r, www);
        free(tok);
        return false;
    }
    ag_jwt_free(&j);
    const char *issuer = nb_str(nb_get(v->authz, "JwtConfiguration"), "Issuer");
    jwks_entry *e = jwks_for(issuer ? issuer : "");
    json_object *scopes = nb_get(v->route, "AuthorizationScopes");
    if (e->jwks && e->expires_ms > nb_now_ms() &&
        (knows_kid(e->jwks, tok) || e->expires_ms - JWKS_TTL_MS + JWKS_REFRESH_MS > nb_now_ms())) {
        jwt_decide(r, false, v->authz, scopes, tok, e->jwks);
        free(tok);
        return passed(r);
    }
    ag_pend *p = nb_calloc(1, sizeof *p);
    p->authz = json_object_get(v->authz);
    p->scopes = json_object_get(scopes);
    p->token = tok;
    park(r, p);
    p->next = e->waiters;
    e->waiters = p;
    if (!e->fetch) {
        char url[2300];
        size_t il = strlen(e->issuer);
        while (il && e->issuer[il - 1] == '/')
            il--;
        snprintf(url, sizeof url, "%.*s/.well-known/openid-configuration", (int)il, e->issuer);
        e->want_keys = false;
        jwks_fetch(e, url);
        if (!e->fetch)
            NB_WARN("apigatewayv2: cannot fetch %s", url);
    }
    return false;
}

/* ---- Lambda authorizers ---------------------------------------------------- */

typedef struct result_entry {
    struct result_entry *next;
    char *key;
    json_object *answer;     /* the function's parsed answer */
    int64_t expires_ms;
} result_entry;

static result_entry *g_results;
static int g_nresults;
static ag_pend *g_invoke_q;
static uv_timer_t g_kick;
static bool g_kick_init;

/* Glob with * (any run) and ? (any one character). */
static bool glob(const char *p, const char *s)
{
    const char *star = NULL, *resume_s = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume_s = s;
        } else if (*p == '?' || *p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++resume_s;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == 0;
}

static bool any_glob(json_object *pats, const char *s)
{
    if (json_object_is_type(pats, json_type_string))
        return glob(json_object_get_string(pats), s);
    size_t n = json_object_is_type(pats, json_type_array) ? json_object_array_length(pats) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *x = json_object_array_get_idx(pats, i);
        if (json_object_is_type(x, json_type_string) && glob(json_object_get_string(x), s))
            return true;
    }
    return false;
}

/* An IAM policy answer against the route ARN: 1 allow, 0 deny, -1 malformed. */
static int policy_allows(json_object *ans, const char *route_arn)
{
    json_object *st = nb_get(nb_get(ans, "policyDocument"), "Statement");
    if (!st)
        return -1;
    bool single = json_object_is_type(st, json_type_object);
    if (!single && !json_object_is_type(st, json_type_array))
        return -1;
    size_t n = single ? 1 : json_object_array_length(st);
    bool allow = false;
    for (size_t i = 0; i < n; i++) {
        json_object *s = single ? st : json_object_array_get_idx(st, i);
        const char *eff = nb_str(s, "Effect");
        if (!eff || !any_glob(nb_get(s, "Action"), "execute-api:Invoke") ||
            !any_glob(nb_get(s, "Resource"), route_arn))
            continue;
        if (strcasecmp(eff, "Deny") == 0)
            return 0;
        if (strcasecmp(eff, "Allow") == 0)
            allow = true;
    }
    return allow ? 1 : 0;
}

/* Decide with the function's answer: true when allowed (g_pass set). */
static bool lambda_decide(nb_req *r, json_object *authz, json_object *ans, const char *route_arn)
{
    bool simple = false;
    nb_bool(authz, "EnableSimpleResponses", &simple);
    const char *pfv = nb_str(authz, "AuthorizerPayloadFormatVersion");
    json_object *ctx = nb_get(ans, "context");
    int verdict;
    if (!json_object_is_type(ans, json_type_object)) {
        verdict = -1;
    } else if (simple && pfv && strcmp(pfv, "2.0") == 0) {
        json_object *ok = nb_get(ans, "isAuthorized");
        verdict = json_object_is_type(ok, json_type_boolean) ? json_object_get_boolean(ok) : -1;
    } else {
        verdict = policy_allows(ans, route_arn);
    }
    if (ctx && !json_object_is_type(ctx, json_type_object))
        verdict = -1;
    if (verdict < 0) {
        internal(r);
        return false;
    }
    if (verdict == 0) {
        forbidden(r, NULL);
        return false;
    }
    pass_set(r, nb_str(authz, "AuthorizerId"));
    g_pass.is_lambda = true;
    g_pass.lambda = ctx ? json_object_get(ctx) : NULL;
    const char *pid = nb_str(ans, "principalId");
    snprintf(g_pass.principal, sizeof g_pass.principal, "%s", pid ? pid : "");
    return true;
}

static void cache_put(const char *key, json_object *ans, int64_t ttl_ms)
{
    int64_t now = nb_now_ms();
    result_entry **pp = &g_results;
    while (*pp) { /* drop this key and whatever expired */
        result_entry *e = *pp;
        if (e->expires_ms <= now || strcmp(e->key, key) == 0) {
            *pp = e->next;
            free(e->key);
            json_object_put(e->answer);
            free(e);
            g_nresults--;
        } else {
            pp = &e->next;
        }
    }
    if (g_nresults >= RESULT_CACHE_MAX)
        return;
    result_entry *e = nb_calloc(1, sizeof *e);
    e->key = strdup(key);
    e->answer = json_object_get(ans);
    e->expires_ms = now + ttl_ms;
    e->next = g_results;
    g_results = e;
    g_nresults++;
}

static json_object *cache_get(const char *key)
{
    int64_t now = nb_now_ms();
    for (result_entry *e = g_results; e; e = e->next)
        if (e->expires_ms > now && strcmp(e->key, key) == 0)
            return e->answer;
    return NULL;
}

static void invoked(nb_call *call, nb_status st, void *arg)
{
    ag_pend *p = arg;
    json_object *pl = st == NB_OK ? nb_get(call->out, "Payload") : NULL;
    json_object *ans = pl && !nb_get(call->out, "FunctionError")
                           ? lm_http_parse_json(json_object_get_string(pl),
                                                (size_t)json_object_get_string_len(pl))
                           : NULL;
    if (!ans)
        NB_WARN("apigatewayv2: authorizer %s failed: %s", nb_str(p->authz, "AuthorizerId"),
                st != NB_OK ? call->err.message : "no usable answer");
    if (ans && p->cache_key && p->ttl_ms > 0)
        cache_put(p->cache_key, ans, p->ttl_ms);
    nb_req *r = p->r;
    if (r) {
        r->call.park = NULL;
        r->call.on_cancel = NULL;
        if (!ans)
            internal(r);
        else if (lambda_decide(r, p->authz, ans, p->route_arn))
            resume(r);
    }
    json_object_put(ans);
    pend_free(p);
}

static void kick(uv_timer_t *t)
{
    (void)t;
    ag_pend *q = g_invoke_q;
    g_invoke_q = NULL;
    while (q) {
        ag_pend *p = q;
        q = q->next;
        if (!p->r) {
            pend_free(p);
            continue;
        }
        char fn[512];
        ag_lambda_target(nb_str(p->authz, "AuthorizerUri"), fn, sizeof fn);
        json_object *in = json_object_new_object();
        put(in, "FunctionName", json_object_new_string(fn));
        put(in, "Payload", json_object_get(nb_get(p->invoke_in, "Payload")));
        nb_invoke(&p->r->call, "lambda", "Invoke", in, invoked, p);
        json_object_put(in);
    }
}

/* What both authorizer event formats take from the request. */
typedef struct {
    char ip[64], tm[64];
    const char *qs, *ua, *res;  /* query, user agent, route resource ("/a/{b}") */
    size_t qn, ul;
    json_object *svars;         /* stage variables, or NULL when none */
    bool has_params;
} ev_parts;

/* The 1.0 members (methodArn, identitySource and authorizationToken
 * comma-joined, multi-value-free headers and query, identity). */
static void event_v1(const ag_view *v, const ev_parts *e, json_object *ev, json_object *rc,
                     json_object *values)
{
    nb_req *r = v->r;
    nb_buf joined = {0};
    for (size_t i = 0; i < json_object_array_length(values); i++) {
        const char *s = json_object_get_string(json_object_array_get_idx(values, i));
        if (i)
            nb_buf_add(&joined, ",", 1);
        nb_buf_add(&joined, s, strlen(s));
    }
    json_object *js = json_object_new_string_len(joined.data ? joined.data : "", (int)joined.len);
    free(joined.data);
    put(ev, "methodArn", json_object_new_string(v->route_arn));
    put(ev, "identitySource", js);
    put(ev, "authorizationToken", json_object_get(js));
    put(ev, "resource", json_object_new_string(e->res));
    put(ev, "path", json_object_new_string_len(v->path, (int)v->plen));
    put(ev, "httpMethod", json_object_new_string(r->method));
    put(ev, "headers", lm_http_headers(r, NULL, e->ip));
    json_object *query = lm_http_query(e->qs, e->qn);
    put(ev, "queryStringParameters", json_object_object_length(query) ? json_object_get(query) : NULL);
    json_object_put(query);
    put(rc, "httpMethod", json_object_new_string(r->method));
    put(rc, "path", json_object_new_string_len(v->path, (int)v->plen));
    put(rc, "resourcePath", json_object_new_string(e->res));
    put(rc, "requestTime", json_object_new_string(e->tm));
    put(rc, "requestTimeEpoch", json_object_new_int64(r->call.now_ms));
    json_object *id = json_object_new_object();
    put(id, "sourceIp", json_object_new_string(e->ip));
    put(id, "userAgent", json_object_new_string_len(e->ua, (int)e->ul));
    put(rc, "identity", id);
    put(ev, "pathParameters", e->has_params ? json_object_get(v->params) : json_object_new_object());
    put(ev, "stageVariables", e->svars ? json_object_get(e->svars) : NULL);
}

/* The 2.0 members (routeArn, identitySource list, cookies, http). */
static void event_v2(const ag_view *v, const ev_parts *e, json_object *ev, json_object *rc,
                     json_object *values)
{
    nb_req *r = v->r;
    put(ev, "routeArn", json_object_new_string(v->route_arn));
    put(ev, "identitySource", json_object_get(values));
    put(ev, "routeKey", json_object_new_string(nb_str(v->route, "RouteKey")));
    put(ev, "rawPath", json_object_new_string_len(v->path, (int)v->plen));
    put(ev, "rawQueryString", json_object_new_string_len(e->qs, (int)e->qn));
    json_object *cookies = json_object_new_array();
    json_object *headers = lm_http_headers(r, cookies, e->ip), *query = lm_http_query(e->qs, e->qn);
    if (json_object_array_length(cookies))
        put(ev, "cookies", json_object_get(cookies));
    put(ev, "headers", headers);
    if (json_object_object_length(query))
        put(ev, "queryStringParameters", json_object_get(query));
    json_object_put(cookies);
    json_object_put(query);
    json_object *http = json_object_new_object();
    put(http, "method", json_object_new_string(r->method));
    put(http, "path", json_object_new_string_len(v->path, (int)v->plen));
    put(http, "protocol", json_object_new_string("HTTP/1.1"));
    put(http, "sourceIp", json_object_new_string(e->ip));
    put(http, "userAgent", json_object_new_string_len(e->ua, (int)e->ul));
    put(rc, "http", http);
    put(rc, "time", json_object_new_string(e->tm));
    put(rc, "timeEpoch", json_object_new_int64(r->call.now_ms));
    if (e->has_params)
        put(ev, "pathParameters", json_object_get(v->params));
    if (e->svars)
        put(ev, "stageVariables", json_object_get(e->svars));
}

/* The 1.0 / 2.0 authorizer event (text, malloc'd). */
static char *authorizer_event(const ag_view *v, bool v1, json_object *values)
{
    nb_req *r = v->r;
    nb_call *c = &r->call;
    ev_parts e = {.qs = r->query ? r->query : "", .qn = r->query ? r->query_len : 0};
    nb_req_peer(r, e.ip, sizeof e.ip);
    e.ua = nb_req_header(r, "user-agent", &e.ul);
    if (!e.ua)
        e.ua = "";
    time_t secs = (time_t)(c->now_ms / 1000);
    struct tm g;
    gmtime_r(&secs, &g);
    strftime(e.tm, sizeof e.tm, "%d/%b/%Y:%H:%M:%S +0000", &g);
    const char *rk = nb_str(v->route, "RouteKey");
    e.res = rk && strchr(rk, '/') ? strchr(rk, '/') : "/";
    e.svars = nb_get(v->stage, "StageVariables");
    if (e.svars && !json_object_object_length(e.svars))
        e.svars = NULL;
    e.has_params = json_object_object_length(v->params) > 0;

    char domain[320];
    size_t hl = 0;
    const char *host = nb_req_header(r, "host", &hl);
    snprintf(domain, sizeof domain, "%.*s", host ? (int)hl : 0, host ? host : "");
    char *colon = strrchr(domain, ':'), *dot;
    if (colon)
        *colon = 0;
    dot = strchr(domain, '.');
    json_object *ev = json_object_new_object(), *rc = json_object_new_object();
    put(ev, "version", json_object_new_string(v1 ? "1.0" : "2.0"));
    put(ev, "type", json_object_new_string("REQUEST"));
    put(rc, "accountId", json_object_new_string(c->account));
    put(rc, "apiId", json_object_new_string(v->api));
    put(rc, "domainName", json_object_new_string(domain));
    put(rc, "domainPrefix", json_object_new_string_len(domain, dot ? (int)(dot - domain) : (int)strlen(domain)));
    put(rc, "requestId", json_object_new_string(c->request_id));
    put(rc, "routeKey", json_object_new_string(rk));
    put(rc, "stage", json_object_new_string(v->stage_name));
    if (v1)
        event_v1(v, &e, ev, rc, values);
    else
        event_v2(v, &e, ev, rc, values);
    put(ev, "requestContext", rc);
    char *s = strdup(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(ev);
    return s;
}

static bool lambda_authorize(ag_view *v)
{
    nb_req *r = v->r;
    json_object *src = nb_get(v->authz, "IdentitySource"), *values = json_object_new_array();
    nb_buf key = {0};
    char head[200];
    int hn = snprintf(head, sizeof head, "%s\n%s\n%s", v->api, v->stage_name,
                      nb_str(v->authz, "AuthorizerId"));
    nb_buf_add(&key, head, (size_t)hn);
    for (size_t i = 0; src && i < json_object_array_length(src); i++) {
        char *val = identity(v, json_object_get_string(json_object_array_get_idx(src, i)));
        if (!val) {
            json_object_put(values);
            free(key.data);
            unauthorized(r, NULL);
            return false;
        }
        nb_buf_add(&key, "\n", 1);
        nb_buf_add(&key, val, strlen(val) + 1);
        json_object_array_add(values, json_object_new_string(val));
        free(val);
    }
    nb_buf_add(&key, "", 1);
    int64_t ttl = 0;
    nb_int(v->authz, "AuthorizerResultTtlInSeconds", &ttl);
    bool cacheable = ttl > 0 && src && json_object_array_length(src) > 0;
    json_object *hit = cacheable ? cache_get(key.data) : NULL;
    if (hit) {
        json_object_put(values);
        free(key.data);
        return lambda_decide(r, v->authz, hit, v->route_arn);
    }
    const char *pfv = nb_str(v->authz, "AuthorizerPayloadFormatVersion");
    char *ev = authorizer_event(v, pfv && strcmp(pfv, "1.0") == 0, values);
    json_object_put(values);
    ag_pend *p = nb_calloc(1, sizeof *p);
    p->authz = json_object_get(v->authz);
    p->invoke_in = json_object_new_object();
    put(p->invoke_in, "Payload", json_object_new_string(ev));
    free(ev);
    p->cache_key = cacheable ? key.data : NULL;
    if (!cacheable)
        free(key.data);
    p->ttl_ms = ttl * 1000;
    snprintf(p->route_arn, sizeof p->route_arn, "%s", v->route_arn);
    park(r, p);
    p->next = g_invoke_q;
    g_invoke_q = p;
    if (!g_kick_init) {
        uv_timer_init(nb_loop(), &g_kick);
        uv_unref((uv_handle_t *)&g_kick);
        g_kick_init = true;
    }
    uv_timer_start(&g_kick, kick, 0, 0);
    return false;
}

/* ---- the hook -------------------------------------------------------------- */

bool ag_authorize(nb_req *r, const char *api, const char *stage_name, json_object *stage,
                  json_object *snap, json_object *route, const char *path, size_t plen,
                  json_object *params)
{
    const char *type = nb_str(route, "AuthorizationType");
    if (!type || strcmp(type, "NONE") == 0)
        return true;
    if (strcmp(type, "AWS_IAM") == 0) {
        size_t n = 0;
        const char *h = nb_req_header(r, "authorization", &n);
        if (h && n > 16 && strncmp(h, "AWS4-HMAC-SHA256", 16) == 0)
            return true;
        forbidden(r, NULL);
        return false;
    }
    const char *id = nb_str(route, "AuthorizerId");
    if (passed(r) && id && strcmp(g_pass.authz_id, id) == 0)
        return true;
    if (g_pass.r == r)
        pass_clear();
    json_object *authz = id ? nb_get(nb_get(snap, "authorizers"), id) : NULL;
    const char *atype = nb_str(authz, "AuthorizerType");
    if (!atype) {
        internal(r);
        return false;
    }
    ag_view v = {.r = r, .api = api, .stage_name = stage_name, .path = path, .plen = plen,
                 .stage = stage, .route = route, .authz = authz, .params = params};
    snprintf(v.route_arn, sizeof v.route_arn, "arn:aws:execute-api:%s:%s:%s/%s/%s%.*s",
             r->call.region, r->call.account, api, stage_name, r->method, (int)plen, path);
    if (strcmp(atype, "JWT") == 0)
        return jwt_authorize(&v);
    return lambda_authorize(&v);
}

void ag_auth_reset(void)
{
    for (jwks_entry *e = g_jwks; e;) {
        jwks_entry *next = e->next;
        if (e->fetch)
            nb_http_cancel(e->fetch);
        for (ag_pend *w = e->waiters; w;) {
            ag_pend *wn = w->next;
            if (w->r) {
                w->r->call.park = NULL;
                w->r->call.on_cancel = NULL;
                internal(w->r);
            }
            pend_free(w);
            w = wn;
        }
        json_object_put(e->jwks);
        free(e->issuer);
        free(e);
        e = next;
    }
    g_jwks = NULL;
    while (g_results) {
        result_entry *e = g_results;
        g_results = e->next;
        free(e->key);
        json_object_put(e->answer);
        free(e);
    }
    g_nresults = 0;
    pass_clear();
}

void ag_auth_shutdown(void)
{
    ag_auth_reset();
    while (g_invoke_q) {
        ag_pend *p = g_invoke_q;
        g_invoke_q = p->next;
        pend_free(p);
    }
    if (g_kick_init) {
        uv_timer_stop(&g_kick);
        uv_close((uv_handle_t *)&g_kick, NULL);
        g_kick_init = false;
    }
}
