/* observer.h: how core tells its driver (screens, batch output, tests) what is happening.
 * Core never prints; every callback may be NULL. Callbacks may come from a worker thread. */
#ifndef CW_OBSERVER_H
#define CW_OBSERVER_H

#include <stddef.h>

#include "service.h"

struct plan_step;
struct step_result;

enum msg_level { MSG_INFO, MSG_WARN, MSG_ERROR };

enum host_state { HOST_PENDING, HOST_RUNNING, HOST_DONE, HOST_FAILED, HOST_SKIPPED };
const char *host_state_str(enum host_state s);

struct observer {
	void *ctx;
	/* argv is what is about to run (already shown to the operator by the plan). */
	void (*step_started)(void *ctx, const struct plan_step *step, char *const *argv);
	void (*step_output)(void *ctx, const struct plan_step *step, int stream, const char *data,
			    size_t len);
	void (*step_finished)(void *ctx, const struct plan_step *step, const struct step_result *res);
	void (*service_changed)(void *ctx, const char *host, const char *service,
				const struct service_status *st);
	void (*host_changed)(void *ctx, const char *host, enum host_state state, const char *detail);
	void (*message)(void *ctx, enum msg_level level, const char *text);
};

#endif
