// A machine hiccup meter (after jHiccup): one thread pinned to a core, at real-time priority when
// allowed, sleeps 1 ms again and again and records how late it wakes. It runs no tracker code, so a
// late wake-up is the machine's: the hypervisor not running the virtual CPU, an interrupt storm, the
// kernel. bench/open-loop.sh runs it on the tracker's core beside the tracker, so that a stall in the
// tracker's latency can be told apart from a stall of the core it runs on. Costs ~1% of the core.
//
// usage: hiccup CORE SECONDS [INTERVAL_S=10]
// prints every INTERVAL_S: t=<s> max_us=<worst lateness> over1ms=<wake-ups > 1 ms late> over10ms=<…>
// and at the end: hiccup core=<c> seconds=<s> max_us=<…> over1ms=<…> over10ms=<…> lost_ms=<time lost
// in wake-ups more than 1 ms late> fifo=<1 if it ran at real-time priority>
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: hiccup CORE SECONDS [INTERVAL_S]\n");
    return 2;
  }
  int core = atoi(argv[1]);
  long seconds = atol(argv[2]);
  long interval = argc > 3 ? atol(argv[3]) : 10;
  if (core < 0 || seconds < 1 || seconds > 3600 || interval < 1) {
    fprintf(stderr, "hiccup: CORE >= 0, SECONDS 1..3600, INTERVAL_S >= 1\n");
    return 2;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    perror("hiccup: sched_setaffinity");
    return 1;
  }
  // Real-time priority, so the tracker's own work on this core does not make the meter late: the
  // meter then measures the core, not the tracker. Without the privilege it runs at normal priority.
  struct sched_param sp = { .sched_priority = 1 };
  int fifo = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
  const long long period = 1000000;  // 1 ms
  long long start = now_ns(), end = start + seconds * 1000000000LL, next_report = start + interval * 1000000000LL;
  long long max_all = 0, max_iv = 0, lost = 0;
  long over1 = 0, over10 = 0, over1_iv = 0, over10_iv = 0;
  long long t = start;
  while (t < end) {
    struct timespec req = { 0, period };
    nanosleep(&req, NULL);
    long long woke = now_ns();
    long long late = woke - t - period;
    if (late < 0) late = 0;
    if (late > max_iv) max_iv = late;
    if (late > 1000000) { over1++; over1_iv++; lost += late; }
    if (late > 10000000) { over10++; over10_iv++; }
    t = woke;
    if (t >= next_report) {
      printf("t=%lld max_us=%lld over1ms=%ld over10ms=%ld\n", (next_report - start) / 1000000000LL, max_iv / 1000, over1_iv, over10_iv);
      fflush(stdout);
      if (max_iv > max_all) max_all = max_iv;
      max_iv = 0;
      over1_iv = over10_iv = 0;
      next_report += interval * 1000000000LL;
    }
  }
  if (max_iv > max_all) max_all = max_iv;
  printf("hiccup core=%d seconds=%ld max_us=%lld over1ms=%ld over10ms=%ld lost_ms=%lld fifo=%d\n", core, seconds, max_all / 1000, over1, over10, lost / 1000000, fifo);
  return 0;
}
