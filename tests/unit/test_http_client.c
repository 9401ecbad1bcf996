/*
 * test_http_client.c — unit test of the outbound HTTP client's pure parts
 * (src/core/http_client.c): URL parsing and the response parser
 * (Content-Length, chunked, read-until-close, interim 100 responses, body
 * limit, malformed input, byte-by-byte feeding).
 *
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_client.h"

static int passed, failed;

#include "check.h"

static void test_urls(void)
{
    nb_http_url u;
    check(nb_http_url_parse("http://example.com", &u) == 0 && !u.https &&
              !strcmp(u.host, "example.com") && u.port == 80 && !strcmp(u.path, "/"),
          "plain host");
    check(nb_http_url_parse("http://127.0.0.1:8080/a/b?c=d#frag", &u) == 0 &&
              !strcmp(u.host, "127.0.0.1") && u.port == 8080 && !strcmp(u.path, "/a/b?c=d"),
          "port, path, query; fragment dropped");
    check(nb_http_url_parse("HTTPS://h?q=1", &u) == 0 && u.https && u.port == 443 &&
              !strcmp(u.path, "/?q=1"),
          "https, query without path");
    check(nb_http_url_parse("http://[::1]:9000/x", &u) == 0 && !strcmp(u.host, "::1") &&
              u.port == 9000 && !strcmp(u.path, "/x"),
          "IPv6 literal");
    const char *bad[] = {"", "ftp://h/", "http://", "http:///x", "http://h:/", "http://h:0/",
                         "http://h:65536/", "http://h:12a/", "http://u@h/", "http://h /",
                         "http://[::1/", "http://[]/", "http://[::1]x/", "http://h\r\n/",
                         "example.com", NULL};
    for (int i = 0; bad[i]; i++)
        check(nb_http_url_parse(bad[i], &u) != 0, "bad url '%s'", bad[i]);
    check(nb_http_url_parse(NULL, &u) != 0, "NULL url");
}

/* Feeds text whole, or byte by byte, then end of stream when `eof`. */
static int feed(const char *text, bool bytewise, bool eof, size_t max, int *status, char *body,
                size_t cap, bool *big)
{
    nb_http_resp_parser *p = nb_http_resp_new(max);
    int rc = 0;
    size_t n = strlen(text);
    if (bytewise) {
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = nb_http_resp_feed(p, text + i, 1, big);
    } else if (n) {
        rc = nb_http_resp_feed(p, text, n, big);
    }
    if (rc == 0 && eof)
        rc = nb_http_resp_feed(p, NULL, 0, big);
    *status = nb_http_resp_status(p);
    size_t bl;
    const char *b = nb_http_resp_body(p, &bl);
    snprintf(body, cap, "%.*s", (int)bl, b);
    nb_http_resp_free(p);
    return rc;
}

static void test_responses(void)
{
    int st;
    char body[256];
    bool big;
    for (int bw = 0; bw < 2; bw++) {
        check(feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", bw, false, 0, &st, body,
                   sizeof body, &big) == 1 && st == 200 && !strcmp(body, "hello"),
              "content-length (bytewise %d)", bw);
        check(feed("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde"
                   "\r\n0\r\n\r\n", bw, false, 0, &st, body, sizeof body, &big) == 1 &&
                  st == 201 && !strcmp(body, "abcde"),
              "chunked (bytewise %d)", bw);
        check(feed("HTTP/1.0 500 Oops\r\n\r\nuntil close", bw, true, 0, &st, body, sizeof body,
                   &big) == 1 && st == 500 && !strcmp(body, "until close"),
              "read until close (bytewise %d)", bw);
        check(feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", bw, false, 0,
                   &st, body, sizeof body, &big) == 1 && st == 204 && !body[0],
              "interim 100 skipped (bytewise %d)", bw);
    }
    check(feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, false, 0, &st, body,
               sizeof body, &big) == 0, "incomplete needs more");
    check(feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, true, 0, &st, body,
               sizeof body, &big) == -1, "closed before the end");
    check(feed("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n0123456789a", false, false, 10, &st,
               body, sizeof body, &big) == -1 && big, "over the body limit");
    check(feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false, false, 10, &st,
               body, sizeof body, &big) == 1, "at the body limit");
    check(feed("garbage\r\n\r\n", false, false, 0, &st, body, sizeof body, &big) == -1 && !big,
          "not HTTP");
    check(feed("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, false, 0, &st, body,
               sizeof body, &big) == -1, "bad content-length");
    check(feed("", false, true, 0, &st, body, sizeof body, &big) == -1, "empty stream");
    check(nb_http_error_name(NB_HTTP_E_TIMEOUT)[0] != '\0', "error names");
}

/* Headers in order as sent (an empty value too), reset by an interim
 * response; a HEAD answer has no body whatever Content-Length says. */
static void test_headers(void)
{
    static const char R[] = "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
                            "HTTP/1.1 201 Created\r\nX-A: one\r\nX-Empty:\r\n"
                            "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        nb_http_resp_parser *p = nb_http_resp_new(0);
        bool big;
        int rc = 0;
        for (size_t i = 0; bytewise && i < sizeof R - 1 && rc == 0; i++)
            rc = nb_http_resp_feed(p, R + i, 1, &big);
        if (!bytewise)
            rc = nb_http_resp_feed(p, R, sizeof R - 1, &big);
        size_t n = 0;
        const nb_http_header *h = nb_http_resp_headers(p, &n);
        check(rc == 1 && n == 5, "headers: %d, %zu", rc, n);
        check(n == 5 && !strcmp(h[0].name, "X-A") && !strcmp(h[0].value, "one") &&
                  !strcmp(h[1].name, "X-Empty") && !strcmp(h[1].value, "") &&
                  !strcmp(h[3].value, "b=2") && !strcmp(h[4].name, "Content-Length"),
              "header order and values");
        nb_http_resp_free(p);
    }
    nb_http_resp_parser *p = nb_http_resp_new(0);
    nb_http_resp_no_body(p);
    bool big;
    static const char H[] = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n";
    check(nb_http_resp_feed(p, H, sizeof H - 1, &big) == 1 && nb_http_resp_status(p) == 200,
          "HEAD answer without body");
    nb_http_resp_free(p);
}

int main(void)
{
    test_urls();
    test_responses();
    test_headers();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
