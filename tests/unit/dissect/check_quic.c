/* check_quic.c - Check suite "quic": Initial decryption (RFC 9001 / RFC 9369 Appendix A vectors),
 * CRYPTO reassembly (Q1, Q2), authentication failures (Q3), v2 (Q5), truncation against a guard
 * page, limits; sealing (RFC 9001 A.3 server Initial) and the server CONNECTION_CLOSE Initial
 * of tap mode (Q7), opened again by an independent OpenSSL path with the RFC's server keys.
 *
 * The test seals its own Initials (seal_initial below) with the library's key derivation and a
 * direct OpenSSL AES-128-GCM/ECB encryption; that helper is first checked to reproduce the RFC
 * packets byte for byte, then used to build the two-packet Chromium-like fixtures, which must
 * equal the .bin files in $QG_FIXTURES/quic/ (default tests/fixtures: the Makefile runs
 * the suites from the repository root; set QG_QUIC_WRITE_FIXTURES=1 to rewrite them). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tests/lib/guard.h"
#include "proxy/dissect/quic.h"
#include "proxy/dissect/tls.h"

/* ---- RFC vectors ---------------------------------------------------------------------------- */

static const uint8_t rfc_dcid[] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };

/* RFC 9001 A.2 / RFC 9369 A.2: the CRYPTO frame of the client Initial (padded to 1162 bytes). */
static const char rfc_client_frames_hex[] =
    "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
    "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
    "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
    "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
    "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
    "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
    "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
    "75300901100f088394c8f03e51570806048000ffff";

/* RFC 9001 A.2: the protected client Initial (1200 bytes). */
static const char rfc9001_packet_hex[] =
    "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
    "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
    "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
    "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
    "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
    "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
    "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
    "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
    "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
    "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
    "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
    "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
    "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
    "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
    "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
    "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
    "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
    "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
    "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
    "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
    "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
    "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
    "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
    "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
    "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
    "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
    "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
    "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
    "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
    "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
    "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
    "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
    "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
    "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
    "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
    "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
    "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
    "e221af44860018ab0856972e194cd934";

/* RFC 9369 A.2: the protected v2 client Initial (1200 bytes). */
static const char rfc9369_packet_hex[] =
    "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
    "dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
    "9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
    "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
    "12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
    "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
    "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
    "12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
    "d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
    "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
    "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
    "636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
    "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
    "16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
    "4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
    "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
    "8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
    "14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
    "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
    "abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
    "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
    "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
    "d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
    "c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
    "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
    "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
    "10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
    "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
    "06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
    "8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
    "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
    "e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
    "5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
    "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
    "d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
    "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
    "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
    "a18b2faa745b6fe189cf772a9f84cbfc";

/* ---- helpers -------------------------------------------------------------------------------- */

static size_t from_hex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; hex[0] != '\0' && hex[1] != '\0' && n < cap; hex += 2) {
        char b[3] = { hex[0], hex[1], 0 };
        out[n++] = (uint8_t)strtoul(b, NULL, 16);
    }
    return n;
}

static int same_hex(const uint8_t *p, size_t n, const char *hex)
{
    uint8_t want[64];
    return from_hex(hex, want, sizeof(want)) == n && memcmp(p, want, n) == 0;
}

static struct quic_ctx *g_ctx;

static void setup(void)
{
    g_ctx = quic_ctx_new();
    ck_assert_ptr_nonnull(g_ctx);
}

static void teardown(void)
{
    quic_ctx_free(g_ctx);
    g_ctx = NULL;
}

/* Inputs are placed against a PROT_NONE page (tests/lib/guard.h): any over-read faults. */
static const uint8_t *guarded(const uint8_t *p, size_t n)
{
    return guard_copy(p, n);
}

/* Seals one client Initial: header (token empty), frames zero-padded to plain_len, AES-128-GCM,
 * then header protection. Returns the packet length written to out. */
static size_t seal_initial(uint32_t version, const uint8_t *key_dcid, size_t key_dcid_len,
                           const uint8_t *dcid, size_t dcid_len, const uint8_t *scid,
                           size_t scid_len, uint32_t pn, size_t pn_len, const uint8_t *frames,
                           size_t frames_len, size_t plain_len, uint8_t *out)
{
    struct quic_keys k;
    ck_assert_int_eq(quic_keys_derive(g_ctx, version, key_dcid, key_dcid_len, false, &k), 0);
    unsigned type = version == QUIC_V2 ? 1 : 0;
    size_t n = 0;
    out[n++] = (uint8_t)(0xc0 | type << 4 | (pn_len - 1));
    for (int i = 3; i >= 0; i--)
        out[n++] = (uint8_t)(version >> (8 * i));
    out[n++] = (uint8_t)dcid_len;
    memcpy(out + n, dcid, dcid_len);
    n += dcid_len;
    out[n++] = (uint8_t)scid_len;
    if (scid_len > 0)
        memcpy(out + n, scid, scid_len);
    n += scid_len;
    out[n++] = 0; /* token length */
    size_t length = pn_len + plain_len + 16;
    out[n++] = (uint8_t)(0x40 | length >> 8);
    out[n++] = (uint8_t)length;
    size_t pn_off = n;
    for (size_t i = 0; i < pn_len; i++)
        out[n++] = (uint8_t)(pn >> (8 * (pn_len - 1 - i)));
    uint8_t plain[2048] = { 0 };
    ck_assert_uint_le(plain_len, sizeof(plain));
    ck_assert_uint_le(frames_len, plain_len);
    memcpy(plain, frames, frames_len);
    uint8_t nonce[12];
    memcpy(nonce, k.iv, 12);
    for (size_t i = 0; i < 4; i++)
        nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl = 0;
    ck_assert_int_eq(EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, k.key, nonce), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(c, NULL, &outl, out, (int)n), 1);
    ck_assert_int_eq(EVP_EncryptUpdate(c, out + n, &outl, plain, (int)plain_len), 1);
    ck_assert_int_eq(EVP_EncryptFinal_ex(c, out + n + plain_len, &outl), 1);
    ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, out + n + plain_len), 1);
    n += plain_len + 16;
    uint8_t mask[32];
    ck_assert_int_eq(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, k.hp, NULL), 1);
    EVP_CIPHER_CTX_set_padding(c, 0);
    ck_assert_int_eq(EVP_EncryptUpdate(c, mask, &outl, out + pn_off + 4, 16), 1);
    EVP_CIPHER_CTX_free(c);
    out[0] ^= mask[0] & 0x0f;
    for (size_t i = 0; i < pn_len; i++)
        out[pn_off + i] ^= mask[1 + i];
    return n;
}

static size_t seal_simple(uint32_t version, uint32_t pn, const uint8_t *frames, size_t frames_len,
                          size_t plain_len, uint8_t *out)
{
    return seal_initial(version, rfc_dcid, sizeof(rfc_dcid), rfc_dcid, sizeof(rfc_dcid), NULL, 0,
                        pn, 4, frames, frames_len, plain_len, out);
}

/* A growable-free byte writer for building ClientHellos and frames. */
struct wr {
    uint8_t *p;
    size_t n, cap;
};

