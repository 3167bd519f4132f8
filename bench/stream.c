/* Measures this machine's memory read bandwidth: THREADS threads each sum
 * their own slice of a buffer much larger than the caches, with the widest
 * vector loads the compiler targets (-march=native), repeatedly.
 *   stream THREADS MEGABYTES SECONDS  ->  prints GB/s read in total */
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

struct slice {
  const float *data;
  size_t count;
  double seconds, bytes, sink;
};

static void *reader(void *arg) {
  struct slice *s = arg;
  double start = now(), sum = 0;
  size_t passes = 0;
  do {
#if defined(__AVX512F__)
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < s->count; i += 64) {
      a0 = _mm512_add_ps(a0, _mm512_load_ps(s->data + i));
      a1 = _mm512_add_ps(a1, _mm512_load_ps(s->data + i + 16));
      a2 = _mm512_add_ps(a2, _mm512_load_ps(s->data + i + 32));
      a3 = _mm512_add_ps(a3, _mm512_load_ps(s->data + i + 48));
    }
    sum += _mm512_reduce_add_ps(
        _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
#else
    float acc = 0;
    for (size_t i = 0; i < s->count; ++i)
      acc += s->data[i];
    sum += acc;
#endif
    ++passes;
  } while (now() - start < s->seconds);
  s->seconds = now() - start;
  s->bytes = (double)passes * s->count * sizeof(float);
  s->sink = sum;
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  size_t megabytes = argc > 2 ? strtoul(argv[2], NULL, 10) : 512;
  double seconds = argc > 3 ? atof(argv[3]) : 2.0;
  if (threads < 1 || megabytes < 1 || seconds <= 0) {
    fprintf(stderr, "usage: stream THREADS MEGABYTES SECONDS\n");
    return 2;
  }
  size_t count = megabytes * (1u << 20) / sizeof(float);
  count -= count % (64 * (size_t)threads);
  float *data = aligned_alloc(64, count * sizeof(float));
  if (!data) {
    fprintf(stderr, "stream: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < count; ++i)
    data[i] = (float)(i & 1023) * 1e-3f;
  pthread_t ids[256];
  struct slice slices[256];
  if (threads > 256)
    threads = 256;
  size_t per = count / threads;
  for (int t = 0; t < threads; ++t) {
    slices[t] = (struct slice){data + t * per, per, seconds, 0, 0};
    pthread_create(&ids[t], NULL, reader, &slices[t]);
  }
  double total = 0, sink = 0;
  for (int t = 0; t < threads; ++t) {
    pthread_join(ids[t], NULL);
    total += slices[t].bytes / slices[t].seconds;
    sink += slices[t].sink;
  }
  printf("%.2f GB/s read with %d threads (checksum %g)\n", total * 1e-9,
         threads, sink);
  free(data);
  return 0;
}
