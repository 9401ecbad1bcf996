/*
 * sns_sign.c — message signatures.
 *
 * nimbus makes one RSA-2048 key (NIMBUS_SNS_KEY_BITS) and a self-signed
 * X.509 certificate for it, in the background when the first topic is
 * created on a store, and keeps both (PEM) in sns_kv, so
 * they last as long as the data directory (and are not cleared by a reset).
 * Every notification and subscription confirmation is signed over AWS's
 * canonical string: the "Name\nvalue\n" pairs of its fields in AWS's order
 * (Notification: Message, MessageId, Subject when present, Timestamp,
 * TopicArn, Type; SubscriptionConfirmation and UnsubscribeConfirmation:
 * Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type) with
 * SHA1withRSA (SignatureVersion 1) or SHA256withRSA (2), base64.  The
 * certificate is served at the SigningCertURL, /_aws/sns/<name>.pem.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sns_internal.h"

static EVP_PKEY *g_key;
static char *g_cert;

/* Signatures by canonical text and digest.  The deliveries of one message
 * to its subscriptions sign the same text, and an RSA-2048 signature costs
 * ~0.24 ms, so each text is signed once: ahead of delivery on the libuv
 * threadpool (sns_sign_ahead, from the fan-out) or, when nothing was
 * started for it, on the loop (sns_sign).  Entries are kept in insertion
 * order and the oldest finished one is dropped past SIG_MAX; a pending
 * entry is never dropped (its job writes into it). */
#define SIG_BUCKETS 4096
#define SIG_MAX 8192

typedef struct sig_entry {
    struct sig_entry *next_hash, *next_fifo;
    uint64_t h;
    char *text;
    size_t len;
    const EVP_MD *md;
    char *sig;      /* NULL while pending, or when the signature failed */
    bool pending;
} sig_entry;

typedef struct sig_job {
    uv_work_t w;
    sig_entry *e;
    char *sig;
} sig_job;

static sig_entry *g_tab[SIG_BUCKETS];
static sig_entry *g_head, *g_tail;
static size_t g_count, g_jobs;
static bool g_closed;   /* sns_sign_free ran while jobs were out */

static uint64_t sig_hash(const char *t, size_t n, const EVP_MD *md)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)md;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)t[i]) * 1099511628211ULL;
    return h;
}

static sig_entry *sig_find(const char *t, size_t n, const EVP_MD *md, uint64_t h)
{
    for (sig_entry *e = g_tab[h % SIG_BUCKETS]; e; e = e->next_hash)
        if (e->h == h && e->md == md && e->len == n && !memcmp(e->text, t, n))
            return e;
    return NULL;
}

static void sig_entry_free(sig_entry *e)
{
    free(e->text);
    free(e->sig);
    free(e);
}

/* Drops the oldest finished entries down to room for one more; false when
 * the table is full of pending ones. */
static bool sig_room(void)
{
    while (g_count >= SIG_MAX && g_head && !g_head->pending) {
        sig_entry *e = g_head, **pp = &g_tab[e->h % SIG_BUCKETS];
        while (*pp != e)
            pp = &(*pp)->next_hash;
        *pp = e->next_hash;
        g_head = e->next_fifo;
        if (!g_head)
            g_tail = NULL;
        g_count--;
        sig_entry_free(e);
    }
    return g_count < SIG_MAX;
}

static sig_entry *sig_add(const char *t, size_t n, const EVP_MD *md, uint64_t h)
{
    if (!sig_room())
        return NULL;
    sig_entry *e = nb_calloc(1, sizeof *e);
    e->h = h;
    e->text = nb_strndup(t, n);
    e->len = n;
    e->md = md;
    e->next_hash = g_tab[h % SIG_BUCKETS];
    g_tab[h % SIG_BUCKETS] = e;
    if (g_tail)
        g_tail->next_fifo = e;
    else
        g_head = e;
    g_tail = e;
    g_count++;
    return e;
}

static void sig_clear(void)
{
    sig_entry *e = g_head;
    while (e) {
        sig_entry *n = e->next_fifo;
        if (e->pending)
            e->next_fifo = NULL; /* its job frees it (g_closed) */
        else
            sig_entry_free(e);
        e = n;
    }
    memset(g_tab, 0, sizeof g_tab);
    g_head = g_tail = NULL;
    g_count = 0;
}

/* Base64 RSA signature of text, or NULL; safe on any thread (the key is
 * only read). */
static char *sign_text(const char *text, size_t len, const EVP_MD *md)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[512];
    size_t n = sizeof sig;
    char *out = NULL;
    if (ctx && EVP_DigestSignInit(ctx, NULL, md, NULL, g_key) == 1 &&
        EVP_DigestSign(ctx, sig, &n, (const unsigned char *)text, len) == 1) {
        size_t olen;
        out = nb_base64_encode(sig, n, &olen);
    }
    EVP_MD_CTX_free(ctx);
    return out;
}

static char *bio_text(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    return nb_strndup(p, n > 0 ? (size_t)n : 0);
}

