/* validate.h */
#ifndef CW_VALIDATE_H
#define CW_VALIDATE_H
#endif
