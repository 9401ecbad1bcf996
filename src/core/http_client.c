/*
 * http_client.c — outbound HTTP/1.1 on libuv with llhttp (see
 * http_client.h for the contract).
 *
 * A fetch owns a getaddrinfo request, a TCP handle and a deadline timer.  It
 * finishes exactly once (finish): the callback runs unless the fetch was
 * cancelled, then the timer and the socket are closed and a pending
 * getaddrinfo is cancelled; the memory is freed when the last close callback
 * has run and no getaddrinfo callback is outstanding.  Early failures (a bad
 * URL) are reported from the timer at 0 ms, so the callback never runs
 * inside nb_http_fetch_start.
 *
 * https runs OpenSSL on two memory BIOs: bytes read from the socket go into
 * net_in, SSL_do_handshake / SSL_write / SSL_read advance the session, and
 * what it produces in net_out is written to the socket (tls_flush), so the
 * socket stays libuv's and nothing blocks.  Certificates are verified
 * against the system's store (and NIMBUS_HTTP_CA_FILE) with the URL's host
 * name or address; NIMBUS_HTTP_INSECURE_TLS=1 accepts any certificate (for
 * local self-signed endpoints).
 */
#include "http_client.h"

#include <ctype.h>
#include <llhttp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "nimbus.h"

#define DEFAULT_TIMEOUT_MS 15000
#define DEFAULT_MAX_BODY (1u << 20)

const char *nb_http_error_name(nb_http_error e)
{
    switch (e) {
    case NB_HTTP_OK: return "ok";
    case NB_HTTP_E_URL: return "bad url";
    case NB_HTTP_E_SCHEME: return "unsupported scheme";
    case NB_HTTP_E_RESOLVE: return "host not found";
    case NB_HTTP_E_CONNECT: return "connection failed";
    case NB_HTTP_E_IO: return "connection error";
    case NB_HTTP_E_PARSE: return "invalid response";
    case NB_HTTP_E_TOO_LARGE: return "response too large";
    case NB_HTTP_E_TIMEOUT: return "timeout";
    case NB_HTTP_E_TLS: return "TLS handshake or certificate verification failed";
    }
    return "error";
}

/* ---- URLs ------------------------------------------------------------------ */

int nb_http_url_parse(const char *url, nb_http_url *out)
{
    memset(out, 0, sizeof *out);
    if (!url)
        return -1;
    for (const unsigned char *c = (const unsigned char *)url; *c; c++)
        if (*c <= 0x20 || *c == 0x7f)
            return -1;
    const char *p;
    if (!strncasecmp(url, "http://", 7)) {
        p = url + 7;
        out->port = 80;
    } else if (!strncasecmp(url, "https://", 8)) {
        p = url + 8;
        out->https = true;
        out->port = 443;
    } else {
        return -1;
    }
    size_t auth = strcspn(p, "/?#");
    const char *end = p + auth;
    if (memchr(p, '@', auth))
        return -1; /* no userinfo */
    const char *hs = p, *he;
    const char *portp = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', auth);
        if (!rb || rb == p + 1)
            return -1;
        hs = p + 1;
        he = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':')
                return -1;
            portp = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', auth);
        he = colon ? colon : end;
        if (colon)
            portp = colon + 1;
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= sizeof out->host)
        return -1;
    memcpy(out->host, hs, hl);
    out->host[hl] = '\0';
    if (portp) {
        if (portp == end)
            return -1;
        int port = 0;
        for (const char *c = portp; c < end; c++) {
            if (!isdigit((unsigned char)*c) || c - portp >= 5)
                return -1;
            port = port * 10 + (*c - '0');
        }
        if (port < 1 || port > 65535)
            return -1;
        out->port = port;
    }
    const char *path = end;
    size_t pl = strcspn(path, "#");
    if (pl == 0) {
        out->path[0] = '/';
        return 0;
    }
    if (*path == '?') {
        if (pl + 1 >= sizeof out->path)
            return -1;
        out->path[0] = '/';
        memcpy(out->path + 1, path, pl);
        out->path[pl + 1] = '\0';
        return 0;
    }
    if (pl >= sizeof out->path)
        return -1;
    memcpy(out->path, path, pl);
    out->path[pl] = '\0';
    return 0;
}

/* ---- response parser --------------------------------------------------------- */

struct nb_http_resp_parser {
    llhttp_t p;
    llhttp_settings_t s;
    nb_buf body;
    nb_buf hdrs;          /* "name\0value\0" pairs */
    nb_http_header *harr; /* built by nb_http_resp_headers */
    size_t max_body;
    int status;
    bool complete, too_large, no_body;
};

