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
static const char *use_of(const kdr_program *p, const kdr_unit *u)
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
            const char *use = use_of(p, u);
            safe_rel(use ? use : u->path, rel, sizeof rel);
        }
        snprintf(path, sizeof path, "%s/recipe/%s", run_dir, rel);
        if (write_file(path, u->src, u->len, err, n)) return -1;
    }
    return 0;
}