static void put8(struct wr *w, unsigned v)
{
    ck_assert_uint_lt(w->n, w->cap);
    w->p[w->n++] = (uint8_t)v;
}

static void put16(struct wr *w, unsigned v)
{
    put8(w, v >> 8);
    put8(w, v & 0xff);
}

static void putn(struct wr *w, const void *d, size_t n)
{
    ck_assert_uint_le(n, w->cap - w->n);
    memcpy(w->p + w->n, d, n);
    w->n += n;
}

static void putfill(struct wr *w, unsigned byte, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(w, (byte + i * 7) & 0xff);
}

/* Two-byte QUIC varint (values < 16384). */
static void putvar2(struct wr *w, size_t v)
{
    ck_assert_uint_lt(v, 16384);
    put16(w, (unsigned)(0x4000 | v));
}

static void patch16(struct wr *w, size_t at)
{
    size_t v = w->n - at - 2;
    w->p[at] = (uint8_t)(v >> 8);
    w->p[at + 1] = (uint8_t)v;
}

/* A Chromium-like QUIC ClientHello (bare handshake message): GREASE, SNI, a 1216-byte
 * X25519MLKEM768 key share, GREASE ECH, quic_transport_parameters. Returns its length. */
static size_t build_hello(const char *sni, uint8_t *out, size_t cap)
{
    struct wr w = { out, 0, cap };
    put8(&w, 0x01);
    put8(&w, 0);
    size_t len_at = w.n;
    put16(&w, 0);
    put16(&w, 0x0303);
    putfill(&w, 0x11, 32); /* random */
    put8(&w, 0);           /* no legacy session id in QUIC */
    put16(&w, 8);
    put16(&w, 0x3a3a);
    put16(&w, 0x1301);
    put16(&w, 0x1302);
    put16(&w, 0x1303);
    put8(&w, 1);
    put8(&w, 0);
    size_t ext_at = w.n;
    put16(&w, 0);
    put16(&w, 0x4a4a); /* GREASE */
    put16(&w, 0);
    put16(&w, 0x0033); /* key_share */
    size_t ks = w.n;
    put16(&w, 0);
    size_t ksl = w.n;
    put16(&w, 0);
    put16(&w, 0x11ec);
    put16(&w, 1216);
    putfill(&w, 0x55, 1216);
    put16(&w, 0x001d);
    put16(&w, 32);
    putfill(&w, 0x99, 32);
    patch16(&w, ksl);
    patch16(&w, ks);
    put16(&w, 0x002d); /* psk_key_exchange_modes */
    put16(&w, 2);
    put8(&w, 1);
    put8(&w, 1);
    put16(&w, 0x0000); /* server_name */
    size_t sn = w.n;
    put16(&w, 0);
    size_t snl = w.n;
    put16(&w, 0);
    put8(&w, 0);
    put16(&w, (unsigned)strlen(sni));
    putn(&w, sni, strlen(sni));
    patch16(&w, snl);
    patch16(&w, sn);
    put16(&w, 0x0010); /* ALPN h3 */
    put16(&w, 5);
    put16(&w, 3);
    put8(&w, 2);
    putn(&w, "h3", 2);
    put16(&w, 0x000a); /* supported_groups */
    put16(&w, 8);
    put16(&w, 6);
    put16(&w, 0x11ec);
    put16(&w, 0x001d);
    put16(&w, 0x0017);
    put16(&w, 0x002b); /* supported_versions */
    put16(&w, 3);
    put8(&w, 2);
    put16(&w, 0x0304);
    put16(&w, 0x000d); /* signature_algorithms */
    put16(&w, 6);
    put16(&w, 4);
    put16(&w, 0x0403);
    put16(&w, 0x0804);
    put16(&w, 0xfe0d); /* GREASE ECH */
    put16(&w, 186);
    putfill(&w, 0xe0, 186);
    put16(&w, 0x0039); /* quic_transport_parameters */
    put16(&w, 20);
    putfill(&w, 0x01, 20);
    put16(&w, 0xdada); /* GREASE */
    put16(&w, 1);
    put8(&w, 0);
    patch16(&w, ext_at);
    size_t body = w.n - 4;
    out[1] = (uint8_t)(body >> 16);
    out[len_at] = (uint8_t)(body >> 8);
    out[len_at + 1] = (uint8_t)body;
    return w.n;
}

static void put_crypto(struct wr *w, size_t off, const uint8_t *d, size_t n)
{
    put8(w, 0x06);
    putvar2(w, off);
    putvar2(w, n);
    putn(w, d, n);
}

/* Builds the two Chromium-like datagrams (both 1250 bytes): pn 0 carries the tail of the hello,
 * pn 1 the first part in two reversed CRYPTO frames, with PING/PADDING mixed in and one
 * overlapping (identical) retransmitted range. Returns the hello length. */
static size_t build_two_packets(const char *sni, uint8_t *hello, uint8_t *d0, size_t *n0,
                                uint8_t *d1, size_t *n1)
{
    static const uint8_t dcid[] = { 0x5c, 0x1e, 0xa7, 0x09, 0x42, 0x33, 0x71, 0x0d };
    static const uint8_t scid[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
    size_t h = build_hello(sni, hello, 4096);
    ck_assert_uint_gt(h, 1400);
    uint8_t f[2048];
    struct wr w = { f, 0, sizeof(f) };
    put8(&w, 0x01); /* PING */
    put_crypto(&w, 900, hello + 900, h - 900);
    put8(&w, 0x00);
    put8(&w, 0x00);
    put8(&w, 0x01);
    size_t plain_len = 1250 - 1 - 4 - 1 - 8 - 1 - 8 - 1 - 2 - 1 - 16;
    ck_assert_uint_le(w.n, plain_len);
    *n0 = seal_initial(QUIC_V1, dcid, 8, dcid, 8, scid, 8, 0, 1, f, w.n, plain_len, d0);
    w.n = 0;
    put_crypto(&w, 450, hello + 450, 450);
    put8(&w, 0x00);
    put8(&w, 0x01);
    put_crypto(&w, 0, hello, 450);
    put_crypto(&w, 400, hello + 400, 100); /* identical retransmission */
    ck_assert_uint_le(w.n, plain_len);
    *n1 = seal_initial(QUIC_V1, dcid, 8, dcid, 8, scid, 8, 1, 1, f, w.n, plain_len, d1);
    return h;
}

static void check_fixture(const char *name, const uint8_t *p, size_t n)
{
    char path[512];
    const char *dir = getenv("QG_FIXTURES");
    snprintf(path, sizeof(path), "%s/quic/%s", dir != NULL ? dir : "tests/fixtures", name);
    if (getenv("QG_QUIC_WRITE_FIXTURES") != NULL) {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(p, 1, n, f), n);
        fclose(f);
    }
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "quic: fixture %s missing (run from the repository root)", path);
    uint8_t buf[4096];
    size_t got = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    ck_assert_uint_eq(got, n);
    ck_assert_msg(memcmp(buf, p, n) == 0, "quic: fixture %s differs from the sealed packet", path);
}

static uint8_t g_plain[QUIC_PLAIN_MAX];
static struct quic_crypto g_crypto;

