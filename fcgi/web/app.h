/* app: the front door every request of the worker passes, in the order of API.md §7. */
#ifndef UM_APP_H
#define UM_APP_H

struct request;
struct response;

/*
 * Handles one request end to end: route, front-door checks (API.md §7 order), handler,
 * into resp.  The body must already be in req (the caller enforces UM_BODY_MAX first).
 */
void app_handle(struct request *, struct response *);

#endif
