/*
 * ddb_partiql.c — ExecuteStatement, BatchExecuteStatement and
 * ExecuteTransaction: PartiQL statements run against the item store.
 *
 * A statement is parsed (ddb_partiql_parse.c) with its Parameters, then
 * planned against the table's key schema:
 *   SELECT  the WHERE's top-level AND operands (or every branch of a top
 *           OR) that fix the partition key with = or IN make it a Query of
 *           those partitions, in key order, with a sort-key range from a
 *           comparison, BETWEEN or begins_with on the sort key; otherwise
 *           a Scan.  The whole WHERE is always applied to each item read,
 *           so the key range only narrows what is read.  Limit and the 1 MB
 *           page bound the items read; NextToken is an opaque token naming
 *           the statement (a hash), the partition and the last key read.
 *   INSERT  PutItem that fails with DuplicateItemException on an existing
 *           key.
 *   UPDATE  UpdateItem of the one item that the WHERE's key equalities
 *   DELETE  name; the other AND operands are its condition.  UPDATE of a
 *           missing item fails its condition; DELETE of one succeeds.
 *   EXISTS  (transactions) a ConditionCheck.
 * Every write goes through ddb_store (indexes, streams, TTL), after every
 * check has passed.  Batches run statement by statement, each failing on
 * its own (Responses[i].Error); transactions check every statement against
 * the state before the transaction, then write all, like
 * TransactWriteItems.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddb_internal.h"
#include "ddb_item.h"
#include "ddb_partiql.h"

#define PAGE_BYTES (1024 * 1024)
#define MAX_CONJ 4096

static void add(json_object *o, const char *k, json_object *v)
{
    if (v)
        json_object_object_add(o, k, v);
}

static nb_status fail_internal(nb_call *call)
{
    return nb_fail_status(call, 500, false, "InternalServerError", "Internal server error");
}

static const char *type_of(json_object *av)
{
    return ddb_type_name(ddb_av_type(av, NULL));
}

/* ---- preparing a statement ----------------------------------------------------- */

typedef struct {
    pq_stmt *st;
    ddb_table *t;
    ddb_index *x;             /* SELECT from "t"."index" */
    uint64_t hash;            /* of the statement and its parameters (tokens) */
    pq_node **conj;           /* the WHERE's AND operands */
    bool *used;               /* ... that name the key */
    int nconj;
} prep;

