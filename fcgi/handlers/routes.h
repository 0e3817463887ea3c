/* routes: the worker's one static route table (DESIGN.md "Request path" step 3). */
#ifndef UM_ROUTES_H
#define UM_ROUTES_H

#include <stddef.h>

#include "router.h"

extern const struct route routes[];
extern const size_t       nroutes;

#endif
