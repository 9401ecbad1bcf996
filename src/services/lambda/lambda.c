/*
 * lambda.c — the Lambda service: descriptor, schema, lifecycle, the
 * document store, names and ARNs, stored code (zips in SQLite, unpacked on
 * demand under lm_root()) and the code download route.  See lambda_cp.h
 * for the storage layout and lambda_internal.h for the seam with
 * execution.
 */

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <minizip/unzip.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/codec.h"
#include "core/store.h"
#include "gen/models.h"
#include "lambda_cp.h"

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS lambda_docs("
    " account TEXT NOT NULL, region TEXT NOT NULL, kind TEXT NOT NULL, parent TEXT NOT NULL,"
    " key TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL,"
    " PRIMARY KEY(account, region, kind, parent, key)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS lambda_code("
    " sha TEXT PRIMARY KEY, hex TEXT NOT NULL UNIQUE, zip BLOB NOT NULL,"
    " unzipped INTEGER NOT NULL) WITHOUT ROWID;";

static const char *const TABLES[] = {"lambda_docs", "lambda_code", NULL};

/* ---- errors ------------------------------------------------------------------ */

static nb_status vfail(nb_call *call, const char *code, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    return nb_fail(call, code, "%s", buf);
}

#define LM_FAIL_FN(fn, code)                                                                       \
    nb_status fn(nb_call *call, const char *fmt, ...)                                              \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        nb_status st = vfail(call, code, fmt, ap);                                                 \
        va_end(ap);                                                                                \
        return st;                                                                                 \
    }
LM_FAIL_FN(lm_fail_param, "InvalidParameterValueException")
LM_FAIL_FN(lm_fail_validation, "ValidationException")
LM_FAIL_FN(lm_fail_not_found, "ResourceNotFoundException")
LM_FAIL_FN(lm_fail_conflict, "ResourceConflictException")
#undef LM_FAIL_FN

nb_status lm_fail_revision(nb_call *call, const char *what)
{
    return nb_fail(call, "PreconditionFailedException",
                   "The Revision Id provided does not match the latest Revision Id. Call the %s API to retrieve the latest Revision Id",
                   what);
}

nb_status lm_fail_no_resource(nb_call *call)
{
    return lm_fail_not_found(call, "The resource you requested does not exist.");
}

/* The model's pattern for member of the call's input shape. */
static const char *member_pattern(const nb_call *call, const char *member)
{
    const nb_model *m = call->svc ? call->svc->model : &nb_model_lambda;
    if (!call->op || call->op->input < 0)
        return "";
    int mi = nb_model_member(m, &m->shapes[call->op->input], member, strlen(member));
    if (mi < 0)
        return "";
    const char *p = m->shapes[m->members[mi].shape].pattern;
    return p ? p : "";
}

nb_status lm_fail_pattern(nb_call *call, const char *member, const char *value)
{
    char path[64];
    snprintf(path, sizeof path, "%s", member);
    path[0] = (char)(path[0] >= 'A' && path[0] <= 'Z' ? path[0] + 32 : path[0]);
    return lm_fail_validation(call,
                              "1 validation error detected: Value '%.140s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s",
                              value, path, member_pattern(call, member));
}

/* ---- names and ARNs ------------------------------------------------------------ */

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool lm_valid_name(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i]))
            return false;
    return true;
}

bool lm_valid_qualifier(const char *q)
{
    size_t n = strlen(q);
    if (n == 0 || n > 128)
        return false;
    return strcmp(q, "$LATEST") == 0 || lm_valid_name(q, n, 128);
}

