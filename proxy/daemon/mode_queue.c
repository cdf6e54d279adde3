/* mode_queue.c - queue mode: NFQUEUE -> engine -> verdicts, first requests held (see
 * mode_queue.h). */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/compiler.h"
#include "common/log.h"
#include "proxy/capture/capture_queue.h"
#include "proxy/daemon/blocknote.h"
#include "proxy/daemon/decisions.h"
#include "proxy/daemon/fbseen.h"
#include "proxy/daemon/hits.h"
#include "proxy/daemon/mode.h"
#include "proxy/daemon/mode_queue.h"
#include "proxy/daemon/settings.h"
#include "proxy/daemon/tarcount.h"
#include "proxy/enforce/inject.h"
#include "proxy/enforce/notice.h"
#include "proxy/enforce/passnames.h"
#include "proxy/enforce/feedrules.h"
#include "proxy/engine/engine.h"
#include "proxy/judge/inspect.h"
#include "rules/match/rsref.h"
#include "rules/subs/pseudo.h"
#include "rules/subs/tariff.h"

#define Q_BATCH    128        /* packets handled per read section */
#define Q_POLL_MS  20         /* hold timeouts are checked at least this often */
#define Q_STATS_NS 200000000u /* counters published every 200 ms */
#define Q_URL_MAX  2048
#define Q_MSS      1220 /* forged notice segments: fits any path MTU of 1280 (IPv6 minimum) */
#define Q_NONE     UINT32_MAX
#define Q_OUTBOX   16 /* blocks whose forged packets wait for the end of a read */
/* queue.incomplete = watch: a held request of Q_STALL_MIN packets or more that got no new one
 * for Q_STALL_NS is released: its client waits for an acknowledgement (its congestion window is
 * spent). One cut in fewer pieces waits for queue.hold_timeout. */
#define Q_STALL_NS  200000000u
#define Q_STALL_MIN 4

enum q_ctr {
    C_PACKETS = 0,
    C_ACCEPTED,
    C_DROPPED,
    C_HELD,
    C_RELEASED,
    C_BLOCKS,
    C_INJECTED,
    C_INJECT_ERRORS,
    C_DECOYS,
    C_HOLD_TIMEOUTS,
    C_HOLD_FULL,
    C_VERDICT_ERRORS,
    C_ENOBUFS,
    C_FLOWS,
    C_KERNEL_WAITING, /* read from /proc about once a second */
    C_KERNEL_DROPPED,
    C_KERNEL_USER_DROPPED,
    C_WATCHED,
    C_WATCH_LIMITS,
    C_SYN_UNSEEN,
    C_SYN_UNSEEN_BLOCKED,
    C_UNSEEN_BLOCKED,    /* a server's answer to client bytes never queued: blocked */
    C_NOT_MINE,          /* first requests neither TLS nor HTTP: released at once, watched */
    C_NO_BUFFER,         /* client segments dropped: no reassembly buffer free (sent again) */
    C_HOLD_TABLE_FULL,   /* client segments dropped: no room in the hold table (sent again) */
    C_CLIENT_LIMITED,    /* ... of them for the client's share (queue.client_buffers) */
    C_QUIC_NEW_ATTEMPTS, /* QUIC attempts opened on a passed 4-tuple: judged as new flows */
    /* the names of passed connections (queue.passed_names; worker 0 carries them) */
    C_PASSED_NOTED,       /* noted now */
    C_PASSED_CUT,         /* marked blocked after a newer rule set */
    C_PASSED_FULL,        /* not noted: the table was full */
    C_PASSED_CLIENT_FULL, /* not noted: the client held its share of the table */
    C_PASSED_LONG,        /* not noted: a name longer than PASSNAMES_NAME_MAX */
    C_PASSED_GONE,        /* forgotten: no longer in conntrack */
    C_PASSED_ERRORS,
    /* the kernel's queue rules against the workers (queue.rules_check_interval; worker 0) */
    C_RULES_STRAY, /* rules feeding queues in and out of the workers' range */
    C_RULES_UNFED, /* the workers' queues no rule feeds */
    C_COUNT
};

static const char *const q_ctr_names[] = {
    "queue.packets",
    "queue.accepted",
    "queue.dropped",
    "queue.held",
    "queue.released",
    "queue.blocks",
    "queue.injected",
    "queue.inject_errors",
    "queue.decoys",
    "queue.hold_timeouts",
    "queue.hold_full",
    "queue.verdict_errors",
    "queue.enobufs",
    "queue.flows",
    "queue.kernel_waiting",
    "queue.kernel_dropped",
    "queue.kernel_user_dropped",
    "queue.watched",
    "queue.watch_limits",
    "queue.syn_unseen",
    "queue.syn_unseen_blocked",
    "queue.unseen_blocked",
    "queue.not_mine",
    "queue.no_buffer",
    "queue.hold_table_full",
    "queue.client_limited",
    "queue.quic_new_attempts",
    "queue.passed_noted",
    "queue.passed_cut",
    "queue.passed_full",
    "queue.passed_client_full",
    "queue.passed_long_names",
    "queue.passed_gone",
    "queue.passed_errors",
    "queue.rules_stray",
    "queue.rules_unfed",
};
_Static_assert(sizeof(q_ctr_names) / sizeof(q_ctr_names[0]) == C_COUNT, "one name per counter");

enum { V_NONE = 0, V_PASS, V_BLOCK };

/* A flow whose packets are held until it is decided, or, watched (queue.incomplete = watch),
 * whose held packets were released at the hold bounds and whose next ones are judged as they
 * pass until it is decided. */
/* A doomed entry (watch_limit = block, past watch_timeout) waits this many watch_timeouts for
 * the packet that blocks its connection; then the flow is refused in the engine. */
#define Q_DOOMED_KEEP 10u

struct hold {
    uint64_t flow_id;
    const void *flow;  /* engine handle (engine_judge_now) */
    uint64_t since_ns; /* first packet held, or (watched) released */
    uint64_t last_ns;  /* last packet held */
    uint32_t watch_n;  /* watched: client packets let through since */
    bool watched;
    bool doomed; /* watched past queue.watch_timeout, watch_limit = block: its next packet blocks */
    uint32_t next;         /* hash chain / free list */
    uint32_t older, newer; /* age list */
    uint32_t first_seq;    /* TCP: sequence number of the first held byte (server's rcv_nxt) */
    bool have_seq;
    bool touched;
    uint8_t verdict; /* V_*: decisions reported while the current packet was handled */
    uint16_t n;
    uint32_t *ids; /* hold_packets packet ids */
};

struct queue_mode;

struct q_worker {
    struct queue_mode *q;
    unsigned idx;
    struct capture *cap;
    struct engine *eng;
    const struct ruleset *rs;
    uint64_t rs_ver;
    int raw4, raw6;

    struct hold *holds;
    uint32_t *ids_pool;
    uint32_t *bucket; /* nbucket heads */
    uint32_t nbucket, free_head, oldest, newest, nheld_flows;
    uint32_t *touched;
    uint32_t ntouched;

    uint64_t ctr_local[C_COUNT];
    unsigned ticks;
    uint64_t full_logged_ns;                  /* last "queue nearly full" warning */
    uint64_t room_logged_ns, room_logged;     /* last "no room to hold" warning, and the
                                               * segments it had counted */
    uint64_t unseen_logged_ns, unseen_logged; /* last "flows first seen after their SYN"
                                               * warning, and queue.syn_unseen then */
    uint64_t next_scan_ns;  /* queue.incomplete = watch: the hold table's next look */
    uint64_t rules_next_ns; /* worker 0: the kernel's queue rules' next read */
    _Atomic uint64_t ctr[C_COUNT];
    uint16_t ip_id;
    char resp[NOTICE_RESPONSE_MAX];
    char url[Q_URL_MAX];
    /* the forged packets of the blocks decided in the current read, sent together after the
     * read's verdicts (send_outbox) */
    struct inject_frames out[Q_OUTBOX];
    unsigned nout;
    struct mmsghdr mm[Q_OUTBOX * INJECT_MAX_FRAMES];
    struct iovec iov[Q_OUTBOX * INJECT_MAX_FRAMES];
    union {
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } sa[Q_OUTBOX * INJECT_MAX_FRAMES];
};

