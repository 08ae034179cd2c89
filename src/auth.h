/*
 * auth.h - proxy authentication (auth.basic): the htpasswd file, the
 * Proxy-Authorization header, verification with libcrypt and what keeps
 * it from blocking the loop: a bounded table of verified credentials and
 * a budget of time spent in crypt.
 *
 * A struct auth belongs to one loaded config and dies with it, so a
 * reload starts with the new file's users and an empty table.
 */
#ifndef MAGPIE_AUTH_H
#define MAGPIE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hooks.h"

struct sockaddr;

#define AUTH_DEFAULT_REALM "magpie"
#define AUTH_REALM_MAX 128
#define AUTH_FILE_MAX (1024 * 1024) /* htpasswd bytes */
#define AUTH_USERS_MAX 10000
#define AUTH_FILE_ERRORS 20 /* lines reported: a file in a refused format says so early */
#define AUTH_NAME_MAX 255
#define AUTH_HASH_MAX 255
#define AUTH_HEADER_MAX 1024 /* a Proxy-Authorization value */
#define AUTH_CACHE_SETS 256  /* of AUTH_CACHE_WAYS entries: 1024 in all */
#define AUTH_CACHE_WAYS 4
#define AUTH_CACHE_TTL 300.0    /* seconds a verified header is trusted without crypt */
#define AUTH_BUDGET 0.25        /* seconds of crypt per second of loop time, and the burst */
#define AUTH_LOG_INTERVAL 1.0   /* at most one failure line per this many seconds */
#define AUTH_STRIKE_SLOTS 1024  /* client addresses whose failed checks are counted */
#define AUTH_STRIKE_MAX 10      /* failed crypt checks an address may make ... */
#define AUTH_STRIKE_WINDOW 60.0 /* ... in this many seconds, before it is answered 429 */

struct auth_user {
    char *name;
    char *hash; /* $2y$ / $2b$ / $2a$ (bcrypt), $5$ / $6$ (sha256/512-crypt) */
};

struct auth_slot {
    uint64_t h[2];  /* keyed hash of the whole header value */
    double expires; /* loop time; 0: empty */
    uint32_t user;  /* index into users */
};

struct auth_strike {
    uint64_t tag;   /* keyed hash of a client address (an IPv6 one's /64) */
    double since;   /* loop time its window began */
    uint32_t fails; /* failed crypt checks since */
};

struct auth {
    char *realm;
    char *htpasswd;
    char *challenge; /* the Proxy-Authenticate line of a 407, "\r\n" included */
    size_t challenge_len;
    struct auth_user *users;
    size_t nusers;
    /* mutable state of a config that is otherwise immutable: the loop is
       the only thread */
    struct auth_slot *cache;     /* AUTH_CACHE_SETS * AUTH_CACHE_WAYS */
    uint64_t key[4];             /* two SipHash keys: a 128-bit tag per header */
    double budget, budget_at;    /* crypt seconds left, as of loop time budget_at */
    double log_at;               /* when the last failure line went out */
    unsigned log_skipped;        /* failures not logged since */
    struct auth_strike *strikes; /* AUTH_STRIKE_SLOTS, by tag */
};

enum auth_verdict {
    AUTH_OK,        /* *user is the index of the user */
    AUTH_MISSING,   /* no Proxy-Authorization, or not Basic */
    AUTH_BAD,       /* malformed, unknown user or wrong password */
    AUTH_BUSY,      /* the crypt budget is spent: try again shortly */
    AUTH_THROTTLED, /* the client's address failed AUTH_STRIKE_MAX checks of late */
};

struct auth *auth_new(void);
void auth_free(struct auth *a);
/* The realm: printable ASCII without '"' and '\', 1..AUTH_REALM_MAX bytes. */
bool auth_realm_ok(const char *s);
/* Builds a->challenge from a->realm; 0 or -1 (out of memory). */
int auth_set_realm(struct auth *a, const char *realm);

/* Called for each bad line of an htpasswd file (line 0: the file itself). */
typedef void auth_err_fn(void *arg, unsigned line, const char *msg);
/* Parses htpasswd text into a->users; returns the number of errors reported. */
unsigned auth_htpasswd_parse(struct auth *a, const char *text, size_t len, auth_err_fn *err,
                             void *arg);
/* Reads path (at most AUTH_FILE_MAX bytes) and parses it. */
unsigned auth_htpasswd_load(struct auth *a, const char *path, auth_err_fn *err, void *arg);

/* Strict base64 (RFC 4648 §4, padded, no whitespace) into out: the decoded
   length, or -1 when malformed or longer than cap. */
long auth_b64_decode(const char *in, size_t n, char *out, size_t cap);
/* A Proxy-Authorization value: "Basic" (any case), one or more spaces,
   token68 decoding to user ":" password with no control characters.
   AUTH_OK with user and pass (NUL-terminated, in buf), AUTH_MISSING for
   another scheme, AUTH_BAD when malformed. */
enum auth_verdict auth_parse_basic(const char *v, size_t n, char *buf, size_t cap,
                                   const char **user, const char **pass);

/* The verdict on one header value (NULL: none sent) from the client
   whose address has tag peer (auth_peer_tag) at loop time now. */
enum auth_verdict auth_check(struct auth *a, const char *v, size_t n, uint64_t peer, double now,
                             uint32_t *user);
/* What failed checks are counted under for sa: IPv4 addresses one by one,
   IPv6 ones by /64, the least a client there holds. */
uint64_t auth_peer_tag(const struct auth *a, const struct sockaddr *sa);
/* Whole seconds until peer may try again (at least 1), once throttled. */
unsigned auth_retry_after(struct auth *a, uint64_t peer, double now);
/* The parts of auth_check, for tests: the table of verified headers ... */
bool auth_cache_find(struct auth *a, const char *v, size_t n, double now, uint32_t *user);
void auth_cache_put(struct auth *a, const char *v, size_t n, double now, uint32_t user);
/* ... the crypt budget (whether a check may start now; what it cost) ... */
bool auth_budget_take(struct auth *a, double now);
void auth_budget_spend(struct auth *a, double cost);
/* ... and whether a failure is logged at now: true with *skipped, the
   failures not logged since the last line. */
bool auth_log_due(struct auth *a, double now, unsigned *skipped);
/* user's password against its hash with crypt_r: true when it matches. */
bool auth_verify(const struct auth *a, uint32_t user, const char *pass);
/* The index of name in a->users, or -1. */
long auth_find_user(const struct auth *a, const char *name);

struct client;
struct config;
/* The Retry-After line of a 429 to c ("\r\n" included) into buf; its length. */
size_t auth_retry_field(const struct client *c, char *buf, size_t size);
/* The request hook (hooks.c): with auth.basic set, a request without valid
   credentials is answered 407 (503 when the crypt budget is spent). */
enum hook_rc request_hook_auth(void *arg, struct http_msg *m);
/* The user the current request of c authenticated as, or NULL (for the
   access log). */
const char *auth_user(const struct client *c);
/* The Proxy-Authenticate line a 407 carries ("\r\n" included), or NULL
   when cfg has no auth.basic. */
const char *auth_challenge(const struct config *cfg, size_t *len);

#endif
