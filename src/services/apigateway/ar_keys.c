/*
 * ar_keys.c — API keys and usage plans, and the data plane's key check.
 *
 * Both are account-level: rows of apigw_docs whose api column is
 * "~ACCOUNT/REGION" (so lists stay in their owner's scope and deleting a
 * REST API leaves them), kind "rapikey" (id = key id) or "rplan" (id =
 * plan id; the plan's keys are its "_keys" list of key ids).  A method
 * with apiKeyRequired admits a request whose x-api-key header is the value
 * of an enabled key in a usage plan that lists the API and stage; anything
 * else is 403 {"message":"Forbidden"}, as on AWS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ar_internal.h"

#define KIND_KEY "rapikey"
#define KIND_PLAN "rplan"

static void set(json_object *o, const char *k, json_object *v) { json_object_object_add(o, k, v); }

static void scope(const nb_call *call, char *out, size_t n)
{
    snprintf(out, n, "~%s/%s", call->account, call->region);
}

static json_object *load(nb_call *call, const char *kind, const char *id, const char *missing)
{
    char sc[64];
    scope(call, sc, sizeof sc);
    json_object *o = id && strlen(id) < 64 ? ag_load(sc, kind, id) : NULL;
    if (!o)
        ag_not_found(call, "%s", missing);
    return o;
}

static void save(nb_call *call, const char *kind, json_object *doc)
{
    char sc[64];
    scope(call, sc, sizeof sc);
    ag_save(call, sc, kind, nb_str(doc, "id"), doc);
}

/* {"items": [...]} of a kind, docs passed through fn (may drop: NULL). */
static nb_status list(nb_call *call, const char *kind, json_object *(*fn)(json_object *, void *),
                      void *arg)
{
    char sc[64];
    scope(call, sc, sizeof sc);
    json_object *all = ag_list(sc, kind, 0, 0, NULL), *items = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(all); i++) {
        json_object *o = fn(json_object_array_get_idx(all, i), arg);
        if (o)
            json_object_array_add(items, o);
    }
    json_object_put(all);
    call->out = json_object_new_object();
    set(call->out, "items", items);
    return NB_OK;
}

/* ---- API keys ----------------------------------------------------------------------- */

static json_object *key_view(json_object *k, bool with_value)
{
    json_object *o = ar_public(k);
    if (!with_value)
        json_object_object_del(o, "value");
    return o;
}

nb_status ar_op_create_api_key(nb_call *call, json_object *in)
{
    const char *value = nb_str(in, "value");
    if (value && strlen(value) < 20)
        return ag_bad(call, "API Key value should be at least 20 characters");
    char id[11], gen[41];
    ag_new_id(id, 10);
    ag_new_id(gen, 40);
    json_object *k = json_object_new_object();
    set(k, "id", json_object_new_string(id));
    set(k, "value", json_object_new_string(value ? value : gen));
    static const char *const COPY[] = {"name", "description", "customerId", "tags", "stageKeys", NULL};
    for (int i = 0; COPY[i]; i++)
        if (nb_get(in, COPY[i]))
            set(k, COPY[i], ag_copy(nb_get(in, COPY[i])));
    bool enabled = false;
    nb_bool(in, "enabled", &enabled);
    set(k, "enabled", json_object_new_boolean(enabled));
    set(k, "createdDate", json_object_new_double(ag_now(call)));
    set(k, "lastUpdatedDate", json_object_new_double(ag_now(call)));
    if (!nb_get(k, "stageKeys"))
        set(k, "stageKeys", json_object_new_array());
    save(call, KIND_KEY, k);
    call->out = key_view(k, true);
    json_object_put(k);
    return NB_OK;
}

#define NO_KEY "Invalid API Key identifier specified"

nb_status ar_op_get_api_key(nb_call *call, json_object *in)
{
    json_object *k = load(call, KIND_KEY, nb_str(in, "apiKey"), NO_KEY);
    if (!k)
        return NB_ERROR;
    bool with = false;
    nb_bool(in, "includeValue", &with);
    call->out = key_view(k, with);
    json_object_put(k);
    return NB_OK;
}

typedef struct {
    const char *name;
    bool values;
} key_filter;

static json_object *key_listed(json_object *k, void *arg)
{
    const key_filter *f = arg;
    const char *n = nb_str(k, "name");
    if (f->name && (!n || strncmp(n, f->name, strlen(f->name)) != 0))
        return NULL;
    return key_view(k, f->values);
}

nb_status ar_op_get_api_keys(nb_call *call, json_object *in)
{
    key_filter f = {.name = nb_str(in, "nameQuery")};
    nb_bool(in, "includeValues", &f.values);
    return list(call, KIND_KEY, key_listed, &f);
}

