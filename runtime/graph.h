/* graph.h — the static op graph a recipe compiles into.
 *
 * runtime/ knows graphs: compile*.c expand `net` templates of a checked
 * kdr_program into nodes (ops from ops/ with inferred shapes), exec.c runs
 * them forward and backward.  Every node keeps the recipe location it came
 * from, so a shape error is reported as "file.kdr:LINE:COL: error: ...".
 *
 * Nodes are stored in creation order, which is a topological order (an op
 * is created after its inputs).  Parameters live in one flat buffer
 * (kd_graph.param_count floats), each with its recipe path as name, e.g.
 * "student.block[2,1].conv1.weight".
 */
#ifndef KD_GRAPH_H
#define KD_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include "../ops/kd_op.h"
#include "../lang/kdr.h"

typedef enum {
    KD_NODE_INPUT,   /* data fed from outside (images, labels, noisy input) */
    KD_NODE_OP       /* an op from the registry */
} kd_node_kind;

typedef struct kd_node {
    kd_node_kind kind;
    const kd_op_def *op;             /* KD_NODE_OP */
    kd_attr_val attr[KD_MAXATTR];
    int ndata;                       /* data inputs (node ids in in[]) */
    int32_t in[KD_MAXIN];            /* data inputs: node ids; then parameter ids */
    kd_shape in_shape[KD_MAXIN];     /* shapes given to infer (params included) */
    kd_shape shape;                  /* output shape */
    kd_op_info info;
    const char *name;                /* a named tensor ("teacher.stage[2]"), or NULL */
    const char *label;               /* what it is, for messages ("conv", "input x") */
    const kdr_unit *unit;            /* where in the recipe it was written */
    uint32_t beg, end;
    int model;                       /* index of the model it belongs to, -1: none */
    int needs_grad;                  /* decided by kd_graph_mark_grad */
    int64_t macs;                    /* multiply-accumulates per batch (conv, linear) */
    int32_t clone_of;                /* m.with(p = t): 1 + the node of model m this one
                                      * recomputes (same op, attributes and parameters;
                                      * op state such as bn statistics is shared with
                                      * it); 0 for an ordinary node */
} kd_node;

typedef struct kd_param {
    const char *name;                /* recipe path */
    kd_shape shape;
    size_t offset;                   /* in floats, into the flat parameter buffer */
    kd_param_init init;
    int model;                       /* owning model */
    int arch;                        /* 1: architecture parameter (aggregate, choice) */
    int trainable;                   /* 0 for a frozen teacher */
} kd_param;

typedef struct kd_named {
    const char *name;                /* "teacher.stage[2]" */
    int32_t node;
} kd_named;

typedef struct kd_graph {
    kd_node *nodes;
    int32_t nnodes, cap_nodes;
    kd_param *params;
    int32_t nparams, cap_params;
    size_t param_count;              /* floats in the flat parameter buffer */
    kd_named *named;
    int32_t nnamed, cap_named;
    kdr_arena *arena;                /* names and labels */
    int nmodels;
    const char *model_names[64];
    /* weight schedules in losses (`until(epoch: 6) * kd(...)`): a scalar
     * input node per call, which the trainer sets each epoch */
    struct { int32_t node; const kdr_node *call; const kdr_unit *unit; } wsched[32];
    int nwsched;
    /* constant inputs (cost tables, a fixed choice temperature): values in
     * the arena; the trainer copies them in with every batch */
    struct { int32_t node; const float *v; int64_t n; } consts[256];
    int nconsts;
    /* `m.with(p1 = t1, ...)` instances compiled into this graph (losses):
     * model m's op nodes recomputed on the substitutes; map[i] is the node
     * that stands for node i (< nmap) in that instance (i itself when the
     * points do not feed it).  An identical substitution reuses its instance. */
    struct kd_with { int model, n; int32_t pt[8], sub[8]; int32_t nmap; int32_t *map; } with[64];
    int nwith;
} kd_graph;

/* Nodes of one graph, at most (ResNet-110 has about 1,000). */
#define KD_GRAPH_MAX_NODES 100000

kd_graph *kd_graph_new(void);
void kd_graph_free(kd_graph *g);
/* Append a zeroed node of `model` (-1: none) / a trainable parameter with
 * the next offset in the flat buffer; the new index, or -1 out of memory. */