bool lm_is_number(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

int lm_split(const char *s, const char *f[9], size_t fl[9])
{
    int nf = 0;
    for (const char *p = s;;) {
        if (nf == 9)
            return -1;
        const char *c = strchr(p, ':');
        f[nf] = p;
        fl[nf] = c ? (size_t)(c - p) : strlen(p);
        nf++;
        if (!c)
            return nf;
        p = c + 1;
    }
}

nb_status lm_parse(nb_call *call, const char *fn, const char *qualifier, lm_ref *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->account, sizeof out->account, "%s", call->account);
    snprintf(out->region, sizeof out->region, "%s", call->region);
    const char *f[9];
    size_t fl[9];
    if (!fn)
        fn = "";
    int nf = lm_split(fn, f, fl);
    if (nf < 0)
        return lm_fail_pattern(call, "FunctionName", fn);
    int ni; /* index of the name field */
    if (fl[0] == 3 && memcmp(f[0], "arn", 3) == 0) {
        /* arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUAL] */
        if ((nf != 7 && nf != 8) || fl[2] != 6 || memcmp(f[2], "lambda", 6) != 0 || fl[5] != 8 ||
            memcmp(f[5], "function", 8) != 0 || fl[4] != 12 || !all_digits(f[4], 12) || fl[3] == 0 ||
            fl[3] >= sizeof out->region)
            return lm_fail_pattern(call, "FunctionName", fn);
        memcpy(out->region, f[3], fl[3]);
        out->region[fl[3]] = 0;
        memcpy(out->account, f[4], 12);
        out->account[12] = 0;
        ni = 6;
    } else if (nf >= 3 && fl[1] == 8 && memcmp(f[1], "function", 8) == 0) {
        if (nf > 4 || fl[0] != 12 || !all_digits(f[0], 12))
            return lm_fail_pattern(call, "FunctionName", fn);
        memcpy(out->account, f[0], 12);
        out->account[12] = 0;
        ni = 2;
    } else {
        if (nf > 2)
            return lm_fail_pattern(call, "FunctionName", fn);
        ni = 0;
    }
    if (!lm_valid_name(f[ni], fl[ni], 64))
        return lm_fail_pattern(call, "FunctionName", fn);
    memcpy(out->name, f[ni], fl[ni]);
    out->name[fl[ni]] = 0;
    if (ni + 1 < nf) {
        const char *q = f[ni + 1];
        if (!*q || !lm_valid_qualifier(q))
            return lm_fail_pattern(call, "FunctionName", fn);
        snprintf(out->qual, sizeof out->qual, "%s", q);
    }
    if (qualifier) {
        if (!lm_valid_qualifier(qualifier))
            return lm_fail_pattern(call, "Qualifier", qualifier);
        if (out->qual[0] && strcmp(out->qual, qualifier) != 0)
            return lm_fail_param(call,
                                 "The derived qualifier from the function name does not match the specified qualifier.");
        snprintf(out->qual, sizeof out->qual, "%s", qualifier);
    }
    return NB_OK;
}

void lm_fn_arn(const lm_ref *r, const char *qual, char *out, size_t cap)
{
    if (qual && *qual)
        snprintf(out, cap, "arn:aws:lambda:%s:%s:function:%s:%s", r->region, r->account, r->name,
                 qual);
    else
        snprintf(out, cap, "arn:aws:lambda:%s:%s:function:%s", r->region, r->account, r->name);
}

/* ---- documents ------------------------------------------------------------------- */

/* ---- the read cache --------------------------------------------------- */

/* Parsed documents for the invoke path (lm_resolve runs on every Invoke):
 * borrowed, read-only references.  Any write (lm_doc_put, lm_doc_del) and
 * a reset empty the whole cache, so it never serves a document a later or
 * rolled-back write changed: a rolled-back call wrote, and emptied it. */
#define DOC_CACHE_SLOTS 512
static struct doc_slot {
    char *key;
    json_object *doc;
} g_cache[DOC_CACHE_SLOTS];
static int g_cached;

static void cache_clear(void)
{
    if (g_cached == 0)
        return;
    for (int i = 0; i < DOC_CACHE_SLOTS; i++) {
        free(g_cache[i].key);
        if (g_cache[i].doc)
            json_object_put(g_cache[i].doc);
        g_cache[i].key = NULL;
        g_cache[i].doc = NULL;
    }
    g_cached = 0;
}

