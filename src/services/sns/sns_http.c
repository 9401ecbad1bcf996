/*
 * sns_http.c — delivery to http and https subscriptions over the shared outbound
 * client (core/http_client.h): the SubscriptionConfirmation and every
 * notification are POSTed with AWS's headers (x-amz-sns-message-type,
 * -message-id, -topic-arn, -subscription-arn, -rawdelivery; the delivery
 * policy's Content-Type), 15 s per attempt.
 *
 * A 2xx answer is a delivery.  A connection failure, a timeout, a 5xx or a
 * 429 is a server-side error: the row is retried on the effective delivery
 * policy (the subscription's healthyRetryPolicy, else the topic's
 * http.defaultHealthyRetryPolicy, else 3 retries 20 s apart) through its
 * four phases: immediate retries, pre-backoff at minDelayTarget, backoff
 * from minDelayTarget to maxDelayTarget by backoffFunction, post-backoff at
 * maxDelayTarget (no jitter).  Any other answer (a 4xx) is a client-side
 * error and is not retried.  An exhausted or client-side failure goes to
 * the RedrivePolicy's dead-letter queue, if any.
 *
 * While a POST is in flight its row is leased (due 16 s later), so a crash
 * re-sends it after a restart; a retry is the same row with a later due
 * time and one more attempt.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/http_client.h"
#include "sns_internal.h"

#define ATTEMPT_TIMEOUT_MS 15000
#define LEASE_MS (ATTEMPT_TIMEOUT_MS + 1000)

typedef struct job {
    struct job *prev, *next;
    int64_t id;
    int attempts;
    nb_call ctx;
    char *sub_arn, *rec;
    nb_http_fetch *fetch;
} job;

static job *g_jobs;

typedef struct policy {
    int64_t min_delay, max_delay, retries, no_delay, min_retries, max_retries;
    char backoff[16];
    char content_type[128];
} policy;

static void policy_from(policy *p, json_object *retry, json_object *request)
{
    int64_t v;
    if (retry) {
        if (nb_int(retry, "minDelayTarget", &v))
            p->min_delay = v;
        if (nb_int(retry, "maxDelayTarget", &v))
            p->max_delay = v;
        if (nb_int(retry, "numRetries", &v))
            p->retries = v;
        if (nb_int(retry, "numNoDelayRetries", &v))
            p->no_delay = v;
        if (nb_int(retry, "numMinDelayRetries", &v))
            p->min_retries = v;
        if (nb_int(retry, "numMaxDelayRetries", &v))
            p->max_retries = v;
        const char *b = nb_str(retry, "backoffFunction");
        if (b)
            snprintf(p->backoff, sizeof p->backoff, "%s", b);
    }
    const char *ct = request ? nb_str(request, "headerContentType") : NULL;
    if (ct)
        snprintf(p->content_type, sizeof p->content_type, "%s", ct);
}

/* The effective policy: defaults, then the topic's, then the subscription's. */
static void effective_policy(const sns_sub *sub, policy *p)
{
    *p = (policy){.min_delay = 20, .max_delay = 20, .retries = 3};
    snprintf(p->backoff, sizeof p->backoff, "linear");
    snprintf(p->content_type, sizeof p->content_type, "text/plain; charset=UTF-8");
    sns_topic t;
    nb_call probe = {0};
    if (sns_topic_get(&probe, sub->topic_arn, "TopicArn", &t)) {
        const char *dp = sns_topic_attr(&t, "DeliveryPolicy");
        json_object *o = dp ? json_tokener_parse(dp) : NULL;
        json_object *http = o ? nb_get(o, "http") : NULL;
        if (http)
            policy_from(p, nb_get(http, "defaultHealthyRetryPolicy"),
                        nb_get(http, "defaultRequestPolicy"));
        if (o)
            json_object_put(o);
        sns_topic_free(&t);
    }
    const char *sp = sns_sub_attr(sub, "DeliveryPolicy");
    json_object *o = sp ? json_tokener_parse(sp) : NULL;
    if (o && json_object_is_type(o, json_type_object))
        policy_from(p, nb_get(o, "healthyRetryPolicy"), nb_get(o, "requestPolicy"));
    if (o)
        json_object_put(o);
    if (p->min_delay < 0)
        p->min_delay = 0;
    if (p->max_delay < p->min_delay)
        p->max_delay = p->min_delay;
}

