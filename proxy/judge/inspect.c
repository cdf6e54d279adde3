/* inspect.c - protocol detection, request parsing and the decision on one request, shared by
 * every mode (see inspect.h). */
#include <string.h>

#include "proxy/dissect/h2c.h"
#include "proxy/dissect/http.h"
#include "proxy/judge/inspect.h"
#include "proxy/dissect/tls.h"

enum dstatus inspect_detect(const uint8_t *buf, size_t len, enum verdict_app *app)
{
    if (len == 0)
        return DS_NEED_MORE;
    if (buf[0] == 0x16) {
        *app = APP_TLS;
        return DS_OK;
    }
    if (http_is_h2_preface(buf, len)) {
        if (len < 24)
            return DS_NEED_MORE;
        *app = APP_H2C;
        return DS_OK;
    }
    if (http_req_not_mine(buf, len))
        return DS_NOT_MINE;
    *app = APP_HTTP;
    return DS_OK;
}

static enum dstatus parse_tls(const uint8_t *buf, size_t len, uint8_t *scratch, size_t cap,
                              struct inspect_request *rq)
{
    struct tls_hello h;
    size_t off = 0;
    enum dstatus st = tls_hello_parse_early(buf, len, scratch, cap, &h, &off);
    if (st == DS_MALFORMED) {
        struct span names[2];
        size_t n = tls_hello_scan_names(buf, len, scratch, cap, names, 2);
        if (n == 0)
            return st;
        rq->lenient = true;
        rq->name = names[0];
        if (n > 1)
            rq->name2 = names[1];
        return DS_OK;
    }
    if (st != DS_OK)
        return st;
    rq->partial = h.partial;
    if (h.has_sni)
        rq->name = h.sni;
    rq->alpn = h.alpn;
    rq->ech = h.has_ech || h.has_esni;
    rq->head_len = h.consumed;
    return DS_OK;
}

/* The request-target's authority wins over Host (RFC 9112 3.2.2, EVASION H12); Host is then a
 * second candidate, as is a second Host header (H13). */
static enum dstatus parse_http(const uint8_t *buf, size_t len, struct inspect_request *rq)
{
    struct http_req r;
    size_t off = 0;
    enum dstatus st = http_req_parse_early(buf, len, &r, &off);
    if (st == DS_MALFORMED) {
        struct span names[2];
        size_t n = http_scan_hosts(buf, len, names, 2);
        if (n == 0)
            return st;
        rq->lenient = true;
        rq->has_path = false;
        rq->name = names[0];
        if (n > 1)
            rq->name2 = names[1];
        return DS_OK;
    }
    if (st != DS_OK)
        return st;
    rq->partial = r.partial;
    rq->has_path = true;
    if (r.abs_authority.len) {
        rq->name = r.abs_authority;
        rq->path = r.abs_path;
        rq->name2 = r.host;
    } else if (r.method.len == 7 && memcmp(r.method.p, "CONNECT", 7) == 0) {
        rq->name = r.target;
        rq->name2 = r.host;
        rq->has_path = false;
    } else {
        rq->name = r.host;
        rq->name2 = r.host2;
        rq->path = r.target;
    }
    if (rq->name2.len == rq->name.len &&
        (rq->name.len == 0 || memcmp(rq->name2.p, rq->name.p, rq->name.len) == 0))
        rq->name2 = (struct span){ NULL, 0 };
    rq->head_len = r.head_len;
    rq->body_len = r.content_length;
    rq->chunked = r.chunked;
    rq->redetect = r.upgrade || (r.method.len == 7 && memcmp(r.method.p, "CONNECT", 7) == 0);
    rq->body_unknown = r.chunked || r.upgrade_h2c;
    return DS_OK;
}

static enum dstatus parse_h2c(const uint8_t *buf, size_t len, uint8_t *scratch, size_t cap,
                              struct inspect_request *rq)
{
    struct h2c_request hr;
    size_t off = 0;
    enum dstatus st = h2c_request_parse(buf, len, scratch, cap, &hr, &off);
    if (st != DS_OK)
        return st;
    rq->name = hr.authority;
    rq->path = hr.path;
    rq->has_path = true;
    rq->head_len = len;
    rq->body_unknown = true; /* one request per h2c connection is judged */
    return DS_OK;
}

enum dstatus inspect_parse(enum verdict_app app, const uint8_t *buf, size_t len, uint8_t *scratch,
                           size_t scratch_cap, struct inspect_request *rq)
{
    memset(rq, 0, sizeof(*rq));
    rq->app = app;
    switch (app) {
    case APP_TLS: return parse_tls(buf, len, scratch, scratch_cap, rq);
    case APP_HTTP: return parse_http(buf, len, rq);
    case APP_H2C: return parse_h2c(buf, len, scratch, scratch_cap, rq);
    case APP_QUIC:
    case APP_UNKNOWN: break;
    }
    return DS_NOT_MINE;
}