static int rp_piece(llhttp_t *h, const char *at, size_t len)
{
    nb_http_resp_parser *p = h->data;
    if (p->hdrs.len + len > 65536)
        return -1;
    nb_buf_add(&p->hdrs, at, len);
    return 0;
}

static int rp_piece_end(llhttp_t *h)
{
    nb_http_resp_parser *p = h->data;
    nb_buf_addc(&p->hdrs, '\0');
    return 0;
}

static int rp_headers_done(llhttp_t *h)
{
    nb_http_resp_parser *p = h->data;
    int st = llhttp_get_status_code(h);
    return p->no_body && st >= 200 ? 1 : 0; /* 1: no body follows */
}

static int rp_body(llhttp_t *h, const char *at, size_t len)
{
    nb_http_resp_parser *p = h->data;
    if (p->body.len + len > p->max_body) {
        p->too_large = true;
        return -1;
    }
    nb_buf_add(&p->body, at, len);
    return 0;
}

static int rp_complete(llhttp_t *h)
{
    nb_http_resp_parser *p = h->data;
    int st = llhttp_get_status_code(h);
    if (st >= 100 && st < 200) { /* interim: the real response follows */
        p->body.len = 0;
        p->hdrs.len = 0;
        return 0;
    }
    p->status = st;
    p->complete = true;
    return HPE_PAUSED;
}

nb_http_resp_parser *nb_http_resp_new(size_t max_body)
{
    nb_http_resp_parser *p = nb_calloc(1, sizeof *p);
    llhttp_settings_init(&p->s);
    p->s.on_body = rp_body;
    p->s.on_message_complete = rp_complete;
    p->s.on_header_field = rp_piece;
    p->s.on_header_value = rp_piece;
    p->s.on_header_field_complete = rp_piece_end;
    p->s.on_header_value_complete = rp_piece_end;
    p->s.on_headers_complete = rp_headers_done;
    llhttp_init(&p->p, HTTP_RESPONSE, &p->s);
    p->p.data = p;
    p->max_body = max_body ? max_body : DEFAULT_MAX_BODY;
    return p;
}

int nb_http_resp_feed(nb_http_resp_parser *p, const char *data, size_t len, bool *too_large)
{
    *too_large = false;
    if (p->complete)
        return 1;
    llhttp_errno_t e = len ? llhttp_execute(&p->p, data, len) : llhttp_finish(&p->p);
    if (p->complete)
        return 1;
    if (e != HPE_OK) {
        *too_large = p->too_large;
        return -1;
    }
    return len ? 0 : -1; /* end of stream before a complete response */
}

int nb_http_resp_status(const nb_http_resp_parser *p)
{
    return p->status;
}

void nb_http_resp_no_body(nb_http_resp_parser *p)
{
    p->no_body = true;
}

const nb_http_header *nb_http_resp_headers(nb_http_resp_parser *p, size_t *n)
{
    size_t count = 0;
    for (size_t i = 0; i < p->hdrs.len; i++)
        count += p->hdrs.data[i] == '\0';
    count /= 2;
    free(p->harr);
    p->harr = nb_calloc(count ? count : 1, sizeof *p->harr);
    const char *s = p->hdrs.data, *end = s ? s + p->hdrs.len : NULL;
    for (size_t i = 0; i < count && s < end; i++) {
        p->harr[i].name = s;
        s += strlen(s) + 1;
        p->harr[i].value = s;
        s += strlen(s) + 1;
    }
    *n = count;
    return p->harr;
}

const char *nb_http_resp_body(const nb_http_resp_parser *p, size_t *len)
{
    *len = p->body.len;
    return p->body.data ? p->body.data : "";
}

void nb_http_resp_free(nb_http_resp_parser *p)
{
    if (!p)
        return;
    nb_buf_free(&p->body);
    nb_buf_free(&p->hdrs);
    free(p->harr);
    free(p);
}

/* ---- fetches ------------------------------------------------------------------- */

struct nb_http_fetch {
    struct nb_http_fetch *prev, *next;
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t conn;
    uv_write_t wr;
    nb_buf out;
    nb_http_resp_parser *resp;
    nb_http_cb cb;
    void *arg;
    nb_http_url url;
    nb_http_error early;  /* reported from the 0 ms timer */
    int closes;           /* close callbacks still to run */
    bool gai_pending, tcp_open, done, cancelled;
    SSL *ssl;             /* https: the session, on two memory BIOs */
    BIO *net_in, *net_out;/* bytes read from / to write to the socket */
    bool hs_done, req_sent;
    char rbuf[16384];
};

