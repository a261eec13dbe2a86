/* `mote snapshot-merge BASE DIFF` (docs/snapshot.md "Diff snapshots"): layers a Diff memory
 * file onto a full one, in place, with dirty_apply_diff (core/dirty_log.h). Owns: the command
 * line and the file checks (both regular files of the same size). Runs before any VM, sandbox
 * or thread. */
#ifndef MOTE_SNAPSHOT_MERGE_H
#define MOTE_SNAPSHOT_MERGE_H

#include <stdbool.h>

/* argv[1] is "snapshot-merge". */
bool snapshot_merge_wanted(int argc, char **argv);
/* The exit status: 0, 2 for a usage error, 4 for a file that cannot be used. */
int snapshot_merge_main(int argc, char **argv);

#endif
