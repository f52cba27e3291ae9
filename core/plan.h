/* plan.h */
#ifndef CW_PLAN_H
#define CW_PLAN_H
#endif
