/* op_state.c — state of loss ops kept in the run's store across phases
 * and in the resumable state (run_dir/state.safetensors), like the
 * batch-norm statistics (run.c): the layer weights of `emd` (AdaRec's EMD
 * layer mapping updates them as it trains, BERT-EMD's cost attention, and
 * the fine-tuning phase goes on from the search's).
 *
 * An emd node's weights are stored under
 *     emd(TEACHER1,...;STUDENT1,...).teacher_weights / .student_weights
 * named by its input tensors ("emd(teacher.hidden[1],...;student.cell[1],...)"),
 * so two phases distilling the same layers share them; an input without a
 * name makes the node's state phase-local (not stored).  crd's banks: below. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "run.h"

/* the store key of state k of node n, 0; -1 when n keeps no stored state */
static int emd_key(const kd_graph *g, const kd_node *n, int k, char *buf, size_t len)
{
    if (n->kind != KD_NODE_OP || !n->op || strcmp(n->op->name, "emd") != 0) return -1;
    int M = (int)n->attr[0].num;   /* attribute m: the teacher layers */
    size_t o = (size_t)snprintf(buf, len, "emd(");
    for (int d = 0; d < n->ndata; d++) {
        const char *nm = n->in[d] >= 0 ? g->nodes[n->in[d]].name : NULL;
        if (!nm || o >= len) return -1;
        o += (size_t)snprintf(buf + o, len - o, "%s%s", d == 0 ? "" : d == M ? ";" : ",", nm);
    }
    if (o >= len) return -1;
    o += (size_t)snprintf(buf + o, len - o, ").%s", k ? "student_weights" : "teacher_weights");
    return o < len ? 0 : -1;
}

/* crd's memory banks and constants (ops/crd.c) are the phase's own: stored
 * under "PHASE.crd[K].bank_s" / ".bank_t" / ".z" (K: the phase's K-th crd
 * term), so that a resumed phase goes on with them bit for bit */
static int crd_node(const kd_node *n)
{
    return n->kind == KD_NODE_OP && n->op && strcmp(n->op->name, "crd") == 0;
}

static int crd_key(const run *R, int ord, int k, char *buf, size_t len)
{
    static const char *const what[] = {"bank_s", "bank_t", "z"};
    if (R->phase_idx < 0 || (size_t)R->phase_idx >= (size_t)R->p->nphases) return -1;
    int o = snprintf(buf, len, "%s.crd[%d].%s", R->p->phase_order[R->phase_idx]->name, ord, what[k]);
    return o > 0 && (size_t)o < len ? 0 : -1;
}

int pgraph_op_states(run *R, pgraph *G, int save)
{
    const kd_graph *g = G->pg.g;
    int ncrd = 0;
    for (int32_t i = 0; i < g->nnodes; i++) {
        const kd_node *n = &g->nodes[i];
        int is_crd = crd_node(n);
        for (int k = 0; k < (is_crd ? 3 : 2); k++) {
            char key[1024];
            if (is_crd ? crd_key(R, ncrd, k, key, sizeof key) : emd_key(g, n, k, key, sizeof key)) break;
            float *st = kd_exec_state(G->e, i, k);
            int64_t cnt = n->info.state_shape[k].ndim > 0 ? kd_shape_numel(&n->info.state_shape[k]) : 1;
            if (!st) continue;
            if (save) {
                if (run_store_put(R, key, st, cnt)) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
                continue;
            }
            stored *s = run_store_find(R, key);
            if (s && s->n == cnt) memcpy(st, s->v, (size_t)cnt * sizeof(float));
        }
        ncrd += is_crd;
    }
    return 0;
}
