//! The runner lock (invariant 8): an exclusive `flock` on `<db>.lock`, holding the owner's pid.
//! The kernel drops the lock when the process dies, so a crashed runner never leaves a stale
//! lock behind; the pid in the file only serves the "busy" message.

use fs2::FileExt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{QueueError, Result};

pub(crate) struct RunnerLock {
    _file: File,
    pub(crate) path: PathBuf,
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

impl RunnerLock {
    /// Take the lock for `db`, or fail with [`QueueError::Busy`] naming the holder.
    pub(crate) fn acquire(db: &Path, pid: u32) -> Result<RunnerLock> {
        let path = super::sibling(db, ".lock");
        let io = |source| QueueError::Io {
            path: path.clone(),
            source,
        };
        let mut file = open_lock_file(&path).map_err(io)?;
        if let Err(e) = file.try_lock_exclusive() {
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.raw_os_error() == fs2::lock_contended_error().raw_os_error()
            {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                return Err(QueueError::Busy {
                    db: db.to_path_buf(),
                    lock: path,
                    pid: s.trim().parse().ok(),
                });
            }
            return Err(io(e));
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{pid}").map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(RunnerLock { _file: file, path })
    }
}
