/*
 * ddb_query.c — Query and Scan, on tables and on secondary indexes.
 *
 * Both walk rows in key order straight from SQLite: a table's items by
 * (pk, sk) — its unique index — and an index's entries by (ipk, isk, pk, sk),
 * joined to the items.  A sort-key condition becomes a range on the key
 * bytes (whose memcmp order is DynamoDB's order), ExclusiveStartKey a
 * row-value bound, ScanIndexForward the direction.  As on AWS, Limit and
 * the 1 MB page bound what is read, and the filter applies afterwards
 * (Count vs ScannedCount); LastEvaluatedKey is the last item read when the
 * page stopped early.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_expr.h"
#include "ddb_internal.h"
#include "ddb_item.h"

#define PAGE_BYTES (1024 * 1024)

enum { SEL_DEFAULT, SEL_ALL, SEL_PROJECTED, SEL_SPECIFIC, SEL_COUNT };

typedef struct {
    nb_call *call;
    json_object *in;
    ddb_table *t;
    ddb_index *x;          /* NULL: the table itself */
    ddb_exprs ex;
    int select;
    int64_t limit;         /* 0 = none */
    bool consistent, forward;
    /* key range */
    nb_buf pk, lo, hi;     /* pk: the partition (Query); lo/hi: sk bounds */
    bool has_lo, has_hi, lo_incl, hi_incl;
    /* ExclusiveStartKey as key bytes */
    bool has_start;
    nb_buf s_ipk, s_isk, s_pk, s_sk;
    /* parallel scan */
    int64_t segment, segments;
    /* results */
    json_object *items;
    int64_t count, scanned;
    size_t bytes;
    json_object *last;     /* LastEvaluatedKey source item */
} qctx;

static void qctx_free(qctx *q)
{
    ddb_exprs_free(&q->ex);
    nb_buf_free(&q->pk);
    nb_buf_free(&q->lo);
    nb_buf_free(&q->hi);
    nb_buf_free(&q->s_ipk);
    nb_buf_free(&q->s_isk);
    nb_buf_free(&q->s_pk);
    nb_buf_free(&q->s_sk);
    json_object_put(q->items);
    json_object_put(q->last);
}

/* ---- parameters ------------------------------------------------------------------- */

static nb_status parse_select(qctx *q, bool query)
{
    const char *sel = nb_str(q->in, "Select");
    bool has_proj = q->ex.proj != NULL;
    const char *projname = q->ex.legacy_proj ? "AttributesToGet" : "ProjectionExpression";
    q->select = SEL_DEFAULT;
    if (!sel)
        q->select = has_proj ? SEL_SPECIFIC : q->x ? SEL_PROJECTED : SEL_ALL;
    else if (strcmp(sel, "ALL_ATTRIBUTES") == 0)
        q->select = SEL_ALL;
    else if (strcmp(sel, "ALL_PROJECTED_ATTRIBUTES") == 0)
        q->select = SEL_PROJECTED;
    else if (strcmp(sel, "SPECIFIC_ATTRIBUTES") == 0)
        q->select = SEL_SPECIFIC;
    else if (strcmp(sel, "COUNT") == 0)
        q->select = SEL_COUNT;
    if (sel && has_proj && q->select != SEL_SPECIFIC)
        return ddb_fail_validation(q->call, "Cannot specify the %s when choosing to get %s", projname,
                                   q->select == SEL_COUNT ? "only the Count" : sel);
    if (q->select == SEL_SPECIFIC && !has_proj)
        return ddb_fail_validation(q->call,
                                   "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES");
    if (q->select == SEL_PROJECTED && !q->x)
        return ddb_fail_validation(q->call,
                                   "ALL_PROJECTED_ATTRIBUTES can be used only when %s using an IndexName",
                                   query ? "Querying" : "Scanning");
    if (q->select == SEL_ALL && q->x && q->x->global && q->x->proj != DDB_PROJ_ALL)
        return ddb_fail_validation(q->call,
                                   "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index %s because its projection type is not ALL",
                                   q->x->name);
    return NB_OK;
}

static nb_status common_params(qctx *q, bool query)
{
    const char *iname = nb_str(q->in, "IndexName");
    if (iname) {
        q->x = ddb_index_find(q->t, iname);
        if (!q->x)
            return ddb_fail_validation(q->call, "The table does not have the specified index: %s", iname);
    }
    nb_bool(q->in, "ConsistentRead", &q->consistent);
    if (q->consistent && q->x && q->x->global)
        return ddb_fail_validation(q->call, "Consistent reads are not supported on global secondary indexes");
    nb_int(q->in, "Limit", &q->limit);
    q->forward = true;
    nb_bool(q->in, "ScanIndexForward", &q->forward);
    unsigned which = DDB_X_PROJ | DDB_X_FILTER | (query ? DDB_X_KEY : DDB_X_SCAN);
    if (ddb_exprs_parse(q->call, q->in, which, &q->ex) != NB_OK)
        return NB_ERROR;
    return parse_select(q, query);
}

