"""The scheduler loop: take a node out of the scheduler with a reason, and bring it back.

`model.py` the vocabulary (schedulers, node states, aictl's mark on a reason), `breaker.py`
the circuit breaker, `slurm.py` and `k8s.py` one backend each behind `Backend`, `service.py`
drain/undrain as one call with the breaker and the actions log, `actions.py` that log,
`local.py` the health check a node runs on itself (`aictl check --local`), `ufm.py` the UFM
REST request that isolates a switch port. No scheduler library is imported: the backends run
the scheduler's own client (scontrol, kubectl) as a subprocess.
"""
