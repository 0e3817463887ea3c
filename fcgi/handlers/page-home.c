/* page-home: GET / — the welcome page, with links to log in or register. */
#include "config.h"

#include <jansson.h>

#include "handlers.h"
#include "page.h"
#include "request.h"
#include "response.h"

/* GET / — 200. */
enum um_err
page_home(struct request *req, struct response *resp)
{
	page_render(req, resp, 200, "home", json_pack("{s:s}", "title", "Welcome"));
	return UM_OK;
}
