/* world_mpi.h — joining an MPI job (kdrun built --with-mpi; see world.h). */
#ifndef KD_WORLD_MPI_H
#define KD_WORLD_MPI_H

/* 1: this process is a rank of an MPI job (kd_world_* now speak MPI);
 * 0: not launched by mpirun/srun, nothing done; -1: MPI_Init failed. */
int kd_world_mpi_start(int *argc, char ***argv);
/* MPI_Finalize, once, if started. */
void kd_world_mpi_stop(void);

#endif