void inspect_decide(const struct ruleset *rs, const struct verdict_policy *pol,
                    const struct inspect_flow *fl, const struct inspect_request *rq,
                    struct span name, struct inspect_result *res)
{
    struct verdict_facts vf;
    enum norm_host_kind kind = NORM_HOST_NAME;
    size_t path_len = 0;

    memset(&vf, 0, sizeof(vf));
    vf.app = rq->app;
    vf.udp = fl->udp;
    vf.ipver = fl->ipver;
    vf.dst = fl->dst;
    vf.src = fl->src;
    vf.now = fl->now;
    vf.tariff = fl->tariff;
    vf.name_hidden = rq->ech;
    res->have_name = false;
    res->name_invalid = false;
    res->name_len = 0;
    res->url_len = 0;

    if (name.len) {
        if (norm_host(name.p, name.len, res->name, &res->name_len, &kind) == NORM_OK) {
            res->have_name = true;
            vf.name = res->name;
            vf.name_len = res->name_len;
            vf.name_is_ip = kind != NORM_HOST_NAME;
        } else {
            res->name_invalid = true;
        }
    }
    if (res->have_name && rq->has_path) {
        if (rq->path.len && rq->path.p[0] == '/' &&
            norm_path(rq->path.p, rq->path.len, res->path, sizeof(res->path), &path_len) ==
                NORM_OK) {
            vf.path = res->path;
            vf.path_len = path_len;
        } else {
            vf.path = "/";
            vf.path_len = 1;
        }
        vf.path_visible = true;
        /* "http://" name path, as snprintf("http://%s%.*s") writes it, cut to the buffer */
        size_t cap = sizeof(res->url) - 1, nl = strlen(res->name);
        size_t pl = strnlen(vf.path, vf.path_len), u = 7;
        memcpy(res->url, "http://", 7);
        nl = nl < cap - u ? nl : cap - u;
        memcpy(res->url + u, res->name, nl);
        u += nl;
        pl = pl < cap - u ? pl : cap - u;
        memcpy(res->url + u, vf.path, pl);
        u += pl;
        res->url[u] = '\0';
        res->url_len = u;
    }
    verdict_decide(rs, pol, &vf, &res->d);
}

void inspect_decide_kept_path(const struct ruleset *rs, const struct verdict_policy *pol,
                              const struct inspect_flow *fl, enum verdict_app app, bool ech,
                              const char *name, size_t len, const char *path, size_t path_len,
                              struct inspect_result *res)
{
    struct inspect_request rq;
    memset(&rq, 0, sizeof(rq));
    rq.app = app;
    rq.name.p = (const uint8_t *)name;
    rq.name.len = len;
    rq.ech = ech;
    rq.has_path = app == APP_HTTP || app == APP_H2C;
    if (rq.has_path && path) {
        rq.path.p = (const uint8_t *)path;
        rq.path.len = path_len;
    }
    inspect_decide(rs, pol, fl, &rq, rq.name, res);
}

void inspect_decide_kept(const struct ruleset *rs, const struct verdict_policy *pol,
                         const struct inspect_flow *fl, enum verdict_app app, bool ech,
                         const char *name, size_t len, struct inspect_result *res)
{
    inspect_decide_kept_path(rs, pol, fl, app, ech, name, len, NULL, 0, res);
}

bool inspect_blocks(const struct ruleset *rs, const struct verdict_policy *pol,
                    const struct inspect_flow *fl, const struct inspect_request *rq,
                    struct inspect_result *res)
{
    inspect_decide(rs, pol, fl, rq, rq->name, res);
    if (res->d.verdict == VERDICT_BLOCK)
        return true;
    if (!rq->name2.len)
        return false;
    inspect_decide(rs, pol, fl, rq, rq->name2, res);
    return res->d.verdict == VERDICT_BLOCK;
}

void inspect_stream_init(struct inspect_stream *s)
{
    s->h2 = NULL;
    s->app = APP_UNKNOWN;
    s->phase = HTTP_CHUNK_DONE;
    s->judged = false;
}

static enum inspect_step stop(enum inspect_stop w, enum dstatus st, enum inspect_stop *why,
                              enum dstatus *st_out)
{
    *why = w;
    *st_out = st;
    return INSPECT_STOP;
}

