/*
 * main.c — nimbus: flags and NIMBUS_* environment, start-up (store, services,
 * listener), "Ready.", the event loop, and a clean shutdown on SIGTERM/SIGINT
 * in which every handle is closed and every allocation freed.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/http.h"
#include "core/init.h"
#include "core/launch.h"
#include "core/nimbus.h"
#include "core/service.h"
#include "core/store.h"

static uv_signal_t sig_term, sig_int;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: nimbus [options]\n"
            "A local AWS cloud for serverless microservices, on one port.\n\n"
            "  --host ADDR            listen address (NIMBUS_HOST, default 127.0.0.1)\n"
            "  --port N               listen port (NIMBUS_PORT, default 4566)\n"
            "  --data-dir DIR         keep state durably in DIR (NIMBUS_DATA_DIR;\n"
            "                         default: in memory, fresh at every start)\n"
            "  --log-level LEVEL      error|warn|info|debug (NIMBUS_LOG_LEVEL, default info)\n"
            "  --verify-signatures    verify SigV4 signatures (NIMBUS_VERIFY_SIGNATURES=1)\n"
            "  --access-key KEY       access key accepted when verifying (NIMBUS_ACCESS_KEY, test)\n"
            "  --secret-key KEY       its secret (NIMBUS_SECRET_KEY, default test)\n"
            "  --region REGION        region when a request names none (NIMBUS_REGION, us-east-1)\n"
            "  --max-body-size BYTES  largest request body (NIMBUS_MAX_BODY_SIZE, 67108864)\n"
            "  --init-dir DIR         run DIR/ready.d (else DIR) .sh/.py scripts before\n"
            "                         \"Ready.\" (NIMBUS_INIT_DIR)\n"
            "  --version              print the version\n"
            "  --help                 this text\n");
}

static int parse_level(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

static bool truthy(const char *s)
{
    return s && (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0);
}

static int set_option(int id, const char *val)
{
    char *end;
    long long n;
    switch (id) {
    case 'h': nb_cfg.host = val; return 0;
    case 'p':
        n = strtoll(val, &end, 10);
        if (*end || n < 0 || n > 65535)
            return -1;
        nb_cfg.port = (int)n;
        return 0;
    case 'd': nb_cfg.data_dir = val[0] ? val : NULL; return 0;
    case 'l': {
        int lv = parse_level(val);
        if (lv < 0)
            return -1;
        nb_cfg.log_level = (nb_log_level)lv;
        return 0;
    }
    case 'v': nb_cfg.verify_signatures = truthy(val); return 0;
    case 'a': nb_cfg.access_key = val; return 0;
    case 's': nb_cfg.secret_key = val; return 0;
    case 'r': nb_cfg.region = val; return 0;
    case 'b':
        n = strtoll(val, &end, 10);
        if (*end || n < 1024)
            return -1;
        nb_cfg.max_body = (size_t)n;
        return 0;
    case 'i': nb_cfg.init_dir = val[0] ? val : NULL; return 0;
    }
    return -1;
}

static const struct {
    const char *env;
    int id;
} envs[] = {
    {"NIMBUS_HOST", 'h'}, {"NIMBUS_PORT", 'p'}, {"NIMBUS_DATA_DIR", 'd'},
    {"NIMBUS_LOG_LEVEL", 'l'}, {"NIMBUS_VERIFY_SIGNATURES", 'v'}, {"NIMBUS_ACCESS_KEY", 'a'},
    {"NIMBUS_SECRET_KEY", 's'}, {"NIMBUS_REGION", 'r'}, {"NIMBUS_MAX_BODY_SIZE", 'b'},
    {"NIMBUS_INIT_DIR", 'i'},
};

static int configure(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        const char *v = getenv(envs[i].env);
        if (v && set_option(envs[i].id, v) != 0) {
            fprintf(stderr, "nimbus: invalid %s=%s\n", envs[i].env, v);
            return -1;
        }
    }
    static const struct option opts[] = {
        {"host", required_argument, 0, 'h'},      {"port", required_argument, 0, 'p'},
        {"data-dir", required_argument, 0, 'd'},  {"log-level", required_argument, 0, 'l'},
        {"verify-signatures", no_argument, 0, 'v'}, {"access-key", required_argument, 0, 'a'},
        {"secret-key", required_argument, 0, 's'}, {"region", required_argument, 0, 'r'},
        {"max-body-size", required_argument, 0, 'b'}, {"init-dir", required_argument, 0, 'i'},
        {"help", no_argument, 0, 'H'},
        {"version", no_argument, 0, 'V'},         {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'H') {
            usage(stdout);
            exit(0);
        }
        if (c == 'V') {
            printf("nimbus %s\n", NIMBUS_VERSION);
            exit(0);
        }
        if (c == '?' || set_option(c, c == 'v' ? "1" : optarg) != 0) {
            if (c != '?')
                fprintf(stderr, "nimbus: invalid value for an option: %s\n", optarg);
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "nimbus: unexpected argument %s\n", argv[optind]);
        return -1;
    }
    return 0;
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    NB_INFO("signal %d: shutting down", signum);
    nb_init_shutdown();
    nb_http_shutdown();
    for (int i = 0; nb_services_started() && nb_services[i]; i++)
        if (nb_services[i]->shutdown)
            nb_services[i]->shutdown();
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
}

static void print_ready(void)
{
    printf("Ready.\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], NB_LAUNCH_ARG) == 0)
        return nb_launch_main(argc, argv);
    if (configure(argc, argv) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    /* Many short-lived allocations per request: keep freed memory in the
     * process instead of trimming and re-growing the heap. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 4 << 20);
    static char logbuf[1 << 16];
    setvbuf(stderr, logbuf, _IOFBF, sizeof logbuf); /* flushed once per loop iteration */
    uv_loop_t *loop = nb_loop();
    /* Durable state resumes before the first request; in memory the store
     * and the services start on the first call (nb_services_defer), so an
     * idle server has not touched SQLite (about 1.4 MiB less resident). */
    if (!nb_cfg.data_dir)
        nb_services_defer();
    else if (nb_services_start() != 0)
        return 1;
    if (nb_http_listen(nb_cfg.host, nb_cfg.port) != 0)
        return 1;
    uv_signal_init(loop, &sig_term);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    NB_INFO("nimbus %s listening on http://%s:%d (%s)", NIMBUS_VERSION, nb_cfg.host, nb_cfg.port,
            nb_cfg.data_dir ? nb_cfg.data_dir : "in memory");
    /* "Ready." once the init scripts, if any, have run: what test
     * containers wait for. */
    if (!nb_cfg.init_dir)
        print_ready();
    else if (nb_init_run(nb_cfg.init_dir, print_ready) != 0) {
        fprintf(stderr, "nimbus: cannot read the init directory %s\n", nb_cfg.init_dir);
        return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    nb_store_close();
    nb_services_free();
    nb_crypto_free();
    fflush(stderr);
    int rc = uv_loop_close(loop);
    if (rc != 0)
        NB_ERR("event loop closed with open handles");
    return rc == 0 ? 0 : 1;
}
