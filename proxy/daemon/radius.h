/* radius.h - the RADIUS Accounting listener (RFC 2866) feeding the subscriber map.
 *
 * One UDP socket on radius.listen, one thread. Each datagram from a configured client
 * (radius.client = ADDR[/PREFIX] SECRET_FILE) is parsed and authenticated (rules/subs/radius.h);
 * Start and Interim-Update map the Framed-IP-Address and the Framed-IPv6-Prefix to the
 * subscriber (radius.subscriber_id: msisdn, imsi or user-name, the others as fall-backs) with
 * the TTL radius.session_ttl (or 3 x Acct-Interim-Interval when the packet has one); Stop
 * removes the mappings of its session. The datagrams of one receive call are applied to the
 * store as one batch, then to the node's map, and only then answered (RFC 2866: a response
 * means "recorded"); a store failure leaves them unanswered, and the client's retransmission
 * applies them again. A retransmission (same client address, port, identifier and Request
 * Authenticator) of an answered packet is answered again from a cache, not applied twice.
 * Datagrams from other addresses, with a wrong authenticator or malformed are dropped and
 * counted; secrets are never logged. docs/subscribers.md is the operator's view. */
#ifndef QG_DAEMON_RADIUS_H
#define QG_DAEMON_RADIUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/config.h"
#include "common/log.h"
#include "rules/subs/submap.h"

#define RADIUS_CLIENTS_MAX 256
#define RADIUS_BATCH       256 /* datagrams per receive call and store batch */

/* Which attribute names the subscriber (the others are fall-backs, in this order). */
enum radius_subscriber_id { RADIUS_ID_MSISDN = 0, RADIUS_ID_IMSI, RADIUS_ID_USER_NAME };

/* One radius.client line: "ADDR[/PREFIX] SECRET_FILE". */
struct radius_client {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint8_t plen;
    char secret_file[1024];
    uint8_t secret[256];
    size_t slen;
};

/* Parses a radius.client value (without reading the secret file). Returns 0 or -EINVAL with
 * "radius.client 'LINE': reason" in err. */
int radius_client_parse(const char *line, struct radius_client *c, char *err, size_t errlen);

/* Parses radius.listen ("1.2.3.4:1813", "[::1]:1813") into ss/sl. 0 or -EINVAL. */
int radius_listen_parse(const char *text, struct sockaddr_storage *ss, socklen_t *sl, char *err,
                        size_t errlen);

struct radius_config {
    const char *listen;                /* radius.listen */
    const struct config_list *clients; /* radius.client lines */
    const char *store_url;             /* the store the mappings go to */
    const char *password_file;         /* its credentials ("" none) */
    uint64_t session_ttl_ms;           /* radius.session_ttl */
    int subscriber_id;                 /* enum radius_subscriber_id */
    size_t map_capacity;               /* radius.map_capacity: entries of the node's map */
};

struct radius_counters {
    uint64_t received, accepted, answered, duplicates, unknown_client, bad_authenticator, malformed,
        mapped, removed, no_subscriber, store_errors, map_full;
};

struct radius_listener;

/* Reads the clients' secret files (owner-only, store_read_secret()), opens the store and binds
 * the socket (call as root, before dropping privileges). A store that cannot be reached now is
 * logged and opened again with the first packets (at most once a second; until then packets
 * stay unanswered and count as store errors). lg may be NULL (no log: the benchmark). NULL
 * with a message on failure. */
struct radius_listener *radius_listener_new(const struct radius_config *cfg, struct log *lg,
                                            char *err, size_t errlen);

/* Starts the thread. 0 or a negative errno. */
int radius_listener_start(struct radius_listener *l);

/* The bound UDP port (for radius.listen port 0). */
uint16_t radius_listener_port(const struct radius_listener *l);

/* The node's map the listener fills (lookups: submap_lookup()). */
struct submap *radius_listener_map(struct radius_listener *l);

void radius_listener_stats(const struct radius_listener *l, struct radius_counters *c);

/* One datagram as received. */
struct radius_dgram {
    struct sockaddr_storage from;
    socklen_t fromlen;
    const uint8_t *buf;
    size_t len;
    uint8_t resp[20]; /* out: the response when *answer */
    bool answer;
};

/* Handles n datagrams (n <= RADIUS_BATCH) as the thread does, without the socket: parse,
 * authenticate, de-duplicate, apply to the store as one batch and to the map, set each one's
 * response. Returns how many are to be answered. For the thread and the benchmark. */
size_t radius_listener_process(struct radius_listener *l, struct radius_dgram *d, size_t n,
                               uint64_t now_ms);

/* Stops the thread, closes the socket and the store, frees the map. NULL is a no-op. */
void radius_listener_free(struct radius_listener *l);

#endif
