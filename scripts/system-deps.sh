#!/usr/bin/env bash
# System packages the test suite needs: Debian's Chromium for the dashboard browser test, and SLURM
# (slurm-wlm, munge) for the single-node cluster of the SLURM test. Installed once (root on these
# machines); a machine without apt or root skips, and those tests then skip with their reason.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium chromium-driver)
{ command -v sbatch && command -v slurmctld && command -v slurmd; } >/dev/null 2>&1 || need+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || [ -x /usr/sbin/munged ] || need+=(munge)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing ${need[*]} (browser and SLURM tests)"
  # The packages' own services are not needed (the SLURM test starts its own daemons): a container
  # without systemd just reports that they did not start.
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") \
    >/tmp/nas-apt.log 2>&1 || echo "    install failed (see /tmp/nas-apt.log); the browser and SLURM tests will skip"
else
  echo "    ${need[*]} not found and cannot install here; the browser and SLURM tests will skip"
fi
exit 0
