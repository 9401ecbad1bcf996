/*
 * http.c — HTTP/1.1 server on libuv with llhttp: keep-alive, pipelining,
 * chunked bodies, Expect: 100-continue, header/body limits, slow-client and
 * idle timeouts, parked requests that notice hang-ups, and batched writes
 * after the store's group commit; optionally streamed request bodies with
 * trailers and chunked streamed responses.  See http.h for the lifetime
 * rules.
 */
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "nimbus.h"
#include "store.h"

#define READ_BUF (64 * 1024)
#define MAX_HEADER_BYTES (64 * 1024)
#define MAX_HEADERS 200
#define IDLE_TIMEOUT_MS (300 * 1000)
#define REQUEST_TIMEOUT_MS (60 * 1000)

struct nb_listener {
    uv_tcp_t tcp;
    nb_http_handler fn;
    nb_http_body_fn body_fn;  /* streamed request bodies (NULL: buffered) */
    void *ctx;
    int port;
    bool closing;
    nb_listener *prev, *next;
};

struct nb_conn {
    nb_req *spare;            /* a finished request kept for reuse */
    uv_tcp_t tcp;
    nb_listener *l;           /* where it was accepted (NULL: fuzzing) */
    llhttp_t parser;
    nb_req *cur;              /* request being parsed */
    nb_req *head, *tail;      /* complete requests, in arrival order */
    nb_buf out;               /* responses waiting for the check phase */
    nb_conn *next_dirty;
    nb_conn *next_pump;       /* pending pipeline advance (see nb_req_finish) */
    bool pump_pending;
    nb_conn *prev, *next;     /* all connections */
    uint64_t activity_ms;     /* last byte in or out */
    uint64_t req_start_ms;    /* first byte of the request being parsed */
    bool dirty, closing, close_after, eof, pumping, reading;
    int hstate;               /* header parser: 0 next is new, 1 in name, 2 in value */
    bool fake;                /* no socket (fuzzing): output is discarded */
    int writes;               /* writes in flight */
    char rbuf[READ_BUF];
};

typedef struct {
    uv_write_t w;
    nb_buf data;
    nb_conn *conn;
} write_req;

static nb_listener *main_listener;
static nb_listener *all_listeners;
static bool loop_hooks;
static llhttp_settings_t settings;
static nb_conn *all_conns;
static nb_conn *dirty_list;
static nb_conn *pump_list;
static uv_check_t check_handle;
static uv_idle_t idle_handle;
static uv_timer_t sweep_timer;
static bool shutting_down;

static void conn_pump(nb_conn *c);
static void conn_close(nb_conn *c);
static void on_idle(uv_idle_t *h) { (void)h; }

/* ---- requests ---------------------------------------------------------- */

/* A connection keeps one finished request for its next one, buffers and
 * all (up to SPARE_KEEP bytes each): a keep-alive client's requests then
 * cost no allocation in the common case. */
#define SPARE_KEEP (64 * 1024)

static void buf_recycle(nb_buf *b)
{
    if (b->cap > SPARE_KEEP) {
        nb_buf_free(b);
    } else {
        b->len = 0;
        if (b->data)
            b->data[0] = 0;
    }
}

static nb_req *req_new(nb_conn *c)
{
    nb_req *r = c->spare;
    if (r) {
        c->spare = NULL;
        nb_buf bufs[5] = {r->url, r->hbuf, r->body, r->rhead, r->rbody};
        nb_header *headers = r->headers;
        int cap_headers = r->cap_headers;
        memset(r, 0, sizeof *r);
        r->url = bufs[0];
        r->hbuf = bufs[1];
        r->body = bufs[2];
        r->rhead = bufs[3];
        r->rbody = bufs[4];
        r->headers = headers;
        r->cap_headers = cap_headers;
    } else {
        r = nb_calloc(1, sizeof *r);
    }
    r->conn = c;
    r->status = 200;
    r->query = "";
    return r;
}

