/*===- ModelThreads.c - The thread pool linked into every model ---*- C -*-===*\
|*                                                                            *|
|* Part of the slm project: a compiler for compressed transformer models.     *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
/*
 * The parallel loops of a compiled model are OpenMP constructs (MLIR's
 * convert-scf-to-openmp, then LLVM's OpenMPIRBuilder), which call a handful
 * of entry points of the OpenMP runtime's ABI (`__kmpc_*`). This file
 * implements exactly those, on a pool of its own, and every model links it
 * instead of libomp (the symbols are hidden: a libomp or libgomp loaded by
 * the same process is neither used nor disturbed).
 *
 * Why not libomp: its fork/join makes every thread of the team check in at
 * the join. When another process holds one of the cores, the thread sharing
 * it runs late and every one of a model's hundreds of parallel loops waits
 * for it (MiniLM b1 s32: 4.6 ms idle, 16 ms with one core busy). Here:
 *
 *  - A region is *offered* to the workers, not imposed: the calling thread
 *    (the master) starts on the loop at once; a worker that wakes in time
 *    joins, one that does not is never waited for. When the master is done
 *    it closes the region (no more joiners) and waits only for the workers
 *    that joined. Joining is a Dekker-style handshake on sequentially
 *    consistent atomics (`entered`, then `open`; the master: `open`, then
 *    `entered`).
 *  - Worksharing loops are dealt out dynamically (slm-schedule-parallel-
 *    loops makes them `schedule(dynamic, 1)`; their iterations are tiles):
 *    the threads that run take what is left.
 *  - A static schedule's blocks are fixed by thread number, so a region with
 *    a static loop waits for its whole team (OpenMP's semantics, kept for
 *    correctness).
 *  - Barriers count the threads that joined (the first arrival closes the
 *    region), or the whole team in a region with a static loop.
 *  - Workers spin briefly (SLM_SPIN_US microseconds, default 50, yielding
 *    the core) for the next region, then sleep on a futex; the master wakes
 *    them only when one sleeps.
 *  - A region started while the pool runs another (a second thread running
 *    a model of this library) or from inside a region runs on the calling
 *    thread alone, as OpenMP's nested regions do.
 *
 * The thread count is per calling thread, as OpenMP's: slm_model_set_threads
 * (SLM_MODEL_SET_THREADS_SYMBOL; the runtime calls it before each run) or,
 * by default, $OMP_NUM_THREADS when set, else the CPUs the process may run
 * on. Workers are created when a
 * region first needs them and joined when the library is unloaded.
 */

#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT, syscall */

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SLM_HIDDEN __attribute__((visibility("hidden")))
#define SLM_EXPORTED __attribute__((visibility("default")))

enum { kMaxThreads = 256, kMaxArgs = 16, kMaxLoops = 64 };

/* The OpenMP ABI's schedule kinds (kmp.h), without the monotonic and
 * nonmonotonic modifier bits. */
enum {
  kStaticChunked = 33,
  kStatic = 34,
  kDynamicChunked = 35,
  kGuidedChunked = 36,
  kModifierBits = (1 << 29) | (1 << 30)
};

typedef void (*Microtask)(int32_t *, int32_t *, ...);

/* One worksharing loop of the current region, in iteration numbers
 * [0, total): iteration i is lower + i * stride. */
typedef struct {
  /* Written once by the thread that sets the loop up, then only read. */
  int32_t state; /* 0: not started, 1: being set up, 2: ready */
  int32_t guided;
  int64_t total;
  int64_t lower, stride, chunk;
  /* The first iteration not dealt out yet: every dispatch writes it, so it
   * has a cache line of its own (next to the fields above, each taken
   * chunk made the other thread's next read of them miss). */
  int64_t next __attribute__((aligned(64)));
} Loop;

