/* `mote hvt ...` and `solo5-hvt ...`: the Solo5 hvt unikernel monitor's entry point. */
#ifndef MOTE_HVT_HVT_H
#define MOTE_HVT_HVT_H

#include <stdbool.h>

/* True when mote should run as the hvt monitor: argv[0]'s basename is "solo5-hvt", or the
 * first argument is "hvt". *shift is how many leading words to drop before hvt_main. */
bool hvt_wanted(int argc, char **argv, int *shift);

/* Runs a unikernel; argv[0] is the program name for messages ("hvt" after `mote`). Returns
 * the process status: solo5-hvt's (the unikernel's own when it halts, 1 for every error). */
int hvt_main(int argc, char **argv);

#endif