static void req_free(nb_req *r)
{
    if (r->call.out)
        json_object_put(r->call.out);
    if (r->call.err.detail)
        json_object_put(r->call.err.detail);
    r->call.out = r->call.err.detail = NULL;
    nb_buf_free(&r->tbuf);
    nb_conn *c = r->conn;
    if (c && !c->spare && !c->closing && r->cap_headers <= MAX_HEADERS) {
        buf_recycle(&r->url);
        buf_recycle(&r->hbuf);
        buf_recycle(&r->body);
        buf_recycle(&r->rhead);
        buf_recycle(&r->rbody);
        c->spare = r;
        return;
    }
    free(r->headers);
    nb_buf_free(&r->hbuf);
    nb_buf_free(&r->url);
    nb_buf_free(&r->body);
    nb_buf_free(&r->rhead);
    nb_buf_free(&r->rbody);
    free(r);
}

const char *nb_req_header(const nb_req *r, const char *lname, size_t *vlen)
{
    for (int i = 0; i < r->nheaders; i++) {
        if (r->headers[i].name && strcmp(r->headers[i].name, lname) == 0) {
            if (vlen)
                *vlen = r->headers[i].vlen;
            return r->headers[i].value;
        }
    }
    return NULL;
}

const char *nb_req_trailer(const nb_req *r, const char *lname, size_t *vlen)
{
    const char *p = r->tbuf.data, *end = p ? p + r->tbuf.len : NULL;
    while (p && p < end) {
        const char *v = memchr(p, 0, (size_t)(end - p));
        const char *e = v ? memchr(v + 1, 0, (size_t)(end - v - 1)) : NULL;
        if (!e)
            break;
        if (strcasecmp(p, lname) == 0) {
            if (vlen)
                *vlen = (size_t)(e - v - 1);
            return v + 1;
        }
        p = e + 1;
    }
    return NULL;
}

void nb_req_peer(const nb_req *r, char *out, size_t n)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(out, n, "127.0.0.1");
    if (!r->conn || r->conn->fake ||
        uv_tcp_getpeername(&r->conn->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, out, n);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, out, n);
}

void nb_resp_header(nb_req *r, const char *name, const char *value)
{
    nb_buf_adds(&r->rhead, name);
    nb_buf_add(&r->rhead, ": ", 2);
    nb_buf_adds(&r->rhead, value);
    nb_buf_add(&r->rhead, "\r\n", 2);
}

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

static const char *http_date(void)
{
    static char buf[64];
    static time_t last;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return buf;
}

static void mark_dirty(nb_conn *c)
{
    if (c->dirty || c->fake)
        return;
    c->dirty = true;
    c->next_dirty = dirty_list;
    dirty_list = c;
    if (!uv_is_active((uv_handle_t *)&idle_handle))
        uv_idle_start(&idle_handle, on_idle);
}

