#ifndef KB_SPAWN_H
#define KB_SPAWN_H
#include <sys/types.h>

/// Starts `argv[0]` (searched in PATH) with `envp`, in `cwd` (NULL: inherit), in a new process group
/// of its own, with default signal dispositions and an empty mask, stdin from /dev/null and
/// stdout+stderr appended to `out_fd`. Returns 0 and sets *pid, or an errno value.
int kb_spawn(pid_t *pid, char *const argv[], char *const envp[], const char *cwd, int out_fd);

#endif
