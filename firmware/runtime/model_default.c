/* The weak default model: none. A generated model.c defines a strong ed_model that replaces it.
 * Kept alone in this file so no other translation unit can fold the NULL into its code. */
#include <stddef.h>

#include "ed_model.h"

__attribute__((weak)) const ed_model_t *const ed_model = NULL;
