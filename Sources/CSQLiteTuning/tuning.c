#include "kb_sqlite_tuning.h"
#include <sqlite3.h>

int kb_sqlite_tune_before_first_open(void) {
    // Measured (docs/PERFORMANCE.md, "Instructions per task"): about 760 mutex pairs and 370 counted
    // allocations per task, some 60 k instructions, went to these two options' defaults.
    int rc = sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
    if (rc != SQLITE_OK) return rc;
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