static const ar_patch_path KEY_PATHS[] = {
    {"/name", "name", AR_STR, AR_OP_REPLACE},
    {"/description", "description", AR_STR, AR_OP_REPLACE},
    {"/enabled", "enabled", AR_BOOL, AR_OP_REPLACE},
    {"/customerId", "customerId", AR_STR, AR_OP_REPLACE},
    {NULL, NULL, AR_STR, 0},
};

nb_status ar_op_update_api_key(nb_call *call, json_object *in)
{
    json_object *k = load(call, KIND_KEY, nb_str(in, "apiKey"), NO_KEY);
    if (!k)
        return NB_ERROR;
    if (!ar_patch(call, k, nb_get(in, "patchOperations"), KEY_PATHS)) {
        json_object_put(k);
        return NB_ERROR;
    }
    set(k, "lastUpdatedDate", json_object_new_double(ag_now(call)));
    save(call, KIND_KEY, k);
    call->out = key_view(k, false);
    json_object_put(k);
    return NB_OK;
}

nb_status ar_op_delete_api_key(nb_call *call, json_object *in)
{
    json_object *k = load(call, KIND_KEY, nb_str(in, "apiKey"), NO_KEY);
    if (!k)
        return NB_ERROR;
    char sc[64];
    scope(call, sc, sizeof sc);
    ag_delete(sc, KIND_KEY, nb_str(k, "id"));
    json_object_put(k);
    return NB_OK;
}

/* ---- usage plans ----------------------------------------------------------------------- */

#define NO_PLAN "Invalid Usage Plan ID specified"

nb_status ar_op_create_usage_plan(nb_call *call, json_object *in)
{
    json_object *stages = nb_get(in, "apiStages");
    for (size_t i = 0; stages && i < json_object_array_length(stages); i++) {
        json_object *s = json_object_array_get_idx(stages, i);
        const char *api = nb_str(s, "apiId"), *st = nb_str(s, "stage");
        json_object *a = ar_api(call, api);
        if (!a)
            return NB_ERROR;
        json_object_put(a);
        json_object *sd = st && strlen(st) < 130 ? ag_load(api, AR_KIND_STAGE, st) : NULL;
        if (!sd)
            return ag_bad(call, "Invalid stage identifier specified");
        json_object_put(sd);
    }
    char id[7];
    ag_new_id(id, 6);
    json_object *p = json_object_new_object();
    set(p, "id", json_object_new_string(id));
    static const char *const COPY[] = {"name", "description", "apiStages", "throttle", "quota",
                                       "tags", NULL};
    for (int i = 0; COPY[i]; i++)
        if (nb_get(in, COPY[i]))
            set(p, COPY[i], ag_copy(nb_get(in, COPY[i])));
    if (!nb_get(p, "apiStages"))
        set(p, "apiStages", json_object_new_array());
    set(p, "_keys", json_object_new_array());
    save(call, KIND_PLAN, p);
    call->out = ar_public(p);
    json_object_put(p);
    return NB_OK;
}

nb_status ar_op_get_usage_plan(nb_call *call, json_object *in)
{
    json_object *p = load(call, KIND_PLAN, nb_str(in, "usagePlanId"), NO_PLAN);
    if (!p)
        return NB_ERROR;
    call->out = ar_public(p);
    json_object_put(p);
    return NB_OK;
}

static bool has_key(json_object *plan, const char *key_id)
{
    json_object *ks = nb_get(plan, "_keys");
    for (size_t i = 0; ks && i < json_object_array_length(ks); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(ks, i)), key_id) == 0)
            return true;
    return false;
}

static json_object *plan_listed(json_object *p, void *arg)
{
    const char *key_id = arg;
    return !key_id || has_key(p, key_id) ? ar_public(p) : NULL;
}

nb_status ar_op_get_usage_plans(nb_call *call, json_object *in)
{
    return list(call, KIND_PLAN, plan_listed, (void *)nb_str(in, "keyId"));
}

nb_status ar_op_delete_usage_plan(nb_call *call, json_object *in)
{
    json_object *p = load(call, KIND_PLAN, nb_str(in, "usagePlanId"), NO_PLAN);
    if (!p)
        return NB_ERROR;
    char sc[64];
    scope(call, sc, sizeof sc);
    ag_delete(sc, KIND_PLAN, nb_str(p, "id"));
    json_object_put(p);
    return NB_OK;
}

static json_object *plan_key_view(json_object *k)
{
    json_object *o = json_object_new_object();
    set(o, "id", json_object_get(nb_get(k, "id")));
    set(o, "type", json_object_new_string("API_KEY"));
    set(o, "value", json_object_get(nb_get(k, "value")));
    set(o, "name", json_object_get(nb_get(k, "name")));
    return o;
}

