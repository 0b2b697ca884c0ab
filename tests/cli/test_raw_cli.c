/* test_raw_cli.c — kdrun trains a tiny RAW denoising recipe end to end
 * (raw_synth from PNG photos written here, a U-Net teacher, a
 * Feature-Align student distilled through a 1x1 connector) and writes what
 * the issue asks for: the metrics (psnr, ssim, psnr_srgb), the per-epoch
 * and the report's pictures (noisy | student | teacher | clean, each
 * sample a row), and the same numbers on a second run with the seed. */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit.h"
#include "data/data.h"

#define KDRUN KD_BUILD("kdrun")

static char tmpdir[256];

/* run kdrun (NULL-terminated arguments); status, stderr in *err (malloc'd) */
static int run_kdrun(char **err, const char *arg, ...)
{
    const char *argv[16];
    int argc = 0;
    argv[argc++] = "kdrun";
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && argc < 15; a = va_arg(ap, const char *)) argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    char ep[400];
    snprintf(ep, sizeof ep, "%s/stderr", tmpdir);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0600), fo = open("/dev/null", O_WRONLY);
        if (fe < 0 || fo < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(127);
        execv(KDRUN, (char *const *)argv);
        _exit(127);
    }
    int ws, st = -1;
    if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws)) st = WEXITSTATUS(ws);
    *err = kd_unit_slurp(ep, NULL);
    return st;
}

static int newest_run(const char *runs, char *out, size_t n)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -d %s/tiny_raw/* 2>/dev/null | sort | tail -n 1", runs);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    int ok = fgets(out, (int)n, p) != NULL;
    pclose(p);
    out[strcspn(out, "\n")] = 0;
    return ok ? 0 : -1;
}

static const char *RECIPE =
    "use \"nets/unet_fa.kdr\"\nuse \"nets/connector.kdr\"\n"
    "data photos = raw_synth(images: \"@/photos/*.png\", noise: poisson_gauss(log_shot: [-6, -4.4]),\n"
    "                        patch: 16) {\n  train \"train\"\n  test \"test\"\n}\n"
    "model teacher = unet_fa(base: 4, levels: 2, fa: false)\n"
    "model student = unet_fa(base: 2, levels: 2, fa: true)\n"
    "model fm1 = connector(c: 4)\n"
    "phase pre {\n  train teacher on photos.train\n  epochs 1; batch 4; seed 2\n"
    "  optimizer adam(lr: 3e-3)\n  loss l1(teacher.denoised, clean)\n}\n"
    "phase kd {\n  train student, fm1 on photos.train\n  teacher teacher\n  epochs 2; batch 4; seed 2\n"
    "  optimizer adam(lr: 3e-3)\n"
    "  loss l1(student.denoised, clean) + 0.1 * l1(fm1(student.dec[1]), teacher.dec[1])\n"
    "  evaluate student, teacher on photos.test: psnr\n}\n"
    "report {\n  evaluate student, teacher on photos.test: psnr, ssim, psnr_srgb, params\n}\n";

static void test_raw_recipe_trains_and_draws(void)
{
    char path[1000], runs[400], dir1[800], dir2[800];
    snprintf(path, sizeof path, "%s/photos", tmpdir);
    CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
    /* 5 photos of 32x40: 2x2 patches of 16 each; photo 4 is the test photo */
    for (int k = 0; k < 5; k++) {
        uint8_t pix[32 * 40 * 3];
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 40; x++)
                for (int c = 0; c < 3; c++)
                    pix[(y * 40 + x) * 3 + c] = (uint8_t)(((x / 5 + y / 7 + k) % 3) * 90 + 20 * c + 5);
        char err[256];
        snprintf(path, sizeof path, "%s/photos/p%d.png", tmpdir, k);
        CU_ASSERT_EQUAL_FATAL(kd_png_write(path, pix, 32, 40, 3, err, sizeof err), KD_DATA_OK);
    }
    char recipe[600];
    snprintf(recipe, sizeof recipe, "%s/tiny_raw.kdr", tmpdir);
    FILE *f = fopen(recipe, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (const char *s = RECIPE; *s; s++) {
        if (*s == '@') fputs(tmpdir, f);
        else fputc(*s, f);
    }
    fclose(f);
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    setenv("KDRUN_RUNS", runs, 1);
    setenv("KDRUN_PATH", KD_SRC("recipes"), 1);
    char *err = NULL;
    int st = run_kdrun(&err, "--threads", "1", recipe, NULL);
    CU_ASSERT_EQUAL(st, 0);
    if (st) fprintf(stderr, "%s", err ? err : "");
    CU_ASSERT(err && strstr(err, "kd epoch 2/2"));
    CU_ASSERT(err && strstr(err, "student psnr on photos.test"));
    free(err);
    CU_ASSERT_FATAL(newest_run(runs, dir1, sizeof dir1) == 0);
    snprintf(path, sizeof path, "%s/metrics.csv", dir1);
    char *c1 = kd_unit_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
    CU_ASSERT(strstr(c1, "report,0,\"student psnr on photos.test\",") != NULL);
    CU_ASSERT(strstr(c1, "report,0,\"teacher psnr_srgb on photos.test\",") != NULL);
    CU_ASSERT(strstr(c1, "kd,2,\"student psnr on photos.test\",") != NULL);
    /* pictures: 4 test samples (rows) x (noisy, student, teacher, clean), each
     * tile 2 x 8 = 16 px (one RGGB quad -> 2x2 px), 2 px gaps */
    static const char *const pics[3] = { "kd-epoch-001-photos.test.png", "kd-epoch-002-photos.test.png",
                                         "report-photos.test.png" };
    for (int i = 0; i < 3; i++) {
        uint8_t *pix = NULL;
        int64_t h = 0, w = 0, c = 0;
        char e2[512];
        snprintf(path, sizeof path, "%s/pictures/%s", dir1, pics[i]);
        CU_ASSERT_EQUAL(kd_png_read(path, 0, &pix, &h, &w, &c, e2, sizeof e2), KD_DATA_OK);
        CU_ASSERT(h == 4 * 16 + 3 * 2 && w == 4 * 16 + 3 * 2 && c == 3);
        /* the gap between tiles is white, the tiles are not */
        if (pix && h == 70 && w == 70) {
            CU_ASSERT(pix[(5 * 70 + 16) * 3] == 255 && pix[(5 * 70 + 17) * 3 + 2] == 255);
            int white = 0;
            for (int y = 0; y < 16; y++)
                for (int x = 0; x < 16; x++) white += pix[(y * 70 + x) * 3] == 255;
            CU_ASSERT(white < 16 * 16);
        }
        free(pix);
    }
    /* the same recipe and seed: the same numbers */
    sleep(1);
    st = run_kdrun(&err, "--threads", "1", recipe, NULL);
    CU_ASSERT_EQUAL(st, 0);
    free(err);
    CU_ASSERT_FATAL(newest_run(runs, dir2, sizeof dir2) == 0);
    CU_ASSERT(strcmp(dir1, dir2) != 0);
    snprintf(path, sizeof path, "%s/metrics.csv", dir2);
    char *c2 = kd_unit_slurp(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
    KD_ASSERT_STR_EQ(c2, c1);
    free(c1);
    free(c2);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/kd_raw_cli_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_raw_recipe_trains_and_draws),
        KD_TEST_END
    };
    int status = kd_unit_main("raw_cli", tests);
    char rm[400];
    snprintf(rm, sizeof rm, "rm -rf '%s'", tmpdir);
    if (system(rm) != 0) fprintf(stderr, "cannot remove %s\n", tmpdir);
    return status;
}
