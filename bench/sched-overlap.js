'use strict';
/**
 * node bench/sched-overlap.js <tid> < sched.txt
 *
 * Reads the scheduler events of `perf sched record -a` as `perf script -F cpu,time,event,trace` prints them and
 * tells, for one thread (an app's main thread: its pid), how its wall time split into running, waiting for a CPU
 * (runnable, not running) and sleeping; how much of the waiting happened while another CPU was idle (time a
 * scheduler that moved the thread could have used); how often it moved between CPUs; and which commands ran on its
 * CPU while it waited. The waiting share is what the bench reports as `…MainThreadWaitShare` (from schedstat); this
 * splits it. A woken thread counts as waiting from the start of its wakeup (`sched_waking`), so the time an idle CPU
 * takes to come out of its halt counts as waiting too: little for a thread that rarely sleeps (zipf's app), much for
 * one that sleeps often (warm's app; use schedstat's figures there). See bench/README.md, section 2026-11-27,
 * 13:37–15:00 UTC.
 */
const { readFileSync } = require('node:fs');

const LINE = /^\s*\[(\d+)\]\s+([\d.]+):\s+(\S+):\s+(.*)$/;
const SWITCH =
  /prev_comm=(.*) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(.*) next_pid=(\d+)/;
const WAKING = /comm=(.*) pid=(\d+) prio=\d+ target_cpu=(\d+)/;

function analyse(text, tid) {
  /** cpu -> the pid running on it (0: idle); a CPU counts once it has switched. */
  const running = new Map();
  const comms = new Map([[0, 'idle']]);
  let state;
  let cpu;
  let last;
  let migrations = 0;
  const time = { running: 0, waiting: 0, sleeping: 0, waitingWhileIdle: 0 };
  const onItsCpu = new Map();
  for (const line of text.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const [, eventCpu, at, event, rest] = match;
    const t = Number(at);
    if (last !== undefined && state !== undefined) {
      const span = t - last;
      time[state] += span;
      if (state === 'waiting') {
        const idleElsewhere = [...running].some(([other, pid]) => other !== cpu && pid === 0);
        if (idleElsewhere) time.waitingWhileIdle += span;
        const comm = comms.get(running.get(cpu)) ?? '?';
        onItsCpu.set(comm, (onItsCpu.get(comm) ?? 0) + span);
      }
    }
    last = t;
    if (event === 'sched:sched_switch') {
      const s = SWITCH.exec(rest);
      if (!s) continue;
      const [, , prevPid, prevState, nextComm, nextPid] = s;
      comms.set(Number(nextPid), nextComm);
      running.set(Number(eventCpu), Number(nextPid));
      if (Number(prevPid) === tid) state = prevState.startsWith('R') ? 'waiting' : 'sleeping';
      if (Number(nextPid) === tid) {
        if (cpu !== undefined && cpu !== Number(eventCpu)) migrations++;
        cpu = Number(eventCpu);
        state = 'running';
      }
    } else if (event === 'sched:sched_waking' || event === 'sched:sched_wakeup') {
      const w = WAKING.exec(rest);
      if (w && Number(w[2]) === tid && state === 'sleeping') state = 'waiting';
    }
  }
  const wall = time.running + time.waiting + time.sleeping;
  if (wall === 0) throw new Error(`no scheduler events of thread ${tid}`);
  const share = (x) => Number((x / wall).toFixed(3));
  const top = [...onItsCpu].sort((a, b) => b[1] - a[1]).slice(0, 8);
  return {
    seconds: Number(wall.toFixed(3)),
    runningShare: share(time.running),
    waitingShare: share(time.waiting),
    waitingWhileAnotherCpuIdleShare: share(time.waitingWhileIdle),
    sleepingShare: share(time.sleeping),
    migrations,
    onItsCpuWhileWaitingMs: Object.fromEntries(top.map(([comm, s]) => [comm, Math.round(s * 1000)])),
  };
}

const tid = Number(process.argv[2]);
if (!Number.isInteger(tid) || tid <= 0) {
  console.error(
    'usage: perf script -F cpu,time,event,trace -i perf.data | node bench/sched-overlap.js <tid>',
  );
  process.exit(2);
}
console.log(JSON.stringify(analyse(readFileSync(0, 'utf8'), tid), null, 2));