static void prep_free(prep *p)
{
    pq_stmt_free(p->st);
    free(p->conj);
    free(p->used);
    memset(p, 0, sizeof *p);
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *s = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static bool is_write(const pq_stmt *st)
{
    return st->kind != PQ_SELECT;
}

static nb_status prepare(nb_call *call, json_object *req, prep *p)
{
    memset(p, 0, sizeof *p);
    const char *text = nb_str(req, "Statement");
    json_object *params = nb_get(req, "Parameters");
    if (!text || !*text)
        return ddb_fail_validation(call, "The statement was empty.");
    char err[PQ_ERRLEN];
    for (size_t i = 0, n = params ? json_object_array_length(params) : 0; i < n; i++)
        if (ddb_av_validate(json_object_array_get_idx(params, i), 1, err, sizeof err) != 0)
            return ddb_fail_validation(call, "%s", err);
    p->st = pq_parse(text, strlen(text), params, err, sizeof err);
    if (!p->st)
        return ddb_fail_validation(call, "%s", err);
    p->hash = fnv(1469598103934665603ULL, text, strlen(text));
    for (size_t i = 0, n = params ? json_object_array_length(params) : 0; i < n; i++) {
        const char *js = json_object_to_json_string_ext(json_object_array_get_idx(params, i), JSON_C_TO_STRING_PLAIN);
        p->hash = fnv(p->hash, js, strlen(js));
    }
    p->t = ddb_table_find(call, p->st->table);
    if (!p->t) {
        prep_free(p);
        return ddb_fail_not_found(call);
    }
    if (p->st->index && !(p->x = ddb_index_find(p->t, p->st->index))) {
        nb_status st = ddb_fail_validation(call, "The table does not have the specified index: %s", p->st->index);
        prep_free(p);
        return st;
    }
    p->conj = nb_calloc(MAX_CONJ, sizeof *p->conj);
    p->nconj = pq_conjuncts(p->st->where, p->conj, MAX_CONJ);
    p->used = nb_calloc(MAX_CONJ, sizeof *p->used);
    return NB_OK;
}

/* The other AND operands hold for item. */
static bool residual_true(const prep *p, json_object *item)
{
    for (int i = 0; i < p->nconj; i++)
        if (!p->used[i] && !pq_cond_true(p->conj[i], item))
            return false;
    return true;
}

/* The one item's key from the WHERE's equalities on every key attribute
 * (new object); marks them used. */
static nb_status where_key(nb_call *call, prep *p, json_object **key)
{
    const ddb_table *t = p->t;
    const ddb_keydef *kd[2] = {&t->hash, t->range.name[0] ? &t->range : NULL};
    json_object *k = json_object_new_object();
    bool dml = p->st->kind != PQ_SELECT;
    for (int i = 0; i < p->nconj; i++) {
        json_object *v = NULL;
        const char *nm = pq_key_equality(p->conj[i], &v);
        for (int j = 0; nm && j < 2; j++) {
            if (!kd[j] || strcmp(kd[j]->name, nm) != 0)
                continue;
            if (json_object_object_get_ex(k, nm, NULL)) {
                if (dml) {
                    json_object_put(k);
                    return ddb_fail_validation(call,
                                               "Multiple conditions on same key %s. Only single item Update/Insert/Delete are supported",
                                               nm);
                }
                continue;
            }
            const char *ty = type_of(v);
            if (ty[0] != kd[j]->type || ty[1]) {
                json_object_put(k);
                return ddb_fail_validation(call,
                                           "Key attribute's data type should match its data type in table's schema: Key %s",
                                           nm);
            }
            json_object_object_add(k, nm, json_object_get(v));
            p->used[i] = true;
        }
    }
    if (!json_object_object_get_ex(k, t->hash.name, NULL) || (kd[1] && !json_object_object_get_ex(k, kd[1]->name, NULL))) {
        json_object_put(k);
        if (p->st->kind == PQ_SELECT)
            return ddb_fail_validation(call, "Only single item select is supported");
        return ddb_fail_validation(call, "Where clause does not contain a mandatory equality on all key attributes");
    }
    *key = k;
    return NB_OK;
}

/* ---- reading: plan ------------------------------------------------------------------ */

typedef struct {
    nb_buf *parts;            /* partition key bytes, in walk order */
    int nparts;               /* 0: a Scan */
    nb_buf lo, hi;            /* sort key range */
    bool has_lo, has_hi, lo_incl, hi_incl;
    bool desc;
} plan;

static void plan_free(plan *pl)
{
    for (int i = 0; i < pl->nparts; i++)
        nb_buf_free(&pl->parts[i]);
    free(pl->parts);
    nb_buf_free(&pl->lo);
    nb_buf_free(&pl->hi);
}

static const ddb_keydef *hash_def(const prep *p)
{
    return p->x ? &p->x->hash : &p->t->hash;
}

static const ddb_keydef *range_def(const prep *p)
{
    const ddb_keydef *r = p->x ? &p->x->range : &p->t->range;
    return r->name[0] ? r : NULL;
}

static bool is_attr(const pq_node *n, const char *name)
{
    return n->kind == PQ_PATH && n->path.n == 1 && n->path.e[0].name && strcmp(n->path.e[0].name, name) == 0;
}

static bool key_typed(json_object *v, const ddb_keydef *kd)
{
    const char *ty = type_of(v);
    return ty[0] == kd->type && !ty[1];
}

/* Adds the partition values that conjunct c fixes (= or IN on the hash
 * key); false when it fixes none. */
static bool partition_values(const pq_node *c, const ddb_keydef *h, json_object *vals)
{
    json_object *v = NULL;
    const char *nm = pq_key_equality(c, &v);
    if (nm && strcmp(nm, h->name) == 0) {
        json_object_array_add(vals, json_object_get(v));
        return true;
    }
    if (c->kind == PQ_IN && !c->neg && is_attr(c->a[0], h->name)) {
        for (int i = 1; i < c->n; i++)
            json_object_array_add(vals, json_object_get(c->a[i]->val));
        return true;
    }
    return false;
}

/* Partition values fixed by the WHERE, or NULL (a Scan). *top: they come
 * from top-level AND operands (so a sort-key range applies). */
static json_object *partitions(const prep *p, bool *top)
{
    const ddb_keydef *h = hash_def(p);
    json_object *vals = json_object_new_array();
    *top = false;
    for (int i = 0; i < p->nconj; i++)
        if (partition_values(p->conj[i], h, vals)) {
            *top = true;
            return vals;
        }
    const pq_node *w = p->st->where;
    if (w && w->kind == PQ_OR) {
        for (int i = 0; i < w->n; i++) {
            pq_node *cs[64];
            int n = pq_conjuncts(w->a[i], cs, 64);
            bool found = false;
            for (int j = 0; j < n && !found; j++)
                found = partition_values(cs[j], h, vals);
            if (!found)
                break;
            if (i == w->n - 1)
                return vals;
        }
    }
    json_object_put(vals);
    return NULL;
}

static int cmp_buf(const void *a, const void *b)
{
    const nb_buf *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->data, y->data, n) : 0;
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The sort key range from one top-level operand on the sort key. */
static void sort_range(const prep *p, plan *pl)
{
    const ddb_keydef *r = range_def(p);
    if (!r)
        return;
    for (int i = 0; i < p->nconj; i++) {
        const pq_node *c = p->conj[i];
        pq_kind k = c->kind;
        json_object *v1 = NULL, *v2 = NULL;
        if ((k == PQ_EQ || k == PQ_LT || k == PQ_LE || k == PQ_GT || k == PQ_GE) && c->n == 2) {
            if (is_attr(c->a[0], r->name) && c->a[1]->kind == PQ_VALUE)
                v1 = c->a[1]->val;
            else if (is_attr(c->a[1], r->name) && c->a[0]->kind == PQ_VALUE) {
                v1 = c->a[0]->val;
                k = k == PQ_LT ? PQ_GT : k == PQ_LE ? PQ_GE : k == PQ_GT ? PQ_LT : k == PQ_GE ? PQ_LE : k;
            }
        } else if (k == PQ_BETWEEN && !c->neg && is_attr(c->a[0], r->name) && c->a[1]->kind == PQ_VALUE &&
                   c->a[2]->kind == PQ_VALUE) {
            v1 = c->a[1]->val;
            v2 = c->a[2]->val;
        } else if (k == PQ_CALL && c->op == PQ_FN_BEGINS_WITH && is_attr(c->a[0], r->name) &&
                   c->a[1]->kind == PQ_VALUE && r->type != 'N') {
            v1 = c->a[1]->val;
        }
        if (!v1 || !key_typed(v1, r) || (v2 && !key_typed(v2, r)))
            continue;
        nb_buf b1 = {0}, b2 = {0};
        char err[DDB_ERRLEN];
        if (ddb_key_bytes(v1, r->name, false, &b1, err, sizeof err) != 0 ||
            (v2 && ddb_key_bytes(v2, r->name, false, &b2, err, sizeof err) != 0)) {
            nb_buf_free(&b1);
            nb_buf_free(&b2);
            continue;
        }
        if (k == PQ_EQ || k == PQ_GT || k == PQ_GE || k == PQ_BETWEEN || k == PQ_CALL) {
            nb_buf_add(&pl->lo, b1.data, b1.len);
            pl->has_lo = true;
            pl->lo_incl = k != PQ_GT;
        }
        if (k == PQ_EQ || k == PQ_LT || k == PQ_LE) {
            nb_buf_add(&pl->hi, b1.data, b1.len);
            pl->has_hi = true;
            pl->hi_incl = k != PQ_LT;
        }
        if (k == PQ_BETWEEN) {
            nb_buf_add(&pl->hi, b2.data, b2.len);
            pl->has_hi = pl->hi_incl = true;
        }
        if (k == PQ_CALL) {
            /* [prefix, successor(prefix)) */
            size_t n = b1.len;
            while (n > 0 && (unsigned char)b1.data[n - 1] == 0xff)
                n--;
            if (n > 0) {
                nb_buf_add(&pl->hi, b1.data, n);
                pl->hi.data[n - 1] = (char)((unsigned char)pl->hi.data[n - 1] + 1);
                pl->has_hi = true;
                pl->hi_incl = false;
            }
        }
        nb_buf_free(&b1);
        nb_buf_free(&b2);
        return;
    }
}

static nb_status order_by(nb_call *call, const prep *p, plan *pl)
{
    const pq_stmt *st = p->st;
    if (st->norder == 0)
        return NB_OK;
    if (!st->where)
        return ddb_fail_validation(call, "Must have WHERE clause in the statement when using ORDER BY clause.");
    if (pl->nparts == 0)
        return ddb_fail_validation(call,
                                   "Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause.");
    const ddb_keydef *h = hash_def(p), *r = range_def(p);
    for (int i = 0; i < st->norder; i++) {
        const pq_path *op = &st->order[i].path;
        char nm[300];
        pq_proj_name(op, nm, sizeof nm);
        bool hk = op->n == 1 && strcmp(op->e[0].name, h->name) == 0;
        bool rk = op->n == 1 && r && strcmp(op->e[0].name, r->name) == 0;
        if (!hk && !rk)
            return ddb_fail_validation(call, "Variable reference %s in ORDER BY clause must be part of the primary key", nm);
        if (rk)
            pl->desc = st->order[i].desc;
        else if (st->order[i].desc) {
            for (int a = 0, b = pl->nparts - 1; a < b; a++, b--) {
                nb_buf tmp = pl->parts[a];
                pl->parts[a] = pl->parts[b];
                pl->parts[b] = tmp;
            }
        }
    }
    return NB_OK;
}

static nb_status make_plan(nb_call *call, const prep *p, plan *pl)
{
    memset(pl, 0, sizeof *pl);
    bool top = false;
    json_object *vals = partitions(p, &top);
    const ddb_keydef *h = hash_def(p);
    size_t n = vals ? json_object_array_length(vals) : 0;
    if (vals)
        pl->parts = nb_calloc(n ? n : 1, sizeof *pl->parts);
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(vals, i);
        if (!key_typed(v, h))
            continue; /* matches no item */
        nb_buf b = {0};
        char err[DDB_ERRLEN];
        if (ddb_key_bytes(v, h->name, true, &b, err, sizeof err) != 0) {
            nb_buf_free(&b);
            json_object_put(vals);
            return ddb_fail_validation(call, "%s", err);
        }
        pl->parts[pl->nparts++] = b;
    }
    if (pl->nparts > 1)
        qsort(pl->parts, (size_t)pl->nparts, sizeof *pl->parts, cmp_buf);
    int k = 0;
    for (int i = 0; i < pl->nparts; i++) {
        if (k > 0 && cmp_buf(&pl->parts[k - 1], &pl->parts[i]) == 0) {
            nb_buf_free(&pl->parts[i]);
            continue;
        }
        pl->parts[k++] = pl->parts[i];
    }
    pl->nparts = k;
    bool query = vals != NULL;
    json_object_put(vals);
    if (query && pl->nparts == 0) {
        pl->nparts = -1; /* a Query of no partition: nothing to read */
        return order_by(call, p, pl) == NB_OK ? NB_OK : NB_ERROR;
    }
    if (top)
        sort_range(p, pl);
    return order_by(call, p, pl);
}

