'use strict';
/**
 * node bench/sched-overlap.js <tid> < sched.txt
 *
 * Reads the scheduler events of `perf sched record` as `perf script -F cpu,time,event,trace` prints them and tells,
 * for one thread (an app's main thread: its pid), how its wall time split into running, waiting for a CPU (runnable,
 * not running) and sleeping; how much of the waiting happened while another CPU than the one whose queue it waited
 * in was idle (time a scheduler that moved the thread could have used), and in how many spans; how often it was
 * moved between CPUs (`sched_migrate_task`); and the commands that ran on that CPU while it waited (the 8 that ran
 * longest; every PostgreSQL process is `postgres`). The waiting share is what the bench reports as
 * `…MainThreadWaitShare` (from schedstat); this splits it. A woken thread counts as waiting from the start of its
 * wakeup (`sched_waking`, or `sched_wakeup` where the kernel has no `sched_waking`), so the time an idle CPU takes to
 * come out of its halt counts as waiting too: little for a thread that rarely sleeps (zipf's app), much for one that
 * sleeps often (warm's app; use schedstat's figures there). Before every CPU has switched once, idle CPUs go unseen.
 * See bench/README.md, section 2026-11-27, 13:37–15:10 UTC.
 */
const { readFileSync } = require('node:fs');
const { median, percentile, round } = require('./lib/stats');

const LINE = /^\s*\[(\d+)\]\s+([\d.]+):\s+(\S+):\s+(.*)$/;
const SWITCH = /prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) ==> next_comm=(.*) next_pid=(\d+)/;
const WAKING = /pid=(\d+) prio=\d+ target_cpu=\d+/;
const MIGRATE = /pid=(\d+) prio=\d+ orig_cpu=\d+ dest_cpu=(\d+)/;

function analyse(text, tid) {
  /** cpu -> the pid running on it (0: idle); a CPU counts once it has switched. */
  const running = new Map();
  const comms = new Map([[0, 'idle']]);
  let state;
  /** The CPU the thread runs on, or whose queue it waits in. */
  let cpu;
  let last;
  let migrations = 0;
  const time = { running: 0, waiting: 0, sleeping: 0, waitingWhileIdle: 0 };
  const onItsCpu = new Map();
  const spans = [];
  let spanStart;
  for (const line of text.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const [, eventCpu, at, event, rest] = match;
    const t = Number(at);
    let idleElsewhere = false;
    if (last !== undefined && state !== undefined) {
      time[state] += t - last;
      if (state === 'waiting') {
        idleElsewhere = [...running].some(([other, pid]) => other !== cpu && pid === 0);
        if (idleElsewhere) time.waitingWhileIdle += t - last;
        const comm = comms.get(running.get(cpu)) ?? '?';
        onItsCpu.set(comm, (onItsCpu.get(comm) ?? 0) + t - last);
      }
    }
    if (idleElsewhere && spanStart === undefined) spanStart = last;
    if (!idleElsewhere && spanStart !== undefined) {
      spans.push(last - spanStart);
      spanStart = undefined;
    }
    last = t;
    if (event === 'sched:sched_switch') {
      const s = SWITCH.exec(rest);
      if (!s) continue;
      const [, prevPid, prevState, nextComm, nextPid] = s;
      if (Number(nextPid) !== 0) comms.set(Number(nextPid), nextComm);
      running.set(Number(eventCpu), Number(nextPid));
      if (Number(prevPid) === tid) {
        cpu = Number(eventCpu);
        state = prevState.startsWith('R') ? 'waiting' : 'sleeping';
      }
      if (Number(nextPid) === tid) {
        cpu = Number(eventCpu);
        state = 'running';
      }
    } else if (event === 'sched:sched_waking' || event === 'sched:sched_wakeup') {
      const w = WAKING.exec(rest);
      if (w && Number(w[1]) === tid && state === 'sleeping') state = 'waiting';
    } else if (event === 'sched:sched_migrate_task') {
      const m = MIGRATE.exec(rest);
      if (m && Number(m[1]) === tid) {
        migrations++;
        cpu = Number(m[2]);
      }
    }
  }
  const wall = time.running + time.waiting + time.sleeping;
  if (wall === 0) throw new Error(`no scheduler events of thread ${tid}`);
  const share = (x) => round(x / wall, 3);
  const ms = (seconds) => round(seconds * 1000, 2);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const spanTotal = sum(spans);
  const longSpans = sum(spans.filter((x) => x >= 0.001));
  const top = [...onItsCpu].sort((a, b) => b[1] - a[1]).slice(0, 8);
  return {
    seconds: round(wall, 3),
    runningShare: share(time.running),
    waitingShare: share(time.waiting),
    waitingWhileAnotherCpuIdleShare: share(time.waitingWhileIdle),
    sleepingShare: share(time.sleeping),
    migrations,
    spansWaitingWhileAnotherCpuIdle: {
      count: spans.length,
      medianMs: ms(median(spans)),
      p90Ms: ms(percentile(spans, 90)),
      longestMs: ms(Math.max(0, ...spans)),
      shareOfTheirTimeInSpansOf1MsOrMore: spanTotal > 0 ? round(longSpans / spanTotal, 3) : 0,
    },
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
