/*
 * asl_run.c — the interpreter step.  asl_enter applies a state's input
 * processing (InputPath, Parameters/Result, ResultPath, OutputPath) and
 * decides what happens next; Task, Parallel and Map hand their effective
 * input to the caller, which runs the work and calls asl_finish with the
 * result.  asl_on_error picks the Retry or Catch rule for an error.  Also:
 * Choice rules with every comparator, and RFC 3339 timestamps.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asl.h"

void asl_step_clear(asl_step *s)
{
    json_object_put(s->output);
    memset(s, 0, sizeof *s);
}

static const char *sfield(json_object *st, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(st, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* A path field: absent → "$", JSON null → NULL (discard / empty object). */
static bool path_field(json_object *st, const char *k, const char **out)
{
    json_object *v;
    if (!json_object_object_get_ex(st, k, &v)) {
        *out = "$";
        return true;
    }
    *out = v ? json_object_get_string(v) : NULL;
    return v != NULL;
}

static json_object *apply_input_path(json_object *st, json_object *input, json_object *ctx, asl_err *e)
{
    const char *p;
    if (!path_field(st, "InputPath", &p))
        return json_object_new_object();
    return asl_lookup(p, input, ctx, e);
}

static json_object *apply_output_path(json_object *st, json_object *v, json_object *ctx, asl_err *e)
{
    const char *p;
    if (!path_field(st, "OutputPath", &p))
        return json_object_new_object();
    return asl_lookup(p, v, ctx, e);
}

static json_object *apply_result_path(json_object *st, json_object *raw, json_object *result, asl_err *e)
{
    const char *p;
    json_object *out = NULL;
    json_object_deep_copy(raw, &out, NULL);
    if (!path_field(st, "ResultPath", &p))
        return out;
    if (asl_path_set(&out, p, json_object_get(result)) != 0) {
        json_object_put(out);
        asl_fail(e, "States.Runtime", "Unable to apply ResultPath '%s' to the state's input", p);
        return NULL;
    }
    return out;
}

static void transition(json_object *st, asl_step *out)
{
    const char *next = sfield(st, "Next");
    out->next = next;
    out->kind = next ? ASL_NEXT : ASL_END;
}

static void step_fail(asl_step *out, const asl_err *e)
{
    json_object_put(out->output);
    out->output = NULL;
    out->kind = ASL_FAIL;
    out->err = *e;
}

/* Parameters, or ItemSelector for Map items. */
static json_object *effective(json_object *st, json_object *v, json_object *ctx, asl_err *e)
{
    json_object *t;
    if (json_object_object_get_ex(st, "Parameters", &t))
        return asl_template(t, v, ctx, e);
    return json_object_get(v);
}

static void do_pass(json_object *st, json_object *input, json_object *ctx, asl_step *out)
{
    asl_err e = {{0}, {0}};
    json_object *eff = apply_input_path(st, input, ctx, &e), *res = NULL, *r;
    if (e.error[0])
        return step_fail(out, &e);
    if (json_object_object_get_ex(st, "Result", &r))
        res = json_object_get(r);
    else
        res = effective(st, eff, ctx, &e);
    json_object_put(eff);
    if (e.error[0])
        return step_fail(out, &e);
    json_object *after = apply_result_path(st, input, res, &e);
    json_object_put(res);
    if (e.error[0])
        return step_fail(out, &e);
    out->output = apply_output_path(st, after, ctx, &e);
    json_object_put(after);
    if (e.error[0])
        return step_fail(out, &e);
    transition(st, out);
}

static void do_choice(json_object *st, json_object *input, json_object *ctx, asl_step *out)
{
    asl_err e = {{0}, {0}};
    json_object *eff = apply_input_path(st, input, ctx, &e), *choices;
    if (e.error[0])
        return step_fail(out, &e);
    json_object_object_get_ex(st, "Choices", &choices);
    const char *next = NULL;
    for (size_t i = 0; i < json_object_array_length(choices) && !next; i++) {
        json_object *r = json_object_array_get_idx(choices, i);
        int m = asl_choice_rule(r, eff, ctx, &e);
        if (m < 0) {
            json_object_put(eff);
            return step_fail(out, &e);
        }
        if (m)
            next = sfield(r, "Next");
    }
    if (!next)
        next = sfield(st, "Default");
    if (!next) {
        json_object_put(eff);
        asl_fail(&e, "States.NoChoiceMatched", "No Choice Rules matched and no Default is specified");
        return step_fail(out, &e);
    }
    out->output = apply_output_path(st, eff, ctx, &e);
    json_object_put(eff);
    if (e.error[0])
        return step_fail(out, &e);
    out->kind = ASL_NEXT;
    out->next = next;
}

