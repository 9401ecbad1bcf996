/*
 * ddb_exprs.c — the expressions of one request: which parameters an
 * operation takes, AWS's rules on combining them, and parsing through one
 * context so that unused names and values are caught across all of them.
 */
#include <stdio.h>
#include <string.h>

#include "ddb_expr.h"
#include "ddb_internal.h"

typedef struct {
    unsigned flag;
    const char *expr;     /* expression parameter */
    const char *legacy;   /* its non-expression counterpart */
} param;

/* In the order AWS lists them in its messages. */
static const param PARAMS[] = {
    {DDB_X_KEY, "KeyConditionExpression", "KeyConditions"},
    {DDB_X_FILTER, "FilterExpression", NULL}, /* QueryFilter / ScanFilter */
    {DDB_X_UPDATE, "UpdateExpression", "AttributeUpdates"},
    {DDB_X_COND, "ConditionExpression", "Expected"},
    {DDB_X_PROJ, "ProjectionExpression", "AttributesToGet"},
};
#define NPARAMS (sizeof PARAMS / sizeof PARAMS[0])

static const char *legacy_name(const param *p, unsigned which)
{
    if (p->flag == DDB_X_FILTER)
        return (which & DDB_X_SCAN) ? "ScanFilter" : "QueryFilter";
    return p->legacy;
}

void ddb_exprs_free(ddb_exprs *x)
{
    ddb_cond_free(x->cond);
    ddb_cond_free(x->filter);
    ddb_cond_free(x->key);
    ddb_update_free(x->upd);
    ddb_proj_free(x->proj);
    ddb_ctx_free(x->ctx);
    memset(x, 0, sizeof *x);
}

/* Expression and non-expression parameters may not be mixed. */
static nb_status check_styles(nb_call *call, json_object *in, unsigned which, bool *any_expr)
{
    nb_buf ex = {0}, lg = {0};
    for (size_t i = 0; i < NPARAMS; i++) {
        const param *p = &PARAMS[i];
        if (!(which & p->flag))
            continue;
        if (nb_get(in, p->expr)) {
            nb_buf_adds(&ex, ex.len ? ", " : "");
            nb_buf_adds(&ex, p->expr);
        }
        const char *ln = legacy_name(p, which);
        if (ln && nb_get(in, ln)) {
            nb_buf_adds(&lg, lg.len ? ", " : "");
            nb_buf_adds(&lg, ln);
        }
    }
    if ((which & (DDB_X_COND | DDB_X_FILTER)) && nb_get(in, "ConditionalOperator")) {
        nb_buf_adds(&lg, lg.len ? ", " : "");
        nb_buf_adds(&lg, "ConditionalOperator");
    }
    nb_status st = NB_OK;
    if (ex.len && lg.len)
        st = ddb_fail_validation(call,
                                 "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {%s} Expression parameters: {%s}",
                                 lg.data, ex.data);
    *any_expr = ex.len > 0;
    nb_buf_free(&ex);
    nb_buf_free(&lg);
    return st;
}

static nb_status check_placeholders_need_expr(nb_call *call, json_object *in, unsigned which)
{
    if (nb_get(in, "ExpressionAttributeNames"))
        return ddb_fail_validation(call, "ExpressionAttributeNames can only be specified when using expressions");
    if (!nb_get(in, "ExpressionAttributeValues"))
        return NB_OK;
    /* Values only make sense in the expressions that take values. */
    nb_buf names = {0};
    for (size_t i = 0; i < NPARAMS; i++)
        if ((which & PARAMS[i].flag) && PARAMS[i].flag != DDB_X_PROJ) {
            nb_buf_adds(&names, names.len ? " and " : "");
            nb_buf_adds(&names, PARAMS[i].expr);
        }
    ddb_fail_validation(call, "ExpressionAttributeValues can only be specified when using expressions: %s is null",
                        names.data ? names.data : "");
    nb_buf_free(&names);
    return NB_ERROR;
}