struct queue_mode {
    struct daemon_ctx *d;
    unsigned n;
    int64_t first_queue; /* queue.num: worker i reads queue first_queue + i */
    int rules_check;     /* enum settings_queue_rules_check */
    uint64_t rules_interval_ns;
    /* what the last read of the rules found (feedrules_fingerprint()): a finding is logged when
     * it differs */
    _Atomic uint64_t rules_said;
    struct q_worker **w;
    _Atomic(struct blocknote *) notice;
    uint32_t hold_packets, hold_flows;
    uint64_t hold_timeout_ns;
    uint32_t watch_packets;
    uint64_t watch_timeout_ns;
    int incomplete;    /* enum settings_queue_incomplete */
    bool no_room_drop; /* queue.no_room = drop */
    bool watch_block;  /* queue.watch_limit = block */
    int unseen_syn;    /* enum settings_queue_unseen_syn */
    _Atomic int quic;  /* enum settings_quic (inline.quic, reloadable) */
    uint32_t mark_pass, mark_block;
    uint32_t mark_watch; /* mark_pass | mark_block: a kept-alive HTTP connection */
    uint32_t maxlen;
    bool fail_open;
    struct verdict_policy vp; /* the engine's (https_url is read from notice at use) */
    struct passnames *pn;     /* queue.passed_names; NULL: off */
    bool kernel_cuts;         /* ip.kernel_drop on: the kernel's table cuts passed connections
                               * to listed addresses (with resets), the names' thread leaves them */
    pthread_t pn_thread;
    bool pn_started;
    volatile int pn_stop;
};

/* ---- held packets ---------------------------------------------------------------------------- */

static struct hold *hold_find(struct q_worker *w, uint64_t flow_id)
{
    for (uint32_t i = w->bucket[flow_id % w->nbucket]; i != Q_NONE; i = w->holds[i].next)
        if (w->holds[i].flow_id == flow_id)
            return &w->holds[i];
    return NULL;
}

static struct hold *hold_new(struct q_worker *w, const struct engine_frame_info *fi)
{
    uint32_t i = w->free_head;
    if (i == Q_NONE)
        return NULL;
    struct hold *h = &w->holds[i];
    w->free_head = h->next;
    uint32_t *b = &w->bucket[fi->flow_id % w->nbucket];
    h->flow_id = fi->flow_id;
    h->flow = fi->flow;
    h->since_ns = h->last_ns = clock_mono_ns();
    h->watched = false;
    h->doomed = false;
    h->watch_n = 0;
    h->next = *b;
    *b = i;
    h->older = w->newest;
    h->newer = Q_NONE;
    if (w->newest != Q_NONE)
        w->holds[w->newest].newer = i;
    else
        w->oldest = i;
    w->newest = i;
    h->have_seq = false;
    h->touched = false;
    h->verdict = V_NONE;
    h->n = 0;
    w->nheld_flows++;
    return h;
}

static void hold_free(struct q_worker *w, struct hold *h)
{
    uint32_t i = (uint32_t)(h - w->holds);
    uint32_t *p = &w->bucket[h->flow_id % w->nbucket];
    while (*p != i)
        p = &w->holds[*p].next;
    *p = h->next;
    if (h->older != Q_NONE)
        w->holds[h->older].newer = h->newer;
    else
        w->oldest = h->newer;
    if (h->newer != Q_NONE)
        w->holds[h->newer].older = h->older;
    else
        w->newest = h->older;
    h->next = w->free_head;
    w->free_head = i;
    w->nheld_flows--;
}

static void verdict(struct q_worker *w, uint32_t id, int v, bool with_mark, uint32_t mark)
{
    (void)capture_queue_verdict(w->cap, id, v, with_mark, mark); /* errors: the handle's */
    w->ctr_local[v == CAPTURE_QUEUE_DROP || (with_mark && mark == w->q->mark_block) ? C_DROPPED
                                                                                    : C_ACCEPTED]++;
}

/* Gives every held packet of h its verdict, in arrival order, and frees h. A block drops them
 * all, the last one repeated with the block mark so the connection is cut off in the kernel. */
static void hold_settle(struct q_worker *w, struct hold *h, bool block)
{
    for (uint16_t k = 0; k < h->n; k++) {
        if (block)
            verdict(w, h->ids[k], k + 1 == h->n ? CAPTURE_QUEUE_REPEAT : CAPTURE_QUEUE_DROP,
                    k + 1 == h->n, w->q->mark_block);
        else
            verdict(w, h->ids[k], CAPTURE_QUEUE_ACCEPT, false, 0);
    }
    if (!block)
        w->ctr_local[C_RELEASED] += h->n;
    hold_free(w, h);
}

static void touch(struct q_worker *w, struct hold *h, uint8_t v)
{
    if (v > h->verdict)
        h->verdict = v;
    if (!h->touched) {
        h->touched = true;
        w->touched[w->ntouched++] = (uint32_t)(h - w->holds);
    }
}

/* Settles the held flows decided while the last packet was handled. */
static void settle_touched(struct q_worker *w)
{
    for (uint32_t k = 0; k < w->ntouched; k++) {
        struct hold *h = &w->holds[w->touched[k]];
        h->touched = false;
        if (h->verdict != V_NONE)
            hold_settle(w, h, h->verdict == V_BLOCK);
    }
    w->ntouched = 0;
}

/* Refuses the flow of flow/id in the engine (engine_refuse(): a block by policy with method m,
 * resets to both ends, which close conntrack's entry; every later packet of the flow reports
 * blocked and gets the block mark) and drops what it holds. The refusal lives in the flow, not
 * in the hold table: before, a doomed flow's entry was just freed, the flow went back to being
 * held and watched afresh when its client sent on, and a few such rounds took a
 * one-byte-a-segment request past the rules' connbytes bound, where the kernel stops queueing
 * the connection and its name went by unjudged. */
static void refuse_flow(struct q_worker *w, const void *flow, uint64_t id, enum verdict_method m)
{
    if (engine_refuse(w->eng, flow, id, m))
        settle_touched(w); /* on_event settled its hold */
    struct hold *h = hold_find(w, id);
    if (h)
        hold_settle(w, h, true);
}

/* A held flow refused: queue.watch_limit = block and the doomed flow h sent nothing for
 * Q_DOOMED_KEEP watch_timeouts (METHOD_WATCH_LIMIT), or queue.incomplete = drop at the hold
 * bounds (METHOD_INCOMPLETE). */
static void hold_refuse(struct q_worker *w, struct hold *h, enum verdict_method m)
{
    refuse_flow(w, h->flow, h->flow_id, m);
}

/* A held flow past its bounds: judged on its address now (its decision settles it through
 * on_event), or, with queue.incomplete = drop, refused (a block with resets, method
 * incomplete); when the engine has nothing to judge, its packets are released. */
static void hold_expire(struct q_worker *w, struct hold *h)
{
    if (w->q->incomplete == SETTINGS_QUEUE_INCOMPLETE_DROP) {
        hold_refuse(w, h, METHOD_INCOMPLETE);
        return;
    }
    uint64_t id = h->flow_id;
    if (!engine_judge_now(w->eng, h->flow, id)) {
        hold_settle(w, h, false); /* the flow is gone or already passed */
        return;
    }
    settle_touched(w);
    h = hold_find(w, id);
    if (h)
        hold_settle(w, h, false);
}