/* Seconds to ms, capped at a year (AWS's longest execution). */
static int64_t secs_ms(int64_t s)
{
    return s > 31622400 ? 31622400000LL : s * 1000;
}

static void do_wait(json_object *st, json_object *input, json_object *ctx, int64_t now, asl_step *out)
{
    asl_err e = {{0}, {0}};
    json_object *eff = apply_input_path(st, input, ctx, &e), *v;
    if (e.error[0])
        return step_fail(out, &e);
    int64_t until = now;
    const char *p;
    if (json_object_object_get_ex(st, "Seconds", &v)) {
        until = now + secs_ms(json_object_get_int64(v));
    } else if ((p = sfield(st, "Timestamp"))) {
        asl_timestamp(p, &until);
    } else {
        bool secs = (p = sfield(st, "SecondsPath")) != NULL;
        if (!secs)
            p = sfield(st, "TimestampPath");
        json_object *x = p ? asl_lookup(p, eff, ctx, &e) : NULL;
        if (e.error[0]) {
            json_object_put(eff);
            return step_fail(out, &e);
        }
        if (secs && json_object_is_type(x, json_type_int) && json_object_get_int64(x) >= 0)
            until = now + secs_ms(json_object_get_int64(x));
        else if (!secs && json_object_is_type(x, json_type_string) && asl_timestamp(json_object_get_string(x), &until))
            ;
        else {
            json_object_put(x);
            json_object_put(eff);
            asl_fail(&e, "States.Runtime", "The %s '%s' does not point to a valid %s", secs ? "SecondsPath" : "TimestampPath",
                     p ? p : "", secs ? "non-negative integer" : "timestamp");
            return step_fail(out, &e);
        }
        json_object_put(x);
    }
    out->output = apply_output_path(st, eff, ctx, &e);
    json_object_put(eff);
    if (e.error[0])
        return step_fail(out, &e);
    transition(st, out);
    out->until_ms = until;
    out->kind = ASL_WAIT;
}

static void do_fail(json_object *st, json_object *input, json_object *ctx, asl_step *out)
{
    asl_err e = {{0}, {0}};
    const char *er = sfield(st, "Error"), *ca = sfield(st, "Cause");
    json_object *ev = NULL, *cv = NULL;
    const char *ep = sfield(st, "ErrorPath"), *cp = sfield(st, "CausePath");
    if (ep && !(ev = asl_lookup(ep, input, ctx, &e)) && e.error[0])
        return step_fail(out, &e);
    if (cp && !(cv = asl_lookup(cp, input, ctx, &e)) && e.error[0]) {
        json_object_put(ev);
        return step_fail(out, &e);
    }
    if (ev)
        er = json_object_get_string(ev);
    if (cv)
        ca = json_object_get_string(cv);
    snprintf(out->err.error, sizeof out->err.error, "%s", er ? er : "");
    snprintf(out->err.cause, sizeof out->err.cause, "%s", ca ? ca : "");
    json_object_put(ev);
    json_object_put(cv);
    out->kind = ASL_FAIL;
}

static void do_work(json_object *st, const char *type, json_object *input, json_object *ctx, asl_step *out)
{
    asl_err e = {{0}, {0}};
    json_object *eff = apply_input_path(st, input, ctx, &e);
    if (e.error[0])
        return step_fail(out, &e);
    if (!strcmp(type, "Map")) {
        const char *ip = sfield(st, "ItemsPath");
        json_object *items = asl_lookup(ip ? ip : "$", eff, ctx, &e);
        json_object_put(eff);
        if (e.error[0])
            return step_fail(out, &e);
        if (!json_object_is_type(items, json_type_array)) {
            json_object_put(items);
            asl_fail(&e, "States.Runtime", "Invalid path '%s': The Map state's ItemsPath must point to a JSON array",
                     ip ? ip : "$");
            return step_fail(out, &e);
        }
        out->output = items;
        out->kind = ASL_MAP;
        return;
    }
    out->output = effective(st, eff, ctx, &e);
    json_object_put(eff);
    if (e.error[0])
        return step_fail(out, &e);
    out->kind = !strcmp(type, "Task") ? ASL_TASK : ASL_PARALLEL;
}

