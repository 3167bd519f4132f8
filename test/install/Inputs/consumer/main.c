/*===- main.c - A C program that runs a model through an installed slm ----===*\
|*                                                                            *|
|* Part of the slm project: a compiler for compressed transformer models.     *|
|*                                                                            *|
|* Opens the model given on the command line (model.mlir compiled by slmc),   *|
|* prints its interface, runs it on two rows and checks the outputs against   *|
|* the values worked out by hand. Exit status 0 when they match.              *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "slm/Runtime/slmrt.h"

#include <stdio.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: consumer MODEL.so\n");
    return 2;
  }
  char error[512] = "";
  slm_model *model = NULL;
  if (slm_model_open(argv[1], &model, error, sizeof(error)) != SLM_OK) {
    fprintf(stderr, "consumer: %s\n", error);
    return 2;
  }
  slm_tensor_info info;
  if (slm_model_num_inputs(model) != 1 || slm_model_num_outputs(model) != 1 ||
      slm_model_input_info(model, 0, &info) != SLM_OK) {
    fprintf(stderr, "consumer: expected one input and one output\n");
    return 2;
  }
  printf("input '%s': %s [%lld, %lld]\n", info.name, slm_dtype_name(info.dtype),
         (long long)info.shape[0], (long long)info.shape[1]);

  /* y = relu(x W^T + b), W = [[1, 2, 3, 4], [.5, .5, .5, .5]], b = [.25, 1]. */
  float x[2][4] = {{1, 2, 3, 4}, {0.5f, 0.5f, 0.5f, 0.5f}};
  const float want[2][2] = {{30.25f, 6.0f}, {5.25f, 2.0f}};
  slm_tensor input = {.dtype = SLM_FLOAT32, .rank = 2, .shape = {2, 4}, .data = x};
  slm_tensor output = {.dtype = SLM_FLOAT32}; /* data null: the runtime allocates */
  if (slm_model_run(model, &input, 1, &output, 1, error, sizeof(error)) != SLM_OK) {
    fprintf(stderr, "consumer: %s\n", error);
    return 2;
  }
  int status = 0;
  if (output.rank != 2 || output.shape[0] != 2 || output.shape[1] != 2) {
    fprintf(stderr, "consumer: output has the wrong shape\n");
    status = 1;
  } else {
    const float *y = (const float *)output.data;
    for (int i = 0; i < 2; ++i) {
      printf("y[%d] = %.4f %.4f\n", i, y[2 * i], y[2 * i + 1]);
      for (int j = 0; j < 2; ++j) {
        float diff = y[2 * i + j] - want[i][j];
        if (diff > 1e-4f || diff < -1e-4f)
          status = 1;
      }
    }
  }
  slm_tensor_release(&output);
  slm_model_close(model);
  printf(status == 0 ? "outputs match\n" : "outputs differ\n");
  return status;
}