static nb_http_fetch *g_fetches;

static void maybe_free(nb_http_fetch *f)
{
    if (f->closes > 0 || f->gai_pending)
        return;
    if (f->prev)
        f->prev->next = f->next;
    else if (g_fetches == f)
        g_fetches = f->next;
    if (f->next)
        f->next->prev = f->prev;
    nb_buf_free(&f->out);
    nb_http_resp_free(f->resp);
    SSL_free(f->ssl); /* frees both BIOs */
    free(f);
}

static void on_closed(uv_handle_t *h)
{
    nb_http_fetch *f = h->data;
    f->closes--;
    maybe_free(f);
}

static void finish(nb_http_fetch *f, nb_http_error e)
{
    if (f->done)
        return;
    f->done = true;
    if (!f->cancelled && f->cb) {
        nb_http_result r = {.error = e};
        if (e == NB_HTTP_OK) {
            r.status = nb_http_resp_status(f->resp);
            nb_buf_addc(&f->resp->body, '\0');
            f->resp->body.len--;
            r.body = nb_http_resp_body(f->resp, &r.body_len);
            r.headers = nb_http_resp_headers(f->resp, &r.n_headers);
        } else {
            r.body = "";
        }
        f->cb(&r, f->arg);
    }
    uv_timer_stop(&f->timer);
    f->closes++;
    uv_close((uv_handle_t *)&f->timer, on_closed);
    if (f->tcp_open) {
        f->closes++;
        uv_close((uv_handle_t *)&f->tcp, on_closed);
        f->tcp_open = false;
    }
    if (f->gai_pending)
        uv_cancel((uv_req_t *)&f->gai);
}

static void on_timer(uv_timer_t *t)
{
    nb_http_fetch *f = t->data;
    finish(f, f->early != NB_HTTP_OK ? f->early : NB_HTTP_E_TIMEOUT);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    nb_http_fetch *f = h->data;
    buf->base = f->rbuf;
    buf->len = sizeof f->rbuf;
}

/* ---- TLS ------------------------------------------------------------------------ */

/* One client context: the system's trust store (plus NIMBUS_HTTP_CA_FILE),
 * peer verification on unless NIMBUS_HTTP_INSECURE_TLS=1.  NULL when it
 * cannot be made. */