/* ---- reading: tokens ------------------------------------------------------------------ */

typedef struct {
    int part;
    bool has;
    nb_buf pk, sk, ipk, isk;
} cursor;

static void cursor_free(cursor *c)
{
    nb_buf_free(&c->pk);
    nb_buf_free(&c->sk);
    nb_buf_free(&c->ipk);
    nb_buf_free(&c->isk);
}

static void put_u32(nb_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
    nb_buf_add(b, x, 4);
}

static bool get_u32(const unsigned char **p, const unsigned char *end, uint32_t *v)
{
    if (end - *p < 4)
        return false;
    *v = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 | (uint32_t)(*p)[2] << 8 | (*p)[3];
    *p += 4;
    return true;
}

static char *token_encode(uint64_t hash, const cursor *c)
{
    nb_buf b = {0};
    nb_buf_addc(&b, 'P');
    put_u32(&b, (uint32_t)(hash >> 32));
    put_u32(&b, (uint32_t)hash);
    put_u32(&b, (uint32_t)c->part);
    const nb_buf *parts[4] = {&c->pk, &c->sk, &c->ipk, &c->isk};
    for (int i = 0; i < 4; i++) {
        put_u32(&b, (uint32_t)parts[i]->len);
        nb_buf_add(&b, parts[i]->data ? parts[i]->data : "", parts[i]->len);
    }
    size_t n = 0;
    char *s = nb_base64_encode(b.data, b.len, &n);
    nb_buf_free(&b);
    return s;
}