static const ddb_keydef *hash_def(const qctx *q)
{
    return q->x ? &q->x->hash : &q->t->hash;
}

static const ddb_keydef *range_def(const qctx *q)
{
    const ddb_keydef *r = q->x ? &q->x->range : &q->t->range;
    return r->name[0] ? r : NULL;
}

static nb_status key_bytes(qctx *q, json_object *av, const ddb_keydef *kd, bool hash, nb_buf *out)
{
    char err[DDB_ERRLEN];
    if (ddb_key_bytes(av, kd->name, hash, out, err, sizeof err) != 0)
        return ddb_fail_validation(q->call, "%s", err);
    return NB_OK;
}

static const char *type_of(json_object *av)
{
    return ddb_type_name(ddb_av_type(av, NULL));
}

/* "A filter expression cannot contain partition key or sort key
 * attributes" (Developer Guide, Query: filter expressions): the keys of the
 * table or index queried. */
static nb_status filter_keys(qctx *q)
{
    if (!q->ex.filter || !nb_str(q->in, "FilterExpression"))
        return NB_OK;
    const ddb_keydef *keys[2] = {hash_def(q), range_def(q)};
    for (int i = 0; i < 2; i++)
        if (keys[i] && ddb_cond_uses(q->ex.filter, keys[i]->name))
            return ddb_fail_validation(q->call,
                                       "Filter Expression can only contain non-primary key attributes: Primary key attribute: %s",
                                       keys[i]->name);
    return NB_OK;
}

/* The key condition as a partition and a byte range on the sort key. */
static nb_status key_range(qctx *q)
{
    if (!q->ex.key)
        return ddb_fail_validation(q->call,
                                   "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.");
    const ddb_keydef *h = hash_def(q), *r = range_def(q);
    char ht[2] = {h->type, 0}, rt[2] = {r ? r->type : 0, 0};
    ddb_keycond kc;
    char err[DDB_ERRMAX];
    if (ddb_key_condition(q->ex.key, h->name, ht, r ? r->name : NULL, r ? rt : NULL, &kc, err, sizeof err) != 0)
        return ddb_fail_validation(q->call, "%s", err);
    if (key_bytes(q, kc.pk, h, true, &q->pk) != NB_OK)
        return NB_ERROR;
    if (kc.op == DDB_KEY_NONE)
        return NB_OK;
    nb_buf v1 = {0};
    if (key_bytes(q, kc.v1, r, false, &v1) != NB_OK) {
        nb_buf_free(&v1);
        return NB_ERROR;
    }
    switch (kc.op) {
    case DDB_KEY_EQ:
        nb_buf_add(&q->lo, v1.data, v1.len);
        nb_buf_add(&q->hi, v1.data, v1.len);
        q->has_lo = q->has_hi = q->lo_incl = q->hi_incl = true;
        break;
    case DDB_KEY_LT: case DDB_KEY_LE:
        nb_buf_add(&q->hi, v1.data, v1.len);
        q->has_hi = true;
        q->hi_incl = kc.op == DDB_KEY_LE;
        break;
    case DDB_KEY_GT: case DDB_KEY_GE:
        nb_buf_add(&q->lo, v1.data, v1.len);
        q->has_lo = true;
        q->lo_incl = kc.op == DDB_KEY_GE;
        break;
    case DDB_KEY_BETWEEN: {
        nb_buf v2 = {0};
        if (key_bytes(q, kc.v2, r, false, &v2) != NB_OK) {
            nb_buf_free(&v1);
            nb_buf_free(&v2);
            return NB_ERROR;
        }
        if (ddb_av_cmp(kc.v1, kc.v2) > 0) {
            nb_buf_free(&v1);
            nb_buf_free(&v2);
            return ddb_fail_validation(q->call,
                                       "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {%s:%s}, upper bound operand: AttributeValue: {%s:%s}",
                                       type_of(kc.v1), json_object_get_string(json_object_object_get(kc.v1, type_of(kc.v1))),
                                       type_of(kc.v2), json_object_get_string(json_object_object_get(kc.v2, type_of(kc.v2))));
        }
        nb_buf_add(&q->lo, v1.data, v1.len);
        nb_buf_add(&q->hi, v2.data, v2.len);
        q->has_lo = q->has_hi = q->lo_incl = q->hi_incl = true;
        nb_buf_free(&v2);
        break;
    }
    case DDB_KEY_BEGINS_WITH: {
        /* [prefix, successor(prefix)): the successor drops trailing 0xff
         * bytes and increments the last; an all-0xff prefix has none. */
        nb_buf_add(&q->lo, v1.data, v1.len);
        q->has_lo = q->lo_incl = true;
        size_t n = v1.len;
        while (n > 0 && (unsigned char)v1.data[n - 1] == 0xff)
            n--;
        if (n > 0) {
            nb_buf_add(&q->hi, v1.data, n);
            q->hi.data[n - 1] = (char)((unsigned char)q->hi.data[n - 1] + 1);
            q->has_hi = true;
            q->hi_incl = false;
        }
        break;
    }
    default:
        break;
    }
    nb_buf_free(&v1);
    return NB_OK;
}

