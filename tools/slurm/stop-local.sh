#!/usr/bin/env bash
# Stop what tools/slurm/start-local.sh started, in reverse order, and wait for each to exit.
# Keeps state (DB, Slurm state, munge key) so the next start-local.sh is quick. Idempotent.
set -euo pipefail

stop() {  # stop <name> <pid file>: SIGTERM, then wait up to 30 s (SIGKILL as a last resort)
  local pid=
  [[ -s $2 ]] && pid=$(cat "$2")
  if [[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null; then echo "stop-local: $1 not running"; return 0; fi
  kill "$pid"
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || { echo "stop-local: stopped $1"; return 0; }; sleep 0.2; done
  echo "stop-local: $1 (pid $pid) ignored SIGTERM, killing" >&2; kill -9 "$pid" 2>/dev/null || true
}
# Jobs (slurmstepd) outlive slurmd's SIGTERM; cancel them so none outlives the cluster.
# (Only while slurmctld runs: otherwise scancel just waits for its timeout.)
if [[ -s /run/slurmctld.pid ]] && kill -0 "$(cat /run/slurmctld.pid)" 2>/dev/null; then
  jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
  # shellcheck disable=SC2086  # one argument per job id
  [[ -z $jobs ]] || { timeout 10 scancel $jobs 2>/dev/null || true; sleep 1; }  # let slurmd reap them
fi
stop slurmd    /run/slurmd.pid
stop slurmctld /run/slurmctld.pid
stop slurmdbd  /run/slurmdbd.pid
stop mariadb   /run/mysqld/mysqld.pid
stop munged    /run/munge/munged.pid
