/*
 * http_client.h — a small outbound HTTP/1.1 client on the event loop (libuv
 * + llhttp), for every service that calls out: SNS http subscriptions,
 * EventBridge API destinations, API Gateway HTTP integrations.
 *
 * One request per connection (Connection: close): resolve (uv_getaddrinfo),
 * connect, write, read and parse the response, all under one deadline
 * (timeout_ms, covering every step).  Nothing blocks.  The callback runs
 * exactly once, from the loop (never from inside nb_http_fetch), unless the
 * request is cancelled first; the result and its body are valid only during
 * the callback.  https:// runs TLS (OpenSSL, TLS 1.2+) with the server's
 * certificate verified against the system's trust store plus
 * NIMBUS_HTTP_CA_FILE, unless NIMBUS_HTTP_INSECURE_TLS=1; a failed
 * handshake or verification is NB_HTTP_E_TLS.  Response bodies are capped (max_body, default 1 MiB;
 * larger fails with NB_HTTP_E_TOO_LARGE).
 *
 * Lifetime: a request's handles are closed and its memory freed after the
 * callback returns (or after nb_http_cancel); nb_http_client_shutdown
 * cancels every request still in flight (callbacks are not run).
 */
#ifndef NB_HTTP_CLIENT_H
#define NB_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    NB_HTTP_OK = 0,          /* a complete response (any status) */
    NB_HTTP_E_URL,           /* not a parsable http(s) URL */
    NB_HTTP_E_SCHEME,        /* unused (kept: https is supported now) */
    NB_HTTP_E_RESOLVE,       /* host name did not resolve */
    NB_HTTP_E_CONNECT,       /* connection refused / unreachable */
    NB_HTTP_E_IO,            /* write or read failed, connection closed early */
    NB_HTTP_E_PARSE,         /* not a valid HTTP response */
    NB_HTTP_E_TOO_LARGE,     /* response body over max_body */
    NB_HTTP_E_TIMEOUT,       /* the deadline passed */
    NB_HTTP_E_TLS,           /* TLS handshake or certificate verification failed */
} nb_http_error;

const char *nb_http_error_name(nb_http_error e);

/* URL parts (pointers into caller storage, written by nb_http_url_parse). */
typedef struct nb_http_url {
    bool https;
    char host[256];
    int port;
    char path[2048];   /* path and query, "/" when empty */
} nb_http_url;
/* Parses "http[s]://host[:port][/path][?query]" (IPv6 literal in [..]); 0 on
 * success, -1 when malformed (userinfo, bad port, empty host, controls). */
int nb_http_url_parse(const char *url, nb_http_url *out);

typedef struct nb_http_header {
    const char *name, *value;
} nb_http_header;

typedef struct nb_http_request {
    const char *method;            /* "POST" */
    const char *url;
    const nb_http_header *headers; /* extra headers; n_headers of them */
    size_t n_headers;
    const char *body;
    size_t body_len;
    uint64_t timeout_ms;           /* 0: 15000 */
    size_t max_body;               /* 0: 1 MiB */
} nb_http_request;

typedef struct nb_http_result {
    nb_http_error error;
    int status;                    /* HTTP status when error == NB_HTTP_OK */
    const char *body;              /* response body (NUL-terminated) */
    size_t body_len;
    const nb_http_header *headers; /* response headers in order, names as sent */
    size_t n_headers;
} nb_http_result;

typedef void (*nb_http_cb)(const nb_http_result *res, void *arg);
typedef struct nb_http_fetch nb_http_fetch;

/* Starts a request; the request's strings are copied. */
nb_http_fetch *nb_http_fetch_start(const nb_http_request *req, nb_http_cb cb, void *arg);
/* Cancels a request whose callback has not run yet (the callback never runs). */
void nb_http_cancel(nb_http_fetch *f);
void nb_http_client_shutdown(void);

/* Response parsing, separate from the sockets (unit tests and fuzzing). */
typedef struct nb_http_resp_parser nb_http_resp_parser;
nb_http_resp_parser *nb_http_resp_new(size_t max_body);
/* Feeds bytes (len 0 = end of stream); returns 1 when the response is
 * complete, 0 when more is needed, -1 on a parse error or an oversize body
 * (*too_large tells which). */
int nb_http_resp_feed(nb_http_resp_parser *p, const char *data, size_t len, bool *too_large);
int nb_http_resp_status(const nb_http_resp_parser *p);
/* The response's headers (valid until the parser is fed or freed). */
const nb_http_header *nb_http_resp_headers(nb_http_resp_parser *p, size_t *n);
/* The response has no body whatever its headers say (the answer to HEAD). */
void nb_http_resp_no_body(nb_http_resp_parser *p);
const char *nb_http_resp_body(const nb_http_resp_parser *p, size_t *len);
void nb_http_resp_free(nb_http_resp_parser *p);

#endif
