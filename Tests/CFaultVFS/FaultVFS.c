#include "CFaultVFS.h"

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

typedef struct FaultFile {
    sqlite3_file base;
    sqlite3_file *real;
    int isWal;
    int framesWritten;
    char path[PATH_MAX];
} FaultFile;

static sqlite3_vfs faultVFS;
static sqlite3_vfs *realVFS;
static pthread_once_t installOnce = PTHREAD_ONCE_INIT;
static int installResult = SQLITE_ERROR;
static pthread_mutex_t stateLock = PTHREAD_MUTEX_INITIALIZER;
static char armedPrefix[PATH_MAX];
static char failWritesPart[PATH_MAX];
static int armed;   /* waiting for a COMMIT's sync under the prefix */
static int failing; /* the disk under the prefix is gone */
static int fired;
static int refused;

static int under(const char *path) {
    return path != NULL && armedPrefix[0] != 0 && strncmp(path, armedPrefix, strlen(armedPrefix)) == 0;
}

/* Whether a call of kind `sync` (else a write, truncate or delete) on `path` fails. */
static int refuse(FaultFile *f, const char *path, int sync) {
    int fail = 0;
    pthread_mutex_lock(&stateLock);
    if (!sync && f != NULL && failWritesPart[0] != 0 && path != NULL && strstr(path, failWritesPart) != NULL) {
        fail = 1;
        refused++;
    } else if (under(path)) {
        if (failing) {
            fail = 1;
            refused++;
        } else if (armed && sync && f != NULL && f->isWal && f->framesWritten) {
            armed = 0;
            failing = 1;
            fired++;
            fail = 1;
        }
    }
    pthread_mutex_unlock(&stateLock);
    return fail;
}

static int xClose(sqlite3_file *file) {
    FaultFile *f = (FaultFile *)file;
    int rc = f->real->pMethods->xClose(f->real);
    return rc;
}
static int xRead(sqlite3_file *file, void *buf, int amount, sqlite3_int64 offset) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xRead(f->real, buf, amount, offset);
}
static int xWrite(sqlite3_file *file, const void *buf, int amount, sqlite3_int64 offset) {
    FaultFile *f = (FaultFile *)file;
    if (refuse(f, f->path, 0)) return SQLITE_IOERR_WRITE;
    /* The log's header is the 32 bytes at offset 0; frames follow it. */
    if (f->isWal && offset > 0) f->framesWritten = 1;
    return f->real->pMethods->xWrite(f->real, buf, amount, offset);
}
static int xTruncate(sqlite3_file *file, sqlite3_int64 size) {
    FaultFile *f = (FaultFile *)file;
    if (refuse(f, f->path, 0)) return SQLITE_IOERR_TRUNCATE;
    return f->real->pMethods->xTruncate(f->real, size);
}
static int xSync(sqlite3_file *file, int flags) {
    FaultFile *f = (FaultFile *)file;
    if (refuse(f, f->path, 1)) return SQLITE_IOERR_FSYNC;
    f->framesWritten = 0;
    return f->real->pMethods->xSync(f->real, flags);
}
static int xFileSize(sqlite3_file *file, sqlite3_int64 *size) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xFileSize(f->real, size);
}
static int xLock(sqlite3_file *file, int lock) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xLock(f->real, lock);
}
static int xUnlock(sqlite3_file *file, int lock) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xUnlock(f->real, lock);
}
static int xCheckReservedLock(sqlite3_file *file, int *out) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}
static int xFileControl(sqlite3_file *file, int op, void *arg) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xFileControl(f->real, op, arg);
}
static int xSectorSize(sqlite3_file *file) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xSectorSize(f->real);
}
static int xDeviceCharacteristics(sqlite3_file *file) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}
static int xShmMap(sqlite3_file *file, int page, int size, int extend, void volatile **out) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xShmMap(f->real, page, size, extend, out);
}
static int xShmLock(sqlite3_file *file, int offset, int n, int flags) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}
static void xShmBarrier(sqlite3_file *file) {
    FaultFile *f = (FaultFile *)file;
    f->real->pMethods->xShmBarrier(f->real);
}
static int xShmUnmap(sqlite3_file *file, int deleteFlag) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xShmUnmap(f->real, deleteFlag);
}
static int xFetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xFetch(f->real, offset, amount, out);
}
static int xUnfetch(sqlite3_file *file, sqlite3_int64 offset, void *p) {
    FaultFile *f = (FaultFile *)file;
    return f->real->pMethods->xUnfetch(f->real, offset, p);
}

static const sqlite3_io_methods faultMethods = {
    3, xClose, xRead, xWrite, xTruncate, xSync, xFileSize, xLock, xUnlock, xCheckReservedLock,
    xFileControl, xSectorSize, xDeviceCharacteristics, xShmMap, xShmLock, xShmBarrier, xShmUnmap,
    xFetch, xUnfetch,
};

