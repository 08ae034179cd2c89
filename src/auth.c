/*
 * auth.c - proxy authentication with Basic credentials (auth.h).
 *
 * A bcrypt check at cost 10 takes tens of milliseconds, and the loop is
 * the only thread: a client that sends its right credentials on every
 * request must not cost one each time, and a client that sends wrong ones
 * must not stop everyone else. So a verified header value is remembered
 * (a fixed table keyed by a 128-bit SipHash tag under a per-config random
 * key, never the password) for AUTH_CACHE_TTL; failures are never
 * remembered, and the time spent in crypt is bounded by a budget refilled
 * at AUTH_BUDGET seconds per second: when it is spent, a check that would
 * need crypt is answered 503 at once (cached users still pass), so the
 * loop is held at most for about one check past the budget per second.
 * One client address may fail AUTH_STRIKE_MAX crypt checks per
 * AUTH_STRIKE_WINDOW; past that it is answered 429 without one, so that
 * guessing passwords is slow and one guesser cannot spend the budget of
 * everyone else.
 */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "proxy.h"

/* ---- the struct's life ---- */

struct auth *auth_new(void)
{
    struct auth *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    a->cache = calloc(AUTH_CACHE_SETS * AUTH_CACHE_WAYS, sizeof(*a->cache));
    a->strikes = calloc(AUTH_STRIKE_SLOTS, sizeof(*a->strikes));
    if (!a->cache || !a->strikes || auth_set_realm(a, AUTH_DEFAULT_REALM) < 0) {
        auth_free(a);
        return NULL;
    }
    hash_random_seed(a->key);
    hash_random_seed(a->key + 2);
    a->budget = AUTH_BUDGET;
    a->log_at = -AUTH_LOG_INTERVAL;
    return a;
}

static void auth_free_users(struct auth *a)
{
    for (size_t i = 0; i < a->nusers; i++) {
        free(a->users[i].name);
        explicit_bzero(a->users[i].hash, strlen(a->users[i].hash));
        free(a->users[i].hash);
    }
    free(a->users);
    a->users = NULL;
    a->nusers = 0;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    auth_free_users(a);
    free(a->realm);
    free(a->htpasswd);
    free(a->challenge);
    free(a->cache);
    free(a->strikes);
    free(a);
}

bool auth_realm_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > AUTH_REALM_MAX)
        return false;
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
            return false;
    return true;
}

int auth_set_realm(struct auth *a, const char *realm)
{
    static const char pre[] = "Proxy-Authenticate: Basic realm=\"",
                      post[] = "\", charset=\"UTF-8\"\r\n";
    size_t len = sizeof(pre) - 1 + strlen(realm) + sizeof(post) - 1;
    char *r = strdup(realm), *ch = malloc(len + 1);
    if (!r || !ch) {
        free(r);
        free(ch);
        return -1;
    }
    snprintf(ch, len + 1, "%s%s%s", pre, realm, post);
    free(a->realm);
    free(a->challenge);
    a->realm = r;
    a->challenge = ch;
    a->challenge_len = len;
    return 0;
}

/* ---- the htpasswd file ---- */

static bool auth_b64_char(int ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '/';
}

/* One check runs on the loop: a hash that takes seconds to check would
   stop every connection for that long. bcrypt's cost is a power of two
   (htpasswd -B uses 5, -C at most 17); SHA-crypt's rounds default to 5000. */
#define AUTH_BCRYPT_COST_MAX 12
#define AUTH_SHA_ROUNDS_MAX 100000