/* Parses datagram d, feeds its frames to g_crypto and returns the status of the hello parse. */
static enum dstatus feed(const uint8_t *d, size_t n, struct tls_hello *hello)
{
    struct quic_initial qi;
    size_t eo = 99;
    ck_assert_int_eq(quic_initial_parse(g_ctx, d, n, NULL, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_OK);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, qi.frames.p, qi.frames.len, &eo), DS_OK);
    return quic_crypto_hello(&g_crypto, hello, &eo);
}

static int span_is(struct span s, const char *str)
{
    return s.len == strlen(str) && memcmp(s.p, str, s.len) == 0;
}

/* ---- valid ---------------------------------------------------------------------------------- */

START_TEST(test_keys_rfc_vectors)
{
    struct quic_keys k;
    ck_assert_int_eq(quic_keys_derive(g_ctx, QUIC_V1, rfc_dcid, 8, false, &k), 0);
    ck_assert(same_hex(k.key, 16, "1f369613dd76d5467730efcbe3b1a22d"));
    ck_assert(same_hex(k.iv, 12, "fa044b2f42a3fd3b46fb255c"));
    ck_assert(same_hex(k.hp, 16, "9f50449e04a0e810283a1e9933adedd2"));
    ck_assert_int_eq(quic_keys_derive(g_ctx, QUIC_V1, rfc_dcid, 8, true, &k), 0);
    ck_assert(same_hex(k.key, 16, "cf3a5331653c364c88f0f379b6067e37"));
    ck_assert(same_hex(k.iv, 12, "0ac1493ca1905853b0bba03e"));
    ck_assert(same_hex(k.hp, 16, "c206b8d9b9f0f37644430b490eeaa314"));
    ck_assert_int_eq(quic_keys_derive(g_ctx, QUIC_V2, rfc_dcid, 8, false, &k), 0);
    ck_assert(same_hex(k.key, 16, "8b1a0bc121284290a29e0971b5cd045d"));
    ck_assert(same_hex(k.iv, 12, "91f73e2351d8fa91660e909f"));
    ck_assert(same_hex(k.hp, 16, "45b95e15235d6f45a6b19cbcb0294ba9"));
    ck_assert_int_eq(quic_keys_derive(g_ctx, QUIC_V2, rfc_dcid, 8, true, &k), 0);
    ck_assert(same_hex(k.key, 16, "82db637861d55e1d011f19ea71d5d2a7"));
    ck_assert(same_hex(k.iv, 12, "dd13c276499c0249d3310652"));
    ck_assert(same_hex(k.hp, 16, "edf6d05c83121201b436e16877593c3a"));
    ck_assert_int_eq(k.version, QUIC_V2);
    ck_assert_int_eq(quic_keys_derive(g_ctx, 0x1a2a3a4a, rfc_dcid, 8, false, &k), -EPROTONOSUPPORT);
}
END_TEST

/* The test's sealer reproduces both RFC packets byte for byte (so the fixtures it builds later
 * are real Initials, not just self-consistent ones). */
START_TEST(test_sealer_matches_rfc)
{
    uint8_t frames[1200], want[1300], got[1300];
    size_t fl = from_hex(rfc_client_frames_hex, frames, sizeof(frames));
    ck_assert_uint_eq(fl, 245);
    size_t wl = from_hex(rfc9001_packet_hex, want, sizeof(want));
    ck_assert_uint_eq(wl, 1200);
    ck_assert_uint_eq(seal_simple(QUIC_V1, 2, frames, fl, 1162, got), 1200);
    ck_assert_mem_eq(got, want, 1200);
    wl = from_hex(rfc9369_packet_hex, want, sizeof(want));
    ck_assert_uint_eq(wl, 1200);
    ck_assert_uint_eq(seal_simple(QUIC_V2, 2, frames, fl, 1162, got), 1200);
    ck_assert_mem_eq(got, want, 1200);
}
END_TEST

static void check_rfc_packet(const char *hex, uint32_t version, const char *fixture)
{
    uint8_t pkt[1300], frames[300];
    size_t n = from_hex(hex, pkt, sizeof(pkt));
    size_t fl = from_hex(rfc_client_frames_hex, frames, sizeof(frames));
    check_fixture(fixture, pkt, n);
    const uint8_t *g = guarded(pkt, n);
    struct quic_initial qi;
    size_t eo = 77;
    ck_assert_int_eq(quic_initial_parse(g_ctx, g, n, NULL, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_OK);
    ck_assert_uint_eq(eo, 0);
    ck_assert_uint_eq(qi.version, version);
    ck_assert_uint_eq(qi.dcid.len, 8);
    ck_assert_mem_eq(qi.dcid.p, rfc_dcid, 8);
    ck_assert_uint_eq(qi.scid.len, 0);
    ck_assert_uint_eq(qi.token.len, 0);
    ck_assert_uint_eq(qi.pn, 2);
    ck_assert_uint_eq(qi.pn_len, 4);
    ck_assert_uint_eq(qi.pkt_off, 0);
    ck_assert_uint_eq(qi.pkt_len, 1200);
    ck_assert_uint_eq(qi.next_off, 1200);
    ck_assert(!qi.short_datagram);
    ck_assert_uint_eq(qi.frames.len, 1162);
    ck_assert_mem_eq(qi.frames.p, frames, fl);
    for (size_t i = fl; i < qi.frames.len; i++)
        ck_assert_uint_eq(qi.frames.p[i], 0);

    quic_crypto_init(&g_crypto);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, qi.frames.p, qi.frames.len, &eo), DS_OK);
    struct span s = quic_crypto_contiguous(&g_crypto);
    ck_assert_uint_eq(s.len, 241);
    ck_assert_mem_eq(s.p, frames + 4, 241);
    ck_assert_uint_eq(g_crypto.crypto_frames, 1);
    ck_assert_uint_eq(g_crypto.packets, 1);
    struct tls_hello h;
    ck_assert_int_eq(quic_crypto_hello(&g_crypto, &h, &eo), DS_OK);
    ck_assert(h.has_sni);
    ck_assert(span_is(h.sni, "example.com"));
    ck_assert(span_is(h.alpn, "alpn"));
    ck_assert_uint_eq(h.hello_len, 241);
    ck_assert_uint_eq(h.consumed, 241);
}

START_TEST(test_rfc9001_client_initial)
{
    check_rfc_packet(rfc9001_packet_hex, QUIC_V1, "rfc9001-a2-client-initial.bin");
}
END_TEST

START_TEST(test_rfc9369_v2_client_initial)
{
    check_rfc_packet(rfc9369_packet_hex, QUIC_V2, "rfc9369-a2-client-initial-v2.bin");
}
END_TEST

