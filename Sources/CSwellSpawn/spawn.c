#define _GNU_SOURCE
#include "CSwellSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>
#include <sys/fsuid.h>
#include <sched.h>
#include <sys/mount.h>

static void close_from(int lowest, int keep) {
    /* close_range(2) where available, else a bounded loop. */
#ifdef SYS_close_range
    if (keep >= lowest) {
        if (keep > lowest && syscall(SYS_close_range, lowest, keep - 1, 0) != 0) goto loop;
        if (syscall(SYS_close_range, keep + 1, ~0U, 0) != 0) goto loop;
    } else if (syscall(SYS_close_range, lowest, ~0U, 0) != 0) {
        goto loop;
    }
    return;
loop:
#endif
    {
        struct rlimit rl;
        long max = (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) ? (long)rl.rlim_cur : 65536;
        for (long fd = lowest; fd < max; fd++) if (fd != keep) close((int)fd);
    }
}

static void set_limit(int resource, long long value) {
    if (value <= 0) return;
    struct rlimit rl = { (rlim_t)value, (rlim_t)value };
    setrlimit(resource, &rl);
}

int swell_spawn(const swell_spawn_options *o, pid_t *pid_out) {
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0) return errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        return e;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls from here to exec. */
        int err = 0;
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);

        int in = o->stdin_fd;
        if (in < 0) in = open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, 0) < 0) goto fail;
        if (dup2(o->stdout_fd, 1) < 0) goto fail;
        if (dup2(o->stderr_fd, 2) < 0) goto fail;
        close_from(3, errpipe[1]);

        /* Join the instance's cgroups while still privileged: writing 0 means "this task". The
         * child is single-threaded here, so on v1 its `tasks` file moves the whole process
         * without the kernel's thread-group write lock (no RCU grace period to wait for). */
        if (o->cgroup_procs) {
            for (char *const *f = o->cgroup_procs; *f; f++) {
                int cg = open(*f, O_WRONLY | O_CLOEXEC);
                if (cg < 0) goto fail;
                if (write(cg, "0", 1) != 1) { close(cg); goto fail; }
                close(cg);
            }
        }
        /* Layers: a mount namespace of the child's own whose /opt is the given tree, read-only. */
        if (o->opt_dir) {
            if (unshare(CLONE_NEWNS) != 0) goto fail;
            if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) goto fail;
            if (mount(o->opt_dir, "/opt", NULL, MS_BIND | MS_REC, NULL) != 0) goto fail;
            if (mount(NULL, "/opt", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0) goto fail;
        }
        set_limit(RLIMIT_AS, o->rlimit_as);
        set_limit(RLIMIT_NPROC, o->rlimit_nproc);
        set_limit(RLIMIT_NOFILE, o->rlimit_nofile);
        set_limit(RLIMIT_CPU, o->rlimit_cpu);
        if (o->cwd && chdir(o->cwd) != 0) goto fail;
        if (o->gid >= 0) {
            if (setgroups(0, NULL) != 0) goto fail;
            if (setgid((gid_t)o->gid) != 0) goto fail;
        }
        if (o->uid >= 0 && setuid((uid_t)o->uid) != 0) goto fail;
        execve(o->path, o->argv, o->envp);
    fail:
        err = errno;
        (void)!write(errpipe[1], &err, sizeof err);
        _exit(127);
    }
    close(errpipe[1]);
    int childErr = 0;
    ssize_t n;
    do {
        n = read(errpipe[0], &childErr, sizeof childErr);
    } while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n == (ssize_t)sizeof childErr) {
        int status;
        waitpid(pid, &status, 0);
        return childErr ? childErr : ECHILD;
    }
    *pid_out = pid;
    return 0;
}

int swell_kill_group(pid_t pgid, int sig) {
    if (pgid <= 1) return EINVAL;
    return kill(-pgid, sig) == 0 ? 0 : errno;
}

pid_t swell_wait_any(int *status) {
    pid_t p;
    do {
        p = waitpid(-1, status, 0);
    } while (p < 0 && errno == EINTR);
    return p;
}

int swell_exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return -1;
}

int swell_set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return errno;
    return fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0 ? 0 : errno;
}

int swell_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno;
}

int swell_set_fs_ids(int uid, int gid) {
    /* Going down: group first (the uid change drops nothing needed for it, but keep one order). */
    setfsgid((gid_t)gid);
    setfsuid((uid_t)uid);
    if (setfsuid((uid_t)-1) != uid || setfsgid((gid_t)-1) != gid) return EPERM;
    return 0;
}