/* queue.incomplete = watch: releases h's held packets in arrival order (the server acknowledges
 * them, so the client sends on) and keeps the flow in the table, watched: its next packets are
 * judged as they pass, like tap mode's, and the one that completes a blocked name is dropped. */
static void hold_watch(struct q_worker *w, struct hold *h)
{
    for (uint16_t k = 0; k < h->n; k++)
        verdict(w, h->ids[k], CAPTURE_QUEUE_ACCEPT, false, 0);
    w->ctr_local[C_RELEASED] += h->n;
    w->ctr_local[C_WATCHED]++;
    h->n = 0;
    h->have_seq = false; /* the server has them: the next dropped byte is its rcv_nxt */
    h->watched = true;
    h->watch_n = 0;
    h->since_ns = clock_mono_ns();
}

/* A watched flow past queue.watch_packets / queue.watch_timeout (why): logged before it is
 * judged on what arrived and its address. */
static void log_watch_limit(struct q_worker *w, const struct hold *h, const char *why)
{
    w->ctr_local[C_WATCH_LIMITS]++;
    if (w->q->d->log)
        log_write(w->q->d->log, LOG_LEVEL_WARN, "queue",
                  w->q->watch_block
                      ? "watched first request incomplete: connection blocked"
                      : "watched first request incomplete: judged on what arrived and its address",
                  LOG_KV(LOG_U("worker", w->idx), LOG_U("flow", h->flow_id),
                         LOG_U("packets", h->watch_n), LOG_S("limit", why)));
}

/* ---- decisions ------------------------------------------------------------------------------- */

static size_t build_response(struct q_worker *w, const struct engine_event *ev, const char *order)
{
    const struct blocknote *n = atomic_load_explicit(&w->q->notice, memory_order_acquire);
    return blocknote_response(n, ev, order, w->url, sizeof(w->url), w->resp, sizeof(w->resp));
}

/* Puts the frames of the outbox entries of one family (4 or 6) into w->mm and sends them with
 * sendmmsg(). Returns the entries (blocks) not wholly sent. */
static unsigned send_family(struct q_worker *w, int fam, int *err)
{
    unsigned n = 0, blocks = 0, first_unsent = 0;
    unsigned end_of[Q_OUTBOX]; /* message index after each entry of this family */
    for (unsigned b = 0; b < w->nout; b++) {
        const struct inject_frames *fr = &w->out[b];
        if (!fr->n || (fr->buf[fr->off[0]] >> 4) != fam)
            continue;
        for (size_t k = 0; k < fr->n && k < INJECT_MAX_FRAMES; k++) {
            const uint8_t *pkt = fr->buf + fr->off[k];
            memset(&w->mm[n], 0, sizeof(w->mm[n]));
            memset(&w->sa[n], 0, sizeof(w->sa[n]));
            if (fam == 4) {
                w->sa[n].in.sin_family = AF_INET;
                memcpy(&w->sa[n].in.sin_addr, pkt + 16, 4);
                w->mm[n].msg_hdr.msg_namelen = sizeof(w->sa[n].in);
            } else {
                w->sa[n].in6.sin6_family = AF_INET6;
                memcpy(&w->sa[n].in6.sin6_addr, pkt + 24, 16);
                w->mm[n].msg_hdr.msg_namelen = sizeof(w->sa[n].in6);
            }
            w->iov[n].iov_base = (void *)(uintptr_t)pkt;
            w->iov[n].iov_len = fr->len[k];
            w->mm[n].msg_hdr.msg_name = &w->sa[n];
            w->mm[n].msg_hdr.msg_iov = &w->iov[n];
            w->mm[n].msg_hdr.msg_iovlen = 1;
            n++;
        }
        end_of[blocks++] = n;
    }
    int fd = fam == 4 ? w->raw4 : w->raw6;
    for (unsigned off = 0; off < n;) {
        int sent = sendmmsg(fd, w->mm + off, n - off, 0);
        if (sent <= 0) {
            *err = sent < 0 ? errno : EIO;
            while (first_unsent < blocks && end_of[first_unsent] <= off)
                first_unsent++;
            return blocks - first_unsent;
        }
        off += (unsigned)sent;
    }
    return 0;
}

/* Sends the verdicts set so far, then the forged packets of the blocks decided since the last
 * call (bare IP packets, routed by the kernel), one sendmmsg() per family: the resets of every
 * block of a read cost one system call, and a packet accepted before a block reaches the server
 * before the block's reset. A block whose packets could not all be sent counts as an injection
 * error instead of an injection. */
static void send_outbox(struct q_worker *w)
{
    (void)capture_queue_flush(w->cap);
    if (!w->nout)
        return;
    int err = 0;
    unsigned failed = send_family(w, 4, &err) + send_family(w, 6, &err);
    if (failed) {
        w->ctr_local[C_INJECTED] -= failed;
        w->ctr_local[C_INJECT_ERRORS] += failed;
        if (w->q->d->log)
            log_write(w->q->d->log, LOG_LEVEL_WARN, "queue", "forged packets not sent",
                      LOG_KV(LOG_U("worker", w->idx), LOG_U("blocks", failed),
                             LOG_S("error", strerror(err))));
    }
    w->nout = 0;
}

/* Resets both ends of a blocked TCP flow (and sends the notice first for HTTP). The server never
 * got the held bytes: its rcv_nxt, srv_rcv_nxt, is where the client's side of the forgery
 * starts. The frames go to the outbox (send_outbox). Returns the frames planned or a negative
 * errno. */
static int enforce_tcp(struct q_worker *w, const struct engine_event *ev, uint32_t srv_rcv_nxt,
                       const char *order)
{
    size_t rlen = 0;
    if (ev->d.action == ACTION_REDIRECT || ev->d.action == ACTION_PAGE_451)
        rlen = build_response(w, ev, order);
    struct engine_event e2 = *ev;
    e2.cli_next_seq = srv_rcv_nxt;
    if (ev->pkt && ev->pkt_from_client && (ev->pkt->tcp_flags & TCPF_ACK))
        /* what the client expects from the server next, whatever of the server's side went by
         * in the kernel (a kept-alive HTTP connection's answers): where the notice starts */
        e2.srv_next_seq = ev->pkt->ack;
    else if (ev->pkt && !ev->pkt_from_client)
        /* a server segment that decided the block (an answer to client bytes never seen) is
         * dropped with the flow: the client's rcv_nxt is where it starts */
        e2.srv_next_seq = ev->pkt->seq;
    e2.link = DECODE_LINK_RAW; /* forged packets are bare IP, routed by the kernel */
    if (!e2.frame) {
        e2.frame = (const uint8_t *)w->url; /* not read for a bare-IP link */
        e2.frame_len = 0;
    }
    if (w->nout == Q_OUTBOX)
        send_outbox(w);
    struct inject_frames *fr = &w->out[w->nout];
    int n = inject_plan_block(&e2, (const uint8_t *)w->resp, rlen, Q_MSS, &w->ip_id, fr);
    if (n < 0)
        return n;
    w->nout++; /* sent by send_outbox() after this read's verdicts */
    return n;
}

static void log_decision(struct q_worker *w, const struct engine_event *ev, const char *order,
                         const char *result)
{
    char cli[64], srv[64], name[256] = "";
    decode_fmt_endpoint(ev->client, ev->ipver, ev->client_port, cli, sizeof(cli));
    decode_fmt_endpoint(ev->server, ev->ipver, ev->server_port, srv, sizeof(srv));
    if (ev->name)
        snprintf(name, sizeof(name), "%.*s", (int)(ev->name_len < 255 ? ev->name_len : 255),
                 ev->name);
    char pn[SUB_ID_MAX + 1];
    pseudo_id(w->q->d->pseudo, ev->d.sub, pn, sizeof(pn));
    log_block(w->q->d->log, "queue", "block",
              LOG_KV(LOG_U("worker", w->idx), LOG_U("flow", ev->flow_id), LOG_S("client", cli),
                     LOG_S("server", srv),
                     LOG_S("proto", ev->l4proto == IPPROTO_TCP ? "tcp" : "udp"),
                     LOG_S("app", verdict_app_name(ev->app)), LOG_S("name", ev->name ? name : NULL),
                     LOG_S("method", verdict_method_name(ev->d.method)),
                     LOG_S("action", verdict_action_name(ev->d.action)), LOG_S("order", order),
                     LOG_S("enforced", result), LOG_S("cause", verdict_cause_name(ev->d.cause)),
                     LOG_S("profile", ev->d.profile[0] ? ev->d.profile : NULL),
                     LOG_S("category", ev->d.category[0] ? ev->d.category : NULL),
                     LOG_S("subscriber", pn[0] ? pn : NULL)));
}