json_object *lm_doc_peek(const char *account, const char *region, const char *kind,
                         const char *parent, const char *key)
{
    char k[1024];
    int n = snprintf(k, sizeof k, "%s\x1f%s\x1f%s\x1f%s\x1f%s", account, region, kind, parent, key);
    if (n < 0 || (size_t)n >= sizeof k)
        return NULL;
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
    unsigned slot = (unsigned)(h % DOC_CACHE_SLOTS);
    for (int probe = 0; probe < DOC_CACHE_SLOTS; probe++, slot = (slot + 1) % DOC_CACHE_SLOTS) {
        if (!g_cache[slot].key)
            break;
        if (strcmp(g_cache[slot].key, k) == 0)
            return g_cache[slot].doc;
    }
    json_object *doc = lm_doc_get(account, region, kind, parent, key);
    if (!doc)
        return NULL;
    /* lm_doc_cache_trim keeps a quarter of the slots free: never full here. */
    while (g_cache[slot].key)
        slot = (slot + 1) % DOC_CACHE_SLOTS;
    g_cache[slot].key = nb_strdup(k);
    g_cache[slot].doc = doc;
    g_cached++;
    return doc;
}

void lm_doc_cache_trim(void)
{
    if (g_cached >= DOC_CACHE_SLOTS * 3 / 4)
        cache_clear();
}

json_object *lm_doc_get(const char *account, const char *region, const char *kind,
                        const char *parent, const char *key)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT doc FROM lambda_docs WHERE account = ?1 AND region = ?2"
                                   " AND kind = ?3 AND parent = ?4 AND key = ?5");
    sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, parent, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, key, -1, SQLITE_STATIC);
    json_object *doc = NULL;
    if (sqlite3_step(s) == SQLITE_ROW)
        doc = json_tokener_parse((const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    return doc;
}

void lm_doc_put(const char *account, const char *region, const char *kind, const char *parent,
                const char *key, int64_t seq, json_object *doc)
{
    cache_clear();
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "INSERT OR REPLACE INTO lambda_docs(account, region, kind,"
                                   " parent, key, seq, doc) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, parent, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, seq);
    sqlite3_bind_text(s, 7, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN), -1,
                      SQLITE_TRANSIENT);
    if (sqlite3_step(s) != SQLITE_DONE)
        NB_ERR("lambda: storing %s/%s: %s", kind, key, sqlite3_errmsg(nb_db()));
    sqlite3_reset(s);
}

void lm_doc_del(const char *account, const char *region, const char *kind, const char *parent,
                const char *key)
{
    cache_clear();
    static sqlite3_stmt *one, *all;
    sqlite3_stmt *s = key ? nb_stmt(&one, "DELETE FROM lambda_docs WHERE account = ?1 AND region = ?2"
                                          " AND kind = ?3 AND parent = ?4 AND key = ?5")
                          : nb_stmt(&all, "DELETE FROM lambda_docs WHERE account = ?1 AND region = ?2"
                                          " AND kind = ?3 AND parent = ?4");
    sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, parent, -1, SQLITE_STATIC);
    if (key)
        sqlite3_bind_text(s, 5, key, -1, SQLITE_STATIC);
    sqlite3_step(s);
    sqlite3_reset(s);
}

