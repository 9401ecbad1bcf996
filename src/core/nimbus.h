/*
 * nimbus.h — process-wide configuration, the event loop, clocks, logging and
 * the allocation policy (abort on out-of-memory) shared by every module.
 */
#ifndef NB_NIMBUS_H
#define NB_NIMBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define NIMBUS_VERSION "0.1.0"

typedef enum { NB_LOG_ERROR, NB_LOG_WARN, NB_LOG_INFO, NB_LOG_DEBUG } nb_log_level;

typedef struct nb_config {
    const char *host;        /* --host, NIMBUS_HOST (127.0.0.1) */
    int port;                /* --port, NIMBUS_PORT (4566) */
    const char *data_dir;    /* --data-dir, NIMBUS_DATA_DIR (NULL = memory) */
    nb_log_level log_level;  /* --log-level, NIMBUS_LOG_LEVEL (info) */
    bool verify_signatures;  /* --verify-signatures, NIMBUS_VERIFY_SIGNATURES */
    const char *access_key;  /* --access-key, NIMBUS_ACCESS_KEY (test) */
    const char *secret_key;  /* --secret-key, NIMBUS_SECRET_KEY (test) */
    const char *region;      /* --region, NIMBUS_REGION (us-east-1) */
    size_t max_body;         /* --max-body-size bytes */
    const char *init_dir;    /* --init-dir, NIMBUS_INIT_DIR (NULL = none) */
} nb_config;

extern nb_config nb_cfg;

uv_loop_t *nb_loop(void);
int64_t nb_now_ms(void);         /* wall clock, ms since epoch */
uint64_t nb_mono_ms(void);       /* monotonic ms (uv_now) */

void nb_log(nb_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define NB_ERR(...) nb_log(NB_LOG_ERROR, __VA_ARGS__)
#define NB_WARN(...) nb_log(NB_LOG_WARN, __VA_ARGS__)
#define NB_INFO(...) nb_log(NB_LOG_INFO, __VA_ARGS__)
#define NB_DEBUG(...) nb_log(NB_LOG_DEBUG, __VA_ARGS__)

/* Allocation: abort on out-of-memory, never return NULL. */
void *nb_malloc(size_t n);
void *nb_calloc(size_t n, size_t m);
void *nb_realloc(void *p, size_t n);
char *nb_strdup(const char *s);
char *nb_strndup(const char *s, size_t n);

/* Bounded copy of n bytes into dst[cap], always terminated; returns length. */
size_t nb_copy(char *dst, size_t cap, const char *src, size_t n);

/* Random and ids. */
void nb_random(void *buf, size_t n);
void nb_uuid(char out[37]);
uint64_t nb_rand64(void);  /* fast, non-cryptographic */

/* Hex/base64/MD5/SHA-256 helpers (OpenSSL). */
void nb_hex(const unsigned char *in, size_t n, char *out); /* out: 2n+1 */
void nb_md5_hex(const void *data, size_t n, char out[33]);
void nb_crypto_free(void); /* at exit */
char *nb_base64_encode(const void *data, size_t n, size_t *outlen); /* malloc'd */
/* Strict base64 decode; returns malloc'd bytes or NULL if invalid. */
unsigned char *nb_base64_decode(const char *s, size_t n, size_t *outlen);

#endif