/* Decimal digits of v into out (no terminator); returns their count. */
static size_t fmt_uint(char out[24], uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* "HTTP/1.1 status reason", Date and the framing header: the start of a
 * response head. */
static void head_start(nb_conn *c, const nb_req *r, const char *framing)
{
    nb_buf_adds(&c->out, "HTTP/1.1 ");
    char num[24];
    nb_buf_add(&c->out, num, fmt_uint(num, (uint64_t)(r->status > 0 ? r->status : 500)));
    nb_buf_addc(&c->out, ' ');
    nb_buf_adds(&c->out, reason(r->status));
    nb_buf_adds(&c->out, "\r\nDate: ");
    nb_buf_adds(&c->out, http_date());
    nb_buf_adds(&c->out, framing);
}

/* Content-Type, Connection, the extra lines and the blank line. */
static void head_end(nb_conn *c, const nb_req *r)
{
    if (r->content_type) {
        nb_buf_adds(&c->out, "Content-Type: ");
        nb_buf_adds(&c->out, r->content_type);
        nb_buf_adds(&c->out, "\r\n");
    }
    if (!r->keep_alive || shutting_down)
        nb_buf_adds(&c->out, "Connection: close\r\n");
    nb_buf_add(&c->out, r->rhead.data, r->rhead.len);
    nb_buf_adds(&c->out, "\r\n");
}

/* The response is queued: write it in the check phase, move on. */
static void finished(nb_conn *c, nb_req *r)
{
    if (!r->keep_alive || shutting_down)
        c->close_after = true;
    mark_dirty(c);
    if (!r->dispatching && !c->fake && !c->pump_pending) {
        /* Finished later than dispatch, possibly from inside another call's
         * handler: the pipeline moves on in the check phase, never nested. */
        c->pump_pending = true;
        c->next_pump = pump_list;
        pump_list = c;
    }
}

void nb_req_finish(nb_req *r)
{
    nb_conn *c = r->conn;
    r->done = true;
    bool head_only = strcmp(r->method, "HEAD") == 0;
    char num[24];
    head_start(c, r, "\r\nContent-Length: ");
    nb_buf_add(&c->out, num, fmt_uint(num, r->rbody.len));
    nb_buf_add(&c->out, "\r\n", 2);
    head_end(c, r);
    if (!head_only)
        nb_buf_add(&c->out, r->rbody.data, r->rbody.len);
    finished(c, r);
}

void nb_resp_begin(nb_req *r)
{
    if (r->done || r->streaming)
        return;
    r->streaming = true;
    head_start(r->conn, r, "\r\nTransfer-Encoding: chunked\r\n");
    head_end(r->conn, r);
    mark_dirty(r->conn);
}

void nb_resp_write(nb_req *r, const void *data, size_t len)
{
    if (r->done || !r->streaming || len == 0)
        return;
    nb_conn *c = r->conn;
    char hex[24];
    int n = snprintf(hex, sizeof hex, "%zx\r\n", len);
    nb_buf_add(&c->out, hex, (size_t)n);
    nb_buf_add(&c->out, data, len);
    nb_buf_add(&c->out, "\r\n", 2);
    mark_dirty(c);
}

void nb_resp_end(nb_req *r)
{
    if (r->done)
        return;
    nb_resp_begin(r);
    r->done = true;
    nb_buf_adds(&r->conn->out, "0\r\n\r\n");
    finished(r->conn, r);
}

/* ---- the pipeline ------------------------------------------------------- */

static void conn_pump(nb_conn *c)
{
    if (c->pumping)
        return;
    c->pumping = true;
    while (c->head && !c->closing) {
        nb_req *r = c->head;
        if (!r->done && !r->parked) {
            r->dispatching = true;
            if (c->l && c->l->fn)
                c->l->fn(r, c->l->ctx);
            else
                nb_dispatch(r);
            r->dispatching = false;
            if (!r->done) {
                r->parked = true;
                break;
            }
        }
        if (!r->done)
            break;
        c->head = r->next;
        if (!c->head)
            c->tail = NULL;
        req_free(r);
        if (c->close_after) {
            /* Nothing after a "Connection: close" response is answered. */
            while (c->head) {
                nb_req *n = c->head->next;
                req_free(c->head);
                c->head = n;
            }
            c->tail = NULL;
        }
    }
    c->pumping = false;
}

static void enqueue(nb_conn *c, nb_req *r)
{
    r->complete = true;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
}

/* ---- llhttp callbacks ---------------------------------------------------- */

static int on_message_begin(llhttp_t *p)
{
    nb_conn *c = p->data;
    c->cur = req_new(c);
    c->req_start_ms = nb_mono_ms();
    c->hstate = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    nb_conn *c = p->data;
    nb_req *r = c->cur;
    r->header_bytes += len;
    if (r->header_bytes > MAX_HEADER_BYTES) {
        r->early_status = 400;
        r->early_code = "RequestHeaderSectionTooLarge";
        return HPE_USER;
    }
    nb_buf_add(&r->url, at, len);
    return 0;
}

/* Header bytes go to one arena per request ("name\0value\0" ...); the
 * pointers in r->headers are set once the header block is complete. */
static int header_limit(nb_req *r, size_t len)
{
    r->header_bytes += len;
    if (r->header_bytes <= MAX_HEADER_BYTES)
        return 0;
    r->early_status = 400;
    r->early_code = "RequestHeaderSectionTooLarge";
    return HPE_USER;
}

/* Trailers (header lines after a chunked body) go to their own buffer,
 * "name\0value\0" pairs within the same byte limit: the header block's
 * pointers are fixed once it completes, so its arena must not grow later. */
static int trailer_bytes(nb_req *r, const char *at, size_t len)
{
    if (header_limit(r, len))
        return HPE_USER;
    nb_buf_add(&r->tbuf, at, len);
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    nb_conn *c = p->data;
    nb_req *r = c->cur;
    if (r->headers_done)
        return trailer_bytes(r, at, len);
    if (header_limit(r, len))
        return HPE_USER;
    if (c->hstate != 1) { /* a new header */
        if (r->nheaders >= MAX_HEADERS)
            return header_limit(r, MAX_HEADER_BYTES);
        if (r->nheaders == r->cap_headers) {
            r->cap_headers = r->cap_headers ? r->cap_headers * 2 : 16;
            r->headers = nb_realloc(r->headers, (size_t)r->cap_headers * sizeof *r->headers);
        }
        nb_header *h = &r->headers[r->nheaders++];
        memset(h, 0, sizeof *h);
        h->noff = r->hbuf.len;
        h->voff = SIZE_MAX;
        c->hstate = 1;
    }
    nb_buf_add(&r->hbuf, at, len);
    return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
    nb_conn *c = p->data;
    nb_req *r = c->cur;
    if (r->headers_done) {
        nb_buf_addc(&r->tbuf, 0);
        return 0;
    }
    nb_buf_addc(&r->hbuf, 0);
    r->headers[r->nheaders - 1].voff = r->hbuf.len;
    c->hstate = 2;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    nb_conn *c = p->data;
    nb_req *r = c->cur;
    if (r->headers_done)
        return trailer_bytes(r, at, len);
    if (header_limit(r, len))
        return HPE_USER;
    nb_buf_add(&r->hbuf, at, len);
    r->headers[r->nheaders - 1].vlen += len;
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    nb_conn *c = p->data;
    if (c->cur->headers_done) {
        nb_buf_addc(&c->cur->tbuf, 0);
        return 0;
    }
    nb_buf_addc(&c->cur->hbuf, 0);
    c->hstate = 0;
    return 0;
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
}

static void write_raw(nb_conn *c, const char *s);

/* Point the headers into the arena (idempotent; a header cut short by a
 * parse error gets what arrived of it). */
static void headers_fixup(nb_req *r)
{
    nb_buf_addc(&r->hbuf, 0);
    for (int i = 0; i < r->nheaders; i++) {
        nb_header *h = &r->headers[i];
        h->name = r->hbuf.data + h->noff;
        if (h->voff == SIZE_MAX || h->voff >= r->hbuf.len) {
            h->value = r->hbuf.data + r->hbuf.len - 1; /* "" */
            h->vlen = 0;
        } else {
            h->value = r->hbuf.data + h->voff;
        }
    }
}

static int on_headers_complete(llhttp_t *p)
{
    nb_conn *c = p->data;
    nb_req *r = c->cur;
    headers_fixup(r);
    r->headers_done = true;
    for (int i = 0; i < r->nheaders; i++)
        lower(r->headers[i].name);
    const char *mname = llhttp_method_name(llhttp_get_method(p));
    nb_copy(r->method, sizeof r->method, mname, strlen(mname));
    if (r->url.len == 0)
        nb_buf_add(&r->url, "/", 1);
    char *q = memchr(r->url.data, '?', r->url.len);
    r->path = r->url.data;
    r->path_len = q ? (size_t)(q - r->url.data) : r->url.len;
    r->query = q ? q + 1 : "";
    r->query_len = q ? r->url.len - r->path_len - 1 : 0;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > nb_cfg.max_body) {
        r->early_status = 413;
        r->early_code = "RequestEntityTooLarge";
        return HPE_USER;
    }
    if (c->l && c->l->body_fn)
        c->l->body_fn(r, NB_BODY_BEGIN, NULL, 0, c->l->ctx);
    const char *expect = nb_req_header(r, "expect", NULL);
    if (expect && strcasecmp(expect, "100-continue") == 0)
        write_raw(c, "HTTP/1.1 100 Continue\r\n\r\n");
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    nb_conn *c = p->data;
    nb_req *r = c->cur;
    if (r->body_stream) {
        c->l->body_fn(r, NB_BODY_DATA, at, len, c->l->ctx);
        return 0;
    }
    if (r->body.len + len > nb_cfg.max_body) {
        r->early_status = 413;
        r->early_code = "RequestEntityTooLarge";
        return HPE_USER;
    }
    nb_buf_add(&r->body, at, len);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    nb_conn *c = p->data;
    nb_req *r = c->cur;
    c->cur = NULL;
    r->keep_alive = llhttp_should_keep_alive(p);
    if (r->body.len == 0)
        nb_buf_add(&r->body, "", 0);
    enqueue(c, r);
    return 0;
}

