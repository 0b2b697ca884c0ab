/* fuzz_parse.c — fuzz the .kdr front end with arbitrary bytes.
 *
 * Each input is parsed with kdr_parse_buffer(); the tree is dumped
 * (kdr_ast_dump) and the diagnostics printed (kdr_diag_print, with and
 * without color) to /dev/null; if it parsed without errors, a one-unit
 * kdr_program is built around it and kdr_check()ed (with a couple of --set
 * overrides), its plan printed and its models compiled (shape inference).  `use` is not followed (there is no file
 * system in a fuzz input); the checker sees the unit alone.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined
 * (libFuzzer) or with AFL++'s afl-clang-fast -fsanitize=fuzzer.  Built with
 * -DKD_FUZZ_STANDALONE it has its own main() that runs each file named on
 * the command line once (to replay a crash under gdb or valgrind).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kdr.h"
#include "runtime/graph.h"
#include "runtime/op_builtins.h"

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    if (!registered) {                   /* op builtins come from the registry */
        kd_op_builtins_register();
        registered = 1;
    }
    if (!devnull) {
        devnull = fopen("/dev/null", "w");
        if (!devnull)
            abort();
    }
    kdr_diag d;
    kdr_diag_init(&d);
    kdr_unit *u = kdr_parse_buffer("fuzz.kdr", (const char *)data, size, &d);
    if (!u) {                   /* out of memory only */
        kdr_diag_free(&d);
        return 0;
    }
    if (u->root)
        kdr_ast_dump(u->root, devnull);
    kdr_diag_print(&d, devnull, 0);
    kdr_diag_print(&d, devnull, 1);

    if (d.errors == 0 && u->root) {
        /* The same layout kdr_program_load() builds (kdr_program_free frees
         * units[i], units, phase_order and the program). */
        kdr_program *p = calloc(1, sizeof *p);
        kdr_unit **units = malloc(sizeof *units);
        if (!p || !units) {
            free(p);
            free(units);
            kdr_unit_free(u);
            kdr_diag_free(&d);
            return 0;
        }
        units[0] = u;
        p->units = units;
        p->nunits = 1;
        p->zoo_dir = NULL;
        kdr_override ov[2] = {
            { .key = "epochs", .value = "1", .used = 0 },
            { .key = "data.d.limit", .value = "10", .used = 0 },
        };
        kdr_diag d2;
        kdr_diag_init(&d2);
        if (kdr_check(p, ov, 2, &d2) == 0 && d2.errors == 0) {
            kdr_program_print_plan(p, devnull);
            /* what --check does next: compile every model, infer shapes */
            kd_check_models(p, devnull, &d2);
        }
        kdr_diag_print(&d2, devnull, 0);
        kdr_diag_free(&d2);
        kdr_program_free(p);    /* frees u */
    } else {
        kdr_unit_free(u);
    }
    kdr_diag_free(&d);
    return 0;
}

#ifdef KD_FUZZ_STANDALONE
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        size_t cap = 1 << 16, n = 0;
        uint8_t *buf = malloc(cap);
        size_t got;
        while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
            n += got;
            if (n == cap) {
                uint8_t *nb = realloc(buf, cap *= 2);
                if (!nb) { free(buf); buf = NULL; }
                buf = nb;
            }
        }
        fclose(f);
        if (!buf) {
            fprintf(stderr, "%s: out of memory\n", argv[i]);
            return 1;
        }
        LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        printf("%s: ok (%zu bytes)\n", argv[i], n);
    }
    if (devnull)
        fclose(devnull);
    return 0;
}
#endif
