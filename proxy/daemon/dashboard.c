/* dashboard.c - the admin dashboard page (adminapi.h): one self-contained HTML document. */
#include "proxy/daemon/adminapi.h"

const char adminapi_dashboard_html[] = "<!doctype html><title>qorgau</title>";
