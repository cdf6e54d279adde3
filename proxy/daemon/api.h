/* api.h - one request to the admin HTTP API and its answer, shared by the API's handlers. */
#ifndef QG_API_H
#define QG_API_H

#include <stddef.h>
#include <stdint.h>

struct api_req {
    const char *method; /* "GET", "PUT", "POST", "DELETE" */
    const char *path;   /* after the mount prefix, e.g. "77011234567/profile" */
    const char *query;  /* raw query string or "" */
    const uint8_t *body;
    size_t body_len;
    const char *principal; /* the authenticated operator system, e.g. "selfcare" */
};
struct api_resp {
    int status;               /* HTTP status */
    const char *content_type; /* static string */
    char *body;               /* malloc'd; the server frees it */
    size_t body_len;
};
typedef void (*api_handler_fn)(void *ctx, const struct api_req *req, struct api_resp *resp);

#endif
