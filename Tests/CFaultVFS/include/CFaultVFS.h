#ifndef LAKE_FAULT_VFS_H
#define LAKE_FAULT_VFS_H

/* Test-only: a SQLite VFS, registered as the process's default, that forwards every call to the
   VFS it replaces, except under an armed path prefix. Armed, the first fsync of a write-ahead log
   that follows a frame write (a COMMIT's sync; not the sync of a fresh log's header) fails with
   SQLITE_IOERR_FSYNC without syncing: the frames stay in the page cache, where the next open's
   WAL recovery reads them, as after a disk that reported EIO but had written the data. From then
   on every sync, write, truncate and delete of a file under the prefix fails (the disk is gone),
   so nothing this process does afterwards (a checkpoint at close, a later commit) can overwrite
   or delete those frames, until `lake_fault_vfs_disarm`. */

/* Registers the VFS once (idempotent); returns a SQLite result code. */
int lake_fault_vfs_install(void);
/* Arms the fault for files whose full path starts with `prefix` (resolved with realpath). */
void lake_fault_vfs_arm(const char *prefix);
/* Another fault, for files whose path contains `part`: every write fails (SQLITE_IOERR_WRITE),
   until `lake_fault_vfs_clear_write_failures`. */
void lake_fault_vfs_fail_writes_containing(const char *part);
void lake_fault_vfs_clear_write_failures(void);
/* Ends the armed COMMIT fault (and the gone disk under its prefix). The two faults are set and
   cleared apart: suites that use one run beside suites that use the other. */
void lake_fault_vfs_disarm(void);
/* How many COMMIT syncs failed since install. */
int lake_fault_vfs_fired(void);
/* How many calls failed because the disk was gone (after the COMMIT sync failed). */
int lake_fault_vfs_refused(void);

#endif
