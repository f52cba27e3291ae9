/* check.h */
#ifndef CW_CHECK_H
#define CW_CHECK_H
#endif