static struct {
  pthread_mutex_t busy; /* held by the master of the running region */
  /* Written by the master before it opens a region. */
  Microtask fn;
  int32_t argc;
  void *args[kMaxArgs];
  int32_t team; /* threads the region may use, the master included */
  int32_t fullTeam; /* a static loop: wait for the whole team */
  int32_t nextTid;  /* worker thread numbers handed out (1, 2, ...) */
  Loop loops[kMaxLoops];
  /* The handshake. */
  uint32_t generation; /* bumped per region: the workers' futex word */
  int32_t open;
  int32_t entered; /* workers inside the region (or backing out) */
  uint64_t barrier; /* generation << 32 | threads arrived */
  int32_t sleepers;
  int32_t shutdown;
  /* The workers. */
  pthread_mutex_t grow;
  int32_t workers;
  pthread_t threads[kMaxThreads];
  int64_t spinNs;
} pool = {.busy = PTHREAD_MUTEX_INITIALIZER,
          .grow = PTHREAD_MUTEX_INITIALIZER,
          .spinNs = -1};

/* The calling thread's place in the region it runs. */
typedef struct {
  int32_t active;  /* in a region of the pool */
  int32_t serial;  /* in a region of its own (nested, or the pool busy) */
  int32_t tid;
  int32_t loop;    /* worksharing loops it has started in this region */
  int64_t serialNext, serialTotal, serialLower, serialStride;
} Place;

static __thread Place place;
static __thread int32_t requestedThreads; /* 0: the default */

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

static void cpuRelax(void) { __builtin_ia32_pause(); }

static int64_t nowNs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* $OMP_NUM_THREADS when set, else the CPUs this process may run on (read
 * once). */
static int32_t defaultThreads(void) {
  static int32_t cached;
  int32_t n = LOAD(&cached);
  if (n > 0)
    return n;
  const char *env = getenv("OMP_NUM_THREADS");
  long fromEnv = env ? strtol(env, 0, 10) : 0;
  cpu_set_t set;
  if (fromEnv > 0) {
    n = fromEnv < kMaxThreads ? (int32_t)fromEnv : kMaxThreads;
  } else if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
             CPU_COUNT(&set) > 0) {
    n = CPU_COUNT(&set);
  } else {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    n = online > 0 ? (int32_t)online : 1;
  }
  STORE(&cached, n);
  return n;
}

static int64_t spinNs(void) {
  int64_t ns = LOAD(&pool.spinNs);
  if (ns < 0) {
    const char *env = getenv("SLM_SPIN_US");
    long us = env ? strtol(env, 0, 10) : 50;
    ns = (int64_t)(us < 0 ? 0 : us) * 1000;
    STORE(&pool.spinNs, ns);
  }
  return ns;
}

static void invoke(Microtask fn, int32_t tid, int32_t argc, void **a) {
  int32_t gtid = tid, btid = tid;
  switch (argc) {
  /* OpenMPIRBuilder passes one aggregate of the captured values; the rest
   * is there for other producers. */
#define A(i) a[i]
  case 0: fn(&gtid, &btid); break;
  case 1: fn(&gtid, &btid, A(0)); break;
  case 2: fn(&gtid, &btid, A(0), A(1)); break;
  case 3: fn(&gtid, &btid, A(0), A(1), A(2)); break;
  case 4: fn(&gtid, &btid, A(0), A(1), A(2), A(3)); break;
  case 5: fn(&gtid, &btid, A(0), A(1), A(2), A(3), A(4)); break;
  case 6: fn(&gtid, &btid, A(0), A(1), A(2), A(3), A(4), A(5)); break;
  case 7: fn(&gtid, &btid, A(0), A(1), A(2), A(3), A(4), A(5), A(6)); break;
  case 8:
    fn(&gtid, &btid, A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7));
    break;
  default:
    fn(&gtid, &btid, A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7), A(8),
       A(9), A(10), A(11), A(12), A(13), A(14), A(15));
    break;
#undef A
  }
}

static void runSerially(Microtask fn, int32_t argc, void **args) {
  Place saved = place;
  place.active = 1;
  place.serial = 1;
  place.tid = 0;
  place.loop = 0;
  invoke(fn, 0, argc, args);
  place = saved;
}

/* `start`: the generation when the worker was created (before the region
 * that needed it was opened, so that it joins that one). */