json_object *lm_doc_list(const char *account, const char *region, const char *kind,
                         const char *parent)
{
    static sqlite3_stmt *by_parent, *any, *global;
    sqlite3_stmt *s;
    if (!account) {
        s = nb_stmt(&global, "SELECT doc FROM lambda_docs WHERE kind = ?1 ORDER BY seq, key");
        sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
    } else {
        s = parent ? nb_stmt(&by_parent, "SELECT doc FROM lambda_docs WHERE account = ?1 AND region = ?2"
                                         " AND kind = ?3 AND parent = ?4 ORDER BY seq, key")
                   : nb_stmt(&any, "SELECT doc FROM lambda_docs WHERE account = ?1 AND region = ?2"
                                   " AND kind = ?3 ORDER BY parent, seq, key");
        sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, region, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
        if (parent)
            sqlite3_bind_text(s, 4, parent, -1, SQLITE_STATIC);
    }
    json_object *arr = json_object_new_array();
    while (sqlite3_step(s) == SQLITE_ROW) {
        json_object *d = json_tokener_parse((const char *)sqlite3_column_text(s, 0));
        if (d)
            json_object_array_add(arr, d);
    }
    sqlite3_reset(s);
    return arr;
}

json_object *lm_copy(json_object *v)
{
    json_object *out = NULL;
    if (v)
        json_object_deep_copy(v, &out, NULL);
    return out;
}

json_object *lm_public(json_object *doc)
{
    json_object *c = lm_copy(doc);
    if (!c || !json_object_is_type(c, json_type_object))
        return c;
    const char *drop[16];
    int nd = 0;
    json_object_object_foreach(c, k, v)
    {
        (void)v;
        if (k[0] == '_' && nd < 16)
            drop[nd++] = k;
    }
    for (int i = 0; i < nd; i++)
        json_object_object_del(c, drop[i]);
    return c;
}

void lm_set(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

size_t lm_len(json_object *o)
{
    return o && json_object_is_type(o, json_type_object) ? (size_t)json_object_object_length(o) : 0;
}

json_object *lm_jstr(const char *s)
{
    return json_object_new_string(s ? s : "");
}

void lm_timestamp(int64_t ms, char out[40])
{
    char iso[32];
    nb_iso8601((double)ms / 1000.0, iso); /* "2026-12-01T23:59:59.123Z" */
    snprintf(out, 40, "%.23s+0000", iso);
}

void lm_revision(char out[37])
{
    nb_uuid(out);
}

json_object *lm_page(json_object *all, const char *marker, int64_t max, char next[24])
{
    size_t n = json_object_array_length(all), from = 0;
    if (marker && *marker) {
        char *end = NULL;
        unsigned long long v = strtoull(marker, &end, 10);
        from = end && !*end ? (size_t)v : n;
    }
    if (max <= 0)
        max = 50;
    json_object *page = json_object_new_array();
    size_t i = from;
    for (; i < n && (int64_t)(i - from) < max; i++)
        json_object_array_add(page, json_object_get(json_object_array_get_idx(all, i)));
    next[0] = 0;
    if (i < n)
        snprintf(next, 24, "%zu", i);
    return page;
}

void lm_list_out(nb_call *call, json_object *in, json_object *all, const char *member, int64_t max)
{
    nb_int(in, "MaxItems", &max);
    char next[24];
    json_object *page = lm_page(all, nb_str(in, "Marker"), max, next);
    json_object *items = json_object_new_array();
    for (size_t i = 0, n = json_object_array_length(page); i < n; i++)
        json_object_array_add(items, lm_public(json_object_array_get_idx(page, i)));
    json_object_put(page);
    json_object_put(all);
    call->out = json_object_new_object();
    lm_set(call->out, member, items);
    if (next[0])
        lm_set(call->out, "NextMarker", lm_jstr(next));
}

json_object *lm_policy_out(json_object *statements, const char *revision)
{
    json_object *doc = json_object_new_object();
    lm_set(doc, "Version", lm_jstr("2012-10-17"));
    lm_set(doc, "Id", lm_jstr("default"));
    lm_set(doc, "Statement", json_object_get(statements));
    json_object *out = json_object_new_object();
    lm_set(out, "Policy", lm_jstr(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN)));
    lm_set(out, "RevisionId", lm_jstr(revision));
    json_object_put(doc);
    return out;
}