/* Q1 + Q2: ClientHello over two Initials, CRYPTO frames out of order, PING/PADDING mixed in. */
START_TEST(test_two_packets_out_of_order)
{
    uint8_t hello[4096], d0[1300], d1[1300];
    size_t n0, n1;
    size_t h = build_two_packets("quic-blocked.example", hello, d0, &n0, d1, &n1);
    ck_assert_uint_eq(n0, 1250);
    ck_assert_uint_eq(n1, 1250);
    check_fixture("chromium-like-pn0.bin", d0, n0);
    check_fixture("chromium-like-pn1.bin", d1, n1);

    struct tls_hello th;
    quic_crypto_init(&g_crypto);
    ck_assert_int_eq(feed(guarded(d0, n0), n0, &th), DS_NEED_MORE);
    ck_assert_uint_eq(quic_crypto_contiguous(&g_crypto).len, 0);
    ck_assert_int_eq(feed(guarded(d1, n1), n1, &th), DS_OK);
    struct span s = quic_crypto_contiguous(&g_crypto);
    ck_assert_uint_eq(s.len, h);
    ck_assert_mem_eq(s.p, hello, h);
    ck_assert_uint_eq(g_crypto.crypto_frames, 4);
    ck_assert_uint_eq(g_crypto.packets, 2);
    ck_assert_uint_eq(g_crypto.conflicts, 0);
    ck_assert(span_is(th.sni, "quic-blocked.example"));
    ck_assert(span_is(th.alpn, "h3"));
    ck_assert(th.has_ech);

    /* The other order works too. */
    quic_crypto_init(&g_crypto);
    ck_assert_int_eq(feed(d1, n1, &th), DS_NEED_MORE);
    ck_assert_uint_eq(quic_crypto_contiguous(&g_crypto).len, 900);
    ck_assert_int_eq(feed(d0, n0, &th), DS_OK);
    ck_assert(span_is(th.sni, "quic-blocked.example"));
}
END_TEST

START_TEST(test_v2_and_draft29_roundtrip)
{
    uint8_t hello[4096], f[2048], pkt[2100];
    size_t h = build_hello("v2.example", hello, sizeof(hello));
    struct wr w = { f, 0, sizeof(f) };
    put_crypto(&w, 0, hello, h);
    static const uint32_t versions[] = { QUIC_V2, QUIC_DRAFT29, QUIC_V1 };
    for (size_t i = 0; i < 3; i++) {
        size_t n = seal_simple(versions[i], 0, f, w.n, w.n + 10, pkt);
        struct quic_initial qi;
        size_t eo;
        uint8_t big[2048]; /* a jumbo Initial (> 1500 bytes) needs more than QUIC_PLAIN_MAX */
        ck_assert_int_eq(
            quic_initial_parse(g_ctx, pkt, n, NULL, g_plain, sizeof(g_plain), &qi, &eo), DS_LIMIT);
        ck_assert_int_eq(quic_initial_parse(g_ctx, pkt, n, NULL, big, sizeof(big), &qi, &eo),
                         DS_OK);
        ck_assert_uint_eq(qi.version, versions[i]);
        quic_crypto_init(&g_crypto);
        ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, qi.frames.p, qi.frames.len, &eo), DS_OK);
        struct tls_hello th;
        ck_assert_int_eq(quic_crypto_hello(&g_crypto, &th, &eo), DS_OK);
        ck_assert(span_is(th.sni, "v2.example"));
    }
}
END_TEST

/* Coalesced datagrams: a Handshake packet in front is skipped; trailing packets are left. */
START_TEST(test_coalesced)
{
    uint8_t pkt[1300], dg[1500];
    uint8_t frames[300];
    size_t fl = from_hex(rfc_client_frames_hex, frames, sizeof(frames));
    size_t n = seal_simple(QUIC_V1, 2, frames, fl, 1162, pkt);
    /* v1 Handshake (type 2), DCID 8394.., no SCID, Length 30, 30 bytes of junk. */
    static const uint8_t hs_hdr[] = { 0xe1, 0,    0,    0,    1,    8,    0x83, 0x94,
                                      0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08, 0,    30 };
    memcpy(dg, hs_hdr, sizeof(hs_hdr));
    memset(dg + sizeof(hs_hdr), 0xa5, 30);
    size_t pre = sizeof(hs_hdr) + 30;
    memcpy(dg + pre, pkt, n);
    struct quic_initial qi;
    size_t eo;
    ck_assert_int_eq(
        quic_initial_parse(g_ctx, dg, pre + n, NULL, g_plain, sizeof(g_plain), &qi, &eo), DS_OK);
    ck_assert_uint_eq(qi.pkt_off, pre);
    ck_assert_uint_eq(qi.next_off, pre + n);
    ck_assert_uint_eq(qi.frames.len, 1162);
    /* Initial then a 0-RTT packet (junk): first Initial is decrypted, next_off points on. */
    memcpy(dg, pkt, n);
    memset(dg + n, 0xd1, 100);
    ck_assert_int_eq(
        quic_initial_parse(g_ctx, dg, n + 100, NULL, g_plain, sizeof(g_plain), &qi, &eo), DS_OK);
    ck_assert_uint_eq(qi.pkt_off, 0);
    ck_assert_uint_eq(qi.next_off, n);
    /* Only a Handshake packet: no Initial. */
    ck_assert_int_eq(quic_initial_parse(g_ctx, dg, 0, NULL, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_NEED_MORE);
    memcpy(dg, hs_hdr, sizeof(hs_hdr));
    memset(dg + sizeof(hs_hdr), 0xa5, 30);
    ck_assert_int_eq(quic_initial_parse(g_ctx, dg, pre, NULL, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_NOT_MINE);
}
END_TEST

/* After the client switched DCID, the caller passes the keys of the first DCID. */
START_TEST(test_explicit_keys_after_dcid_change)
{
    static const uint8_t new_dcid[] = { 0xaa, 0xbb, 0xcc, 0xdd };
    uint8_t frames[300], pkt[1300];
    size_t fl = from_hex(rfc_client_frames_hex, frames, sizeof(frames));
    size_t n =
        seal_initial(QUIC_V1, rfc_dcid, 8, new_dcid, 4, NULL, 0, 3, 2, frames, fl, 1170, pkt);
    struct quic_initial qi;
    size_t eo;
    ck_assert_int_eq(quic_initial_parse(g_ctx, pkt, n, NULL, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_MALFORMED);
    struct quic_keys k;
    ck_assert_int_eq(quic_keys_derive(g_ctx, QUIC_V1, rfc_dcid, 8, false, &k), 0);
    ck_assert_int_eq(quic_initial_parse(g_ctx, pkt, n, &k, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_OK);
    ck_assert_uint_eq(qi.pn, 3);
    ck_assert_uint_eq(qi.pn_len, 2);
    ck_assert_uint_eq(qi.dcid.len, 4);
    /* Keys of another version are refused. */
    ck_assert_int_eq(quic_keys_derive(g_ctx, QUIC_V2, rfc_dcid, 8, false, &k), 0);
    ck_assert_int_eq(quic_initial_parse(g_ctx, pkt, n, &k, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_MALFORMED);
}
END_TEST

START_TEST(test_frames_ack_close_ping)
{
    /* ACK-ECN {largest 5, delay 0, 1 range, first 2, gap 0 len 1, ect 1 2 3}, PING, CLOSE. */
    static const uint8_t f[] = { 0x03, 5,    0,   1,    2,    0,    1,    1,    2,    3,
                                 0x01, 0x02, 1,   0,    0,    0,    0x1c, 0x0a, 0x06, 3,
                                 'b',  'y',  'e', 0x06, 0x00, 0x02, 'h',  'i' };
    size_t eo = 5;
    quic_crypto_init(&g_crypto);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, f, sizeof(f), &eo), DS_OK);
    ck_assert(g_crypto.closed);
    struct span s = quic_crypto_contiguous(&g_crypto);
    ck_assert_uint_eq(s.len, 2);
    ck_assert_mem_eq(s.p, "hi", 2);
}
END_TEST

/* Overlap policy: first data wins, differing bytes are counted. */
START_TEST(test_overlap_first_wins)
{
    static const uint8_t a[] = { 0x06, 0x00, 0x03, 'a', 'b', 'c' };
    static const uint8_t b[] = { 0x06, 0x01, 0x03, 'X', 'c', 'd' };
    size_t eo;
    quic_crypto_init(&g_crypto);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, a, sizeof(a), &eo), DS_OK);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, b, sizeof(b), &eo), DS_OK);
    struct span s = quic_crypto_contiguous(&g_crypto);
    ck_assert_uint_eq(s.len, 4);
    ck_assert_mem_eq(s.p, "abcd", 4);
    ck_assert_uint_eq(g_crypto.conflicts, 1);
}
END_TEST

