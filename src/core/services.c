/*
 * services.c — the one list of services, and lookups over it by name,
 * X-Amz-Target prefix, SigV4 signing name and operation.
 */
#include <string.h>

#include "../gen/models.h"
#include "service.h"


extern const nb_service nb_service_sts;

const nb_service *const nb_services[] = {

    &nb_service_sts,
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

nb_handler nb_service_handler(const nb_service *svc, const char *op)
{
    for (const nb_op_entry *e = svc->ops; e && e->name; e++)
        if (strcmp(e->name, op) == 0)
            return e->fn;
    return NULL;
}
