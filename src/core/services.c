/*
 * services.c — the one list of services, and lookups over it by name,
 * X-Amz-Target prefix, SigV4 signing name and operation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nimbus.h"

#include "../gen/models.h"
#include "codec.h"
#include "service.h"

extern const nb_service nb_service_sqs;
extern const nb_service nb_service_sts;
extern const nb_service nb_service_dynamodb;
extern const nb_service nb_service_dynamodbstreams;
extern const nb_service nb_service_logs;
extern const nb_service nb_service_lambda;
extern const nb_service nb_service_sns;
extern const nb_service nb_service_events;
extern const nb_service nb_service_stepfunctions;
extern const nb_service nb_service_apigatewayv2;
extern const nb_service nb_service_apigateway;

const nb_service *const nb_services[] = {
    &nb_service_sqs,
    &nb_service_sts,
    &nb_service_dynamodb,
    &nb_service_dynamodbstreams,
    &nb_service_logs,
    &nb_service_stepfunctions, /* before Lambda: its shutdown runs first (sfn_exec.c) */
    &nb_service_lambda,
    &nb_service_sns,
    &nb_service_events,
    &nb_service_apigatewayv2,
    &nb_service_apigateway, /* after v2: its documents live in v2's table */
    NULL,
};

const nb_service *nb_service_by_name(const char *name, size_t len)
{
    for (int i = 0; nb_services[i]; i++)
        if (strlen(nb_services[i]->name) == len && memcmp(nb_services[i]->name, name, len) == 0)
            return nb_services[i];
    return NULL;
}

const nb_service *nb_service_by_target(const char *target, size_t len, const char **opname)
{
    const char *dot = memchr(target, '.', len);
    if (!dot)
        return NULL;
    size_t plen = (size_t)(dot - target);
    for (int i = 0; nb_services[i]; i++) {
        const char *p = nb_services[i]->model->target_prefix;
        if (p && strlen(p) == plen && memcmp(p, target, plen) == 0) {
            *opname = dot + 1;
            return nb_services[i];
        }
    }
    return NULL;
}

const nb_service *nb_service_by_signing_name(const char *name, size_t len)
{
    for (int i = 0; nb_services[i]; i++) {
        const char *s = nb_services[i]->model->signing_name;
        if (!s)
            s = nb_services[i]->model->endpoint_prefix;
        if (strlen(s) == len && memcmp(s, name, len) == 0)
            return nb_services[i];
    }
    return NULL;
}

/* Handlers indexed like the model's (sorted) operations, built on first use. */
#define MAX_SERVICES 64
static nb_handler *by_op[MAX_SERVICES];

static int service_index(const nb_service *svc)
{
    for (int i = 0; nb_services[i] && i < MAX_SERVICES; i++)
        if (nb_services[i] == svc)
            return i;
    return -1;
}

nb_handler nb_service_handler(const nb_service *svc, const char *op)
{
    int si = service_index(svc);
    const nb_operation *o = nb_model_op(svc->model, op, strlen(op));
    if (si < 0 || !o)
        return NULL;
    if (!by_op[si]) {
        by_op[si] = nb_calloc(svc->model->nops, sizeof(nb_handler));
        for (const nb_op_entry *e = svc->ops; e && e->name; e++) {
            const nb_operation *eo = nb_model_op(svc->model, e->name, strlen(e->name));
            if (eo)
                by_op[si][eo - svc->model->ops] = e->fn;
        }
    }
    return by_op[si][o - svc->model->ops];
}

void nb_services_free(void)
{
    nb_validate_free();
    nb_json_free();
    nb_rest_free();
    for (int i = 0; i < MAX_SERVICES; i++) {
        free(by_op[i]);
        by_op[i] = NULL;
    }
}

void nb_sqs_queue_url(const nb_call *ctx, const char *arn, char *out, size_t n)
{
    const char *f[6] = {0};
    const char *s = arn;
    for (int i = 0; i < 6 && s; i++) {
        f[i] = s;
        s = strchr(s, ':');
        if (s)
            s++;
    }
    if (!f[5] || !f[4]) {
        snprintf(out, n, "%s", arn);
        return;
    }
    snprintf(out, n, "http://%s/%.*s/%s", ctx->host[0] ? ctx->host : "localhost",
             (int)(f[5] - f[4] - 1), f[4], f[5]);
}
