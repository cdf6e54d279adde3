/* check_sign.c - detached CMS signatures of order files. A CA, a signer it certifies and a
 * stranger CA are made with the openssl command in a temporary directory; the order file is
 * signed with `openssl cms -sign -binary -outform DER` (and PEM). Valid, tampered, untrusted,
 * garbage and unsigned cases, the policy, and the result stored in records. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/orders/ordimport.h"
#include "rules/orders/ordjson.h"
#include "rules/orders/sign.h"

static char dir[64];
static bool made;

static const char order_text[] =
    "{\"id\":\"S-1\",\"issuer\":\"Ministry\",\"legal_basis\":\"Art. 41-1\","
    "\"issued\":\"2026-11-20T10:00:00Z\",\"resources\":[\"signed.example\"]}\n";

/* Runs "cd DIR && what" (quiet). */
static int sh(const char *what)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cd '%s' && { %s; } >/dev/null 2>&1", dir, what);
    return system(cmd);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qg-sign-XXXXXX");
    if (!mkdtemp(dir))
        return;
    char p[128];
    snprintf(p, sizeof(p), "%s/order.json", dir);
    FILE *f = fopen(p, "wb");
    if (!f)
        return;
    fwrite(order_text, 1, strlen(order_text), f);
    fclose(f);
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    char cmd[1024];
    snprintf(
        cmd, sizeof(cmd),
        "openssl req -x509 %s -keyout ca.key -out ca.pem -subj '/CN=Test Regulator CA' -days 30 "
        "&& openssl req -x509 %s -keyout other.key -out other.pem -subj '/CN=Stranger CA' -days 30 "
        "&& openssl req %s -keyout s.key -out s.csr -subj '/O=Ministry/CN=Order Signer' "
        "&& openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out s.pem -days "
        "30 "
        "&& openssl cms -sign -binary -outform DER -in order.json -signer s.pem -inkey s.key -out "
        "order.json.sig "
        "&& openssl cms -sign -binary -outform PEM -in order.json -signer s.pem -inkey s.key -out "
        "order.json.pem "
        "&& openssl cms -sign -binary -noattr -outform DER -in order.json -signer s.pem -inkey "
        "s.key "
        "-out noattr.sig",
        ec, ec, ec);
    made = sh(cmd) == 0;
}

static void teardown(void)
{
    if (dir[0] && strncmp(dir, "/tmp/qg-sign-", 13) == 0) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "check_sign: could not remove %s\n", dir);
    }
}

static uint8_t *slurp(const char *name, size_t *len)
{
    char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "%s", p);
    uint8_t *buf = malloc(65536);
    *len = fread(buf, 1, 65536, f);
    fclose(f);
    return buf;
}

static void anchors(const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", dir, name);
}

START_TEST(test_valid_der_and_pem)
{
    ck_assert_msg(made, "openssl could not make the test PKI in %s", dir);
    size_t dl, sl;
    uint8_t *data = slurp("order.json", &dl), *sig = slurp("order.json.sig", &sl);
    char ca[128];
    anchors("ca.pem", ca, sizeof(ca));
    struct order_signature s = { 0 };
    ck_assert_int_eq(sign_verify(data, dl, sig, sl, ca, &s), 0);
    ck_assert_msg(s.status == ORDER_SIG_VALID, "%s", s.reason ? s.reason : "");
    ck_assert_str_eq(s.signer, "CN=Order Signer,O=Ministry");
    ck_assert_ptr_nonnull(s.time);
    int64_t ts;
    ck_assert(order_time_parse(s.time, &ts));
    ck_assert_int_gt(ts, 1700000000);
    ck_assert_ptr_null(s.reason);
    free(sig);
    sig = slurp("order.json.pem", &sl);
    ck_assert_int_eq(sign_verify(data, dl, sig, sl, ca, &s), 0);
    ck_assert_int_eq(s.status, ORDER_SIG_VALID);
    free(sig);
    /* without signed attributes: valid, no signing time */
    sig = slurp("noattr.sig", &sl);
    ck_assert_int_eq(sign_verify(data, dl, sig, sl, ca, &s), 0);
    ck_assert_int_eq(s.status, ORDER_SIG_VALID);
    ck_assert_ptr_null(s.time);
    sign_clear(&s);
    free(sig);
    free(data);
}
END_TEST