static nb_status token_decode(nb_call *call, const char *tok, uint64_t hash, int nparts, cursor *c)
{
    size_t n = 0;
    unsigned char *raw = nb_base64_decode(tok, strlen(tok), &n);
    const unsigned char *p = raw, *end = raw + (raw ? n : 0);
    uint32_t hi, lo, part;
    bool ok = raw && n > 0 && *p++ == 'P' && get_u32(&p, end, &hi) && get_u32(&p, end, &lo) &&
              get_u32(&p, end, &part);
    nb_buf *parts[4] = {&c->pk, &c->sk, &c->ipk, &c->isk};
    for (int i = 0; ok && i < 4; i++) {
        uint32_t len;
        ok = get_u32(&p, end, &len) && (size_t)(end - p) >= len;
        if (ok) {
            nb_buf_add(parts[i], p, len);
            p += len;
        }
    }
    ok = ok && p == end;
    free(raw);
    if (!ok)
        return ddb_fail_validation(call, "Invalid NextToken");
    if (((uint64_t)hi << 32 | lo) != hash || (int)part >= (nparts > 0 ? nparts : 1))
        return ddb_fail_validation(call, "The provided starting key is invalid");
    c->part = (int)part;
    c->has = true;
    return NB_OK;
}

/* ---- reading: the walk ------------------------------------------------------------------- */

/* Columns: pk, sk, ipk, isk, item, size.  Parameters: ?1 tid, ?2 iid,
 * ?3 partition, ?4/?5 sort range bounds, ?6/?7 inclusive, ?8 ?9 ?10 ?11
 * the start position (pk, sk, isk, ipk); unbound ones are NULL. */
#define RANGE(K) " AND (?4 IS NULL OR " K " > ?4 OR (?6 AND " K " = ?4))" \
                 " AND (?5 IS NULL OR " K " < ?5 OR (?7 AND " K " = ?5))"
#define TABLE_COLS "SELECT i.pk, i.sk, NULL, NULL, i.item, i.size FROM ddb_items i WHERE i.tid = ?1"
#define INDEX_COLS "SELECT x.pk, x.sk, x.ipk, x.isk, i.item, i.size FROM ddb_index_items x" \
                   " JOIN ddb_items i ON i.tid = ?1 AND i.pk = x.pk AND i.sk = x.sk WHERE x.iid = ?2"

static const char *const WALK_SQL[6] = {
    /* table scan */
    TABLE_COLS " AND (?8 IS NULL OR (i.pk, i.sk) > (?8, ?9)) ORDER BY i.pk, i.sk",
    /* index scan */
    INDEX_COLS " AND (?11 IS NULL OR (x.ipk, x.isk, x.pk, x.sk) > (?11, ?10, ?8, ?9))"
               " ORDER BY x.ipk, x.isk, x.pk, x.sk",
    /* table query, ascending / descending */
    TABLE_COLS " AND i.pk = ?3" RANGE("i.sk") " AND (?9 IS NULL OR i.sk > ?9) ORDER BY i.sk",
    TABLE_COLS " AND i.pk = ?3" RANGE("i.sk") " AND (?9 IS NULL OR i.sk < ?9) ORDER BY i.sk DESC",
    /* index query, ascending / descending */
    INDEX_COLS " AND x.ipk = ?3" RANGE("x.isk") " AND (?10 IS NULL OR (x.isk, x.pk, x.sk) > (?10, ?8, ?9))"
               " ORDER BY x.isk, x.pk, x.sk",
    INDEX_COLS " AND x.ipk = ?3" RANGE("x.isk") " AND (?10 IS NULL OR (x.isk, x.pk, x.sk) < (?10, ?8, ?9))"
               " ORDER BY x.isk DESC, x.pk DESC, x.sk DESC",
};
static sqlite3_stmt *g_walk[6];

static void bind_buf(sqlite3_stmt *s, int i, const nb_buf *b)
{
    sqlite3_bind_blob(s, i, b->len ? b->data : "", (int)b->len, SQLITE_TRANSIENT);
}

typedef struct {
    nb_call *call;
    const prep *p;
    const plan *pl;
    bool consistent;
    int64_t limit;
    json_object *items;
    int64_t scanned;
    size_t bytes;
    cursor at;                /* the last row read */
    bool stopped;
} walker;


static void emit(walker *w, json_object *item)
{
    const prep *p = w->p;
    json_object *src = (p->x && (p->x->global || p->st->star)) ? ddb_index_view(p->t, p->x, item) : json_object_get(item);
    json_object_array_add(w->items, pq_project(p->st, src));
    json_object_put(src);
}

static void set_col(nb_buf *b, sqlite3_stmt *s, int col)
{
    b->len = 0;
    nb_buf_add(b, sqlite3_column_blob(s, col) ? sqlite3_column_blob(s, col) : "", (size_t)sqlite3_column_bytes(s, col));
}

/* Walks partition `part` (or the whole table/index for a Scan) from the
 * cursor start (may be NULL). */