/* The RSA key size: 2048, as AWS's SNS certificates, unless
 * NIMBUS_SNS_KEY_BITS asks for 1024 (4x cheaper signatures, for fan-out
 * benchmarks), 3072 or 4096. */
static int key_bits(void)
{
    const char *v = getenv("NIMBUS_SNS_KEY_BITS");
    int b = v ? atoi(v) : 2048;
    return b == 1024 || b == 3072 || b == 4096 ? b : 2048;
}

/* A new key and its self-signed certificate (PEM), or -1. */
static int make_key(char **key_pem, char **cert_pem)
{
    EVP_PKEY *k = EVP_RSA_gen((unsigned)key_bits());
    X509 *x = X509_new();
    BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
    int rc = -1;
    if (!k || !x || !kb || !cb)
        goto out;
    unsigned char serial[8];
    nb_random(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
    X509_set_pubkey(x, k);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"nimbus", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"sns.nimbus.local",
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (!X509_sign(x, k, EVP_sha256()) || !PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_X509(cb, x))
        goto out;
    *key_pem = bio_text(kb);
    *cert_pem = bio_text(cb);
    rc = 0;
out:
    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(kb);
    BIO_free(cb);
    return rc;
}

/* The stored key and certificate when they are of the size asked for;
 * otherwise both NULL. */
static void stored_key(char **key, char **cert)
{
    *key = sns_kv_get("signing_key");
    *cert = sns_kv_get("signing_cert");
    if (*key && *cert) {
        /* A stored key of another size than asked for is replaced. */
        BIO *kb = BIO_new_mem_buf(*key, -1);
        EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
        bool ok = k && EVP_PKEY_get_bits(k) == key_bits();
        EVP_PKEY_free(k);
        BIO_free(kb);
        if (ok)
            return;
    }
    free(*key);
    free(*cert);
    *key = *cert = NULL;
}

/* Takes key and cert (PEM) as the signing key; -1 if unreadable. */
static int adopt_key(char *key, char *cert)
{
    BIO *b = BIO_new_mem_buf(key, -1);
    g_key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    free(key);
    free(g_cert);
    g_cert = cert;
    if (!g_key) {
        NB_ERR("sns: the stored signing key is unreadable");
        return -1;
    }
    return 0;
}

/* Key generation ahead of need.  RSA key generation takes 50-300 ms, so
 * the first CreateTopic on a store without a key starts it on the
 * threadpool (sns_sign_prepare); the key is stored in its own transaction
 * when it completes.  Should a signature be needed before then, it is made
 * on the loop as before (sns_sign_init) and the background key dropped. */
typedef struct key_job {
    uv_work_t w;
    char *key, *cert;
    int rc;
} key_job;
static bool g_key_job;

static void key_work(uv_work_t *w)
{
    key_job *j = w->data;
    j->rc = make_key(&j->key, &j->cert);
}

static void key_done(uv_work_t *w, int status)
{
    key_job *j = w->data;
    bool closed = g_closed;
    g_key_job = false;
    if (status == 0 && j->rc == 0 && !g_key && !closed) {
        nb_store_call_begin();
        sns_kv_put("signing_key", j->key);
        sns_kv_put("signing_cert", j->cert);
        nb_store_call_end(true);
        adopt_key(j->key, j->cert);
    } else {
        free(j->key);
        free(j->cert);
        if (g_closed && !g_jobs) {
            EVP_PKEY_free(g_key);
            g_key = NULL;
            g_closed = false;
        }
    }
    if (!closed)
        sns_deliver_kick(); /* deliveries that waited for the key */
    free(j);
}

void sns_sign_prepare(void)
{
    if (g_key || g_key_job || g_closed)
        return;
    char *key, *cert;
    stored_key(&key, &cert);
    if (key) {
        adopt_key(key, cert);
        return;
    }
    key_job *j = nb_calloc(1, sizeof *j);
    j->w.data = j;
    if (uv_queue_work(nb_loop(), &j->w, key_work, key_done) == 0)
        g_key_job = true;
    else
        free(j);
}

/* The key, made (or read) now if not ready. */
int sns_sign_init(void)
{
    if (g_key)
        return 0;
    nb_store_call_begin();
    char *key, *cert;
    stored_key(&key, &cert);
    if (key) {
    } else {
        if (make_key(&key, &cert) != 0) {
            NB_ERR("sns: could not create the signing key");
            nb_store_call_end(true);
            return -1;
        }
        sns_kv_put("signing_key", key);
        sns_kv_put("signing_cert", cert);
    }
    nb_store_call_end(true);
    return adopt_key(key, cert);
}

void sns_sign_free(void)
{
    sig_clear();
    if (g_jobs || g_key_job) {
        g_closed = true; /* the last job's completion frees the key */
    } else {
        EVP_PKEY_free(g_key);
        g_key = NULL;
    }
    free(g_cert);
    g_cert = NULL;
}

const char *sns_cert_pem(void)
{
    sns_sign_init();
    return g_cert;
}

/* The canonical string of fields (see the top of the file). */
static void canonical(nb_buf *b, json_object *fields, const char *type)
{
    static const char *const NOTIFICATION[] = {"Message", "MessageId", "Subject", "Timestamp",
                                               "TopicArn", "Type", NULL};
    static const char *const CONFIRMATION[] = {"Message", "MessageId", "SubscribeURL", "Timestamp",
                                               "Token", "TopicArn", "Type", NULL};
    const char *const *names = strcmp(type, "Notification") ? CONFIRMATION : NOTIFICATION;
    for (int i = 0; names[i]; i++) {
        const char *v = !strcmp(names[i], "Type") ? type : nb_str(fields, names[i]);
        if (!v)
            continue;
        nb_buf_printf(b, "%s\n", names[i]);
        nb_buf_adds(b, v);
        nb_buf_addc(b, '\n');
    }
}

static const EVP_MD *digest(const char *version)
{
    return version && !strcmp(version, "2") ? EVP_sha256() : EVP_sha1();
}

char *sns_sign(json_object *fields, const char *type, const char *version)
{
    if (sns_sign_init() != 0)
        return NULL;
    nb_buf b = {0};
    canonical(&b, fields, type);
    const EVP_MD *md = digest(version);
    uint64_t h = sig_hash(b.data, b.len, md);
    sig_entry *e = sig_find(b.data, b.len, md, h);
    char *out;
    if (e && e->sig) {
        out = nb_strdup(e->sig);
    } else {
        /* Absent, failed, or still on the threadpool (a caller that did not
         * wait): signed here. */
        out = sign_text(b.data, b.len, md);
        if (!e && out && (e = sig_add(b.data, b.len, md, h)) != NULL)
            e->sig = nb_strdup(out);
    }
    nb_buf_free(&b);
    return out;
}

static void job_work(uv_work_t *w)
{
    sig_job *j = w->data;
    j->sig = sign_text(j->e->text, j->e->len, j->e->md);
}

static void job_done(uv_work_t *w, int status)
{
    (void)status;
    sig_job *j = w->data;
    g_jobs--;
    if (g_closed) {
        sig_entry_free(j->e);
        free(j->sig);
        if (!g_jobs && !g_key_job) {
            EVP_PKEY_free(g_key);
            g_key = NULL;
            g_closed = false;
        }
    } else {
        j->e->sig = j->sig;
        j->e->pending = false;
        sns_deliver_kick();
    }
    free(j);
}

void sns_sign_ahead(json_object *fields, const char *type, const char *version)
{
    if (g_closed || g_key_job || sns_sign_init() != 0)
        return; /* while the key is made, deliveries wait (sns_sign_waiting) */
    nb_buf b = {0};
    canonical(&b, fields, type);
    const EVP_MD *md = digest(version);
    uint64_t h = sig_hash(b.data, b.len, md);
    sig_entry *e = sig_find(b.data, b.len, md, h);
    if (!e && (e = sig_add(b.data, b.len, md, h)) != NULL) {
        sig_job *j = nb_calloc(1, sizeof *j);
        j->e = e;
        j->w.data = j;
        e->pending = true;
        if (uv_queue_work(nb_loop(), &j->w, job_work, job_done) == 0) {
            g_jobs++;
        } else {
            e->pending = false; /* signed on the loop when delivered */
            free(j);
        }
    }
    nb_buf_free(&b);
}

bool sns_sign_waiting(json_object *fields, const char *type, const char *version)
{
    if (g_key_job)
        return true;
    if (!g_jobs)
        return false;
    nb_buf b = {0};
    canonical(&b, fields, type);
    const EVP_MD *md = digest(version);
    sig_entry *e = sig_find(b.data, b.len, md, sig_hash(b.data, b.len, md));
    nb_buf_free(&b);
    return e && e->pending;
}

void sns_cert_url(const char *host, const char *region, char *out, size_t n)
{
    (void)region;
    snprintf(out, n, "http://%s/_aws/sns/SimpleNotificationService-nimbus.pem",
             host && *host ? host : "localhost");
}

void sns_unsubscribe_url(const char *host, const char *region, const char *sub_arn, char *out,
                         size_t n)
{
    (void)region;
    nb_buf b = {0};
    nb_buf_printf(&b, "http://%s/?Action=Unsubscribe&SubscriptionArn=", host && *host ? host : "localhost");
    nb_url_encode(&b, sub_arn);
    nb_copy(out, n, b.data, b.len);
    nb_buf_free(&b);
}

void sns_subscribe_url(const char *host, const char *topic_arn, const char *token, char *out,
                       size_t n)
{
    nb_buf b = {0};
    nb_buf_printf(&b, "http://%s/?Action=ConfirmSubscription&TopicArn=",
                  host && *host ? host : "localhost");
    nb_url_encode(&b, topic_arn);
    nb_buf_adds(&b, "&Token=");
    nb_url_encode(&b, token);
    nb_copy(out, n, b.data, b.len);
    nb_buf_free(&b);
}
