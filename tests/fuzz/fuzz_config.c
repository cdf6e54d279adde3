/* fuzz_config.c - libFuzzer target: the configuration parser (common/config.c) with the
 * daemon's table (proxy/daemon/settings.c) over arbitrary file contents.
 *
 * Every input either loads (then it must print, load back from the printed text into an equal
 * struct, and be freed) or fails with one "config: " message; nothing may leak or over-read. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/daemon/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    /* Copy to an exact-size heap block so ASan catches a read past the end. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    struct settings *c = settings_load_buffer("fuzz", buf, size, err, sizeof(err));
    free(buf);
    if (!c) {
        if (strncmp(err, "config: fuzz", 12) != 0)
            abort();
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        settings_print(f, c);
        fclose(f);
        struct settings *b = settings_load_buffer("printed", text, len, err, sizeof(err));
        if (!b)
            abort(); /* what was printed must load */
        size_t n;
        const struct config_key *k = settings_keys(&n);
        for (size_t i = 0; i < n; i++)
            if (!config_key_equal(&k[i], c, b))
                abort();
        settings_free(b);
        free(text);
    }
    settings_free(c);
    return 0;
}