json_object *lm_find_statement(json_object *statements, const char *sid, size_t *idx)
{
    for (size_t i = 0, n = statements ? json_object_array_length(statements) : 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(statements, i);
        if (strcmp(nb_str(s, "Sid"), sid) == 0) {
            if (idx)
                *idx = i;
            return s;
        }
    }
    return NULL;
}

json_object *lm_statement_out(json_object *statement)
{
    json_object *out = json_object_new_object();
    lm_set(out, "Statement", lm_jstr(json_object_to_json_string_ext(statement, JSON_C_TO_STRING_PLAIN)));
    return out;
}

/* ---- the working directory ------------------------------------------------------- */

static char g_root[PATH_MAX - 512]; /* leaves room for code/HEX/... */
static bool g_root_tmp;

const char *lm_root(void)
{
    return g_root;
}

int lm_mkdirs(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    size_t n = nb_copy(buf, sizeof buf, path, strlen(path));
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != '/')
            continue;
        buf[i] = 0;
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return -1;
        buf[i] = '/';
    }
    return mkdir(buf, mode) != 0 && errno != EEXIST ? -1 : 0;
}

static int make_root(void)
{
    if (nb_cfg.data_dir) {
        snprintf(g_root, sizeof g_root, "%s/lambda", nb_cfg.data_dir);
        g_root_tmp = false;
        return lm_mkdirs(g_root, 0700);
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/nimbus-lambda-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_root)) {
        snprintf(g_root, sizeof g_root, "/tmp/nimbus-lambda-XXXXXX");
        if (!mkdtemp(g_root))
            return -1;
    }
    g_root_tmp = true;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

void lm_remove_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- zips in memory -------------------------------------------------------------- */

typedef struct {
    const unsigned char *p;
    uint64_t n, pos;
} memzip;

static voidpf mz_open(voidpf opaque, const void *name, int mode)
{
    (void)name;
    (void)mode;
    ((memzip *)opaque)->pos = 0;
    return opaque;
}

static uLong mz_read(voidpf opaque, voidpf stream, void *buf, uLong size)
{
    (void)stream;
    memzip *m = opaque;
    uint64_t left = m->pos < m->n ? m->n - m->pos : 0;
    uLong k = size < left ? size : (uLong)left;
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return k;
}

static uLong mz_write(voidpf opaque, voidpf stream, const void *buf, uLong size)
{
    (void)opaque;
    (void)stream;
    (void)buf;
    (void)size;
    return 0;
}

static ZPOS64_T mz_tell(voidpf opaque, voidpf stream)
{
    (void)stream;
    return ((memzip *)opaque)->pos;
}

static long mz_seek(voidpf opaque, voidpf stream, ZPOS64_T off, int origin)
{
    (void)stream;
    memzip *m = opaque;
    uint64_t base = origin == ZLIB_FILEFUNC_SEEK_SET ? 0 : origin == ZLIB_FILEFUNC_SEEK_CUR ? m->pos : m->n;
    if (base + off > m->n)
        return -1;
    m->pos = base + off;
    return 0;
}

static int mz_close(voidpf opaque, voidpf stream)
{
    (void)opaque;
    (void)stream;
    return 0;
}

static int mz_error(voidpf opaque, voidpf stream)
{
    (void)opaque;
    (void)stream;
    return 0;
}

static unzFile open_mem(memzip *m, const void *p, size_t n)
{
    m->p = p;
    m->n = n;
    m->pos = 0;
    zlib_filefunc64_def def = {mz_open, mz_read, mz_write, mz_tell, mz_seek, mz_close, mz_error, m};
    return unzOpen2_64("memory", &def);
}