START_TEST(test_tampered)
{
    ck_assert(made);
    size_t dl, sl;
    uint8_t *data = slurp("order.json", &dl), *sig = slurp("order.json.sig", &sl);
    char ca[128];
    anchors("ca.pem", ca, sizeof(ca));
    data[10] ^= 1; /* "S-1" becomes "S-0" */
    struct order_signature s = { 0 };
    ck_assert_int_eq(sign_verify(data, dl, sig, sl, ca, &s), 0);
    ck_assert_int_eq(s.status, ORDER_SIG_INVALID);
    ck_assert_ptr_nonnull(s.reason);
    ck_assert_msg(strstr(s.reason, "verif") != NULL || strstr(s.reason, "digest") != NULL, "%s",
                  s.reason);
    ck_assert_str_eq(s.signer, "CN=Order Signer,O=Ministry"); /* who claims to have signed */
    /* one byte more at the end is tampering too */
    data[10] ^= 1;
    data[dl] = '\n';
    ck_assert_int_eq(sign_verify(data, dl + 1, sig, sl, ca, &s), 0);
    ck_assert_int_eq(s.status, ORDER_SIG_INVALID);
    sign_clear(&s);
    free(sig);
    free(data);
}
END_TEST

START_TEST(test_untrusted_garbage_no_anchors)
{
    ck_assert(made);
    size_t dl, sl;
    uint8_t *data = slurp("order.json", &dl), *sig = slurp("order.json.sig", &sl);
    char other[128];
    anchors("other.pem", other, sizeof(other));
    struct order_signature s = { 0 };
    ck_assert_int_eq(sign_verify(data, dl, sig, sl, other, &s), 0);
    ck_assert_int_eq(s.status, ORDER_SIG_INVALID);
    ck_assert_msg(strstr(s.reason, "unable to get local issuer certificate") != NULL, "%s",
                  s.reason);
    ck_assert_int_eq(sign_verify(data, dl, (const uint8_t *)"garbage", 7, other, &s), 0);
    ck_assert_int_eq(s.status, ORDER_SIG_INVALID);
    ck_assert_int_eq(strncmp(s.reason, "not a CMS signature", 19), 0);
    ck_assert_ptr_null(s.signer);
    ck_assert_int_eq(sign_verify(data, dl, sig, sl, "/nonexistent/anchors.pem", &s), 0);
    ck_assert_int_eq(s.status, ORDER_SIG_INVALID);
    ck_assert_int_eq(strncmp(s.reason, "cannot load trust anchors '/nonexistent/anchors.pem'", 52),
                     0);
    ck_assert_int_eq(sign_verify(data, dl, sig, sl, NULL, &s), 0);
    ck_assert_int_eq(s.status, ORDER_SIG_INVALID);
    /* a bundle holding the stranger and the CA: the chain is found */
    char both[160];
    snprintf(both, sizeof(both), "%s/both.pem", dir);
    ck_assert_int_eq(sh("cat other.pem ca.pem > both.pem"), 0);
    ck_assert_int_eq(sign_verify(data, dl, sig, sl, both, &s), 0);
    ck_assert_int_eq(s.status, ORDER_SIG_VALID);
    sign_clear(&s);
    free(sig);
    free(data);
}
END_TEST

START_TEST(test_policy_and_records)
{
    struct order_signature none = { 0 }, valid = { ORDER_SIG_VALID, NULL, NULL, NULL },
                           bad = { ORDER_SIG_INVALID, NULL, NULL, (char *)"digest failure" };
    ck_assert(sign_acceptable(&none, SIGN_ACCEPT_ANY));
    ck_assert(sign_acceptable(&bad, SIGN_ACCEPT_ANY));
    ck_assert(sign_acceptable(&none, SIGN_REFUSE_INVALID));
    ck_assert(!sign_acceptable(&bad, SIGN_REFUSE_INVALID));
    ck_assert(sign_acceptable(&valid, SIGN_REFUSE_INVALID));
    ck_assert(!sign_acceptable(&none, SIGN_REQUIRE_VALID));
    ck_assert(!sign_acceptable(&bad, SIGN_REQUIRE_VALID));
    ck_assert(sign_acceptable(&valid, SIGN_REQUIRE_VALID));
    /* the result is kept in each record of the file, and in the canonical JSON */
    struct order_list l = { 0 };
    char err[512];
    ck_assert_int_eq(ordjson_parse("o.json", (const uint8_t *)order_text, strlen(order_text), 0, &l,
                                   err, sizeof(err)),
                     0);
    ck_assert_int_eq(sign_apply(&l, 0, &bad), 0);
    ck_assert_int_eq(l.v[0]->sig.status, ORDER_SIG_INVALID);
    ck_assert_str_eq(l.v[0]->sig.reason, "digest failure");
    char *j = order_to_json(l.v[0]);
    ck_assert_ptr_nonnull(
        strstr(j, "\"signature\":{\"status\":\"invalid\",\"signer\":null,\"time\":null,"
                  "\"reason\":\"digest failure\"}"));
    free(j);
    order_list_free(&l);
}
END_TEST

