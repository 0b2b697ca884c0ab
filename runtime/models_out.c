/* models_out.c — every model a phase trains, saved when the phase ends as
 * RUN_DIR/models/<name>.safetensors (weights.h): the model's parameters and
 * batch-norm statistics under their paths inside the model, with the shapes
 * the graph gives them, and metadata saying what they are:
 *
 *   format         "kdrun-model 1"
 *   model          the model's name in the recipe
 *   template       its template call as written (`resnet(depth: 8, classes: 10)`,
 *                  white space collapsed)
 *   recipe         the recipe's path; recipe_sha256 its hash (kd_recipe_hash)
 *   phase          the phase that trained it last
 *
 * A later phase that trains the model again overwrites the file, so at the
 * end of a run it holds the model as the report evaluates it.  The file is
 * a valid `from` file for a model of the same template.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp.h"
#include "weights.h"

/* the declaration's template call, white space collapsed */
static void template_text(run *R, const char *name, char *buf, size_t n)
{
    const kdr_unit *u = NULL;
    const kdr_node *d = kd_program_decl(R->p, KDR_MODEL, name, &u);
    buf[0] = 0;
    if (!d || !d->a || !u || !u->src) return;
    size_t o = 0;
    int space = 0;
    for (uint32_t i = d->a->beg; i < d->a->end && o + 2 < n; i++) {
        char ch = u->src[i];
        if (ch == '#') {   /* a comment inside a multi-line call */
            while (i + 1 < d->a->end && u->src[i + 1] != '\n') i++;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') { space = 1; continue; }
        if (space && o > 0 && buf[o - 1] != '(' && ch != ')') buf[o++] = ' ';
        space = 0;
        buf[o++] = ch;
    }
    buf[o] = 0;
}

int models_out_write(run *R, pgraph *G, const char *phase)
{
    if (!kd_dp_writer(R)) return 0;            /* data-parallel: rank 0 writes */
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/models", R->dir);
    int made = 0;
    char hash[65];
    kd_recipe_hash(R->p, hash);
    for (int mi = 0; mi < G->pg.nm; mi++) {
        if (!G->pg.m[mi].trained) continue;
        if (!made++ && run_mkdirs(dir))
            return run_fail(R, KD_RUN_FAILED, NULL, "cannot create %s: %s", dir, strerror(errno));
        int ne;
        weights_entry *e = weights_entries(G, mi, &ne);
        if (ne < 0) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
        kd_st_tensor *t = calloc((size_t)(ne ? ne : 1), sizeof *t);
        if (!t) { free(e); return run_fail(R, KD_RUN_FAILED, NULL, "out of memory"); }
        for (int i = 0; i < ne; i++) {
            t[i].name = e[i].path;
            t[i].ndim = e[i].shape.ndim;
            for (int d = 0; d < e[i].shape.ndim && d < KD_ST_MAXDIM; d++) t[i].shape[d] = e[i].shape.dims[d];
            t[i].data = e[i].data;
        }
        char tmpl[1024];
        template_text(R, G->pg.m[mi].name, tmpl, sizeof tmpl);
        kd_st_meta m[] = {
            { "format", "kdrun-model 1" },
            { "model", G->pg.m[mi].name },
            { "template", tmpl },
            { "recipe", R->o->recipe ? R->o->recipe : "" },
            { "recipe_sha256", hash },
            { "phase", phase },
        };
        char path[1600];
        snprintf(path, sizeof path, "%s/%s.safetensors", dir, G->pg.m[mi].name);
        int rc = kd_st_write(path, t, (size_t)ne, m, sizeof m / sizeof m[0], R->d);
        free(t);
        free(e);
        if (rc) { if (!R->status) R->status = KD_RUN_FAILED; return -1; }
    }
    return 0;
}
