/* Measures this machine's fp32 FMA peak: independent fused multiply-adds on
 * the widest vectors the compiler targets (-march=native), per thread.
 *   peak_fma THREADS SECONDS  ->  prints GFLOP/s per thread and in total */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define SET(x) _mm512_set1_ps(x)
#define SUM(v) _mm512_reduce_add_ps(v)
#else
typedef __m256 vec;
#define LANES 8
#define FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define SET(x) _mm256_set1_ps(x)
static float SUM(__m256 v) {
  float t[8];
  _mm256_storeu_ps(t, v);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#endif

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct {
  double seconds, gflops;
  float sink;
} job;

static void *run(void *arg) {
  job *j = arg;
  vec a[12];
  for (int i = 0; i < 12; ++i)
    a[i] = SET(1.0f + i * 1e-3f);
  const vec x = SET(0.999999f), y = SET(1e-7f);
  long iterations = 0;
  double start = now(), end;
  do {
    for (int r = 0; r < 10000; ++r)
      for (int i = 0; i < 12; ++i)
        a[i] = FMA(a[i], x, y);
    iterations += 10000;
    end = now();
  } while (end - start < j->seconds);
  float s = 0;
  for (int i = 0; i < 12; ++i)
    s += SUM(a[i]);
  j->sink = s;
  j->gflops = iterations * 12.0 * LANES * 2.0 / (end - start) * 1e-9;
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  double seconds = argc > 2 ? atof(argv[2]) : 1.0;
  pthread_t t[64];
  job jobs[64];
  if (threads < 1 || threads > 64)
    return 2;
  for (int i = 0; i < threads; ++i) {
    jobs[i].seconds = seconds;
    pthread_create(&t[i], NULL, run, &jobs[i]);
  }
  double total = 0, sink = 0;
  for (int i = 0; i < threads; ++i) {
    pthread_join(t[i], NULL);
    total += jobs[i].gflops;
    sink += jobs[i].sink;
  }
  printf("{\"threads\": %d, \"lanes\": %d, \"gflops\": %.1f, \"sink\": %g}\n",
         threads, LANES, total, sink > 0 ? 1.0 : 0.0);
  return 0;
}