/* Seconds before retry k (1-based). */
static double retry_delay(const policy *p, int64_t k)
{
    if (k <= p->no_delay)
        return 0;
    k -= p->no_delay;
    if (k <= p->min_retries)
        return (double)p->min_delay;
    k -= p->min_retries;
    int64_t n = p->retries - p->no_delay - p->min_retries - p->max_retries;
    if (k > n || n <= 0)
        return (double)p->max_delay;
    double lo = (double)p->min_delay, hi = (double)p->max_delay;
    double f = n > 1 ? (double)(k - 1) / (double)(n - 1) : 1.0;
    if (!strcmp(p->backoff, "arithmetic"))
        return lo + (hi - lo) * f * f;
    if (!strcmp(p->backoff, "geometric"))
        return lo > 0 ? lo * pow(hi / lo, f) : hi * f;
    if (!strcmp(p->backoff, "exponential"))
        return lo + (hi - lo) * (pow(2.0, f * 10.0) - 1.0) / 1023.0;
    return lo + (hi - lo) * f;
}

static void job_free(job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        g_jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    free(j->sub_arn);
    free(j->rec);
    free(j);
}

static void posted(const nb_http_result *res, void *arg)
{
    job *j = arg;
    j->fetch = NULL;
    bool ok = res->error == NB_HTTP_OK && res->status >= 200 && res->status < 300;
    bool retryable = !ok && (res->error != NB_HTTP_OK || res->status >= 500 || res->status == 429);
    sns_sub sub;
    bool have = sns_sub_load(j->sub_arn, &sub);
    if (ok || !have) {
        sns_delivery_done(j->id);
    } else {
        policy p;
        effective_policy(&sub, &p);
        if (retryable && j->attempts < p.retries) {
            int64_t due = nb_now_ms() + (int64_t)(retry_delay(&p, j->attempts + 1) * 1000.0);
            sns_delivery_later(j->id, due, j->attempts + 1);
            sns_deliver_at(due);
        } else {
            char code[32], msg[128];
            snprintf(code, sizeof code, "%d", res->error == NB_HTTP_OK ? res->status : 0);
            snprintf(msg, sizeof msg, "%s", res->error == NB_HTTP_OK ? "HTTP error status"
                                                                     : nb_http_error_name(res->error));
            json_object *rec = json_tokener_parse(j->rec);
            if (rec && strcmp(nb_str(rec, "Type") ? nb_str(rec, "Type") : "", "SubscriptionConfirmation"))
                sns_dead_letter(&j->ctx, &sub, rec, code, msg);
            if (rec)
                json_object_put(rec);
            sns_delivery_done(j->id);
        }
    }
    if (have)
        sns_sub_free(&sub);
    nb_store_commit();
    job_free(j);
}

bool sns_http_deliver(const nb_call *ctx, int64_t id, const sns_sub *sub, json_object *rec,
                      int attempts)
{
    const char *type = nb_str(rec, "Type");
    bool confirmation = type && !strcmp(type, "SubscriptionConfirmation");
    const char *rv = sns_sub_attr(sub, "RawMessageDelivery");
    bool raw = !confirmation && rv && !strcmp(rv, "true");
    char *body = confirmation ? sns_confirmation_envelope(ctx, rec)
                 : raw        ? nb_strdup(sns_message_for(rec, sub->protocol))
                              : sns_envelope(ctx, rec, sub);
    policy p;
    effective_policy(sub, &p);
    nb_http_header h[8];
    size_t n = 0;
    h[n++] = (nb_http_header){"Content-Type", p.content_type};
    h[n++] = (nb_http_header){"User-Agent", "Amazon Simple Notification Service Agent"};
    h[n++] = (nb_http_header){"x-amz-sns-message-type", confirmation ? type : "Notification"};
    h[n++] = (nb_http_header){"x-amz-sns-message-id", nb_str(rec, "MessageId")};
    h[n++] = (nb_http_header){"x-amz-sns-topic-arn", nb_str(rec, "TopicArn")};
    if (!confirmation)
        h[n++] = (nb_http_header){"x-amz-sns-subscription-arn", sub->arn};
    if (raw)
        h[n++] = (nb_http_header){"x-amz-sns-rawdelivery", "true"};
    nb_http_request req = {.method = "POST", .url = sub->endpoint, .headers = h, .n_headers = n,
                           .body = body, .body_len = strlen(body),
                           .timeout_ms = ATTEMPT_TIMEOUT_MS};
    job *j = nb_calloc(1, sizeof *j);
    j->id = id;
    j->attempts = attempts;
    j->ctx = *ctx;
    j->sub_arn = nb_strdup(sub->arn);
    j->rec = nb_strdup(json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN));
    j->next = g_jobs;
    if (g_jobs)
        g_jobs->prev = j;
    g_jobs = j;
    sns_delivery_later(id, nb_now_ms() + LEASE_MS, attempts);
    j->fetch = nb_http_fetch_start(&req, posted, j);
    free(body);
    return true;
}

void sns_http_shutdown(void)
{
    while (g_jobs) {
        job *j = g_jobs;
        nb_http_cancel(j->fetch);
        job_free(j);
    }
}
