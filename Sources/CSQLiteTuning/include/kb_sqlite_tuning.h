#ifndef KB_SQLITE_TUNING_H
#define KB_SQLITE_TUNING_H

/// Sets SQLite's process-wide options, once, before its first connection: multi-thread mode (no mutex
/// per connection call: GRDB already serializes each connection on its own queue) and no memory
/// statistics (no global mutex around every allocation). sqlite3_config is variadic, which Swift
/// cannot call, hence this C file. Returns 0 when applied, else SQLite's code (SQLITE_MISUSE when
/// SQLite was already initialized: the options then stay as they were, which is only slower).
int kb_sqlite_tune_before_first_open(void);

#endif