static nb_status parse_expr(nb_call *call, ddb_exprs *x, unsigned flag, json_object *v)
{
    char err[DDB_ERRMAX];
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    bool ok = true;
    switch (flag) {
    case DDB_X_KEY: ok = (x->key = ddb_parse_condition(x->ctx, DDB_KEY_CONDITION, s, n, err, sizeof err)); break;
    case DDB_X_FILTER: ok = (x->filter = ddb_parse_condition(x->ctx, DDB_FILTER, s, n, err, sizeof err)); break;
    case DDB_X_COND: ok = (x->cond = ddb_parse_condition(x->ctx, DDB_CONDITION, s, n, err, sizeof err)); break;
    case DDB_X_UPDATE: ok = (x->upd = ddb_parse_update(x->ctx, s, n, err, sizeof err)); break;
    case DDB_X_PROJ: ok = (x->proj = ddb_parse_projection(x->ctx, s, n, err, sizeof err)); break;
    }
    return ok ? NB_OK : ddb_fail_validation(call, "%s", err);
}

static nb_status parse_legacy(nb_call *call, json_object *in, ddb_exprs *x, const param *p,
                              unsigned which, json_object *v)
{
    char err[DDB_ERRMAX];
    const char *op = nb_str(in, "ConditionalOperator");
    bool ok = true;
    switch (p->flag) {
    case DDB_X_KEY:
        ok = (x->key = ddb_legacy_condition(DDB_LEGACY_KEY_CONDITIONS, v, NULL, err, sizeof err));
        break;
    case DDB_X_FILTER:
        ok = (x->filter = ddb_legacy_condition((which & DDB_X_SCAN) ? DDB_LEGACY_SCAN_FILTER
                                                                    : DDB_LEGACY_QUERY_FILTER,
                                               v, op, err, sizeof err));
        break;
    case DDB_X_COND:
        ok = (x->cond = ddb_legacy_condition(DDB_LEGACY_EXPECTED, v, op, err, sizeof err));
        break;
    case DDB_X_UPDATE: ok = (x->upd = ddb_legacy_update(v, err, sizeof err)); break;
    case DDB_X_PROJ:
        ok = (x->proj = ddb_legacy_projection(v, err, sizeof err));
        x->legacy_proj = true;
        break;
    }
    return ok ? NB_OK : ddb_fail_validation(call, "%s", err);
}

nb_status ddb_exprs_parse(nb_call *call, json_object *in, unsigned which, ddb_exprs *x)
{
    memset(x, 0, sizeof *x);
    bool any_expr = false;
    if (check_styles(call, in, which, &any_expr) != NB_OK)
        return NB_ERROR;
    if (!any_expr && check_placeholders_need_expr(call, in, which) != NB_OK)
        return NB_ERROR;
    char err[DDB_ERRMAX];
    x->ctx = ddb_ctx_new(nb_get(in, "ExpressionAttributeNames"), nb_get(in, "ExpressionAttributeValues"),
                         err, sizeof err);
    if (!x->ctx)
        return ddb_fail_validation(call, "%s", err);
    for (size_t i = 0; i < NPARAMS; i++) {
        const param *p = &PARAMS[i];
        if (!(which & p->flag))
            continue;
        json_object *v = nb_get(in, p->expr);
        const char *ln = legacy_name(p, which);
        json_object *lv = ln ? nb_get(in, ln) : NULL;
        nb_status st = NB_OK;
        if (v)
            st = parse_expr(call, x, p->flag, v);
        else if (lv)
            st = parse_legacy(call, in, x, p, which, lv);
        if (st != NB_OK) {
            ddb_exprs_free(x);
            return NB_ERROR;
        }
    }
    if (ddb_ctx_check_unused(x->ctx, err, sizeof err) != 0) {
        ddb_exprs_free(x);
        return ddb_fail_validation(call, "%s", err);
    }
    return NB_OK;
}