static nb_status walk_one(walker *w, int part, const cursor *start)
{
    const prep *p = w->p;
    const plan *pl = w->pl;
    bool query = pl->nparts > 0, ix = p->x != NULL;
    int shape = query ? 2 + (ix ? 2 : 0) + (pl->desc ? 1 : 0) : (ix ? 1 : 0);
    sqlite3_stmt *s = nb_stmt(&g_walk[shape], WALK_SQL[shape]);
    sqlite3_bind_int64(s, 1, p->t->id);
    if (ix)
        sqlite3_bind_int64(s, 2, p->x->id);
    if (query) {
        bind_buf(s, 3, &pl->parts[part]);
        if (pl->has_lo) {
            bind_buf(s, 4, &pl->lo);
            sqlite3_bind_int(s, 6, pl->lo_incl);
        }
        if (pl->has_hi) {
            bind_buf(s, 5, &pl->hi);
            sqlite3_bind_int(s, 7, pl->hi_incl);
        }
    }
    if (start) {
        bind_buf(s, 8, &start->pk);
        bind_buf(s, 9, &start->sk);
        if (ix) {
            bind_buf(s, 10, &start->isk);
            bind_buf(s, 11, &start->ipk);
        }
    }
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_object *item = NULL;
        if (ddb_item_decode(sqlite3_column_blob(s, 4), (size_t)sqlite3_column_bytes(s, 4), &item) != 0)
            continue;
        w->scanned++;
        w->bytes += (size_t)sqlite3_column_int64(s, 5);
        if (pq_cond_true(p->st->where, item))
            emit(w, item);
        json_object_put(item);
        w->at.part = part;
        set_col(&w->at.pk, s, 0);
        set_col(&w->at.sk, s, 1);
        set_col(&w->at.ipk, s, 2);
        set_col(&w->at.isk, s, 3);
        if ((w->limit && w->scanned >= w->limit) || w->bytes >= PAGE_BYTES) {
            w->stopped = true;
            break;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail_internal(w->call);
    return NB_OK;
}

/* ---- SELECT -------------------------------------------------------------------------------- */

typedef struct {
    json_object *items;       /* Items */
    json_object *item;        /* single-item read: the item or NULL */
    char *next;               /* NextToken */
    double units;
    bool write;
} result;

static void result_free(result *r)
{
    json_object_put(r->items);
    json_object_put(r->item);
    free(r->next);
    memset(r, 0, sizeof *r);
}

static nb_status run_select(nb_call *call, json_object *in, prep *p, result *res)
{
    walker w = {.call = call, .p = p};
    nb_bool(in, "ConsistentRead", &w.consistent);
    nb_int(in, "Limit", &w.limit);
    if (w.consistent && p->x && p->x->global)
        return ddb_fail_validation(call, "Strongly consistent read is not supported on Global Secondary Indexes");
    plan pl;
    if (make_plan(call, p, &pl) != NB_OK) {
        plan_free(&pl);
        return NB_ERROR;
    }
    w.pl = &pl;
    cursor start = {0};
    const char *tok = nb_str(in, "NextToken");
    nb_status st = NB_OK;
    if (tok)
        st = token_decode(call, tok, p->hash, pl.nparts, &start);
    w.items = json_object_new_array();
    if (st == NB_OK && pl.nparts >= 0) {
        int nparts = pl.nparts > 0 ? pl.nparts : 1;
        for (int i = start.has ? start.part : 0; st == NB_OK && i < nparts && !w.stopped; i++)
            st = walk_one(&w, i, start.has && i == start.part ? &start : NULL);
    }
    if (st == NB_OK) {
        res->items = w.items;
        w.items = NULL;
        if (w.stopped)
            res->next = token_encode(p->hash, &w.at);
        res->units = ddb_read_units(w.bytes, w.consistent);
    }
    json_object_put(w.items);
    cursor_free(&w.at);
    cursor_free(&start);
    plan_free(&pl);
    return st;
}

/* A read of one item by its full key (batches and transactions). */
static nb_status run_get(nb_call *call, prep *p, bool consistent, result *res)
{
    if (p->x)
        return ddb_fail_validation(call, "Reads on indices are not supported within transactions.");
    json_object *key = NULL;
    if (where_key(call, p, &key) != NB_OK)
        return NB_ERROR;
    ddb_key k;
    nb_status st = ddb_key_from_key(call, p->t, key, &k);
    json_object_put(key);
    if (st != NB_OK)
        return st;
    size_t size = 0;
    json_object *item = ddb_load(p->t, &k, &size);
    ddb_key_free(&k);
    if (item && residual_true(p, item))
        res->item = pq_project(p->st, item);
    json_object_put(item);
    res->units = ddb_read_units(size, consistent);
    return NB_OK;
}

/* ---- writes ---------------------------------------------------------------------------------- */

enum { WR_OK, WR_CONDITION, WR_DUPLICATE };

typedef struct {
    prep p;
    ddb_key key;
    bool has_key;
    json_object *old, *nw;
    size_t old_size, size;
    const char *rvcf;         /* ReturnValuesOnConditionCheckFailure */
} wop;

static void wop_free(wop *w)
{
    if (w->has_key)
        ddb_key_free(&w->key);
    json_object_put(w->old);
    json_object_put(w->nw);
    prep_free(&w->p);
}

/* Key and item checks that need no stored state. */
static nb_status write_prepare(nb_call *call, wop *w)
{
    pq_stmt *st = w->p.st;
    const ddb_table *t = w->p.t;
    char err[DDB_ERRLEN];
    if (st->kind == PQ_INSERT) {
        if (ddb_item_validate(st->item, err, sizeof err) != 0)
            return ddb_fail_validation(call, "%s", err);
        if (ddb_key_from_item(call, t, st->item, &w->key) != NB_OK)
            return NB_ERROR;
        w->has_key = true;
        if (ddb_item_size(st->item) > DDB_MAX_ITEM_BYTES)
            return ddb_fail_validation(call, "Item size has exceeded the maximum allowed size");
        return ddb_check_index_keys(call, t, st->item);
    }
    if (w->p.x)
        return ddb_fail_validation(call, "This operation is not supported on an index");
    json_object *key = NULL;
    if (where_key(call, &w->p, &key) != NB_OK)
        return NB_ERROR;
    nb_status rc = ddb_key_from_key(call, t, key, &w->key);
    json_object_put(key);
    if (rc == NB_OK)
        w->has_key = true;
    return rc;
}

/* Reads the stored item and checks the statement's condition. */
static int write_check(wop *w)
{
    w->old = ddb_load(w->p.t, &w->key, &w->old_size);
    switch (w->p.st->kind) {
    case PQ_INSERT: return w->old ? WR_DUPLICATE : WR_OK;
    case PQ_UPDATE: case PQ_EXISTS_STMT: return w->old && residual_true(&w->p, w->old) ? WR_OK : WR_CONDITION;
    case PQ_DELETE: return residual_true(&w->p, w->old) ? WR_OK : WR_CONDITION;
    default: return WR_OK;
    }
}

/* The new item (UPDATE, INSERT), checked. */
static nb_status write_build(nb_call *call, wop *w)
{
    const pq_stmt *st = w->p.st;
    const ddb_table *t = w->p.t;
    char err[DDB_ERRLEN];
    if (st->kind == PQ_INSERT) {
        w->nw = json_object_get(st->item);
        w->size = ddb_item_size(w->nw);
        return NB_OK;
    }
    if (st->kind != PQ_UPDATE)
        return NB_OK;
    const char *keys[3] = {t->hash.name, t->range.name[0] ? t->range.name : NULL, NULL};
    if (!(w->nw = pq_apply(st, w->old, keys, err, sizeof err)))
        return ddb_fail_validation(call, "%s", err);
    if (ddb_item_validate(w->nw, err, sizeof err) != 0)
        return ddb_fail_validation(call, "%s", err);
    if ((w->size = ddb_item_size(w->nw)) > DDB_MAX_ITEM_BYTES)
        return ddb_fail_validation(call, "Item size to update has exceeded the maximum allowed size");
    return ddb_check_index_keys(call, t, w->nw);
}

static nb_status write_store(nb_call *call, wop *w)
{
    if (w->p.st->kind == PQ_EXISTS_STMT || (!w->old && !w->nw))
        return NB_OK;
    if (ddb_store(call, w->p.t, &w->key, w->old, w->nw, false) != 0)
        return fail_internal(call);
    return NB_OK;
}

static json_object *returning(const wop *w)
{
    const pq_stmt *st = w->p.st;
    switch (st->ret) {
    case PQ_RET_ALL_OLD: return json_object_get(w->old);
    case PQ_RET_ALL_NEW: return json_object_get(w->nw);
    case PQ_RET_MODIFIED_OLD: return w->old ? pq_modified(st, w->old) : NULL;
    case PQ_RET_MODIFIED_NEW: return w->nw ? pq_modified(st, w->nw) : NULL;
    default: return NULL;
    }
}

static nb_status fail_write(nb_call *call, const wop *w, int code)
{
    if (code == WR_DUPLICATE)
        return nb_fail(call, "DuplicateItemException", "Duplicate primary key exists in table");
    if (w->rvcf && strcmp(w->rvcf, "ALL_OLD") == 0 && w->old) {
        json_object *d = json_object_new_object();
        add(d, "Item", json_object_get(w->old));
        nb_fail_detail(call, d);
    }
    return nb_fail(call, "ConditionalCheckFailedException", "The conditional request failed");
}

/* One write statement on its own: check, build, store. */
static nb_status run_write(nb_call *call, wop *w, result *res)
{
    if (w->p.st->kind == PQ_EXISTS_STMT)
        return ddb_fail_validation(call, "EXISTS can only be used in ExecuteTransaction write requests.");
    nb_status st = write_prepare(call, w);
    if (st != NB_OK)
        return st;
    int code = write_check(w);
    if (code != WR_OK)
        return fail_write(call, w, code);
    if ((st = write_build(call, w)) != NB_OK || (st = write_store(call, w)) != NB_OK)
        return st;
    res->items = json_object_new_array();
    json_object *r = returning(w);
    if (r && json_object_object_length(r) > 0)
        json_object_array_add(res->items, r);
    else
        json_object_put(r);
    res->write = true;
    res->units = ddb_write_units(w->size > w->old_size ? w->size : w->old_size);
    return NB_OK;
}

/* ---- capacity --------------------------------------------------------------------------------- */

typedef struct {
    const ddb_table *t;
    double units;
    bool write;
} usage;

static void usage_add(usage *u, int *n, int max, const ddb_table *t, double units, bool write)
{
    for (int i = 0; i < *n; i++)
        if (u[i].t == t && u[i].write == write) {
            u[i].units += units;
            return;
        }
    if (*n < max)
        u[(*n)++] = (usage){t, units, write};
}

static json_object *usage_list(const char *mode, const usage *u, int n)
{
    json_object *l = NULL;
    for (int i = 0; i < n; i++) {
        json_object *c = ddb_capacity(mode, u[i].t, u[i].units, u[i].write, 0, NULL);
        if (!c)
            continue;
        if (!l)
            l = json_object_new_array();
        json_object_array_add(l, c);
    }
    return l;
}

/* ---- ExecuteStatement ---------------------------------------------------------------------------- */

nb_status ddb_execute_statement(nb_call *call, json_object *in)
{
    wop w = {.rvcf = nb_str(in, "ReturnValuesOnConditionCheckFailure")};
    if (prepare(call, in, &w.p) != NB_OK)
        return NB_ERROR;
    result res = {0};
    nb_status st = is_write(w.p.st) ? run_write(call, &w, &res) : run_select(call, in, &w.p, &res);
    if (st == NB_OK) {
        call->out = json_object_new_object();
        add(call->out, "Items", res.items);
        res.items = NULL;
        if (res.next)
            add(call->out, "NextToken", json_object_new_string(res.next));
        add(call->out, "ConsumedCapacity",
            ddb_capacity(nb_str(in, "ReturnConsumedCapacity"), w.p.t, res.units, res.write, 0,
                         res.write ? NULL : w.p.x));
    }
    result_free(&res);
    wop_free(&w);
    return st;
}

/* ---- BatchExecuteStatement ----------------------------------------------------------------------- */

static const char *batch_code(const char *code)
{
    static const char *const MAP[][2] = {
        {"ValidationException", "ValidationError"},
        {"ConditionalCheckFailedException", "ConditionalCheckFailed"},
        {"DuplicateItemException", "DuplicateItem"},
        {"ResourceNotFoundException", "ResourceNotFound"},
        {"InternalServerError", "InternalServerError"},
        {"TransactionConflictException", "TransactionConflict"},
    };
    for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++)
        if (strcmp(code, MAP[i][0]) == 0)
            return MAP[i][1];
    return "ValidationError";
}