static nb_status start_key(qctx *q)
{
    json_object *sk = nb_get(q->in, "ExclusiveStartKey");
    if (!sk)
        return NB_OK;
    char err[DDB_ERRMAX];
    if (ddb_item_validate(sk, err, sizeof err) != 0)
        return ddb_fail_validation(q->call, "%s", err);
    ddb_key k;
    if (ddb_key_from_item(q->call, q->t, sk, &k) != NB_OK) {
        /* Not call->err.message as an argument: nb_fail formats into that
         * very buffer.  DynamoDB answers any key that does not fit the
         * schema (missing part, wrong type) with the schema message. */
        nb_fail(q->call, "ValidationException",
                "The provided starting key is invalid: The provided key element does not match the schema");
        return NB_ERROR;
    }
    q->s_pk = k.pk;
    q->s_sk = k.sk;
    if (q->x) {
        const ddb_keydef *h = &q->x->hash, *r = range_def(q);
        json_object *hv = nb_get(sk, h->name), *rv = r ? nb_get(sk, r->name) : NULL;
        if (!hv || (r && !rv) || type_of(hv)[0] != h->type || (rv && type_of(rv)[0] != r->type))
            return ddb_fail_validation(q->call, "The provided starting key is invalid: The provided key element does not match the schema");
        if (key_bytes(q, hv, h, true, &q->s_ipk) != NB_OK || (rv && key_bytes(q, rv, r, false, &q->s_isk) != NB_OK))
            return NB_ERROR;
    }
    q->has_start = true;
    return NB_OK;
}

/* ---- the walk ------------------------------------------------------------------------- */

static void bind_buf(sqlite3_stmt *s, int i, const nb_buf *b)
{
    sqlite3_bind_blob(s, i, b->len ? b->data : "", (int)b->len, SQLITE_STATIC);
}

/* SQL for one shape of walk.  Columns: ipk, isk, pk, sk, item, size. */
static void build_sql(nb_buf *sql, const qctx *q, bool query)
{
    bool ix = q->x != NULL;
    const char *K = ix ? "x.isk" : "i.sk";
    if (ix)
        nb_buf_adds(sql, "SELECT x.ipk, x.isk, x.pk, x.sk, i.item, i.size FROM ddb_index_items x"
                         " JOIN ddb_items i ON i.tid = ?1 AND i.pk = x.pk AND i.sk = x.sk WHERE x.iid = ?2");
    else
        nb_buf_adds(sql, "SELECT NULL, NULL, i.pk, i.sk, i.item, i.size FROM ddb_items i WHERE i.tid = ?1");
    if (query) {
        nb_buf_printf(sql, " AND %s = ?3", ix ? "x.ipk" : "i.pk");
        if (q->has_lo)
            nb_buf_printf(sql, " AND %s %s ?4", K, q->lo_incl ? ">=" : ">");
        if (q->has_hi)
            nb_buf_printf(sql, " AND %s %s ?5", K, q->hi_incl ? "<=" : "<");
    }
    const char *cmp = (!query || q->forward) ? ">" : "<";
    if (q->has_start) {
        if (query && ix)
            nb_buf_printf(sql, " AND (x.isk, x.pk, x.sk) %s (?7, ?8, ?9)", cmp);
        else if (query)
            nb_buf_printf(sql, " AND i.sk %s ?9", cmp);
        else if (ix)
            nb_buf_printf(sql, " AND (x.ipk, x.isk, x.pk, x.sk) > (?6, ?7, ?8, ?9)");
        else
            nb_buf_printf(sql, " AND (i.pk, i.sk) > (?8, ?9)");
    }
    const char *dir = (!query || q->forward) ? "" : " DESC";
    if (query && ix)
        nb_buf_printf(sql, " ORDER BY x.isk%s, x.pk%s, x.sk%s", dir, dir, dir);
    else if (query)
        nb_buf_printf(sql, " ORDER BY i.sk%s", dir);
    else if (ix)
        nb_buf_adds(sql, " ORDER BY x.ipk, x.isk, x.pk, x.sk");
    else
        nb_buf_adds(sql, " ORDER BY i.pk, i.sk");
}