/* The other reading: with last_wins set, a later differing byte replaces the held one. */
START_TEST(test_overlap_last_wins)
{
    static const uint8_t a[] = { 0x06, 0x00, 0x03, 'a', 'b', 'c' };
    static const uint8_t b[] = { 0x06, 0x01, 0x03, 'X', 'c', 'd' };
    size_t eo;
    quic_crypto_init(&g_crypto);
    g_crypto.last_wins = true;
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, a, sizeof(a), &eo), DS_OK);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, b, sizeof(b), &eo), DS_OK);
    struct span s = quic_crypto_contiguous(&g_crypto);
    ck_assert_uint_eq(s.len, 4);
    ck_assert_mem_eq(s.p, "aXcd", 4);
    ck_assert_uint_eq(g_crypto.conflicts, 1);
}
END_TEST

/* Two Initials coalesced in one datagram (RFC 9000 12.2): next_off leads from the first to the
 * second, and a packet that fails authentication still says where the next one starts. */
START_TEST(test_coalesced_failed_first)
{
    static const uint8_t f0[] = { 0x06, 0x00, 0x03, 'a', 'b', 'c' };
    static const uint8_t f1[] = { 0x06, 0x03, 0x02, 'd', 'e' };
    uint8_t d[1400];
    size_t n0 = seal_simple(QUIC_V1, 0, f0, sizeof(f0), 40, d);
    size_t n1 = seal_simple(QUIC_V1, 1, f1, sizeof(f1), 1100, d + n0);
    d[n0 - 1] ^= 0x01; /* break the first packet's tag */
    struct quic_initial qi;
    size_t eo;
    const uint8_t *g = guarded(d, n0 + n1);
    ck_assert_int_eq(
        quic_initial_parse(g_ctx, g, n0 + n1, NULL, g_plain, sizeof(g_plain), &qi, &eo),
        DS_MALFORMED);
    ck_assert_uint_eq(qi.next_off, n0);
    ck_assert_int_eq(
        quic_initial_parse(g_ctx, g + n0, n1, NULL, g_plain, sizeof(g_plain), &qi, &eo), DS_OK);
    ck_assert_uint_eq(qi.pn, 1);
    ck_assert_uint_eq(qi.frames.p[0], 0x06);
    /* A header that does not parse gives no next_off. */
    static const uint8_t bad[] = { 0xc0, 0, 0, 0, 1, 21 };
    ck_assert_int_eq(quic_initial_parse(g_ctx, guarded(bad, sizeof(bad)), sizeof(bad), NULL,
                                        g_plain, sizeof(g_plain), &qi, &eo),
                     DS_MALFORMED);
    ck_assert_uint_eq(qi.next_off, 0);
}
END_TEST

/* ---- sealing: the server Initial of RFC 9001 A.3, the close Initial of EVASION Q7 ----------- */

static const char rfc9001_server_frames_hex[] =
    "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739"
    "88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94"
    "0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00"
    "020304";
static const char rfc9001_server_packet_hex[] =
    "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a"
    "5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3"
    "dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84"
    "022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4"
    "2158407dd074ee";

/* quic_initial_seal() with the server keys reproduces RFC 9001 A.3 byte for byte. */
START_TEST(test_seal_rfc9001_server_initial)
{
    static const uint8_t scid[] = { 0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5 };
    uint8_t frames[256], want[256], got[256];
    size_t fl = from_hex(rfc9001_server_frames_hex, frames, sizeof(frames));
    size_t wl = from_hex(rfc9001_server_packet_hex, want, sizeof(want));
    struct quic_keys k;
    ck_assert_int_eq(quic_keys_derive(g_ctx, QUIC_V1, rfc_dcid, 8, true, &k), 0);
    struct quic_seal sl = {
        .scid = scid, .scid_len = 8, .pn = 1, .pn_len = 2, .frames = frames, .frames_len = fl
    };
    ck_assert_uint_eq(quic_initial_seal(g_ctx, &k, &sl, got, sizeof(got)), wl);
    ck_assert_mem_eq(got, want, wl);
    /* one byte short of room: refused, not truncated */
    ck_assert_uint_eq(quic_initial_seal(g_ctx, &k, &sl, got, wl - 1), 0);
    sl.pn_len = 5;
    ck_assert_uint_eq(quic_initial_seal(g_ctx, &k, &sl, got, sizeof(got)), 0);
}
END_TEST

/* Opens a server Initial with hard-coded keys and direct OpenSSL calls (not quic.c): checks the
 * header, removes header protection, decrypts, and returns the plaintext length. */