void asl_enter(json_object *state, json_object *input, json_object *ctx, int64_t now_ms, asl_step *out)
{
    memset(out, 0, sizeof *out);
    const char *type = sfield(state, "Type");
    if (!type) {
        asl_err e;
        asl_fail(&e, "States.Runtime", "The state has no Type");
        return step_fail(out, &e);
    }
    if (!strcmp(type, "Pass"))
        do_pass(state, input, ctx, out);
    else if (!strcmp(type, "Choice"))
        do_choice(state, input, ctx, out);
    else if (!strcmp(type, "Wait"))
        do_wait(state, input, ctx, now_ms, out);
    else if (!strcmp(type, "Fail"))
        do_fail(state, input, ctx, out);
    else if (!strcmp(type, "Succeed")) {
        asl_err e = {{0}, {0}};
        json_object *eff = apply_input_path(state, input, ctx, &e);
        if (e.error[0])
            return step_fail(out, &e);
        out->output = apply_output_path(state, eff, ctx, &e);
        json_object_put(eff);
        if (e.error[0])
            return step_fail(out, &e);
        out->kind = ASL_END;
    } else
        do_work(state, type, input, ctx, out);
}

void asl_finish(json_object *state, json_object *raw_input, json_object *result, json_object *ctx, asl_step *out)
{
    memset(out, 0, sizeof *out);
    asl_err e = {{0}, {0}};
    json_object *rs, *res;
    if (json_object_object_get_ex(state, "ResultSelector", &rs))
        res = asl_template(rs, result, ctx, &e);
    else
        res = json_object_get(result);
    if (e.error[0])
        return step_fail(out, &e);
    json_object *after = apply_result_path(state, raw_input, res, &e);
    json_object_put(res);
    if (e.error[0])
        return step_fail(out, &e);
    out->output = apply_output_path(state, after, ctx, &e);
    json_object_put(after);
    if (e.error[0])
        return step_fail(out, &e);
    transition(state, out);
}

json_object *asl_branch(json_object *state, int i)
{
    json_object *b;
    if (json_object_object_get_ex(state, "Branches", &b))
        return json_object_array_get_idx(b, (size_t)i);
    if (json_object_object_get_ex(state, "ItemProcessor", &b) || json_object_object_get_ex(state, "Iterator", &b))
        return b;
    return NULL;
}

/* ---- errors ---------------------------------------------------------------------- */

bool asl_error_matches(json_object *ee, const char *error)
{
    for (size_t i = 0; i < json_object_array_length(ee); i++) {
        const char *n = json_object_get_string(json_object_array_get_idx(ee, i));
        if (!n)
            continue;
        if (!strcmp(n, error))
            return true;
        if (!strcmp(n, "States.ALL"))
            return true;
        if (!strcmp(n, "States.TaskFailed") && strcmp(error, "States.Timeout"))
            return true;
    }
    return false;
}

static double num(json_object *r, const char *k, double def)
{
    json_object *v;
    return json_object_object_get_ex(r, k, &v) ? json_object_get_double(v) : def;
}

