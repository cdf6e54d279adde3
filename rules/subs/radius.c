/* radius.c - RADIUS Accounting-Request parser and Accounting-Response builder (see radius.h).
 *
 * The Request Authenticator of an Accounting-Request (RFC 2866 §3) is
 * MD5(Code + Identifier + Length + 16 zero octets + Attributes + Secret); the Response
 * Authenticator is MD5(Code + Identifier + Length + Request Authenticator + Attributes +
 * Secret). MD5 is Nettle's (the context lives on the stack: the per-packet path allocates
 * nothing). The comparison is memeql_sec (constant time). */
#include "rules/subs/radius.h"

#include <errno.h>
#include <nettle/md5.h>
#include <nettle/memops.h>
#include <stdio.h>
#include <string.h>

#define A_USER_NAME     1
#define A_FRAMED_IP     8
#define A_VSA           26
#define A_CALLING       31
#define A_STATUS        40
#define A_SESSION_ID    44
#define A_EVENT_TIME    55
#define A_INTERIM       85
#define A_FRAMED_PREFIX 97
#define VSA_3GPP_IMSI   1

static int fail(char *err, size_t errlen, size_t off, int rc, const char *why)
{
    snprintf(err, errlen, "radius: offset %zu: %s", off, why);
    return rc;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* MD5 over head (4 bytes), mid (16), rest (n) and the secret into out[16]. */
static void md5_4(const uint8_t *head, const uint8_t *mid, const uint8_t *rest, size_t n,
                  const uint8_t *secret, size_t slen, uint8_t out[16])
{
    struct md5_ctx c;
    md5_init(&c);
    md5_update(&c, 4, head);
    md5_update(&c, 16, mid);
    if (n)
        md5_update(&c, n, rest);
    if (slen)
        md5_update(&c, slen, secret);
    md5_digest(&c, MD5_DIGEST_SIZE, out);
}

/* A string attribute value: RFC 2865 says text and string values are 1..253 bytes. */
static int take_str(struct radius_str *s, const uint8_t *v, size_t vl, size_t off, char *err,
                    size_t errlen)
{
    if (vl == 0)
        return fail(err, errlen, off, -EBADMSG, "empty string attribute");
    s->p = v;
    s->len = vl;
    return 0;
}

/* A 4-byte attribute (an address or an integer, network order) into *dst. */
static int take_u32(uint32_t *dst, const uint8_t *v, size_t vl, size_t off, const char *name,
                    char *err, size_t errlen)
{
    if (vl != 4) {
        snprintf(err, errlen, "radius: offset %zu: %s is not 4 bytes", off, name);
        return -EBADMSG;
    }
    *dst = be32(v);
    return 0;
}

static int vsa(struct radius_acct *out, const uint8_t *v, size_t vl, size_t off, char *err,
               size_t errlen)
{
    if (vl < 4)
        return fail(err, errlen, off, -EBADMSG, "Vendor-Specific shorter than its vendor id");
    if (be32(v) != RADIUS_VENDOR_3GPP)
        return 0; /* other vendors: not ours to read */
    /* 3GPP (TS 29.061) sub-attributes: type, length (>= 2), value. */
    size_t i = 4;
    while (i < vl) {
        if (vl - i < 2)
            return fail(err, errlen, off + 2 + i, -EBADMSG, "truncated 3GPP sub-attribute");
        uint8_t t = v[i], l = v[i + 1];
        if (l < 2 || l > vl - i)
            return fail(err, errlen, off + 2 + i + 1, -EBADMSG,
                        "3GPP sub-attribute length out of bounds");
        if (t == VSA_3GPP_IMSI) {
            int rc = take_str(&out->imsi, v + i + 2, (size_t)l - 2, off + 2 + i, err, errlen);
            if (rc)
                return rc;
        }
        i += l;
    }
    return 0;
}

static int attr(struct radius_acct *out, uint8_t t, const uint8_t *v, size_t vl, size_t off,
                char *err, size_t errlen)
{
    switch (t) {
    case A_USER_NAME: return take_str(&out->user_name, v, vl, off, err, errlen);
    case A_CALLING: return take_str(&out->calling, v, vl, off, err, errlen);
    case A_SESSION_ID: return take_str(&out->session_id, v, vl, off, err, errlen);
    case A_VSA: return vsa(out, v, vl, off, err, errlen);
    case A_FRAMED_IP:
        memcpy(out->ipv4, v, vl == 4 ? 4 : 0);
        out->has_ipv4 = true;
        return take_u32(&(uint32_t){ 0 }, v, vl, off, "Framed-IP-Address", err, errlen);
    case A_STATUS: return take_u32(&out->status, v, vl, off, "Acct-Status-Type", err, errlen);
    case A_EVENT_TIME:
        out->has_timestamp = true;
        return take_u32(&out->event_timestamp, v, vl, off, "Event-Timestamp", err, errlen);
    case A_INTERIM:
        out->has_interim = true;
        return take_u32(&out->interim_interval, v, vl, off, "Acct-Interim-Interval", err, errlen);
    case A_FRAMED_PREFIX: {
        /* RFC 3162 §2.3: reserved, prefix-length (0..128), prefix (0..16 bytes) */
        if (vl < 2 || vl > 18)
            return fail(err, errlen, off, -EBADMSG, "Framed-IPv6-Prefix length not 4..20");
        uint8_t plen = v[1];
        if (plen > 128)
            return fail(err, errlen, off + 3, -EBADMSG, "Framed-IPv6-Prefix length over 128");
        if ((size_t)(plen + 7) / 8 > vl - 2)
            return fail(err, errlen, off + 3, -EBADMSG,
                        "Framed-IPv6-Prefix shorter than its prefix length");
        memset(out->ipv6, 0, 16);
        memcpy(out->ipv6, v + 2, vl - 2);
        /* bits past the prefix length are not part of the prefix */
        for (unsigned b = plen; b < 128; b++)
            out->ipv6[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
        out->ipv6_plen = plen;
        out->has_ipv6 = true;
        return 0;
    }
    default: return 0;
    }
}

int radius_acct_parse(const uint8_t *buf, size_t len, const uint8_t *secret, size_t slen,
                      struct radius_acct *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len < RADIUS_HDR)
        return fail(err, errlen, len, -EBADMSG, "shorter than the 20-byte header");
    size_t plen = (size_t)buf[2] << 8 | buf[3];
    if (plen < RADIUS_HDR || plen > RADIUS_MAX)
        return fail(err, errlen, 2, -EBADMSG, "length field outside 20..4096");
    if (plen > len)
        return fail(err, errlen, 2, -EBADMSG, "length field beyond the datagram");
    if (buf[0] != RADIUS_CODE_ACCT_REQUEST)
        return fail(err, errlen, 0, -EPROTO, "not an Accounting-Request (code 4)");
    out->identifier = buf[1];
    out->length = (uint16_t)plen;
    out->authenticator = buf + 4;
    size_t i = RADIUS_HDR;
    while (i < plen) {
        if (plen - i < 2)
            return fail(err, errlen, i, -EBADMSG, "truncated attribute header");
        uint8_t t = buf[i], l = buf[i + 1];
        if (l < 2)
            return fail(err, errlen, i + 1, -EBADMSG, "attribute length below 2");
        if (l > plen - i)
            return fail(err, errlen, i + 1, -EBADMSG, "attribute runs past the packet");
        int rc = attr(out, t, buf + i + 2, (size_t)l - 2, i, err, errlen);
        if (rc)
            return rc;
        i += l;
    }
    static const uint8_t zero[16];
    uint8_t want[16];
    md5_4(buf, zero, buf + RADIUS_HDR, plen - RADIUS_HDR, secret, slen, want);
    if (!memeql_sec(want, buf + 4, 16))
        return fail(err, errlen, 4, -EACCES, "Request Authenticator does not match the secret");
    return 0;
}

int radius_acct_response(uint8_t identifier, const uint8_t reqauth[16], const uint8_t *secret,
                         size_t slen, uint8_t *out, size_t cap)
{
    if (cap < RADIUS_HDR)
        return -ENOSPC;
    out[0] = RADIUS_CODE_ACCT_RESPONSE;
    out[1] = identifier;
    out[2] = 0;
    out[3] = RADIUS_HDR;
    uint8_t a[16];
    md5_4(out, reqauth, NULL, 0, secret, slen, a);
    memcpy(out + 4, a, 16);
    return RADIUS_HDR;
}

int radius_acct_build(uint8_t identifier, const uint8_t *attrs, size_t alen, const uint8_t *secret,
                      size_t slen, uint8_t *out, size_t cap)
{
    size_t n = RADIUS_HDR + alen;
    if (n > cap || n > RADIUS_MAX)
        return -ENOSPC;
    out[0] = RADIUS_CODE_ACCT_REQUEST;
    out[1] = identifier;
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    memmove(out + RADIUS_HDR, attrs, alen);
    static const uint8_t zero[16];
    uint8_t a[16];
    md5_4(out, zero, out + RADIUS_HDR, alen, secret, slen, a);
    memcpy(out + 4, a, 16);
    return (int)n;
}

const char *radius_status_name(uint32_t status)
{
    switch (status) {
    case RADIUS_START: return "Start";
    case RADIUS_STOP: return "Stop";
    case RADIUS_INTERIM: return "Interim-Update";
    case RADIUS_ACCT_ON: return "Accounting-On";
    case RADIUS_ACCT_OFF: return "Accounting-Off";
    default: return "unknown";
    }
}