/* ---- writes ------------------------------------------------------------- */

static void on_write(uv_write_t *w, int status)
{
    write_req *wr = (write_req *)w;
    nb_conn *c = wr->conn;
    nb_buf_free(&wr->data);
    free(wr);
    c->writes--;
    c->activity_ms = nb_mono_ms();
    if (status < 0 || (c->close_after && c->writes == 0 && !c->dirty))
        conn_close(c);
}

static void write_buf(nb_conn *c, nb_buf *b)
{
    if (c->fake) {
        nb_buf_free(b);
        return;
    }
    write_req *wr = nb_calloc(1, sizeof *wr);
    wr->data = *b;
    memset(b, 0, sizeof *b);
    wr->conn = c;
    uv_buf_t ub = uv_buf_init(wr->data.data, (unsigned)wr->data.len);
    c->writes++;
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &ub, 1, on_write) < 0) {
        nb_buf_free(&wr->data);
        free(wr);
        c->writes--;
        conn_close(c);
    }
}

static void write_raw(nb_conn *c, const char *s)
{
    nb_buf b = {0};
    nb_buf_adds(&b, s);
    write_buf(c, &b);
}

/* The check phase: commit the group, then write every finished response. */
static void on_check(uv_check_t *h)
{
    (void)h;
    for (int round = 0; pump_list && round < 64; round++) {
        nb_conn *list = pump_list;
        pump_list = NULL;
        while (list) {
            nb_conn *c = list;
            list = c->next_pump;
            c->pump_pending = false;
            if (!c->closing)
                conn_pump(c);
        }
    }
    nb_store_commit();
    while (dirty_list) {
        nb_conn *c = dirty_list;
        dirty_list = c->next_dirty;
        c->dirty = false;
        if (c->closing)
            continue;
        if (c->out.len)
            write_buf(c, &c->out);
        else if (c->close_after && c->writes == 0)
            conn_close(c);
    }
    uv_idle_stop(&idle_handle);
    fflush(stderr); /* request log lines are buffered per iteration */
}