int asl_on_error(json_object *state, json_object *raw_input, const asl_err *err, json_object *attempts, uint64_t rnd,
                 int64_t *delay_ms, asl_step *out)
{
    memset(out, 0, sizeof *out);
    json_object *retry, *catch;
    /* States.Runtime and the like cannot be retried by States.ALL (AWS). */
    bool terminal = !strcmp(err->error, "States.Runtime") || !strcmp(err->error, "States.DataLimitExceeded");
    if (!terminal && json_object_object_get_ex(state, "Retry", &retry)) {
        for (size_t i = 0; i < json_object_array_length(retry); i++) {
            json_object *r = json_object_array_get_idx(retry, i), *ee;
            if (!json_object_object_get_ex(r, "ErrorEquals", &ee) || !asl_error_matches(ee, err->error))
                continue;
            while (json_object_array_length(attempts) <= i)
                json_object_array_add(attempts, json_object_new_int(0));
            int done = json_object_get_int(json_object_array_get_idx(attempts, i));
            double max = num(r, "MaxAttempts", 3);
            if (done >= max)
                break;
            double d = num(r, "IntervalSeconds", 1) * pow(num(r, "BackoffRate", 2.0), done) * 1000.0;
            double cap = num(r, "MaxDelaySeconds", 0);
            if (cap > 0 && d > cap * 1000.0)
                d = cap * 1000.0;
            const char *j = sfield(r, "JitterStrategy");
            if (j && !strcmp(j, "FULL"))
                d = (double)(rnd % 1000000) / 1000000.0 * d;
            if (!(d < 31622400000.0))
                d = 31622400000.0;
            json_object_array_put_idx(attempts, i, json_object_new_int(done + 1));
            *delay_ms = (int64_t)d;
            return 1;
        }
    }
    if (!terminal && json_object_object_get_ex(state, "Catch", &catch)) {
        for (size_t i = 0; i < json_object_array_length(catch); i++) {
            json_object *c = json_object_array_get_idx(catch, i), *ee;
            if (!json_object_object_get_ex(c, "ErrorEquals", &ee) || !asl_error_matches(ee, err->error))
                continue;
            json_object *eo = json_object_new_object();
            json_object_object_add(eo, "Error", json_object_new_string(err->error));
            json_object_object_add(eo, "Cause", json_object_new_string(err->cause));
            asl_err e = {{0}, {0}};
            out->output = apply_result_path(c, raw_input, eo, &e);
            json_object_put(eo);
            if (e.error[0]) {
                step_fail(out, &e);
                return 0;
            }
            out->kind = ASL_NEXT;
            out->next = sfield(c, "Next");
            return 2;
        }
    }
    out->kind = ASL_FAIL;
    out->err = *err;
    return 0;
}

/* ---- Choice rules ------------------------------------------------------------------ */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

bool asl_timestamp(const char *s, int64_t *ms)
{
    int Y, M, D, h, mi, se, n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &mi, &se, &n) != 6 || n != 19)
        return false;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    const char *p = s + n;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (!digits)
            return false;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        int oh, om, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5)
            return false;
        off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else
        return false;
    if (*p)
        return false;
    int64_t secs = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 + h * 3600 + mi * 60 + se - off;
    *ms = secs * 1000 + frac;
    return true;
}

static bool wildcard(const char *pat, const char *s)
{
    if (!*pat)
        return !*s;
    if (pat[0] == '\\' && pat[1])
        return *s == pat[1] && wildcard(pat + 2, s + 1);
    if (*pat == '*') {
        while (pat[1] == '*')
            pat++;
        for (const char *q = s;; q++) {
            if (wildcard(pat + 1, q))
                return true;
            if (!*q)
                return false;
        }
    }
    return *s && *s == *pat && wildcard(pat + 1, s + 1);
}

static int cmp_op(const char *op, int c)
{
    if (!strcmp(op, "Equals"))
        return c == 0;
    if (!strcmp(op, "LessThan"))
        return c < 0;
    if (!strcmp(op, "GreaterThan"))
        return c > 0;
    if (!strcmp(op, "LessThanEquals"))
        return c <= 0;
    if (!strcmp(op, "GreaterThanEquals"))
        return c >= 0;
    return -1;
}

