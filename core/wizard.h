/* wizard.h */
#ifndef CW_WIZARD_H
#define CW_WIZARD_H
#endif