/* ---- connections -------------------------------------------------------- */

static void cancel_parked(nb_conn *c)
{
    nb_req *r = c->head;
    if (r && r->parked && !r->done) {
        r->parked = false;
        r->done = true;
        if (r->call.on_cancel)
            r->call.on_cancel(&r->call);
    }
}

static void on_closed(uv_handle_t *h)
{
    nb_conn *c = h->data;
    while (c->head) {
        nb_req *n = c->head->next;
        req_free(c->head);
        c->head = n;
    }
    if (c->cur)
        req_free(c->cur);
    if (c->spare) {
        nb_req *sp = c->spare;
        c->spare = NULL;
        sp->conn = NULL;
        req_free(sp);
    }
    nb_buf_free(&c->out);
    free(c);
}

/* A streamed request body that will not complete.  Told while the
 * listener is known to be alive (its close callback may run before the
 * connection's); a closing listener's owner is going away and is not told. */
static void body_aborted(nb_conn *c, nb_req *r)
{
    if (r->body_stream && c->l && !c->l->closing) {
        r->body_stream = false;
        c->l->body_fn(r, NB_BODY_ABORT, NULL, 0, c->l->ctx);
    }
}

static void conn_close(nb_conn *c)
{
    if (c->closing)
        return;
    cancel_parked(c);
    if (c->cur)
        body_aborted(c, c->cur);
    c->closing = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        all_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->pump_pending) {
        nb_conn **pp = &pump_list;
        while (*pp && *pp != c)
            pp = &(*pp)->next_pump;
        if (*pp)
            *pp = c->next_pump;
        c->pump_pending = false;
    }
    if (c->dirty) {
        nb_conn **pp = &dirty_list;
        while (*pp && *pp != c)
            pp = &(*pp)->next_dirty;
        if (*pp)
            *pp = c->next_dirty;
        c->dirty = false;
    }
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    nb_conn *c = h->data;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

