#ifndef CSWELLSPAWN_H
#define CSWELLSPAWN_H

#include <sys/types.h>

/// Options for swell_spawn. Every descriptor not named here is closed in the child.
typedef struct {
    const char *path;          ///< executable
    char *const *argv;         ///< NULL-terminated
    char *const *envp;         ///< NULL-terminated; the child's whole environment
    const char *cwd;           ///< working directory, or NULL
    int stdin_fd;              ///< becomes fd 0 (-1: /dev/null)
    int stdout_fd;             ///< becomes fd 1
    int stderr_fd;             ///< becomes fd 2
    long long rlimit_as;       ///< bytes of address space, 0: unchanged
    long long rlimit_nproc;    ///< processes, 0: unchanged
    long long rlimit_nofile;   ///< open files, 0: unchanged
    long long rlimit_cpu;      ///< CPU seconds, 0: unchanged
    int uid;                   ///< switch to this uid (and gid) when >= 0
    int gid;
    char *const *cgroup_procs; ///< NULL-terminated cgroup files (v1 `tasks`, v2 `cgroup.procs`) the child writes "0" to before exec, or NULL
    const char *opt_dir;       ///< bind-mounted read-only on /opt in a mount namespace of the child's own, or NULL (needs root)
} swell_spawn_options;

/// Forks and execs a child in a new process group (pgid = pid), with a clean signal
/// state, the given descriptors and limits, killed if the spawning thread's process dies.
/// Returns 0 and stores the pid, or an errno value (from the child's failed exec too).
int swell_spawn(const swell_spawn_options *options, pid_t *pid);

/// Sends a signal to the whole process group of a child spawned by swell_spawn.
int swell_kill_group(pid_t pgid, int signal);

/// Blocks until any child exits; returns its pid and stores a wait status, or -1 with errno.
pid_t swell_wait_any(int *status);

/// Decodes a wait status: exit code (>= 0) or -signal.
int swell_exit_code(int status);

/// Sets FD_CLOEXEC on a descriptor.
int swell_set_cloexec(int fd);

/// Creates a pipe whose both ends are close-on-exec.
int swell_pipe(int fds[2]);

/// The uid that owns the local TCP socket connected from 127.0.0.1:`peer_port` to
/// 127.0.0.1:`local_port` (a loopback peer of one of our listeners), asked of the kernel
/// through NETLINK_SOCK_DIAG. Returns 0 and stores the uid, or an errno value.
int swell_loopback_peer_uid(unsigned int peer_addr_be, unsigned short peer_port,
                            unsigned int local_addr_be, unsigned short local_port, unsigned int *uid);

/// Sets the calling thread's filesystem uid and gid (Linux setfsuid/setfsgid: per thread,
/// unlike setuid). With a non-zero fsuid, root's file capabilities (DAC override, chown, ...)
/// are dropped for that thread until the fsuid is 0 again. Returns 0, or EPERM if either did
/// not take effect.
int swell_set_fs_ids(int uid, int gid);

#endif
