/* cli_util.h — what the end-to-end tests (tests/cli/test_*.c) share: a
 * temporary directory, ./kdrun run with its stdout and stderr captured,
 * files written there, the newest run directory, file comparisons.
 *
 * Each test is one translation unit that includes this header once; the
 * state below is that test's own.  cli_begin() at the start of main(),
 * cli_end() at its end.
 */
#ifndef KD_TESTS_CLI_UTIL_H
#define KD_TESTS_CLI_UTIL_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit.h"

#define KDRUN KD_BUILD("kdrun")
#define CLI_FN static __attribute__((unused))

static char tmpdir[256];
static char out_path[300], err_path[300];
static const char *cli_cwd;     /* where kdrun runs (NULL: this process's) */

typedef struct run_result {
    int status;     /* exit status, or -1 if the child did not exit normally */
    char *out;      /* captured stdout (malloc'd, NUL-terminated) */
    char *err;      /* captured stderr */
} run_result;

CLI_FN void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Run ./kdrun with the NULL-terminated argument list (in cli_cwd). */
CLI_FN run_result run_kdrun(const char *arg, ...)
{
    const char *argv[40];
    int argc = 0;
    argv[argc++] = "kdrun";
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && argc < 39; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    run_result r = { -1, NULL, NULL };
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return r;
    if (pid == 0) {
        int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0 || (cli_cwd && chdir(cli_cwd) != 0))
            _exit(127);
        execv(KDRUN, (char *const *)argv);
        _exit(127);
    }
    int ws;
    if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws))
        r.status = WEXITSTATUS(ws);
    r.out = kd_unit_slurp(out_path, NULL);
    r.err = kd_unit_slurp(err_path, NULL);
    if (!r.out) r.out = strdup("");
    if (!r.err) r.err = strdup("");
    return r;
}

CLI_FN int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* Write a file in the temporary directory; returns its path (static: the
 * last two calls' paths stay valid). */
CLI_FN const char *write_tmp(const char *name, const char *text)
{
    static char path[2][320];
    static int which;
    char *p = path[which ^= 1];
    snprintf(p, sizeof path[0], "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

/* The newest run directory of recipe NAME under RUNS (RUNS/NAME/<stamp>). */
CLI_FN int newest_run(const char *runs, const char *name, char *out, size_t n)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -d %s/%s/* 2>/dev/null | sort | tail -n 1", runs, name);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int ok = fgets(out, (int)n, p) != NULL;
    pclose(p);
    if (!ok) return -1;
    out[strcspn(out, "\n")] = 0;
    return 0;
}

CLI_FN void msleep(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

CLI_FN long file_mtime_ns(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    return (long)st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec;
}

CLI_FN int same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = kd_unit_slurp(a, &la), *y = kd_unit_slurp(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* ./kdrun --threads THREADS [--quiet] RECIPE in the background, its output
 * thrown away; the child's pid (-1 if fork failed). */
CLI_FN pid_t spawn_kdrun(const char *threads, int quiet, const char *recipe)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
        if (quiet) execl(KDRUN, "kdrun", "--threads", threads, "--quiet", recipe, (char *)NULL);
        else execl(KDRUN, "kdrun", "--threads", threads, recipe, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait (at most ticks x ms) until the newest run directory of NAME under
 * RUNS other than not_dir has written its state.safetensors `want` times;
 * its path in dir.  Returns how many writes were seen. */
CLI_FN int wait_state_saves(const char *runs, const char *name, const char *not_dir, char *dir, size_t n,
                            int want, int ticks, long ms)
{
    char st[1200];
    dir[0] = 0;
    long last = -1;
    int saves = 0;
    for (int i = 0; i < ticks && saves < want; i++) {
        msleep(ms);
        if (!dir[0] || strcmp(not_dir, dir) == 0) {
            if (newest_run(runs, name, dir, n) != 0 || strcmp(not_dir, dir) == 0) { dir[0] = 0; continue; }
        }
        snprintf(st, sizeof st, "%s/state.safetensors", dir);
        long t = file_mtime_ns(st);
        if (t >= 0 && t != last) { last = t; saves++; }
    }
    return saves;
}

/* The temporary directory ($TMPDIR/kdrun-PREFIX-XXXXXX), the capture files,
 * the build tree's zoo (not an installed one), no NO_COLOR.  0 or -1. */
CLI_FN int cli_begin(const char *prefix)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/kdrun-%s-XXXXXX", t && *t ? t : "/tmp", prefix);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(out_path, sizeof out_path, "%s/stdout", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/stderr", tmpdir);
    setenv("KDRUN_PATH", KD_SRC("recipes"), 1);
    unsetenv("NO_COLOR");
    return 0;
}

/* Remove the temporary directory; returns status (main's exit status). */
CLI_FN int cli_end(int status)
{
    char rm[400];
    snprintf(rm, sizeof rm, "rm -rf '%s'", tmpdir);
    if (system(rm) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return status;
}

/* 1 if Debian's dataset-fashion-mnist is installed, else 0 after saying
 * the test is skipped */
CLI_FN int have_fmnist(void)
{
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) == 0) return 1;
    fprintf(stderr, "\n  skipped: dataset-fashion-mnist is not installed\n");
    return 0;
}

#endif