static void *workerMain(void *start) {
  uint32_t seen = (uint32_t)(uintptr_t)start;
  for (;;) {
    /* Wait for a new region: spin (yielding the core), then sleep. */
    uint32_t g = LOAD(&pool.generation);
    if (g == seen) {
      int64_t until = nowNs() + spinNs();
      int spins = 0;
      while ((g = LOAD(&pool.generation)) == seen && !LOAD(&pool.shutdown)) {
        if (++spins < 64) {
          cpuRelax();
          continue;
        }
        spins = 0;
        if (nowNs() >= until) {
          ADD(&pool.sleepers, 1);
          if (LOAD(&pool.generation) == seen && !LOAD(&pool.shutdown))
            syscall(SYS_futex, &pool.generation, FUTEX_WAIT_PRIVATE, seen, 0,
                    0, 0);
          ADD(&pool.sleepers, -1);
          until = nowNs() + spinNs();
        } else {
          sched_yield();
        }
      }
    }
    if (LOAD(&pool.shutdown))
      return 0;
    seen = g;
    /* Join, unless the master has closed the region already. */
    ADD(&pool.entered, 1);
    if (!LOAD(&pool.open)) {
      ADD(&pool.entered, -1);
      continue;
    }
    seen = LOAD(&pool.generation); /* cannot change while we are inside */
    int32_t tid = ADD(&pool.nextTid, 1);
    if (tid < pool.team) {
      place.active = 1;
      place.serial = 0;
      place.tid = tid;
      place.loop = 0;
      invoke(pool.fn, tid, pool.argc, pool.args);
      place.active = 0;
    }
    ADD(&pool.entered, -1);
  }
}

/* A child of fork() has none of the parent's workers (the fork happened
 * outside a region: a region's master holds `busy`, taken here first). */
static void beforeFork(void) { pthread_mutex_lock(&pool.busy); }
static void afterForkParent(void) { pthread_mutex_unlock(&pool.busy); }
static void afterForkChild(void);
static void registerForkHandlers(void) {
  pthread_atfork(beforeFork, afterForkParent, afterForkChild);
}
static void afterForkChild(void) {
  pool.workers = 0;
  pool.sleepers = 0;
  pool.entered = 0;
  pool.open = 0;
  pthread_mutex_init(&pool.grow, 0);
  pthread_mutex_unlock(&pool.busy);
}

/* Workers for a team of `team` threads (the master included); returns the
 * team the pool can give. */
static int32_t ensureWorkers(int32_t team) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  if (team > kMaxThreads)
    team = kMaxThreads;
  if (LOAD(&pool.workers) >= team - 1)
    return team;
  pthread_once(&once, registerForkHandlers);
  pthread_mutex_lock(&pool.grow);
  while (pool.workers < team - 1) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    int failed =
        pthread_create(&pool.threads[pool.workers], &attr, workerMain,
                       (void *)(uintptr_t)LOAD(&pool.generation));
    pthread_attr_destroy(&attr);
    if (failed)
      break;
    STORE(&pool.workers, pool.workers + 1);
  }
  int32_t workers = pool.workers;
  pthread_mutex_unlock(&pool.grow);
  return team < workers + 1 ? team : workers + 1;
}

__attribute__((destructor)) static void stopWorkers(void) {
  if (!LOAD(&pool.workers))
    return;
  STORE(&pool.shutdown, 1);
  ADD(&pool.generation, 1);
  syscall(SYS_futex, &pool.generation, FUTEX_WAKE_PRIVATE, kMaxThreads, 0, 0,
          0);
  for (int32_t i = 0; i < pool.workers; ++i)
    pthread_join(pool.threads[i], 0);
  pool.workers = 0;
}

/* Waits, spinning then yielding, until `done` holds. */
#define WAIT_UNTIL(done)                                                       \
  do {                                                                         \
    int spins_ = 0;                                                            \
    while (!(done)) {                                                          \
      if (++spins_ < 256)                                                      \
        cpuRelax();                                                            \
      else                                                                     \
        sched_yield();                                                         \
    }                                                                          \
  } while (0)

/*===----------------------------------------------------------------------===*
 * The OpenMP ABI
 *===----------------------------------------------------------------------===*/

SLM_HIDDEN void __kmpc_fork_call(void *loc, int32_t argc, Microtask fn, ...);
SLM_HIDDEN int32_t __kmpc_global_thread_num(void *loc);
SLM_HIDDEN void __kmpc_push_num_threads(void *loc, int32_t gtid, int32_t n);
SLM_HIDDEN void __kmpc_barrier(void *loc, int32_t gtid);
SLM_HIDDEN void __kmpc_dispatch_init_8u(void *loc, int32_t gtid, int32_t kind,
                                        uint64_t lower, uint64_t upper,
                                        int64_t stride, int64_t chunk);
