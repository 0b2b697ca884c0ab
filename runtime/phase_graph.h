/* phase_graph.h — the graph of one phase, without an executor or memory:
 * its models compiled on a batch of the data's samples, its loss
 * expressions compiled over their tensors (kd_compile_expr), summed, each
 * checked to be a scalar.  The run adds the executor on top; `kdrun
 * --check` builds the same graph for every phase with the sample shape
 * from the loader registry, so a loss whose tensors do not fit
 * (`mse(student.stage[2], teacher.stage[2])`, 8 vs 16 channels) is refused
 * at its location before anything runs.
 *
 * Statuses are kdrun's (train.h): 0, KD_RUN_RECIPE, KD_RUN_FAILED (not in
 * this build, too many models, out of memory).  Messages go to d, located
 * in the recipe when they come from it.
 */
#ifndef KD_PHASE_GRAPH_H
#define KD_PHASE_GRAPH_H

#include "graph.h"

#define KD_PG_MAX_MODELS 16
#define KD_PG_MAX_TERMS 32

typedef struct kd_pg_model {
    const char *name;
    const kdr_node *decl;            /* `model NAME = ...` (or a copy named like a pool) */
    int index;                       /* model index in the graph (after build) */
    int32_t input, out;              /* its input node and NAME.out, or -1 */
    int trained;
} kd_pg_model;

typedef struct kd_phase_graph {
    kd_graph *g;
    kd_pg_model m[KD_PG_MAX_MODELS];
    int nm;
    int32_t label, loss;             /* node ids; loss -1 without losses */
    int32_t terms[KD_PG_MAX_TERMS];  /* the loss's scalar terms (ce, kd, ...), to name a NaN */
    int nterms;
    int32_t loss_node[KD_PG_MAX_MODELS]; /* each loss expression's node, before the sum */
    const kdr_node *const *uses;     /* set before building: expressions that apply models too */
    int nuses;                       /* (a search's body and bridges), not compiled as losses */
    int64_t batch;                   /* set before building */
    int64_t classes;                 /* the data's (0: unknown) */
    const struct kd_task *task;      /* of the data's kind (task.h; set by build) */
} kd_phase_graph;

/* Add a model by its declaration; a model already there keeps its place
 * (and becomes trained if `trained`).  Returns its index in G->m, or -1
 * when full ("too many models in one phase" at `at`, *status set). */
int kd_phase_graph_add_decl(kd_phase_graph *G, const kdr_node *decl, int trained,
                            const kdr_unit *unit, const kdr_node *at, kdr_diag *d, int *status);
/* Add the model declared as `name` in p ("no model named ...", and a hint
 * for a pool written where a model goes, at `at` in unit).  Index or -1;
 * *status is set on failure. */
int kd_phase_graph_add(kd_phase_graph *G, const kdr_program *p, const char *name, int trained,
                       const kdr_unit *unit, const kdr_node *at, kdr_diag *d, int *status);

/* Build G->g: the models of G on input [G->batch, data->x...] (a model
 * applied in a loss, `adapter(student.feat)`, is compiled there instead),
 * the targets of the data's task (task.h: `label` [batch], or `clean`), the losses (nloss may be 0; owner[k] names the
 * model a per-model loss trains, or is NULL: the other trained models'
 * tensors are constants in it), their sum in G->loss, and each parameter's
 * trainable flag (the trained models' and the losses' own).  Loss messages
 * are located in loss_unit; parameters a loss creates are named under
 * path.  Returns a status. */
int kd_phase_graph_build(kd_phase_graph *G, const kdr_program *p, const kd_data_shape *data,
                         const kdr_node *const *losses, const char *const *owner, int nloss,
                         const kdr_unit *loss_unit, const char *path, kdr_diag *d);

/* The roots an executor of G needs: the loss, its terms, every model's
 * output.  Returns their count (at most 1 + KD_PG_MAX_TERMS + KD_PG_MAX_MODELS). */
int kd_phase_graph_roots(const kd_phase_graph *G, int32_t *roots);

void kd_phase_graph_free(kd_phase_graph *G);   /* the graph; zeroes G */

#endif
