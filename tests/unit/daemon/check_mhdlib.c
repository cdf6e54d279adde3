/* check_mhdlib.c - libmicrohttpd and GnuTLS loaded on demand (proxy/daemon/mhdlib.c): neither is
 * in the process before the first mhdlib_get() (the binary does not link them), every function
 * of the table is there after it, the table is the same on every call and from many threads at
 * once, and the functions work: the library's version, a response made and freed. */
#include <check.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/daemon/mhdlib.h"

struct find {
    const char *name;
    bool found;
};

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct find *f = arg;
    if (info->dlpi_name && strstr(info->dlpi_name, f->name))
        f->found = true;
    return 0;
}

static bool loaded(const char *name)
{
    struct find f = { name, false };
    dl_iterate_phdr(phdr_cb, &f);
    return f.found;
}

static void *getter(void *arg)
{
    (void)arg;
    char err[256];
    return (void *)mhdlib_get(err, sizeof(err));
}

START_TEST(test_loaded_on_demand)
{
    ck_assert(!loaded("libmicrohttpd"));
    ck_assert(!loaded("libgnutls"));
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, getter, NULL), 0);
    char err[256] = "";
    const struct mhdlib *m = mhdlib_get(err, sizeof(err));
    ck_assert_msg(m != NULL, "%s", err);
    for (int i = 0; i < 4; i++) {
        void *r;
        ck_assert_int_eq(pthread_join(th[i], &r), 0);
        ck_assert_ptr_eq(r, m);
    }
    ck_assert(loaded("libmicrohttpd.so.12"));
    ck_assert(loaded("libgnutls.so.30"));
    ck_assert(m->start_daemon != NULL);
    ck_assert(m->stop_daemon != NULL);
    ck_assert(m->quiesce_daemon != NULL);
    ck_assert(m->get_connection_info != NULL);
    ck_assert(m->lookup_connection_value != NULL);
    ck_assert(m->create_response_from_buffer != NULL);
    ck_assert(m->add_response_header != NULL);
    ck_assert(m->queue_response != NULL);
    ck_assert(m->destroy_response != NULL);
    ck_assert(m->certificate_verify_peers2 != NULL);
    ck_assert(m->certificate_get_peers != NULL);
    ck_assert(m->x509_crt_init != NULL);
    ck_assert(m->x509_crt_import != NULL);
    ck_assert(m->x509_crt_get_dn_by_oid != NULL);
    ck_assert(m->x509_crt_deinit != NULL);
    ck_assert_ptr_eq(mhdlib_get(err, sizeof(err)), m);
    static char body[] = "ok";
    struct MHD_Response *r = m->create_response_from_buffer(2, body, MHD_RESPMEM_PERSISTENT);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(m->add_response_header(r, "Cache-Control", "no-store"), MHD_YES);
    m->destroy_response(r);
    gnutls_x509_crt_t crt;
    ck_assert_int_eq(m->x509_crt_init(&crt), 0);
    m->x509_crt_deinit(crt);
}
END_TEST

static Suite *mhdlib_suite(void)
{
    Suite *s = suite_create("mhdlib");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_loaded_on_demand);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(mhdlib_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
