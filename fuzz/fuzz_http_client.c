/*
 * fuzz_http_client.c — libFuzzer target for the outbound HTTP client's
 * parsers (src/core/http_client.c).
 *
 * Input: the first line (up to '\n') is parsed as a URL; a parsed URL must
 * have a host, a port in 1..65535 and a path starting with '/'.  The rest is
 * fed to the response parser twice, whole and then in pieces whose sizes
 * come from the input, with a small body limit; both runs must reach the
 * same result, status, headers and body.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_http_client)   Seeds: fuzz/corpus/http_client/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_client.h"

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

static int run(const char *d, size_t n, size_t step, int *status, char **body, size_t *blen)
{
    nb_http_resp_parser *p = nb_http_resp_new(4096);
    bool big;
    int rc = 0;
    size_t off = 0;
    while (rc == 0 && off < n) {
        size_t k = step ? step : n;
        if (k > n - off)
            k = n - off;
        rc = nb_http_resp_feed(p, d + off, k, &big);
        off += k;
        if (step)
            step = step % 7 + 1;
    }
    if (rc == 0)
        rc = nb_http_resp_feed(p, NULL, 0, &big);
    *status = nb_http_resp_status(p);
    size_t bl, nh;
    const char *b = nb_http_resp_body(p, &bl);
    const nb_http_header *h = nb_http_resp_headers(p, &nh);
    size_t hl = 0;
    for (size_t i = 0; i < nh; i++)
        hl += strlen(h[i].name) + strlen(h[i].value) + 2;
    /* body, then each header as "name\0value\0" */
    *blen = bl + hl;
    *body = malloc(*blen + 1);
    memcpy(*body, b, bl);
    for (size_t i = 0, o = bl; i < nh; i++) {
        size_t a = strlen(h[i].name) + 1, v = strlen(h[i].value) + 1;
        memcpy(*body + o, h[i].name, a);
        memcpy(*body + o + a, h[i].value, v);
        o += a + v;
    }
    nb_http_resp_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    const char *nl = memchr(d, '\n', size);
    size_t ul = nl ? (size_t)(nl - d) : size;
    char *url = malloc(ul + 1);
    memcpy(url, d, ul);
    url[ul] = '\0';
    nb_http_url u;
    if (nb_http_url_parse(url, &u) == 0 &&
        (!u.host[0] || u.port < 1 || u.port > 65535 || u.path[0] != '/'))
        abort();
    free(url);
    if (!nl)
        return 0;
    const char *rest = nl + 1;
    size_t rn = size - ul - 1;
    int s1, s2;
    char *b1, *b2;
    size_t l1, l2;
    int r1 = run(rest, rn, 0, &s1, &b1, &l1);
    int r2 = run(rest, rn, (size_t)(size % 5) + 1, &s2, &b2, &l2);
    /* A pause after a complete response may leave bytes unread in one run
     * and not the other, but the response itself must agree. */
    if (r1 == 1 && r2 == 1 && (s1 != s2 || l1 != l2 || memcmp(b1, b2, l1)))
        abort();
    free(b1);
    free(b2);
    return 0;
}
