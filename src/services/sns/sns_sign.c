/*
 * sns_sign.c — message signatures.
 *
 * nimbus makes one RSA-2048 key and a self-signed X.509 certificate for it
 * the first time SNS starts on a store and keeps both (PEM) in sns_kv, so
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

/* The last signature made, by canonical text and digest: the deliveries of
 * one message to its subscriptions sign the same text, one after another,
 * and an RSA signature costs ~1 ms. */
static struct {
    char *text;
    size_t len;
    const EVP_MD *md;
    char *sig;
} g_last;

static void last_clear(void)
{
    free(g_last.text);
    free(g_last.sig);
    memset(&g_last, 0, sizeof g_last);
}

static char *bio_text(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    return nb_strndup(p, n > 0 ? (size_t)n : 0);
}

/* A new key and its self-signed certificate (PEM), or -1. */
static int make_key(char **key_pem, char **cert_pem)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
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

/* The key is made (or read) on first use, not at start-up: RSA key
 * generation takes tens of milliseconds. */
int sns_sign_init(void)
{
    if (g_key)
        return 0;
    nb_store_call_begin();
    char *key = sns_kv_get("signing_key"), *cert = sns_kv_get("signing_cert");
    if (!key || !cert) {
        free(key);
        free(cert);
        key = cert = NULL;
        if (make_key(&key, &cert) != 0) {
            NB_ERR("sns: could not create the signing key");
            nb_store_call_end(true);
            return -1;
        }
        sns_kv_put("signing_key", key);
        sns_kv_put("signing_cert", cert);
    }
    nb_store_call_end(true);
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

void sns_sign_free(void)
{
    last_clear();
    EVP_PKEY_free(g_key);
    g_key = NULL;
    free(g_cert);
    g_cert = NULL;
}

const char *sns_cert_pem(void)
{
    sns_sign_init();
    return g_cert;
}

char *sns_sign(json_object *fields, const char *type, const char *version)
{
    static const char *const NOTIFICATION[] = {"Message", "MessageId", "Subject", "Timestamp",
                                               "TopicArn", "Type", NULL};
    static const char *const CONFIRMATION[] = {"Message", "MessageId", "SubscribeURL", "Timestamp",
                                               "Token", "TopicArn", "Type", NULL};
    const char *const *names = strcmp(type, "Notification") ? CONFIRMATION : NOTIFICATION;
    if (sns_sign_init() != 0)
        return NULL;
    nb_buf b = {0};
    for (int i = 0; names[i]; i++) {
        const char *v = !strcmp(names[i], "Type") ? type : nb_str(fields, names[i]);
        if (!v)
            continue;
        nb_buf_printf(&b, "%s\n", names[i]);
        nb_buf_adds(&b, v);
        nb_buf_addc(&b, '\n');
    }
    const EVP_MD *md = version && !strcmp(version, "2") ? EVP_sha256() : EVP_sha1();
    if (g_last.sig && g_last.md == md && g_last.len == b.len && !memcmp(g_last.text, b.data, b.len)) {
        nb_buf_free(&b);
        return nb_strdup(g_last.sig);
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[512];
    size_t n = sizeof sig;
    char *out = NULL;
    if (ctx && EVP_DigestSignInit(ctx, NULL, md, NULL, g_key) == 1 &&
        EVP_DigestSign(ctx, sig, &n, (const unsigned char *)b.data, b.len) == 1) {
        size_t olen;
        out = nb_base64_encode(sig, n, &olen);
    }
    EVP_MD_CTX_free(ctx);
    if (out) {
        last_clear();
        g_last.text = nb_strndup(b.data, b.len);
        g_last.len = b.len;
        g_last.md = md;
        g_last.sig = nb_strdup(out);
    }
    nb_buf_free(&b);
    return out;
}

void sns_cert_url(const char *host, const char *region, char *out, size_t n)
{
    (void)region;
    snprintf(out, n, "http://%s/_aws/sns/SimpleNotificationService-nimbus.pem",
             host && *host ? host : "localhost");
}

static void url_encode(nb_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            nb_buf_addc(b, (char)*p);
        } else {
            nb_buf_addc(b, '%');
            nb_buf_addc(b, hex[*p >> 4]);
            nb_buf_addc(b, hex[*p & 15]);
        }
    }
}

void sns_unsubscribe_url(const char *host, const char *region, const char *sub_arn, char *out,
                         size_t n)
{
    (void)region;
    nb_buf b = {0};
    nb_buf_printf(&b, "http://%s/?Action=Unsubscribe&SubscriptionArn=", host && *host ? host : "localhost");
    url_encode(&b, sub_arn);
    nb_copy(out, n, b.data, b.len);
    nb_buf_free(&b);
}

void sns_subscribe_url(const char *host, const char *topic_arn, const char *token, char *out,
                       size_t n)
{
    nb_buf b = {0};
    nb_buf_printf(&b, "http://%s/?Action=ConfirmSubscription&TopicArn=",
                  host && *host ? host : "localhost");
    url_encode(&b, topic_arn);
    nb_buf_adds(&b, "&Token=");
    url_encode(&b, token);
    nb_copy(out, n, b.data, b.len);
    nb_buf_free(&b);
}
