/* facts.h */
#ifndef CW_FACTS_H
#define CW_FACTS_H
#endif
