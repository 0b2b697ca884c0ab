/* graph_ops.h — adding op nodes to a kd_graph: the one primitive the
 * compiler (recipes), the trainer (loss sums), tests and benchmarks share
 * (graph_ops.c). */
#ifndef KD_GRAPH_OPS_H
#define KD_GRAPH_OPS_H

#include "graph.h"

/* (Input nodes: kd_graph_add_input in graph.h.) */

/* Where a new op node goes and what it is called.  Zero-initialised, it is
 * a node of no model with the op's name as label and parameters named
 * "<op>@<node id>.weight", ".bias", ... */
typedef struct kd_op_site {
    int model;                  /* owning model of the node and its parameters; -1: none */
    const kdr_unit *unit;       /* the recipe text it comes from (NULL: none) */
    uint32_t beg, end;
    const char *label;          /* for messages ("conv", "kd"); NULL: op->name */
    const char *param_base;     /* parameters named "<param_base>.<slot name>"
                                 * (slot names: op->param_names, else weight,
                                 * bias, param2, ...); NULL: "<op>@<node id>" */
    const int32_t *params;      /* existing parameter ids for the op's slots (-1:
                                 * absent) instead of new ones: a cost node shares
                                 * its mixture's alpha; NULL: create them */
    int32_t max_nodes;          /* refuse a node past this many; 0: no limit */
    int64_t max_numel;          /* refuse a tensor larger than this; 0: no limit */
} kd_op_site;

/* An op node on data inputs ins[0..ndata) with attributes attr (one per
 * op->attrs entry; NULL: the defaults), placed as `site` says (NULL: the
 * zero site).  Checks the input count, infers the shapes, appends the node
 * and its parameters (trainable; architecture weights for a mixture op),
 * counts its MACs (op->macs).  Returns the node id, or -1 with a message
 * in err (the node is not added). */
int32_t kd_graph_add_op_at(kd_graph *g, const kd_op_def *op, const int32_t *ins, int ndata,
                           const kd_attr_val *attr, const kd_op_site *site,
                           char *err, size_t errlen);

/* kd_graph_add_op_at with the zero site. */
int32_t kd_graph_add_op(kd_graph *g, const kd_op_def *op, const int32_t *ins, int ndata,
                        const kd_attr_val *attr, char *err, size_t errlen);

/* Convenience: op by name with its defaults and at most one numeric
 * attribute set (attr_name NULL: none), e.g. ("kd", {s, t}, 2, "T", 4). */
int32_t kd_graph_add_op1(kd_graph *g, const char *opname, const int32_t *ins, int ndata,
                         const char *attr_name, double attr_val, char *err, size_t errlen);

#endif
