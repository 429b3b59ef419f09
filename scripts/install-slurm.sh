#!/usr/bin/env bash
# Installs what `make test-slurm` needs: Debian's slurm-wlm (slurmctld,
# slurmd and the client commands) and munge. Does nothing when they are
# already installed; otherwise needs root and Debian's archive.
set -euo pipefail

missing=0
for prog in slurmctld slurmd sbatch sacct munged mungekey; do
	command -v "$prog" >/dev/null 2>&1 || missing=1
done
[ "$missing" = 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-slurm.sh: slurm-wlm and munge are missing; run as root (apt-get install slurm-wlm munge)" >&2
	exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends slurm-wlm munge
# Where a service manager runs, the packages may start their own Slurm
# daemons; the test starts its own from a temporary configuration and
# refuses to run beside others.
for svc in slurmd slurmctld; do
	if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
		systemctl stop "$svc"
	fi
done