static size_t open_independently(const uint8_t *pkt, size_t n, uint32_t version,
                                 const char *key_hex, const char *iv_hex, const char *hp_hex,
                                 const uint8_t *want_scid, size_t want_scid_len, uint8_t *plain)
{
    uint8_t key[16], iv[12], hp[16], hdr[64];
    ck_assert_uint_eq(from_hex(key_hex, key, 16), 16);
    ck_assert_uint_eq(from_hex(iv_hex, iv, 12), 12);
    ck_assert_uint_eq(from_hex(hp_hex, hp, 16), 16);
    ck_assert_uint_eq(pkt[0] & 0xc0, 0xc0);
    ck_assert_uint_eq((pkt[0] >> 4) & 3, version == QUIC_V2 ? 1 : 0);
    ck_assert_uint_eq(
        (uint32_t)pkt[1] << 24 | (uint32_t)pkt[2] << 16 | (uint32_t)pkt[3] << 8 | pkt[4], version);
    ck_assert_uint_eq(pkt[5], 0); /* DCID: the client's SCID, empty in the RFC Initial */
    ck_assert_uint_eq(pkt[6], want_scid_len);
    ck_assert_mem_eq(pkt + 7, want_scid, want_scid_len);
    size_t o = 7 + want_scid_len;
    ck_assert_uint_eq(pkt[o], 0); /* token length */
    o++;
    ck_assert_uint_eq(pkt[o] & 0xc0, 0x40);
    size_t length = (size_t)(pkt[o] & 0x3f) << 8 | pkt[o + 1];
    o += 2;
    ck_assert_uint_eq(o + length, n);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t mask[32];
    int outl = 0;
    ck_assert_int_eq(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, hp, NULL), 1);
    EVP_CIPHER_CTX_set_padding(c, 0);
    ck_assert_int_eq(EVP_EncryptUpdate(c, mask, &outl, pkt + o + 4, 16), 1);
    memcpy(hdr, pkt, o);
    hdr[0] ^= mask[0] & 0x0f;
    size_t pn_len = (size_t)(hdr[0] & 3) + 1;
    uint32_t pn = 0;
    for (size_t i = 0; i < pn_len; i++) {
        hdr[o + i] = pkt[o + i] ^ mask[1 + i];
        pn = pn << 8 | hdr[o + i];
    }
    ck_assert_uint_eq(pn, 0);
    size_t hl = o + pn_len, ct = n - hl - 16;
    uint8_t nonce[12];
    memcpy(nonce, iv, 12);
    ck_assert_int_eq(EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, nonce), 1);
    ck_assert_int_eq(EVP_DecryptUpdate(c, NULL, &outl, hdr, (int)hl), 1);
    ck_assert_int_eq(EVP_DecryptUpdate(c, plain, &outl, pkt + hl, (int)ct), 1);
    ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(pkt + n - 16)), 1);
    ck_assert_int_eq(EVP_DecryptFinal_ex(c, plain + ct, &outl), 1);
    EVP_CIPHER_CTX_free(c);
    return ct;
}

/* The close Initial built from the RFC client Initial opens under the RFC's server keys (v1:
 * RFC 9001 A.1, v2: RFC 9369 A.1) to CONNECTION_CLOSE + PADDING, in a 1200-byte datagram. */
START_TEST(test_close_initial_rfc_keys)
{
    static const struct {
        uint32_t version;
        const char *pkt_hex, *key, *iv, *hp;
    } v[] = {
        { QUIC_V1, rfc9001_packet_hex, "cf3a5331653c364c88f0f379b6067e37",
          "0ac1493ca1905853b0bba03e", "c206b8d9b9f0f37644430b490eeaa314" },
        { QUIC_V2, rfc9369_packet_hex, "82db637861d55e1d011f19ea71d5d2a7",
          "dd13c276499c0249d3310652", "edf6d05c83121201b436e16877593c3a" },
    };
    for (size_t i = 0; i < 2; i++) {
        static uint8_t cli[1300], out[1300], plain[1300];
        size_t cn = from_hex(v[i].pkt_hex, cli, sizeof(cli));
        struct quic_initial qi;
        size_t eo;
        ck_assert_int_eq(
            quic_initial_parse(g_ctx, cli, cn, NULL, g_plain, sizeof(g_plain), &qi, &eo), DS_OK);
        size_t n = quic_close_initial(g_ctx, qi.version, qi.dcid.p, qi.dcid.len, qi.scid.p,
                                      qi.scid.len, 0x0128, out, sizeof(out));
        ck_assert_uint_eq(n, QUIC_MIN_DATAGRAM);
        size_t pl = open_independently(out, n, v[i].version, v[i].key, v[i].iv, v[i].hp, rfc_dcid,
                                       8, plain);
        static const uint8_t want[] = {
            0x1c, 0x41, 0x28, 0x00, 7, 'b', 'l', 'o', 'c', 'k', 'e', 'd'
        };
        ck_assert_mem_eq(plain, want, sizeof(want));
        for (size_t j = sizeof(want); j < pl; j++)
            ck_assert_uint_eq(plain[j], 0);
        /* and the library's frame walker agrees: a CONNECTION_CLOSE, nothing else */
        quic_crypto_init(&g_crypto);
        ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, plain, pl, &eo), DS_OK);
        ck_assert(g_crypto.closed);
        ck_assert_uint_eq(g_crypto.crypto_frames, 0);
    }
    static uint8_t out[1300];
    ck_assert_uint_eq(quic_close_initial(g_ctx, QUIC_V1, rfc_dcid, 8, NULL, 0, 0x0128, out, 1199),
                      0);
    ck_assert_uint_eq(
        quic_close_initial(g_ctx, 0x1a2a3a4a, rfc_dcid, 8, NULL, 0, 0x0128, out, sizeof(out)), 0);
    ck_assert_uint_eq(
        quic_close_initial(g_ctx, QUIC_V1, rfc_dcid, 21, NULL, 0, 0x0128, out, sizeof(out)), 0);
    ck_assert_uint_eq(quic_close_initial(g_ctx, QUIC_V1, rfc_dcid, 8, NULL, 0, (uint64_t)1 << 30,
                                         out, sizeof(out)),
                      0);
}
END_TEST

/* ---- not mine ------------------------------------------------------------------------------- */