static int vfsOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *outFlags) {
    (void)vfs;
    FaultFile *f = (FaultFile *)file;
    memset(f, 0, sizeof(FaultFile));
    f->real = (sqlite3_file *)(f + 1);
    if (name != NULL) {
        strncpy(f->path, name, sizeof(f->path) - 1);
    }
    f->isWal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = realVFS->xOpen(realVFS, name, f->real, flags, outFlags);
    /* SQLite calls xClose when pMethods is set, even after a failed open. */
    f->base.pMethods = f->real->pMethods != NULL ? &faultMethods : NULL;
    return rc;
}
static int vfsDelete(sqlite3_vfs *vfs, const char *name, int syncDir) {
    (void)vfs;
    if (refuse(NULL, name, 0)) return SQLITE_IOERR_DELETE;
    return realVFS->xDelete(realVFS, name, syncDir);
}
static int vfsAccess(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs;
    return realVFS->xAccess(realVFS, name, flags, out);
}
static int vfsFullPathname(sqlite3_vfs *vfs, const char *name, int n, char *out) {
    (void)vfs;
    return realVFS->xFullPathname(realVFS, name, n, out);
}
static void *vfsDlOpen(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return realVFS->xDlOpen(realVFS, name);
}
static void vfsDlError(sqlite3_vfs *vfs, int n, char *out) {
    (void)vfs;
    realVFS->xDlError(realVFS, n, out);
}
static void (*vfsDlSym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
    (void)vfs;
    return realVFS->xDlSym(realVFS, handle, symbol);
}
static void vfsDlClose(sqlite3_vfs *vfs, void *handle) {
    (void)vfs;
    realVFS->xDlClose(realVFS, handle);
}
static int vfsRandomness(sqlite3_vfs *vfs, int n, char *out) {
    (void)vfs;
    return realVFS->xRandomness(realVFS, n, out);
}
static int vfsSleep(sqlite3_vfs *vfs, int micros) {
    (void)vfs;
    return realVFS->xSleep(realVFS, micros);
}
static int vfsCurrentTime(sqlite3_vfs *vfs, double *out) {
    (void)vfs;
    return realVFS->xCurrentTime(realVFS, out);
}
static int vfsGetLastError(sqlite3_vfs *vfs, int n, char *out) {
    (void)vfs;
    return realVFS->xGetLastError(realVFS, n, out);
}
static int vfsCurrentTimeInt64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    return realVFS->xCurrentTimeInt64(realVFS, out);
}
static int vfsSetSystemCall(sqlite3_vfs *vfs, const char *name, sqlite3_syscall_ptr call) {
    (void)vfs;
    return realVFS->xSetSystemCall(realVFS, name, call);
}
static sqlite3_syscall_ptr vfsGetSystemCall(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return realVFS->xGetSystemCall(realVFS, name);
}
static const char *vfsNextSystemCall(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return realVFS->xNextSystemCall(realVFS, name);
}

static void install(void) {
    realVFS = sqlite3_vfs_find(NULL);
    if (realVFS == NULL || realVFS->iVersion < 3) {
        installResult = SQLITE_ERROR;
        return;
    }
    faultVFS = (sqlite3_vfs){
        .iVersion = 3,
        .szOsFile = (int)sizeof(FaultFile) + realVFS->szOsFile,
        .mxPathname = realVFS->mxPathname,
        .zName = "lake-fault",
        .xOpen = vfsOpen,
        .xDelete = vfsDelete,
        .xAccess = vfsAccess,
        .xFullPathname = vfsFullPathname,
        .xDlOpen = vfsDlOpen,
        .xDlError = vfsDlError,
        .xDlSym = vfsDlSym,
        .xDlClose = vfsDlClose,
        .xRandomness = vfsRandomness,
        .xSleep = vfsSleep,
        .xCurrentTime = vfsCurrentTime,
        .xGetLastError = vfsGetLastError,
        .xCurrentTimeInt64 = vfsCurrentTimeInt64,
        .xSetSystemCall = vfsSetSystemCall,
        .xGetSystemCall = vfsGetSystemCall,
        .xNextSystemCall = vfsNextSystemCall,
    };
    installResult = sqlite3_vfs_register(&faultVFS, 1);
}

int lake_fault_vfs_install(void) {
    pthread_once(&installOnce, install);
    return installResult;
}

void lake_fault_vfs_arm(const char *prefix) {
    char resolved[PATH_MAX];
    const char *use = realpath(prefix, resolved) != NULL ? resolved : prefix;
    pthread_mutex_lock(&stateLock);
    strncpy(armedPrefix, use, sizeof(armedPrefix) - 1);
    armedPrefix[sizeof(armedPrefix) - 1] = 0;
    armed = 1;
    failing = 0;
    pthread_mutex_unlock(&stateLock);
}

void lake_fault_vfs_fail_writes_containing(const char *part) {
    pthread_mutex_lock(&stateLock);
    strncpy(failWritesPart, part, sizeof(failWritesPart) - 1);
    failWritesPart[sizeof(failWritesPart) - 1] = 0;
    pthread_mutex_unlock(&stateLock);
}

void lake_fault_vfs_clear_write_failures(void) {
    pthread_mutex_lock(&stateLock);
    failWritesPart[0] = 0;
    pthread_mutex_unlock(&stateLock);
}

void lake_fault_vfs_disarm(void) {
    pthread_mutex_lock(&stateLock);
    armed = 0;
    failing = 0;
    armedPrefix[0] = 0;
    pthread_mutex_unlock(&stateLock);
}

int lake_fault_vfs_fired(void) {
    pthread_mutex_lock(&stateLock);
    int n = fired;
    pthread_mutex_unlock(&stateLock);
    return n;
}

int lake_fault_vfs_refused(void) {
    pthread_mutex_lock(&stateLock);
    int n = refused;
    pthread_mutex_unlock(&stateLock);
    return n;
}