int32_t kd_graph_push_node(kd_graph *g, int model);
int32_t kd_graph_push_param(kd_graph *g, const char *name, kd_shape shape, kd_param_init init,
                            int model, int arch);
/* Name node `node` `full` ("m.block[2,1].h"; the string must outlive g):
 * a later name replaces an earlier tensor of that name; the node keeps its
 * first name. */
void kd_graph_name(kd_graph *g, const char *full, int32_t node);
/* Look up a named tensor by full name; -1 if absent. */
int32_t kd_graph_find(const kd_graph *g, const char *name);
/* Names that start with prefix, for "did you mean" messages. */
const char *kd_graph_closest(const kd_graph *g, const char *name);
/* Parameters and MACs of one model (index), or of all models when -1
 * (the recomputations of m.with(...) are not counted). */
int64_t kd_graph_model_params(const kd_graph *g, int model);
int64_t kd_graph_model_macs(const kd_graph *g, int model);

/* ---- compiling models -------------------------------------------------- */

/* The top-level declaration of `kind` named `name` in any unit of p (and
 * its unit), or NULL; the unit a top-level declaration comes from. */
const kdr_node *kd_program_decl(const kdr_program *p, kdr_kind kind, const char *name,
                                const kdr_unit **unit);
const kdr_unit *kd_program_unit_of(const kdr_program *p, const kdr_node *decl);

/* The inputs a data set provides, per sample (without the batch dimension). */
typedef struct kd_data_shape {
    kd_shape x;                      /* e.g. [1, 28, 28] */
    int64_t classes;                 /* for labels; 0 if none */
    int has_noisy;                   /* RAW denoising: `noisy` is the input, `clean` the target */
    int kind;                        /* kd_data_kind: which task (task.h) trains on it */
} kd_data_shape;

/* Build `model NAME = template(args)` into g with input x of shape
 * [batch, data->x...].  Returns the model index, or -1 with located errors
 * in d. */
int kd_compile_model(kd_graph *g, const kdr_program *p, const kdr_node *model_decl,
                     const kd_data_shape *data, int64_t batch, kdr_diag *d);

/* Infer the per-sample input shape of `data NAME = loader(...)`; 0 or -1
 * with a located error. */
int kd_data_shape_of(const kdr_program *p, const kdr_node *data_decl,
                     kd_data_shape *out, kdr_diag *d);

/* Compile a phase-level expression (a loss) over the tensors of models
 * already compiled into g: `model.name`, `model.x[i, j]`, `model.x[i, *]`,
 * `label` (the node `label`, or -1 if there are no labels), loss builtins,
 * arithmetic, models applied to tensors (`adapter(student.feat)`:
 * compiled here, as model "adapter"), and substitutions
 * (`m.with(p = t).x`: model m's ops that p feeds, recomputed on t with
 * m's parameters; see kd_graph.with).  Tensors of the models whose bit is
 * set in `detach` (bit i = model index i) enter as constants, through a
 * `detach` op.  Returns the node id, -1 after located errors, -2 (with a
 * note) when it uses something this build cannot compile yet.  Nodes
 * created for parameters are named under `path`. */
int32_t kd_compile_expr(kd_graph *g, const kdr_program *p, const kdr_unit *unit,
                        const kdr_node *expr, const char *path, int32_t label,
                        uint64_t detach, kdr_diag *d);

/* (Op nodes: kd_graph_add_op_at in graph_ops.h.)
 * Add a constant KD_NODE_INPUT node named `name` holding the n values v
 * (copied), shape [n] (or a scalar when scalar is set); -1 when full. */
int32_t kd_graph_add_const(kd_graph *g, const char *name, const float *v, int64_t n, int scalar);

/* Add a KD_NODE_INPUT node named `name` (e.g. "label") of the given shape. */
int32_t kd_graph_add_input(kd_graph *g, const char *name, kd_shape shape);

/* Compile every model of the program against the data set its phases train
 * it on (or the first data set) and print a per-model summary (parameters,
 * MACs, output shape) to out.  Returns 0 if everything compiled. */
int kd_check_models(const kdr_program *p, FILE *out, kdr_diag *d);

#endif
