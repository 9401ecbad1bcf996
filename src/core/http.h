/*
 * http.h — the HTTP/1.1 front door (libuv + llhttp).
 *
 * A connection parses requests as bytes arrive (pipelining: several may be
 * queued) and dispatches them one at a time, in order.  A dispatched request
 * either finishes at once or is parked (long poll); reading continues while
 * it is parked so a hang-up cancels it.  Finished responses are appended to
 * the connection's output buffer and written in the loop's check phase, after
 * the store's group commit: one write per connection per iteration.
 *
 * Lifetime: a connection is freed only in its uv_close callback, and only
 * after its parked request (if any) was cancelled.
 */
#ifndef NB_HTTP_H
#define NB_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "service.h"

typedef struct nb_conn nb_conn;

typedef struct nb_header {
    char *name;   /* lower-cased, NUL-terminated, in the request's arena */
    char *value;  /* NUL-terminated */
    size_t vlen;
    size_t noff, voff; /* arena offsets while parsing */
} nb_header;

typedef struct nb_req {
    nb_conn *conn;
    struct nb_req *next;
    char method[16];
    nb_buf url;          /* raw request target */
    const char *path;    /* into url: up to '?' (not decoded) */
    size_t path_len;
    const char *query;   /* into url: after '?', or "" */
    size_t query_len;
    nb_header *headers;
    nb_buf hbuf;         /* header arena */
    bool headers_done;   /* header block complete: pointers fixed, trailers ignored */
    int nheaders, cap_headers;
    size_t header_bytes;
    nb_buf body;
    bool keep_alive;
    bool complete;
    int early_status;    /* set when the request must be refused (limits) */
    const char *early_code;
    /* Response. */
    int status;
    nb_buf rhead;        /* extra response header lines "Name: value\r\n" */
    nb_buf rbody;
    const char *content_type;
    bool parked;         /* dispatched, waiting for nb_call_done */
    bool dispatching;    /* inside nb_dispatch */
    bool done;
    nb_call call;        /* the operation call for this request */
    const struct nb_codec *codec;
    int64_t start_us;
} nb_req;

int nb_http_listen(const char *host, int port);  /* the AWS endpoint (nb_dispatch) */

/* Further listeners (e.g. a Lambda instance's Runtime API) with their own
 * request handler.  The handler answers like nb_dispatch does: set
 * r->status, r->rbody, headers, then nb_req_finish(r) now or later (a
 * request not finished when the handler returns is parked; set
 * r->call.on_cancel to hear that its client went away).  A request the
 * parser refused arrives with r->early_status set.  port 0 picks a free
 * port (nb_listener_port tells which).  nb_http_close stops accepting and
 * closes the listener's connections (parked requests are cancelled). */
typedef struct nb_listener nb_listener;
typedef void (*nb_http_handler)(nb_req *r, void *ctx);
nb_listener *nb_http_listen_with(const char *host, int port, nb_http_handler fn, void *ctx);
int nb_listener_port(const nb_listener *l);
void nb_http_close(nb_listener *l);

void nb_http_shutdown(void);      /* stop accepting, cancel parked, close all */
/* Fuzzing: parse and dispatch bytes as one socket-less connection. */
void nb_http_feed(const char *data, size_t len);

const char *nb_req_header(const nb_req *r, const char *lname, size_t *vlen);
/* The client's IP address as text ("127.0.0.1" when unknown). */
void nb_req_peer(const nb_req *r, char *out, size_t n);
void nb_resp_header(nb_req *r, const char *name, const char *value);
/* Finish the request: queue its response for writing. */
void nb_req_finish(nb_req *r);

/* Provided by dispatch.c. */
void nb_dispatch(nb_req *r);

#endif
