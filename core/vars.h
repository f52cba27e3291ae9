/* vars.h */
#ifndef CW_VARS_H
#define CW_VARS_H
#endif
