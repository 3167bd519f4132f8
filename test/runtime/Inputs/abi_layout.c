/* Prints the layout of the runtime's C structs as the C compiler sees it,
 * for check_abi_python.py; compiling it checks that the public headers are
 * strict C99. */
#include "slm/Runtime/slmrt.h"

#include <stddef.h>
#include <stdio.h>

#define FIELD(type, field)                                                     \
  printf("%s.%s %lu\n", #type, #field, (unsigned long)offsetof(type, field))

int main(void) {
  printf("slm_tensor %lu\n", (unsigned long)sizeof(slm_tensor));
  FIELD(slm_tensor, dtype);
  FIELD(slm_tensor, rank);
  FIELD(slm_tensor, shape);
  FIELD(slm_tensor, data);
  FIELD(slm_tensor, owner);
  printf("slm_tensor_info %lu\n", (unsigned long)sizeof(slm_tensor_info));
  FIELD(slm_tensor_info, name);
  FIELD(slm_tensor_info, dtype);
  FIELD(slm_tensor_info, rank);
  FIELD(slm_tensor_info, shape);
  FIELD(slm_tensor_info, dims);
  printf("slm_generate_options %lu\n",
         (unsigned long)sizeof(slm_generate_options));
  FIELD(slm_generate_options, struct_size);
  FIELD(slm_generate_options, max_new_tokens);
  FIELD(slm_generate_options, do_sample);
  FIELD(slm_generate_options, temperature);
  FIELD(slm_generate_options, top_k);
  FIELD(slm_generate_options, top_p);
  FIELD(slm_generate_options, seed);
  FIELD(slm_generate_options, eos_token_ids);
  FIELD(slm_generate_options, num_eos_token_ids);
  FIELD(slm_generate_options, pad_token_id);
  FIELD(slm_generate_options, on_tokens);
  FIELD(slm_generate_options, user_data);
  printf("slm_dtype %lu\n", (unsigned long)sizeof(slm_dtype));
  return 0;
}