static const char *auth_cost_refused(const char *h, bool bcrypt)
{
    if (bcrypt) {
        int cost = (h[4] - '0') * 10 + (h[5] - '0');
        if (h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9' || h[6] != '$')
            return "is a malformed bcrypt hash";
        return cost > AUTH_BCRYPT_COST_MAX
                   ? "is a bcrypt hash of a cost over 12, each check of which would stop "
                     "magpie too long (htpasswd -B -C 12 or less)"
                   : NULL;
    }
    if (strncmp(h + 3, "rounds=", 7) != 0)
        return NULL;
    char *end;
    unsigned long rounds = strtoul(h + 10, &end, 10);
    return *end != '$' || rounds > AUTH_SHA_ROUNDS_MAX
               ? "is a SHA-crypt hash of more than 100000 rounds, each check of which would "
                 "stop magpie too long"
               : NULL;
}

/* Why a hash is refused, or NULL when it is one magpie checks. */
static const char *auth_hash_refused(const char *h)
{
    size_t n = strlen(h);
    bool bcrypt = !strncmp(h, "$2y$", 4) || !strncmp(h, "$2b$", 4) || !strncmp(h, "$2a$", 4);
    bool sha = !strncmp(h, "$5$", 3) || !strncmp(h, "$6$", 3);
    if (bcrypt || sha) {
        for (const char *p = h; *p; p++)
            if (!auth_b64_char(*p) && *p != '$' && !(sha && *p == '='))
                return "is a malformed hash";
        if (bcrypt && n != 60)
            return "is a malformed bcrypt hash (not 60 characters)";
        if (n > AUTH_HASH_MAX)
            return "is a hash longer than 255 characters";
        return auth_cost_refused(h, bcrypt);
    }
    if (!strncmp(h, "$apr1$", 6))
        return "is an Apache MD5 ($apr1$) hash, which magpie does not accept";
    if (!strncmp(h, "$1$", 3))
        return "is an MD5-crypt ($1$) hash, which magpie does not accept";
    if (!strncmp(h, "{SHA}", 5))
        return "is an unsalted SHA-1 ({SHA}) hash, which magpie does not accept";
    if (h[0] == '$')
        return "is a crypt format magpie does not accept";
    bool des = n == 13;
    for (const char *p = h; des && *p; p++)
        des = auth_b64_char(*p);
    if (des)
        return "looks like a DES crypt hash, which magpie does not accept";
    return "is not a hash (plain text?), which magpie does not accept";
}

#define AUTH_USE_HINT "; use htpasswd -B (bcrypt) or -5 (SHA-512)"

long auth_find_user(const struct auth *a, const char *name)
{
    for (size_t i = 0; i < a->nusers; i++)
        if (!strcmp(a->users[i].name, name))
            return (long)i;
    return -1;
}

static bool auth_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > AUTH_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* One "user:hash" line (no CR or LF): 0, or 1 after reporting. */
static unsigned auth_line(struct auth *a, char *line, unsigned no, auth_err_fn *err, void *arg)
{
    char msg[256];
    char *colon = strchr(line, ':');
    if (!colon || !auth_name_ok(line, (size_t)(colon - line))) {
        err(arg, no, "not a \"user:hash\" line");
        return 1;
    }
    *colon = '\0';
    char *hash = colon + 1;
    for (char *e = hash + strlen(hash); e > hash && (e[-1] == ' ' || e[-1] == '\t');)
        *--e = '\0';
    const char *why = auth_hash_refused(hash);
    if (why) {
        snprintf(msg, sizeof msg, "user \"%.64s\": the password %s%s", line, why, AUTH_USE_HINT);
        err(arg, no, msg);
        return 1;
    }
    if (auth_find_user(a, line) >= 0) {
        snprintf(msg, sizeof msg, "user \"%.64s\" is listed twice", line);
        err(arg, no, msg);
        return 1;
    }
    if (a->nusers == AUTH_USERS_MAX) {
        snprintf(msg, sizeof msg, "more than %d users", AUTH_USERS_MAX);
        err(arg, no, msg);
        return 1;
    }
    struct auth_user *u = &a->users[a->nusers];
    u->name = strdup(line);
    u->hash = strdup(hash);
    if (!u->name || !u->hash) {
        free(u->name);
        free(u->hash);
        err(arg, no, "out of memory");
        return 1;
    }
    a->nusers++;
    return 0;
}

unsigned auth_htpasswd_parse(struct auth *a, const char *text, size_t len, auth_err_fn *err,
                             void *arg)
{
    unsigned nerr = 0, no = 0;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    auth_free_users(a);
    size_t cap = lines < AUTH_USERS_MAX ? lines : AUTH_USERS_MAX;
    if (!(a->users = calloc(cap, sizeof(*a->users)))) {
        err(arg, 0, "out of memory");
        return 1;
    }
    for (size_t off = 0; off < len && nerr < AUTH_FILE_ERRORS;) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - text) : len, n = end - off;
        char line[AUTH_NAME_MAX + AUTH_HASH_MAX + 4];
        no++;
        if (n && text[end - 1] == '\r')
            n--;
        if (n >= sizeof line || memchr(text + off, '\0', n)) {
            err(arg, no, n >= sizeof line ? "line too long" : "contains a NUL byte");
            nerr++;
        } else {
            memcpy(line, text + off, n);
            line[n] = '\0';
            const char *p = line + strspn(line, " \t");
            if (*p && *p != '#')
                nerr += auth_line(a, line, no, err, arg);
            explicit_bzero(line, n);
        }
        off = end + 1;
    }
    if (!nerr && !a->nusers) {
        err(arg, 0, "lists no users (add one with htpasswd -B FILE USER)");
        nerr++;
    }
    return nerr;
}

