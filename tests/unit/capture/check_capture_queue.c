/* check_capture_queue.c - Check suite for the NFQUEUE message parser (proxy/capture/capture_queue.c).
 *
 * Messages are written here byte by byte as the kernel lays them out (nlmsghdr, nfgenmsg,
 * attributes padded to 4 bytes, the packet header's id in network order): a packet with its
 * payload, mark and capture length; messages of other types; every kind of broken length. Also
 * the reader of /proc/net/netfilter/nfnetlink_queue. Verdict messages as the batch buffer holds
 * them (several in one buffer, each framed on its own) and the kernel's error answers; live (root,
 * in a network namespace of its own): two verdicts for packets the kernel does not hold leave in
 * one sendto() and come back as two error answers, counted. The path with traffic (holding,
 * verdicts on real packets) is tests/scripts/queue.sh's. */
#include <check.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <stdint.h>
#include <string.h>

#include "proxy/capture/capture_queue.h"
#include "tests/lib/needroot.h"

struct msgb {
    uint8_t b[512];
    size_t len;
};

static void put16h(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void put32h(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void begin(struct msgb *m, uint16_t type)
{
    memset(m, 0, sizeof(*m));
    put16h(m->b + 4, type);
    m->len = 20; /* nlmsghdr + nfgenmsg */
}

static void attr(struct msgb *m, uint16_t type, const void *d, size_t n)
{
    put16h(m->b + m->len, (uint16_t)(4 + n));
    put16h(m->b + m->len + 2, type);
    memcpy(m->b + m->len + 4, d, n);
    m->len += (4 + n + 3) & ~(size_t)3;
}

static void end(struct msgb *m)
{
    put32h(m->b, (uint32_t)m->len);
}

static const uint16_t PKT = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;

static void packet_hdr(struct msgb *m, uint32_t id)
{
    uint8_t h[8] = {
        (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id, 0x86, 0xdd, 2, 0
    };
    attr(m, NFQA_PACKET_HDR, h, 7);
}

START_TEST(packet_message)
{
    struct msgb m;
    begin(&m, PKT);
    packet_hdr(&m, 0x01020304);
    uint8_t mark[4] = { 0, 1, 0, 0 }, cap[4] = { 0, 0, 0x05, 0xdc };
    attr(&m, NFQA_MARK, mark, 4);
    const uint8_t ip[] = { 0x60, 0, 0, 0, 0, 0, 6, 64, 1, 2, 3 };
    attr(&m, NFQA_PAYLOAD, ip, sizeof(ip));
    attr(&m, NFQA_CAP_LEN, cap, 4);
    end(&m);
    struct capture_queue_msg q;
    ck_assert_int_eq(capture_queue_parse(m.b, m.len, &q), 1);
    ck_assert_uint_eq(q.id, 0x01020304);
    ck_assert_uint_eq(q.hw_protocol, 0x86dd);
    ck_assert(q.has_mark);
    ck_assert_uint_eq(q.mark, 0x10000);
    ck_assert_uint_eq(q.len, sizeof(ip));
    ck_assert_mem_eq(q.payload, ip, sizeof(ip));
    ck_assert_uint_eq(q.wirelen, 1500);
    /* a second message after it in the buffer is not read */
    ck_assert_int_eq(capture_queue_parse(m.b, m.len + 40, &q), 1);
    ck_assert_uint_eq(q.len, sizeof(ip));
}
END_TEST

START_TEST(no_payload_no_mark)
{
    struct msgb m;
    begin(&m, PKT);
    packet_hdr(&m, 7);
    end(&m);
    struct capture_queue_msg q;
    ck_assert_int_eq(capture_queue_parse(m.b, m.len, &q), 1);
    ck_assert_uint_eq(q.id, 7);
    ck_assert_uint_eq(q.len, 0);
    ck_assert(!q.has_mark);
    ck_assert_ptr_eq(q.payload, m.b + m.len);
}
END_TEST

START_TEST(other_messages)
{
    struct msgb m;
    begin(&m, 2); /* NLMSG_ERROR (an ack) */
    uint8_t zero[20] = { 0 };
    attr(&m, 0, zero, sizeof(zero));
    end(&m);
    struct capture_queue_msg q;
    ck_assert_int_eq(capture_queue_parse(m.b, m.len, &q), 0);
    begin(&m, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG);
    end(&m);
    ck_assert_int_eq(capture_queue_parse(m.b, m.len, &q), 0);
}
END_TEST

START_TEST(broken_lengths)
{
    struct msgb m;
    struct capture_queue_msg q;
    begin(&m, PKT);
    packet_hdr(&m, 1);
    const uint8_t ip[40] = { 0x45 };
    attr(&m, NFQA_PAYLOAD, ip, sizeof(ip));
    end(&m);
    /* shorter than a header, or than the message says */
    ck_assert_int_eq(capture_queue_parse(m.b, 15, &q), -EBADMSG);
    ck_assert_int_eq(capture_queue_parse(m.b, m.len - 1, &q), -EBADMSG);
    /* message length below its headers */
    struct msgb t = m;
    put32h(t.b, 12);
    ck_assert_int_eq(capture_queue_parse(t.b, t.len, &q), -EBADMSG);
    put32h(t.b, 18);
    ck_assert_int_eq(capture_queue_parse(t.b, t.len, &q), -EBADMSG);
    /* an attribute running past the message */
    t = m;
    put16h(t.b + 20 + 12, 200);
    ck_assert_int_eq(capture_queue_parse(t.b, t.len, &q), -EBADMSG);
    /* an attribute shorter than its own header */
    t = m;
    put16h(t.b + 20, 3);
    ck_assert_int_eq(capture_queue_parse(t.b, t.len, &q), -EBADMSG);
    /* a packet header too short, a mark too short */
    begin(&t, PKT);
    attr(&t, NFQA_PACKET_HDR, ip, 6);
    end(&t);
    ck_assert_int_eq(capture_queue_parse(t.b, t.len, &q), -EBADMSG);
    begin(&t, PKT);
    packet_hdr(&t, 1);
    attr(&t, NFQA_MARK, ip, 2);
    end(&t);
    ck_assert_int_eq(capture_queue_parse(t.b, t.len, &q), -EBADMSG);
    /* no packet header: nothing to give a verdict to */
    begin(&t, PKT);
    attr(&t, NFQA_PAYLOAD, ip, sizeof(ip));
    end(&t);
    ck_assert_int_eq(capture_queue_parse(t.b, t.len, &q), -EBADMSG);
}
END_TEST

/* Every prefix of a valid message is refused or read inside the prefix. */
START_TEST(prefixes)
{
    struct msgb m;
    begin(&m, PKT);
    packet_hdr(&m, 9);
    const uint8_t ip[60] = { 0x45 };
    attr(&m, NFQA_PAYLOAD, ip, sizeof(ip));
    end(&m);
    for (size_t n = 0; n < m.len; n++) {
        uint8_t cut[512];
        memcpy(cut, m.b, n);
        struct capture_queue_msg q;
        ck_assert_int_eq(capture_queue_parse(cut, n, &q), -EBADMSG);
    }
}
END_TEST

/* /proc/net/netfilter/nfnetlink_queue as the kernel prints it: the queue's own line is read,
 * others and malformed lines are passed over. */
START_TEST(proc_lines)
{
    static const char text[] = "    0  12345     7 2 65535     0     0       99  1\n"
                               "    1  12346  8190 2 65535    42     3   123456  1\n"
                               "garbage line\n"
                               "    5  1\n";
    struct capture_queue_kstats ks;
    memset(&ks, 0, sizeof(ks));
    ck_assert_int_eq(capture_queue_parse_proc(text, sizeof(text) - 1, 1, &ks), 1);
    ck_assert_uint_eq(ks.waiting, 8190);
    ck_assert_uint_eq(ks.dropped, 42);
    ck_assert_uint_eq(ks.user_dropped, 3);
    ck_assert_int_eq(capture_queue_parse_proc(text, sizeof(text) - 1, 0, &ks), 1);
    ck_assert_uint_eq(ks.waiting, 7);
    ck_assert_int_eq(capture_queue_parse_proc(text, sizeof(text) - 1, 5, &ks), 0); /* cut short */
    ck_assert_int_eq(capture_queue_parse_proc(text, sizeof(text) - 1, 2, &ks), 0);
    ck_assert_int_eq(capture_queue_parse_proc("", 0, 0, &ks), 0);
    /* a last line without its newline */
    static const char tail[] = "    3  1 4 2 65535 5 6 7 1";
    ck_assert_int_eq(capture_queue_parse_proc(tail, sizeof(tail) - 1, 3, &ks), 1);
    ck_assert_uint_eq(ks.waiting, 4);
    ck_assert_uint_eq(ks.user_dropped, 6);
}
END_TEST

/* Reads one verdict message at p: its length, and checks its framing (type, flags, queue number,
 * the verdict header's id and verdict, the mark when one is expected). */
static size_t check_verdict_msg(const uint8_t *p, size_t left, uint16_t num, uint32_t id,
                                uint32_t verdict, bool with_mark, uint32_t mark)
{
    struct nlmsghdr h;
    ck_assert_uint_ge(left, sizeof(h) + 4);
    memcpy(&h, p, sizeof(h));
    ck_assert_uint_le(h.nlmsg_len, left);
    ck_assert_uint_eq(h.nlmsg_type, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT);
    ck_assert_uint_eq(h.nlmsg_flags, NLM_F_REQUEST); /* no ack asked: errors come back alone */
    uint16_t res_id;
    memcpy(&res_id, p + 16 + 2, 2);
    ck_assert_uint_eq(ntohs(res_id), num);
    bool seen_hdr = false, seen_mark = false;
    for (size_t off = 20; off + 4 <= h.nlmsg_len;) {
        uint16_t alen, atype;
        memcpy(&alen, p + off, 2);
        memcpy(&atype, p + off + 2, 2);
        ck_assert_uint_ge(alen, 4);
        ck_assert_uint_le(off + alen, h.nlmsg_len);
        uint32_t a, b;
        if ((atype & NLA_TYPE_MASK) == NFQA_VERDICT_HDR) {
            ck_assert_uint_eq(alen, 12);
            memcpy(&a, p + off + 4, 4);
            memcpy(&b, p + off + 8, 4);
            ck_assert_uint_eq(ntohl(a), verdict);
            ck_assert_uint_eq(ntohl(b), id);
            seen_hdr = true;
        } else if ((atype & NLA_TYPE_MASK) == NFQA_MARK) {
            memcpy(&a, p + off + 4, 4);
            ck_assert_uint_eq(ntohl(a), mark);
            seen_mark = true;
        }
        off += ((size_t)alen + 3) & ~(size_t)3;
    }
    ck_assert(seen_hdr);
    ck_assert(seen_mark == with_mark);
    return NLMSG_ALIGN(h.nlmsg_len);
}

/* Several verdicts in one buffer, as one sendto() carries them: each a whole message, in the
 * order they were put, the next starting where the last one's padded length ends. */
START_TEST(verdict_batch)
{
    _Alignas(4) uint8_t buf[4096];
    size_t len = 0, n;
    n = capture_queue_put_verdict(buf, sizeof(buf), 3, 100, NF_ACCEPT, false, 0);
    ck_assert_uint_gt(n, 0);
    len += n;
    n = capture_queue_put_verdict(buf + len, sizeof(buf) - len, 3, 101, NF_DROP, false, 0);
    ck_assert_uint_gt(n, 0);
    len += n;
    n = capture_queue_put_verdict(buf + len, sizeof(buf) - len, 3, 0xfffffffeu, NF_REPEAT, true,
                                  0x20000);
    ck_assert_uint_gt(n, 0);
    len += n;
    size_t off = 0;
    off += check_verdict_msg(buf + off, len - off, 3, 100, NF_ACCEPT, false, 0);
    off += check_verdict_msg(buf + off, len - off, 3, 101, NF_DROP, false, 0);
    off += check_verdict_msg(buf + off, len - off, 3, 0xfffffffeu, NF_REPEAT, true, 0x20000);
    ck_assert_uint_eq(off, len);
    ck_assert_uint_eq(len % 4, 0);
    /* no room for a whole message, or a misaligned place: nothing written */
    ck_assert_uint_eq(capture_queue_put_verdict(buf, 255, 3, 1, NF_ACCEPT, false, 0), 0);
    ck_assert_uint_eq(capture_queue_put_verdict(buf + 2, 1024, 3, 1, NF_ACCEPT, false, 0), 0);
}
END_TEST

/* The kernel's answer to a verdict it refused (an unknown id): NLMSG_ERROR with the errno; an
 * acknowledgement (error 0), a packet message and a short one are not errors. */
START_TEST(error_answers)
{
    struct msgb m;
    begin(&m, NLMSG_ERROR);
    m.len = 16;
    int32_t e = -ENOENT;
    memcpy(m.b + 16, &e, 4);
    memset(m.b + 20, 0, 16); /* the refused message's header */
    m.len = 36;
    end(&m);
    ck_assert_int_eq(capture_queue_parse_error(m.b, m.len), -ENOENT);
    struct capture_queue_msg q;
    ck_assert_int_eq(capture_queue_parse(m.b, m.len, &q), 0); /* not a packet */
    ck_assert_int_eq(capture_queue_parse_error(m.b, 19), 0);
    ck_assert_int_eq(capture_queue_parse_error(m.b, m.len - 1), 0); /* longer than the buffer */
    e = 0;
    memcpy(m.b + 16, &e, 4);
    ck_assert_int_eq(capture_queue_parse_error(m.b, m.len), 0);
    begin(&m, PKT);
    packet_hdr(&m, 5);
    end(&m);
    ck_assert_int_eq(capture_queue_parse_error(m.b, m.len), 0);
}
END_TEST

/* Live: a queue bound in a new network namespace (the test runs in a child process of its
 * own); the kernel holds no packet, so both verdicts of the one buffer are refused, each with
 * its own error answer - the kernel read the second message of the buffer too. */
START_TEST(live_batch_errors)
{
    NEEDROOT("check_capture_queue: the live queue test");
    ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
    char err[256] = "";
    struct capture_queue_config cfg = { .num = 7, .maxlen = 16, .fail_open = true };
    struct capture *c = capture_queue_open(&cfg, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(capture_queue_verdict(c, 12345, CAPTURE_QUEUE_ACCEPT, false, 0), 0);
    ck_assert_int_eq(capture_queue_verdict(c, 12346, CAPTURE_QUEUE_REPEAT, true, 0x20000), 0);
    struct capture_queue_stats st;
    capture_queue_stats(c, &st);
    ck_assert_uint_eq(st.verdicts, 2);
    ck_assert_uint_eq(st.flushes, 0); /* nothing sent yet */
    ck_assert_int_eq(capture_queue_flush(c), 0);
    ck_assert_int_eq(capture_queue_flush(c), 0); /* nothing left: no second sendto() */
    capture_queue_stats(c, &st);
    ck_assert_uint_eq(st.flushes, 1);
    for (int i = 0; i < 50 && st.verdict_errors < 2; i++) {
        struct pollfd pfd = { .fd = capture_queue_fd(c), .events = POLLIN };
        (void)poll(&pfd, 1, 20);
        struct capture_frame fr;
        ck_assert_int_eq(capture_next(c, &fr, err, sizeof(err)), -EAGAIN); /* no packet */
        capture_queue_stats(c, &st);
    }
    ck_assert_uint_eq(st.verdict_errors, 2);
    ck_assert_uint_eq(st.packets, 0);
    ck_assert_uint_eq(st.bad_messages, 0);
    capture_close(c);
}
END_TEST

static Suite *capture_queue_suite(void)
{
    Suite *s = suite_create("capture_queue");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, packet_message);
    tcase_add_test(tc, no_payload_no_mark);
    tcase_add_test(tc, other_messages);
    tcase_add_test(tc, broken_lengths);
    tcase_add_test(tc, prefixes);
    tcase_add_test(tc, proc_lines);
    tcase_add_test(tc, verdict_batch);
    tcase_add_test(tc, error_answers);
    suite_add_tcase(s, tc);
    TCase *live = tcase_create("live");
    tcase_add_test(live, live_batch_errors);
    suite_add_tcase(s, live);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(capture_queue_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