/* A request the parser could not finish: answer it in order, then close. */
static void parse_failed(nb_conn *c)
{
    nb_req *r = c->cur ? c->cur : req_new(c);
    body_aborted(c, r);
    if (c->cur && !r->headers_done) {
        headers_fixup(r);
        r->headers_done = true;
    }
    c->cur = NULL;
    if (!r->early_status) {
        r->early_status = 400;
        r->early_code = "BadRequest";
    }
    if (!r->method[0])
        snprintf(r->method, sizeof r->method, "POST");
    if (!r->path) {
        r->path = "/";
        r->path_len = 1;
    }
    r->keep_alive = false;
    if (r->body.len == 0)
        nb_buf_add(&r->body, "", 0);
    enqueue(c, r);
    if (!c->fake)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    nb_conn *c = s->data;
    if (nread < 0) {
        uv_read_stop(s);
        c->reading = false;
        c->eof = true;
        if (c->head && c->head->parked) {
            conn_close(c);  /* the client hung up on a parked request */
            return;
        }
        if (!c->head && !c->dirty && c->writes == 0) {
            conn_close(c);
            return;
        }
        c->close_after = true;
        if (c->head)
            c->tail->keep_alive = false;
        return;
    }
    if (nread == 0)
        return;
    c->activity_ms = nb_mono_ms();
    llhttp_errno_t e = llhttp_execute(&c->parser, buf->base, (size_t)nread);
    if (e != HPE_OK)
        parse_failed(c);
    conn_pump(c);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    nb_conn *c = nb_calloc(1, sizeof *c);
    c->l = srv->data;
    uv_tcp_init(nb_loop(), &c->tcp);
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    c->activity_ms = nb_mono_ms();
    c->next = all_conns;
    if (all_conns)
        all_conns->prev = c;
    all_conns = c;
    c->reading = true;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* Idle keep-alive connections and slow clients are closed by a 1 s sweep. */
static void on_sweep(uv_timer_t *t)
{
    (void)t;
    uint64_t now = nb_mono_ms();
    nb_conn *c = all_conns;
    while (c) {
        nb_conn *next = c->next;
        bool parked = c->head && c->head->parked;
        if (c->cur && !c->cur->body_stream && now - c->req_start_ms > REQUEST_TIMEOUT_MS) {
            c->cur->early_status = 408;
            c->cur->early_code = "RequestTimeout";
            parse_failed(c);
            conn_pump(c);
        } else if (!c->cur && !c->head && !parked && c->writes == 0 &&
                   now - c->activity_ms > IDLE_TIMEOUT_MS) {
            conn_close(c);
        }
        c = next;
    }
}

static void init_settings(void)
{
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_header_field_complete = on_header_field_complete;
    settings.on_header_value_complete = on_header_value_complete;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
}

static void on_listener_closed(uv_handle_t *h)
{
    free(h->data);
}

nb_listener *nb_http_listen_with(const char *host, int port, nb_http_handler fn, void *ctx)
{
    if (!settings.on_message_begin)
        init_settings();
    struct sockaddr_storage addr;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0) {
        NB_ERR("invalid listen address %s", host);
        return NULL;
    }
    nb_listener *l = nb_calloc(1, sizeof *l);
    l->fn = fn;
    l->ctx = ctx;
    uv_tcp_init(nb_loop(), &l->tcp);
    l->tcp.data = l;
    int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection);
    if (rc != 0) {
        NB_ERR("cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
        l->closing = true;
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return NULL;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    l->port = port;
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &blen) == 0)
        l->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    l->next = all_listeners;
    if (all_listeners)
        all_listeners->prev = l;
    all_listeners = l;
    if (!loop_hooks) {
        loop_hooks = true;
        uv_check_init(nb_loop(), &check_handle);
        uv_check_start(&check_handle, on_check);
        uv_idle_init(nb_loop(), &idle_handle);
        uv_timer_init(nb_loop(), &sweep_timer);
        uv_timer_start(&sweep_timer, on_sweep, 1000, 1000);
        uv_unref((uv_handle_t *)&sweep_timer);
    }
    return l;
}