SLM_HIDDEN int32_t __kmpc_dispatch_next_8u(void *loc, int32_t gtid,
                                           int32_t *last, uint64_t *lower,
                                           uint64_t *upper, int64_t *stride);
SLM_HIDDEN void __kmpc_dispatch_init_4u(void *loc, int32_t gtid, int32_t kind,
                                        uint32_t lower, uint32_t upper,
                                        int32_t stride, int32_t chunk);
SLM_HIDDEN int32_t __kmpc_dispatch_next_4u(void *loc, int32_t gtid,
                                           int32_t *last, uint32_t *lower,
                                           uint32_t *upper, int32_t *stride);
SLM_HIDDEN void __kmpc_dispatch_fini_8u(void *loc, int32_t gtid);
SLM_HIDDEN void __kmpc_dispatch_fini_4u(void *loc, int32_t gtid);
SLM_HIDDEN void __kmpc_dispatch_deinit(void *loc, int32_t gtid);
SLM_HIDDEN void __kmpc_for_static_init_8u(void *loc, int32_t gtid,
                                          int32_t kind, int32_t *last,
                                          uint64_t *lower, uint64_t *upper,
                                          int64_t *stride, int64_t increment,
                                          int64_t chunk);
SLM_HIDDEN void __kmpc_for_static_init_4u(void *loc, int32_t gtid,
                                          int32_t kind, int32_t *last,
                                          uint32_t *lower, uint32_t *upper,
                                          int32_t *stride, int32_t increment,
                                          int32_t chunk);
SLM_HIDDEN void __kmpc_for_static_fini(void *loc, int32_t gtid);
SLM_HIDDEN int32_t __kmpc_reduce(void *loc, int32_t gtid, int32_t n,
                                 size_t size, void *data,
                                 void (*combine)(void *, void *), void *lock);
SLM_HIDDEN void __kmpc_end_reduce(void *loc, int32_t gtid, void *lock);
SLM_HIDDEN int32_t __kmpc_reduce_nowait(void *loc, int32_t gtid, int32_t n,
                                        size_t size, void *data,
                                        void (*combine)(void *, void *),
                                        void *lock);
SLM_HIDDEN void __kmpc_end_reduce_nowait(void *loc, int32_t gtid, void *lock);
SLM_HIDDEN void __kmpc_critical(void *loc, int32_t gtid, void *lock);
SLM_HIDDEN void __kmpc_end_critical(void *loc, int32_t gtid, void *lock);
SLM_EXPORTED void slm_model_set_threads(int32_t n);

static __thread int32_t pushedThreads;

void slm_model_set_threads(int32_t n) { requestedThreads = n > 0 ? n : 0; }

void __kmpc_push_num_threads(void *loc, int32_t gtid, int32_t n) {
  (void)loc;
  (void)gtid;
  pushedThreads = n;
}

int32_t __kmpc_global_thread_num(void *loc) {
  (void)loc;
  return place.active ? place.tid : 0;
}

