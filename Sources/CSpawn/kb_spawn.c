// posix_spawn with a working directory needs posix_spawn_file_actions_addchdir_np, a GNU
// extension Swift's Glibc module does not expose; this file is the whole reason for the target.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include "kb_spawn.h"

int kb_spawn(pid_t *pid, char *const argv[], char *const envp[], const char *cwd, int out_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int rc;

    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    if (cwd) posix_spawn_file_actions_addchdir_np(&actions, cwd);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);  // the coordinator ignores SIGINT/SIGTERM; workers must not
    posix_spawnattr_setpgroup(&attr, 0);          // own group: stopping it stops its children too
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawnp(pid, argv[0], &actions, &attr, argv, envp);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}