/* Total uncompressed size from the central directory, or -1 if not a zip. */
static int64_t zip_size(const char *zip, size_t len)
{
    memzip m;
    unzFile uf = open_mem(&m, zip, len);
    if (!uf)
        return -1;
    int64_t total = 0;
    int rc = unzGoToFirstFile(uf);
    while (rc == UNZ_OK) {
        unz_file_info64 fi;
        if (unzGetCurrentFileInfo64(uf, &fi, NULL, 0, NULL, 0, NULL, 0) != UNZ_OK) {
            rc = UNZ_BADZIPFILE;
            break;
        }
        total += (int64_t)fi.uncompressed_size;
        rc = unzGoToNextFile(uf);
    }
    unzClose(uf);
    return rc == UNZ_END_OF_LIST_OF_FILE ? total : -1;
}

static void sha_of(const void *p, size_t n, char b64[48], char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(p, n, md);
    char *e = nb_base64_encode(md, sizeof md, NULL);
    snprintf(b64, 48, "%s", e);
    free(e);
    nb_hex(md, sizeof md, hex);
}

nb_status lm_code_put(nb_call *call, const char *zip, size_t len, int64_t extra_unzipped,
                      char sha[48], int64_t *unzipped)
{
    if (len > LM_MAX_ZIP)
        return nb_fail_status(call, 413, true, "RequestEntityTooLargeException",
                              "Request must be smaller than 69905067 bytes for the %s operation",
                       call->op ? call->op->name : "CreateFunction");
    int64_t size = zip_size(zip, len);
    if (size < 0)
        return lm_fail_param(call,
                             "Could not unzip uploaded file. Please check your file, then try to upload again.");
    if (size + extra_unzipped > LM_MAX_UNZIPPED)
        return lm_fail_param(call, "Unzipped size must be smaller than %lld bytes", LM_MAX_UNZIPPED);
    char hex[65];
    sha_of(zip, len, sha, hex);
    static sqlite3_stmt *ins;
    sqlite3_stmt *s = nb_stmt(&ins, "INSERT OR IGNORE INTO lambda_code(sha, hex, zip, unzipped)"
                                    " VALUES(?1, ?2, ?3, ?4)");
    sqlite3_bind_text(s, 1, sha, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, hex, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 3, zip, len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, size);
    sqlite3_step(s);
    sqlite3_reset(s);
    *unzipped = size;
    return NB_OK;
}

int64_t lm_code_unzipped(const char *sha)
{
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT unzipped FROM lambda_code WHERE sha = ?1");
    sqlite3_bind_text(s, 1, sha, -1, SQLITE_STATIC);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return n;
}

void lm_code_gc(const char *sha)
{
    if (!sha || !*sha)
        return;
    static sqlite3_stmt *used, *del;
    sqlite3_stmt *s = nb_stmt(&used,
                              "SELECT 1 FROM lambda_docs WHERE kind IN ('ver', 'layer') AND"
                              " (json_extract(doc, '$.CodeSha256') = ?1 OR"
                              " json_extract(doc, '$.Content.CodeSha256') = ?1 OR"
                              " EXISTS (SELECT 1 FROM json_each(doc, '$._LayerShas') WHERE value = ?1))"
                              " LIMIT 1");
    sqlite3_bind_text(s, 1, sha, -1, SQLITE_STATIC);
    bool in_use = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    if (in_use)
        return;
    s = nb_stmt(&del, "DELETE FROM lambda_code WHERE sha = ?1");
    sqlite3_bind_text(s, 1, sha, -1, SQLITE_STATIC);
    sqlite3_step(s);
    sqlite3_reset(s);
}

static bool sha_hex(const char *sha, char hex[65])
{
    size_t n = 0;
    unsigned char *raw = nb_base64_decode(sha, strlen(sha), &n);
    if (!raw || n != 32) {
        free(raw);
        return false;
    }
    nb_hex(raw, n, hex);
    free(raw);
    return true;
}

void lm_code_url(const nb_call *call, const char *sha, char *out, size_t cap)
{
    char hex[65] = "";
    sha_hex(sha, hex);
    snprintf(out, cap, "http://%s/_nimbus/lambda/code/%s.zip", call->host, hex);
}