void __kmpc_fork_call(void *loc, int32_t argc, Microtask fn, ...) {
  (void)loc;
  void *args[kMaxArgs] = {0};
  va_list list;
  va_start(list, fn);
  for (int32_t i = 0; i < argc && i < kMaxArgs; ++i)
    args[i] = va_arg(list, void *);
  va_end(list);
  if (argc > kMaxArgs) {
    fprintf(stderr, "slm: a parallel region captures %d values (at most %d: "
                    "a compiler bug, please report it)\n",
            argc, kMaxArgs);
    abort();
  }
  int32_t team = pushedThreads > 0 ? pushedThreads
                 : requestedThreads > 0 ? requestedThreads
                                        : defaultThreads();
  pushedThreads = 0;
  if (team <= 1 || place.active || pthread_mutex_trylock(&pool.busy) != 0) {
    runSerially(fn, argc, args);
    return;
  }
  team = ensureWorkers(team);
  if (team <= 1) {
    pthread_mutex_unlock(&pool.busy);
    runSerially(fn, argc, args);
    return;
  }
  /* No worker is inside (the last region ended with entered == 0), though
   * a late one may be backing out: set the region up, then open it. */
  pool.fn = fn;
  pool.argc = argc;
  for (int32_t i = 0; i < kMaxArgs; ++i)
    pool.args[i] = args[i];
  pool.team = team;
  STORE(&pool.fullTeam, 0);
  STORE(&pool.nextTid, 0);
  for (int32_t i = 0; i < kMaxLoops; ++i)
    pool.loops[i].state = 0;
  STORE(&pool.barrier, (uint64_t)0);
  STORE(&pool.open, 1);
  ADD(&pool.generation, 1);
  if (LOAD(&pool.sleepers))
    syscall(SYS_futex, &pool.generation, FUTEX_WAKE_PRIVATE, team - 1, 0, 0,
            0);

  place.active = 1;
  place.serial = 0;
  place.tid = 0;
  place.loop = 0;
  invoke(fn, 0, argc, args);
  place.active = 0;

  /* With a static loop every thread number must have run. */
  if (LOAD(&pool.fullTeam))
    WAIT_UNTIL(LOAD(&pool.nextTid) >= team - 1);
  STORE(&pool.open, 0);
  WAIT_UNTIL(LOAD(&pool.entered) == 0);
  pthread_mutex_unlock(&pool.busy);
}