/* ---- connections passed before an order (queue.passed_names) -------------------------------- */

static void tuple_of(const struct engine_event *ev, struct ctnl_tuple *t)
{
    memset(t, 0, sizeof(*t));
    t->ipver = (uint8_t)ev->ipver;
    t->proto = (uint8_t)ev->l4proto;
    t->sport = ev->client_port;
    t->dport = ev->server_port;
    size_t n = ev->ipver == 6 ? 16 : 4;
    memcpy(t->src, ev->client, n);
    memcpy(t->dst, ev->server, n);
}

/* A TLS or QUIC decision: a pass on a name is noted (the connection will be forwarded under its
 * pass mark from now on), a block forgets what an earlier pass on the tuple noted. */
static void note_passed(struct queue_mode *q, const struct engine_event *ev)
{
    struct ctnl_tuple t;
    tuple_of(ev, &t);
    if (ev->d.verdict == VERDICT_BLOCK)
        passnames_del(q->pn, &t);
    else if (ev->name)
        passnames_add(q->pn, &t, ev->app, ev->ech, ev->name, ev->name_len);
}

static uint64_t pn_version(void *ctx)
{
    struct queue_mode *q = ctx;
    uint64_t tv = q->d->tariff ? tariff_version(q->d->tariff->tariff) : 0;
    return rsref_version(q->d->rules) * 1000003u + tv;
}

/* Decides a noted connection as a new one to the same name and server would be. Inside the
 * caller's read section. */
static void pn_decide(struct queue_mode *q, const struct ruleset *rs, const struct ctnl_tuple *t,
                      enum verdict_app app, bool ech, const char *name, size_t len,
                      struct inspect_result *res)
{
    struct inspect_flow fl;
    memset(&fl, 0, sizeof(fl));
    fl.udp = t->proto == IPPROTO_UDP;
    fl.ipver = t->ipver;
    fl.dst = t->dst;
    fl.src = t->src;
    fl.now = time(NULL);
    fl.tariff = q->d->tariff;
    struct verdict_policy vp = q->vp;
    vp.https_url = atomic_load_explicit(&q->notice, memory_order_acquire)->https_url;
    inspect_decide_kept(rs, &vp, &fl, app, ech, name, len, res);
}

static bool pn_judge(void *ctx, const struct ctnl_tuple *t, enum verdict_app app, bool ech,
                     const char *name, size_t len)
{
    struct queue_mode *q = ctx;
    static _Thread_local struct inspect_result res;
    rsref_read_lock();
    const struct ruleset *rs = rsref_get(q->d->rules);
    pn_decide(q, rs, t, app, ech, name, len, &res);
    /* a listed address: the kernel's table resets the connection itself (docs/queue.md), which
     * a changed mark would keep from it */
    bool block = res.d.verdict == VERDICT_BLOCK &&
                 !(q->kernel_cuts && verdict_ip_entry(rs, &q->vp, t->ipver, t->dst, NULL));
    rsref_read_unlock();
    return block;
}

/* A cut made: logged as a block (cut, enforced by the connection's mark) and counted as a hit of
 * the entry that blocks it now. */