/* Moves the call's error into a BatchStatementError and clears it. */
static json_object *take_error(nb_call *call)
{
    json_object *e = json_object_new_object();
    add(e, "Code", json_object_new_string(batch_code(call->err.code)));
    add(e, "Message", json_object_new_string(call->err.message));
    json_object *item = call->err.detail ? nb_get(call->err.detail, "Item") : NULL;
    if (item)
        add(e, "Item", json_object_get(item));
    json_object_put(call->err.detail);
    memset(&call->err, 0, sizeof call->err);
    return e;
}

nb_status ddb_batch_execute_statement(nb_call *call, json_object *in)
{
    json_object *reqs = nb_get(in, "Statements");
    size_t n = json_object_array_length(reqs);
    wop *ws = nb_calloc(n ? n : 1, sizeof *ws);
    bool *ok = nb_calloc(n ? n : 1, sizeof *ok);
    json_object *responses = json_object_new_array();
    json_object **errs = nb_calloc(n ? n : 1, sizeof *errs);
    nb_status st = NB_OK;
    int reads = 0, writes = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(reqs, i);
        ws[i].rvcf = nb_str(r, "ReturnValuesOnConditionCheckFailure");
        if (prepare(call, r, &ws[i].p) != NB_OK) {
            errs[i] = take_error(call);
            continue;
        }
        ok[i] = true;
        if (is_write(ws[i].p.st))
            writes++;
        else
            reads++;
    }
    if (reads && writes)
        st = ddb_fail_validation(call, "Read and write requests together in the same batch is not supported.");
    usage u[25];
    int nu = 0;
    for (size_t i = 0; st == NB_OK && i < n; i++) {
        json_object *resp = json_object_new_object();
        json_object_array_add(responses, resp);
        if (!ok[i]) {
            add(resp, "Error", errs[i]);
            errs[i] = NULL;
            continue;
        }
        wop *w = &ws[i];
        add(resp, "TableName", json_object_new_string(w->p.t->name));
        result res = {0};
        bool consistent = false;
        nb_bool(json_object_array_get_idx(reqs, i), "ConsistentRead", &consistent);
        nb_status rs = is_write(w->p.st) ? run_write(call, w, &res) : run_get(call, &w->p, consistent, &res);
        if (rs == NB_OK) {
            add(resp, "Item", res.item);
            res.item = NULL;
            usage_add(u, &nu, 25, w->p.t, res.units, res.write);
        } else if (strcmp(call->err.code, "InternalServerError") == 0) {
            st = NB_ERROR;
        } else {
            add(resp, "Error", take_error(call));
        }
        result_free(&res);
    }
    for (size_t i = 0; i < n; i++) {
        wop_free(&ws[i]);
        json_object_put(errs[i]);
    }
    free(ws);
    free(ok);
    free(errs);
    if (st != NB_OK) {
        json_object_put(responses);
        return st;
    }
    call->out = json_object_new_object();
    add(call->out, "Responses", responses);
    add(call->out, "ConsumedCapacity", usage_list(nb_str(in, "ReturnConsumedCapacity"), u, nu));
    return NB_OK;
}