/* The file's bytes (NUL-terminated, *len of them), or NULL with why. */
static char *auth_read(const char *path, size_t *len, char *why, size_t size)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *text = NULL;
    ssize_t got = -1;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(why, size, "cannot read: %s", strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(why, size, "cannot read: not a regular file");
    } else if (st.st_size > AUTH_FILE_MAX) {
        snprintf(why, size, "is larger than %d bytes", AUTH_FILE_MAX);
    } else if (!(text = malloc((size_t)st.st_size + 1))) {
        snprintf(why, size, "out of memory");
    } else if ((got = read(fd, text, (size_t)st.st_size + 1)) < 0 || got > st.st_size) {
        snprintf(why, size, "cannot read: %s",
                 got < 0 ? strerror(errno) : "it grew as it was read");
        free(text);
        text = NULL;
    }
    if (fd >= 0)
        close(fd);
    if (text) {
        text[got] = '\0';
        *len = (size_t)got;
    }
    return text;
}

unsigned auth_htpasswd_load(struct auth *a, const char *path, auth_err_fn *err, void *arg)
{
    char why[256];
    size_t len;
    char *text = auth_read(path, &len, why, sizeof why);
    if (!text) {
        err(arg, 0, why);
        return 1;
    }
    unsigned nerr = auth_htpasswd_parse(a, text, len, err, arg);
    explicit_bzero(text, len);
    free(text);
    return nerr;
}

/* ---- the header ---- */

