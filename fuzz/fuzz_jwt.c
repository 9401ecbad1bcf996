/*
 * fuzz_jwt.c — libFuzzer target for the API Gateway v2 JWT authorizer's
 * parsing (src/services/apigatewayv2/apigw_auth.c): compact JWS decoding
 * (base64url, JSON header and claims), JWKS key lookup and RSA key
 * construction from n/e, signature verification and the claim checks.
 *
 * Input: a JWKS document, a newline, a token, optionally a newline and an
 * issuer.  A token that parses must have a header and claims objects and a
 * signature; a verified token is then checked against the issuer with the
 * audience "app".  No crash, no leak, no UBSan finding.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_jwt)   Seeds: fuzz/corpus/jwt/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/apigatewayv2/apigw_internal.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = 0;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = 0;
        char *tok = nl + 1, *iss = strchr(tok, '\n');
        if (iss)
            *iss++ = 0;
        json_object *jwks = json_tokener_parse(s);
        ag_jwt j;
        char err[256];
        if (ag_jwt_parse(tok, strlen(tok), &j, err, sizeof err) == 0) {
            if (!j.header || !j.claims || !j.sig || j.signed_len >= strlen(tok))
                abort();
            json_object *aud = json_object_new_array();
            json_object_array_add(aud, json_object_new_string("app"));
            if (ag_jwt_verify(&j, tok, jwks, err, sizeof err) == 0 || iss)
                ag_jwt_claims_check(&j, iss ? iss : "", aud, 1700000000, err, sizeof err);
            json_object_put(aud);
            ag_jwt_free(&j);
        } else if (j.header || j.claims || j.sig) {
            abort(); /* a failed parse owns nothing */
        }
        json_object_put(jwks);
    }
    free(s);
    return 0;
}