/* ---- ExecuteTransaction ----------------------------------------------------------------------------- */

/* Idempotency goes through ddb_token_check (ddb_tokens, shared with
 * TransactWriteItems; the text is marked so the two never match). */

static bool same_key(const ddb_key *a, const ddb_key *b)
{
    return a->pk.len == b->pk.len && a->sk.len == b->sk.len &&
           (a->pk.len == 0 || memcmp(a->pk.data, b->pk.data, a->pk.len) == 0) &&
           (a->sk.len == 0 || memcmp(a->sk.data, b->sk.data, a->sk.len) == 0);
}

static nb_status tx_cancel(nb_call *call, const wop *ws, size_t n, const int *codes)
{
    json_object *reasons = json_object_new_array();
    nb_buf list = {0};
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_new_object();
        const char *code = codes[i] == WR_CONDITION ? "ConditionalCheckFailed" : codes[i] == WR_DUPLICATE ? "DuplicateItem" : "None";
        add(r, "Code", json_object_new_string(code));
        if (codes[i] == WR_CONDITION) {
            add(r, "Message", json_object_new_string("The conditional request failed"));
            if (ws[i].rvcf && strcmp(ws[i].rvcf, "ALL_OLD") == 0 && ws[i].old)
                add(r, "Item", json_object_get(ws[i].old));
        } else if (codes[i] == WR_DUPLICATE) {
            add(r, "Message", json_object_new_string("Duplicate primary key exists in table"));
        }
        json_object_array_add(reasons, r);
        nb_buf_adds(&list, i ? ", " : "");
        nb_buf_adds(&list, code);
    }
    json_object *d = json_object_new_object();
    add(d, "CancellationReasons", reasons);
    nb_fail_detail(call, d);
    nb_fail(call, "TransactionCanceledException",
            "Transaction cancelled, please refer cancellation reasons for specific reasons [%s]", list.data);
    nb_buf_free(&list);
    return NB_ERROR;
}