/* One prepared statement per shape of walk, kept for the process's life. */
#define NSHAPES 256
static sqlite3_stmt *g_shapes[NSHAPES];

static sqlite3_stmt *walk_stmt(const qctx *q, bool query)
{
    unsigned shape = (unsigned)query | (q->x ? 2u : 0) | (q->has_lo ? 4u : 0) | (q->has_hi ? 8u : 0) |
                     (q->has_start ? 16u : 0) | (q->forward ? 32u : 0) | (q->lo_incl ? 64u : 0) |
                     (q->hi_incl ? 128u : 0);
    if (g_shapes[shape])
        return nb_stmt(&g_shapes[shape], "");
    nb_buf sql = {0};
    build_sql(&sql, q, query);
    sqlite3_stmt *s = nb_stmt(&g_shapes[shape], sql.data);
    nb_buf_free(&sql);
    return s;
}

static uint32_t segment_hash(const void *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 16777619u;
    return h;
}

/* The item as an index holds it: keys plus the projected attributes. */
json_object *ddb_index_view(const ddb_table *t, const ddb_index *x, json_object *item)
{
    if (!x || x->proj == DDB_PROJ_ALL)
        return json_object_get(item);
    json_object *o = json_object_new_object();
    const char *keys[4] = {t->hash.name, t->range.name, x->hash.name, x->range.name};
    json_object_object_foreach(item, k, v)
    {
        bool keep = false;
        for (int i = 0; i < 4 && !keep; i++)
            keep = keys[i][0] && strcmp(keys[i], k) == 0;
        for (int i = 0; i < x->ninclude && !keep; i++)
            keep = strcmp(x->include[i], k) == 0;
        if (keep)
            json_object_object_add(o, k, json_object_get(v));
    }
    return o;
}

static void emit(qctx *q, json_object *item)
{
    if (q->select == SEL_COUNT)
        return;
    json_object *out;
    if (q->select == SEL_SPECIFIC) {
        /* An LSI reads missing attributes from the table; a GSI has only
         * what it projects. */
        json_object *src = (q->x && q->x->global) ? ddb_index_view(q->t, q->x, item) : json_object_get(item);
        out = ddb_project(q->ex.proj, src);
        json_object_put(src);
    } else if (q->select == SEL_PROJECTED) {
        out = ddb_index_view(q->t, q->x, item);
    } else {
        out = json_object_get(item);
    }
    json_object_array_add(q->items, out);
}

static nb_status walk(qctx *q, bool query)
{
    sqlite3_stmt *s = walk_stmt(q, query);
    sqlite3_bind_int64(s, 1, q->t->id);
    if (q->x)
        sqlite3_bind_int64(s, 2, q->x->id);
    if (query)
        bind_buf(s, 3, &q->pk);
    if (q->has_lo)
        bind_buf(s, 4, &q->lo);
    if (q->has_hi)
        bind_buf(s, 5, &q->hi);
    if (q->has_start) {
        if (q->x)
            bind_buf(s, 6, &q->s_ipk), bind_buf(s, 7, &q->s_isk);
        bind_buf(s, 8, &q->s_pk);
        bind_buf(s, 9, &q->s_sk);
    }
    q->items = json_object_new_array();
    bool stopped = false;
    char err[DDB_ERRMAX];
    int rc;
    /* Items that go out whole and unfiltered are rendered straight from
     * their stored bytes (no tree); only the page's last item is decoded,
     * for LastEvaluatedKey. */
    bool raw = !q->ex.filter && (q->select == SEL_ALL ||
                                 (q->select == SEL_PROJECTED && q->x->proj == DDB_PROJ_ALL));
    nb_buf text = {0};
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (q->segments > 1) {
            const void *pk = sqlite3_column_blob(s, 2);
            if (segment_hash(pk, (size_t)sqlite3_column_bytes(s, 2)) % (uint32_t)q->segments != (uint32_t)q->segment)
                continue;
        }
        const void *blob = sqlite3_column_blob(s, 4);
        size_t blen = (size_t)sqlite3_column_bytes(s, 4);
        if (raw) {
            text.len = 0;
            if (ddb_item_render(blob, blen, &text) != 0)
                continue;
            q->scanned++;
            q->count++;
            q->bytes += (size_t)sqlite3_column_int64(s, 5);
            json_object_array_add(q->items, nb_json_raw(text.data, text.len));
            if ((q->limit && q->scanned >= q->limit) || q->bytes >= PAGE_BYTES) {
                json_object_put(q->last);
                q->last = NULL;
                ddb_item_decode(blob, blen, &q->last);
                stopped = q->last != NULL;
                break;
            }
            continue;
        }
        json_object *item = NULL;
        if (ddb_item_decode(blob, blen, &item) != 0)
            continue;
        q->scanned++;
        q->bytes += (size_t)sqlite3_column_int64(s, 5);
        int keep = q->ex.filter ? ddb_cond_eval(q->ex.filter, item, err, sizeof err) : 1;
        if (keep < 0) {
            json_object_put(item);
            sqlite3_reset(s);
            return ddb_fail_validation(q->call, "%s", err);
        }
        if (keep == 1) {
            q->count++;
            emit(q, item);
        }
        json_object_put(q->last);
        q->last = item;
        if ((q->limit && q->scanned >= q->limit) || q->bytes >= PAGE_BYTES) {
            stopped = true;
            break;
        }
    }
    sqlite3_reset(s);
    nb_buf_free(&text);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return nb_fail_status(q->call, 500, false, "InternalServerError", "Internal server error");
    if (!stopped) {
        json_object_put(q->last);
        q->last = NULL;
    }
    return NB_OK;
}

