/* sqltrace.c: an LD_PRELOAD shim that records a process's SQLite statements, for the floor mode of
 * `kanban-bench --instructions` (docs/PERFORMANCE.md, "Instructions per task and the floor").
 *
 * The coordinator links the system libsqlite3 dynamically (through GRDB), so wrapping the C API here
 * sees every statement it runs without a line of tracing code in the product. kanban-bench compiles
 * this file at run time (cc -O2 -shared -fPIC ... -ldl) and starts `kanban-bridge serve` with
 * LD_PRELOAD=sqltrace.so KANBAN_SQLTRACE=<trace file>.
 *
 * One line per call, in the order they returned (pointers in hex; text escaped: `\\`, and bytes below
 * 0x20 or 0x7f as \xHH, so a line never holds a newline):
 *   O db flags filename          sqlite3_open_v2 (only when it succeeded)
 *   P db stmt flags sql          sqlite3_prepare_v2 (flags 0) / _v3: the text consumed, up to the tail
 *   B stmt index n               bind NULL
 *   B stmt index i 42            bind an integer
 *   B stmt index f 1.5           bind a double (%.17g: read back exactly)
 *   B stmt index t text          bind text
 *   B stmt index b 00ff          bind a blob (hex)
 *   S stmt rc                    sqlite3_step and what it returned (the replay checks it gets the same)
 *   R stmt / C stmt / F stmt     sqlite3_reset / sqlite3_clear_bindings / sqlite3_finalize
 * That is all GRDB calls to run a statement (it binds with null, int64, double, text and blob only).
 *
 * All writing happens in sqltrace_emit, kept out of line so that valgrind's
 * --toggle-collect=sqltrace_emit leaves it out of the coordinator's instruction count; what stays in
 * is a call through a pointer per SQLite call (a few instructions).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *out;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* SQLite may call its own public API through the PLT (sqlite3_exec calls sqlite3_prepare_v2...):
 * only the outermost call of a thread is the caller's, the nested ones are not recorded. */
static __thread int depth;

__attribute__((constructor)) static void sqltrace_open(void) {
    const char *path = getenv("KANBAN_SQLTRACE");
    if (path && *path) {
        out = fopen(path, "w");
        if (out) setvbuf(out, NULL, _IOFBF, 1 << 20);
    }
}

/* Runs at exit() (serve returns from main after SIGTERM), and flushes the buffer. */
__attribute__((destructor)) static void sqltrace_close(void) {
    if (out) fflush(out);
}

/* One line: the printf-formatted head, then, when bytes is not NULL, a space and the n bytes,
 * escaped as text (hex == 0) or as hex digits. */
__attribute__((noinline, visibility("default"))) void sqltrace_emit(const void *bytes, long n, int hex, const char *fmt, ...) {
    if (!out || depth > 1) return;
    pthread_mutex_lock(&lock);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    if (bytes) {
        const unsigned char *p = bytes;
        fputc(' ', out);
        for (long i = 0; i < n; i++) {
            if (hex) fprintf(out, "%02x", p[i]);
            else if (p[i] == '\\') fputs("\\\\", out);
            else if (p[i] < 0x20 || p[i] == 0x7f) fprintf(out, "\\x%02x", p[i]);
            else fputc(p[i], out);
        }
    }
    fputc('\n', out);
    pthread_mutex_unlock(&lock);
}

/* The real function, looked up once. `depth` is raised around the call so nested API calls are skipped. */
#define REAL(name) \
    static __typeof__(name) *real; \
    if (!real) real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

int sqlite3_open_v2(const char *filename, sqlite3 **db, int flags, const char *vfs) {
    REAL(sqlite3_open_v2);
    depth++;
    int rc = real(filename, db, flags, vfs);
    if (rc == SQLITE_OK) sqltrace_emit(filename, (long)strlen(filename), 0, "O %p %d", (void *)*db, flags);
    depth--;
    return rc;
}

/* Both prepare functions end here; nByte < 0 means NUL-terminated. */
static void record_prepare(sqlite3 *db, const char *sql, int rc, unsigned flags, sqlite3_stmt *stmt, const char *tail) {
    if (rc == SQLITE_OK && stmt) sqltrace_emit(sql, (long)(tail - sql), 0, "P %p %p %u", (void *)db, (void *)stmt, flags);
}

int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int nByte, sqlite3_stmt **stmt, const char **tail) {
    REAL(sqlite3_prepare_v2);
    const char *end = NULL;
    depth++;
    int rc = real(db, sql, nByte, stmt, &end);
    record_prepare(db, sql, rc, 0, *stmt, end);
    depth--;
    if (tail) *tail = end;
    return rc;
}

int sqlite3_prepare_v3(sqlite3 *db, const char *sql, int nByte, unsigned flags, sqlite3_stmt **stmt, const char **tail) {
    REAL(sqlite3_prepare_v3);
    const char *end = NULL;
    depth++;
    int rc = real(db, sql, nByte, flags, stmt, &end);
    record_prepare(db, sql, rc, flags, *stmt, end);
    depth--;
    if (tail) *tail = end;
    return rc;
}

/* The wrappers below all have the same shape: call the real function, record, return its result. */
#define WRAP(type, name, params, args, record) \
    type name params { \
        REAL(name); \
        depth++; \
        type rc = real args; \
        record; \
        depth--; \
        return rc; \
    }

WRAP(int, sqlite3_bind_null, (sqlite3_stmt *s, int i), (s, i),
     sqltrace_emit(NULL, 0, 0, "B %p %d n", (void *)s, i))
WRAP(int, sqlite3_bind_int, (sqlite3_stmt *s, int i, int v), (s, i, v),
     sqltrace_emit(NULL, 0, 0, "B %p %d i %d", (void *)s, i, v))
WRAP(int, sqlite3_bind_int64, (sqlite3_stmt *s, int i, sqlite3_int64 v), (s, i, v),
     sqltrace_emit(NULL, 0, 0, "B %p %d i %lld", (void *)s, i, (long long)v))
WRAP(int, sqlite3_bind_double, (sqlite3_stmt *s, int i, double v), (s, i, v),
     sqltrace_emit(NULL, 0, 0, "B %p %d f %.17g", (void *)s, i, v))
WRAP(int, sqlite3_bind_text, (sqlite3_stmt *s, int i, const char *v, int n, void (*d)(void *)), (s, i, v, n, d),
     v ? sqltrace_emit(v, n < 0 ? (long)strlen(v) : n, 0, "B %p %d t", (void *)s, i)
       : sqltrace_emit(NULL, 0, 0, "B %p %d n", (void *)s, i))  /* SQLite binds NULL for a NULL pointer */
WRAP(int, sqlite3_bind_blob, (sqlite3_stmt *s, int i, const void *v, int n, void (*d)(void *)), (s, i, v, n, d),
     v ? sqltrace_emit(v, n, 1, "B %p %d b", (void *)s, i) : sqltrace_emit(NULL, 0, 0, "B %p %d n", (void *)s, i))
WRAP(int, sqlite3_step, (sqlite3_stmt *s), (s), sqltrace_emit(NULL, 0, 0, "S %p %d", (void *)s, rc))
WRAP(int, sqlite3_reset, (sqlite3_stmt *s), (s), sqltrace_emit(NULL, 0, 0, "R %p", (void *)s))
WRAP(int, sqlite3_clear_bindings, (sqlite3_stmt *s), (s), sqltrace_emit(NULL, 0, 0, "C %p", (void *)s))
WRAP(int, sqlite3_finalize, (sqlite3_stmt *s), (s), if (s) sqltrace_emit(NULL, 0, 0, "F %p", (void *)s))
