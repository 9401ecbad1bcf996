/*
 * test_lambda_code.c — unit test of Lambda's stored code (lambda.c):
 *
 *   lm_root            DATA_DIR/lambda with --data-dir
 *   lm_code_put        zips stored by CodeSha256 (base64 SHA-256), sizes,
 *                      "Could not unzip uploaded file" for a non-zip
 *   lm_code_dir        unpacked once under lm_root()/code/<hex>/, nested
 *                      directories, file modes from the zip's external
 *                      attributes (an executable `bootstrap` stays
 *                      executable), entries with "../" or an absolute name
 *                      refused (NULL, nothing written outside)
 *
 * Zips are written here with minizip's zip.h (version made by: Unix).
 * Exits non-zero on a failure; the last line is "N passed, N failed".
 */
#include <minizip/zip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/nimbus.h"
#include "core/store.h"
#include "gen/models.h"
#include "services/lambda/lambda_cp.h"

static int counts[2];
#define passed (counts[0])
#define failed (counts[1])

#include "check.h"

extern const nb_service nb_service_lambda;

typedef struct {
    const char *name;
    const char *data;
    unsigned mode; /* Unix mode incl. type bits, 0 = none recorded */
} entry;

/* Write a zip of entries to path and read it back into *out. */
static size_t make_zip(const char *path, const entry *e, int n, char **out)
{
    zipFile zf = zipOpen64(path, APPEND_STATUS_CREATE);
    for (int i = 0; i < n; i++) {
        zip_fileinfo fi;
        memset(&fi, 0, sizeof fi);
        fi.external_fa = (uLong)e[i].mode << 16;
        zipOpenNewFileInZip4_64(zf, e[i].name, &fi, NULL, 0, NULL, 0, NULL, Z_DEFLATED, 6, 0, -MAX_WBITS,
                                8, Z_DEFAULT_STRATEGY, NULL, 0, (3u << 8) | 20u, 0, 0);
        zipWriteInFileInZip(zf, e[i].data, (unsigned)strlen(e[i].data));
        zipCloseFileInZip(zf);
    }
    zipClose(zf, NULL);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = nb_malloc((size_t)len);
    size_t got = fread(*out, 1, (size_t)len, f);
    fclose(f);
    return got;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = nb_calloc(1, 4096);
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

int main(void)
{
    char dir[] = "/tmp/nimbus-lambda-unit-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    nb_cfg.data_dir = dir;
    if (nb_store_open(NULL) != 0 || nb_service_lambda.init(NULL) != 0) {
        printf("cannot open the store or start the service\n");
        return 2;
    }
    char want_root[256];
    snprintf(want_root, sizeof want_root, "%s/lambda", dir);
    check(strcmp(lm_root(), want_root) == 0, "lm_root %s", lm_root());

    nb_call call;
    memset(&call, 0, sizeof call);
    call.svc = &nb_service_lambda;
    call.op = nb_model_op(&nb_model_lambda, "CreateFunction", 14);

    char zpath[300], *zip = NULL;
    snprintf(zpath, sizeof zpath, "%s/good.zip", dir);
    const entry good[] = {
        {"bootstrap", "#!/bin/sh\necho hi\n", 0100755},
        {"lib/", "", 040755},
        {"lib/data.txt", "payload", 0100644},
        {"deep/er/file.txt", "nested", 0},
    };
    size_t len = make_zip(zpath, good, 4, &zip);
    char sha[48];
    int64_t unzipped = 0;
    check(lm_code_put(&call, zip, len, 0, sha, &unzipped) == NB_OK, "good zip stored: %s", call.err.message);
    check(unzipped == (int64_t)(strlen(good[0].data) + strlen(good[2].data) + strlen(good[3].data)),
          "unzipped size %lld", (long long)unzipped);
    check(strlen(sha) == 44 && sha[43] == '=', "sha is base64 of 32 bytes: %s", sha);
    check(lm_code_unzipped(sha) == unzipped, "stored unzipped size");

    const char *code = lm_code_dir(sha);
    check(code != NULL, "unpacked");
    if (code) {
        char p[600];
        struct stat sb;
        snprintf(p, sizeof p, "%s/bootstrap", code);
        check(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0755, "bootstrap mode %o", (unsigned)sb.st_mode);
        snprintf(p, sizeof p, "%s/lib/data.txt", code);
        char *txt = slurp(p);
        check(txt && strcmp(txt, "payload") == 0, "lib/data.txt content");
        free(txt);
        check(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0644, "data.txt mode %o", (unsigned)sb.st_mode);
        snprintf(p, sizeof p, "%s/deep/er/file.txt", code);
        check(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0644, "no recorded mode gives 0644");
        check(strncmp(code, want_root, strlen(want_root)) == 0, "under lm_root: %s", code);
        check(lm_code_dir(sha) == code, "second call reuses the directory");
    }
    free(zip);

    snprintf(zpath, sizeof zpath, "%s/evil.zip", dir);
    const entry evil[] = {{"ok.txt", "fine", 0100644}, {"../escaped.txt", "bad", 0100644}};
    len = make_zip(zpath, evil, 2, &zip);
    check(lm_code_put(&call, zip, len, 0, sha, &unzipped) == NB_OK, "traversal zip is a zip");
    check(lm_code_dir(sha) == NULL, "traversal refused");
    char outside[300];
    snprintf(outside, sizeof outside, "%s/lambda/code/escaped.txt", dir);
    check(access(outside, F_OK) != 0, "nothing written outside");
    free(zip);

    snprintf(zpath, sizeof zpath, "%s/abs.zip", dir);
    const entry abs_[] = {{"/tmp/nimbus-abs-entry.txt", "bad", 0100644}};
    len = make_zip(zpath, abs_, 1, &zip);
    check(lm_code_put(&call, zip, len, 0, sha, &unzipped) == NB_OK, "absolute zip is a zip");
    check(lm_code_dir(sha) == NULL, "absolute name refused");
    free(zip);

    memset(&call.err, 0, sizeof call.err);
    check(lm_code_put(&call, "not a zip at all", 16, 0, sha, &unzipped) == NB_ERROR &&
              strcmp(call.err.code, "InvalidParameterValueException") == 0 &&
              strcmp(call.err.message,
                     "Could not unzip uploaded file. Please check your file, then try to upload again.") == 0,
          "non-zip: %s %s", call.err.code, call.err.message);
    check(lm_code_dir("AAAA") == NULL, "bad sha");

    nb_service_lambda.shutdown();
    nb_store_close();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
