//! Standard error that cannot stop the program. Standard output keeps the default SIGPIPE
//! (`moadian status | head -1` ends quietly with 141), but a warning, a retry line or a
//! progress line written to a standard error nobody reads any more (a log pipe that died,
//! `2>&1 | head -c1`, journald restarting) is dropped: it must not kill a pass half-way.

use std::io::Write;

/// Writes `bytes` to standard error; a closed or failing standard error is ignored.
pub fn write(bytes: &[u8]) {
    #[cfg(unix)]
    {
        // SIGPIPE is blocked for this thread while it writes: a write to a pipe without a
        // reader then fails with EPIPE instead of killing the process, and the signal it left
        // pending for this thread is taken before the mask is restored.
        // SAFETY: plain signal-mask calls on a zeroed, then initialised, `sigset_t`.
        unsafe {
            let mut pipe: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pipe);
            libc::sigaddset(&mut pipe, libc::SIGPIPE);
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old);
            let broken = matches!(
                std::io::stderr().lock().write_all(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe
            );
            if broken && libc::sigismember(&old, libc::SIGPIPE) == 0 {
                let now = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                libc::sigtimedwait(&pipe, std::ptr::null_mut(), &now);
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
    }
    #[cfg(not(unix))]
    {
        let _ = std::io::stderr().lock().write_all(bytes);
    }
}

/// `eprintln!` through [`write`]: one line, never fatal.
#[macro_export]
#[doc(hidden)]
macro_rules! say_err {
    () => { $crate::cli::stderr::write(b"\n") };
    ($($arg:tt)*) => {{
        let mut line = format!($($arg)*);
        line.push('\n');
        $crate::cli::stderr::write(line.as_bytes());
    }};
}

/// `eprint!` through [`write`]: never fatal.
#[macro_export]
#[doc(hidden)]
macro_rules! say_err_part {
    ($($arg:tt)*) => {{
        let text = format!($($arg)*);
        $crate::cli::stderr::write(text.as_bytes());
    }};
}

/// The writer the log (`tracing`) writes to.
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