void nb_http_on_body(nb_listener *l, nb_http_body_fn fn)
{
    l->body_fn = fn;
}

int nb_listener_port(const nb_listener *l)
{
    return l->port;
}

void nb_http_close(nb_listener *l)
{
    if (!l || l->closing)
        return;
    l->closing = true;
    if (l->prev)
        l->prev->next = l->next;
    else
        all_listeners = l->next;
    if (l->next)
        l->next->prev = l->prev;
    for (nb_conn *c = all_conns, *n; c; c = n) {
        n = c->next;
        if (c->l == l)
            conn_close(c);
    }
    if (l == main_listener)
        main_listener = NULL;
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}

int nb_http_listen(const char *host, int port)
{
    main_listener = nb_http_listen_with(host, port, NULL, NULL);
    return main_listener ? 0 : -1;
}

void nb_http_shutdown(void)
{
    shutting_down = true;
    while (all_listeners)
        nb_http_close(all_listeners);
    while (all_conns)
        conn_close(all_conns);
    nb_store_commit();
    if (loop_hooks) {
        loop_hooks = false;
        uv_close((uv_handle_t *)&sweep_timer, NULL);
        uv_close((uv_handle_t *)&check_handle, NULL);
        uv_close((uv_handle_t *)&idle_handle, NULL);
    }
}

/* Fuzzing entry: parse and dispatch bytes as one connection would, without a
 * socket.  Parked requests are cancelled at the end, as on a hang-up. */
static void feed(const char *data, size_t len, nb_listener *l)
{
    if (!settings.on_message_begin)
        init_settings();
    nb_conn *c = nb_calloc(1, sizeof *c);
    c->fake = true;
    c->l = l;
    c->tcp.data = c;
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    if (llhttp_execute(&c->parser, data, len) != HPE_OK)
        parse_failed(c);
    conn_pump(c);
    cancel_parked(c);
    nb_store_commit();
    c->closing = true;
    on_closed((uv_handle_t *)&c->tcp);
}

void nb_http_feed(const char *data, size_t len)
{
    feed(data, len, NULL);
}

void nb_http_feed_with(const char *data, size_t len, nb_http_handler fn, nb_http_body_fn body_fn,
                       void *ctx)
{
    nb_listener l = {.fn = fn, .body_fn = body_fn, .ctx = ctx};
    feed(data, len, &l);
}
