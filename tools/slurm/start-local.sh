#!/usr/bin/env bash
# Bring up a single-machine Slurm 22.05 cluster (munged, MariaDB, slurmdbd, slurmctld, one slurmd)
# for the CI test. Runs as root on Debian 12 without systemd, so every daemon is started by hand.
# Idempotent: a second call returns as soon as it sees the cluster healthy with the same config.
# Stop it with tools/slurm/stop-local.sh.
set -euo pipefail

START=$SECONDS
CLUSTER=alora
HOST=$(hostname -s)
LOG=/var/log/slurm
TIMEOUT=${SLURM_START_TIMEOUT:-120}          # seconds to wait for each daemon
DB_PASS=${SLURM_DB_PASS:-alora-slurmdbd}      # local, socket-only DB: not a real secret
PKGS=(munge mariadb-server slurmdbd slurmctld slurmd slurm-client)
STAMP=$(mktemp); trap 'rm -f "$STAMP"' EXIT   # logs newer than this were written by this run

say() { echo "start-local: $*"; }
fail() {  # fail <message> [log names under $LOG...]: print the error and the tail of the logs, exit 1
  local msg=$1 f; shift
  echo "start-local: ERROR: $msg" >&2
  for f in "$@"; do
    [[ $f == /* ]] || f=$LOG/$f
    [[ -f $f && $f -nt $STAMP ]] && { echo "----- tail $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
running() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }   # running <pid file>
wait_for() {  # wait_for <daemon> <log> <command...>: poll the command; fail on timeout or if the daemon died
  local d=$1 log=$2 t=$SECONDS; shift 2   # $log: space-separated log names, split on purpose
  # shellcheck disable=SC2086
  until "$@" >/dev/null 2>&1; do
    sleep 0.5
    grep -qsx "$d" /proc/[0-9]*/comm || fail "$d is not running" $log   # (no procps on slim images)
    (( SECONDS - t < TIMEOUT )) || fail "timed out after ${TIMEOUT}s waiting for $d" $log
  done
}
healthy() {
  sinfo -h -N -n "$HOST" -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)$' &&
    sacct -n -X -S now >/dev/null 2>&1
}

[[ $EUID -eq 0 ]] || fail "must run as root"

# --- packages -------------------------------------------------------------------------------
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  # Without an init system the maintainer scripts' attempts to start the daemons fail or hang;
  # a policy-rc.d answering 101 ("not allowed") makes them skip it (we start everything below).
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d "$STAMP"' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
mkdir -p "$LOG" /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /run/munge /run/mysqld /etc/slurm

# --- configuration --------------------------------------------------------------------------
# The node line comes from slurmd -C so CPUs/sockets/memory match what slurmd detects
# (a mismatch drains the node). UpTime is not a config key.
NODE=$(slurmd -C 2>/dev/null | sed -n 's/ *UpTime=.*//; /^NodeName=/p')
[[ -n $NODE ]] || fail "slurmd -C printed no NodeName line"
changed=0
write() {  # write <file> <mode>: stdin -> file, only when different (reruns must not restart daemons)
  local tmp; tmp=$(mktemp); cat >"$tmp"; chmod "$2" "$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; changed=1; fi
}
write /etc/slurm/slurmdbd.conf 600 <<CONF
# Written by tools/slurm/start-local.sh
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=/run/slurmdbd.pid
LogFile=$LOG/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=$DB_PASS
CONF
write /etc/slurm/slurm.conf 644 <<CONF
# Written by tools/slurm/start-local.sh: single-machine test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
# No cgroups: CI containers rarely allow them.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
# Count CPUs only (not memory), so two 1-CPU jobs share the node.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Otherwise a submitted batch job may wait up to 3 s (batch_sched_delay default); now ~0.5-1 s.
SchedulerParameters=batch_sched_delay=0
# Accounting through slurmdbd so sacct works.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
# Finished jobs stay visible to scontrol show job (and squeue -t all) for an hour.
MinJobAge=3600
# A job whose dependency can never be met (afterok on a failed job) is cancelled, not left pending.
DependencyParameters=kill_invalid_depend
# A restarted slurmd brings the node back without scontrol update.
ReturnToService=2
MessageTimeout=10
MpiDefault=none
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

# Second call: nothing to do if the config is unchanged and the cluster answers.
if ((!changed)) && running /run/slurmctld.pid && running /run/slurmd.pid && healthy; then
  say "already running ($((SECONDS - START))s)"; exit 0
fi

# --- munge ----------------------------------------------------------------------------------
# munged refuses a key that is not owned by its user or that others can read.
[[ -s /etc/munge/munge.key ]] || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
chown munge:munge /etc/munge/munge.key /run/munge; chmod 400 /etc/munge/munge.key
# (munged logs to /var/log/munge: it insists that the log's folder belong to munge.)
running /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged ||
  fail "munged did not start" /var/log/munge/munged.log
wait_for munged /var/log/munge/munged.log bash -c 'munge -n | unmunge'

# --- MariaDB (storage behind slurmdbd) ------------------------------------------------------
chown mysql:mysql /run/mysqld
if ! mysqladmin ping >/dev/null 2>&1; then
  [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  touch "$LOG/mariadb.log"; chown mysql:mysql "$LOG/mariadb.log"
  # setsid: detach from this shell so the server outlives the CI step that started it.
  # --skip-networking: slurmdbd uses the unix socket, and port 3306 may be taken on CI runners.
  # innodb_lock_wait_timeout=900 is what slurmdbd asks for (it warns otherwise).
  setsid mariadbd --user=mysql --pid-file=/run/mysqld/mysqld.pid --log-error="$LOG/mariadb.log" \
    --skip-networking --innodb-lock-wait-timeout=900 </dev/null >/dev/null 2>&1 &
  wait_for mariadbd mariadb.log mysqladmin ping
fi
# root logs in through the unix socket (Debian default), so no password is needed here.
mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
  CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
  ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"

# --- Slurm daemons --------------------------------------------------------------------------
if ((changed)); then  # restart daemons that still run with an older config
  for d in slurmd slurmctld slurmdbd; do
    running /run/$d.pid || continue
    pid=$(cat /run/$d.pid); kill "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  done
fi
running /run/slurmdbd.pid || slurmdbd || fail "slurmdbd did not start" slurmdbd.log
wait_for slurmdbd slurmdbd.log sacctmgr -n show cluster
# The cluster must exist in the database before slurmctld registers with slurmdbd.
sacctmgr -n -P show cluster format=cluster | grep -qx "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
running /run/slurmctld.pid || slurmctld || fail "slurmctld did not start" slurmctld.log
wait_for slurmctld slurmctld.log scontrol ping
running /run/slurmd.pid || slurmd || fail "slurmd did not start" slurmd.log
wait_for slurmd "slurmd.log slurmctld.log" healthy
say "cluster $CLUSTER up, node $HOST idle ($((SECONDS - START))s)"