void __kmpc_barrier(void *loc, int32_t gtid) {
  (void)loc;
  (void)gtid;
  if (!place.active || place.serial)
    return;
  /* From the first arrival on nobody joins, unless the whole team must. */
  const int full = LOAD(&pool.fullTeam);
  if (!full)
    STORE(&pool.open, 0);
  uint64_t arrived = ADD(&pool.barrier, 1);
  const uint64_t mine = arrived >> 32;
  for (int spins = 0;; ++spins) {
    uint64_t now = LOAD(&pool.barrier);
    if (now >> 32 != mine)
      return;
    uint64_t expected = (uint64_t)(full ? pool.team : 1 + LOAD(&pool.entered));
    if ((now & 0xffffffffu) == expected &&
        __atomic_compare_exchange_n(&pool.barrier, &now, (mine + 1) << 32, 0,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
      return;
    if (spins < 256)
      cpuRelax();
    else
      sched_yield();
  }
}

static void dispatchInit(int32_t kind, int64_t total, int64_t lower,
                         int64_t stride, int64_t chunk) {
  kind &= ~kModifierBits;
  if (chunk < 1)
    chunk = 1;
  if (!place.active || place.serial) {
    place.serialNext = 0;
    place.serialTotal = total;
    place.serialLower = lower;
    place.serialStride = stride;
    return;
  }
  if (place.loop >= kMaxLoops) {
    fprintf(stderr, "slm: more than %d worksharing loops in one parallel "
                    "region (a compiler bug, please report it)\n",
            kMaxLoops);
    abort();
  }
  Loop *loop = &pool.loops[place.loop];
  int32_t expected = 0;
  if (__atomic_compare_exchange_n(&loop->state, &expected, 1, 0,
                                  __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    loop->total = total;
    loop->lower = lower;
    loop->stride = stride;
    /* A static schedule's chunk, dealt out dynamically: the same
     * iterations, taken by whoever runs. */
    if (kind == kStatic)
      chunk = (total + pool.team - 1) / pool.team;
    /* The compiler's chunks (iterations of little work are dealt out
     * several at a time) still leave every thread four to take. */
    else if (chunk > 1 && chunk > total / (4 * (int64_t)pool.team))
      chunk = total / (4 * (int64_t)pool.team);
    loop->chunk = chunk < 1 ? 1 : chunk;
    loop->guided = kind == kGuidedChunked;
    STORE(&loop->next, (int64_t)0);
    STORE(&loop->state, 2);
  } else {
    WAIT_UNTIL(LOAD(&loop->state) == 2);
  }
}

/* The next chunk [first, first + count) of the calling thread's loop. */
static int dispatchNext(int64_t *first, int64_t *count, int64_t *lower,
                        int64_t *stride, int *last) {
  if (!place.active || place.serial) {
    if (place.serialNext >= place.serialTotal)
      return 0;
    *first = place.serialNext;
    *count = place.serialTotal - place.serialNext;
    place.serialNext = place.serialTotal;
    *lower = place.serialLower;
    *stride = place.serialStride;
    *last = 1;
    return 1;
  }
  Loop *loop = &pool.loops[place.loop];
  int64_t start, size;
  if (loop->guided) {
    start = LOAD(&loop->next);
    do {
      if (start >= loop->total)
        break;
      size = (loop->total - start) / (2 * pool.team);
      if (size < loop->chunk)
        size = loop->chunk;
    } while (!__atomic_compare_exchange_n(&loop->next, &start, start + size,
                                          0, __ATOMIC_SEQ_CST,
                                          __ATOMIC_SEQ_CST));
  } else {
    size = loop->chunk;
    start = __atomic_fetch_add(&loop->next, size, __ATOMIC_SEQ_CST);
  }
  if (start >= loop->total) {
    ++place.loop; /* this thread is done with the loop */
    return 0;
  }
  *first = start;
  *count = start + size > loop->total ? loop->total - start : size;
  *lower = loop->lower;
  *stride = loop->stride;
  *last = start + size >= loop->total;
  return 1;
}

static int64_t tripCount(int64_t lower, int64_t upper, int64_t stride,
                         int isUnsigned) {
  if (stride == 0)
    return 0;
  if (isUnsigned ? (uint64_t)lower > (uint64_t)upper : lower > upper)
    return stride > 0 ? 0 : (lower - upper) / -stride + 1;
  if (stride < 0)
    return 0;
  return (int64_t)(((uint64_t)upper - (uint64_t)lower) / (uint64_t)stride) + 1;
}

void __kmpc_dispatch_init_8u(void *loc, int32_t gtid, int32_t kind,
                             uint64_t lower, uint64_t upper, int64_t stride,
                             int64_t chunk) {
  (void)loc;
  (void)gtid;
  dispatchInit(kind, tripCount((int64_t)lower, (int64_t)upper, stride, 1),
               (int64_t)lower, stride, chunk);
}

int32_t __kmpc_dispatch_next_8u(void *loc, int32_t gtid, int32_t *last,
                                uint64_t *lower, uint64_t *upper,
                                int64_t *stride) {
  (void)loc;
  (void)gtid;
  int64_t first, count, base, step;
  int isLast;
  if (!dispatchNext(&first, &count, &base, &step, &isLast))
    return 0;
  *lower = (uint64_t)(base + first * step);
  *upper = (uint64_t)(base + (first + count - 1) * step);
  *stride = step;
  if (last)
    *last = isLast;
  return 1;
}

void __kmpc_dispatch_init_4u(void *loc, int32_t gtid, int32_t kind,
                             uint32_t lower, uint32_t upper, int32_t stride,
                             int32_t chunk) {
  (void)loc;
  (void)gtid;
  dispatchInit(kind, tripCount(lower, upper, stride, 1), lower, stride, chunk);
}

int32_t __kmpc_dispatch_next_4u(void *loc, int32_t gtid, int32_t *last,
                                uint32_t *lower, uint32_t *upper,
                                int32_t *stride) {
  (void)loc;
  (void)gtid;
  int64_t first, count, base, step;
  int isLast;
  if (!dispatchNext(&first, &count, &base, &step, &isLast))
    return 0;
  *lower = (uint32_t)(base + first * step);
  *upper = (uint32_t)(base + (first + count - 1) * step);
  *stride = (int32_t)step;
  if (last)
    *last = isLast;
  return 1;
}

void __kmpc_dispatch_fini_8u(void *loc, int32_t gtid) {
  (void)loc;
  (void)gtid;
}

void __kmpc_dispatch_fini_4u(void *loc, int32_t gtid) {
  (void)loc;
  (void)gtid;
}

void __kmpc_dispatch_deinit(void *loc, int32_t gtid) {
  (void)loc;
  (void)gtid;
}

/* OpenMP's static schedule: blocks by thread number, so the region's whole
 * team must run (fullTeam). */
static void staticInit(int32_t kind, int *last, int64_t *lower,
                       int64_t *upper, int64_t *stride, int64_t increment,
                       int64_t chunk, int isUnsigned) {
  kind &= ~kModifierBits;
  const int64_t total = tripCount(*lower, *upper, increment, isUnsigned);
  int32_t team = 1, tid = 0;
  if (place.active && !place.serial) {
    team = pool.team;
    tid = place.tid;
    if (team > 1) {
      STORE(&pool.fullTeam, 1);
      if (!LOAD(&pool.open) && LOAD(&pool.nextTid) < team - 1) {
        fprintf(stderr, "slm: a static worksharing loop after a barrier in "
                        "one parallel region (a compiler bug, please report "
                        "it)\n");
        abort();
      }
    }
  }
  if (kind == kStaticChunked && chunk > 0) {
    *lower += (int64_t)tid * chunk * increment;
    *upper = *lower + (chunk - 1) * increment;
    *stride = (int64_t)team * chunk * increment;
    *last = total > 0 && (total - 1) / chunk % team == tid;
    return;
  }
  const int64_t per = total / team, extra = total % team;
  const int64_t begin = tid * per + (tid < extra ? tid : extra);
  const int64_t count = per + (tid < extra ? 1 : 0);
  const int64_t base = *lower;
  *lower = base + begin * increment;
  *upper = base + (begin + count - 1) * increment;
  *stride = total * increment;
  *last = count > 0 && begin + count == total;
}

void __kmpc_for_static_init_8u(void *loc, int32_t gtid, int32_t kind,
                               int32_t *last, uint64_t *lower, uint64_t *upper,
                               int64_t *stride, int64_t increment,
                               int64_t chunk) {
  (void)loc;
  (void)gtid;
  int64_t l = (int64_t)*lower, u = (int64_t)*upper, s = 0;
  int isLast = 0;
  staticInit(kind, &isLast, &l, &u, &s, increment, chunk, 1);
  *lower = (uint64_t)l;
  *upper = (uint64_t)u;
  *stride = s;
  if (last)
    *last = isLast;
}

void __kmpc_for_static_init_4u(void *loc, int32_t gtid, int32_t kind,
                               int32_t *last, uint32_t *lower, uint32_t *upper,
                               int32_t *stride, int32_t increment,
                               int32_t chunk) {
  (void)loc;
  (void)gtid;
  int64_t l = *lower, u = *upper, s = 0;
  int isLast = 0;
  staticInit(kind, &isLast, &l, &u, &s, increment, chunk, 1);
  *lower = (uint32_t)l;
  *upper = (uint32_t)u;
  *stride = (int32_t)s;
  if (last)
    *last = isLast;
}

void __kmpc_for_static_fini(void *loc, int32_t gtid) {
  (void)loc;
  (void)gtid;
}

/* Reductions and critical sections: one lock (1: the caller combines). */
static pthread_mutex_t critical = PTHREAD_MUTEX_INITIALIZER;

int32_t __kmpc_reduce(void *loc, int32_t gtid, int32_t n, size_t size,
                      void *data, void (*combine)(void *, void *),
                      void *lock) {
  (void)loc;
  (void)gtid;
  (void)n;
  (void)size;
  (void)data;
  (void)combine;
  (void)lock;
  pthread_mutex_lock(&critical);
  return 1;
}

void __kmpc_end_reduce(void *loc, int32_t gtid, void *lock) {
  (void)loc;
  (void)gtid;
  (void)lock;
  pthread_mutex_unlock(&critical);
}

int32_t __kmpc_reduce_nowait(void *loc, int32_t gtid, int32_t n, size_t size,
                             void *data, void (*combine)(void *, void *),
                             void *lock) {
  return __kmpc_reduce(loc, gtid, n, size, data, combine, lock);
}

void __kmpc_end_reduce_nowait(void *loc, int32_t gtid, void *lock) {
  __kmpc_end_reduce(loc, gtid, lock);
}

void __kmpc_critical(void *loc, int32_t gtid, void *lock) {
  (void)loc;
  (void)gtid;
  (void)lock;
  pthread_mutex_lock(&critical);
}

void __kmpc_end_critical(void *loc, int32_t gtid, void *lock) {
  (void)loc;
  (void)gtid;
  (void)lock;
  pthread_mutex_unlock(&critical);
}