static void pn_cut(void *ctx, const struct passnames_conn *c)
{
    struct queue_mode *q = ctx;
    static _Thread_local struct inspect_result res;
    rsref_read_lock();
    const struct ruleset *rs = rsref_get(q->d->rules);
    pn_decide(q, rs, &c->t, c->app, c->ech, c->name, c->len, &res);
    const char *order = NULL;
    if (rs && res.d.entry != RULESET_NO_ENTRY) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        hits_note(q->d->hits, 0, rs, res.d.entry,
                  (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
        order = ruleset_entry_order(rs, res.d.entry);
        if (order && !*order)
            order = NULL;
    }
    if (q->d->log) {
        char cli[64], srv[64], pn[SUB_ID_MAX + 1];
        decode_fmt_endpoint(c->t.src, c->t.ipver, c->t.sport, cli, sizeof(cli));
        decode_fmt_endpoint(c->t.dst, c->t.ipver, c->t.dport, srv, sizeof(srv));
        pseudo_id(q->d->pseudo, res.d.sub, pn, sizeof(pn));
        log_block(q->d->log, "queue", "block",
                  LOG_KV(LOG_S("client", cli), LOG_S("server", srv),
                         LOG_S("proto", c->t.proto == IPPROTO_TCP ? "tcp" : "udp"),
                         LOG_S("app", verdict_app_name(c->app)), LOG_S("name", c->name),
                         LOG_B("cut", true), LOG_S("method", verdict_method_name(res.d.method)),
                         LOG_S("order", order), LOG_S("enforced", "conntrack-mark"),
                         LOG_S("cause", verdict_cause_name(res.d.cause)),
                         LOG_S("profile", res.d.profile[0] ? res.d.profile : NULL),
                         LOG_S("category", res.d.category[0] ? res.d.category : NULL),
                         LOG_S("subscriber", pn[0] ? pn : NULL)));
    }
    rsref_read_unlock();
}

static void *pn_main(void *arg)
{
    struct queue_mode *q = arg;
    struct passnames_source src = {
        .version = pn_version,
        .judge = pn_judge,
        .on_cut = pn_cut,
        .ctx = q,
        .recheck_ms = q->d->tariff ? 60000 : 0,
        .gc_ms = 60000,
    };
    char err[256];
    rsref_thread_register();
    if (passnames_run(q->pn, &src, &q->pn_stop, err, sizeof(err)) < 0 && q->d->log)
        log_write(q->d->log, LOG_LEVEL_ERROR, "queue", err, NULL, 0);
    rsref_thread_unregister();
    return NULL;
}

static void on_event(void *ctx, const struct engine_event *ev)
{
    struct q_worker *w = ctx;
    if (ev->ech && (ev->app == APP_TLS || ev->app == APP_QUIC))
        hits_note_ech(w->q->d->hits, w->idx, ev->d.verdict == VERDICT_BLOCK);
    decisions_note_flow(w->q->d->decisions, w->idx, w->rs, &ev->d, ev->app, ev->name, ev->name_len,
                        ev->ipver, ev->server, ev->server_port);
    fbseen_note_flow(w->q->d->seen, w->idx, w->rs, ev->ipver, ev->server, ev->name, ev->name_len,
                     ev->ech);
    struct hold *h = hold_find(w, ev->flow_id);
    if (w->q->pn && (ev->app == APP_TLS || ev->app == APP_QUIC))
        note_passed(w->q, ev);
    if (ev->d.verdict != VERDICT_BLOCK) {
        if (h)
            touch(w, h, V_PASS);
        return;
    }
    if (h)
        touch(w, h, V_BLOCK);
    w->ctr_local[C_BLOCKS]++;
    tarcount_note_block(w->q->d->tarcount, w->idx, &ev->d, w->q->d->tariff);
    const char *order = NULL;
    if (w->rs && ev->d.entry != RULESET_NO_ENTRY) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        hits_note(w->q->d->hits, w->idx, w->rs, ev->d.entry,
                  (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
        order = ruleset_entry_order(w->rs, ev->d.entry);
        if (order && !*order)
            order = NULL;
    }
    if (ev->l4proto != IPPROTO_TCP) {
        log_decision(w, ev, order, "drop");
        return;
    }
    uint32_t rcv_nxt = ev->cli_next_seq;
    if (h && h->have_seq)
        rcv_nxt = h->first_seq;
    else if (ev->pkt && ev->pkt_from_client && ev->pkt->payload_len)
        rcv_nxt = ev->pkt->seq;
    int rc = enforce_tcp(w, ev, rcv_nxt, order);
    if (rc > 0) {
        w->ctr_local[C_INJECTED]++;
        log_decision(w, ev, order,
                     ev->d.action == ACTION_RESET ? "drop+reset" : "drop+notice+reset");
    } else {
        w->ctr_local[C_INJECT_ERRORS]++;
        log_decision(w, ev, order, rc == -EINVAL ? "drop (seq-unknown)" : "drop (send-failed)");
    }
}

/* ---- the packet path ------------------------------------------------------------------------- */

/* Holds packet id of fi's flow. Returns false when it cannot be held (bounds): the caller judges
 * the flow at once. */
static bool hold_packet(struct q_worker *w, const struct engine_frame_info *fi, uint32_t id)
{
    struct hold *h = hold_find(w, fi->flow_id);
    if (!h) {
        h = hold_new(w, fi);
        if (!h)
            return false;
    }
    if (h->n >= w->q->hold_packets)
        return false;
    if (!h->have_seq && fi->l4proto == IPPROTO_TCP) {
        h->first_seq = fi->seq;
        h->have_seq = true;
    }
    h->ids[h->n++] = id;
    h->last_ns = clock_mono_ns();
    w->ctr_local[C_HELD]++;
    return true;
}

/* Judges fi's flow now, on what arrived and its address, then gives packet id the outcome. */
static void judge_packet_now(struct q_worker *w, uint32_t id, const struct engine_frame_info *fi)
{
    (void)engine_judge_now(w->eng, fi->flow, fi->flow_id);
    settle_touched(w); /* on_event dropped or released what was held */
    struct engine_frame_info now;
    engine_frame_info(w->eng, &now); /* the same flow, decided now */
    struct hold *h = hold_find(w, fi->flow_id);
    if (h)
        hold_settle(w, h, now.blocked);
    verdict(w, id, CAPTURE_QUEUE_REPEAT, true, now.blocked ? w->q->mark_block : w->q->mark_pass);
}

/* Refuses fi's flow now by policy (refuse_flow(): engine_refuse(), method m, a block with
 * resets to both ends, which also close conntrack's entry), then gives packet id the block
 * mark. Before, these flows only got the block mark, no reset: conntrack's entry stayed open
 * under it (ESTABLISHED for days), and a later connection from the same port - a NAT reusing it
 * - had its SYN taken by conntrack as part of the old one and dropped under that mark, unjudged. */
static void refuse_packet_now(struct q_worker *w, uint32_t id, const struct engine_frame_info *fi,
                              enum verdict_method m)
{
    refuse_flow(w, fi->flow, fi->flow_id, m);
    verdict(w, id, CAPTURE_QUEUE_REPEAT, true, w->q->mark_block);
}

/* The verdict of the packet just handled, from what the engine made of it. */
static void packet_verdict(struct q_worker *w, uint32_t id, const struct engine_frame_info *fi)
{
    const struct queue_mode *q = w->q;
    if (fi->set_aside) {
        w->ctr_local[C_DECOYS]++;
        verdict(w, id, CAPTURE_QUEUE_DROP, false, 0);
        return;
    }
    if (fi->deferred) {
        /* no reassembly buffer free: dropped, so the client sends it again (never passed
         * unread, which a flood of held connections could otherwise force) */
        w->ctr_local[C_NO_BUFFER]++;
        verdict(w, id, CAPTURE_QUEUE_DROP, false, 0);
        return;
    }
    if (!fi->flow) {
        verdict(w, id, CAPTURE_QUEUE_ACCEPT, false, 0);
        return;
    }
    int quic = atomic_load_explicit(&q->quic, memory_order_relaxed);
    if (fi->l4proto == IPPROTO_UDP && quic != SETTINGS_QUIC_DROP_BLOCKED) {
        if (quic == SETTINGS_QUIC_PASS)
            verdict(w, id, CAPTURE_QUEUE_REPEAT, true, q->mark_pass);
        else
            verdict(w, id, fi->from_client ? CAPTURE_QUEUE_DROP : CAPTURE_QUEUE_ACCEPT, false, 0);
        return;
    }
    if (fi->blocked) {
        struct hold *h = hold_find(w, fi->flow_id);
        if (h)
            hold_settle(w, h, true);
        verdict(w, id, CAPTURE_QUEUE_REPEAT, true, q->mark_block);
        return;
    }
    struct hold *h = hold_find(w, fi->flow_id);
    if (!fi->decided && fi->from_client && fi->payload_len) {
        if (fi->not_mine && !(h && h->watched)) {
            /* neither TLS nor HTTP: another protocol (held, a client that waits for its
             * server's answer would wait out the hold bounds, resending all the while) or a
             * junk fake in front of a request. Released now and watched: the bytes that
             * follow are judged as they pass, every other view of the stream with them, and
             * the packet completing a blocked name is dropped as for any watched flow */
            if (!h)
                h = hold_new(w, fi);
            if (h) {
                w->ctr_local[C_NOT_MINE]++;
                hold_watch(w, h);
            }
        }
        if (h && h->watched) {
            /* judged already (not decided by it): on to the server, up to the watch bound */
            if (!h->doomed && ++h->watch_n <= q->watch_packets) {
                verdict(w, id, CAPTURE_QUEUE_ACCEPT, false, 0);
                return;
            }
            if (!h->doomed)
                log_watch_limit(w, h, "packets");
            if (q->watch_block) { /* no name after all that: the connection is refused */
                refuse_packet_now(w, id, fi, METHOD_WATCH_LIMIT);
                return;
            }
            judge_packet_now(w, id, fi);
            return;
        }
        if (hold_packet(w, fi, id))
            return;
        if (!h && w->q->no_room_drop) {
            /* no room in the hold table (queue.hold_flows flows held or watched): dropped, so
             * the client sends it again, instead of judging a first request cut across
             * segments on its first piece and its address - which a flood of incomplete
             * requests could otherwise force for everyone's connections */
            w->ctr_local[C_HOLD_TABLE_FULL]++;
            verdict(w, id, CAPTURE_QUEUE_DROP, false, 0);
            return;
        }
        /* past the bounds: watched on, or judged now, then this packet gets the outcome */
        w->ctr_local[C_HOLD_FULL]++;
        if (h && q->incomplete == SETTINGS_QUEUE_INCOMPLETE_WATCH) {
            hold_watch(w, h);
            h->watch_n = 1;
            verdict(w, id, CAPTURE_QUEUE_ACCEPT, false, 0);
            return;
        }
        if (q->incomplete == SETTINGS_QUEUE_INCOMPLETE_DROP) {
            refuse_packet_now(w, id, fi, METHOD_INCOMPLETE);
            return;
        }
        judge_packet_now(w, id, fi);
        return;
    }
    if (h && !fi->decided) {
        verdict(w, id, CAPTURE_QUEUE_ACCEPT, false, 0); /* an ACK or the server's side */
        return;
    }
    if (fi->decided && fi->done)
        verdict(w, id, CAPTURE_QUEUE_REPEAT, true, q->mark_pass);
    else if (fi->keepalive && fi->from_client)
        /* HTTP kept alive: each next request is judged, so the client's side stays queued,
         * the server's answers go by in the kernel (the rules), with no bound on either: a
         * bound a large download runs up would let the request after it through unjudged */
        verdict(w, id, CAPTURE_QUEUE_REPEAT, true, q->mark_watch);
    else
        verdict(w, id, CAPTURE_QUEUE_ACCEPT, false, 0);
}

/* Flows first seen after their SYN (it passed unjudged: the queue overflowed failing open, the
 * daemon restarted under the rules' bypass, conntrack entries were flushed): a warning at most
 * every 10 s per worker, with the flows since the last one. */
static void log_syn_unseen(struct q_worker *w)
{
    uint64_t n = w->ctr_local[C_SYN_UNSEEN];
    uint64_t now = clock_mono_ns();
    if (n == w->unseen_logged || now - w->unseen_logged_ns < 10000000000u)
        return;
    if (w->q->d->log)
        log_write(
            w->q->d->log, LOG_LEVEL_WARN, "queue",
            "flows first seen after their SYN (it passed unjudged: queue overflow, "
            "restart, conntrack flush)",
            LOG_KV(LOG_U("worker", w->idx), LOG_U("flows", n - w->unseen_logged),
                   LOG_U("blocked_total", w->ctr_local[C_SYN_UNSEEN_BLOCKED]),
                   LOG_S("policy",
                         w->q->unseen_syn == SETTINGS_QUEUE_UNSEEN_SYN_DROP ? "drop" : "judge")));
    w->unseen_logged = n;
    w->unseen_logged_ns = now;
}

/* Segments dropped for want of a hold-table entry or a reassembly buffer: a warning at most
 * every 10 s per worker, with the segments since the last one. */
static void log_no_room(struct q_worker *w)
{
    uint64_t n = w->ctr_local[C_NO_BUFFER] + w->ctr_local[C_HOLD_TABLE_FULL];
    uint64_t now = clock_mono_ns();
    if (n == w->room_logged || now - w->room_logged_ns < 10000000000u)
        return;
    if (w->q->d->log)
        log_write(w->q->d->log, LOG_LEVEL_WARN, "queue",
                  "client segments dropped: no room to hold them (sent again by the client)",
                  LOG_KV(LOG_U("worker", w->idx), LOG_U("segments", n - w->room_logged),
                         LOG_U("no_buffer_total", w->ctr_local[C_NO_BUFFER]),
                         LOG_U("hold_table_full_total", w->ctr_local[C_HOLD_TABLE_FULL]),
                         LOG_U("hold_flows", w->q->hold_flows)));
    w->room_logged = n;
    w->room_logged_ns = now;
}

/* Logs what a read of the kernel's queue rules found (v, msg) when it differs from the last
 * read's: an error for a stray queue, and for no rule feeding any worker once the daemon runs
 * (idle: nothing is judged; at start the rules may still be on their way), a warning for the
 * rest, and once the rules are right again, that they are. */
static void rules_say(struct queue_mode *q, int v, const char *msg, bool idle_is_error)
{
    enum log_level level = v == FEEDRULES_OK ? LOG_LEVEL_INFO
                           : v == FEEDRULES_ERROR || (idle_is_error && v == FEEDRULES_WARN)
                               ? LOG_LEVEL_ERROR
                               : LOG_LEVEL_WARN;
    /* the same finding said again at a higher level (idle past the start) is news too */
    uint64_t h = feedrules_fingerprint(v * 8 + (int)level, msg);
    uint64_t before = atomic_exchange(&q->rules_said, h);
    if (h == before || !q->d->log)
        return;
    if (v == FEEDRULES_OK)
        log_write(q->d->log, level, "queue", "the kernel's queue rules feed the workers",
                  LOG_KV(LOG_I("first_queue", q->first_queue), LOG_U("workers", q->n)));
    else
        log_write(q->d->log, level, "queue",
                  v < 0 ? "cannot read the kernel's queue rules" : "the kernel's queue rules",
                  LOG_KV(LOG_S("problem", msg)));
}

/* queue.rules_check at start (err set: refusing is possible) and at a reload (err NULL: the
 * findings are logged): 0, or -EINVAL with err when a rule feeds queues no worker reads and
 * the setting is refuse. */
static int q_rules_check(struct queue_mode *q, char *err, size_t errlen)
{
    if (q->rules_check == SETTINGS_QUEUE_RULES_OFF)
        return 0;
    char msg[1536];
    struct feedrules_counts k;
    int v = feedrules_check((uint16_t)q->first_queue, q->n, msg, sizeof(msg), &k);
    if (v == FEEDRULES_ERROR && q->rules_check == SETTINGS_QUEUE_RULES_REFUSE && err) {
        snprintf(err, errlen,
                 "queue.rules_check: %s Make the rules' queue range queue.num .. queue.num + "
                 "workers - 1 (or change queue.num / workers); queue.rules_check = warn starts "
                 "anyway",
                 msg);
        return -EINVAL;
    }
    rules_say(q, v, msg, !err && v >= 0 && k.unfed_queues == q->n);
    return 0;
}

/* Worker 0, about every queue.rules_check_interval: the rules read again (a firewall reload
 * may have flushed them, or loaded another range), the gauges queue.rules_stray and
 * queue.rules_unfed set, a change of finding logged. */
static void rules_watch(struct q_worker *w, uint64_t now)
{
    struct queue_mode *q = w->q;
    if (q->rules_check == SETTINGS_QUEUE_RULES_OFF || !q->rules_interval_ns ||
        now < w->rules_next_ns)
        return;
    w->rules_next_ns = now + q->rules_interval_ns;
    char msg[1536];
    struct feedrules_counts k;
    int v = feedrules_check((uint16_t)q->first_queue, q->n, msg, sizeof(msg), &k);
    if (v >= 0) {
        w->ctr_local[C_RULES_STRAY] = k.stray_rules;
        w->ctr_local[C_RULES_UNFED] = k.unfed_queues;
    }
    rules_say(q, v, msg, v >= 0 && k.unfed_queues == q->n);
}

static void publish_counters(struct q_worker *w)
{
    struct engine_stats es;
    struct capture_queue_stats qs;
    engine_get_stats(w->eng, &es);
    capture_queue_stats(w->cap, &qs);
    w->ctr_local[C_PACKETS] = qs.packets;
    w->ctr_local[C_ENOBUFS] = qs.enobufs;
    w->ctr_local[C_VERDICT_ERRORS] = qs.verdict_errors;
    w->ctr_local[C_FLOWS] = es.flows;
    w->ctr_local[C_SYN_UNSEEN] = es.syn_unseen;
    w->ctr_local[C_SYN_UNSEEN_BLOCKED] = es.syn_unseen_blocked;
    w->ctr_local[C_UNSEEN_BLOCKED] = es.unseen_blocked;
    w->ctr_local[C_CLIENT_LIMITED] = es.reasm_client_limited;
    w->ctr_local[C_QUIC_NEW_ATTEMPTS] = es.quic_new_attempts;
    if (w->idx == 0 && w->q->pn) {
        struct passnames_stats ps;
        passnames_get_stats(w->q->pn, &ps);
        w->ctr_local[C_PASSED_NOTED] = ps.noted;
        w->ctr_local[C_PASSED_CUT] = ps.cut;
        w->ctr_local[C_PASSED_FULL] = ps.full;
        w->ctr_local[C_PASSED_CLIENT_FULL] = ps.client_full;
        w->ctr_local[C_PASSED_LONG] = ps.long_names;
        w->ctr_local[C_PASSED_GONE] = ps.gone;
        w->ctr_local[C_PASSED_ERRORS] = ps.errors;
    }
    log_syn_unseen(w);
    log_no_room(w);
    if (w->idx == 0)
        rules_watch(w, clock_mono_ns());
    struct capture_queue_kstats ks;
    if (++w->ticks % 5 == 0 && capture_queue_kernel_stats(w->cap, &ks) == 0) {
        w->ctr_local[C_KERNEL_WAITING] = ks.waiting;
        w->ctr_local[C_KERNEL_DROPPED] = ks.dropped;
        w->ctr_local[C_KERNEL_USER_DROPPED] = ks.user_dropped;
        uint64_t now = clock_mono_ns();
        if (ks.waiting >= (uint64_t)w->q->maxlen * 9 / 10 &&
            now - w->full_logged_ns >= 10000000000u && w->q->d->log) {
            w->full_logged_ns = now;
            log_write(w->q->d->log, LOG_LEVEL_WARN, "queue", "queue nearly full",
                      LOG_KV(LOG_U("worker", w->idx), LOG_U("waiting", ks.waiting),
                             LOG_U("maxlen", w->q->maxlen),
                             LOG_S("when_full", w->q->fail_open ? "pass unjudged (fail-open)"
                                                                : "drop (fail-closed)")));
        }
    }
    for (unsigned k = 0; k < C_COUNT; k++)
        atomic_store_explicit(&w->ctr[k], w->ctr_local[k], memory_order_relaxed);
}

/* Inside a read section: picks up a newly published rule set. */
static void refresh_rules(struct q_worker *w)
{
    const struct ruleset *rs = rsref_get(w->q->d->rules);
    uint64_t v = rsref_version(w->q->d->rules);
    if (rs != w->rs || v != w->rs_ver) {
        engine_set_rules(w->eng, rs);
        w->rs = rs;
        w->rs_ver = v;
    }
}

static void expire_holds(struct q_worker *w, uint64_t now)
{
    const struct queue_mode *q = w->q;
    if (q->incomplete != SETTINGS_QUEUE_INCOMPLETE_WATCH) {
        while (w->oldest != Q_NONE) {
            struct hold *h = &w->holds[w->oldest];
            if (now - h->since_ns < q->hold_timeout_ns)
                break;
            w->ctr_local[C_HOLD_TIMEOUTS]++;
            hold_expire(w, h);
        }
        return;
    }
    /* watch: held flows past hold_timeout or stalled are released and watched, watched ones
     * past watch_timeout judged; the bounds differ per state, so every entry is looked at (at
     * most every Q_POLL_MS) */
    if (now < w->next_scan_ns)
        return;
    w->next_scan_ns = now + (uint64_t)Q_POLL_MS * 1000000u;
    for (uint32_t i = w->oldest; i != Q_NONE;) {
        struct hold *h = &w->holds[i];
        i = h->newer; /* h may be freed below */
        if (h->watched) {
            if (now - h->since_ns < (h->doomed ? Q_DOOMED_KEEP : 1) * q->watch_timeout_ns) {
            } else if (!q->watch_block) {
                log_watch_limit(w, h, "time");
                hold_expire(w, h);
            } else if (!h->doomed) { /* its next packet blocks the connection */
                log_watch_limit(w, h, "time");
                h->doomed = true;
                h->since_ns = now;
            } else { /* silent for Q_DOOMED_KEEP more watch_timeouts: refused */
                hold_refuse(w, h, METHOD_WATCH_LIMIT);
            }
        } else if (now - h->since_ns >= q->hold_timeout_ns) {
            w->ctr_local[C_HOLD_TIMEOUTS]++;
            hold_watch(w, h);
        } else if (h->n >= Q_STALL_MIN && now - h->last_ns >= Q_STALL_NS) {
            hold_watch(w, h);
        }
    }
}

static int q_run_worker(void *state, unsigned worker, const volatile sig_atomic_t *stop)
{
    struct queue_mode *q = state;
    if (worker >= q->n)
        return -EINVAL;
    struct q_worker *w = q->w[worker];
    char err[256];
    int ret = 0;
    uint64_t next_stats = clock_mono_ns() + Q_STATS_NS;
    struct pollfd pfd = { .fd = capture_queue_fd(w->cap), .events = POLLIN };

    /* the names' thread: made here, after the privileges were dropped, so that it inherits the
     * capabilities kept (CAP_NET_ADMIN, for conntrack) */
    if (worker == 0 && q->pn && !q->pn_started) {
        q->pn_stop = 0;
        q->pn_started = pthread_create(&q->pn_thread, NULL, pn_main, q) == 0;
        if (!q->pn_started && q->d->log)
            log_write(q->d->log, LOG_LEVEL_ERROR, "queue",
                      "cannot start the thread of queue.passed_names", NULL, 0);
    }
    rsref_thread_register();
    while (!*stop) {
        daemon_beat(q->d, worker);
        int rc = 0;
        rsref_read_lock();
        refresh_rules(w);
        for (unsigned i = 0; i < Q_BATCH; i++) {
            struct capture_frame fr;
            rc = capture_next(w->cap, &fr, err, sizeof(err));
            if (rc != 1)
                break;
            uint32_t id = capture_queue_id(w->cap);
            engine_frame(w->eng, DECODE_LINK_RAW, fr.ts_us, fr.data, fr.caplen);
            settle_touched(w);
            struct engine_frame_info fi;
            engine_frame_info(w->eng, &fi);
            packet_verdict(w, id, &fi);
            if (!capture_queue_more(w->cap))
                send_outbox(w); /* the read is handled: its verdicts, then its resets */
        }
        uint64_t now = clock_mono_ns();
        expire_holds(w, now);
        rsref_read_unlock();
        send_outbox(w); /* the rest of this section's verdicts and resets */
        if (rc < 0 && rc != -EAGAIN) {
            if (q->d->log)
                log_write(q->d->log, LOG_LEVEL_ERROR, "queue", err, NULL, 0);
            ret = rc;
            break;
        }
        if (now >= next_stats) {
            publish_counters(w);
            next_stats = now + Q_STATS_NS;
        }
        if (rc == -EAGAIN && poll(&pfd, 1, Q_POLL_MS) < 0 && errno != EINTR) {
            ret = -errno;
            break;
        }
    }
    /* whatever is still held goes on (a stopping filter fails open, like the rule's bypass) */
    while (w->oldest != Q_NONE)
        hold_settle(w, &w->holds[w->oldest], false);
    send_outbox(w);
    publish_counters(w);
    rsref_thread_unregister();
    if (worker == 0 && q->pn_started) {
        q->pn_stop = 1;
        pthread_join(q->pn_thread, NULL);
        q->pn_started = false;
    }
    return ret;
}

static void worker_free(struct q_worker *w)
{
    if (!w)
        return;
    engine_free(w->eng);
    capture_close(w->cap);
    if (w->raw4 >= 0)
        close(w->raw4);
    if (w->raw6 >= 0)
        close(w->raw6);
    free(w->holds);
    free(w->ids_pool);
    free(w->bucket);
    free(w->touched);
    free(w);
}

static void q_close(void *state)
{
    struct queue_mode *q = state;
    if (!q)
        return;
    for (unsigned i = 0; i < q->n; i++)
        worker_free(q->w[i]);
    free(q->w);
    blocknote_free_chain(atomic_load(&q->notice));
    passnames_free(q->pn);
    free(q);
}

/* The per-worker hold table: hold_flows entries of hold_packets ids each, all allocated here. */
static int holds_alloc(struct q_worker *w)
{
    const struct queue_mode *q = w->q;
    w->holds = calloc(q->hold_flows, sizeof(*w->holds));
    w->ids_pool = calloc((size_t)q->hold_flows * q->hold_packets, sizeof(*w->ids_pool));
    w->nbucket = q->hold_flows * 2 + 1;
    w->bucket = malloc(w->nbucket * sizeof(*w->bucket));
    w->touched = calloc(q->hold_flows, sizeof(*w->touched));
    if (!w->holds || !w->ids_pool || !w->bucket || !w->touched)
        return -ENOMEM;
    for (uint32_t b = 0; b < w->nbucket; b++)
        w->bucket[b] = Q_NONE;
    for (uint32_t i = 0; i < q->hold_flows; i++) {
        w->holds[i].ids = w->ids_pool + (size_t)i * q->hold_packets;
        w->holds[i].next = i + 1 < q->hold_flows ? i + 1 : Q_NONE;
    }
    w->free_head = 0;
    w->oldest = w->newest = Q_NONE;
    return 0;
}

static int q_open(const struct settings *cfg, struct daemon_ctx *d, void **state, char *err,
                  size_t errlen)
{
    *state = NULL;
    int rc = -ENOMEM;
    struct queue_mode *q = calloc(1, sizeof(*q));
    if (!q)
        goto nomem;
    q->d = d;
    q->n = d->workers ? d->workers : 1;
    q->first_queue = cfg->queue_num;
    q->rules_check = cfg->queue_rules_check;
    q->rules_interval_ns = cfg->queue_rules_check_interval * 1000000u;
    q->hold_packets = (uint32_t)cfg->queue_hold_packets;
    q->hold_flows = (uint32_t)cfg->queue_hold_flows;
    q->hold_timeout_ns = cfg->queue_hold_timeout * 1000000u;
    q->incomplete = cfg->queue_incomplete;
    q->no_room_drop = cfg->queue_no_room == SETTINGS_QUEUE_NO_ROOM_DROP;
    q->watch_block = cfg->queue_watch_limit == SETTINGS_QUEUE_WATCH_BLOCK;
    q->unseen_syn = cfg->queue_unseen_syn;
    q->watch_packets = (uint32_t)cfg->queue_watch_packets;
    q->watch_timeout_ns = cfg->queue_watch_timeout * 1000000u;
    atomic_init(&q->quic, cfg->inline_quic);
    q->mark_pass = (uint32_t)cfg->queue_mark_pass;
    q->mark_block = (uint32_t)cfg->queue_mark_block;
    q->mark_watch = q->mark_pass | q->mark_block;
    q->maxlen = (uint32_t)cfg->queue_maxlen;
    q->fail_open = cfg->queue_fail == SETTINGS_QUEUE_FAIL_OPEN;
    struct blocknote *nt = blocknote_new(cfg);
    if (!nt)
        goto nomem;
    atomic_init(&q->notice, nt);
    q->w = calloc(q->n, sizeof(*q->w));
    if (!q->w)
        goto nomem;
    if (cfg->queue_num + (int64_t)q->n - 1 > 65535) {
        snprintf(err, errlen, "queue: queue.num %" PRId64 " + %u workers passes queue 65535",
                 cfg->queue_num, q->n);
        rc = -EINVAL;
        goto fail;
    }
    rc = q_rules_check(q, err, errlen);
    if (rc < 0)
        goto fail;

    struct engine_config ec;
    blocknote_engine_config(cfg, &ec);
    ec.synack_unseen = true; /* deploy/iptables-queue.rules keep the handshake in the kernel */
    ec.drop_short_initials = true;        /* what a server must drop never reaches it */
    ec.defer_no_buffer = q->no_room_drop; /* a segment that finds no buffer is dropped */
    /* a server's answer to client bytes no worker saw: they went by in the kernel unjudged (a
     * queue full with queue.fail = open, or no worker bound yet with the rules' bypass flag) */
    ec.unseen_blocks = true;
    ec.udp_answer_blocks = true; /* its client datagrams are held until the flow is decided */
    ec.reasm_per_client = (uint32_t)cfg->queue_client_buffers;
    ec.h2c_conns = (size_t)cfg->h2c_states;
    ec.client_prefix6 = (uint8_t)cfg->client_prefix6;
    ec.unseen_syn = cfg->queue_unseen_syn == SETTINGS_QUEUE_UNSEEN_SYN_DROP
                        ? ENGINE_UNSEEN_SYN_DROP
                        : ENGINE_UNSEEN_SYN_JUDGE;
    ec.tariff = d->tariff;
    ec.policy.notice_url = nt->cfg.url;
    ec.policy.nat64 = cfg->ip_nat64;
    q->vp = ec.policy;
    q->kernel_cuts = settings_ip_kernel_drop(cfg);
    if (cfg->queue_passed_names > 0) {
        q->pn = passnames_new((uint32_t)cfg->queue_passed_names, q->mark_pass, q->mark_block, err,
                              errlen);
        if (!q->pn) {
            rc = -ENOMEM;
            goto fail;
        }
        if (q->kernel_cuts) /* the kernel's table resets what is marked so */
            passnames_set_cut_mark(q->pn, (uint32_t)cfg->queue_mark_cut);
        if (passnames_set_client_share(q->pn, (uint32_t)cfg->queue_passed_names_per_client,
                                       (unsigned)cfg->client_prefix6, err, errlen) < 0) {
            rc = -ENOMEM;
            goto fail;
        }
    }

    for (unsigned i = 0; i < q->n; i++) {
        struct q_worker *w = calloc(1, sizeof(*w));
        if (!w)
            goto nomem;
        q->w[i] = w;
        w->q = q;
        w->idx = i;
        w->raw4 = w->raw6 = -1;
        struct capture_queue_config qc = {
            .num = (uint16_t)(cfg->queue_num + i),
            .maxlen = (uint32_t)cfg->queue_maxlen,
            .fail_open = cfg->queue_fail == SETTINGS_QUEUE_FAIL_OPEN,
            .rcvbuf = 8u << 20,
        };
        w->cap = capture_queue_open(&qc, err, errlen);
        if (!w->cap) {
            rc = -EIO;
            goto fail;
        }
        w->raw4 = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
        w->raw6 = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
        if (w->raw4 < 0 || w->raw6 < 0) {
            rc = -errno;
            snprintf(err, errlen, "queue: worker %u: raw IP socket failed: %s", i, strerror(errno));
            goto fail;
        }
        if (holds_alloc(w) < 0)
            goto nomem;
        w->eng = engine_new(&ec, NULL, on_event, w);
        if (!w->eng) {
            snprintf(err, errlen, "queue: worker %u: out of memory for the engine (flows.max %zu)",
                     i, ec.max_flows);
            rc = -ENOMEM;
            goto fail;
        }
        if (d->counters_register) {
            rc = d->counters_register(d, i, q_ctr_names, w->ctr, C_COUNT);
            if (rc < 0) {
                snprintf(err, errlen, "queue: worker %u: cannot register counters", i);
                goto fail;
            }
        }
    }
    if (d->log)
        log_write(d->log, LOG_LEVEL_INFO, "queue", "opened",
                  LOG_KV(LOG_I("first_queue", cfg->queue_num), LOG_U("workers", q->n),
                         LOG_B("fail_open", cfg->queue_fail == SETTINGS_QUEUE_FAIL_OPEN),
                         LOG_U("hold_packets", q->hold_packets),
                         LOG_U("hold_timeout_ms", cfg->queue_hold_timeout),
                         LOG_S("notice_url", nt->cfg.url)));
    *state = q;
    return 0;

nomem:
    snprintf(err, errlen, "queue: out of memory");
    rc = -ENOMEM;
fail:
    q_close(q);
    return rc;
}

/* notice.* are read per block, inline.quic per packet; the other keys queue mode reads need a
 * restart (settings.c marks them so). */
static int q_reload(void *state, const struct settings *cfg)
{
    struct queue_mode *q = state;
    /* the rules may have been loaded again since the start (queue.num and workers keep their
     * running values: restart keys) */
    (void)q_rules_check(q, NULL, 0);
    atomic_store_explicit(&q->quic, cfg->inline_quic, memory_order_relaxed);
    struct blocknote *n = blocknote_new(cfg);
    if (!n)
        return -ENOMEM;
    n->older = atomic_load(&q->notice);
    atomic_store_explicit(&q->notice, n, memory_order_release);
    return 0;
}

const struct mode_ops mode_queue_ops = {
    .name = "queue",
    .open = q_open,
    .run_worker = q_run_worker,
    .reload = q_reload,
    .close = q_close,
};