static int auth_b64_value(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

long auth_b64_decode(const char *in, size_t n, char *out, size_t cap)
{
    if (n % 4)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            bool last = i + 4 == n;
            if (last && in[i + j] == '=' && (j == 3 || (j == 2 && in[i + 3] == '='))) {
                v[j] = 0;
                pad++;
            } else if ((v[j] = auth_b64_value((unsigned char)in[i + j])) < 0 || pad) {
                return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
        /* RFC 4648 §3.5: the bits a padded group leaves over must be zero */
        if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
            return -1;
        if (o + 3 - (size_t)pad > cap)
            return -1;
        out[o++] = (char)(w >> 16);
        if (pad < 2)
            out[o++] = (char)(w >> 8);
        if (pad < 1)
            out[o++] = (char)w;
    }
    return (long)o;
}

enum auth_verdict auth_parse_basic(const char *v, size_t n, char *buf, size_t cap,
                                   const char **user, const char **pass)
{
    if (n < 5 || strncasecmp(v, "Basic", 5) != 0 || (n > 5 && v[5] != ' '))
        return AUTH_MISSING;
    size_t i = 5;
    while (i < n && v[i] == ' ')
        i++;
    while (n > i && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    long len = cap ? auth_b64_decode(v + i, n - i, buf, cap - 1) : -1;
    if (len <= 0)
        return AUTH_BAD;
    buf[len] = '\0';
    /* RFC 7617 §2: neither part holds a control character */
    for (long k = 0; k < len; k++)
        if ((unsigned char)buf[k] < 0x20 || buf[k] == 0x7f)
            return AUTH_BAD;
    char *colon = memchr(buf, ':', (size_t)len);
    if (!colon || colon == buf)
        return AUTH_BAD;
    *colon = '\0';
    *user = buf;
    *pass = colon + 1;
    return AUTH_OK;
}

/* ---- verified headers ---- */

static void auth_tag(const struct auth *a, const char *v, size_t n, uint64_t h[2])
{
    h[0] = hash_siphash(a->key, v, n);
    h[1] = hash_siphash(a->key + 2, v, n);
}

static struct auth_slot *auth_set(struct auth *a, const uint64_t h[2])
{
    return &a->cache[(h[0] % AUTH_CACHE_SETS) * AUTH_CACHE_WAYS];
}

bool auth_cache_find(struct auth *a, const char *v, size_t n, double now, uint32_t *user)
{
    uint64_t h[2];
    auth_tag(a, v, n, h);
    struct auth_slot *s = auth_set(a, h);
    for (int w = 0; w < AUTH_CACHE_WAYS; w++)
        if (s[w].expires > now && s[w].h[0] == h[0] && s[w].h[1] == h[1]) {
            *user = s[w].user;
            return true;
        }
    return false;
}

void auth_cache_put(struct auth *a, const char *v, size_t n, double now, uint32_t user)
{
    uint64_t h[2];
    auth_tag(a, v, n, h);
    struct auth_slot *s = auth_set(a, h), *victim = s;
    /* every entry lives AUTH_CACHE_TTL, so the soonest to expire is the oldest */
    for (int w = 1; w < AUTH_CACHE_WAYS; w++)
        if (s[w].expires < victim->expires)
            victim = &s[w];
    victim->h[0] = h[0];
    victim->h[1] = h[1];
    victim->user = user;
    victim->expires = now + AUTH_CACHE_TTL;
}

/* ---- the crypt budget and failure lines ---- */

/* ev_now() is wall-clock time: after a step back (NTP, a reset RTC) the
   budget refills and failure lines resume from the new time, instead of
   waiting for the clock to catch up with the old one. */
bool auth_budget_take(struct auth *a, double now)
{
    if (now > a->budget_at) {
        a->budget += (now - a->budget_at) * AUTH_BUDGET;
        if (a->budget > AUTH_BUDGET)
            a->budget = AUTH_BUDGET;
    }
    a->budget_at = now;
    return a->budget > 0;
}

void auth_budget_spend(struct auth *a, double cost)
{
    a->budget -= cost;
}

bool auth_log_due(struct auth *a, double now, unsigned *skipped)
{
    if (now >= a->log_at && now - a->log_at < AUTH_LOG_INTERVAL) {
        a->log_skipped++;
        return false;
    }
    *skipped = a->log_skipped;
    a->log_skipped = 0;
    a->log_at = now;
    return true;
}

/* ---- failed checks by client address ---- */

uint64_t auth_peer_tag(const struct auth *a, const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET6)
        return hash_siphash(a->key + 2, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                            8);
    if (sa->sa_family == AF_INET)
        return hash_siphash(a->key + 2, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                            4);
    return 0;
}

/* peer's slot, its window begun anew once over (or when the slot held
   another address: a collision forgets, it never blames) */
static struct auth_strike *auth_strike(struct auth *a, uint64_t peer, double now)
{
    struct auth_strike *s = &a->strikes[peer % AUTH_STRIKE_SLOTS];
    if (s->tag != peer || now < s->since || now - s->since >= AUTH_STRIKE_WINDOW) {
        s->tag = peer;
        s->since = now;
        s->fails = 0;
    }
    return s;
}

unsigned auth_retry_after(struct auth *a, uint64_t peer, double now)
{
    const struct auth_strike *s = auth_strike(a, peer, now);
    double left = s->since + AUTH_STRIKE_WINDOW - now;
    return left >= 1 ? (unsigned)left : 1;
}

/* ---- verification ---- */

static struct crypt_data auth_crypt_data; /* 32 KiB of scratch: the loop is the only thread */

static bool auth_same(const char *x, const char *y)
{
    size_t n = strlen(y);
    if (strlen(x) != n)
        return false;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

bool auth_verify(const struct auth *a, uint32_t user, const char *pass)
{
    const char *hash = a->users[user].hash;
    const char *out = crypt_r(pass, hash, &auth_crypt_data);
    bool ok = out && out[0] != '*' && auth_same(out, hash);
    explicit_bzero(&auth_crypt_data, sizeof(auth_crypt_data));
    return ok;
}

static double auth_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* name and pass checked with crypt, within the budget. */
static enum auth_verdict auth_crypt_check(struct auth *a, const char *name, const char *pass,
                                          double now, uint32_t *user)
{
    if (!auth_budget_take(a, now))
        return AUTH_BUSY;
    double t0 = auth_clock();
    long u = auth_find_user(a, name);
    /* an unknown user costs what a wrong password does, so that timing
       does not tell which names exist */
    bool ok = auth_verify(a, u >= 0 ? (uint32_t)u : 0, pass) && u >= 0;
    auth_budget_spend(a, auth_clock() - t0);
    if (u >= 0)
        *user = (uint32_t)u;
    return ok ? AUTH_OK : AUTH_BAD;
}

enum auth_verdict auth_check(struct auth *a, const char *v, size_t n, uint64_t peer, double now,
                             uint32_t *user)
{
    char buf[AUTH_HEADER_MAX];
    const char *name, *pass;
    *user = UINT32_MAX;
    if (!v)
        return AUTH_MISSING;
    if (n > AUTH_HEADER_MAX)
        return AUTH_BAD;
    if (auth_cache_find(a, v, n, now, user))
        return AUTH_OK;
    enum auth_verdict p = auth_parse_basic(v, n, buf, sizeof buf, &name, &pass);
    struct auth_strike *s = auth_strike(a, peer, now);
    if (p == AUTH_OK && s->fails >= AUTH_STRIKE_MAX) {
        p = AUTH_THROTTLED;
    } else if (p == AUTH_OK) {
        p = auth_crypt_check(a, name, pass, now, user);
        /* only what cost a crypt check counts: a malformed header costs none */
        if (p == AUTH_BAD && s->fails < UINT32_MAX)
            s->fails++;
        else if (p == AUTH_OK)
            s->fails = 0;
    }
    /* a refused header may have decoded to a password too */
    explicit_bzero(buf, sizeof buf);
    if (p == AUTH_OK)
        auth_cache_put(a, v, n, now, *user);
    return p;
}

/* ---- the request hook ---- */

const char *auth_user(const struct client *c)
{
    const struct auth *a = c->cfg->auth;
    if (!a || c->auth_user == 0 || c->auth_user > a->nusers)
        return NULL;
    return a->users[c->auth_user - 1].name;
}

size_t auth_retry_field(const struct client *c, char *buf, size_t size)
{
    struct auth *a = c->cfg->auth;
    unsigned secs = a ? auth_retry_after(a, auth_peer_tag(a, (const struct sockaddr *)&c->addr),
                                         ev_now(c->srv->loop))
                      : 1;
    int n = snprintf(buf, size, "Retry-After: %u\r\n", secs);
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

const char *auth_challenge(const struct config *cfg, size_t *len)
{
    if (!cfg->auth)
        return NULL;
    *len = cfg->auth->challenge_len;
    return cfg->auth->challenge;
}

/* A failed attempt (user UINT32_MAX - 1: one refused unchecked, the
   address throttled): counted, and logged at most once per AUTH_LOG_INTERVAL
   with the number left out meanwhile. Never the header or the password;
   a user name only when the file lists it (a password typed as the name
   stays out of the log). */
static void auth_failed(struct client *c, struct auth *a, uint32_t user, double now)
{
    unsigned skipped;
    c->srv->metrics.auth_failures++;
    if (!auth_log_due(a, now, &skipped))
        return;
    char more[64] = "";
    if (skipped)
        snprintf(more, sizeof more, " (%u more failed attempt%s not logged)", skipped,
                 skipped == 1 ? "" : "s");
    if (user == UINT32_MAX - 1)
        log_warn("#%llu %s: proxy authentication refused: %d failed attempts from this address "
                 "within %.0f s, no more checked until then (429)%s",
                 c->id, c->addr_text, AUTH_STRIKE_MAX, AUTH_STRIKE_WINDOW, more);
    else if (user < a->nusers)
        log_warn("#%llu %s: proxy authentication failed: wrong password for user \"%s\"%s", c->id,
                 c->addr_text, a->users[user].name, more);
    else
        log_warn("#%llu %s: proxy authentication failed: unknown user or malformed "
                 "credentials%s",
                 c->id, c->addr_text, more);
}

enum hook_rc request_hook_auth(void *arg, struct http_msg *m)
{
    struct client *c = ((struct head_ctx *)arg)->c;
    struct auth *a = c->cfg->auth;
    c->auth_user = 0;
    /* a refresh replays a request that passed; an admin listener's probes
       answer to admin.allow alone */
    if (!a || c->phantom || c->admin)
        return HOOK_NEXT;
    const struct http_header *h = NULL;
    unsigned count = 0;
    for (size_t i = 0; i < m->nhdrs; i++)
        if (m->hdrs[i].name_len == 19 &&
            strcasecmp(http_hname(m, &m->hdrs[i]), "Proxy-Authorization") == 0)
            h = &m->hdrs[i], count++;
    double now = ev_now(c->srv->loop);
    uint32_t user = UINT32_MAX;
    uint64_t peer = auth_peer_tag(a, (const struct sockaddr *)&c->addr);
    enum auth_verdict v = count > 1 ? AUTH_BAD
                                    : auth_check(a, h ? http_hvalue(m, h) : NULL,
                                                 h ? h->value_len : 0, peer, now, &user);
    switch (v) {
    case AUTH_OK:
        c->auth_user = user + 1;
        return HOOK_NEXT;
    case AUTH_MISSING:
        exchange_fail(c, 407, "proxy authentication required");
        return HOOK_ANSWERED;
    case AUTH_BAD:
        auth_failed(c, a, user, now);
        exchange_fail(c, 407, "proxy authentication failed");
        return HOOK_ANSWERED;
    case AUTH_BUSY:
        exchange_fail(c, 503, "too many password checks at once: try again in a second");
        return HOOK_ANSWERED;
    case AUTH_THROTTLED:
        auth_failed(c, a, UINT32_MAX - 1, now);
        exchange_fail(c, 429, "too many failed proxy logins from this address: try again later");
        return HOOK_ANSWERED;
    }
    return HOOK_ERROR;
}