static bool is_number(json_object *v)
{
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* Compare val (the Variable's value) against the rule's operand. */
static int compare(const char *type, const char *op, json_object *val, json_object *operand)
{
    if (!strcmp(type, "String")) {
        if (!json_object_is_type(val, json_type_string) || !json_object_is_type(operand, json_type_string))
            return 0;
        return cmp_op(op, strcmp(json_object_get_string(val), json_object_get_string(operand)));
    }
    if (!strcmp(type, "Numeric")) {
        if (!is_number(val) || !is_number(operand))
            return 0;
        double a = json_object_get_double(val), b = json_object_get_double(operand);
        if (json_object_is_type(val, json_type_int) && json_object_is_type(operand, json_type_int)) {
            int64_t x = json_object_get_int64(val), y = json_object_get_int64(operand);
            return cmp_op(op, x < y ? -1 : x > y);
        }
        return cmp_op(op, a < b ? -1 : a > b);
    }
    if (!strcmp(type, "Boolean")) {
        if (!json_object_is_type(val, json_type_boolean) || !json_object_is_type(operand, json_type_boolean))
            return 0;
        return json_object_get_boolean(val) == json_object_get_boolean(operand);
    }
    int64_t a, b;
    if (!json_object_is_type(val, json_type_string) || !json_object_is_type(operand, json_type_string) ||
        !asl_timestamp(json_object_get_string(val), &a) || !asl_timestamp(json_object_get_string(operand), &b))
        return 0;
    return cmp_op(op, a < b ? -1 : a > b);
}

static int type_test(const char *k, json_object *val, bool present, json_object *operand)
{
    bool want = json_object_get_boolean(operand), is;
    if (!strcmp(k, "IsPresent"))
        is = present;
    else if (!present)
        return 0;
    else if (!strcmp(k, "IsNull"))
        is = val == NULL;
    else if (!strcmp(k, "IsNumeric"))
        is = is_number(val);
    else if (!strcmp(k, "IsString"))
        is = json_object_is_type(val, json_type_string);
    else if (!strcmp(k, "IsBoolean"))
        is = json_object_is_type(val, json_type_boolean);
    else {
        int64_t ms;
        is = json_object_is_type(val, json_type_string) && asl_timestamp(json_object_get_string(val), &ms);
    }
    return is == want;
}

int asl_choice_rule(json_object *rule, json_object *input, json_object *ctx, asl_err *e)
{
    json_object *x;
    if (json_object_object_get_ex(rule, "And", &x) || json_object_object_get_ex(rule, "Or", &x)) {
        bool and = json_object_object_get_ex(rule, "And", NULL);
        for (size_t i = 0; i < json_object_array_length(x); i++) {
            int m = asl_choice_rule(json_object_array_get_idx(x, i), input, ctx, e);
            if (m < 0)
                return m;
            if (and && !m)
                return 0;
            if (!and && m)
                return 1;
        }
        return and;
    }
    if (json_object_object_get_ex(rule, "Not", &x)) {
        int m = asl_choice_rule(x, input, ctx, e);
        return m < 0 ? m : !m;
    }
    const char *var = sfield(rule, "Variable");
    if (!var) {
        asl_fail(e, "States.Runtime", "A choice rule has no Variable");
        return -1;
    }
    asl_err le = {{0}, {0}};
    json_object *val = asl_lookup(var, input, ctx, &le);
    bool present = !le.error[0];
    int result = -2;
    json_object_object_foreach(rule, k, operand) {
        if (!strcmp(k, "Variable") || !strcmp(k, "Next") || !strcmp(k, "Comment"))
            continue;
        if (!strncmp(k, "Is", 2)) {
            result = type_test(k, val, present, operand);
            break;
        }
        if (!present) {
            *e = le;
            asl_fail(e, "States.Runtime", "Invalid path '%s': The choice state's condition path references an invalid value.", var);
            result = -1;
            break;
        }
        if (!strcmp(k, "StringMatches")) {
            result = json_object_is_type(val, json_type_string) && json_object_is_type(operand, json_type_string) &&
                     wildcard(json_object_get_string(operand), json_object_get_string(val));
            break;
        }
        static const char *const types[] = {"String", "Numeric", "Boolean", "Timestamp", NULL};
        for (int i = 0; types[i]; i++) {
            size_t tl = strlen(types[i]);
            if (strncmp(k, types[i], tl))
                continue;
            char op[32];
            snprintf(op, sizeof op, "%s", k + tl);
            size_t ol = strlen(op);
            json_object *rhs = operand, *got = NULL;
            if (ol > 4 && !strcmp(op + ol - 4, "Path")) {
                op[ol - 4] = 0;
                const char *p = json_object_get_string(operand);
                got = asl_lookup(p ? p : "", input, ctx, e);
                if (e->error[0]) {
                    json_object_put(val);
                    return -1;
                }
                rhs = got;
            }
            result = compare(types[i], op, val, rhs);
            json_object_put(got);
            break;
        }
        break;
    }
    json_object_put(val);
    if (result == -2 || result == -1) {
        if (!e->error[0])
            asl_fail(e, "States.Runtime", "A choice rule has no valid comparison operator");
        return -1;
    }
    return result;
}
