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
    bool headers_done;   /* header block complete: pointers fixed; later lines are trailers */
    int nheaders, cap_headers;
    size_t header_bytes;
    nb_buf body;
    nb_buf tbuf;         /* trailers: "name\0value\0" pairs (see nb_req_trailer) */
    bool body_stream;    /* the body goes to the listener's body callback, not body */
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
    bool streaming;      /* nb_resp_begin sent the head: chunks follow */
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

/*
 * Streaming, both ways (used by Lambda's Runtime API and response streaming;
 * nothing else pays for it).
 *
 * Request bodies: a listener given a body callback (nb_http_on_body) hears
 * of each request once its headers are complete (NB_BODY_BEGIN).  The
 * callback may set r->body_stream then: the body's pieces are handed to it
 * as they arrive (NB_BODY_DATA) instead of collected in r->body, with no
 * size limit and no 60 s request timeout (the callback applies its own),
 * and the listener's handler runs as usual once the request is complete,
 * with any trailers readable by nb_req_trailer.  A streamed request that
 * never completes (bad framing, hang-up) ends with NB_BODY_ABORT; after
 * bad framing the handler still sees it, with r->early_status set.
 *
 * Responses: nb_resp_begin sends the status line and headers (r->status,
 * r->content_type, nb_resp_header lines) with Transfer-Encoding: chunked;
 * nb_resp_write queues one chunk; nb_resp_end queues the last chunk and
 * finishes the request as nb_req_finish does.  Output still goes out in the
 * check phase, after the group commit.  The request stays parked in
 * between: a hang-up cancels it (on_cancel), and writes to a request that
 * was cancelled are dropped.
 */
typedef enum { NB_BODY_BEGIN, NB_BODY_DATA, NB_BODY_ABORT } nb_body_event;
typedef void (*nb_http_body_fn)(nb_req *r, nb_body_event ev, const char *data, size_t len,
                                void *ctx);
void nb_http_on_body(nb_listener *l, nb_http_body_fn fn);
/* A trailer's value (lname lower-case), or NULL. */
const char *nb_req_trailer(const nb_req *r, const char *lname, size_t *vlen);
void nb_resp_begin(nb_req *r);
void nb_resp_write(nb_req *r, const void *data, size_t len);
void nb_resp_end(nb_req *r);
/* Fuzzing: nb_http_feed for a listener with this handler and body callback. */
void nb_http_feed_with(const char *data, size_t len, nb_http_handler fn, nb_http_body_fn body_fn,
                       void *ctx);

/* Provided by dispatch.c. */
void nb_dispatch(nb_req *r);
/* The HTTP request a call came in on, or NULL (nb_invoke): for handlers
 * that stream their response instead of returning an output tree. */
nb_req *nb_call_req(nb_call *call);

#endif
