/*
 * sqs_wait.c — long polling: ReceiveMessage calls parked until a message
 * can be delivered or their WaitTimeSeconds runs out.
 *
 * Each parked call is a waiter on its queue's FIFO list, with its own
 * uv_timer for the wait deadline and a reference on its input tree.  One
 * global wake timer serves all queues with waiters: anything that may make
 * a message deliverable (send, visibility change, FIFO delete, redrive,
 * move task) calls sqs_wait_touch(), which marks the queue dirty and arms
 * the wake timer for the next loop iteration; otherwise the timer is armed
 * for the earliest future visible_at among queues with waiters (delays and
 * visibility timeouts ending).  The wake callback runs receives for the
 * waiters of due queues, each inside its own nb_store_call_begin/end, and
 * answers them with nb_call_done.  Nothing blocks and no thread is used.
 *
 * Ownership: a waiter is unlinked before its call is answered; its memory
 * is freed in the uv_close callback of its timer.  on_cancel (client gone,
 * server stopping) unlinks and closes without answering.
 */
#include <stdlib.h>

#include "sqs_internal.h"

struct sqs_waiter {
    nb_call *call;
    sqs_queue *q;
    json_object *in;
    sqs_waiter *prev, *next;
    uv_timer_t timer;
};

static uv_timer_t g_wake;
static bool g_wake_ready;
static sqs_queue *g_wq;  /* queues with waiters */

/* ---- lists ------------------------------------------------------------ */

static void wq_link(sqs_queue *q)
{
    if (q->rt.in_wq)
        return;
    q->rt.wq_prev = NULL;
    q->rt.wq_next = g_wq;
    if (g_wq)
        g_wq->rt.wq_prev = q;
    g_wq = q;
    q->rt.in_wq = true;
}

static void wq_unlink(sqs_queue *q)
{
    if (!q->rt.in_wq)
        return;
    if (q->rt.wq_prev)
        q->rt.wq_prev->rt.wq_next = q->rt.wq_next;
    else
        g_wq = q->rt.wq_next;
    if (q->rt.wq_next)
        q->rt.wq_next->rt.wq_prev = q->rt.wq_prev;
    q->rt.in_wq = false;
    q->rt.wq_prev = q->rt.wq_next = NULL;
}

static void waiter_unlink(sqs_waiter *w)
{
    sqs_queue *q = w->q;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->rt.wait_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->rt.wait_tail = w->prev;
    w->prev = w->next = NULL;
    if (!q->rt.wait_head)
        wq_unlink(q);
}

static void waiter_free_cb(uv_handle_t *h)
{
    free(h->data);
}

/* Release everything a waiter holds except its call. */
static void waiter_release(sqs_waiter *w)
{
    waiter_unlink(w);
    uv_timer_stop(&w->timer);
    json_object_put(w->in);
    w->in = NULL;
    uv_close((uv_handle_t *)&w->timer, waiter_free_cb);
}

/* Answer the waiter's call with out (may be NULL: no messages). */
static void waiter_finish(sqs_waiter *w, json_object *out, nb_status st)
{
    nb_call *call = w->call;
    waiter_release(w);
    call->on_cancel = NULL;
    call->park = NULL;
    if (st == NB_OK)
        call->out = out;
    else
        json_object_put(out);
    nb_call_done(call, st);
}

/* One receive attempt for w in its own savepoint. */
static int waiter_try(sqs_waiter *w, int64_t now, json_object **out)
{
    nb_store_call_begin();
    int n = sqs_receive_once(w->call, w->q, w->in, now, out);
    nb_store_call_end(n >= 0);
    return n;
}

/* ---- wake timer ----------------------------------------------------- */

static void wake_cb(uv_timer_t *t);

static void wake_arm(int64_t now)
{
    int64_t at = 0;
    for (sqs_queue *q = g_wq; q; q = q->rt.wq_next) {
        int64_t t = q->rt.dirty ? now : q->rt.next_visible;
        if (t && (!at || t < at))
            at = t;
    }
    if (!g_wake_ready)
        return;
    if (!at) {
        uv_timer_stop(&g_wake);
        return;
    }
    uv_timer_start(&g_wake, wake_cb, at > now ? (uint64_t)(at - now) : 0, 0);
}