START_TEST(test_not_mine)
{
    static const struct {
        uint8_t b[24];
        size_t n;
    } cases[] = {
        { { 0x40, 1, 2, 3, 4, 5, 6, 7, 8 }, 9 },                                /* short header */
        { { 0xc0, 0, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 1 }, 19 }, /* VN */
        { { 0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x41, 0 }, 18 },
        { { 0x80, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x41, 0 }, 18 },    /* fixed bit */
        { { 0xf0, 0, 0, 0, 1, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9 }, 19 },    /* v1 Retry */
        { { 0xc0, 0x6b, 0x33, 0x43, 0xcf, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 16 }, /* v2 Retry */
        { { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 }, 6 }, /* TLS, not QUIC */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct quic_initial qi;
        size_t eo;
        const uint8_t *g = guarded(cases[i].b, cases[i].n);
        ck_assert_msg(quic_initial_parse(g_ctx, g, cases[i].n, NULL, g_plain, sizeof(g_plain), &qi,
                                         &eo) == DS_NOT_MINE,
                      "case %zu", i);
    }
}
END_TEST

/* ---- malformed ------------------------------------------------------------------------------ */

/* Q3: any single changed byte fails; in the DCID and everything after the Length field it is
 * the AEAD tag check that catches it. */
START_TEST(test_corrupted_byte_fails_auth)
{
    uint8_t pkt[1300];
    size_t n = from_hex(rfc9001_packet_hex, pkt, sizeof(pkt));
    for (size_t i = 0; i < n; i++) {
        struct quic_initial qi;
        size_t eo = 0;
        pkt[i] ^= 0x01;
        enum dstatus st =
            quic_initial_parse(g_ctx, pkt, n, NULL, g_plain, sizeof(g_plain), &qi, &eo);
        pkt[i] ^= 0x01;
        ck_assert_msg(st != DS_OK, "byte %zu flipped still decrypts", i);
        if ((i >= 6 && i < 14) || i >= 18) {
            ck_assert_msg(st == DS_MALFORMED, "byte %zu: %s", i, dstatus_name(st));
            ck_assert_uint_eq(eo, 1200 - 16);
        }
    }
}
END_TEST

START_TEST(test_fake_initial_garbage)
{
    uint8_t pkt[1300];
    size_t n = from_hex(rfc9001_packet_hex, pkt, sizeof(pkt));
    for (size_t i = 18; i < n; i++)
        pkt[i] = (uint8_t)(i * 131 + 7);
    struct quic_initial qi;
    size_t eo;
    ck_assert_int_eq(quic_initial_parse(g_ctx, pkt, n, NULL, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_MALFORMED);
}
END_TEST

START_TEST(test_bad_header_fields)
{
    uint8_t pkt[1300];
    size_t n = from_hex(rfc9001_packet_hex, pkt, sizeof(pkt));
    struct quic_initial qi;
    size_t eo;
    pkt[5] = 21; /* DCID longer than 20 */
    ck_assert_int_eq(quic_initial_parse(g_ctx, pkt, n, NULL, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_MALFORMED);
    ck_assert_uint_eq(eo, 5);
    pkt[5] = 8;
    pkt[14] = 200; /* SCID longer than 20 */
    ck_assert_int_eq(quic_initial_parse(g_ctx, pkt, n, NULL, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_MALFORMED);
    ck_assert_uint_eq(eo, 14);
    pkt[14] = 0;
    pkt[16] = 0x40; /* Length 19: no room for the sample */
    pkt[17] = 19;
    ck_assert_int_eq(quic_initial_parse(g_ctx, pkt, n, NULL, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_MALFORMED);
    ck_assert_uint_eq(eo, 16);
}
END_TEST

START_TEST(test_bad_frames)
{
    static const struct {
        uint8_t b[16];
        size_t n;
        size_t err_off;
    } cases[] = {
        { { 0x01, 0x08, 0x00 }, 3, 1 },                  /* STREAM in an Initial */
        { { 0x1d, 0, 0, 0 }, 4, 0 },                     /* application CLOSE */
        { { 0x00, 0x00, 0x06, 0x00, 0x05, 'a' }, 6, 2 }, /* CRYPTO data cut */
        { { 0x02, 0x05, 0x00, 0x03, 0x00 }, 5, 0 },      /* ACK ranges cut */
        { { 0x1c, 0x00, 0x00, 0x09, 'x' }, 5, 0 },       /* reason cut */
        { { 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'z' }, 11, 0 },
        { { 0x40 }, 1, 0 }, /* varint type cut */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t eo = 999;
        quic_crypto_init(&g_crypto);
        const uint8_t *g = guarded(cases[i].b, cases[i].n);
        ck_assert_msg(quic_crypto_add_frames(&g_crypto, g, cases[i].n, &eo) == DS_MALFORMED,
                      "case %zu", i);
        ck_assert_msg(eo == cases[i].err_off, "case %zu: err_off %zu", i, eo);
    }
    size_t eo;
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, g_plain, 0, &eo), DS_MALFORMED);
}
END_TEST

START_TEST(test_hello_not_client_hello)
{
    /* A ServerHello-typed message in the client's CRYPTO stream. */
    static const uint8_t f[] = { 0x06, 0x00, 0x08, 0x02, 0x00, 0x00, 0x04, 0x03, 0x03, 0, 0 };
    size_t eo;
    struct tls_hello th;
    quic_crypto_init(&g_crypto);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, f, sizeof(f), &eo), DS_OK);
    ck_assert_int_eq(quic_crypto_hello(&g_crypto, &th, &eo), DS_MALFORMED);
}
END_TEST

/* ---- truncated ------------------------------------------------------------------------------ */

START_TEST(test_datagram_prefixes_need_more)
{
    uint8_t pkt[1300];
    size_t n = from_hex(rfc9001_packet_hex, pkt, sizeof(pkt));
    for (size_t i = 0; i < n; i++) {
        struct quic_initial qi;
        size_t eo = 0;
        const uint8_t *g = guarded(pkt, i);
        enum dstatus st = quic_initial_parse(g_ctx, g, i, NULL, g_plain, sizeof(g_plain), &qi, &eo);
        ck_assert_msg(st == DS_NEED_MORE, "prefix %zu: %s", i, dstatus_name(st));
        ck_assert_uint_eq(eo, i);
    }
}
END_TEST

START_TEST(test_frame_prefixes)
{
    uint8_t frames[1200] = { 0 };
    from_hex(rfc_client_frames_hex, frames, sizeof(frames));
    for (size_t i = 0; i <= 1162; i++) {
        size_t eo;
        quic_crypto_init(&g_crypto);
        enum dstatus st = quic_crypto_add_frames(&g_crypto, guarded(frames, i), i, &eo);
        if (i < 245)
            ck_assert_msg(st == DS_MALFORMED, "prefix %zu: %s", i, dstatus_name(st));
        else
            ck_assert_msg(st == DS_OK, "prefix %zu: %s", i, dstatus_name(st));
    }
}
END_TEST

START_TEST(test_hello_prefixes_need_more)
{
    uint8_t hello[4096], scratch[QUIC_CRYPTO_MAX + 5];
    size_t h = build_hello("prefix.example", hello, sizeof(hello));
    for (size_t i = 0; i < h; i++) {
        struct tls_hello th;
        size_t eo;
        enum dstatus st =
            quic_hello_parse(guarded(hello, i), i, scratch, sizeof(scratch), &th, &eo);
        ck_assert_msg(st == DS_NEED_MORE, "prefix %zu: %s", i, dstatus_name(st));
    }
    struct tls_hello th;
    size_t eo;
    ck_assert_int_eq(quic_hello_parse(guarded(hello, h), h, scratch, sizeof(scratch), &th, &eo),
                     DS_OK);
    ck_assert(span_is(th.sni, "prefix.example"));
    ck_assert(th.sni.p >= scratch && th.sni.p < scratch + sizeof(scratch));
}
END_TEST

/* ---- limits --------------------------------------------------------------------------------- */

START_TEST(test_plain_buffer_limit)
{
    uint8_t pkt[1300];
    size_t n = from_hex(rfc9001_packet_hex, pkt, sizeof(pkt));
    struct quic_initial qi;
    size_t eo;
    ck_assert_int_eq(quic_initial_parse(g_ctx, pkt, n, NULL, g_plain, 1161, &qi, &eo), DS_LIMIT);
    ck_assert_int_eq(quic_initial_parse(g_ctx, pkt, n, NULL, g_plain, 1162, &qi, &eo), DS_OK);
}
END_TEST

START_TEST(test_crypto_buffer_limit)
{
    /* CRYPTO at offset 16380, 10 bytes: 4 stored, 6 clipped. */
    static const uint8_t f[] = { 0x06, 0x7f, 0xfc, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
    static const uint8_t far[] = { 0x01, 0x06, 0x80, 0x01, 0x00, 0x00, 0x02, 'x', 'y' };
    size_t eo;
    quic_crypto_init(&g_crypto);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, f, sizeof(f), &eo), DS_LIMIT);
    ck_assert_uint_eq(eo, 0);
    ck_assert_uint_eq(g_crypto.clipped, 6);
    ck_assert_uint_eq(g_crypto.high, QUIC_CRYPTO_MAX);
    ck_assert_uint_eq(quic_crypto_contiguous(&g_crypto).len, 0);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, far, sizeof(far), &eo), DS_LIMIT);
    ck_assert_uint_eq(eo, 1);
    ck_assert_uint_eq(g_crypto.clipped, 8);
}
END_TEST

