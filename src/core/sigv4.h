/*
 * sigv4.h — AWS Signature Version 4: parse the credential (Authorization
 * header or presigned query parameters) and, with --verify-signatures,
 * verify the signature against the configured secret.
 *
 * Pure functions over a request description: no I/O, no globals, so the
 * parser is unit-tested and fuzzed directly.
 */
#ifndef NB_SIGV4_H
#define NB_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nb_sigv4_header {
    const char *name;   /* lower-case */
    const char *value;
    size_t vlen;
} nb_sigv4_header;

typedef struct nb_sigv4_request {
    const char *method;
    const char *path;   /* raw (as sent, percent-encoded) path */
    size_t path_len;
    const char *query;  /* raw query string without '?' */
    size_t query_len;
    const nb_sigv4_header *headers;
    int nheaders;
    const unsigned char *body;
    size_t body_len;
} nb_sigv4_request;

typedef struct nb_sigv4_cred {
    bool present;          /* a SigV4 credential was found */
    bool presigned;        /* from X-Amz-* query parameters */
    char access_key[128];
    char date[9];          /* YYYYMMDD of the scope */
    char region[32];
    char service[64];
    char amz_date[17];     /* X-Amz-Date / x-amz-date: YYYYMMDDTHHMMSSZ */
    char signed_headers[1024];
    char signature[65];
    int64_t expires;       /* presigned X-Amz-Expires seconds, else -1 */
} nb_sigv4_cred;

/* Parse the credential.  Returns 0 (cred->present says whether one was
 * found) or -1 when a SigV4 credential is present but malformed; *why then
 * names the problem (static string). */
int nb_sigv4_parse(const nb_sigv4_request *req, nb_sigv4_cred *cred, const char **why);

typedef enum {
    NB_SIGV4_OK,
    NB_SIGV4_MISMATCH,        /* SignatureDoesNotMatch */
    NB_SIGV4_UNKNOWN_KEY,     /* InvalidClientTokenId / InvalidAccessKeyId */
    NB_SIGV4_SKEWED,          /* RequestTimeTooSkewed (more than 15 minutes) */
    NB_SIGV4_EXPIRED,         /* presigned URL expired */
    NB_SIGV4_MISSING,         /* no credential at all: MissingAuthenticationToken */
    NB_SIGV4_MALFORMED,       /* IncompleteSignature */
} nb_sigv4_result;

/* Verify cred (from nb_sigv4_parse) for req with secret, at time now (epoch
 * seconds).  Computes the canonical request exactly as AWS documents
 * (URI-encoded path per segment, sorted query, signed headers trimmed,
 * payload hash from x-amz-content-sha256 when present, else SHA-256 of the
 * body; UNSIGNED-PAYLOAD honoured). */
nb_sigv4_result nb_sigv4_verify(const nb_sigv4_request *req, const nb_sigv4_cred *cred,
                                const char *secret, int64_t now);

#endif