static json_object *last_key(const qctx *q)
{
    json_object *k = ddb_key_attrs(q->t, q->last);
    if (q->x) {
        json_object *v;
        if ((v = nb_get(q->last, q->x->hash.name)))
            json_object_object_add(k, q->x->hash.name, json_object_get(v));
        if (q->x->range.name[0] && (v = nb_get(q->last, q->x->range.name)))
            json_object_object_add(k, q->x->range.name, json_object_get(v));
    }
    return k;
}

static void outputs(qctx *q)
{
    nb_call *call = q->call;
    call->out = json_object_new_object();
    if (q->select != SEL_COUNT) {
        json_object_object_add(call->out, "Items", q->items);
        q->items = NULL;
    }
    json_object_object_add(call->out, "Count", json_object_new_int64(q->count));
    json_object_object_add(call->out, "ScannedCount", json_object_new_int64(q->scanned));
    if (q->last)
        json_object_object_add(call->out, "LastEvaluatedKey", last_key(q));
    json_object *cc = ddb_capacity(nb_str(q->in, "ReturnConsumedCapacity"), q->t,
                                   ddb_read_units(q->bytes, q->consistent), false, 0, q->x);
    if (cc)
        json_object_object_add(call->out, "ConsumedCapacity", cc);
}

nb_status ddb_query(nb_call *call, json_object *in)
{
    qctx q = {.call = call, .in = in};
    q.t = ddb_table_get(call, nb_str(in, "TableName"));
    nb_status st = q.t ? common_params(&q, true) : NB_ERROR;
    if (st == NB_OK)
        st = key_range(&q);
    if (st == NB_OK)
        st = filter_keys(&q);
    if (st == NB_OK)
        st = start_key(&q);
    if (st == NB_OK)
        st = walk(&q, true);
    if (st == NB_OK)
        outputs(&q);
    qctx_free(&q);
    return st;
}

nb_status ddb_scan(nb_call *call, json_object *in)
{
    qctx q = {.call = call, .in = in};
    q.t = ddb_table_get(call, nb_str(in, "TableName"));
    nb_status st = q.t ? NB_OK : NB_ERROR;
    bool has_seg = nb_int(in, "Segment", &q.segment), has_total = nb_int(in, "TotalSegments", &q.segments);
    if (st == NB_OK && has_seg && !has_total)
        st = ddb_fail_validation(call,
                                 "The TotalSegments parameter is required but was not present in the request when Segment parameter is present");
    if (st == NB_OK && has_total && !has_seg)
        st = ddb_fail_validation(call,
                                 "The Segment parameter is required but was not present in the request when parameter TotalSegments is present");
    if (st == NB_OK && has_total && q.segment >= q.segments)
        st = ddb_fail_validation(call,
                                 "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: %lld is not less than TotalSegments: %lld",
                                 (long long)q.segment, (long long)q.segments);
    if (st == NB_OK)
        st = common_params(&q, false);
    if (st == NB_OK)
        st = start_key(&q);
    if (st == NB_OK)
        st = walk(&q, false);
    if (st == NB_OK)
        outputs(&q);
    qctx_free(&q);
    return st;
}
