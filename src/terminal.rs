//! The local terminal, for `boss exec`: whether stdin and stdout are one, its size, and raw
//! mode (keys go to the command as typed, Ctrl-C included), restored when the guard drops.

use crate::backend::TerminalSize;

/// Whether both stdin and stdout are a terminal: only then does `boss exec` give the command a
/// TTY (a pseudo-terminal would turn piped output's line ends into `\r\n`).
pub(crate) fn interactive() -> bool {
    // SAFETY: `isatty` only reads the descriptor's state.
    unsafe { libc::isatty(libc::STDIN_FILENO) == 1 && libc::isatty(libc::STDOUT_FILENO) == 1 }
}

/// The size of the terminal on stdout, when it has one.
pub(crate) fn size() -> Option<TerminalSize> {
    // SAFETY: `winsize` is plain data that the ioctl fills in; a zeroed one is a valid value.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which is to a live local.
    let done = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &raw mut size) };
    (done == 0 && size.ws_row > 0 && size.ws_col > 0)
        .then_some(TerminalSize { rows: size.ws_row, columns: size.ws_col })
}

/// Stdin's terminal in raw mode until this is dropped.
pub(crate) struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    /// Puts stdin's terminal in raw mode; `None` when it is not a terminal.
    pub(crate) fn enable() -> Option<RawMode> {
        // SAFETY: `termios` is plain data that `tcgetattr` fills in; a zeroed one is valid.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: the pointer is to a live local; a descriptor that is not a terminal fails.
        if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &raw mut saved) } != 0 {
            return None;
        }
        let mut raw = saved;
        // SAFETY: `cfmakeraw` only changes the flags of the struct it is given.
        unsafe { libc::cfmakeraw(&raw mut raw) };
        // SAFETY: `raw` is a valid `termios` made from the terminal's own.
        if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw const raw) } != 0 {
            return None;
        }
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: `saved` is the terminal's own settings, read in `enable`.
        unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw const self.saved) };
    }
}
