/* graph_ops.h — adding nodes to a kd_graph from C (graph_ops.c): loss
 * nodes until losses are compiled from recipes, tests and benchmarks. */
#ifndef KD_GRAPH_OPS_H
#define KD_GRAPH_OPS_H

#include "graph.h"

/* (Input nodes: kd_graph_add_input in graph.h.) */

/* An op node on data inputs ins[0..ndata) with attributes attr (one per
 * op->attrs entry; NULL: the defaults).  Infers its shape, creates its
 * parameters (trainable, model -1, named "<op>@<node>.weight" ...).
 * Returns the node id, or -1 with a message in err. */
int32_t kd_graph_add_op(kd_graph *g, const kd_op_def *op, const int32_t *ins, int ndata,
                        const kd_attr_val *attr, char *err, size_t errlen);

/* Convenience: op by name with its defaults and at most one numeric
 * attribute set (attr_name NULL: none), e.g. ("kd", {s, t}, 2, "T", 4). */
int32_t kd_graph_add_op1(kd_graph *g, const char *opname, const int32_t *ins, int ndata,
                         const char *attr_name, double attr_val, char *err, size_t errlen);

#endif
