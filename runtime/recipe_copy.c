/* recipe_copy.c — RUN_DIR/recipe/ (recipe_copy.h): what a run ran, kept
 * with its results, so that a run directory says everything about itself
 * even after the recipe or the zoo changes. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recipe_copy.h"
#include "run.h"

/* rel, made safe under recipe/: no "..", no leading '/' */
static void safe_rel(const char *rel, char *out, size_t n)
{
    size_t o = 0;
    if (rel[0] == '/') o = (size_t)snprintf(out, n, "abs");
    for (const char *s = rel; *s && o + 3 < n;) {
        if ((s == rel || s[-1] == '/') && s[0] == '.' && s[1] == '.' && (s[2] == '/' || !s[2])) {
            out[o++] = '_'; out[o++] = '_';
            s += 2;
            continue;
        }
        out[o++] = *s++;
    }
    out[o < n ? o : n - 1] = 0;
}

/* the `use` string that names unit u (the shortest whose text ends its path) */
const char *kd_use_of(const kdr_program *p, const kdr_unit *u)
{
    const char *best = NULL;
    size_t lp = strlen(u->path);
    for (size_t i = 0; i < p->nunits; i++)
        for (const kdr_node *s = p->units[i]->root ? p->units[i]->root->kids : NULL; s; s = s->next) {
            if (s->kind != KDR_USE || !s->str || !*s->str) continue;
            size_t l = strlen(s->str);
            if (l > lp || strcmp(u->path + lp - l, s->str) != 0) continue;
            if (l < lp && u->path[lp - l - 1] != '/') continue;
            if (!best || l < strlen(best)) best = s->str;
        }
    return best;
}

static int write_file(const char *path, const char *src, size_t len, char *err, size_t n)
{
    char dir[2200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) { *slash = 0; if (run_mkdirs(dir)) goto fail; }
    FILE *f = fopen(path, "wb");
    if (!f) goto fail;
    int bad = fwrite(src, 1, len, f) != len;
    if (fclose(f) != 0 || bad) goto fail;
    return 0;
fail:
    snprintf(err, n, "cannot write %s: %s", path, strerror(errno));
    return -1;
}

int kd_copy_recipe(const char *run_dir, const kdr_program *p, char *err, size_t n)
{
    for (size_t i = 0; i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        if (!u->src) continue;
        char rel[1024], path[2200];
        if (i == 0) {
            const char *b = strrchr(u->path, '/');
            snprintf(rel, sizeof rel, "%s", b ? b + 1 : u->path);
        } else {
            const char *use = kd_use_of(p, u);
            safe_rel(use ? use : u->path, rel, sizeof rel);
        }
        snprintf(path, sizeof path, "%s/recipe/%s", run_dir, rel);
        if (write_file(path, u->src, u->len, err, n)) return -1;
    }
    return 0;
}

/* ---- the canonical form: what --resume compares -------------------------------- */

char *kd_recipe_canon(const kdr_program *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    for (size_t i = 0; i < p->nunits; i++) {
        const kdr_unit *u = p->units[i];
        const char *name = i == 0 ? "(the recipe)" : kd_use_of(p, u);
        fprintf(f, "file %s\n", name ? name : u->path);
        for (const kdr_node *s = u->root ? u->root->kids : NULL; s; s = s->next) {
            kdr_ast_dump(s, f);
            fputc('\n', f);
        }
    }
    if (fclose(f) != 0) { free(buf); return NULL; }
    return buf;
}

/* line k of s, from about 40 characters before column col, at most 120 */
static void line_at(const char *s, size_t k, size_t col, char *out, size_t n)
{
    while (k-- && s) { s = strchr(s, '\n'); if (s) s++; }
    if (!s || !*s) { snprintf(out, n, "(nothing)"); return; }
    const char *e = strchr(s, '\n');
    size_t l = e ? (size_t)(e - s) : strlen(s), from = col > 60 ? col - 40 : 0;
    if (from > l) from = l;
    snprintf(out, n, "%s%.*s%s", from ? "..." : "", (int)(l - from > 120 ? 120 : l - from), s + from,
             l - from > 120 ? "..." : "");
}

int kd_recipe_same_meaning(const char *run_dir, const kdr_program *now, char *what, size_t n)
{
    const char *root = now->units[0]->path, *b = strrchr(root, '/');
    char copy[2200], zoo[2200];
    snprintf(copy, sizeof copy, "%s/recipe/%s", run_dir, b ? b + 1 : root);
    snprintf(zoo, sizeof zoo, "%s/recipe", run_dir);
    if (what && n) what[0] = 0;
    FILE *t = fopen(copy, "rb");
    if (!t) return -1;   /* a run from before copies were kept */
    fclose(t);
    kdr_diag d;
    kdr_diag_init(&d);
    kdr_program *then = kdr_program_load(copy, zoo, &d);
    int bad = !then || d.errors;
    kdr_diag_free(&d);
    if (bad) { if (then) kdr_program_free(then); return -1; }
    char *a = kd_recipe_canon(then), *c = kd_recipe_canon(now);
    kdr_program_free(then);
    int rc = -1;
    if (a && c) {
        rc = strcmp(a, c) != 0;
        if (rc && what) {
            size_t line = 0, col = 0;
            for (size_t i = 0; a[i] && a[i] == c[i]; i++, col++)
                if (a[i] == '\n') line++, col = (size_t)-1;
            char was[200], is[200];
            line_at(a, line, col, was, sizeof was);
            line_at(c, line, col, is, sizeof is);
            snprintf(what, n, "the run had\n    %s\n  the recipe now has\n    %s", was, is);
        }
    }
    free(a);
    free(c);
    return rc;
}