enum inspect_step inspect_stream_next(struct inspect_stream *s, const uint8_t *buf, size_t len,
                                      bool full, uint8_t *scratch, size_t scratch_cap,
                                      struct inspect_request *rq, uint64_t *skip,
                                      enum inspect_stop *why, enum dstatus *st_out)
{
    size_t off = 0;
    *skip = 0;
    *st_out = DS_OK;
    if (len == 0)
        return INSPECT_MORE;
    if (s->phase != HTTP_CHUNK_DONE) {
        /* inside a chunked body: framing only, the data is skipped unread (H17) */
        enum http_chunk_state cs = (enum http_chunk_state)s->phase;
        enum dstatus st = http_chunk_step(buf, len, &cs, skip, &off);
        if (st == DS_NEED_MORE && !full)
            return INSPECT_MORE;
        if (st != DS_OK)
            return stop(INSPECT_STOP_BODY, st == DS_NEED_MORE ? DS_LIMIT : st, why, st_out);
        s->phase = (uint8_t)cs;
        return INSPECT_SKIP;
    }
    if (s->app == APP_UNKNOWN) {
        enum verdict_app app = APP_UNKNOWN;
        enum dstatus st = inspect_detect(buf, len, &app);
        if (st == DS_NEED_MORE && !full)
            return INSPECT_MORE;
        if (st != DS_OK)
            return stop(INSPECT_STOP_NOT_MINE, DS_NOT_MINE, why, st_out);
        s->app = (uint8_t)app;
    }
    if (s->app == APP_H2C && s->h2) {
        /* every stream's complete header block, frame by frame (H18) */
        struct h2c_request hr;
        enum dstatus st = h2c_conn_step(s->h2, buf, len, &hr, skip, &off);
        if (st == DS_NEED_MORE) {
            if (!full)
                return INSPECT_MORE;
            st = DS_LIMIT;
        }
        if (st != DS_OK)
            return stop(st == DS_LIMIT      ? INSPECT_STOP_LIMIT
                        : st == DS_NOT_MINE ? INSPECT_STOP_NOT_MINE
                                            : INSPECT_STOP_MALFORMED,
                        st, why, st_out);
        if (hr.stream_id == 0)
            return INSPECT_SKIP;
        memset(rq, 0, sizeof(*rq));
        rq->app = APP_H2C;
        rq->name = hr.authority;
        rq->path = hr.path;
        rq->has_path = true;
        rq->h2_stream = true;
        rq->head_len = (size_t)*skip;
        *skip = 0;
        return INSPECT_JUDGE;
    }
    enum dstatus st = inspect_parse((enum verdict_app)s->app, buf, len, scratch, scratch_cap, rq);
    if (st == DS_NEED_MORE) {
        if (!full)
            return INSPECT_MORE;
        st = DS_LIMIT;
    }
    switch (st) {
    case DS_OK: return INSPECT_JUDGE;
    case DS_LIMIT: return stop(INSPECT_STOP_LIMIT, st, why, st_out);
    case DS_NOT_MINE: return stop(INSPECT_STOP_NOT_MINE, st, why, st_out);
    case DS_NEED_MORE:
    case DS_MALFORMED: break;
    }
    return stop(INSPECT_STOP_MALFORMED, st, why, st_out);
}

enum inspect_step inspect_stream_passed(struct inspect_stream *s, const struct inspect_request *rq,
                                        uint64_t *skip, enum inspect_stop *why)
{
    s->judged = true;
    *skip = 0;
    if (rq->h2_stream) {
        *skip = rq->head_len; /* the frames are read: on to the next stream */
        return INSPECT_SKIP;
    }
    if (rq->app != APP_HTTP) {
        *why = INSPECT_STOP_DONE;
        return INSPECT_STOP;
    }
    if (rq->partial || rq->lenient) {
        *why = rq->lenient ? INSPECT_STOP_LENIENT : INSPECT_STOP_CUT;
        return INSPECT_STOP;
    }
    *skip = rq->head_len;
    if (rq->chunked)
        s->phase = HTTP_CHUNK_SIZE; /* RFC 9112 6.3: chunked wins over Content-Length */
    else
        *skip += rq->body_len;
    if (rq->redetect)
        s->app = APP_UNKNOWN; /* after its body, whatever the server agreed to speak */
    return INSPECT_SKIP;
}

bool inspect_stream_wants_h2(const struct inspect_stream *s, const uint8_t *buf, size_t len)
{
    return s->app == APP_H2C || (s->app == APP_UNKNOWN && http_is_h2_preface(buf, len));
}

bool inspect_request_pending(const struct inspect_request *rq, bool full)
{
    return rq->partial && !full;
}

void inspect_stream_halt(const struct inspect_stream *s, enum inspect_stop why,
                         struct inspect_halt *h)
{
    h->by_address = !s->judged;
    h->refuse = METHOD_NONE;
    if (why == INSPECT_STOP_LIMIT && ((s->app == APP_TLS && !s->judged) || s->app == APP_H2C))
        h->refuse = METHOD_INCOMPLETE;
    else if (why == INSPECT_STOP_DONE && s->app == APP_H2C && !s->h2)
        h->refuse = METHOD_NO_ROOM;
    h->rest = INSPECT_REST_DONE;
    switch (why) {
    case INSPECT_STOP_CUT:
    case INSPECT_STOP_LIMIT:
    case INSPECT_STOP_LENIENT:
    case INSPECT_STOP_BODY:
        if (s->app == APP_HTTP)
            h->rest = INSPECT_REST_UNFRAMED;
        break;
    case INSPECT_STOP_NOT_MINE:
    case INSPECT_STOP_MALFORMED:
    case INSPECT_STOP_DONE: break;
    }
}