/* ordimport: a file and its FILE.sig, the policy, format detection */
START_TEST(test_import_files)
{
    ck_assert(made);
    char ca[128], path[160], err[512];
    anchors("ca.pem", ca, sizeof(ca));
    struct ordimport_opts o = { ca, SIGN_REQUIRE_VALID, 1800000000, NULL, NULL };
    struct order_list l = { 0 };
    snprintf(path, sizeof(path), "%s/order.json", dir);
    ck_assert_msg(ordimport_file(path, &o, &l, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_int_eq(l.v[0]->sig.status, ORDER_SIG_VALID);
    ck_assert_str_eq(l.v[0]->sig.signer, "CN=Order Signer,O=Ministry");
    ck_assert_str_eq(l.v[0]->source, path);
    /* a tampered copy with the same signature: refused, or kept as invalid when policy allows */
    ck_assert_int_eq(sh("sed 's/signed.example/evil.example/' order.json > t.json && cp "
                        "order.json.sig t.json.sig"),
                     0);
    snprintf(path, sizeof(path), "%s/t.json", dir);
    o.policy = SIGN_REFUSE_INVALID;
    ck_assert_int_eq(ordimport_file(path, &o, &l, err, sizeof(err)), -EPERM);
    ck_assert_msg(strstr(err, "t.json: refused: signature not valid: ") != NULL, "%s", err);
    ck_assert_uint_eq(l.n, 1);
    o.policy = SIGN_ACCEPT_ANY;
    ck_assert_int_eq(ordimport_file(path, &o, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(l.n, 2);
    ck_assert_int_eq(l.v[1]->sig.status, ORDER_SIG_INVALID);
    ck_assert_str_eq(l.v[1]->res[0].norm, "evil.example");
    /* unsigned */
    ck_assert_int_eq(
        sh("printf 'id,issuer,issued,resource\\nC1,I,2026-01-01,csv.example\\n' > u.csv"), 0);
    snprintf(path, sizeof(path), "%s/u.csv", dir);
    o.policy = SIGN_REQUIRE_VALID;
    ck_assert_int_eq(ordimport_file(path, &o, &l, err, sizeof(err)), -EPERM);
    ck_assert_msg(strstr(err, "u.csv: refused: not signed (no ") != NULL, "%s", err);
    o.policy = SIGN_REFUSE_INVALID;
    ck_assert_int_eq(ordimport_file(path, &o, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(l.n, 3);
    ck_assert_str_eq(l.v[2]->id, "C1");
    ck_assert_int_eq(l.v[2]->sig.status, ORDER_SIG_NONE);
    /* signed, but no anchors configured: invalid */
    o.anchors = NULL;
    snprintf(path, sizeof(path), "%s/order.json", dir);
    ck_assert_int_eq(ordimport_file(path, &o, &l, err, sizeof(err)), -EPERM);
    ck_assert_msg(strstr(err, "no trust anchors configured") != NULL, "%s", err);
    /* a missing file */
    ck_assert_int_eq(ordimport_file("/nonexistent/o.json", &o, &l, err, sizeof(err)), -ENOENT);
    ck_assert_str_eq(err, "orders: /nonexistent/o.json: cannot read: No such file or directory");
    ck_assert_uint_eq(l.n, 3);
    order_list_free(&l);
}
END_TEST

START_TEST(test_import_detect)
{
    static const struct {
        const char *in;
        enum ordimport_format f;
    } t[] = {
        { "{\"id\":1}", ORDIMPORT_JSON },
        { " \r\n[ ]", ORDIMPORT_JSON },
        { "\xEF\xBB\xBF{", ORDIMPORT_JSON },
        { "<?xml version", ORDIMPORT_DUMP },
        { "\n<register>", ORDIMPORT_DUMP },
        { "id,issuer", ORDIMPORT_CSV },
        { "", ORDIMPORT_CSV },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        ck_assert_msg(ordimport_detect((const uint8_t *)t[i].in, strlen(t[i].in)) == t[i].f, "%s",
                      t[i].in);
    ck_assert_str_eq(ordimport_format_name(ORDIMPORT_DUMP), "dump.xml");
    /* a malformed file through the import: the importer's message, nothing added */
    struct ordimport_opts o = { NULL, SIGN_ACCEPT_ANY, 0, NULL, NULL };
    struct order_list l = { 0 };
    char err[512];
    static const char bad[] = "<register><content/></register>";
    ck_assert_int_eq(ordimport_buffer("d.xml", (const uint8_t *)bad, strlen(bad), NULL, 0, &o, &l,
                                      err, sizeof(err)),
                     -EINVAL);
    ck_assert_str_eq(err, "orders: d.xml:1: content 1: missing attribute 'id'");
    ck_assert_uint_eq(l.n, 0);
    order_list_free(&l);
}
END_TEST

static Suite *sign_suite(void)
{
    Suite *s = suite_create("sign");
    TCase *tc = tcase_create("cms");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_valid_der_and_pem);
    tcase_add_test(tc, test_tampered);
    tcase_add_test(tc, test_untrusted_garbage_no_anchors);
    tcase_add_test(tc, test_policy_and_records);
    suite_add_tcase(s, tc);
    tc = tcase_create("ordimport");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_import_files);
    tcase_add_test(tc, test_import_detect);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sign_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
