//===- ModelThreadsTest.cpp - The models' thread pool -----------*- C++ -*-===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//
//
// Drives lib/Runtime/ModelThreads.c (compiled into this test) through the
// OpenMP entry points generated code calls, the way OpenMPIRBuilder's
// microtasks do: every iteration runs exactly once under dynamic, guided
// and static schedules, barriers order the work before them, reductions
// combine every thread's part, nested regions and concurrent callers run
// correctly, and one thread means the caller alone.
//
//===----------------------------------------------------------------------===//

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

extern "C" {
typedef void (*Microtask)(int32_t *, int32_t *, ...);
void __kmpc_fork_call(void *loc, int32_t argc, Microtask fn, ...);
int32_t __kmpc_global_thread_num(void *loc);
void __kmpc_barrier(void *loc, int32_t gtid);
void __kmpc_dispatch_init_8u(void *loc, int32_t gtid, int32_t kind,
                             uint64_t lower, uint64_t upper, int64_t stride,
                             int64_t chunk);
int32_t __kmpc_dispatch_next_8u(void *loc, int32_t gtid, int32_t *last,
                                uint64_t *lower, uint64_t *upper,
                                int64_t *stride);
void __kmpc_for_static_init_8u(void *loc, int32_t gtid, int32_t kind,
                               int32_t *last, uint64_t *lower, uint64_t *upper,
                               int64_t *stride, int64_t increment,
                               int64_t chunk);
void __kmpc_for_static_fini(void *loc, int32_t gtid);
int32_t __kmpc_reduce(void *loc, int32_t gtid, int32_t n, size_t size,
                      void *data, void (*combine)(void *, void *), void *lock);
void __kmpc_end_reduce(void *loc, int32_t gtid, void *lock);
void slm_model_set_threads(int32_t n);
}

