#!/bin/bash
# Memory and CPU of `pandu serve --chat` on real messages (issue 16), run from the repository root:
#   benches/serve_rss.sh target/release/pandu
# Starts the binary on a fresh data folder under target/tmp, prints VmRSS/VmHWM after 3 s idle, feeds it
# every held-out and labelled emergency message of dialogs/tests/ twice (one chat user), and prints
# VmRSS/VmHWM and the CPU ticks (utime+stime, 1/100 s) those messages took. Kills the server on exit.
set -u
bin=$1
mkdir -p target/tmp
d=$(mktemp -d -p "$PWD/target/tmp" rss.XXXX); chmod 700 "$d"
msgs=$d.msgs
python3 - "$msgs" <<'PY'
import glob, re, sys
out = []
for f in sorted(glob.glob('dialogs/tests/phrasing_heldout*.yaml')):
    out += [m.replace('\\"', '"') for m in re.findall(r'text: "((?:[^"\\]|\\.)*)"', open(f).read())]
for f in sorted(glob.glob('dialogs/tests/emergency*.yaml')):
    out += [m.replace('\\"', '"') for m in re.findall(r'^\s*- "((?:[^"\\]|\\.)*)"', open(f).read(), re.M)]
open(sys.argv[1], 'w').write('\n'.join(out) + '\n')
PY
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
fifo=$d.fifo; mkfifo "$fifo"
PANDU_DATA_DIR=$d PANDU_SERVER_LISTEN=127.0.0.1:$port "$bin" serve --chat < "$fifo" > "$d.out" 2> "$d.log" &
pid=$!
trap 'exec 7>&-; kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$d" "$d.out" "$d.log" "$fifo" "$msgs"' EXIT
exec 7> "$fifo"
sleep 3
echo -n "idle: "; grep -E "VmRSS|VmHWM" /proc/$pid/status | tr '\n' ' '; echo
t0=$(awk '{print $14+$15}' /proc/$pid/stat)
cat "$msgs" "$msgs" >&7
last=""
for _ in $(seq 1 120); do sleep 1; c=$(wc -c < "$d.out"); [ "$c" = "$last" ] && break; last=$c; done
t1=$(awk '{print $14+$15}' /proc/$pid/stat)
echo -n "after $(( $(wc -l < "$msgs") * 2 )) messages: "; grep -E "VmRSS|VmHWM" /proc/$pid/status | tr '\n' ' '
echo " cpu ticks $((t1 - t0))"