nb_status lm_code_s3(nb_call *call, json_object *in)
{
    (void)in;
    return lm_fail_param(call,
                         "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist");
}

/* The download route (dispatch.c): GET /_nimbus/lambda/code/HEX.zip. */
bool nb_lambda_code(const char *path, size_t len, nb_buf *body)
{
    static const char prefix[] = "/_nimbus/lambda/code/";
    size_t pl = sizeof prefix - 1;
    if (len != pl + 64 + 4 || memcmp(path, prefix, pl) != 0 || memcmp(path + pl + 64, ".zip", 4) != 0)
        return false;
    char hex[65];
    memcpy(hex, path + pl, 64);
    hex[64] = 0;
    static sqlite3_stmt *st;
    sqlite3_stmt *s = nb_stmt(&st, "SELECT zip FROM lambda_code WHERE hex = ?1");
    sqlite3_bind_text(s, 1, hex, -1, SQLITE_STATIC);
    bool found = false;
    if (sqlite3_step(s) == SQLITE_ROW) {
        nb_buf_add(body, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        found = true;
    }
    sqlite3_reset(s);
    return found;
}

/* ---- unpacked code --------------------------------------------------------------- */

typedef struct code_dir {
    struct code_dir *next;
    char sha[48];
    char path[PATH_MAX];
} code_dir;

static code_dir *g_dirs;

/* A zip entry name is safe when relative and free of ".." components. */
static bool safe_name(const char *n)
{
    if (!*n || n[0] == '/' || n[0] == '\\' || strchr(n, '\\'))
        return false;
    for (const char *p = n; *p;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (!e)
            break;
        p = e + 1;
    }
    return true;
}

static int extract_entry(unzFile uf, const char *dir, const char *name, const unz_file_info64 *fi)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return -1;
    bool unix_attrs = (fi->version >> 8) == 3;
    mode_t mode = unix_attrs ? (mode_t)((fi->external_fa >> 16) & 07777) : 0;
    mode_t type = unix_attrs ? (mode_t)((fi->external_fa >> 16) & S_IFMT) : 0;
    size_t nl = strlen(name);
    if (name[nl - 1] == '/' || type == S_IFDIR)
        return lm_mkdirs(path, 0755);
    char *slash = strrchr(path, '/');
    *slash = 0;
    if (lm_mkdirs(path, 0755) != 0)
        return -1;
    *slash = '/';
    if (unzOpenCurrentFile(uf) != UNZ_OK)
        return -1;
    int rc = 0;
    if (type == S_IFLNK) {
        char target[PATH_MAX];
        int n = unzReadCurrentFile(uf, target, sizeof target - 1);
        if (n <= 0 || !safe_name((target[n] = 0, target)) || symlink(target, path) != 0)
            rc = -1;
    } else {
        FILE *f = fopen(path, "wb");
        if (!f) {
            unzCloseCurrentFile(uf);
            return -1;
        }
        char buf[65536];
        int n;
        while ((n = unzReadCurrentFile(uf, buf, sizeof buf)) > 0)
            if (fwrite(buf, 1, (size_t)n, f) != (size_t)n) {
                rc = -1;
                break;
            }
        if (n < 0)
            rc = -1;
        if (fclose(f) != 0)
            rc = -1;
        mode &= 0777;
        if (rc == 0)
            chmod(path, mode ? mode : 0644);
    }
    if (unzCloseCurrentFile(uf) != UNZ_OK)
        rc = -1;
    return rc;
}