namespace {
constexpr int32_t kDynamic = 35 | (1 << 30); // nonmonotonic dynamic
constexpr int32_t kGuided = 36;
constexpr int32_t kStatic = 34;

struct Work {
  int64_t n = 0;
  int32_t kind = kDynamic;
  int64_t chunk = 1;
  std::vector<std::atomic<int>> hits;
  std::atomic<int> lateReads{0};
  std::atomic<int64_t> reduced{0};
  std::mutex lock;
  std::set<std::thread::id> threads;
  bool barrier = false, reduce = false, nested = false;
  std::atomic<int64_t> largestChunk{0};
  explicit Work(int64_t n) : n(n), hits(n) {}
};

void inner(int32_t *, int32_t *, Work *w);

// Iterations 1..n (OpenMPIRBuilder's dynamic loops count from 1), each
// marked once; then, optionally, a barrier and a check that every
// iteration is marked, and a reduction.
void body(int32_t *, int32_t *, Work *w) {
  {
    std::lock_guard<std::mutex> g(w->lock);
    w->threads.insert(std::this_thread::get_id());
  }
  int32_t gtid = __kmpc_global_thread_num(nullptr);
  int64_t mine = 0;
  if (w->kind == kStatic) {
    int32_t last = 0;
    uint64_t lower = 0, upper = w->n - 1;
    int64_t stride = 0;
    if (w->n > 0) {
      __kmpc_for_static_init_8u(nullptr, gtid, kStatic, &last, &lower, &upper,
                                &stride, 1, 0);
      for (uint64_t i = lower; i <= upper && upper != UINT64_MAX; ++i) {
        w->hits[i].fetch_add(1);
        mine += i;
      }
      __kmpc_for_static_fini(nullptr, gtid);
    }
  } else {
    __kmpc_dispatch_init_8u(nullptr, gtid, w->kind, 1, w->n, 1, w->chunk);
    int32_t last = 0;
    uint64_t lower = 0, upper = 0;
    int64_t stride = 0;
    while (__kmpc_dispatch_next_8u(nullptr, gtid, &last, &lower, &upper,
                                   &stride)) {
      const int64_t taken = static_cast<int64_t>(upper - lower + 1);
      int64_t seen = w->largestChunk.load();
      while (taken > seen &&
             !w->largestChunk.compare_exchange_weak(seen, taken))
        ;
      for (uint64_t i = lower; i <= upper; ++i) {
        if (w->nested) {
          Work sub(5);
          __kmpc_fork_call(nullptr, 1, reinterpret_cast<Microtask>(inner),
                           &sub);
          for (auto &h : sub.hits)
            if (h.load() != 1)
              w->lateReads.fetch_add(1);
        }
        w->hits[i - 1].fetch_add(1);
        mine += i - 1;
      }
    }
  }
  if (w->barrier) {
    __kmpc_barrier(nullptr, gtid);
    for (auto &h : w->hits)
      if (h.load() != 1)
        w->lateReads.fetch_add(1);
  }
  if (w->reduce && __kmpc_reduce(nullptr, gtid, 1, sizeof(int64_t), &mine,
                                 nullptr, nullptr) == 1) {
    w->reduced.store(w->reduced.load() + mine);
    __kmpc_end_reduce(nullptr, gtid, nullptr);
  }
}

void inner(int32_t *a, int32_t *b, Work *w) { body(a, b, w); }

void run(Work &w) {
  __kmpc_fork_call(nullptr, 1, reinterpret_cast<Microtask>(body), &w);
}

void expectEachOnce(Work &w) {
  for (int64_t i = 0; i < w.n; ++i)
    ASSERT_EQ(w.hits[i].load(), 1) << "iteration " << i << " of " << w.n;
}

class ModelThreads : public ::testing::TestWithParam<int32_t> {
protected:
  void SetUp() override { slm_model_set_threads(GetParam()); }
  void TearDown() override { slm_model_set_threads(0); }
};

TEST_P(ModelThreads, EveryIterationOnceUnderEachSchedule) {
  for (int32_t kind : {kDynamic, kGuided, kStatic})
    for (int64_t n : {0, 1, 2, 7, 64, 1000})
      for (int64_t chunk : {1, 3}) {
        Work w(n);
        w.kind = kind;
        w.chunk = chunk;
        run(w);
        expectEachOnce(w);
      }
}

// The compiler asks for chunks of many iterations where each holds little
// work; the pool still leaves every thread of a team four to take.
TEST_P(ModelThreads, LargeChunksLeaveEveryThreadFour) {
  for (int64_t n : {7, 64, 1000}) {
    Work w(n);
    w.kind = kDynamic;
    w.chunk = 100000;
    run(w);
    expectEachOnce(w);
    // One thread runs the region alone: its loops in one piece.
    const int64_t most =
        GetParam() == 1 ? n : std::max<int64_t>(1, n / (4 * GetParam()));
    EXPECT_LE(w.largestChunk.load(), most) << n << " iterations";
  }
}

TEST_P(ModelThreads, BarrierOrdersTheWorkBeforeIt) {
  for (int rep = 0; rep < 200; ++rep) {
    Work w(37);
    w.barrier = true;
    run(w);
    expectEachOnce(w);
    EXPECT_EQ(w.lateReads.load(), 0);
  }
}

TEST_P(ModelThreads, ReductionCombinesEveryPart) {
  for (int32_t kind : {kDynamic, kStatic}) {
    Work w(1000);
    w.kind = kind;
    w.reduce = true;
    run(w);
    EXPECT_EQ(w.reduced.load(), 999 * 1000 / 2);
  }
}

TEST_P(ModelThreads, NestedRegionsRunOnTheirThread) {
  Work w(16);
  w.nested = true;
  run(w);
  expectEachOnce(w);
  EXPECT_EQ(w.lateReads.load(), 0);
}

TEST_P(ModelThreads, ConcurrentCallers) {
  std::atomic<int> failures{0};
  auto caller = [&] {
    slm_model_set_threads(GetParam());
    for (int rep = 0; rep < 300; ++rep) {
      Work w(50);
      w.barrier = rep % 2 == 0;
      run(w);
      for (auto &h : w.hits)
        if (h.load() != 1)
          failures.fetch_add(1);
    }
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Threads, ModelThreads, ::testing::Values(1, 2, 3, 4));

TEST(ModelThreadsCount, OneThreadIsTheCallerAlone) {
  slm_model_set_threads(1);
  Work w(100);
  run(w);
  expectEachOnce(w);
  EXPECT_EQ(w.threads.size(), 1u);
  EXPECT_EQ(*w.threads.begin(), std::this_thread::get_id());
  slm_model_set_threads(0);
}

TEST(ModelThreadsCount, AStaticLoopRunsOnTheWholeTeam) {
  slm_model_set_threads(3);
  Work w(300);
  w.kind = kStatic;
  run(w);
  expectEachOnce(w);
  EXPECT_EQ(w.threads.size(), 3u);
  slm_model_set_threads(0);
}
} // namespace
