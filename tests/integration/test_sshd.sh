# Sourced by the integration tests that need a real sshd (Debian's
# openssh-server): key authentication only, in a network namespace the
# test made, with a client config for emuctl's ssh. The one copy of that
# setup (ssh_test, cluster_add_test).
#
# start_test_sshd NETNS ADDRESS DIR [SHARE_MOUNTS]: host and user keys,
# sshd_config and ssh_config in DIR; sshd listens on ADDRESS inside NETNS.
# With SHARE_MOUNTS=1 sshd enters only the network namespace (nsenter), so
# what its sessions mount (an agent's /run/netns entries) is seen by all;
# otherwise `ip netns exec` (a private mount namespace, as a host of its
# own). Sets SSHD_PID (sshd's own pid) and SSH_CONFIG; the caller ends
# sshd (stop_test_sshd) in its EXIT trap.
SSHD=/usr/sbin/sshd
SSHD_PID=
SSH_CONFIG=
MADE_RUN_SSHD=0

start_test_sshd() {
  local ns=$1 addr=$2 dir=$3 share=${4:-0}
  [[ -x $SSHD ]] || { echo "FAIL: $SSHD missing: apt-get install openssh-server (deploy/setup.sh)" >&2; return 1; }
  [[ -d /run/sshd ]] || { mkdir -p /run/sshd; MADE_RUN_SSHD=1; }
  ssh-keygen -q -t ed25519 -N '' -f "$dir/hostkey"
  ssh-keygen -q -t ed25519 -N '' -f "$dir/id"
  cp "$dir/id.pub" "$dir/authorized_keys"
  cat >"$dir/sshd_config" <<CONF
ListenAddress $addr
HostKey $dir/hostkey
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
# Sessions get an empty HOME of the test's own: bash, run by sshd, reads
# ~/.bashrc even for 'ssh HOST cmd', and this machine's root .bashrc runs
# 'pyenv init' (about 2 s, 10 s under load, per remote command). The tests
# must not depend on the account's shell start-up.
SetEnv HOME=$dir/home
CONF
  mkdir -p "$dir/home"
  # Both exec sshd, so $! is sshd's own pid.
  if [[ $share == 1 ]]; then
    nsenter --net="/run/netns/$ns" "$SSHD" -D -e -f "$dir/sshd_config" 2>"$dir/sshd.log" &
  else
    ip netns exec "$ns" "$SSHD" -D -e -f "$dir/sshd_config" 2>"$dir/sshd.log" &
  fi
  SSHD_PID=$!
  SSH_CONFIG=$dir/ssh_config
  cat >"$SSH_CONFIG" <<CONF
Host *
  IdentityFile $dir/id
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  BatchMode yes
  ConnectTimeout 5
CONF
  wait_for 10 ssh -F "$SSH_CONFIG" "root@$addr" true || {
    echo "FAIL: sshd in $ns does not take the test's key: $(cat "$dir/sshd.log")" >&2
    return 1
  }
}

# Ends sshd's per-connection children, then sshd, by pid.
stop_test_sshd() {
  if [[ -n $SSHD_PID ]]; then
    for p in $(pgrep -P "$SSHD_PID" || true); do kill "$p" 2>/dev/null || true; done
    kill "$SSHD_PID" 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
    SSHD_PID=
  fi
  if [[ $MADE_RUN_SSHD == 1 ]]; then rmdir /run/sshd 2>/dev/null || true; fi
}
