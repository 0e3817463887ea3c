/* handlers: every route handler of the worker, by area (one file per area, see routes.c). */
#ifndef UM_HANDLERS_H
#define UM_HANDLERS_H

#include "router.h"

/* ops.c */
route_handler	ops_healthz;
route_handler	ops_readyz;

/* page-home.c */
route_handler	page_home;

#endif
