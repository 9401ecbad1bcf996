/*
 * sts.c — AWS STS: GetCallerIdentity (the call every SDK-based tool makes
 * first) answered from the caller's access key.  The account is the access
 * key when it is 12 digits, else 000000000000; the ARN is the account root
 * user's, as for long-term root credentials.
 */
#include <stdio.h>

#include "../../core/service.h"
#include "../../gen/models.h"

static nb_status get_caller_identity(nb_call *call, json_object *in)
{
    (void)in;
    char arn[96];
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", call->account);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "UserId", json_object_new_string(call->account));
    json_object_object_add(o, "Account", json_object_new_string(call->account));
    json_object_object_add(o, "Arn", json_object_new_string(arn));
    call->out = o;
    return NB_OK;
}

static const nb_op_entry sts_ops[] = {
    {"GetCallerIdentity", get_caller_identity},
    {NULL, NULL},
};

const nb_service nb_service_sts = {
    .name = "sts",
    .model = &nb_model_sts,
    .ops = sts_ops,
};