static int extract_all(const void *zip, size_t len, const char *dir)
{
    memzip m;
    unzFile uf = open_mem(&m, zip, len);
    if (!uf)
        return -1;
    int rc = unzGoToFirstFile(uf), status = 0;
    while (rc == UNZ_OK && status == 0) {
        unz_file_info64 fi;
        char name[1024];
        if (unzGetCurrentFileInfo64(uf, &fi, name, sizeof name, NULL, 0, NULL, 0) != UNZ_OK ||
            fi.size_filename >= sizeof name) {
            status = -1;
            break;
        }
        if (!safe_name(name)) {
            NB_WARN("lambda: zip entry '%s' leaves its directory; refused", name);
            status = -1;
            break;
        }
        status = extract_entry(uf, dir, name, &fi);
        rc = unzGoToNextFile(uf);
    }
    unzClose(uf);
    return status == 0 && (rc == UNZ_END_OF_LIST_OF_FILE || rc == UNZ_OK) ? 0 : -1;
}

const char *lm_code_dir(const char *sha)
{
    for (code_dir *d = g_dirs; d; d = d->next)
        if (strcmp(d->sha, sha) == 0)
            return d->path;
    char hex[65];
    if (!sha_hex(sha, hex)) {
        NB_WARN("lambda: bad code sha '%s'", sha);
        return NULL;
    }
    code_dir *d = nb_calloc(1, sizeof *d);
    snprintf(d->sha, sizeof d->sha, "%s", sha);
    snprintf(d->path, sizeof d->path, "%s/code/%s", g_root, hex);
    struct stat sb;
    if (stat(d->path, &sb) != 0) {
        static sqlite3_stmt *st;
        sqlite3_stmt *s = nb_stmt(&st, "SELECT zip FROM lambda_code WHERE sha = ?1");
        sqlite3_bind_text(s, 1, sha, -1, SQLITE_STATIC);
        int rc = -1;
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s/code/.tmp-%s-%llx", g_root, hex, (unsigned long long)nb_rand64());
        if (sqlite3_step(s) == SQLITE_ROW && lm_mkdirs(tmp, 0755) == 0) {
            rc = extract_all(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), tmp);
            if (rc == 0 && rename(tmp, d->path) != 0)
                rc = -1;
        } else {
            NB_WARN("lambda: no stored code %s", sha);
        }
        sqlite3_reset(s);
        if (rc != 0) {
            lm_remove_tree(tmp);
            NB_WARN("lambda: could not unpack code %s under %s", sha, g_root);
            free(d);
            return NULL;
        }
    }
    d->next = g_dirs;
    g_dirs = d;
    return d->path;
}

static void free_dirs(void)
{
    while (g_dirs) {
        code_dir *d = g_dirs;
        g_dirs = d->next;
        free(d);
    }
}

/* ---- lifecycle ----------------------------------------------------------------------- */

static int lm_init(struct nb_store *st)
{
    (void)st;
    if (nb_exec(SCHEMA) != 0)
        return -1;
    for (int i = 0; TABLES[i]; i++)
        nb_store_register_table(TABLES[i]);
    if (make_root() != 0) {
        NB_ERR("lambda: cannot create the working directory %s: %s", g_root, strerror(errno));
        return -1;
    }
    lm_exec_init();
    return 0;
}

static void lm_reset(void)
{
    cache_clear();
    lm_exec_reset();
}

static void lm_shutdown(void)
{
    cache_clear();
    lm_exec_shutdown();
    free_dirs();
    if (g_root_tmp && g_root[0])
        lm_remove_tree(g_root);
    g_root[0] = 0;
}

static const nb_op_entry OPS[] = {
#define LM_ENTRY(op, fn) {#op, lm_##fn},
    LM_HANDLERS(LM_ENTRY)
#undef LM_ENTRY
    {"Invoke", lm_op_invoke},
    {"InvokeAsync", lm_op_invoke_async},
    {"InvokeWithResponseStream", lm_op_invoke_stream},
    {NULL, NULL},
};

const nb_service nb_service_lambda = {
    .name = "lambda",
    .model = &nb_model_lambda,
    .ops = OPS,
    .init = lm_init,
    .reset = lm_reset,
    .shutdown = lm_shutdown,
};
