"""The acceptance room: parsers for nccl-tests and perftest, the expected-bandwidth model,
the benchmark plan (per node, pairwise rounds, whole cluster), slow-node localization, the
append-only run store and the launchers (SSH + mpirun, Slurm, Kubernetes MPIJob)."""
