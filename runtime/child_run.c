/* child_run.c — run one piece of work in a child process (child_run.h). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child_run.h"

static volatile pid_t child;
static volatile sig_atomic_t forwarded;

/* SIGINT or SIGTERM to this process goes to the child, which saves its
 * state and stops (the parent learns it from the child's status). */
static void forward(int sig)
{
    forwarded = 1;
    if (child > 0) kill(child, sig);
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int kd_child_run(int (*fn)(void *arg, kd_strbuf *text), void *arg, kd_strbuf *text, int *signo)
{
    *signo = 0;
    int fd[2];
    if (pipe(fd) != 0) return -1;
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        /* the child: no collective, no MPI (it leaves with _exit, so the
         * parent's atexit handlers never run here) */
        close(fd[0]);
        /* the parent's death ends the child too (mpirun stops a job by
         * killing its ranks; an orphan would go on writing the run) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(1);
        kd_strbuf mine = { 0 };
        int status = fn(arg, &mine);
        if (mine.oom || write_all(fd[1], mine.s ? mine.s : "", mine.n) != 0) status = status ? status : 1;
        close(fd[1]);
        fflush(NULL);
        _exit(status);
    }
    close(fd[1]);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    child = pid;
    forwarded = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    char buf[4096];
    for (;;) {
        ssize_t r = read(fd[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        kd_sb_put(text, buf, (size_t)r);
    }
    close(fd[0]);
    int ws = 0;
    pid_t w;
    while ((w = waitpid(pid, &ws, 0)) < 0 && errno == EINTR) {}
    child = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (w != pid) return -1;
    if (forwarded) return KD_CHILD_STOPPED;
    if (WIFSIGNALED(ws)) {
        *signo = WTERMSIG(ws);
        return -1;
    }
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}