START_TEST(test_packet_count_limit)
{
    static const uint8_t ping[] = { 0x01 };
    size_t eo;
    quic_crypto_init(&g_crypto);
    for (unsigned i = 0; i < QUIC_CRYPTO_MAX_PACKETS; i++)
        ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, ping, 1, &eo), DS_OK);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, ping, 1, &eo), DS_LIMIT);
    ck_assert_uint_eq(g_crypto.packets, QUIC_CRYPTO_MAX_PACKETS);
}
END_TEST

START_TEST(test_hello_too_long)
{
    /* Handshake header announcing 16381 bytes: 16385 with its header > QUIC_CRYPTO_MAX. */
    static const uint8_t f[] = { 0x06, 0x00, 0x04, 0x01, 0x00, 0x3f, 0xfd };
    size_t eo;
    struct tls_hello th;
    quic_crypto_init(&g_crypto);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, f, sizeof(f), &eo), DS_OK);
    ck_assert_int_eq(quic_crypto_hello(&g_crypto, &th, &eo), DS_LIMIT);
    /* 16380 + 4 fits exactly: a valid prefix waits for more. */
    static const uint8_t g[] = { 0x06, 0x00, 0x04, 0x01, 0x00, 0x3f, 0xfc };
    quic_crypto_init(&g_crypto);
    ck_assert_int_eq(quic_crypto_add_frames(&g_crypto, g, sizeof(g), &eo), DS_OK);
    ck_assert_int_eq(quic_crypto_hello(&g_crypto, &th, &eo), DS_NEED_MORE);
    /* Scratch too small for a bare hello. */
    uint8_t hello[4096], scratch[600];
    size_t h = build_hello("small.example", hello, sizeof(hello));
    ck_assert_int_eq(quic_hello_parse(hello, h, scratch, sizeof(scratch), &th, &eo), DS_LIMIT);
    ck_assert_int_eq(quic_hello_parse(hello, h, scratch, 5, &th, &eo), DS_LIMIT);
}
END_TEST

START_TEST(test_short_datagram_flag)
{
    uint8_t frames[300], pkt[1300];
    size_t fl = from_hex(rfc_client_frames_hex, frames, sizeof(frames));
    size_t n = seal_simple(QUIC_V1, 0, frames, fl, fl, pkt);
    ck_assert_uint_lt(n, QUIC_MIN_DATAGRAM);
    struct quic_initial qi;
    size_t eo;
    ck_assert_int_eq(quic_initial_parse(g_ctx, pkt, n, NULL, g_plain, sizeof(g_plain), &qi, &eo),
                     DS_OK);
    ck_assert(qi.short_datagram);
}
END_TEST

START_TEST(test_ctx_free_null)
{
    quic_ctx_free(NULL);
    struct quic_ctx *c = quic_ctx_new();
    ck_assert_ptr_nonnull(c);
    quic_ctx_free(c);
}
END_TEST

/* quic_long_type(): v1 / draft-29 numbering, v2's mapped to it, Version Negotiation; short
 * headers, other versions, a missing fixed bit and short buffers are none. */
START_TEST(test_long_type)
{
    uint8_t b[5] = { 0, 0, 0, 0, 1 };
    for (unsigned t = 0; t < 4; t++) {
        b[0] = (uint8_t)(0xc0 | t << 4);
        b[1] = b[2] = b[3] = 0;
        b[4] = 1; /* v1 */
        ck_assert_int_eq(quic_long_type(b, 5), (int)t);
        b[1] = 0xff;
        b[4] = 0x1d; /* draft-29 */
        ck_assert_int_eq(quic_long_type(b, 5), (int)t);
        b[1] = 0x6b, b[2] = 0x33, b[3] = 0x43, b[4] = 0xcf; /* v2: Initial is 1, Handshake 3 */
        ck_assert_int_eq(quic_long_type(b, 5), (int)((t + 3) % 4));
    }
    b[0] = 0xe0;
    ck_assert_int_eq(quic_long_type(b, 4), QUIC_LT_NONE); /* short */
    b[1] = 0x0a, b[2] = 0x0a, b[3] = 0x0a, b[4] = 0x0a;   /* another version (GREASE) */
    ck_assert_int_eq(quic_long_type(b, 5), QUIC_LT_NONE);
    b[1] = b[2] = b[3] = b[4] = 0;
    b[0] = 0x80; /* Version Negotiation: the other bits are arbitrary */
    ck_assert_int_eq(quic_long_type(b, 5), QUIC_LT_VN);
    b[0] = 0xa0, b[4] = 1; /* v1 without the fixed bit */
    ck_assert_int_eq(quic_long_type(b, 5), QUIC_LT_NONE);
    b[0] = 0x40; /* a short header */
    ck_assert_int_eq(quic_long_type(b, 5), QUIC_LT_NONE);
    b[0] = 0x16, b[1] = 0xfe, b[2] = 0xfd; /* a DTLS 1.2 handshake record */
    ck_assert_int_eq(quic_long_type(b, 5), QUIC_LT_NONE);
}
END_TEST

static Suite *quic_suite(void)
{
    Suite *s = suite_create("quic");
    TCase *tc = tcase_create("valid");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_keys_rfc_vectors);
    tcase_add_test(tc, test_sealer_matches_rfc);
    tcase_add_test(tc, test_rfc9001_client_initial);
    tcase_add_test(tc, test_rfc9369_v2_client_initial);
    tcase_add_test(tc, test_two_packets_out_of_order);
    tcase_add_test(tc, test_v2_and_draft29_roundtrip);
    tcase_add_test(tc, test_coalesced);
    tcase_add_test(tc, test_explicit_keys_after_dcid_change);
    tcase_add_test(tc, test_frames_ack_close_ping);
    tcase_add_test(tc, test_overlap_first_wins);
    tcase_add_test(tc, test_overlap_last_wins);
    tcase_add_test(tc, test_coalesced_failed_first);
    tcase_add_test(tc, test_seal_rfc9001_server_initial);
    tcase_add_test(tc, test_close_initial_rfc_keys);
    tcase_add_test(tc, test_ctx_free_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("not_mine");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_not_mine);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_corrupted_byte_fails_auth);
    tcase_add_test(tc, test_fake_initial_garbage);
    tcase_add_test(tc, test_bad_header_fields);
    tcase_add_test(tc, test_bad_frames);
    tcase_add_test(tc, test_hello_not_client_hello);
    suite_add_tcase(s, tc);

    tc = tcase_create("truncated");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_datagram_prefixes_need_more);
    tcase_add_test(tc, test_frame_prefixes);
    tcase_add_test(tc, test_hello_prefixes_need_more);
    suite_add_tcase(s, tc);

    tc = tcase_create("limit");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_plain_buffer_limit);
    tcase_add_test(tc, test_crypto_buffer_limit);
    tcase_add_test(tc, test_packet_count_limit);
    tcase_add_test(tc, test_hello_too_long);
    tcase_add_test(tc, test_short_datagram_flag);
    tcase_add_test(tc, test_long_type);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(quic_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