static SSL_CTX *tls_ctx(void)
{
    static SSL_CTX *ctx;
    static bool tried;
    if (tried)
        return ctx;
    tried = true;
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_default_verify_paths(ctx);
    const char *ca = getenv("NIMBUS_HTTP_CA_FILE");
    if (ca && *ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        NB_WARN("http client: could not load NIMBUS_HTTP_CA_FILE %s", ca);
    const char *insecure = getenv("NIMBUS_HTTP_INSECURE_TLS");
    bool verify = !(insecure && !strcmp(insecure, "1"));
    SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    return ctx;
}

/* The session for f->url: SNI and the name (or address) the certificate
 * must carry.  -1 on failure. */
static int tls_start(nb_http_fetch *f)
{
    SSL_CTX *ctx = tls_ctx();
    if (!ctx || !(f->ssl = SSL_new(ctx)))
        return -1;
    f->net_in = BIO_new(BIO_s_mem());
    f->net_out = BIO_new(BIO_s_mem());
    if (!f->net_in || !f->net_out) {
        BIO_free(f->net_in);
        BIO_free(f->net_out);
        f->net_in = f->net_out = NULL;
        return -1;
    }
    BIO_set_mem_eof_return(f->net_in, -1); /* empty: "want read", not EOF */
    SSL_set_bio(f->ssl, f->net_in, f->net_out);
    SSL_set_connect_state(f->ssl);
    X509_VERIFY_PARAM *vp = SSL_get0_param(f->ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(vp, f->url.host) != 1) {
        /* A name, not an address literal. */
        if (SSL_set_tlsext_host_name(f->ssl, f->url.host) != 1 || SSL_set1_host(f->ssl, f->url.host) != 1)
            return -1;
    }
    return 0;
}

typedef struct tls_write {
    uv_write_t w;
    nb_http_fetch *f;
    char data[];
} tls_write;

static void on_tls_write(uv_write_t *w, int status)
{
    tls_write *t = w->data;
    if (status < 0 && !t->f->done)
        finish(t->f, NB_HTTP_E_IO);
    free(t);
}

/* Sends whatever the session has produced for the network. */
static int tls_flush(nb_http_fetch *f)
{
    size_t pending = BIO_ctrl_pending(f->net_out);
    if (!pending)
        return 0;
    tls_write *t = nb_malloc(sizeof *t + pending);
    int n = BIO_read(f->net_out, t->data, (int)pending);
    if (n <= 0) {
        free(t);
        return -1;
    }
    t->f = f;
    t->w.data = t;
    uv_buf_t b = uv_buf_init(t->data, (unsigned)n);
    if (uv_write(&t->w, (uv_stream_t *)&f->tcp, &b, 1, on_tls_write) != 0) {
        free(t);
        return -1;
    }
    return 0;
}

static void feed_response(nb_http_fetch *f, const char *data, size_t n, bool eof)
{
    bool big;
    int rc = nb_http_resp_feed(f->resp, eof ? NULL : data, eof ? 0 : n, &big);
    if (rc == 1)
        finish(f, NB_HTTP_OK);
    else if (rc == -1 && eof)
        finish(f, NB_HTTP_E_IO);
    else if (rc == -1)
        finish(f, big ? NB_HTTP_E_TOO_LARGE : NB_HTTP_E_PARSE);
}

/* Advances the session: the handshake, then the request, then decrypting
 * what arrived into the response parser.  eof: the peer closed. */
static void tls_pump(nb_http_fetch *f, bool eof)
{
    if (!f->hs_done) {
        int rc = SSL_do_handshake(f->ssl);
        if (rc == 1) {
            f->hs_done = true;
        } else {
            int e = SSL_get_error(f->ssl, rc);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                long v = SSL_get_verify_result(f->ssl);
                NB_WARN("http client: TLS with %s:%d failed: %s", f->url.host, f->url.port,
                        v != X509_V_OK ? X509_verify_cert_error_string(v) : "handshake error");
                ERR_clear_error();
                finish(f, NB_HTTP_E_TLS);
                return;
            }
            if (tls_flush(f) != 0)
                finish(f, NB_HTTP_E_IO);
            else if (eof)
                finish(f, NB_HTTP_E_IO);
            return;
        }
    }
    if (!f->req_sent) {
        f->req_sent = true;
        if (SSL_write(f->ssl, f->out.data, (int)f->out.len) != (int)f->out.len) {
            ERR_clear_error();
            finish(f, NB_HTTP_E_IO);
            return;
        }
    }
    for (;;) {
        int n = SSL_read(f->ssl, f->rbuf, sizeof f->rbuf);
        if (n > 0) {
            feed_response(f, f->rbuf, (size_t)n, false);
            if (f->done)
                return;
            continue;
        }
        int e = SSL_get_error(f->ssl, n);
        ERR_clear_error();
        if (e == SSL_ERROR_ZERO_RETURN) {
            feed_response(f, NULL, 0, true); /* close_notify */
            return;
        }
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            finish(f, NB_HTTP_E_IO);
            return;
        }
        break;
    }
    if (tls_flush(f) != 0)
        finish(f, NB_HTTP_E_IO);
    else if (eof)
        feed_response(f, NULL, 0, true); /* closed without close_notify */
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    nb_http_fetch *f = s->data;
    if (f->done || n == 0)
        return;
    if (f->ssl) {
        if (n > 0 && BIO_write(f->net_in, buf->base, (int)n) != (int)n)
            finish(f, NB_HTTP_E_IO);
        else if (n < 0 && n != UV_EOF)
            finish(f, NB_HTTP_E_IO);
        else
            tls_pump(f, n == UV_EOF);
        return;
    }
    bool big;
    int rc;
    if (n == UV_EOF)
        rc = nb_http_resp_feed(f->resp, NULL, 0, &big);
    else if (n < 0)
        rc = -2;
    else
        rc = nb_http_resp_feed(f->resp, buf->base, (size_t)n, &big);
    if (rc == 1)
        finish(f, NB_HTTP_OK);
    else if (rc == -2 || (rc == -1 && n == UV_EOF))
        finish(f, NB_HTTP_E_IO);
    else if (rc == -1)
        finish(f, big ? NB_HTTP_E_TOO_LARGE : NB_HTTP_E_PARSE);
}

static void on_write(uv_write_t *w, int status)
{
    nb_http_fetch *f = w->data;
    if (status < 0 && !f->done)
        finish(f, NB_HTTP_E_IO);
}

