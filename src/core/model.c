/*
 * model.c — lookups over the generated model tables (see model.h).
 */
#include "core/model.h"

#include <string.h>

const nb_operation *nb_model_op(const nb_model *m, const char *name, size_t len)
{
    if (!m || !name || !m->ops)
        return NULL;
    /* No operation name contains NUL; refusing such keys also keeps the
     * op->name[len] read below inside the string. */
    if (memchr(name, '\0', len))
        return NULL;
    size_t lo = 0, hi = m->nops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const nb_operation *op = &m->ops[mid];
        int c = strncmp(op->name, name, len);
        if (c == 0) {
            if (op->name[len] == '\0')
                return op;
            c = 1; /* op->name has name as a proper prefix: it sorts after */
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int nb_model_member(const nb_model *m, const nb_shape *s, const char *name, size_t len)
{
    if (!m || !s || !name || !m->members)
        return -1;
    /* Only these types own member runs; an enum string's count is its
     * number of values, not members. */
    if (s->type != NB_T_STRUCTURE && s->type != NB_T_LIST && s->type != NB_T_MAP)
        return -1;
    for (uint32_t i = 0; i < s->count; i++) {
        uint32_t k = s->first + i;
        if (k >= m->nmembers)
            break;
        /* The first byte rules out most members without a strlen. */
        const char *n = m->members[k].name;
        if ((len ? n[0] == name[0] : !n[0]) && strlen(n) == len && memcmp(n, name, len) == 0)
            return (int)k;
    }
    return -1;
}

int nb_model_member_json(const nb_model *m, const nb_shape *s, const char *name, size_t len)
{
    if (!s || !(s->flags & NB_S_JSON_NAMES))
        return nb_model_member(m, s, name, len);
    for (uint32_t i = 0; i < s->count; i++) {
        uint32_t k = s->first + i;
        if (k >= m->nmembers)
            break;
        /* a body key never names a URI, header or query member (API
         * Gateway's PutIntegration: body "httpMethod" is
         * integrationHttpMethod, the URI label httpMethod another) */
        if (m->members[k].location != NB_LOC_BODY)
            continue;
        const char *n = nb_member_json(&m->members[k]);
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return (int)k;
    }
    return -1;
}

int nb_model_shape(const nb_model *m, const char *name)
{
    if (!m || !name || !m->shapes)
        return -1;
    for (uint32_t i = 0; i < m->nshapes; i++)
        if (strcmp(m->shapes[i].name, name) == 0)
            return (int)i;
    return -1;
}
