/* handlers: every route handler of the worker, by area (one file per area, see routes.c). */
#ifndef UM_HANDLERS_H
#define UM_HANDLERS_H

#include "router.h"

struct field_result;
struct request;
struct response;

/* ops.c */
route_handler	ops_healthz;
route_handler	ops_readyz;

/* page-home.c */
route_handler	page_home;

/* page-register.c */
route_handler	page_register;

/* page-login.c */
route_handler	page_login;
route_handler	page_logout;
/* The same-site path a `next` parameter may send a browser to, or NULL. */
const char	*page_safe_next(const char *);

/* page-verify.c */
route_handler	page_verify_email;
route_handler	page_verify_resend;
/* The one-field e-mail form shared by resend and forgot-password. */
void		 page_email_form(struct request *, struct response *, int, const char *,
		    const char *, int, struct field_result *);
const char	*page_email_field(struct request *, struct response *, const char *,
		    const char *);

/* page-reset.c */
route_handler	page_forgot_password;
route_handler	page_reset_password;

/* page-profile.c */
route_handler	page_profile;

#endif