static void serve_queue(sqs_queue *q, int64_t now)
{
    sqs_waiter *w;
    q->rt.dirty = false;
    while (!q->rt.dead && (w = q->rt.wait_head) != NULL) {
        json_object *out = NULL;
        int n = waiter_try(w, now, &out);
        if (n == 0)
            break;
        waiter_finish(w, out, n > 0 ? NB_OK : NB_ERROR);
    }
    if (!q->rt.dead && q->rt.wait_head)
        q->rt.next_visible = sqs_queue_next_visible(q, now);
}

static void wake_cb(uv_timer_t *t)
{
    (void)t;
    int64_t now = nb_now_ms();
    size_t n = 0, cap = 16;
    sqs_queue **due = nb_malloc(cap * sizeof *due);
    for (sqs_queue *q = g_wq; q; q = q->rt.wq_next) {
        if (!q->rt.dirty && (!q->rt.next_visible || q->rt.next_visible > now))
            continue;
        if (n == cap)
            due = nb_realloc(due, (cap *= 2) * sizeof *due);
        due[n++] = q;
    }
    /* Queues are never freed while a callback runs (see sqs.c), so the
     * snapshot stays valid even if answering a call deletes one. */
    for (size_t i = 0; i < n; i++)
        if (!due[i]->rt.dead)
            serve_queue(due[i], now);
    free(due);
    wake_arm(nb_now_ms());
}

static void wake_init(void)
{
    if (g_wake_ready)
        return;
    uv_timer_init(nb_loop(), &g_wake);
    g_wake_ready = true;
}

void sqs_wait_touch(sqs_queue *q)
{
    if (!q->rt.wait_head || q->rt.dirty)
        return;
    q->rt.dirty = true;
    wake_init();
    uv_timer_start(&g_wake, wake_cb, 0, 0);
}

/* ---- parking ------------------------------------------------------------ */

static void timeout_cb(uv_timer_t *t)
{
    sqs_waiter *w = t->data;
    json_object *out = NULL;
    int n = w->q->rt.dead ? 0 : waiter_try(w, nb_now_ms(), &out);
    waiter_finish(w, out, n >= 0 ? NB_OK : NB_ERROR);
    wake_arm(nb_now_ms());
}

static void on_cancel(nb_call *call)
{
    sqs_waiter *w = call->park;
    if (!w)
        return;
    call->park = NULL;
    call->on_cancel = NULL;
    waiter_release(w);
    wake_arm(nb_now_ms());
}

nb_status sqs_wait_park(nb_call *call, sqs_queue *q, json_object *in, int wait_s)
{
    sqs_waiter *w = nb_calloc(1, sizeof *w);
    w->call = call;
    w->q = q;
    w->in = json_object_get(in);
    w->prev = q->rt.wait_tail;
    if (q->rt.wait_tail)
        q->rt.wait_tail->next = w;
    else
        q->rt.wait_head = w;
    q->rt.wait_tail = w;
    wq_link(q);
    uv_timer_init(nb_loop(), &w->timer);
    w->timer.data = w;
    uv_timer_start(&w->timer, timeout_cb, (uint64_t)wait_s * 1000, 0);
    call->park = w;
    call->on_cancel = on_cancel;
    wake_init();
    q->rt.next_visible = sqs_queue_next_visible(q, call->now_ms);
    wake_arm(call->now_ms);
    return NB_PENDING;
}

void sqs_wait_finish_queue(sqs_queue *q)
{
    while (q->rt.wait_head)
        waiter_finish(q->rt.wait_head, NULL, NB_OK);
    wq_unlink(q);
}

void sqs_wait_shutdown(void)
{
    while (g_wq)
        sqs_wait_finish_queue(g_wq);
    if (g_wake_ready) {
        uv_timer_stop(&g_wake);
        uv_close((uv_handle_t *)&g_wake, NULL);
        g_wake_ready = false;
    }
}
