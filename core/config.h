/* config.h */
#ifndef CW_CONFIG_H
#define CW_CONFIG_H
#endif
