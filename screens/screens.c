/* screens.c: the wizard's screens, in the order the operator meets them. */
#include "screens.h"

const struct screen *const screens[SCR_COUNT] = {
	[SCR_WELCOME] = &screen_welcome,
	[SCR_DEPLOYMENT] = &screen_deployment,
	[SCR_DISCOVERY] = &screen_discovery,
	[SCR_PREFLIGHT] = &screen_preflight,
	[SCR_REVIEW] = &screen_review,
	[SCR_EXECUTE] = &screen_execute,
	[SCR_AGENTS] = &screen_agents,
	[SCR_SUMMARY] = &screen_summary,
};