static void on_connect(uv_connect_t *c, int status)
{
    nb_http_fetch *f = c->data;
    if (f->done)
        return;
    if (status < 0) {
        finish(f, NB_HTTP_E_CONNECT);
        return;
    }
    if (f->ssl) {
        if (uv_read_start((uv_stream_t *)&f->tcp, on_alloc, on_read) != 0)
            finish(f, NB_HTTP_E_IO);
        else
            tls_pump(f, false); /* the ClientHello */
        return;
    }
    uv_buf_t b = uv_buf_init(f->out.data, (unsigned)f->out.len);
    f->wr.data = f;
    if (uv_write(&f->wr, (uv_stream_t *)&f->tcp, &b, 1, on_write) != 0 ||
        uv_read_start((uv_stream_t *)&f->tcp, on_alloc, on_read) != 0)
        finish(f, NB_HTTP_E_IO);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *ai)
{
    nb_http_fetch *f = g->data;
    f->gai_pending = false;
    if (f->done) {
        if (ai)
            uv_freeaddrinfo(ai);
        maybe_free(f);
        return;
    }
    if (status < 0 || !ai) {
        if (ai)
            uv_freeaddrinfo(ai);
        finish(f, NB_HTTP_E_RESOLVE);
        return;
    }
    uv_tcp_init(nb_loop(), &f->tcp);
    f->tcp.data = f;
    f->tcp_open = true;
    uv_tcp_nodelay(&f->tcp, 1);
    f->conn.data = f;
    int rc = uv_tcp_connect(&f->conn, &f->tcp, ai->ai_addr, on_connect);
    uv_freeaddrinfo(ai);
    if (rc != 0)
        finish(f, NB_HTTP_E_CONNECT);
}

static void build_request(nb_http_fetch *f, const nb_http_request *req)
{
    nb_buf *b = &f->out;
    nb_buf_printf(b, "%s %s HTTP/1.1\r\n", req->method ? req->method : "GET", f->url.path);
    bool v6 = strchr(f->url.host, ':') != NULL;
    bool default_port = f->url.port == (f->url.https ? 443 : 80);
    if (default_port)
        nb_buf_printf(b, v6 ? "Host: [%s]\r\n" : "Host: %s\r\n", f->url.host);
    else
        nb_buf_printf(b, v6 ? "Host: [%s]:%d\r\n" : "Host: %s:%d\r\n", f->url.host, f->url.port);
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *n = req->headers[i].name, *v = req->headers[i].value;
        /* Header text with CR or LF would split the request: dropped. */
        if (!n || !v || strpbrk(n, "\r\n:") || strpbrk(v, "\r\n"))
            continue;
        nb_buf_printf(b, "%s: %s\r\n", n, v);
    }
    nb_buf_printf(b, "Content-Length: %zu\r\nConnection: close\r\n\r\n", req->body_len);
    if (req->body_len)
        nb_buf_add(b, req->body, req->body_len);
}

nb_http_fetch *nb_http_fetch_start(const nb_http_request *req, nb_http_cb cb, void *arg)
{
    nb_http_fetch *f = nb_calloc(1, sizeof *f);
    f->cb = cb;
    f->arg = arg;
    f->next = g_fetches;
    if (g_fetches)
        g_fetches->prev = f;
    g_fetches = f;
    uv_timer_init(nb_loop(), &f->timer);
    f->timer.data = f;
    f->resp = nb_http_resp_new(req->max_body);
    if (nb_http_url_parse(req->url, &f->url) != 0)
        f->early = NB_HTTP_E_URL;
    else if (f->url.https && tls_start(f) != 0)
        f->early = NB_HTTP_E_TLS;
    if (f->early != NB_HTTP_OK) {
        uv_timer_start(&f->timer, on_timer, 0, 0);
        return f;
    }
    build_request(f, req);
    if (req->method && strcmp(req->method, "HEAD") == 0)
        nb_http_resp_no_body(f->resp);
    uv_timer_start(&f->timer, on_timer, req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS, 0);
    char port[8];
    snprintf(port, sizeof port, "%d", f->url.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    f->gai.data = f;
    if (uv_getaddrinfo(nb_loop(), &f->gai, on_resolved, f->url.host, port, &hints) == 0)
        f->gai_pending = true;
    else
        f->early = NB_HTTP_E_RESOLVE, uv_timer_start(&f->timer, on_timer, 0, 0);
    return f;
}

void nb_http_cancel(nb_http_fetch *f)
{
    if (!f || f->done)
        return;
    f->cancelled = true;
    finish(f, NB_HTTP_E_IO);
}

void nb_http_client_shutdown(void)
{
    for (nb_http_fetch *f = g_fetches; f; f = f->next)
        nb_http_cancel(f);
}
