/* child_run.h — one piece of work in a child process, so that its death
 * (killed, out of memory, a crash) is a failed result for the parent
 * rather than the parent's own end.
 *
 * An MPI rank runs each sweep point this way: a point's process that dies
 * fails that point alone, and the rank goes on with its other points (a
 * rank that dies still stops the whole job: that is mpirun's rule).
 */
#ifndef KD_CHILD_RUN_H
#define KD_CHILD_RUN_H

#include "textbuf.h"

/* fork(); the child runs fn(arg, its text) and leaves with its return
 * value as exit status, its text sent to the parent; the parent appends
 * that text to *text and returns the child's exit status.  While it waits,
 * SIGINT and SIGTERM are passed on to the child (and KD_CHILD_STOPPED is
 * returned once it has ended).  -1 when the child did
 * not exit normally: *signo is then the signal that ended it (0 when the
 * fork or the wait failed). */
int kd_child_run(int (*fn)(void *arg, kd_strbuf *text), void *arg, kd_strbuf *text, int *signo);
/* kd_child_run's status when this process itself got SIGINT or SIGTERM
 * while it waited (passed on to the child): the caller should stop. */
#define KD_CHILD_STOPPED (-2)

#endif
