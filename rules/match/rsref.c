/* rsref.c - RCU publication of the current rule set (see rsref.h).
 *
 * The memb flavor of liburcu needs no signal and no quiescent-state calls from readers, which
 * suits packet workers that may block in capture calls; its read side is a per-thread counter
 * update with a compiler barrier (the membarrier syscall moves the cost to the writer). */
#include "rules/match/rsref.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <urcu/urcu-memb.h>

struct rsref {
    struct ruleset *cur; /* RCU-protected */
    _Atomic uint64_t version;
    pthread_mutex_t lock; /* serializes publishers */
};

struct rsref *rsref_new(void)
{
    struct rsref *ref = calloc(1, sizeof(*ref));
    if (!ref)
        return NULL;
    if (pthread_mutex_init(&ref->lock, NULL) != 0) {
        free(ref);
        return NULL;
    }
    return ref;
}

void rsref_free(struct rsref *ref)
{
    if (!ref)
        return;
    ruleset_free(ref->cur);
    pthread_mutex_destroy(&ref->lock);
    free(ref);
}

uint64_t rsref_publish(struct rsref *ref, struct ruleset *rs)
{
    pthread_mutex_lock(&ref->lock);
    uint64_t v = atomic_load(&ref->version) + 1;
    ruleset_set_version(rs, v);
    struct ruleset *old = ref->cur;
    rcu_assign_pointer(ref->cur, rs);
    atomic_store(&ref->version, v);
    urcu_memb_synchronize_rcu();
    ruleset_free(old);
    pthread_mutex_unlock(&ref->lock);
    return v;
}

const struct ruleset *rsref_get(const struct rsref *ref)
{
    return rcu_dereference(ref->cur);
}

uint64_t rsref_version(const struct rsref *ref)
{
    return atomic_load(&((struct rsref *)ref)->version);
}

void rsref_thread_register(void)
{
    urcu_memb_register_thread();
}

void rsref_thread_unregister(void)
{
    urcu_memb_unregister_thread();
}

void rsref_read_lock(void)
{
    urcu_memb_read_lock();
}

void rsref_read_unlock(void)
{
    urcu_memb_read_unlock();
}
