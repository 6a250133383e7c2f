/*
 * A persistent-lane KanbanBridge worker in C, against libzmq's C API and nothing else.
 *
 *   cc -O2 -Wall -o worker worker.c -lzmq -lpthread
 *   KANBAN_LANE=factory KANBAN_LANE_TOKEN=lt_... ./worker [--tasks N] [--idle-exit] [--wait-ms MS] [--work-ms MS]
 *
 * Loop: claim with wait_ms (the coordinator holds the request until work arrives), work while a
 * background thread heartbeats every third of the lease, complete. Every mutation carries a
 * request_id and is resent with the same id after a timeout (Lazy Pirate: a REQ socket that missed
 * its reply is closed and a new one opened), so a coordinator restart costs nothing.
 *
 * The JSON reader below is small but complete for what it reads: it walks objects by key, skips any
 * value (nested objects and arrays, strings with escapes), and decodes strings including \uXXXX and
 * surrogate pairs to UTF-8. See docs/PROTOCOL.md for the wire.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* ---------- JSON reading ---------- */

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Returns the character after the string starting at p (p points at the opening quote), or NULL. */
static const char *skip_string(const char *p) {
    if (*p != '"') return NULL;
    for (p++; *p; p++) {
        if (*p == '\\') {
            if (!*++p) return NULL;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* Returns the character after the JSON value starting at p, or NULL if it is malformed. */
static const char *skip_value(const char *p) {
    p = skip_ws(p);
    if (*p == '"') return skip_string(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = skip_ws(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                p = skip_string(skip_ws(p));
                if (!p) return NULL;
                p = skip_ws(p);
                if (*p++ != ':') return NULL;
            }
            p = skip_value(p);
            if (!p) return NULL;
            p = skip_ws(p);
            if (*p == ',') { p++; continue; }
            if (*p == close) return p + 1;
            return NULL;
        }
    }
    /* number, true, false, null */
    const char *start = p;
    while (*p && strchr("+-.0123456789eEtruefalsn", *p)) p++;
    return p > start ? p : NULL;
}

/* The value of `key` in the object starting at obj (keys compared as raw bytes), or NULL. */
static const char *obj_get(const char *obj, const char *key) {
    const char *p = skip_ws(obj);
    if (!p || *p != '{') return NULL;
    p = skip_ws(p + 1);
    size_t keylen = strlen(key);
    while (*p == '"') {
        const char *end = skip_string(p);
        if (!end) return NULL;
        int match = (size_t)(end - p - 2) == keylen && memcmp(p + 1, key, keylen) == 0;
        p = skip_ws(end);
        if (*p++ != ':') return NULL;
        p = skip_ws(p);
        if (match) return p;
        p = skip_value(p);
        if (!p) return NULL;
        p = skip_ws(p);
        if (*p == ',') p = skip_ws(p + 1);
    }
    return NULL;
}

static int is_null(const char *v) { return v && strncmp(v, "null", 4) == 0; }

static void put_utf8(char **o, unsigned cp) {
    char *q = *o;
    if (cp < 0x80) { *q++ = (char)cp; }
    else if (cp < 0x800) { *q++ = (char)(0xC0 | cp >> 6); *q++ = (char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) { *q++ = (char)(0xE0 | cp >> 12); *q++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *q++ = (char)(0x80 | (cp & 0x3F)); }
    else { *q++ = (char)(0xF0 | cp >> 18); *q++ = (char)(0x80 | ((cp >> 12) & 0x3F)); *q++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *q++ = (char)(0x80 | (cp & 0x3F)); }
    *o = q;
}

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* Decodes the JSON string at v into a new malloc'd UTF-8 string (NULL if v is not a string). */
static char *get_string(const char *v) {
    const char *end = v ? skip_string(v) : NULL;
    if (!end) return NULL;
    char *out = malloc((size_t)(end - v) + 1), *o = out;  /* decoding never grows a string */
    if (!out) return NULL;
    for (const char *p = v + 1; p < end - 1; p++) {
        if (*p != '\\') { *o++ = *p; continue; }
        switch (*++p) {
            case 'n': *o++ = '\n'; break;
            case 't': *o++ = '\t'; break;
            case 'r': *o++ = '\r'; break;
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'u': {
                unsigned cp, lo;
                if (hex4(p + 1, &cp) < 0) { free(out); return NULL; }
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u' && hex4(p + 3, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                put_utf8(&o, cp);
                break;
            }
            default: *o++ = *p;  /* \" \\ \/ */
        }
    }
    *o = 0;
    return out;
}

static long long get_int(const char *v, long long fallback) {
    if (!v || !(*v == '-' || (*v >= '0' && *v <= '9'))) return fallback;
    return strtoll(v, NULL, 10);
}

/* ---------- JSON writing ---------- */

/* Appends s to buf as a JSON string literal. buf is malloc'd and grown as needed. */
typedef struct { char *s; size_t len, cap; } Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (!b->s) { perror("realloc"); exit(1); }
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void buf_str(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_json_string(Buf *b, const char *s) {
    buf_str(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') { esc[0] = '\\'; esc[1] = (char)*p; buf_add(b, esc, 2); }
        else if (*p < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", *p); buf_str(b, esc); }
        else buf_add(b, (const char *)p, 1);
    }
    buf_str(b, "\"");
}

/* ---------- the command socket ---------- */

static void *ctx;
static const char *endpoint, *lane, *token;

typedef struct { void *sock; } Client;

static void new_request_id(char out[33]) {
    unsigned char raw[16];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(raw, 1, sizeof raw, f) != sizeof raw) { perror("/dev/urandom"); exit(1); }
    fclose(f);
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/*
 * Sends {"op":op,"auth":token,"request_id":…,<fields>} and waits for the reply, resending with the
 * same request_id after each timeout until give_up_s seconds have passed. `fields` is JSON text for
 * the remaining members ("" for none). Returns the malloc'd reply, or NULL when every attempt timed out.
 */
static char *call(Client *c, const char *op, const char *fields, int timeout_ms, int give_up_s) {
    char rid[33];
    new_request_id(rid);
    Buf req = {0};
    buf_str(&req, "{\"op\":"); buf_json_string(&req, op);
    buf_str(&req, ",\"auth\":"); buf_json_string(&req, token);
    buf_str(&req, ",\"request_id\":"); buf_json_string(&req, rid);
    if (*fields) { buf_str(&req, ","); buf_str(&req, fields); }
    buf_str(&req, "}");
    time_t deadline = time(NULL) + give_up_s;
    char *reply = NULL;
    for (;;) {
        if (!c->sock) {
            c->sock = zmq_socket(ctx, ZMQ_REQ);
            int linger = 0;
            zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
            zmq_connect(c->sock, endpoint);
        }
        zmq_send(c->sock, req.s, req.len, 0);
        zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, timeout_ms) > 0) {
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            int n = zmq_msg_recv(&msg, c->sock, 0);
            if (n >= 0) {
                reply = malloc((size_t)n + 1);
                memcpy(reply, zmq_msg_data(&msg), (size_t)n);
                reply[n] = 0;
            }
            zmq_msg_close(&msg);
            if (reply) break;
        }
        zmq_close(c->sock);  /* a REQ socket that missed its reply cannot send again */
        c->sock = NULL;
        if (time(NULL) >= deadline) break;
        fprintf(stderr, "c-worker: %s: no reply from %s; resending\n", op, endpoint);
        usleep(500 * 1000);
    }
    free(req.s);
    return reply;
}

/* The reply's result, or NULL after printing the error (its code goes to *code, malloc'd). */
static const char *result_of(const char *reply, const char *op, char **code) {
    *code = NULL;
    const char *ok = obj_get(reply, "ok");
    if (ok && strncmp(ok, "true", 4) == 0) return obj_get(reply, "result");
    const char *err = obj_get(reply, "error");
    *code = get_string(obj_get(err, "code"));
    char *message = get_string(obj_get(err, "message"));
    fprintf(stderr, "c-worker: %s: %s: %s\n", op, *code ? *code : "?", message ? message : "?");
    free(message);
    return NULL;
}

/* ---------- heartbeats ---------- */

typedef struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop, lost, every_ms;
    char *fields;  /* "task_id":…,"claim_token":… */
} Heartbeats;

static void *heartbeat_loop(void *arg) {
    Heartbeats *h = arg;
    Client c = {0};  /* its own socket: ZeroMQ sockets belong to one thread */
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += h->every_ms / 1000;
        until.tv_nsec += (long)(h->every_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
        if (pthread_cond_timedwait(&h->wake, &h->lock, &until) != ETIMEDOUT || h->stop) continue;
        pthread_mutex_unlock(&h->lock);
        char *reply = call(&c, "heartbeat", h->fields, 3000, h->every_ms / 1000 + 1);
        pthread_mutex_lock(&h->lock);
        if (!reply) continue;  /* coordinator down for now: the lease may still hold, keep trying */
        char *code;
        if (!result_of(reply, "heartbeat", &code) && code &&
            (!strcmp(code, "stale_claim") || !strcmp(code, "not_claim_owner"))) h->lost = 1;
        free(code);
        free(reply);
        if (h->lost) break;
    }
    pthread_mutex_unlock(&h->lock);
    if (c.sock) zmq_close(c.sock);
    return NULL;
}

/* ---------- the lane loop ---------- */

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Claims and works one task. Returns 1 if a task was worked, 0 if none came, -1 on a fatal error. */
static int run_one(Client *c, int wait_ms, int work_ms) {
    Buf f = {0};
    char num[32];
    buf_str(&f, "\"lane\":"); buf_json_string(&f, lane);
    snprintf(num, sizeof num, ",\"wait_ms\":%d", wait_ms);
    buf_str(&f, num);
    char *reply = call(c, "claim", f.s, 5000 + wait_ms, 120);
    free(f.s);
    if (!reply) { fprintf(stderr, "c-worker: coordinator unreachable\n"); return -1; }
    char *code;
    const char *result = result_of(reply, "claim", &code);
    free(code);
    if (!result) { free(reply); return -1; }
    const char *task = obj_get(result, "task"), *claim = obj_get(result, "claim");
    if (!task || is_null(task)) { free(reply); return 0; }
    char *id = get_string(obj_get(task, "id"));
    char *title = get_string(obj_get(task, "title"));
    char *claim_token = get_string(obj_get(claim, "token"));
    long long run = get_int(obj_get(claim, "run_id"), 0);
    long long lease_end = get_int(obj_get(claim, "lease_expires_at_ms"), now_ms() + 3000);
    free(reply);
    if (!id || !title || !claim_token) { fprintf(stderr, "c-worker: unexpected claim reply\n"); return -1; }
    printf("claimed %s run %lld: %s\n", id, run, title);
    fflush(stdout);

    Buf ref = {0};
    buf_str(&ref, "\"task_id\":"); buf_json_string(&ref, id);
    buf_str(&ref, ",\"claim_token\":"); buf_json_string(&ref, claim_token);

    Heartbeats h = {.every_ms = (int)((lease_end - now_ms()) / 3), .fields = ref.s};
    if (h.every_ms < 200) h.every_ms = 200;
    pthread_mutex_init(&h.lock, NULL);
    pthread_cond_init(&h.wake, NULL);
    pthread_create(&h.thread, NULL, heartbeat_loop, &h);

    usleep((useconds_t)work_ms * 1000);  /* stand-in for the real work */

    pthread_mutex_lock(&h.lock);
    h.stop = 1;
    pthread_cond_signal(&h.wake);
    pthread_mutex_unlock(&h.lock);
    pthread_join(h.thread, NULL);

    int worked = 1;
    if (h.lost) {
        printf("lost the claim on %s\n", id);
    } else {
        Buf done = {0};
        Buf text = {0};
        buf_str(&text, "processed ");
        buf_str(&text, title);
        buf_str(&done, ref.s);
        buf_str(&done, ",\"result\":"); buf_json_string(&done, text.s);
        reply = call(c, "complete", done.s, 5000, 120);
        free(done.s);
        free(text.s);
        if (!reply) { fprintf(stderr, "c-worker: coordinator unreachable\n"); worked = -1; }
        else {
            if (result_of(reply, "complete", &code)) printf("completed %s\n", id);
            else if (code && !strcmp(code, "stale_claim")) printf("lost the claim on %s\n", id);
            else worked = -1;
            free(code);
            free(reply);
        }
    }
    fflush(stdout);
    pthread_mutex_destroy(&h.lock);
    pthread_cond_destroy(&h.wake);
    free(ref.s); free(id); free(title); free(claim_token);
    return worked;
}

int main(int argc, char **argv) {
    int tasks = 0, idle_exit = 0, wait_ms = 30000, work_ms = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tasks") && i + 1 < argc) tasks = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--idle-exit")) idle_exit = 1;
        else if (!strcmp(argv[i], "--wait-ms") && i + 1 < argc) wait_ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--work-ms") && i + 1 < argc) work_ms = atoi(argv[++i]);
        else { fprintf(stderr, "usage: %s [--tasks N] [--idle-exit] [--wait-ms MS] [--work-ms MS]\n", argv[0]); return 2; }
    }
    endpoint = getenv("KANBAN_BRIDGE_ENDPOINT");
    if (!endpoint || !*endpoint) endpoint = "tcp://127.0.0.1:5555";
    lane = getenv("KANBAN_LANE");
    token = getenv("KANBAN_LANE_TOKEN");
    if (!lane || !*lane || !token || !*token) { fprintf(stderr, "c-worker: set KANBAN_LANE and KANBAN_LANE_TOKEN\n"); return 2; }

    ctx = zmq_ctx_new();
    Client c = {0};
    int done = 0, status = 0;
    while (!tasks || done < tasks) {
        int r = run_one(&c, wait_ms, work_ms);
        if (r < 0) { status = 1; break; }
        if (r > 0) { done++; continue; }
        printf("no task for lane %s within %d ms\n", lane, wait_ms);
        fflush(stdout);
        if (idle_exit) break;
    }
    if (c.sock) zmq_close(c.sock);
    zmq_ctx_term(ctx);
    return status;
}