nb_status ar_op_create_usage_plan_key(nb_call *call, json_object *in)
{
    const char *kt = nb_str(in, "keyType");
    if (strcmp(kt, "API_KEY") != 0)
        return ag_bad(call, "Invalid key type specified: %s. Must be API_KEY", kt);
    json_object *p = load(call, KIND_PLAN, nb_str(in, "usagePlanId"), NO_PLAN);
    if (!p)
        return NB_ERROR;
    json_object *k = load(call, KIND_KEY, nb_str(in, "keyId"), NO_KEY);
    if (!k) {
        json_object_put(p);
        return NB_ERROR;
    }
    nb_status st = NB_OK;
    if (has_key(p, nb_str(k, "id"))) {
        st = ag_conflict(call, "Usage Plan %s already has API Key %s", nb_str(p, "id"), nb_str(k, "id"));
    } else {
        json_object_array_add(nb_get(p, "_keys"), json_object_new_string(nb_str(k, "id")));
        save(call, KIND_PLAN, p);
        call->out = plan_key_view(k);
    }
    json_object_put(p);
    json_object_put(k);
    return st;
}

nb_status ar_op_get_usage_plan_keys(nb_call *call, json_object *in)
{
    json_object *p = load(call, KIND_PLAN, nb_str(in, "usagePlanId"), NO_PLAN);
    if (!p)
        return NB_ERROR;
    char sc[64];
    scope(call, sc, sizeof sc);
    json_object *ks = nb_get(p, "_keys"), *items = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(ks); i++) {
        json_object *k = ag_load(sc, KIND_KEY, json_object_get_string(json_object_array_get_idx(ks, i)));
        if (k)
            json_object_array_add(items, plan_key_view(k));
        json_object_put(k);
    }
    json_object_put(p);
    call->out = json_object_new_object();
    set(call->out, "items", items);
    return NB_OK;
}

nb_status ar_op_delete_usage_plan_key(nb_call *call, json_object *in)
{
    json_object *p = load(call, KIND_PLAN, nb_str(in, "usagePlanId"), NO_PLAN);
    if (!p)
        return NB_ERROR;
    const char *kid = nb_str(in, "keyId");
    if (!has_key(p, kid)) {
        json_object_put(p);
        return ag_not_found(call, "Invalid API Key identifier specified");
    }
    json_object *ks = nb_get(p, "_keys"), *keep = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(ks); i++) {
        json_object *x = json_object_array_get_idx(ks, i);
        if (strcmp(json_object_get_string(x), kid) != 0)
            json_object_array_add(keep, json_object_get(x));
    }
    set(p, "_keys", keep);
    save(call, KIND_PLAN, p);
    json_object_put(p);
    return NB_OK;
}

/* ---- the data plane's check ---------------------------------------------------------------- */

static bool plan_covers(json_object *plan, const char *api, const char *stage, const char *key_id)
{
    if (!has_key(plan, key_id))
        return false;
    json_object *ss = nb_get(plan, "apiStages");
    for (size_t i = 0; ss && i < json_object_array_length(ss); i++) {
        json_object *s = json_object_array_get_idx(ss, i);
        const char *a = nb_str(s, "apiId"), *st = nb_str(s, "stage");
        if (a && st && strcmp(a, api) == 0 && strcmp(st, stage) == 0)
            return true;
    }
    return false;
}

bool ar_api_key_ok(const char *owner, const char *api, const char *stage, const char *value)
{
    if (!value || !value[0] || !owner || !strchr(owner, '/'))
        return false;
    char sc[96];
    snprintf(sc, sizeof sc, "~%s", owner);
    json_object *keys = ag_list(sc, KIND_KEY, 0, 0, NULL), *plans = NULL;
    const char *kid = NULL;
    for (size_t i = 0; !kid && i < json_object_array_length(keys); i++) {
        json_object *k = json_object_array_get_idx(keys, i);
        bool en = false;
        nb_bool(k, "enabled", &en);
        const char *v = nb_str(k, "value");
        if (en && v && strcmp(v, value) == 0)
            kid = nb_str(k, "id");
    }
    bool ok = false;
    if (kid) {
        plans = ag_list(sc, KIND_PLAN, 0, 0, NULL);
        for (size_t i = 0; !ok && i < json_object_array_length(plans); i++)
            ok = plan_covers(json_object_array_get_idx(plans, i), api, stage, kid);
    }
    json_object_put(keys);
    json_object_put(plans);
    return ok;
}