static nb_status tx_reads(nb_call *call, json_object *in, wop *ws, size_t n)
{
    json_object *responses = json_object_new_array();
    usage u[100];
    int nu = 0;
    for (size_t i = 0; i < n; i++) {
        result res = {0};
        if (run_get(call, &ws[i].p, true, &res) != NB_OK) {
            if (strstr(call->err.message, "Only single item select"))
                snprintf(call->err.message, sizeof call->err.message, "%s",
                         "Select statements within ExecuteTransaction must specify the primary key in the where clause.");
            json_object_put(responses);
            return NB_ERROR;
        }
        json_object *r = json_object_new_object();
        add(r, "Item", res.item);
        res.item = NULL;
        json_object_array_add(responses, r);
        usage_add(u, &nu, 100, ws[i].p.t, 2 * res.units, false);
        result_free(&res);
    }
    call->out = json_object_new_object();
    add(call->out, "Responses", responses);
    add(call->out, "ConsumedCapacity", usage_list(nb_str(in, "ReturnConsumedCapacity"), u, nu));
    return NB_OK;
}

static nb_status tx_writes(nb_call *call, json_object *in, wop *ws, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ws[i].p.st->ret != PQ_RET_NONE)
            return ddb_fail_validation(call, "RETURNING is not supported in transactions");
        if (write_prepare(call, &ws[i]) != NB_OK)
            return NB_ERROR;
        for (size_t j = 0; j < i; j++)
            if (ws[j].p.t == ws[i].p.t && same_key(&ws[j].key, &ws[i].key))
                return ddb_fail_validation(call, "Transaction request cannot include multiple operations on one item");
    }
    int *codes = nb_calloc(n, sizeof *codes);
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= (codes[i] = write_check(&ws[i])) != WR_OK;
    if (any) {
        nb_status st = tx_cancel(call, ws, n, codes);
        free(codes);
        return st;
    }
    free(codes);
    for (size_t i = 0; i < n; i++)
        if (write_build(call, &ws[i]) != NB_OK)
            return NB_ERROR;
    usage u[100];
    int nu = 0;
    for (size_t i = 0; i < n; i++) {
        if (write_store(call, &ws[i]) != NB_OK)
            return NB_ERROR;
        size_t sz = ws[i].size > ws[i].old_size ? ws[i].size : ws[i].old_size;
        usage_add(u, &nu, 100, ws[i].p.t, 2 * ddb_write_units(sz), true);
    }
    call->out = json_object_new_object();
    add(call->out, "ConsumedCapacity", usage_list(nb_str(in, "ReturnConsumedCapacity"), u, nu));
    return NB_OK;
}

nb_status ddb_execute_transaction(nb_call *call, json_object *in)
{
    json_object *reqs = nb_get(in, "TransactStatements");
    size_t n = json_object_array_length(reqs);
    wop *ws = nb_calloc(n ? n : 1, sizeof *ws);
    nb_status st = NB_OK;
    int reads = 0, writes = 0;
    for (size_t i = 0; i < n && st == NB_OK; i++) {
        json_object *r = json_object_array_get_idx(reqs, i);
        ws[i].rvcf = nb_str(r, "ReturnValuesOnConditionCheckFailure");
        st = prepare(call, r, &ws[i].p);
        if (st == NB_OK && is_write(ws[i].p.st))
            writes++;
        else if (st == NB_OK)
            reads++;
    }
    if (st == NB_OK && reads && writes)
        st = ddb_fail_validation(call, "ExecuteTransaction API does not support both read and write operations in the same request.");
    const char *token = nb_str(in, "ClientRequestToken");
    bool replay = false;
    if (st == NB_OK && token && writes) {
        nb_buf text = {0};
        nb_buf_adds(&text, "PartiQL:");
        nb_buf_adds(&text, json_object_to_json_string_ext(reqs, JSON_C_TO_STRING_PLAIN));
        int seen = ddb_token_check(call, token, text.data);
        nb_buf_free(&text);
        if (seen < 0)
            st = nb_fail(call, "IdempotentParameterMismatchException",
                         "Request parameters don't match the original request made with the same idempotency token.");
        replay = seen > 0;
    }
    if (st == NB_OK && replay)
        call->out = json_object_new_object();
    else if (st == NB_OK)
        st = writes ? tx_writes(call, in, ws, n) : tx_reads(call, in, ws, n);
    for (size_t i = 0; i < n; i++)
        wop_free(&ws[i]);
    free(ws);
    return st;
}
